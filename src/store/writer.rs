//! The event writer: `StoreHandle::append` never waits for the database; a background task
//! stores events in batches.
//!
//! Events wait in a bounded in-memory queue. Past the bound (or while older events still sit in
//! spill files) they go to a spill file under `spill_dir` instead, so the order stays "memory
//! first, then spill files oldest first". The task takes up to `batch_max` events at a time
//! (every `batch_interval`, or at once when a full batch is waiting) and stores them in one
//! transaction with `ON CONFLICT (id) DO NOTHING`; on any error it keeps the batch and retries
//! with exponential backoff, forever, so a dead database loses nothing. Leftover spill files
//! from an earlier run are replayed at start. Shutdown flushes, and whatever could not be stored
//! in time is spilled for the next start.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::backend::Db;
use super::derive::clean_text;
use super::error::{Result, StoreError};
use super::events::insert_batch;
use super::ownership::Owner;
use super::spill::{Spill, SpillReader};
use super::{EventRecord, Store};

/// Tuning of the event writer.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Events kept in memory before new ones spill to disk.
    pub queue_bound: usize,
    /// Most events per transaction.
    pub batch_max: usize,
    /// How long a partial batch may wait.
    pub batch_interval: Duration,
    /// Where spill files live (`data/spill` by default).
    pub spill_dir: PathBuf,
    /// First retry delay after a failed batch; doubles up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// The server run whose calls this writer stores: `calls` rows it creates carry it.
    pub owner: Option<Owner>,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            queue_bound: 50_000,
            batch_max: 500,
            batch_interval: Duration::from_millis(20),
            spill_dir: PathBuf::from("data/spill"),
            retry_min: Duration::from_millis(50),
            retry_max: Duration::from_secs(5),
            owner: None,
        }
    }
}

/// Counters for `/metrics`; read with `.load(Ordering::Relaxed)`.
#[derive(Debug, Default)]
pub struct WriterMetrics {
    /// Events in memory not yet stored (including the batch being written).
    pub queue_depth: AtomicU64,
    /// Events in spill files not yet stored.
    pub spill_pending: AtomicU64,
    /// Events written to spill files since start.
    pub spilled: AtomicU64,
    /// Events newly stored since start.
    pub written: AtomicU64,
    /// Events skipped because their id was already stored (retries, replays).
    pub duplicates: AtomicU64,
    /// Batch attempts that failed (each retry counts once).
    pub failed_batches: AtomicU64,
    /// Spill writes that failed (the event stayed in memory instead).
    pub spill_errors: AtomicU64,
    /// Unreadable spill lines skipped during replay (torn by a crash).
    pub bad_spill_lines: AtomicU64,
}

struct Inner {
    queue: VecDeque<EventRecord>,
    spill: Spill,
    /// New events go to the spill until it has been replayed completely.
    spilling: bool,
    /// Events taken by the task and not yet committed.
    in_flight: u64,
    spill_pending: u64,
    /// After shutdown every append spills.
    closed: bool,
}

struct Shared {
    config: WriterConfig,
    inner: Mutex<Inner>,
    wake: Notify,
    metrics: WriterMetrics,
    /// Who else sees every appended event (the live wallboard), see [`StoreHandle::tap`].
    tap: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<EventRecord>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves the data consistent enough to go on.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, inner: &Inner) {
        let m = &self.metrics;
        m.queue_depth
            .store(inner.queue.len() as u64 + inner.in_flight, Relaxed);
        m.spill_pending.store(inner.spill_pending, Relaxed);
    }

    /// Spill one event (under the lock); on failure keep it in memory rather than lose it.
    fn spill_one(&self, inner: &mut Inner, ev: EventRecord) {
        match inner.spill.append(&ev) {
            Ok(()) => {
                inner.spilling = true;
                inner.spill_pending += 1;
                self.metrics.spilled.fetch_add(1, Relaxed);
            }
            Err(e) => {
                self.spill_error(e);
                inner.queue.push_back(ev);
            }
        }
    }

    /// Spill events that are older than every spilled one (what was still in memory at
    /// shutdown) so that the next start replays them first. If that file cannot be written,
    /// spill them one by one after the others: the order suffers, nothing is lost.
    fn spill_older(&self, inner: &mut Inner, events: Vec<EventRecord>) {
        if events.is_empty() {
            return;
        }
        match inner.spill.prepend(&events) {
            Ok(()) => {
                inner.spilling = true;
                inner.spill_pending += events.len() as u64;
                self.metrics.spilled.fetch_add(events.len() as u64, Relaxed);
            }
            Err(e) => {
                self.spill_error(e);
                for ev in events {
                    self.spill_one(inner, ev);
                }
            }
        }
    }

    fn spill_error(&self, e: std::io::Error) {
        let n = self.metrics.spill_errors.fetch_add(1, Relaxed);
        if n.is_power_of_two() || n == 0 {
            tracing::error!(error = %e, dir = %self.config.spill_dir.display(), failures = n + 1,
                "cannot write the event spill file; keeping events in memory");
        }
    }
}

/// The cheap, cloneable side of the writer that the signalling path holds.
#[derive(Clone)]
pub struct StoreHandle {
    shared: Arc<Shared>,
}

impl StoreHandle {
    /// Queue an event for storing. Never waits for the database: at worst it appends one line to
    /// a local spill file.
    pub fn append(&self, mut ev: EventRecord) {
        for s in [&mut ev.id, &mut ev.kind, &mut ev.payload] {
            if s.contains('\0') {
                *s = clean_text(s);
            }
        }
        if let Some(c) = ev.call_id.as_mut().filter(|c| c.contains('\0')) {
            *c = clean_text(c);
        }
        if let Some(tap) = self.shared.tap.get() {
            let _ = tap.send(ev.clone());
        }
        let config = &self.shared.config;
        let mut inner = self.shared.lock();
        if !inner.spilling && !inner.closed && inner.queue.len() < config.queue_bound {
            inner.queue.push_back(ev);
            let full = inner.queue.len() == config.batch_max;
            self.shared.publish(&inner);
            drop(inner);
            if full {
                self.shared.wake.notify_one();
            }
        } else {
            self.shared.spill_one(&mut inner, ev);
            self.shared.publish(&inner);
        }
    }

    /// Events accepted but not yet stored (memory, in flight and spilled).
    pub fn pending(&self) -> u64 {
        let inner = self.shared.lock();
        inner.queue.len() as u64 + inner.in_flight + inner.spill_pending
    }

    /// Wait until every event appended so far is stored, or `timeout` passes.
    pub async fn flush(&self, timeout: Duration) -> Result<()> {
        let start = tokio::time::Instant::now();
        loop {
            let pending = self.pending();
            if pending == 0 {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(StoreError::FlushTimeout { pending, waited });
            }
            self.shared.wake.notify_one();
            tokio::time::sleep((timeout - waited).min(Duration::from_millis(5))).await;
        }
    }

    pub fn metrics(&self) -> &WriterMetrics {
        &self.shared.metrics
    }

    /// Send a copy of every event appended from now on to `tx`, in append order (one tap; a
    /// second call is ignored and returns false). This is the seam the live wallboard hangs
    /// on: exactly what is stored passes here, so its figures are the reports' figures.
    pub fn tap(&self, tx: tokio::sync::mpsc::UnboundedSender<EventRecord>) -> bool {
        self.shared.tap.set(tx).is_ok()
    }
}

/// Owns the background task; [`EventWriter::shutdown`] stops it. Dropping it without shutdown
/// also stops the task (what is queued goes to the spill) but flushes nothing.
pub struct EventWriter {
    handle: StoreHandle,
    closed: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl EventWriter {
    /// Open the spill directory (queuing leftovers for replay) and start the task on the current
    /// tokio runtime.
    pub fn start(store: &Store, config: WriterConfig) -> Result<EventWriter> {
        let (spill, leftover) = Spill::open(&config.spill_dir).map_err(|e| {
            StoreError::io(
                format!("opening spill dir {}", config.spill_dir.display()),
                e,
            )
        })?;
        if leftover > 0 {
            tracing::info!(events = leftover, dir = %config.spill_dir.display(), "replaying spilled events");
        }
        let inner = Inner {
            queue: VecDeque::new(),
            spilling: spill.has_pending(),
            spill,
            in_flight: 0,
            spill_pending: leftover,
            closed: false,
        };
        let shared = Arc::new(Shared {
            config,
            inner: Mutex::new(inner),
            wake: Notify::new(),
            metrics: WriterMetrics::default(),
            tap: std::sync::OnceLock::new(),
        });
        shared.publish(&shared.lock());
        let (closed, closed_rx) = watch::channel(false);
        let task = tokio::spawn(run(shared.clone(), store.db.clone(), closed_rx));
        Ok(EventWriter {
            handle: StoreHandle { shared },
            closed,
            task,
        })
    }

    pub fn handle(&self) -> StoreHandle {
        self.handle.clone()
    }

    /// Flush for up to `timeout`, then stop the task. Events not stored by then are spilled and
    /// replayed by the next writer started on the same spill directory.
    pub async fn shutdown(self, timeout: Duration) -> Result<()> {
        let flushed = self.handle.flush(timeout).await;
        let _ = self.closed.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "event writer task failed");
        }
        flushed
    }

    /// Kill the task as a crash would (tests of restart behaviour).
    #[cfg(test)]
    pub(crate) fn abort(self) {
        self.task.abort();
    }
}

enum Source {
    Memory,
    /// From the spill file being read; `last` when this chunk ends it.
    Spill {
        last: bool,
    },
}

struct Batch {
    events: Vec<EventRecord>,
    source: Source,
}

/// The spill file being replayed and how many of its lines are still counted as pending.
struct Replay {
    reader: SpillReader,
    remaining: u64,
}

async fn run(shared: Arc<Shared>, db: Db, mut closed: watch::Receiver<bool>) {
    let mut replay: Option<Replay> = None;
    loop {
        if is_closed(&closed) {
            break;
        }
        let Some(batch) = next_batch(&shared, &mut replay) else {
            tokio::select! {
                _ = shared.wake.notified() => {}
                _ = tokio::time::sleep(shared.config.batch_interval) => {}
                _ = wait_closed(&mut closed) => {}
            }
            continue;
        };
        if write_with_retry(&shared, &db, &batch, &mut closed).await {
            finish_batch(&shared, &batch, &mut replay);
        } else {
            let mut inner = shared.lock();
            inner.in_flight = 0;
            if let Source::Memory = batch.source {
                // The batch, then the queue behind it: older than anything spilled.
                let mut older = batch.events;
                older.extend(inner.queue.drain(..));
                shared.spill_older(&mut inner, older);
            }
            break;
        }
    }
    // Closing: whatever is still in memory goes to the spill for the next start, ahead of the
    // spill files already waiting (memory is always older than the spill).
    let mut inner = shared.lock();
    inner.closed = true;
    let left: Vec<EventRecord> = inner.queue.drain(..).collect();
    shared.spill_older(&mut inner, left);
    shared.publish(&inner);
}

fn is_closed(rx: &watch::Receiver<bool>) -> bool {
    *rx.borrow() || rx.has_changed().is_err()
}

async fn wait_closed(rx: &mut watch::Receiver<bool>) {
    // An error means the EventWriter was dropped: treat that as closing too.
    let _ = rx.wait_for(|c| *c).await;
}

/// Memory first (it is always older than the spill), then the spill files oldest first.
fn next_batch(shared: &Shared, replay: &mut Option<Replay>) -> Option<Batch> {
    let max = shared.config.batch_max.max(1);
    if replay.is_none() {
        let mut inner = shared.lock();
        if !inner.queue.is_empty() {
            let n = inner.queue.len().min(max);
            let events: Vec<EventRecord> = inner.queue.drain(..n).collect();
            inner.in_flight = n as u64;
            shared.publish(&inner);
            return Some(Batch {
                events,
                source: Source::Memory,
            });
        }
        let Some((path, lines)) = inner.spill.next_file() else {
            inner.spilling = false;
            return None;
        };
        drop(inner);
        match SpillReader::open(path.clone()) {
            Ok(reader) => {
                *replay = Some(Replay {
                    reader,
                    remaining: lines,
                })
            }
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "cannot open spill file; it stays for the next start");
                forget_pending(shared, lines);
                return None;
            }
        }
    }
    let r = replay.as_mut()?;
    match r.reader.read_chunk(max) {
        Ok(chunk) => {
            let consumed = (chunk.events.len() as u64 + chunk.bad_lines).min(r.remaining);
            r.remaining -= consumed;
            let last = r.reader.is_done();
            shared
                .metrics
                .bad_spill_lines
                .fetch_add(chunk.bad_lines, Relaxed);
            let mut inner = shared.lock();
            inner.spill_pending = inner.spill_pending.saturating_sub(consumed);
            inner.in_flight = chunk.events.len() as u64;
            shared.publish(&inner);
            Some(Batch {
                events: chunk.events,
                source: Source::Spill { last },
            })
        }
        Err(e) => {
            tracing::error!(file = %r.reader.path().display(), error = %e, "cannot read spill file; it stays for the next start");
            forget_pending(shared, r.remaining);
            *replay = None;
            None
        }
    }
}

fn forget_pending(shared: &Shared, lines: u64) {
    let mut inner = shared.lock();
    inner.spill_pending = inner.spill_pending.saturating_sub(lines);
    shared.publish(&inner);
}

/// Store the batch, retrying with backoff. False when the writer was closed first.
async fn write_with_retry(
    shared: &Shared,
    db: &Db,
    batch: &Batch,
    closed: &mut watch::Receiver<bool>,
) -> bool {
    if batch.events.is_empty() {
        return true;
    }
    let config = &shared.config;
    let mut backoff = config.retry_min;
    loop {
        let attempt = tokio::select! {
            r = insert_batch(db, &batch.events, config.owner) => r,
            _ = wait_closed(closed) => return false,
        };
        match attempt {
            Ok(outcome) => {
                let m = &shared.metrics;
                m.written.fetch_add(outcome.inserted, Relaxed);
                m.duplicates.fetch_add(outcome.duplicates, Relaxed);
                return true;
            }
            Err(e) => {
                shared.metrics.failed_batches.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, events = batch.events.len(), retry_in = ?backoff,
                    "storing events failed; keeping them and retrying");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = wait_closed(closed) => return false,
                }
                backoff = (backoff * 2).min(config.retry_max);
            }
        }
    }
}

fn finish_batch(shared: &Shared, batch: &Batch, replay: &mut Option<Replay>) {
    {
        let mut inner = shared.lock();
        inner.in_flight = 0;
        shared.publish(&inner);
    }
    if let Source::Spill { last: true } = batch.source {
        if let Some(r) = replay.take() {
            forget_pending(shared, r.remaining);
            if let Err(e) = std::fs::remove_file(r.reader.path()) {
                tracing::warn!(file = %r.reader.path().display(), error = %e,
                    "cannot remove replayed spill file; its events would be replayed (harmlessly) again");
            }
        }
    }
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
