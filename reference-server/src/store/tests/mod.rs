//! Store tests: the lifecycle rules driven through the operations
//! (`lifecycle`), `apply` fed events directly as recovery feeds it
//! (`apply`), events through the journal and back (`journal`), and the file
//! store rebuilt from its journal (`recover`).

mod apply;
mod compact;
mod journal;
mod lifecycle;
mod recover;

use bytes::Bytes;
use time::macros::datetime;

use super::offsets::ReadFrom;
use super::producer::ProducerRef;
use super::stream::Info;
use super::ttl::Clock;
use super::{json, read, AppendRequest, Payload, Store, StoreError};

fn clock() -> Clock {
    Clock::manual(datetime!(2030-01-01 0:00 UTC))
}

/// HEAD metadata as the memory store answers it.
fn head(s: &Store, path: &str) -> Result<Info, StoreError> {
    s.info(&*s.find(path).applied()?).applied()
}

/// The whole stream as one read (renews a TTL).
fn read_all(s: &Store, path: &str) -> Result<String, StoreError> {
    let stream = s.open_for_read(path).applied()?;
    let r = read::chunk(&stream, ReadFrom::Start, usize::MAX)?;
    let bytes = if r.json {
        json::frame(&r.pieces)
    } else {
        r.pieces.concat()
    };
    Ok(String::from_utf8(bytes).unwrap())
}

/// A `text/plain` append, with producer `p` at `(epoch, seq)`.
fn text(body: &str, producer: Option<(u64, u64)>, close: bool) -> AppendRequest {
    AppendRequest {
        essence: Some("text/plain".into()),
        payload: Payload::Bytes(Bytes::from(body.to_string())),
        close,
        stream_seq: None,
        producer: producer.map(|(epoch, seq)| ProducerRef {
            id: "p".into(),
            epoch,
            seq,
        }),
    }
}
