//! §4 Durability, reads: stored ranges are read back with `pread` through a
//! bounded set of open segment handles (least recently used is closed
//! first), so a stream's data never has to sit in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::segment::{self, Loc};

pub struct SegmentReader {
    dir: PathBuf,
    capacity: usize,
    open: Mutex<Handles>,
}

#[derive(Default)]
struct Handles {
    clock: u64,
    files: HashMap<u64, (Arc<File>, u64)>,
}

impl SegmentReader {
    pub fn new(dir: &Path, capacity: usize) -> SegmentReader {
        SegmentReader {
            dir: dir.to_path_buf(),
            capacity: capacity.max(1),
            open: Mutex::new(Handles::default()),
        }
    }

    /// Reads exactly the bytes at `loc`.
    pub fn read(&self, loc: Loc) -> io::Result<Bytes> {
        let file = self.file(loc.segment)?;
        let mut buf = vec![0u8; loc.len as usize];
        file.read_exact_at(&mut buf, loc.offset)?;
        Ok(Bytes::from(buf))
    }

    pub fn open_files(&self) -> usize {
        self.lock().files.len()
    }

    /// Closes the handle of a segment about to be removed (compaction).
    pub fn forget(&self, segment: u64) {
        self.lock().files.remove(&segment);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Handles> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn file(&self, id: u64) -> io::Result<Arc<File>> {
        {
            let mut h = self.lock();
            h.clock += 1;
            let now = h.clock;
            if let Some((f, used)) = h.files.get_mut(&id) {
                *used = now;
                return Ok(f.clone());
            }
        }
        // Opened outside the lock; a racing reader may open it too, and
        // one of the two handles is simply dropped.
        let f = Arc::new(File::open(segment::path(&self.dir, id))?);
        let mut h = self.lock();
        h.clock += 1;
        let now = h.clock;
        while h.files.len() >= self.capacity && !h.files.contains_key(&id) {
            let oldest = h
                .files
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => h.files.remove(&k),
                None => break,
            };
        }
        let entry = h.files.entry(id).or_insert((f, now));
        entry.1 = now;
        Ok(entry.0.clone())
    }
}
