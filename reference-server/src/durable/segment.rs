//! §4 Durability: segment files of the record log and crash recovery. A
//! segment is `DIR/<20-digit id>.seg`; ids grow by one at each rotation.
//! Recovery reads every segment in order, checks every frame, and cuts the
//! last segment at its first bad frame, so a torn write is never served.
//!
//! Only the last segment may end badly: a segment is complete and synced
//! before its successor is created, so a bad frame in an earlier one is
//! media corruption of acknowledged data, and `open` refuses to guess.
//!
//! Preallocation: the writer keeps zeroed, synced space ahead of the end of
//! the active segment (see `log`), so that an append overwrites blocks that
//! already exist and its fdatasync flushes data only, not a new file size.
//! A segment therefore ends at its last frame or at the first header of
//! zero bytes: no frame has a zero length (empty payloads are refused, and
//! the crc32 of an empty payload is 0, so a zero header would otherwise
//! pass for one). Whatever follows that point must be zeros too. In the
//! last segment anything else is the torn remains of an unacknowledged
//! write and is overwritten with zeros before appends continue (so no stale
//! frame can ever line up behind a new one); in a sealed segment it is
//! corruption, and `open` refuses.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::frame::{self, Next, HEADER};

/// Where a record's payload (or a slice of it) lies on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub segment: u64,
    /// File offset of the first byte.
    pub offset: u64,
    pub len: u32,
}

impl Loc {
    /// The sub-range `[lo, hi)` of this location.
    pub fn slice(self, lo: u32, hi: u32) -> Loc {
        assert!(
            lo <= hi && hi <= self.len,
            "slice {lo}..{hi} of {}",
            self.len
        );
        Loc {
            segment: self.segment,
            offset: self.offset + u64::from(lo),
            len: hi - lo,
        }
    }
}

const SUFFIX: &str = ".seg";
/// A compaction's base: the state of every segment before it, rewritten.
const BASE_SUFFIX: &str = ".base";
/// A base being written; never read, removed on open.
const TMP_SUFFIX: &str = ".base.tmp";

pub fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SUFFIX}"))
}

/// The base file of a compaction (same id space as segments; a base and a
/// segment never share an id).
pub fn base_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{BASE_SUFFIX}"))
}

fn tmp_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{TMP_SUFFIX}"))
}

/// Segment ids present in `dir`, ascending. Other files are ignored.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    list_with(dir, SUFFIX)
}

/// Base ids present in `dir`, ascending.
pub fn list_bases(dir: &Path) -> io::Result<Vec<u64>> {
    list_with(dir, BASE_SUFFIX)
}

fn list_with(dir: &Path, suffix: &str) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(suffix)) else {
            continue;
        };
        if stem.len() == 20 && stem.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(id) = stem.parse() {
                ids.push(id);
            }
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Opens the file of id `id` for reading: a segment, or a base.
pub fn open_read(dir: &Path, id: u64) -> io::Result<File> {
    match File::open(path(dir, id)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => File::open(base_path(dir, id)),
        r => r,
    }
}

/// Bytes taken by the log's files (segments, including their zeroed
/// space, and bases).
pub fn disk_bytes(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for id in list(dir)? {
        total += fs::metadata(path(dir, id)).map_or(0, |m| m.len());
    }
    for id in list_bases(dir)? {
        total += fs::metadata(base_path(dir, id)).map_or(0, |m| m.len());
    }
    Ok(total)
}

/// Compaction, step 1: the records of a base with id `id` (the id the log
/// skipped at its cut, `Log::cut`), written to a temporary file that
/// `finish` syncs; `install_base` then makes it the base.
pub struct BaseWriter {
    id: u64,
    file: io::BufWriter<File>,
    pos: u64,
    buf: Vec<u8>,
}

impl BaseWriter {
    pub fn create(dir: &Path, id: u64) -> io::Result<BaseWriter> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp_path(dir, id))?;
        Ok(BaseWriter {
            id,
            file: io::BufWriter::with_capacity(1 << 20, file),
            pos: 0,
            buf: Vec::new(),
        })
    }

    /// Writes one record; returns where its payload will lie.
    pub fn push(&mut self, payload: &[u8]) -> io::Result<Loc> {
        if payload.is_empty() || payload.len() > frame::MAX_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("base record of {} bytes", payload.len()),
            ));
        }
        self.buf.clear();
        frame::encode_into(&mut self.buf, payload);
        io::Write::write_all(&mut self.file, &self.buf)?;
        let loc = Loc {
            segment: self.id,
            offset: self.pos + HEADER as u64,
            len: payload.len() as u32,
        };
        self.pos += self.buf.len() as u64;
        Ok(loc)
    }

    /// Flushes and syncs the temporary file; returns its size.
    pub fn finish(self) -> io::Result<u64> {
        let file = self.file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(self.pos)
    }
}

/// Compaction, step 2, the commit point: the synced temporary base becomes
/// the base `id`. From here on recovery starts at this base and ignores
/// (and removes) every segment and base before it.
pub fn install_base(dir: &Path, id: u64) -> io::Result<()> {
    fs::rename(tmp_path(dir, id), base_path(dir, id))?;
    sync_dir(dir)
}

/// Compaction, step 3: removes the segments and bases a base `id`
/// replaced (recovery does the same after a crash before this step).
pub fn remove_before(dir: &Path, id: u64) -> io::Result<()> {
    let mut removed = false;
    for old in list(dir)?.into_iter().filter(|&s| s < id) {
        fs::remove_file(path(dir, old))?;
        removed = true;
    }
    for old in list_bases(dir)?.into_iter().filter(|&b| b < id) {
        fs::remove_file(base_path(dir, old))?;
        removed = true;
    }
    if removed {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Removes the temporary base `id` of a compaction that failed.
pub fn discard_base_tmp(dir: &Path, id: u64) {
    let _ = fs::remove_file(tmp_path(dir, id));
}

/// Removes bases that were being written when a compaction stopped.
fn remove_tmp(dir: &Path) -> io::Result<()> {
    for id in list_with(dir, TMP_SUFFIX)? {
        fs::remove_file(tmp_path(dir, id))?;
    }
    Ok(())
}

/// Makes file creations and removals in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates an empty segment and makes its directory entry durable.
pub fn create(dir: &Path, id: u64) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path(dir, id))?;
    sync_dir(dir)?;
    Ok(f)
}

/// Opens segment `id` again for the zero-filling helper. A separate open,
/// not a `try_clone` of the writer's handle: Linux reports a failed
/// write-back to the first sync on each open file description and then
/// forgets it there, so a helper sharing the writer's description could
/// take the error of a failed record write and leave the writer's next
/// sync clean, and the log would acknowledge lost records.
pub fn open_for_fill(dir: &Path, id: u64) -> io::Result<File> {
    OpenOptions::new().write(true).open(path(dir, id))
}

/// Writes zeros over `[from, to)` of `file` and syncs them, so that later
/// writes there overwrite allocated, initialised blocks.
pub fn zero_fill(file: &File, from: u64, to: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let zeros = vec![0u8; CHUNK.min(to.saturating_sub(from)) as usize];
    let mut at = from;
    while at < to {
        let n = (to - at).min(CHUNK) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    file.sync_data()
}

/// Reads `r` to its end; returns how many bytes were read up to and
/// including the last non-zero one (0 if they are all zeros).
fn dirty_len(r: &mut impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let (mut read, mut dirty) = (0u64, 0u64);
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(dirty),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(i) = buf[..n].iter().rposition(|&b| b != 0) {
            dirty = read + i as u64 + 1;
        }
        read += n as u64;
    }
}

/// What recovery found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub segments: usize,
    pub records: u64,
    /// Set when the last segment ended in a torn or corrupt frame.
    pub truncated: Option<Truncation>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    pub segment: u64,
    /// End of its last good frame: the log continues here.
    pub at: u64,
    /// Bytes from `at` to the last non-zero byte after it, all overwritten
    /// with zeros (the segment keeps its size: the rest is preallocated).
    pub dropped_bytes: u64,
    pub reason: &'static str,
}

/// The segment appends continue in after recovery.
#[derive(Debug)]
pub struct Tail {
    pub id: u64,
    pub file: File,
    /// End of the last record: appends go here.
    pub len: u64,
    /// Size of the file; `[len, size)` holds zeros.
    pub size: u64,
}

/// Scans the log of `dir` (created if missing) — the latest compaction's
/// base, if any, then every segment after it — passing each valid record's
/// location and payload to `visit` in log order; truncates a bad tail of
/// the last segment. Files a base replaced and unfinished bases are
/// removed first. Returns the segment to append to.
pub fn recover(
    dir: &Path,
    mut visit: impl FnMut(Loc, &[u8]) -> io::Result<()>,
) -> io::Result<(Tail, Recovery)> {
    fs::create_dir_all(dir)?;
    remove_tmp(dir)?;
    let base = list_bases(dir)?.last().copied();
    if let Some(b) = base {
        // A crash between installing a base and removing what it replaced.
        remove_before(dir, b)?;
        if list(dir)?.last().is_none_or(|&s| s < b) {
            create(dir, b + 1)?;
        }
    }
    let ids = list(dir)?;
    let mut report = Recovery {
        segments: ids.len() + usize::from(base.is_some()),
        ..Recovery::default()
    };
    let mut payload = Vec::new();
    let files = base
        .map(|b| (b, true))
        .into_iter()
        .chain(ids.iter().map(|&id| (id, false)));
    let count = ids.len() + usize::from(base.is_some());
    for (i, (id, is_base)) in files.enumerate() {
        let last = i + 1 == count;
        let file = OpenOptions::new().read(true).write(last).open(if is_base {
            base_path(dir, id)
        } else {
            path(dir, id)
        })?;
        let size = file.metadata()?.len();
        let mut r = BufReader::with_capacity(1 << 20, &file);
        let mut pos = 0u64;
        let end = loop {
            match frame::read_next(&mut r, size - pos, &mut payload)? {
                Next::Record => {
                    let loc = Loc {
                        segment: id,
                        offset: pos + HEADER as u64,
                        len: payload.len() as u32,
                    };
                    visit(loc, &payload)?;
                    report.records += 1;
                    pos += (HEADER + payload.len()) as u64;
                }
                Next::End => break None,
                Next::Zeroes => break Some("data after a zero frame header"),
                Next::Bad(reason) => break Some(reason),
            }
        };
        // Past the end everything must be zeros (the preallocated space).
        // The reader is at most one header and a torn payload beyond `pos`.
        let dirty = match end {
            None => 0,
            Some(_) => {
                let mut rest = BufReader::with_capacity(1 << 20, &file);
                rest.seek(io::SeekFrom::Start(pos))?;
                dirty_len(&mut rest)?
            }
        };
        drop(r);
        if let (Some(reason), true) = (end, dirty > 0) {
            if !last {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: {reason} at byte {pos} of a sealed segment (refusing to drop acknowledged data)",
                        if is_base { base_path(dir, id) } else { path(dir, id) }.display()
                    ),
                ));
            }
            zero_fill(&file, pos, pos + dirty)?;
            report.truncated = Some(Truncation {
                segment: id,
                at: pos,
                dropped_bytes: dirty,
                reason,
            });
        }
        if last {
            return Ok((
                Tail {
                    id,
                    file,
                    len: pos,
                    size: size.max(pos + dirty),
                },
                report,
            ));
        }
    }
    let file = create(dir, 1)?;
    report.segments = 1;
    Ok((
        Tail {
            id: 1,
            file,
            len: 0,
            size: 0,
        },
        report,
    ))
}
