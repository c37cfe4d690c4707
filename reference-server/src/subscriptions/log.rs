//! With `--data-dir`, subscription records live in their own append-only
//! log, `subscriptions.log` in the data directory: one record per line,
//! `<crc32 hex> <JSON>`. A mutation's records are written under the state
//! lock and fsynced before its answer, outside the lock ([`Syncer`], a
//! group commit: one fsync covers every record written before it). Opening replays the log through `record::apply`
//! (a torn or corrupt tail, which only a crash mid-write leaves, is cut),
//! then rewrites it compacted (the signing key and one `Created` per live
//! subscription) via a temporary file and an atomic rename.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::record::{apply, Record, State};

pub const FILE: &str = "subscriptions.log";

pub struct SubLog {
    file: File,
    /// Records written so far (the sequence number `Syncer` syncs to).
    written: u64,
}

/// Fsyncs the log outside the state lock: `sync_to(n)` returns once the
/// first `n` records are durable.
pub struct Syncer {
    file: File,
    synced: std::sync::Mutex<u64>,
}

impl Syncer {
    pub fn sync_to(&self, target: u64) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced >= target {
            return Ok(());
        }
        self.file.sync_data()?;
        *synced = target;
        Ok(())
    }
}

fn line(record: &Record) -> io::Result<Vec<u8>> {
    let json = serde_json::to_vec(record).map_err(io::Error::other)?;
    let mut out = format!("{:08x} ", crc32fast::hash(&json)).into_bytes();
    out.extend_from_slice(&json);
    out.push(b'\n');
    Ok(out)
}

fn parse(line: &[u8]) -> Option<Record> {
    let text = std::str::from_utf8(line).ok()?;
    let (crc, json) = text.split_once(' ')?;
    let crc = u32::from_str_radix(crc, 16).ok()?;
    if crc32fast::hash(json.as_bytes()) != crc {
        return None;
    }
    serde_json::from_str(json).ok()
}

impl SubLog {
    /// Replays `dir/subscriptions.log` and reopens it compacted.
    pub fn open(dir: &Path) -> io::Result<(State, SubLog)> {
        let path = dir.join(FILE);
        let mut state = State::default();
        let mut replayed = 0usize;
        let mut cut = false;
        if let Ok(f) = File::open(&path) {
            let mut reader = BufReader::new(f);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                if reader.read_until(b'\n', &mut buf)? == 0 {
                    break;
                }
                if buf.last() != Some(&b'\n') {
                    cut = true;
                    break;
                }
                match parse(&buf[..buf.len() - 1]) {
                    Some(r) => {
                        apply(&mut state, &r);
                        replayed += 1;
                    }
                    None => {
                        cut = true;
                        break;
                    }
                }
            }
        }
        if cut {
            tracing::warn!(
                "subscriptions log: cut a torn or corrupt tail after {}",
                crate::count(replayed as u64, "record", "records")
            );
        }
        let file = rewrite(dir, &path, &state)?;
        Ok((state, SubLog { file, written: 0 }))
    }

    /// Writes records (not yet synced).
    pub fn write(&mut self, records: &[Record]) -> io::Result<()> {
        let mut buf = Vec::new();
        for r in records {
            buf.extend_from_slice(&line(r)?);
        }
        self.file.write_all(&buf)?;
        self.written += records.len() as u64;
        Ok(())
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes everything written durable (start-up; live operations use
    /// the `Syncer`).
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// The group-commit handle of this log, counting from now.
    pub fn syncer(&self) -> io::Result<Syncer> {
        Ok(Syncer {
            file: self.file.try_clone()?,
            synced: std::sync::Mutex::new(self.written),
        })
    }
}

/// The live state as fresh records.
pub fn snapshot(state: &State) -> Vec<Record> {
    let mut out = Vec::new();
    if let Some(seed) = &state.signing_seed {
        out.push(Record::SigningKey { seed: seed.clone() });
    }
    for sub in state.subs.values() {
        out.push(Record::Created {
            sub: Box::new(sub.clone()),
        });
    }
    out
}

fn rewrite(dir: &Path, path: &PathBuf, state: &State) -> io::Result<File> {
    let tmp = dir.join(format!("{FILE}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        for r in snapshot(state) {
            f.write_all(&line(&r)?)?;
        }
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()?;
    OpenOptions::new().append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "ds-sublog-{name}-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn records_replay_and_a_torn_tail_is_cut() {
        let d = dir("torn");
        let (_, mut log) = SubLog::open(&d).unwrap();
        let key = Record::SigningKey { seed: "abc".into() };
        log.write(std::slice::from_ref(&key)).unwrap();
        log.sync().unwrap();
        drop(log);
        // A torn second record.
        let mut f = OpenOptions::new().append(true).open(d.join(FILE)).unwrap();
        f.write_all(b"0000 {\"op\":\"del").unwrap();
        drop(f);
        let (state, _) = SubLog::open(&d).unwrap();
        assert_eq!(state.signing_seed.as_deref(), Some("abc"));
        // A corrupt line (checksum mismatch) ends the replay too.
        let mut f = OpenOptions::new().append(true).open(d.join(FILE)).unwrap();
        f.write_all(b"00000000 {\"op\":\"signing_key\",\"seed\":\"zzz\"}\n")
            .unwrap();
        drop(f);
        let (state, _) = SubLog::open(&d).unwrap();
        assert_eq!(state.signing_seed.as_deref(), Some("abc"));
        let _ = std::fs::remove_dir_all(&d);
    }
}
