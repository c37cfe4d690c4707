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
    /// Handles of files a compaction removed, kept a while for reads that
    /// located their data before it moved (an unlinked file stays
    /// readable while open).
    retired: Vec<(std::time::Instant, HashMap<u64, Arc<File>>)>,
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

    /// Compaction: keeps handles of the files `ids` (about to be removed)
    /// open for reads already under way; see `drop_retired`.
    pub fn retire(&self, ids: &[u64]) {
        let mut kept = HashMap::new();
        for &id in ids {
            let open = self.lock().files.remove(&id).map(|(f, _)| f);
            let f = match open {
                Some(f) => Some(f),
                None => segment::open_read(&self.dir, id).ok().map(Arc::new),
            };
            if let Some(f) = f {
                kept.insert(id, f);
            }
        }
        self.lock().retired.push((std::time::Instant::now(), kept));
    }

    /// Closes retired handles older than `age`, freeing their disk space.
    pub fn drop_retired(&self, age: std::time::Duration) {
        self.lock().retired.retain(|(at, _)| at.elapsed() < age);
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
            if let Some(f) = h.retired.iter().rev().find_map(|(_, r)| r.get(&id)) {
                return Ok(f.clone());
            }
        }
        // Opened outside the lock; a racing reader may open it too, and
        // one of the two handles is simply dropped.
        let f = match segment::open_read(&self.dir, id) {
            Ok(f) => Arc::new(f),
            Err(e) => {
                // Retired (and removed) since the check above?
                let h = self.lock();
                let kept = h.retired.iter().rev().find_map(|(_, r)| r.get(&id));
                return kept.cloned().ok_or(e);
            }
        };
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
