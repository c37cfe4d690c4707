//! §4 Durability: recovery cuts torn and corrupt tails, group commit shares
//! syncs, segments rotate, reads use a bounded set of handles.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::durable::frame::HEADER;
use crate::durable::log::{Log, LogOptions, SyncHook};
use crate::durable::segment::{self, Loc, Recovery};
use crate::durable::testdir::TestDir;

fn open(dir: &Path, options: LogOptions) -> (Log, Recovery, Vec<(Loc, Vec<u8>)>) {
    let mut seen = Vec::new();
    let (log, rec) = Log::open(dir, options, |loc, p| {
        seen.push((loc, p.to_vec()));
        Ok(())
    })
    .expect("open log");
    (log, rec, seen)
}

fn payloads(seen: &[(Loc, Vec<u8>)]) -> Vec<Vec<u8>> {
    seen.iter().map(|(_, p)| p.clone()).collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn write_all(dir: &Path, options: LogOptions, records: &[Vec<u8>]) -> Vec<Loc> {
    let (log, _, _) = open(dir, options);
    rt().block_on(async {
        let mut locs = Vec::new();
        for r in records {
            locs.push(log.append(r.clone()).await.unwrap());
        }
        locs
    })
}

#[test]
fn torn_tail_is_cut_at_every_position_of_the_last_record() {
    let src = TestDir::new("torn-src");
    let records = vec![
        b"alpha".to_vec(),
        vec![b'b'; 300],
        b"gamma-the-last".to_vec(),
    ];
    let locs = write_all(src.path(), LogOptions::default(), &records);
    let used = (locs[2].offset + u64::from(locs[2].len)) as usize;
    let full = std::fs::read(segment::path(src.path(), 1)).unwrap()[..used].to_vec();
    let good = full.len() - (HEADER + records[2].len());
    for cut in good..full.len() {
        let dir = TestDir::new("torn");
        std::fs::write(segment::path(dir.path(), 1), &full[..cut]).unwrap();
        let (log, rec, seen) = open(dir.path(), LogOptions::default());
        assert_eq!(payloads(&seen), records[..2].to_vec(), "cut at {cut}");
        match &rec.truncated {
            None => assert_eq!(cut, good),
            Some(t) => {
                assert_eq!(t.at, good as u64, "cut at {cut}");
                // Up to the last non-zero byte (zeros are preallocated space).
                let dirty = full[good..cut].iter().rposition(|&b| b != 0).unwrap() + 1;
                assert_eq!(t.dropped_bytes, dirty as u64);
            }
        }
        // The log continues cleanly after the cut.
        rt().block_on(log.append(b"after".to_vec())).unwrap();
        drop(log);
        let (_, rec, seen) = open(dir.path(), LogOptions::default());
        assert_eq!(rec.truncated, None);
        let mut want = records[..2].to_vec();
        want.push(b"after".to_vec());
        assert_eq!(payloads(&seen), want, "cut at {cut}");
    }
}

#[test]
fn checksum_corruption_in_the_last_segment_drops_from_there_on() {
    let dir = TestDir::new("crc");
    let records: Vec<Vec<u8>> = (0..5).map(|i| format!("record {i}").into_bytes()).collect();
    let locs = write_all(dir.path(), LogOptions::default(), &records);
    let seg = segment::path(dir.path(), 1);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[locs[2].offset as usize + 3] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let (_, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(payloads(&seen), records[..2].to_vec());
    let t = rec.truncated.expect("truncated");
    assert_eq!(t.reason, "checksum mismatch");
    assert_eq!(t.at, locs[2].offset - HEADER as u64);
}

#[test]
fn corruption_in_a_sealed_segment_refuses_to_open() {
    let dir = TestDir::new("sealed");
    let options = LogOptions {
        segment_bytes: 64,
        ..LogOptions::default()
    };
    let records: Vec<Vec<u8>> = (0..6).map(|_| vec![b'x'; 40]).collect();
    write_all(dir.path(), options.clone(), &records);
    assert!(segment::list(dir.path()).unwrap().len() > 2);
    let seg = segment::path(dir.path(), 1);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[HEADER + 1] ^= 0xff;
    std::fs::write(&seg, &bytes).unwrap();
    let err = Log::open(dir.path(), options, |_, _| Ok(()))
        .err()
        .expect("must refuse");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn queued_appends_share_one_sync() {
    let dir = TestDir::new("batch");
    let (log, _, _) = open(dir.path(), LogOptions::default());
    let n = 1000;
    let acks: Vec<_> = (0..n)
        .map(|i| log.submit(format!("r{i}").into_bytes()))
        .collect();
    let locs = rt().block_on(futures::future::try_join_all(acks)).unwrap();
    let stats = log.stats();
    eprintln!("{n} queued appends: {} syncs", stats.syncs);
    assert_eq!(stats.appends, n);
    assert!(stats.syncs * 10 < n, "{stats:?}");
    // Acks come back in submission order, at increasing offsets.
    assert!(locs.windows(2).all(|w| w[0].offset < w[1].offset));
}

#[test]
fn concurrent_appenders_share_syncs_and_all_acked_records_survive() {
    let dir = TestDir::new("group");
    let (log, _, _) = open(dir.path(), LogOptions::default());
    let log = Arc::new(log);
    let (writers, each) = (64u64, 40u64);
    rt().block_on(async {
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..each {
                        log.append(format!("{w}:{i}").into_bytes()).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let stats = log.stats();
    eprintln!(
        "{writers} writers x {each} appends = {} appends, {} syncs ({:.1} appends/sync)",
        stats.appends,
        stats.syncs,
        stats.appends as f64 / stats.syncs as f64
    );
    assert_eq!(stats.appends, writers * each);
    assert!(stats.syncs < stats.appends / 2, "{stats:?}");
    drop(Arc::into_inner(log).expect("sole owner"));
    let (_, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(rec.truncated, None);
    let mut next = vec![0u64; writers as usize];
    for (_, p) in &seen {
        let s = String::from_utf8(p.clone()).unwrap();
        let (w, i) = s.split_once(':').unwrap();
        let (w, i): (usize, u64) = (w.parse().unwrap(), i.parse().unwrap());
        assert_eq!(i, next[w], "writer {w} out of order");
        next[w] += 1;
    }
    assert!(next.iter().all(|&n| n == each));
}

#[test]
fn segments_rotate_and_reads_use_a_bounded_handle_cache() {
    let dir = TestDir::new("rotate");
    let options = LogOptions {
        segment_bytes: 1024,
        max_open_files: 2,
        ..LogOptions::default()
    };
    let records: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 100]).collect();
    let locs = write_all(dir.path(), options.clone(), &records);
    let ids = segment::list(dir.path()).unwrap();
    assert!(ids.len() >= 9, "{ids:?}");
    for id in &ids[..ids.len() - 1] {
        let len = std::fs::metadata(segment::path(dir.path(), *id))
            .unwrap()
            .len();
        assert!((1024..1024 + 200).contains(&len), "segment {id}: {len}");
    }
    let (log, rec, seen) = open(dir.path(), options);
    assert_eq!(rec.segments, ids.len());
    assert_eq!(payloads(&seen), records);
    assert_eq!(seen.iter().map(|(l, _)| *l).collect::<Vec<_>>(), locs);
    for (loc, want) in locs.iter().zip(&records).rev() {
        assert_eq!(&log.read_range(*loc).unwrap()[..], &want[..]);
        assert!(log.open_read_files() <= 2);
    }
    let part = log.read_range(locs[42].slice(10, 15)).unwrap();
    assert_eq!(&part[..], &[42u8; 5]);
}

#[test]
fn invalid_payloads_and_a_stopped_log_fail_the_ack() {
    let dir = TestDir::new("fail");
    let (log, _, _) = open(dir.path(), LogOptions::default());
    let rt = rt();
    rt.block_on(log.append(b"ok".to_vec())).unwrap();
    assert!(
        rt.block_on(log.append(Vec::new())).is_err(),
        "empty payload"
    );
    log.shutdown();
    assert!(rt.block_on(log.append(b"late".to_vec())).is_err());
}

#[test]
fn a_barrier_waits_for_earlier_records_and_writes_nothing() {
    let dir = TestDir::new("barrier");
    let (log, _, _) = open(dir.path(), LogOptions::default());
    let rt = rt();
    let first = log.submit(b"one".to_vec());
    let barrier = log.barrier();
    rt.block_on(barrier).unwrap();
    assert_eq!(
        log.stats().appends,
        1,
        "the record before the barrier is durable"
    );
    rt.block_on(first).unwrap();
    let syncs = log.stats().syncs;
    rt.block_on(log.barrier()).unwrap();
    assert_eq!(log.stats().syncs, syncs, "a lone barrier needs no sync");
    drop(log);
    let (_, _, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(payloads(&seen), vec![b"one".to_vec()]);
}

#[test]
fn a_directory_has_one_writer_at_a_time() {
    let dir = TestDir::new("lock");
    let (log, _, _) = open(dir.path(), LogOptions::default());
    let t = std::time::Instant::now();
    let impatient = LogOptions {
        lock_wait: std::time::Duration::from_millis(100),
        ..LogOptions::default()
    };
    let second = Log::open(dir.path(), impatient, |_, _| Ok(()));
    assert_eq!(
        second.err().map(|e| e.kind()),
        Some(io::ErrorKind::WouldBlock)
    );
    assert!(t.elapsed() >= std::time::Duration::from_millis(100));
    drop(log);
    open(dir.path(), LogOptions::default());
}

fn end_of(loc: Loc) -> u64 {
    loc.offset + u64::from(loc.len)
}

fn file_len(dir: &Path, id: u64) -> u64 {
    std::fs::metadata(segment::path(dir, id)).unwrap().len()
}

fn write_at(dir: &Path, id: u64, at: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(segment::path(dir, id))
        .unwrap();
    f.write_all_at(bytes, at).unwrap();
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    crate::durable::frame::encode_into(&mut out, payload);
    out
}

#[test]
fn a_zero_filled_tail_is_a_clean_end() {
    let dir = TestDir::new("zero-tail");
    let records: Vec<Vec<u8>> = (0..50).map(|i| format!("rec {i}").into_bytes()).collect();
    let locs = write_all(dir.path(), LogOptions::default(), &records);
    let used = end_of(*locs.last().unwrap());
    // The segment was preallocated past its last record.
    assert!(file_len(dir.path(), 1) > used + 1024, "not preallocated");
    let (log, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(rec.truncated, None);
    assert_eq!(payloads(&seen), records);
    // Appends continue right after the last record, in place.
    let loc = rt().block_on(log.append(b"next".to_vec())).unwrap();
    assert_eq!(loc.offset, used + HEADER as u64);
    drop(log);
    let (_, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(rec.truncated, None);
    assert_eq!(seen.len(), 51);
    // A tail of fewer zero bytes than a header is a clean end too.
    let dir2 = TestDir::new("zero-tail-short");
    let bytes = [framed(b"a"), vec![0u8; 5]].concat();
    std::fs::write(segment::path(dir2.path(), 1), &bytes).unwrap();
    let (_, rec, seen) = open(dir2.path(), LogOptions::default());
    assert_eq!(
        (rec.truncated, payloads(&seen)),
        (None, vec![b"a".to_vec()])
    );
}

#[test]
fn a_torn_record_inside_a_preallocated_segment_is_zeroed_and_never_resurrected() {
    let dir = TestDir::new("torn-prealloc");
    let records: Vec<Vec<u8>> = (0..3).map(|i| format!("record {i}").into_bytes()).collect();
    let locs = write_all(dir.path(), LogOptions::default(), &records);
    let end = end_of(locs[2]);
    let size = file_len(dir.path(), 1);
    assert!(size > end + 4096);
    // An unsynced batch of two records, its pages persisted out of order:
    // the first frame's header page never made it (zeros), the second
    // (complete, checksum valid) did.
    let first = framed(b"lost-1");
    let stale = framed(b"lost-2: a complete frame behind a torn one");
    write_at(dir.path(), 1, end + first.len() as u64, &stale);
    // ... and a torn frame further out, past a run of zeros.
    write_at(dir.path(), 1, end + 3000, &framed(b"torn")[..7]);
    let (log, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(payloads(&seen), records);
    let t = rec.truncated.expect("dirty tail reported");
    assert_eq!(t.at, end);
    assert_eq!(t.dropped_bytes, 3000 + 7);
    assert_eq!(file_len(dir.path(), 1), size, "the preallocation is kept");
    // A new record of the lost one's size lands exactly where it was; the
    // stale frame behind it must not come back.
    let loc = rt().block_on(log.append(b"new--1".to_vec())).unwrap();
    assert_eq!(loc.offset, end + HEADER as u64);
    drop(log);
    let (_, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(rec.truncated, None);
    let mut want = records.clone();
    want.push(b"new--1".to_vec());
    assert_eq!(payloads(&seen), want);
    // A torn header (non-zero length, cut by zeros) is cut the same way.
    let dir = TestDir::new("torn-prealloc-header");
    let locs = write_all(dir.path(), LogOptions::default(), &records);
    let end = end_of(locs[2]);
    write_at(dir.path(), 1, end, &framed(b"half a header")[..3]);
    let (_, rec, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(payloads(&seen), records);
    assert_eq!(rec.truncated.expect("cut").at, end);
}

#[test]
fn rotation_with_preallocation_seals_exact_segments() {
    let dir = TestDir::new("rotate-prealloc");
    let options = LogOptions {
        segment_bytes: 64 << 10,
        prealloc_bytes: 16 << 10,
        ..LogOptions::default()
    };
    let (log, _, _) = open(dir.path(), options.clone());
    let records: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| format!("{i:05}{}", "x".repeat(100)).into_bytes())
        .collect();
    let locs = rt().block_on(async {
        let mut locs = Vec::new();
        for r in &records {
            locs.push(log.append(r.clone()).await.unwrap());
        }
        locs
    });
    let stats = log.stats();
    eprintln!("{stats:?}");
    assert!(stats.rotations >= 3, "{stats:?}");
    assert!(stats.preallocations > stats.rotations, "{stats:?}");
    // Most syncs overwrote zeroed space rather than growing the file.
    assert!(stats.growing_syncs * 4 < stats.syncs, "{stats:?}");
    drop(log);
    let ids = segment::list(dir.path()).unwrap();
    for id in &ids[..ids.len() - 1] {
        let last = locs.iter().rfind(|l| l.segment == *id).unwrap();
        assert_eq!(
            file_len(dir.path(), *id),
            end_of(*last),
            "sealed {id} is cut"
        );
    }
    let (log, rec, seen) = open(dir.path(), options);
    assert_eq!(rec.truncated, None);
    assert_eq!(payloads(&seen), records);
    assert_eq!(seen.iter().map(|(l, _)| *l).collect::<Vec<_>>(), locs);
    for (loc, want) in locs.iter().zip(&records).step_by(97) {
        assert_eq!(&log.read_range(*loc).unwrap()[..], &want[..]);
    }
}

#[test]
fn a_crash_during_preallocation_or_rotation_recovers() {
    let options = LogOptions {
        segment_bytes: 64 << 10,
        prealloc_bytes: 16 << 10,
        ..LogOptions::default()
    };
    let records: Vec<Vec<u8>> = (0..40).map(|i| vec![b'a' + i as u8 % 26; 2000]).collect();
    let dir = TestDir::new("crash-prealloc");
    let locs = write_all(dir.path(), options.clone(), &records);
    let ids = segment::list(dir.path()).unwrap();
    assert!(ids.len() >= 2, "{ids:?}");
    let (sealed, active) = (ids[ids.len() - 2], ids[ids.len() - 1]);
    // A zero fill cut short: the file size went out but only part of the
    // zeros did (the rest is a hole), in the active segment ...
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(segment::path(dir.path(), active))
        .unwrap();
    f.set_len(file_len(dir.path(), active) + (1 << 20)).unwrap();
    drop(f);
    // ... and in the sealed one before it was cut, as if the crash came
    // between the zero fill of its tail and rotation's cut.
    let sealed_end = end_of(*locs.iter().rfind(|l| l.segment == sealed).unwrap());
    write_at(dir.path(), sealed, sealed_end, &[0u8; 3000]);
    // A next segment that was created but never written (crash right
    // after rotation created it) is an empty active segment.
    std::fs::File::create(segment::path(dir.path(), active + 1)).unwrap();
    let (log, rec, seen) = open(dir.path(), options.clone());
    assert_eq!(rec.truncated, None);
    assert_eq!(payloads(&seen), records);
    let loc = rt().block_on(log.append(b"after".to_vec())).unwrap();
    assert_eq!((loc.segment, loc.offset), (active + 1, HEADER as u64));
    drop(log);
    let (_, rec, seen) = open(dir.path(), options.clone());
    assert_eq!(rec.truncated, None);
    assert_eq!(seen.len(), records.len() + 1);
    // The strict rule for sealed segments still holds past the zeros.
    write_at(dir.path(), sealed, sealed_end + 2000, b"garbage");
    let err = Log::open(dir.path(), options, |_, _| Ok(()))
        .err()
        .expect("must refuse");
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

#[test]
fn the_zero_filler_has_its_own_open_file_description() {
    use std::io::{Seek, SeekFrom};
    // A write-back error is reported once per open file description; the
    // filler must not share the writer's (a shared one also shares the
    // file position, which is what this observes).
    let dir = TestDir::new("fill-handle");
    let mut writer = segment::create(dir.path(), 7).expect("create");
    let mut filler = segment::open_for_fill(dir.path(), 7).expect("open for fill");
    writer.seek(SeekFrom::Start(4096)).expect("seek");
    assert_eq!(filler.stream_position().expect("position"), 0);
    filler.seek(SeekFrom::Start(100)).expect("seek");
    assert_eq!(writer.stream_position().expect("position"), 4096);
}

/// Opens a log in `dir` whose hook holds each listed sync (by number) until
/// its release is sent or dropped, then gives it the listed result; other
/// syncs run normally. `entered` receives each held sync's number when it
/// starts. Bind the result as `let (log, releases, entered) = ...`: the
/// releases then drop before the log when a check fails, so the log's
/// shutdown does not wait forever for a held sync.
fn open_held(
    dir: &Path,
    plan: Vec<(u64, io::Result<()>)>,
) -> (
    Log,
    Vec<std::sync::mpsc::Sender<()>>,
    std::sync::mpsc::Receiver<u64>,
) {
    let mut held = std::collections::HashMap::new();
    let mut releases = Vec::new();
    for (n, result) in plan {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        held.insert(n, (wait, result));
        releases.push(release);
    }
    let (enter, entered) = std::sync::mpsc::channel();
    let held = std::sync::Mutex::new((held, enter));
    let hook = SyncHook(Arc::new(move |n| {
        let (wait, result) = {
            let mut guard = held.lock().unwrap();
            let Some(h) = guard.0.remove(&n) else {
                return Ok(());
            };
            let _ = guard.1.send(n);
            h
        };
        let _ = wait.recv();
        result
    }));
    let options = LogOptions {
        sync_hook: Some(hook),
        ..LogOptions::default()
    };
    let (log, _, _) = open(dir, options);
    (log, releases, entered)
}

fn pending<T>(f: &mut std::pin::Pin<Box<impl std::future::Future<Output = T>>>) -> bool {
    futures::FutureExt::now_or_never(f.as_mut()).is_none()
}

#[test]
fn a_held_sync_holds_every_later_answer() {
    let dir = TestDir::new("held");
    let (log, releases, entered) = open_held(dir.path(), vec![(1, Ok(()))]);
    let rt = rt();
    let mut first = Box::pin(log.submit(b"first".to_vec()));
    assert_eq!(entered.recv().unwrap(), 1);
    let mut second = Box::pin(log.submit(b"second".to_vec()));
    let mut barrier = Box::pin(log.barrier());
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(pending(&mut first), "answered before its sync returned");
    assert!(
        pending(&mut second),
        "a later record was answered while an earlier sync was held"
    );
    assert!(pending(&mut barrier), "a barrier passed a held sync");
    releases[0].send(()).unwrap();
    let (a, b, c) = rt.block_on(async { (first.await, second.await, barrier.await) });
    let (a, b) = (a.unwrap(), b.unwrap());
    c.unwrap();
    assert!(a.offset < b.offset);
    drop(log);
    let (_, _, seen) = open(dir.path(), LogOptions::default());
    assert_eq!(payloads(&seen), vec![b"first".to_vec(), b"second".to_vec()]);
}

#[test]
fn a_failed_sync_fails_the_appends_queued_behind_it_and_every_later_one() {
    let dir = TestDir::new("failqueued");
    let injected = io::Error::other("injected sync failure");
    let (log, releases, entered) = open_held(dir.path(), vec![(1, Err(injected))]);
    let rt = rt();
    let first = log.submit(b"first".to_vec());
    assert_eq!(entered.recv().unwrap(), 1);
    let queued: Vec<_> = (0..10)
        .map(|i| log.submit(format!("q{i}").into_bytes()))
        .collect();
    let barrier = log.barrier();
    releases[0].send(()).unwrap();
    let err = rt.block_on(first).unwrap_err();
    assert!(err.to_string().contains("injected sync failure"), "{err}");
    for q in queued {
        let err = rt.block_on(q).unwrap_err();
        assert!(err.to_string().contains("record log is failed"), "{err}");
    }
    assert!(rt.block_on(barrier).is_err());
    assert!(rt.block_on(log.append(b"later".to_vec())).is_err());
    assert!(rt.block_on(log.cut()).is_err());
    assert_eq!((log.stats().syncs, log.stats().appends), (0, 0));
}

#[test]
fn appends_queued_during_a_sync_go_out_in_one_write_and_sync() {
    let dir = TestDir::new("queued");
    let (log, releases, entered) = open_held(dir.path(), vec![(1, Ok(()))]);
    let rt = rt();
    let first = log.submit(b"first".to_vec());
    assert_eq!(entered.recv().unwrap(), 1);
    let n = 100;
    let rest: Vec<_> = (0..n)
        .map(|i| log.submit(format!("r{i}").into_bytes()))
        .collect();
    releases[0].send(()).unwrap();
    rt.block_on(first).unwrap();
    let locs = rt.block_on(futures::future::try_join_all(rest)).unwrap();
    let stats = log.stats();
    assert_eq!((stats.appends, stats.syncs), (n + 1, 2), "{stats:?}");
    assert!(locs.windows(2).all(|w| w[0].offset < w[1].offset));
}
