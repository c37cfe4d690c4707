//! §4 Durability: the append-only record log with group commit. One writer
//! thread owns the active segment; every append that arrived while the
//! previous write + fdatasync ran goes out as one write and one sync, and
//! each append is acknowledged only after that sync returned.
//!
//! Preallocation: a helper thread keeps up to two chunks of zeroed, synced
//! space (`LogOptions::prealloc_bytes` each) ahead of the end of the active
//! segment, so appends overwrite existing blocks and their fdatasync has
//! no file size or extent change to commit through the filesystem journal
//! (writing zeros, not `fallocate`: ext4 would still have to convert an
//! unwritten extent at the first write). The helper only ever writes at or
//! past the end the writer has reached, and the writer waits for it before
//! writing past the zeroed space, so zeros never land on a record. A
//! sealed segment is cut to its last record. See `segment` for recovery.
//!
//! A failed write or sync poisons the log: the page cache may have dropped
//! the dirty pages, so retrying could acknowledge lost data. Every later
//! append fails, and a restart recovers from what is on disk.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::frame::{self, HEADER};
use super::reader::SegmentReader;
use super::segment::{self, Loc, Recovery, Tail};

/// Tuning of the log; the defaults suit the reference server.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// A segment is sealed once it reaches this size (a batch is never
    /// split, so a segment may exceed it by one batch).
    pub segment_bytes: u64,
    /// Upper bound on read handles kept open (plus the one being written).
    pub max_open_files: usize,
    /// A batch stops taking queued appends past this many bytes; the rest
    /// go out in the next batch without waiting.
    pub max_batch_bytes: usize,
    /// How long `open` waits for another owner of the directory to let go.
    pub lock_wait: std::time::Duration,
    /// Zeroed space is added to the active segment in chunks of this many
    /// bytes (at most `segment_bytes`), off the append path; 0 turns
    /// preallocation off.
    pub prealloc_bytes: u64,
    /// Tests only: runs on the writer thread before every fdatasync, with
    /// the sync's number (1, 2, ...); may block (hold the sync, or sleep
    /// like a slow disk, so the test can see what waits for it) or fail it
    /// (a failed fdatasync).
    pub sync_hook: Option<SyncHook>,
    /// The file store compacts its journal once streams were removed and
    /// the log grew by at least this many bytes (and by the size of the
    /// last compaction's base); see `store::journal::compact`.
    pub compact_min_bytes: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_bytes: 64 << 20,
            max_open_files: 64,
            max_batch_bytes: 16 << 20,
            lock_wait: std::time::Duration::from_secs(5),
            prealloc_bytes: 4 << 20,
            sync_hook: None,
            compact_min_bytes: 64 << 20,
        }
    }
}

/// See `LogOptions::sync_hook`.
#[derive(Clone)]
pub struct SyncHook(pub Arc<dyn Fn(u64) -> io::Result<()> + Send + Sync>);

impl std::fmt::Debug for SyncHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncHook")
    }
}

/// Counters of the writer, for tests and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    pub appends: u64,
    pub syncs: u64,
    pub bytes: u64,
    pub rotations: u64,
    /// Chunks of zeroed space added to segments.
    pub preallocations: u64,
    /// Syncs of batches that had to grow the file (no zeroed space left).
    pub growing_syncs: u64,
}

#[derive(Default)]
struct Counters {
    appends: AtomicU64,
    syncs: AtomicU64,
    bytes: AtomicU64,
    rotations: AtomicU64,
    preallocations: AtomicU64,
    growing_syncs: AtomicU64,
}

struct Request {
    payload: Vec<u8>,
    ack: Option<oneshot::Sender<io::Result<Loc>>>,
    /// A compaction's cut (`Log::cut`), not a record.
    cut: bool,
}

/// The durable record log of one data directory.
pub struct Log {
    dir: PathBuf,
    /// Exclusive lock on `DIR/LOCK` for the log's lifetime: two writers on
    /// one directory would interleave frames.
    _lock: File,
    tx: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    reader: Arc<SegmentReader>,
    counters: Arc<Counters>,
}

/// Resolves once the record is on disk, with the location of its payload.
pub struct Ack(oneshot::Receiver<io::Result<Loc>>);

impl Ack {
    /// Waits for the answer on a thread that may block (not a runtime's).
    pub fn wait(self) -> io::Result<Loc> {
        self.0
            .blocking_recv()
            .unwrap_or_else(|_| Err(io::Error::other("record log writer has stopped")))
    }
}

impl Future for Ack {
    type Output = io::Result<Loc>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| Err(io::Error::other("record log writer has stopped"))))
    }
}

impl Log {
    /// Opens (or creates) the log in `dir`, recovering it first: `visit`
    /// sees every valid record in order (see `segment::recover`).
    pub fn open(
        dir: &Path,
        options: LogOptions,
        visit: impl FnMut(Loc, &[u8]) -> io::Result<()>,
    ) -> io::Result<(Log, Recovery)> {
        let reader = Arc::new(SegmentReader::new(dir, options.max_open_files));
        Log::open_with_reader(dir, options, reader, visit)
    }

    /// `open`, reading through `reader` (made before recovery, so the
    /// visitor can already hand out locations bound to it).
    pub fn open_with_reader(
        dir: &Path,
        options: LogOptions,
        reader: Arc<SegmentReader>,
        visit: impl FnMut(Loc, &[u8]) -> io::Result<()>,
    ) -> io::Result<(Log, Recovery)> {
        std::fs::create_dir_all(dir)?;
        let lock = lock_dir(dir, options.lock_wait)?;
        let (tail, recovery) = segment::recover(dir, visit)?;
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            dir: dir.to_path_buf(),
            tail,
            options: options.clone(),
            counters: counters.clone(),
            failed: None,
            zeroer: Zeroer::start()?,
        };
        let handle = std::thread::Builder::new()
            .name("ds-log-writer".into())
            .spawn(move || writer.run(rx))?;
        let log = Log {
            dir: dir.to_path_buf(),
            _lock: lock,
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            reader,
            counters,
        };
        Ok((log, recovery))
    }

    /// Queues a record and returns at once; the record's position in the
    /// log is fixed by the order of `submit` calls, so a caller may submit
    /// under its own lock and await the `Ack` after releasing it.
    pub fn submit(&self, payload: Vec<u8>) -> Ack {
        let (ack, rx) = oneshot::channel();
        if payload.is_empty() || payload.len() > frame::MAX_PAYLOAD {
            let why = format!("record payload of {} bytes", payload.len());
            let _ = ack.send(Err(io::Error::new(io::ErrorKind::InvalidInput, why)));
            return Ack(rx);
        }
        self.send(Request {
            payload,
            ack: Some(ack),
            cut: false,
        });
        Ack(rx)
    }

    /// Compaction's cut: seals the active segment once every record
    /// submitted before the cut is on disk, skips one id for the base that
    /// will replace the log up to here, and continues in the next one.
    /// Records submitted after the cut land after the base. Resolves with
    /// the base's id as `Loc::segment`.
    pub fn cut(&self) -> Ack {
        let (ack, rx) = oneshot::channel();
        self.send(Request {
            payload: Vec::new(),
            ack: Some(ack),
            cut: true,
        });
        Ack(rx)
    }

    /// Queues a record nobody waits for (it rides with the next sync).
    pub fn submit_detached(&self, payload: Vec<u8>) {
        if payload.is_empty() || payload.len() > frame::MAX_PAYLOAD {
            return;
        }
        self.send(Request {
            payload,
            ack: None,
            cut: false,
        });
    }

    /// Appends a record and resolves once it is on disk.
    pub fn append(&self, payload: Vec<u8>) -> Ack {
        self.submit(payload)
    }

    /// Resolves once every record submitted before it is on disk (for
    /// answers that rely on earlier records: a duplicate's 204, an
    /// idempotent create's 200). Writes nothing; the `Loc` is empty.
    pub fn barrier(&self) -> Ack {
        let (ack, rx) = oneshot::channel();
        self.send(Request {
            payload: Vec::new(),
            ack: Some(ack),
            cut: false,
        });
        Ack(rx)
    }

    fn send(&self, req: Request) {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = tx.as_ref() {
            // A send only fails when the writer is gone; the dropped ack
            // then reports the error.
            let _ = tx.send(req);
        }
    }

    /// Reads a stored range (a payload or a slice of one) with `pread`.
    pub fn read_range(&self, loc: Loc) -> io::Result<Bytes> {
        self.reader.read(loc)
    }

    pub fn stats(&self) -> LogStats {
        let c = &self.counters;
        LogStats {
            appends: c.appends.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            preallocations: c.preallocations.load(Ordering::Relaxed),
            growing_syncs: c.growing_syncs.load(Ordering::Relaxed),
        }
    }

    /// Read handles currently open.
    pub fn open_read_files(&self) -> usize {
        self.reader.open_files()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops accepting records and waits for everything queued to be
    /// written and synced.
    pub fn shutdown(&self) {
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        if let Some(h) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = h.join();
            let s = self.stats();
            if s.syncs > 0 {
                // How well group commit batched: the figure to look at when
                // durable appends are slow (see scripts/bench.sh).
                tracing::info!(
                    "record log: {} appends in {} syncs ({:.1} per sync), {} bytes, \
                     {} rotations, {} preallocated chunks, {} syncs that grew the file",
                    s.appends,
                    s.syncs,
                    s.appends as f64 / s.syncs as f64,
                    s.bytes,
                    s.rotations,
                    s.preallocations,
                    s.growing_syncs
                );
            }
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Takes the directory lock, waiting a little for a previous owner in
/// this process (an in-process restart) to finish shutting down.
fn lock_dir(dir: &Path, wait: std::time::Duration) -> io::Result<File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("LOCK"))?;
    let deadline = std::time::Instant::now() + wait;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("{} is in use by another server", dir.display()),
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
}

struct Writer {
    dir: PathBuf,
    tail: Tail,
    options: LogOptions,
    counters: Arc<Counters>,
    failed: Option<String>,
    zeroer: Zeroer,
}

/// The helper thread that zero-fills space ahead of the active segment.
struct Zeroer {
    jobs: Option<mpsc::Sender<(File, u64, u64)>>,
    done: mpsc::Receiver<io::Result<u64>>,
    /// A job is running; it writes at or past `Tail::size`.
    pending: bool,
    handle: Option<JoinHandle<()>>,
}

impl Zeroer {
    fn start() -> io::Result<Zeroer> {
        let (jobs, rx) = mpsc::channel::<(File, u64, u64)>();
        let (tx, done) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("ds-log-prealloc".into())
            .spawn(move || {
                for (file, from, to) in rx {
                    let _ = tx.send(segment::zero_fill(&file, from, to).map(|()| to));
                }
            })?;
        Ok(Zeroer {
            jobs: Some(jobs),
            done,
            pending: false,
            handle: Some(handle),
        })
    }
}

impl Drop for Zeroer {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Request>) {
        let mut buf = Vec::new();
        let mut batch = Vec::new();
        let mut carry: Option<Request> = None;
        loop {
            let first = match carry.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => return,
                },
            };
            if first.cut {
                let result = self.cut();
                if let Some(ack) = first.ack {
                    let _ = ack.send(result);
                }
                continue;
            }
            // Everything queued while the previous sync ran joins this
            // batch, up to a cut (which goes next, on its own).
            let mut bytes = first.payload.len();
            batch.push(first);
            while bytes < self.options.max_batch_bytes {
                match rx.try_recv() {
                    Ok(r) if r.cut => {
                        carry = Some(r);
                        break;
                    }
                    Ok(r) => {
                        bytes += r.payload.len();
                        batch.push(r);
                    }
                    Err(_) => break,
                }
            }
            if bytes >= self.options.max_batch_bytes && carry.is_none() {
                carry = rx.try_recv().ok();
            }
            let result = self.commit(&mut buf, &batch);
            for (i, req) in batch.drain(..).enumerate() {
                if let Some(ack) = req.ack {
                    let _ = ack.send(match &result {
                        Ok(locs) => Ok(locs[i]),
                        Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                    });
                }
            }
        }
    }

    /// Writes a batch with one write and one fdatasync.
    fn commit(&mut self, buf: &mut Vec<u8>, batch: &[Request]) -> io::Result<Vec<Loc>> {
        if let Some(why) = &self.failed {
            return Err(io::Error::other(format!("record log is failed: {why}")));
        }
        let result = self.try_commit(buf, batch);
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result
    }

    fn try_commit(&mut self, buf: &mut Vec<u8>, batch: &[Request]) -> io::Result<Vec<Loc>> {
        if self.tail.len >= self.options.segment_bytes {
            self.rotate()?;
        }
        buf.clear();
        let mut locs = Vec::with_capacity(batch.len());
        for req in batch {
            if req.payload.is_empty() {
                // A barrier: durable once the records before it are.
                locs.push(Loc {
                    segment: self.tail.id,
                    offset: self.tail.len + buf.len() as u64,
                    len: 0,
                });
                continue;
            }
            locs.push(Loc {
                segment: self.tail.id,
                offset: self.tail.len + (buf.len() + HEADER) as u64,
                len: req.payload.len() as u32,
            });
            frame::encode_into(buf, &req.payload);
        }
        if buf.is_empty() {
            // Only barriers: every earlier batch was synced before this one.
            return Ok(locs);
        }
        let end = self.tail.len + buf.len() as u64;
        self.poll_zeroer(end > self.tail.size);
        self.tail.file.write_all_at(buf, self.tail.len)?;
        if let Some(hook) = &self.options.sync_hook {
            (hook.0)(self.counters.syncs.load(Ordering::Relaxed) + 1)?;
        }
        self.tail.file.sync_data()?;
        self.tail.len = end;
        let c = &self.counters;
        if end > self.tail.size {
            self.tail.size = end;
            c.growing_syncs.fetch_add(1, Ordering::Relaxed);
        }
        c.syncs.fetch_add(1, Ordering::Relaxed);
        let records = batch.iter().filter(|r| !r.payload.is_empty()).count();
        c.appends.fetch_add(records as u64, Ordering::Relaxed);
        c.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.preallocate();
        Ok(locs)
    }

    /// Takes the result of a finished zero-fill job; with `wait`, waits for
    /// a running one (before writing past the zeroed space it may be filling).
    fn poll_zeroer(&mut self, wait: bool) {
        if !self.zeroer.pending {
            return;
        }
        let result = if wait {
            self.zeroer.done.recv().ok()
        } else {
            self.zeroer.done.try_recv().ok()
        };
        match result {
            None if !wait => return,
            Some(Ok(to)) => {
                self.tail.size = self.tail.size.max(to);
                self.counters.preallocations.fetch_add(1, Ordering::Relaxed);
            }
            // A failed fill only costs speed: the space stays unclaimed and
            // appends grow the file as without preallocation.
            Some(Err(_)) | None => {}
        }
        self.zeroer.pending = false;
    }

    /// Starts zero-filling the next chunk once less than one is left.
    fn preallocate(&mut self) {
        let chunk = self.options.prealloc_bytes.min(self.options.segment_bytes);
        if chunk == 0 || self.zeroer.pending || self.tail.size - self.tail.len >= chunk {
            return;
        }
        // Not past the point where the segment is sealed.
        let limit = self.options.segment_bytes.next_multiple_of(4096);
        let (from, to) = (self.tail.size, (self.tail.size + chunk).min(limit));
        if to <= from {
            return;
        }
        let file = segment::open_for_fill(&self.dir, self.tail.id);
        let (Some(jobs), Ok(file)) = (&self.zeroer.jobs, file) else {
            return;
        };
        self.zeroer.pending = jobs.send((file, from, to)).is_ok();
    }

    /// A compaction's cut: everything before it is synced (batches are
    /// synced before their acks); seal the active segment and continue
    /// past the id reserved for the base.
    fn cut(&mut self) -> io::Result<Loc> {
        if let Some(why) = &self.failed {
            return Err(io::Error::other(format!("record log is failed: {why}")));
        }
        let base = self.tail.id + 1;
        let result = self.rotate_to(base + 1);
        if let Err(e) = &result {
            self.failed = Some(e.to_string());
        }
        result.map(|()| Loc {
            segment: base,
            offset: 0,
            len: 0,
        })
    }

    /// Seals the active segment (already synced: cut to its last record)
    /// and starts the next one.
    fn rotate(&mut self) -> io::Result<()> {
        self.rotate_to(self.tail.id + 1)
    }

    fn rotate_to(&mut self, id: u64) -> io::Result<()> {
        self.poll_zeroer(true);
        if self.tail.size > self.tail.len {
            self.tail.file.set_len(self.tail.len)?;
            self.tail.file.sync_all()?;
        }
        let file: File = segment::create(&self.dir, id)?;
        self.tail = Tail {
            id,
            file,
            len: 0,
            size: 0,
        };
        self.counters.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
