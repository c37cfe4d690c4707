//! Compaction of the file store's journal (§4 Durability, §4.2): deleted
//! streams' data is reclaimed, everything else — data, batch boundaries,
//! producer and `Stream-Seq` state, closure, forks of soft-deleted sources,
//! expiry — is the same live, after a restart, and after a crash at any
//! step of a compaction.

use std::sync::Arc;

use super::{clock, fork, json, put, read_all, text, text_and_json};
use crate::durable::segment;
use crate::durable::testdir::TestDir;
use crate::durable::LogOptions;
use crate::store::data::read_bodies;
use crate::store::journal::compact::{Report, Step};
use crate::store::ttl::Expiry;
use crate::store::{Appended, Store, StoreError};

fn options() -> LogOptions {
    LogOptions {
        segment_bytes: 16 << 10,
        prealloc_bytes: 0,
        compact_min_bytes: 0,
        ..LogOptions::default()
    }
}

/// Compaction blocks: run it on a thread of its own, as the server does.
fn compact(s: &Store, step: Step) -> Report {
    std::thread::scope(|t| t.spawn(|| s.compact_until(step)).join())
        .unwrap()
        .unwrap()
        .expect("no other compaction runs")
}

fn open(dir: &TestDir) -> Store {
    Store::open_with(clock(), dir.path(), options()).unwrap()
}

/// Every stream's whole state, data bytes included (ids excepted: they
/// are new in every run), in path order.
fn fingerprint(s: &Store) -> String {
    let reg = s.registry();
    let mut streams: Vec<_> = reg.streams().cloned().collect();
    drop(reg);
    streams.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = String::new();
    for s in streams {
        let st = s.lock();
        let bodies: Vec<_> = st.data.entries.iter().map(|e| e.body.clone()).collect();
        let data: Vec<_> = read_bodies(&bodies)
            .unwrap()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        let starts: Vec<_> = st.data.entries.iter().map(|e| e.start).collect();
        let mut producers: Vec<_> = st.producers.iter().collect();
        producers.sort_by_key(|p| p.0);
        let fork = st
            .fork
            .as_ref()
            .map(|f| (&f.source_path, f.offset, f.sub_offset));
        out += &format!(
            "{} {:?} {:?} {:?} {:?} base={} tail={} json={} ends={:?} starts={:?} data={:?} \
             fork={:?} closed={} by={:?} producers={:?} seq={:?} refs={} status={:?}\n",
            s.path,
            st.config.content_type,
            st.config.requested_expiry,
            st.expiry,
            st.last_access,
            st.data.base,
            st.data.tail,
            st.data.json,
            st.data.batch_ends,
            starts,
            data,
            fork,
            st.closed,
            st.closed_by,
            producers,
            st.last_seq,
            st.refcount,
            st.status,
        );
    }
    out
}

/// A store with every kind of state, and garbage: streams created, filled
/// and deleted (some by expiry).
async fn populate(s: &Store) {
    text_and_json(s, (2, 0), false).await;
    let mut seq = text("!", None, false);
    seq.stream_seq = Some("0007".into());
    s.append("/t", seq).durable().await.unwrap();
    s.append("/j", json("[4,5]")).durable().await.unwrap();
    s.append("/j", json("\"six\"")).durable().await.unwrap();
    // A soft-deleted source kept by a fork (with a sub-offset prefix), and
    // a fork of the fork; the source is closed by a producer.
    s.create(put("/src", "text/plain", "abcdef"))
        .durable()
        .await
        .unwrap();
    s.append("/src", text("ghij", None, false))
        .durable()
        .await
        .unwrap();
    s.create(fork("/f", "/src", 6, 2)).durable().await.unwrap();
    s.append("/f", text("XY", None, false))
        .durable()
        .await
        .unwrap();
    s.create(fork("/ff", "/f", 10, 0)).durable().await.unwrap();
    s.append("/src", text("k", Some((5, 0)), true))
        .durable()
        .await
        .unwrap();
    s.delete("/src").durable().await.unwrap();
    // A stream with a sliding TTL, and an empty closed one.
    let mut ttl = put("/ttl", "text/plain", "tick");
    ttl.expiry = Expiry::Ttl(3600);
    s.create(ttl).durable().await.unwrap();
    let mut closed = put("/closed", "text/plain", "");
    closed.closed = true;
    s.create(closed).durable().await.unwrap();
    // Garbage: large streams deleted, one re-created at the same path.
    let big = "z".repeat(30_000);
    for i in 0..6 {
        let path = format!("/gone{i}");
        s.create(put(&path, "text/plain", &big))
            .durable()
            .await
            .unwrap();
        s.append(&path, text(&big, None, false))
            .durable()
            .await
            .unwrap();
        s.delete(&path).durable().await.unwrap();
    }
    s.create(put("/gone0", "text/plain", "again"))
        .durable()
        .await
        .unwrap();
}

#[tokio::test]
async fn compaction_reclaims_deleted_streams_and_keeps_the_rest() {
    let dir = TestDir::new("compact");
    let s = open(&dir);
    populate(&s).await;
    let before = fingerprint(&s);
    assert!(s.compaction_due());
    let report = compact(&s, Step::Removed);
    assert!(
        report.disk_after * 4 < report.disk_before,
        "deleted data reclaimed: {report:?}"
    );
    assert_eq!(fingerprint(&s), before, "live state after compaction");
    assert!(!s.compaction_due(), "nothing removed since");
    // Reads now come from the base; the old segments are gone.
    assert!(segment::list(dir.path())
        .unwrap()
        .iter()
        .all(|&id| id > report.base));
    assert_eq!(read_all(&s, "/ff").unwrap(), "abcdefghXY");
    assert_eq!(read_all(&s, "/t").unwrap(), "hello big world!");
    // A producer's retry is still a duplicate, its next seq still accepted.
    let dup = s.append("/t", text(" world", Some((2, 0)), false));
    assert!(matches!(
        dup.durable().await,
        Ok(Appended::Duplicate { .. })
    ));
    let mut regress = text("?", None, false);
    regress.stream_seq = Some("0001".into());
    assert_eq!(
        s.append("/t", regress).durable().await.unwrap_err(),
        StoreError::SeqRegression
    );
    // Writes after the compaction, then a restart.
    s.append("/t", text(" again", Some((2, 1)), false))
        .durable()
        .await
        .unwrap();
    s.append("/f", text("Z", None, false))
        .durable()
        .await
        .unwrap();
    let after = fingerprint(&s);
    drop(s);
    let s = open(&dir);
    assert_eq!(fingerprint(&s), after, "after a restart");
    // A second compaction replaces the first base.
    s.delete("/gone0").durable().await.unwrap();
    let second = compact(&s, Step::Removed);
    assert!(second.base > report.base);
    assert_eq!(segment::list_bases(dir.path()).unwrap(), [second.base]);
    let again = fingerprint(&s);
    drop(s);
    assert_eq!(fingerprint(&open(&dir)), again);
}

#[tokio::test]
async fn a_crash_at_any_step_of_a_compaction_loses_nothing() {
    for step in [
        Step::Cut,
        Step::Written,
        Step::Installed,
        Step::Relocated,
        Step::Removed,
    ] {
        let dir = TestDir::new("compact-crash");
        let s = open(&dir);
        populate(&s).await;
        let before = fingerprint(&s);
        compact(&s, step);
        // Writes acknowledged after the stop, then the "crash" (nothing of
        // the compaction is finished on the way out).
        s.append("/t", text("+", None, false))
            .durable()
            .await
            .unwrap();
        let expected = fingerprint(&s);
        assert_ne!(expected, before);
        drop(s);
        let s = open(&dir);
        assert_eq!(fingerprint(&s), expected, "crash after {step:?}");
        let files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            files.iter().all(|f| !f.ends_with(".tmp")),
            "{step:?}: {files:?}"
        );
        if step >= Step::Installed {
            // Recovery finished the removal of what the base replaced.
            let base = segment::list_bases(dir.path()).unwrap();
            assert_eq!(base.len(), 1, "{step:?}: {files:?}");
            assert!(segment::list(dir.path())
                .unwrap()
                .iter()
                .all(|&id| id > base[0]));
        } else {
            assert!(segment::list_bases(dir.path()).unwrap().is_empty());
        }
        // And a full compaction still works from there.
        compact(&s, Step::Removed);
        let done = fingerprint(&s);
        assert_eq!(done, expected);
        drop(s);
        assert_eq!(fingerprint(&open(&dir)), done, "{step:?}");
    }
}

#[tokio::test]
async fn a_torn_base_is_ignored() {
    let dir = TestDir::new("compact-torn");
    let s = open(&dir);
    populate(&s).await;
    let expected = fingerprint(&s);
    drop(s);
    // A base cut short while being written: never installed.
    let last = *segment::list(dir.path()).unwrap().last().unwrap();
    let tmp = dir.path().join(format!("{:020}.base.tmp", last + 1));
    std::fs::write(&tmp, b"\x10\x00\x00\x00garbage").unwrap();
    let s = open(&dir);
    assert_eq!(fingerprint(&s), expected);
    assert!(!tmp.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_during_a_compaction_are_kept() {
    let dir = TestDir::new("compact-live");
    let s = Arc::new(open(&dir));
    populate(&s).await;
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                let path = format!("/w{w}");
                s.create(put(&path, "text/plain", ""))
                    .durable()
                    .await
                    .unwrap();
                for i in 0..300u64 {
                    let r = text(&format!("{i},"), Some((0, i)), false);
                    s.append(&path, r).durable().await.unwrap();
                    if i % 50 == 0 {
                        let tmp = format!("/tmp{w}-{i}");
                        s.create(put(&tmp, "text/plain", "x"))
                            .durable()
                            .await
                            .unwrap();
                        s.delete(&tmp).durable().await.unwrap();
                    }
                }
            })
        })
        .collect();
    let compactor = {
        let s = s.clone();
        tokio::task::spawn_blocking(move || {
            let mut runs = 0;
            while runs < 5 {
                if s.compact().unwrap().is_some() {
                    runs += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        })
    };
    for w in writers {
        w.await.unwrap();
    }
    compactor.await.unwrap();
    let expected: String = (0..300).map(|i| format!("{i},")).collect();
    for w in 0..3 {
        assert_eq!(read_all(&s, &format!("/w{w}")).unwrap(), expected);
    }
    let live = fingerprint(&s);
    drop(s);
    assert_eq!(fingerprint(&open(&dir)), live);
}
