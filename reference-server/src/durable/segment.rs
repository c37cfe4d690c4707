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

pub fn path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}{SUFFIX}"))
}

/// Segment ids present in `dir`, ascending. Other files are ignored.
pub fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
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

/// Scans every segment of `dir` (created if missing), passing each valid
/// record's location and payload to `visit` in log order; truncates a bad
/// tail of the last segment. Returns the segment to append to.
pub fn recover(
    dir: &Path,
    mut visit: impl FnMut(Loc, &[u8]) -> io::Result<()>,
) -> io::Result<(Tail, Recovery)> {
    fs::create_dir_all(dir)?;
    let ids = list(dir)?;
    let mut report = Recovery {
        segments: ids.len(),
        ..Recovery::default()
    };
    let mut payload = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let last = i + 1 == ids.len();
        let file = OpenOptions::new()
            .read(true)
            .write(last)
            .open(path(dir, id))?;
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
                        path(dir, id).display()
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
