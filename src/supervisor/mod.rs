//! Supervisors: the live wallboard and the actions taken from it.
//!
//! # Where the live figures come from
//! The seam is [`crate::store::StoreHandle::tap`]: every event the server appends (calls, IVR,
//! router, desk) passes through the one `StoreHandle::append`, and the tap hands a copy to the
//! wallboard task in append order. The task runs the reports' own fold and tally
//! ([`crate::reports`]) over today ([`live::LiveKpi`]), so the board and a report of today show
//! the same figures; at start it first rebuilds today from the stored events (after the writer
//! has flushed, spill included), so they agree after a restart too. Router-only state (who is
//! waiting now, agents by state) comes from the routing task's board on each snapshot.
//!
//! Layout: `live` (today's tallies), `board` (the snapshot message), `prom` (Prometheus),
//! `hub` (the task and its pacing), `actions` (audited supervisor actions).

pub mod actions;
pub mod board;
mod hub;
pub mod live;
pub mod prom;

#[cfg(test)]
mod tests;

pub use board::QueueInfo;
pub use live::LiveKpi;

use crate::acd::config::AcdConfig;
use crate::acd::service::RouterHandle;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::reports::load::Loader;
use crate::reports::{KpiConfig, RangeTally, ReportContext};
use crate::store::{Store, StoreHandle};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Shared by the web handlers: the latest snapshot, the router, and what reports need.
pub struct Supervisor {
    pub router: RouterHandle,
    pub store: Store,
    pub events: StoreHandle,
    pub metrics: Arc<Metrics>,
    pub queues: Vec<QueueInfo>,
    pub context: ReportContext,
    snapshots: watch::Sender<Arc<str>>,
    /// The agents' desk, through which listen / whisper / barge reach a call.
    desk: Option<Arc<crate::desk::Desk>>,
}

impl Supervisor {
    /// The report context and board settings from the server and routing configuration.
    pub fn context(settings: &Settings, acd: &AcdConfig) -> (ReportContext, Vec<QueueInfo>) {
        let kpi = KpiConfig {
            short_abandon_ms: settings.reports.short_abandon_secs * 1000,
            default_sl_ms: 20_000,
            sl_ms: acd
                .queues
                .iter()
                .map(|q| (q.name.clone(), q.sl_threshold_ms))
                .collect(),
        };
        let queues = acd
            .queues
            .iter()
            .map(|q| {
                let sl_secs = q.sl_threshold_ms / 1000;
                QueueInfo {
                    name: q.name.clone(),
                    sl_secs,
                    thresholds: settings.wallboard.for_queue(&q.name, sl_secs),
                }
            })
            .collect();
        let cx = ReportContext {
            tz: settings.reports.time_zone,
            kpi,
            agent_names: acd
                .agents
                .iter()
                .map(|a| (a.id.clone(), a.name.clone()))
                .collect(),
            fcr_window_ms: i64::from(settings.crm.fcr_days) * 86_400_000,
        };
        (cx, queues)
    }

    /// Tap the event stream now, and start the wallboard task (which first rebuilds today from
    /// the store) until `stop`. `desk`: how monitoring reaches calls (None: monitoring is
    /// unavailable).
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        settings: &Settings,
        acd: &AcdConfig,
        store: Store,
        events: StoreHandle,
        router: RouterHandle,
        metrics: Arc<Metrics>,
        desk: Option<Arc<crate::desk::Desk>>,
        stop: tokio_util::sync::CancellationToken,
    ) -> Arc<Supervisor> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if !events.tap(tx) {
            tracing::warn!("the event stream already has a tap; the wallboard will not update");
        }
        let (context, queues) = Supervisor::context(settings, acd);
        let (out, _) = watch::channel(Arc::<str>::from(""));
        let sup = Arc::new(Supervisor {
            router,
            store,
            events,
            metrics: metrics.clone(),
            queues,
            context,
            snapshots: out.clone(),
            desk,
        });
        let prom = prom::PromSink::new(
            metrics,
            sup.queues.iter().map(|q| q.name.clone()),
            sup.context.kpi.clone(),
        );
        let s = sup.clone();
        tokio::spawn(async move {
            if let Err(e) = s.events.flush(Duration::from_secs(5)).await {
                tracing::warn!(error = %e, "events not all stored before the wallboard rebuild");
            }
            let now = crate::events::now_ms();
            let (live, seen) = match rebuild(&s.store, &s.context, now.max(0) as u64).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "wallboard not rebuilt from the store; today starts empty");
                    let live = LiveKpi::new(s.context.tz, s.context.kpi.clone(), now as u64);
                    (live, HashSet::new())
                }
            };
            tracing::info!(
                events = seen.len(),
                calls_open = live.open_calls(),
                "wallboard rebuilt from today's events"
            );
            let hub = hub::Hub {
                sup: s,
                live,
                prom,
                seen,
                out,
            };
            hub.run(rx, stop).await;
        });
        sup
    }

    /// The latest snapshot now and each new one (JSON text; empty before the first).
    pub fn subscribe(&self) -> watch::Receiver<Arc<str>> {
        self.snapshots.subscribe()
    }
}

/// Today's board from the stored events: agents from their last state before midnight, then
/// every event of the day so far. Also returns the ids read.
pub async fn rebuild(
    store: &Store,
    cx: &ReportContext,
    now_ms: u64,
) -> crate::store::Result<(LiveKpi, HashSet<String>)> {
    let periods = LiveKpi::today(cx.tz, now_ms);
    let (start, end) = (periods.start() as i64, periods.end as i64);
    let mut l = Loader::new(store, RangeTally::new(periods, cx.kpi.clone()));
    l.seen = Some(HashSet::new());
    l.seed_agents(start, cx.agent_names.len().max(1)).await?;
    l.range(start, end).await?;
    let seen = l.seen.take().unwrap_or_default();
    Ok((LiveKpi::resume(cx.tz, l.fold, l.tally), seen))
}
