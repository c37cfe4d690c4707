//! Store invariants: refcounts, cascades, expiry-induced soft-delete (§4.2).
