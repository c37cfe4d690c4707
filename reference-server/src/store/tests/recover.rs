//! The file store rebuilds what the memory store held (§4, §4.1, §4.2,
//! §5.2.1), with its data read back from disk, and answers nothing before
//! what it reveals is durable.

use std::sync::Arc;

use bytes::Bytes;

use super::{clock, fork, head, read_all, text, text_and_json};
use crate::durable::testdir::TestDir;
use crate::durable::{LogOptions, SyncHook};
use crate::store::data::Body;
use crate::store::offsets::{Offset, ReadFrom};
use crate::store::producer::ProducerState;
use crate::store::stream::Info;
use crate::store::ttl::Expiry;
use crate::store::{read, Appended, CreateRequest, Store, StoreError};

async fn head_durable(s: &Store, path: &str) -> Result<Info, StoreError> {
    let stream = s.find(path).durable().await?;
    s.info(&stream).durable().await
}

#[tokio::test]
async fn a_reopened_store_has_the_same_streams_with_data_on_disk() {
    let dir = TestDir::new("store");
    {
        let s = Store::open(clock(), dir.path()).unwrap();
        text_and_json(&s, (0, 1), true).await;
        s.create(fork("/f", "/t", 3, 2)).durable().await.unwrap();
        s.append("/f", text("!", None, false))
            .durable()
            .await
            .unwrap();
        s.delete("/t").durable().await.unwrap();
        let entries = s.registry().get("/f").unwrap().lock().data.entries.clone();
        assert!(
            entries.iter().all(|e| matches!(e.body, Body::Disk(..))),
            "{entries:?}"
        );
    }
    let s = Store::open(clock(), dir.path()).unwrap();
    assert_eq!(read_all(&s, "/f").unwrap(), "hello!");
    assert_eq!(read_all(&s, "/j").unwrap(), "[1,[2],{\"a\":3}]");
    assert_eq!(
        head(&s, "/t").unwrap_err(),
        StoreError::Gone,
        "soft-deleted"
    );
    {
        let t = s.registry().get("/t").unwrap().clone();
        let st = t.lock();
        assert_eq!((st.data.tail, st.closed, st.refcount), (15, true, 1));
        assert_eq!(
            st.producers["p"],
            ProducerState {
                epoch: 0,
                last_seq: 1
            }
        );
        assert_eq!(st.expiry, Expiry::Ttl(3600));
    }
    s.delete("/f").durable().await.unwrap();
    assert_eq!(head(&s, "/t").unwrap_err(), StoreError::NotFound, "cascade");
    s.create(CreateRequest {
        path: "/t".into(),
        content_type: Some("text/plain".into()),
        ..Default::default()
    })
    .durable()
    .await
    .unwrap();
    drop(s);
    let s = Store::open(clock(), dir.path()).unwrap();
    assert_eq!(head(&s, "/f").unwrap_err(), StoreError::NotFound);
    assert_eq!(read_all(&s, "/t").unwrap(), "", "a new, empty incarnation");
    assert_eq!(s.len(), 2);
}

#[tokio::test]
async fn data_the_disk_lost_is_a_storage_error_not_an_empty_read() {
    let dir = TestDir::new("lost");
    let options = LogOptions {
        prealloc_bytes: 0,
        ..LogOptions::default()
    };
    let s = Store::open_with(clock(), dir.path(), options).unwrap();
    s.create(CreateRequest {
        path: "/t".into(),
        content_type: Some("text/plain".into()),
        body: Bytes::from_static(b"hello"),
        ..Default::default()
    })
    .durable()
    .await
    .unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "seg") {
            let file = std::fs::OpenOptions::new().write(true).open(&path);
            file.unwrap().set_len(0).unwrap();
        }
    }
    let stream = s.open_for_read("/t").applied().unwrap();
    // An empty read here would tell a long-poll it is caught up at the
    // tail, skipping "hello".
    for from in [ReadFrom::Start, ReadFrom::At(Offset(2))] {
        assert_eq!(
            read::chunk(&stream, from, 1024).unwrap_err(),
            StoreError::Storage
        );
    }
    let at_tail = read::chunk(&stream, ReadFrom::Now, 1024).unwrap();
    assert!(at_tail.is_empty() && at_tail.up_to_date());
}

#[tokio::test]
async fn producer_retries_after_restart_are_duplicates() {
    let dir = TestDir::new("dedup");
    {
        let s = Store::open(clock(), dir.path()).unwrap();
        s.create(CreateRequest {
            path: "/s".into(),
            content_type: Some("text/plain".into()),
            ..Default::default()
        })
        .durable()
        .await
        .unwrap();
        s.append("/s", text("a", Some((1, 0)), false))
            .durable()
            .await
            .unwrap();
        s.append("/s", text("b", Some((1, 1)), true))
            .durable()
            .await
            .unwrap();
    }
    let s = Store::open(clock(), dir.path()).unwrap();
    let again = s
        .append("/s", text("b", Some((1, 1)), true))
        .durable()
        .await
        .unwrap();
    assert!(
        matches!(
            again,
            Appended::Duplicate {
                tail: 2,
                closed: true,
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(read_all(&s, "/s").unwrap(), "ab");
}

#[tokio::test]
async fn readers_see_only_what_is_durable() {
    let dir = TestDir::new("visible");
    let s = Store::open(clock(), dir.path()).unwrap();
    s.create(CreateRequest {
        path: "/s".into(),
        content_type: Some("text/plain".into()),
        body: Bytes::from_static(b"a"),
        ..Default::default()
    })
    .durable()
    .await
    .unwrap();
    let (_, commit) = s.append("/s", text("b", None, true)).into_parts();
    // Applied in memory, not yet acknowledged: invisible to readers.
    assert_eq!(read_all(&s, "/s").unwrap(), "a");
    assert_eq!(
        (head(&s, "/s").unwrap().tail, head(&s, "/s").unwrap().closed),
        (1, false)
    );
    commit.durable().await.unwrap();
    assert_eq!(read_all(&s, "/s").unwrap(), "ab");
    assert_eq!(
        (head(&s, "/s").unwrap().tail, head(&s, "/s").unwrap().closed),
        (2, true)
    );
}
/// A store whose every sync takes 300 ms, and a check that `answer`
/// is not given before the record it depends on is durable.
fn slow_store(dir: &TestDir) -> Arc<Store> {
    let sleep: Arc<dyn Fn(u64) -> std::io::Result<()> + Send + Sync> = Arc::new(|_| {
        std::thread::sleep(std::time::Duration::from_millis(300));
        Ok(())
    });
    let options = LogOptions {
        sync_hook: Some(SyncHook(sleep)),
        ..LogOptions::default()
    };
    Arc::new(Store::open_with(clock(), dir.path(), options).unwrap())
}

async fn waits_for_sync<T: std::fmt::Debug>(
    what: &str,
    answer: impl std::future::Future<Output = T>,
) -> T {
    let started = std::time::Instant::now();
    let out = answer.await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(150),
        "{what} was answered ({out:?}) after {:?}, before the record it reveals was synced",
        started.elapsed()
    );
    out
}

fn plain(path: &str) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        content_type: Some("text/plain".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_new_stream_is_not_revealed_before_its_create_is_durable() {
    let dir = TestDir::new("settle-create");
    let s = slow_store(&dir);
    let (created, commit) = s.create(plain("/s")).into_parts();
    assert!(created.unwrap().0);
    waits_for_sync("HEAD", head_durable(&s, "/s"))
        .await
        .unwrap();
    commit.durable().await.unwrap();
    let (_, commit) = s.create(plain("/t")).into_parts();
    waits_for_sync("GET", s.open_for_read("/t").durable())
        .await
        .unwrap();
    commit.durable().await.unwrap();
    // Once durable, reads are answered without waiting for a sync.
    let started = std::time::Instant::now();
    head_durable(&s, "/t").await.unwrap();
    s.open_for_read("/t").durable().await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(150));
}

#[tokio::test]
async fn refusals_wait_for_the_state_they_rest_on() {
    let dir = TestDir::new("settle-refusals");
    let s = slow_store(&dir);
    s.create(plain("/s")).durable().await.unwrap();
    s.create(plain("/p")).durable().await.unwrap();
    s.create(plain("/gone")).durable().await.unwrap();

    // A close still syncing: another writer's 409 waits for it.
    let (_, close) = s.append("/s", text("x", None, true)).into_parts();
    let refused = waits_for_sync(
        "409 closed",
        s.append("/s", text("y", None, false)).durable(),
    )
    .await;
    assert!(
        matches!(refused, Err(StoreError::Closed { .. })),
        "{refused:?}"
    );
    close.durable().await.unwrap();

    // A producer's new epoch still syncing: the old epoch's 403 waits.
    let (_, bump) = s.append("/p", text("a", Some((1, 0)), false)).into_parts();
    let stale = waits_for_sync(
        "403 stale epoch",
        s.append("/p", text("b", Some((0, 0)), false)).durable(),
    )
    .await;
    assert!(
        matches!(stale, Err(StoreError::StaleEpoch { current: 1 })),
        "{stale:?}"
    );
    bump.durable().await.unwrap();

    // A DELETE still syncing: HEAD, GET and PUT-conflict answers wait.
    let delete = s.delete("/gone").into_parts().1;
    let head = waits_for_sync("404 after DELETE", head_durable(&s, "/gone")).await;
    assert_eq!(head.err(), Some(StoreError::NotFound));
    delete.durable().await.unwrap();
    let delete = s.delete("/s").into_parts().1;
    let read = waits_for_sync("GET 404 after DELETE", s.open_for_read("/s").durable()).await;
    assert_eq!(read.err(), Some(StoreError::NotFound));
    delete.durable().await.unwrap();
}
