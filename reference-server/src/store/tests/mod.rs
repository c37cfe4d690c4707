//! Store tests: the lifecycle rules driven through the operations
//! (`lifecycle`), `apply` fed events directly as recovery feeds it
//! (`apply`), and events through the journal and back (`journal`).

mod apply;
mod journal;
mod lifecycle;
