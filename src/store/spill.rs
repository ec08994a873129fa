//! Spill files: local append-only JSON-lines files holding events the writer could not keep in
//! memory, replayed into the database later (also after a restart).
//!
//! Files are named `spill-<epoch ms>-<pid>-<seq>.jsonl` so name order is write order. A file is
//! deleted only after its last event is committed; a crash mid-replay replays it again, which
//! the idempotent insert makes harmless. A torn last line (crash mid-write) is skipped and
//! counted. Lines are written with one `write` each and not fsynced: a process crash loses
//! nothing that was spilled, a power cut may lose the last moments.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::EventRecord;

const PREFIX: &str = "spill-";
const SUFFIX: &str = ".jsonl";

struct OpenFile {
    path: PathBuf,
    file: File,
    lines: u64,
}

/// The spill directory: one file being appended, older complete files waiting for replay.
pub(crate) struct Spill {
    dir: PathBuf,
    current: Option<OpenFile>,
    /// Complete files, oldest first, with how many lines each holds.
    closed: VecDeque<(PathBuf, u64)>,
    seq: u64,
}

impl Spill {
    /// Open (creating) `dir`; leftover files from an earlier run are queued for replay.
    /// Returns the spill and the number of events found waiting in it.
    pub fn open(dir: &Path) -> io::Result<(Spill, u64)> {
        std::fs::create_dir_all(dir)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| is_spill_file(p))
            .collect();
        files.sort();
        let mut closed = VecDeque::with_capacity(files.len());
        let mut pending = 0;
        for f in files {
            let lines = count_lines(&f)?;
            pending += lines;
            closed.push_back((f, lines));
        }
        let spill = Spill {
            dir: dir.to_path_buf(),
            current: None,
            closed,
            seq: 0,
        };
        Ok((spill, pending))
    }

    /// Append one event as a JSON line. On a write error the file is closed, so a torn line can
    /// never swallow the next event.
    pub fn append(&mut self, ev: &EventRecord) -> io::Result<()> {
        let mut line = serde_json::to_vec(ev)?;
        line.push(b'\n');
        if self.current.is_none() {
            self.current = Some(self.create_file()?);
        }
        let Some(cur) = self.current.as_mut() else {
            return Err(io::Error::other("spill file vanished"));
        };
        match cur.file.write_all(&line) {
            Ok(()) => {
                cur.lines += 1;
                Ok(())
            }
            Err(e) => {
                self.rotate();
                Err(e)
            }
        }
    }

    /// Spill events older than every event already spilled (the writer's memory at shutdown)
    /// into a file named to be replayed before every pending one, so replay keeps the order.
    /// All or nothing: on an error no file is left behind.
    pub fn prepend(&mut self, events: &[EventRecord]) -> io::Result<()> {
        self.rotate();
        let Some(oldest) = self.closed.front().and_then(|(p, _)| file_ms(p)) else {
            // Nothing waiting: appending is in order.
            return events.iter().try_for_each(|ev| self.append(ev));
        };
        let mut buf = Vec::new();
        for ev in events {
            serde_json::to_writer(&mut buf, ev)?;
            buf.push(b'\n');
        }
        self.seq += 1;
        let name = format!(
            "{PREFIX}{:013}-{}-{:06}{SUFFIX}",
            oldest.saturating_sub(1),
            std::process::id(),
            self.seq
        );
        let path = self.dir.join(name);
        let written = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&path)
            .and_then(|mut f| f.write_all(&buf));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.closed.push_front((path, events.len() as u64));
        Ok(())
    }

    /// Anything waiting for replay?
    pub fn has_pending(&self) -> bool {
        !self.closed.is_empty() || self.current.as_ref().is_some_and(|c| c.lines > 0)
    }

    /// The oldest file to replay next and its line count, closing the current file if nothing
    /// older is waiting (new appends then go to a new file).
    pub fn next_file(&mut self) -> Option<(PathBuf, u64)> {
        if self.closed.is_empty() {
            self.rotate();
        }
        self.closed.pop_front()
    }

    fn rotate(&mut self) {
        if let Some(cur) = self.current.take() {
            if cur.lines > 0 {
                self.closed.push_back((cur.path, cur.lines));
            } else {
                let _ = std::fs::remove_file(&cur.path);
            }
        }
    }

    fn create_file(&mut self) -> io::Result<OpenFile> {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        self.seq += 1;
        let name = format!(
            "{PREFIX}{ms:013}-{}-{:06}{SUFFIX}",
            std::process::id(),
            self.seq
        );
        let path = self.dir.join(name);
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(OpenFile {
            path,
            file,
            lines: 0,
        })
    }
}

/// The epoch milliseconds a spill file's name starts with.
fn file_ms(p: &Path) -> Option<u128> {
    let name = p.file_name()?.to_str()?;
    name.strip_prefix(PREFIX)?.split('-').next()?.parse().ok()
}

fn is_spill_file(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(SUFFIX))
}

fn count_lines(path: &Path) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = file.read(&mut buf)?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some(&b) = chunk.last() {
            last = b;
        }
    }
    Ok(lines + u64::from(last != b'\n'))
}

/// Reads one spill file in chunks.
pub(crate) struct SpillReader {
    path: PathBuf,
    reader: BufReader<File>,
    done: bool,
}

/// One chunk read from a spill file.
pub(crate) struct Chunk {
    pub events: Vec<EventRecord>,
    /// Lines that were not an event (torn or corrupt); skipped.
    pub bad_lines: u64,
}

impl SpillReader {
    pub fn open(path: PathBuf) -> io::Result<SpillReader> {
        let file = File::open(&path)?;
        Ok(SpillReader {
            path,
            reader: BufReader::new(file),
            done: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once the end of the file has been read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Up to `max` events from where the last chunk ended.
    pub fn read_chunk(&mut self, max: usize) -> io::Result<Chunk> {
        let mut chunk = Chunk {
            events: Vec::with_capacity(max.min(1024)),
            bad_lines: 0,
        };
        let mut line = Vec::new();
        while chunk.events.len() < max {
            line.clear();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                self.done = true;
                break;
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<EventRecord>(&line) {
                Ok(ev) => chunk.events.push(ev),
                Err(e) => {
                    tracing::warn!(file = %self.path.display(), error = %e, "skipping unreadable spill line");
                    chunk.bad_lines += 1;
                }
            }
        }
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{ev, TempDir};
    use super::*;

    fn read_all(spill: &mut Spill) -> (Vec<String>, u64) {
        let (mut ids, mut bad) = (Vec::new(), 0);
        while let Some((path, _)) = spill.next_file() {
            let mut r = SpillReader::open(path).unwrap();
            while !r.is_done() {
                let c = r.read_chunk(2).unwrap();
                ids.extend(c.events.into_iter().map(|e| e.id));
                bad += c.bad_lines;
            }
        }
        (ids, bad)
    }

    #[test]
    fn events_come_back_in_write_order_across_files_and_reopen() {
        let dir = TempDir::new("spill_order");
        let (mut s, pending) = Spill::open(dir.path()).unwrap();
        assert_eq!(pending, 0);
        for i in 0..3 {
            s.append(&ev(&format!("a{i}"), "c", "call.x", i, "{}"))
                .unwrap();
        }
        let (first, lines) = s.next_file().unwrap(); // closes the first file
        assert_eq!(lines, 3);
        s.append(&ev("b0", "c", "call.x", 9, "{}")).unwrap();
        drop(s);
        assert!(first.exists());
        let (mut s, pending) = Spill::open(dir.path()).unwrap();
        assert_eq!(pending, 4, "leftovers are counted on open");
        assert!(s.has_pending());
        let (ids, bad) = read_all(&mut s);
        assert_eq!(ids, ["a0", "a1", "a2", "b0"]);
        assert_eq!(bad, 0);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_counted() {
        let dir = TempDir::new("spill_torn");
        let (mut s, _) = Spill::open(dir.path()).unwrap();
        s.append(&ev("ok", "c", "call.x", 1, "{}")).unwrap();
        let (path, _) = s.next_file().unwrap();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(br#"{"id":"torn","call_i"#).unwrap();
        drop(f);
        let (mut s, pending) = Spill::open(dir.path()).unwrap();
        assert_eq!(pending, 2);
        let (ids, bad) = read_all(&mut s);
        assert_eq!(ids, ["ok"]);
        assert_eq!(bad, 1);
    }
}
