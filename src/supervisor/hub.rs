//! The wallboard task: folds every appended event into [`LiveKpi`] (and the Prometheus
//! metrics), and publishes a fresh `snapshot` to the sockets when something changed — at once
//! if the last one is 250 ms old, else 250 ms after it (at most 4 a second), and every second
//! anyway (waiting times grow, and some changes are the router's alone).

use super::board::{self, EventWindow};
use super::live::LiveKpi;
use super::prom::PromSink;
use super::Supervisor;
use crate::store::EventRecord;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;
use tokio::time::Instant;

pub const MIN_GAP: Duration = Duration::from_millis(250);
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long event ids already read by the rebuild are remembered (events appended while it
/// read may be in both the store and the tap).
const DEDUP_FOR: Duration = Duration::from_secs(60);
/// Most events folded before a snapshot is considered.
const BATCH: usize = 2_000;

pub(super) struct Hub {
    pub sup: Arc<Supervisor>,
    pub live: LiveKpi,
    pub prom: PromSink,
    pub seen: HashSet<String>,
    pub out: watch::Sender<Arc<str>>,
}

impl Hub {
    /// Fold events and publish snapshots until the stream ends or `stop`.
    pub async fn run(
        mut self,
        mut rx: UnboundedReceiver<EventRecord>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let started = Instant::now();
        let mut last_push = Instant::now() - HEARTBEAT;
        let mut dirty = true;
        let mut window = EventWindow::default();
        loop {
            let due = if dirty {
                last_push + MIN_GAP
            } else {
                last_push + HEARTBEAT
            };
            tokio::select! {
                ev = rx.recv() => {
                    let Some(ev) = ev else { break };
                    self.fold(&ev, &mut window, started);
                    let mut n = 1;
                    while n < BATCH {
                        let Ok(ev) = rx.try_recv() else { break };
                        self.fold(&ev, &mut window, started);
                        n += 1;
                    }
                    dirty = true;
                }
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep_until(due) => {
                    self.publish(window).await;
                    window = EventWindow::default();
                    last_push = Instant::now();
                    dirty = false;
                }
            }
        }
    }

    fn fold(&mut self, ev: &EventRecord, window: &mut EventWindow, started: Instant) {
        if !self.seen.is_empty() {
            if started.elapsed() > DEDUP_FOR {
                self.seen = HashSet::new();
            } else if self.seen.contains(&ev.id) {
                return;
            }
        }
        window.note(ev.at_ms);
        for c in self.live.apply(ev) {
            self.prom.change(c);
        }
    }

    async fn publish(&mut self, window: EventWindow) {
        let now = crate::events::now_ms();
        self.live.roll(now.max(0) as u64);
        let Some(board) = self.sup.router.board().await else {
            return;
        };
        self.prom.board(&board);
        if self.out.receiver_count() == 0 {
            return;
        }
        let snap = board::snapshot(&self.live, &board, &self.sup.queues, now, window);
        let text: Arc<str> = Arc::from(snap.to_string());
        self.out.send_replace(text);
    }
}
