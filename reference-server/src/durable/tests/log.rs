//! §4 Durability: recovery cuts torn and corrupt tails, group commit shares
//! syncs, segments rotate, reads use a bounded set of handles.

use std::io;
use std::path::Path;
use std::sync::Arc;

use crate::durable::frame::HEADER;
use crate::durable::log::{Log, LogOptions};
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
    write_all(src.path(), LogOptions::default(), &records);
    let full = std::fs::read(segment::path(src.path(), 1)).unwrap();
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
                assert_eq!(t.dropped_bytes, (cut - good) as u64);
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
