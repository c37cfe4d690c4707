//! Store invariants of §4.2 (refcounts, soft-delete, cascading cleanup, fork
//! expiry) and §4 expiry, driven through the store API with a manual clock.

use std::time::Duration;

use bytes::Bytes;

use super::{clock, head, read_all, text};
use crate::store::fork::ForkRequest;
use crate::store::offsets::ReadFrom;
use crate::store::ttl::{parse_expires_at, Expiry};
use crate::store::*;

fn store() -> Store {
    Store::new(clock())
}

fn put(s: &Store, path: &str, ct: &str, body: &str) {
    let (created, _) = s
        .create(CreateRequest {
            path: path.into(),
            content_type: Some(ct.into()),
            body: Bytes::from(body.to_string()),
            ..Default::default()
        })
        .applied()
        .unwrap();
    assert!(created);
}

fn fork_req(path: &str, source: &str, offset: Option<u64>, sub: u64) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        fork: Some(ForkRequest {
            source_path: source.into(),
            offset,
            sub_offset: sub,
        }),
        ..Default::default()
    }
}

fn refcount(s: &Store, path: &str) -> u64 {
    s.registry().get(path).unwrap().lock().refcount
}

fn append(s: &Store, path: &str, body: &str) {
    s.append(path, text(body, None, false)).applied().unwrap();
}

#[test]
fn live_paths_are_sorted_and_skip_deleted_streams() {
    let s = store();
    let names: Vec<String> = (0..40).map(|i| format!("/s{:02}", (i * 17) % 40)).collect();
    for n in &names {
        put(&s, n, "text/plain", "");
    }
    s.delete("/s07").applied().unwrap();
    let mut expected: Vec<String> = names.into_iter().filter(|n| n != "/s07").collect();
    expected.sort();
    assert_eq!(s.live_paths(), expected);
}

#[test]
fn rejected_forks_never_take_a_reference() {
    let s = store();
    put(&s, "/src", "text/plain", "hello");
    put(&s, "/taken", "text/plain", "");
    put(&s, "/j", "application/json", "[1,2]");
    let mut mismatch = fork_req("/f1", "/src", None, 0);
    mismatch.content_type = Some("application/json".into());
    let mut bad_body = fork_req("/f5", "/j", None, 0);
    bad_body.body = Bytes::from_static(b"{");
    let cases = [
        (mismatch, StoreError::ContentTypeMismatch),
        (
            fork_req("/f2", "/src", Some(6), 0),
            StoreError::OffsetBeyondTail,
        ),
        (
            fork_req("/f3", "/src", Some(0), 6),
            StoreError::SubOffsetOvershoot,
        ),
        (
            fork_req("/taken", "/src", None, 0),
            StoreError::ConfigMismatch,
        ),
        (
            fork_req("/f4", "/missing", None, 0),
            StoreError::SourceNotFound,
        ),
        (bad_body, StoreError::Json(json::JsonError::Invalid)),
    ];
    for (req, want) in cases {
        assert_eq!(s.create(req).applied().unwrap_err(), want);
    }
    assert_eq!(refcount(&s, "/src"), 0);
    assert_eq!(refcount(&s, "/j"), 0);
    s.delete("/src").applied().unwrap();
    s.delete("/j").applied().unwrap();
    assert_eq!(head(&s, "/src").unwrap_err(), StoreError::NotFound);
    assert_eq!(s.len(), 1, "only /taken is left");
}

#[test]
fn soft_deleted_sources_cannot_be_forked_and_block_their_path() {
    let s = store();
    put(&s, "/a", "text/plain", "x");
    s.create(fork_req("/b", "/a", None, 0)).applied().unwrap();
    s.delete("/a").applied().unwrap();
    assert_eq!(head(&s, "/a").unwrap_err(), StoreError::Gone);
    assert_eq!(s.delete("/a").applied().unwrap_err(), StoreError::Gone);
    assert_eq!(
        s.create(fork_req("/c", "/a", None, 0))
            .applied()
            .unwrap_err(),
        StoreError::SourceGone
    );
    let again = CreateRequest {
        path: "/a".into(),
        ..Default::default()
    };
    assert_eq!(
        s.create(again).applied().unwrap_err(),
        StoreError::PathBlocked
    );
    assert_eq!(refcount(&s, "/a"), 1);
}

#[test]
fn cascade_through_a_chain_of_depth_three() {
    let s = store();
    put(&s, "/a", "text/plain", "aa");
    s.create(fork_req("/b", "/a", None, 0)).applied().unwrap();
    append(&s, "/b", "bb");
    s.create(fork_req("/c", "/b", None, 0)).applied().unwrap();
    append(&s, "/c", "cc");
    s.create(fork_req("/d", "/c", None, 0)).applied().unwrap();
    append(&s, "/d", "dd");
    for p in ["/a", "/b", "/c"] {
        s.delete(p).applied().unwrap();
        assert_eq!(head(&s, p).unwrap_err(), StoreError::Gone);
    }
    assert_eq!(read_all(&s, "/d").unwrap(), "aabbccdd");
    assert_eq!(s.len(), 4);
    s.delete("/d").applied().unwrap();
    assert!(s.is_empty(), "the whole chain is cleaned up");
}

#[test]
fn deleting_one_of_two_forks_keeps_the_source() {
    let s = store();
    put(&s, "/a", "text/plain", "aa");
    s.create(fork_req("/f1", "/a", None, 0)).applied().unwrap();
    s.create(fork_req("/f2", "/a", None, 0)).applied().unwrap();
    s.delete("/a").applied().unwrap();
    s.delete("/f1").applied().unwrap();
    assert_eq!(head(&s, "/a").unwrap_err(), StoreError::Gone);
    assert_eq!(read_all(&s, "/f2").unwrap(), "aa");
    s.delete("/f2").applied().unwrap();
    assert!(s.is_empty());
}

#[test]
fn expiry_with_forks_is_a_soft_delete() {
    let s = store();
    let mut src = CreateRequest {
        path: "/a".into(),
        content_type: Some("text/plain".into()),
        body: Bytes::from_static(b"data"),
        expiry: Expiry::Ttl(10),
        ..Default::default()
    };
    s.create(src.clone()).applied().unwrap();
    let mut f = fork_req("/f", "/a", None, 0);
    f.expiry = Expiry::At(parse_expires_at("2031-01-01T00:00:00Z").unwrap());
    s.create(f).applied().unwrap();
    s.clock().advance(Duration::from_secs(11));
    assert_eq!(head(&s, "/a").unwrap_err(), StoreError::Gone);
    assert_eq!(
        s.create(src.clone()).applied().unwrap_err(),
        StoreError::PathBlocked
    );
    assert_eq!(read_all(&s, "/f").unwrap(), "data");
    s.delete("/f").applied().unwrap();
    assert!(s.is_empty());
    src.body = Bytes::new();
    assert!(
        s.create(src).applied().unwrap().0,
        "a fresh stream at the old path"
    );
}

#[test]
fn expiry_of_the_last_fork_cascades_via_the_sweep() {
    let s = store();
    put(&s, "/a", "text/plain", "x");
    let mut f = fork_req("/f", "/a", None, 0);
    f.expiry = Expiry::Ttl(5);
    s.create(f).applied().unwrap();
    s.delete("/a").applied().unwrap();
    s.clock().advance(Duration::from_secs(6));
    s.sweep();
    assert!(s.is_empty());
}

#[test]
fn ttl_is_renewed_by_reads_and_appends_but_not_head() {
    let s = store();
    s.create(CreateRequest {
        path: "/t".into(),
        content_type: Some("text/plain".into()),
        expiry: Expiry::Ttl(10),
        ..Default::default()
    })
    .applied()
    .unwrap();
    for _ in 0..3 {
        s.clock().advance(Duration::from_secs(8));
        s.open_for_read("/t").applied().unwrap();
    }
    s.clock().advance(Duration::from_secs(8));
    append(&s, "/t", "x");
    s.clock().advance(Duration::from_secs(8));
    head(&s, "/t").unwrap();
    s.clock().advance(Duration::from_secs(3));
    assert_eq!(head(&s, "/t").unwrap_err(), StoreError::NotFound);
}

#[test]
fn fork_expiry_follows_the_table() {
    let s = store();
    let at = |t: &str| Expiry::At(parse_expires_at(t).unwrap());
    let sources = [Expiry::Never, Expiry::Ttl(100), at("2030-06-01T00:00:00Z")];
    let requests = [Expiry::Never, Expiry::Ttl(50), at("2032-01-01T00:00:00Z")];
    for (i, source) in sources.iter().enumerate() {
        let src = format!("/s{i}");
        s.create(CreateRequest {
            path: src.clone(),
            expiry: source.clone(),
            ..Default::default()
        })
        .applied()
        .unwrap();
        for (j, requested) in requests.iter().enumerate() {
            let mut f = fork_req(&format!("/s{i}/f{j}"), &src, None, 0);
            f.expiry = requested.clone();
            let (_, info) = s.create(f).applied().unwrap();
            let want = if *requested == Expiry::Never {
                source.clone()
            } else {
                requested.clone()
            };
            assert_eq!(info.expiry, want, "source {source:?} request {requested:?}");
        }
    }
}

#[test]
fn sub_offsets_materialise_a_prefix_of_one_append() {
    let s = store();
    put(&s, "/b", "text/plain", "hello");
    append(&s, "/b", " world");
    s.create(fork_req("/f", "/b", Some(5), 3))
        .applied()
        .unwrap();
    assert_eq!(read_all(&s, "/f").unwrap(), "hello wo");
    assert_eq!(
        s.create(fork_req("/g", "/b", Some(5), 7))
            .applied()
            .unwrap_err(),
        StoreError::SubOffsetOvershoot
    );
    s.create(fork_req("/h", "/f", Some(5), 2))
        .applied()
        .unwrap();
    assert_eq!(read_all(&s, "/h").unwrap(), "hello w");
    assert_eq!(
        s.create(fork_req("/i", "/f", Some(5), 4))
            .applied()
            .unwrap_err(),
        StoreError::SubOffsetOvershoot,
        "a fork's view of an append ends at its own divergence"
    );
    put(&s, "/j", "application/json", "[1,2,3]");
    s.create(fork_req("/jf", "/j", Some(0), 2))
        .applied()
        .unwrap();
    assert_eq!(read_all(&s, "/jf").unwrap(), "[1,2]");
}

#[test]
fn idempotent_fork_creation() {
    let s = store();
    put(&s, "/a", "text/plain", "abc");
    assert!(
        s.create(fork_req("/f", "/a", Some(1), 1))
            .applied()
            .unwrap()
            .0
    );
    assert!(
        !s.create(fork_req("/f", "/a", Some(1), 1))
            .applied()
            .unwrap()
            .0
    );
    assert_eq!(
        s.create(fork_req("/f", "/a", Some(1), 2))
            .applied()
            .unwrap_err(),
        StoreError::ConfigMismatch
    );
    assert_eq!(
        s.create(fork_req("/f", "/a", Some(0), 1))
            .applied()
            .unwrap_err(),
        StoreError::ConfigMismatch
    );
    assert_eq!(refcount(&s, "/a"), 1);
}

/// Found by the harness's fork property: a fork taken inside its source's
/// inherited range must end its reads at its own tail, not at the middle
/// stream's base (which is past the fork's tail).
#[test]
fn fork_of_fork_inside_inherited_range_reads_to_its_own_tail() {
    let s = store();
    put(&s, "/a", "text/plain", "x");
    append(&s, "/a", "y");
    append(&s, "/a", "z");
    assert!(s.create(fork_req("/b", "/a", None, 0)).applied().unwrap().0);
    assert!(
        s.create(fork_req("/c", "/b", Some(1), 0))
            .applied()
            .unwrap()
            .0
    );
    let stream = s.open_for_read("/c").applied().unwrap();
    let r = read::chunk(&stream, ReadFrom::Start, usize::MAX).unwrap();
    assert_eq!(r.pieces.concat(), b"x");
    assert_eq!((r.next, r.tail), (1, 1));
    assert!(r.up_to_date());
}
