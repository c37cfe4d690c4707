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

use super::fork::ForkRequest;
use super::offsets::ReadFrom;
use super::producer::ProducerRef;
use super::stream::Info;
use super::ttl::Clock;
use super::{json, read, AppendRequest, CreateRequest, Payload, Store, StoreError};

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

/// Create `path` with content type `ct` holding `body`.
pub(super) fn put(path: &str, ct: &str, body: &str) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        content_type: Some(ct.into()),
        body: Bytes::from(body.to_string()),
        ..Default::default()
    }
}

/// Fork `source` at `offset`/`sub_offset` as `path`.
pub(super) fn fork(path: &str, source: &str, offset: u64, sub_offset: u64) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        fork: Some(ForkRequest {
            source_path: source.into(),
            offset: Some(offset),
            sub_offset,
        }),
        ..Default::default()
    }
}

/// A JSON append of `body`.
pub(super) fn json(body: &str) -> AppendRequest {
    AppendRequest {
        essence: Some("application/json".into()),
        payload: Payload::Json(crate::store::json::flatten(
            &Bytes::from(body.to_string()),
            false,
        )),
        close: false,
        stream_seq: None,
        producer: None,
    }
}

/// The start the file-store fixtures share: `/t` (text, TTL 1 h) holding
/// "hello", then " big" and " world" appended by producer `p` (" big" as
/// (epoch 0, seq 0), " world" as `world`, closing `/t` when `close`), and
/// `/j` (JSON) holding the messages 1, [2] and {"a":3}.
pub(super) async fn text_and_json(s: &Store, world: (u64, u64), close: bool) {
    let mut t = put("/t", "text/plain", "hello");
    t.expiry = super::ttl::Expiry::Ttl(3600);
    s.create(t).durable().await.unwrap();
    for (body, at, close) in [(" big", (0, 0), false), (" world", world, close)] {
        s.append("/t", text(body, Some(at), close))
            .durable()
            .await
            .unwrap();
    }
    s.create(put("/j", "application/json", "[1,[2],{\"a\":3}]"))
        .durable()
        .await
        .unwrap();
}
