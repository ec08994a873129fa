//! Recording writer: one thread owns every open recording file, so the media workers only hand
//! over chunks through a channel. Memory is bounded by a backlog limit (chunks beyond it are
//! dropped and counted); the WAV header sizes are patched when a recording closes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::mpsc as tmpsc;

use super::events::MediaEvent;
use super::stats::MediaStats;
use super::wav;

/// Most bytes waiting for the disk before chunks are dropped (about 17 call-minutes).
const MAX_BACKLOG: usize = 64 << 20;

enum RecMsg {
    Open {
        id: u64,
        path: PathBuf,
        channels: u16,
        events: tmpsc::Sender<MediaEvent>,
    },
    Data {
        id: u64,
        bytes: Vec<u8>,
    },
    Close {
        id: u64,
        duration_ms: u64,
    },
}

/// Handle to the writer thread; cheap to clone.
#[derive(Debug, Clone)]
pub struct RecWriter {
    tx: mpsc::Sender<RecMsg>,
    backlog: Arc<AtomicUsize>,
    stats: Arc<MediaStats>,
}

impl std::fmt::Debug for RecMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecMsg")
    }
}

struct OpenFile {
    file: Option<File>,
    path: PathBuf,
    data_bytes: u64,
    error: Option<String>,
    events: tmpsc::Sender<MediaEvent>,
}

fn create(path: &Path, channels: u16) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = File::create(path)?;
    f.write_all(&wav::header(channels, wav::RATE, 0))?;
    Ok(f)
}

fn finish(f: &mut File, data_bytes: u64) -> std::io::Result<()> {
    let data = data_bytes.min(u32::MAX as u64 - 36) as u32;
    f.seek(SeekFrom::Start(4))?;
    f.write_all(&(data + 36).to_le_bytes())?;
    f.seek(SeekFrom::Start(40))?;
    f.write_all(&data.to_le_bytes())?;
    f.sync_data()
}

impl RecWriter {
    /// Starts the writer thread.
    pub fn spawn(stats: Arc<MediaStats>) -> std::io::Result<(RecWriter, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<RecMsg>();
        let backlog = Arc::new(AtomicUsize::new(0));
        let bl = backlog.clone();
        let handle = std::thread::Builder::new()
            .name("media-recorder".into())
            .spawn(move || run(rx, bl))?;
        Ok((RecWriter { tx, backlog, stats }, handle))
    }

    /// Opens a recording file.
    pub fn open(&self, id: u64, path: PathBuf, channels: u16, events: tmpsc::Sender<MediaEvent>) {
        let _ = self.tx.send(RecMsg::Open {
            id,
            path,
            channels,
            events,
        });
    }

    /// Queues sample data; dropped (and counted) when the disk is too far behind.
    pub fn data(&self, id: u64, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let n = bytes.len();
        if self.backlog.load(Ordering::Relaxed) + n > MAX_BACKLOG {
            MediaStats::add(&self.stats.recording_chunks_dropped, 1);
            return;
        }
        self.backlog.fetch_add(n, Ordering::Relaxed);
        if self.tx.send(RecMsg::Data { id, bytes }).is_err() {
            self.backlog.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Completes a recording; a `RecordingFinished` event follows on the session's channel.
    pub fn close(&self, id: u64, duration_ms: u64) {
        let _ = self.tx.send(RecMsg::Close { id, duration_ms });
    }
}

fn run(rx: mpsc::Receiver<RecMsg>, backlog: Arc<AtomicUsize>) {
    let mut files: HashMap<u64, OpenFile> = HashMap::new();
    while let Ok(msg) = rx.recv() {
        match msg {
            RecMsg::Open {
                id,
                path,
                channels,
                events,
            } => {
                let (file, error) = match create(&path, channels) {
                    Ok(f) => (Some(f), None),
                    Err(e) => {
                        tracing::warn!(path = %path.display(), error = %e, "cannot create recording");
                        (None, Some(format!("cannot create {}: {e}", path.display())))
                    }
                };
                files.insert(
                    id,
                    OpenFile {
                        file,
                        path,
                        data_bytes: 0,
                        error,
                        events,
                    },
                );
            }
            RecMsg::Data { id, bytes } => {
                backlog.fetch_sub(bytes.len(), Ordering::Relaxed);
                let Some(of) = files.get_mut(&id) else {
                    continue;
                };
                if let Some(f) = of.file.as_mut() {
                    match f.write_all(&bytes) {
                        Ok(()) => of.data_bytes += bytes.len() as u64,
                        Err(e) => {
                            tracing::warn!(path = %of.path.display(), error = %e, "recording write failed");
                            of.error = Some(format!("write failed: {e}"));
                            of.file = None;
                        }
                    }
                }
            }
            RecMsg::Close { id, duration_ms } => {
                let Some(mut of) = files.remove(&id) else {
                    continue;
                };
                if let Some(f) = of.file.as_mut() {
                    if let Err(e) = finish(f, of.data_bytes) {
                        of.error.get_or_insert(format!("cannot finish file: {e}"));
                    }
                }
                let _ = of.events.try_send(MediaEvent::RecordingFinished {
                    path: of.path,
                    duration_ms,
                    error: of.error,
                });
            }
        }
    }
    // Engine gone: close whatever is still open so the files stay readable.
    for (_, mut of) in files {
        if let Some(f) = of.file.as_mut() {
            let _ = finish(f, of.data_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_valid_wav_and_reports() {
        let stats = Arc::new(MediaStats::default());
        let (w, handle) = RecWriter::spawn(stats).unwrap();
        let dir = std::env::temp_dir().join(format!("recw-{}", std::process::id()));
        let path = dir.join("sub/call.wav");
        let (etx, mut erx) = tmpsc::channel(4);
        w.open(1, path.clone(), 2, etx);
        let samples: Vec<i16> = (0..640).map(|i| i as i16).collect();
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        w.data(1, bytes);
        w.close(1, 40);
        drop(w);
        handle.join().unwrap();
        let ev = erx.try_recv().unwrap();
        assert_eq!(
            ev,
            MediaEvent::RecordingFinished {
                path: path.clone(),
                duration_ms: 40,
                error: None
            }
        );
        let file = std::fs::read(&path).unwrap();
        assert_eq!(file.len(), 44 + 1280);
        // Reads back as audio (downmixed stereo here, so only length is checked).
        let mono = wav::decode(&file, &path).unwrap();
        assert_eq!(mono.len(), 320);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unwritable_path_is_reported_not_fatal() {
        let stats = Arc::new(MediaStats::default());
        let (w, handle) = RecWriter::spawn(stats).unwrap();
        let (etx, mut erx) = tmpsc::channel(4);
        w.open(7, PathBuf::from("/proc/definitely/not/here.wav"), 1, etx);
        w.data(7, vec![0; 320]);
        w.close(7, 20);
        drop(w);
        handle.join().unwrap();
        match erx.try_recv().unwrap() {
            MediaEvent::RecordingFinished { error: Some(e), .. } => {
                assert!(e.contains("cannot create"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
