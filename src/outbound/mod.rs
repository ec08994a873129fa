//! The outbound gate: the one door every billable leg (anything sent to a trunk) goes through.
//! [`gate`] is the sans-IO core (rules, routes, counts); [`OutboundGate`] wraps it for the call
//! layer: refusals are logged with the call id and counted in
//! `helpline_outbound_refused_total{reason}`, legs let through are stored (`outbound_legs`) and
//! read back at start so a restart does not reset the caps.
//!
//! Paths that place legs: callbacks (checked when booked, admitted when dialled), direct lines
//! forwarding to a trunk, the IVR's `transfer` node (and later agent transfers and click to
//! call). Agents' desk phones are internal (never a trunk) and do not pass here.

pub mod gate;

pub use gate::{GateSettings, Path, Placed, Refusal, Request, Requester, Route};

use crate::metrics::Metrics;
use crate::store::{OutboundLeg, Store};
use std::sync::{Arc, Mutex, MutexGuard};

const DAY_MS: u64 = 24 * 3_600_000;

fn now_ms() -> u64 {
    crate::events::now_ms().max(0) as u64
}

/// The gate with its I/O: the store its legs go to and the metrics its refusals count in.
pub struct OutboundGate {
    gate: Mutex<gate::Gate>,
    store: Option<Store>,
    metrics: Arc<Metrics>,
}

impl OutboundGate {
    /// A gate on `settings`' `[outbound]` rules and `[[sip.trunks]]`; `store`: None keeps
    /// counts in memory only (tests, signalling-only runs).
    pub fn new(
        settings: &crate::config::Settings,
        metrics: Arc<Metrics>,
        store: Option<Store>,
    ) -> OutboundGate {
        let trunks = settings.sip.trunks.iter().map(|t| t.name.clone()).collect();
        OutboundGate {
            gate: Mutex::new(gate::Gate::new(settings.outbound.clone(), trunks)),
            store,
            metrics,
        }
    }

    fn core(&self) -> MutexGuard<'_, gate::Gate> {
        self.gate.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read back the legs of the last 24 hours (at start); how many.
    pub async fn restore(&self) -> crate::store::Result<usize> {
        let Some(store) = &self.store else {
            return Ok(0);
        };
        let now = now_ms();
        let since = now.saturating_sub(DAY_MS) as i64;
        let legs = store.outbound_since(since).await?;
        let mut g = self.core();
        g.restore(
            legs.into_iter().map(|l| Placed {
                at_ms: l.at_ms.max(0) as u64,
                number: l.number,
                requester: l.requester,
            }),
            now,
        );
        Ok(g.len())
    }

    /// May `req` be placed? Counts nothing; a refusal is logged and counted.
    pub fn check(&self, call_id: &str, req: &Request) -> Result<Route, Refusal> {
        let out = self.core().check(req, now_ms());
        out.inspect_err(|r| self.refused(call_id, req, r))
    }

    /// The leg is being placed now: check, count and store it (or refuse, logged and counted).
    pub fn admit(&self, call_id: &str, req: &Request) -> Result<Route, Refusal> {
        let now = now_ms();
        let out = self.core().admit(req, now);
        let (route, placed) = out.inspect_err(|r| self.refused(call_id, req, r))?;
        tracing::info!(call_id, path = req.path.as_str(), number = %req.number, requester = %placed.requester, trunk = %route.trunk, "outbound leg allowed");
        self.metrics
            .outbound_legs
            .with_label_values(&[req.path.as_str()])
            .inc();
        if let Some(store) = self.store.clone() {
            let leg = OutboundLeg {
                at_ms: now as i64,
                path: req.path.as_str().to_string(),
                number: placed.number,
                requester: placed.requester,
                trunk: route.trunk.clone(),
                call_id: Some(call_id.to_string()),
            };
            tokio::spawn(async move {
                let horizon = (now.saturating_sub(DAY_MS)) as i64;
                if let Err(e) = store.record_outbound(&leg, horizon).await {
                    // The count holds in memory; only a restart during the outage forgets it.
                    tracing::warn!(error = %e, number = %leg.number, "outbound leg not stored");
                }
            });
        }
        Ok(route)
    }

    fn refused(&self, call_id: &str, req: &Request, r: &Refusal) {
        tracing::warn!(
            call_id,
            path = req.path.as_str(),
            number = %req.number,
            requester = %req.requester.key(),
            reason = %r.reason(),
            "outbound leg refused"
        );
        self.metrics
            .outbound_refused
            .with_label_values(&[r.label()])
            .inc();
    }
}
