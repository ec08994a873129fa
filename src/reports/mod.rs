//! Supervisor reports: the stored events of a period turned into per-call facts and agent time
//! ([`fold`]), summed per interval, queue, call type, source and agent ([`tally`], through
//! `acd::kpi`), and laid out as the named tables of the reports page ([`tables`]). The live
//! wallboard runs the same fold and tally over today's events (see `crate::supervisor`).
//!
//! Layout: `interval` cuts a date range in the centre's time zone, `load` reads the store,
//! `tickets` adds the CRM's ticket KPIs.

pub mod fold;
pub mod interval;
pub mod load;
pub mod tables;
pub mod tally;
pub mod tickets;

#[cfg(test)]
pub(crate) mod tests;

pub use interval::{Interval, Periods};
pub use tables::{Table, NAMES};
pub use tally::{KpiConfig, RangeTally};

use crate::store::Store;
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::collections::HashMap;

/// The longest period one report may cover, and the longest with 15-minute intervals.
pub const MAX_DAYS: i64 = 400;
pub const MAX_DAYS_15M: i64 = 62;

/// What reports need from the configuration.
#[derive(Clone, Debug)]
pub struct ReportContext {
    pub tz: Tz,
    pub kpi: KpiConfig,
    /// Agent id → display name.
    pub agent_names: HashMap<String, String>,
    pub fcr_window_ms: i64,
}

/// A request as the API receives it: `name`, `from`/`to` dates (inclusive) and `interval`.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportRequest {
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub interval: Interval,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{0}")]
    Bad(String),
    #[error("the database could not be read: {0}")]
    Store(#[from] crate::store::StoreError),
}

impl ReportRequest {
    /// Check and parse the query parameters.
    pub fn parse(
        name: &str,
        from: Option<&str>,
        to: Option<&str>,
        interval: Option<&str>,
    ) -> Result<ReportRequest, ReportError> {
        let bad = |m: String| ReportError::Bad(m);
        if !NAMES.contains(&name) {
            return Err(bad(format!(
                "unknown report `{name}`; one of {}",
                NAMES.join(", ")
            )));
        }
        let date = |what: &str, v: Option<&str>| {
            let v = v.ok_or_else(|| bad(format!("`{what}` is missing; write YYYY-MM-DD")))?;
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| bad(format!("`{what}` = `{v}` is not a date; write YYYY-MM-DD")))
        };
        let (from, to) = (date("from", from)?, date("to", to)?);
        if from > to {
            return Err(bad(format!("`from` ({from}) is after `to` ({to})")));
        }
        let days = (to - from).num_days() + 1;
        // No interval (or an empty one): the range's own (hours for a day, days for a month).
        let interval = match interval.filter(|i| !i.is_empty()) {
            None => Interval::for_range(days),
            Some(i) => Interval::parse(i).ok_or_else(|| {
                bad(format!(
                    "interval `{i}` is not one of 15m, hour, day, month"
                ))
            })?,
        };
        let max = if interval == Interval::Min15 {
            MAX_DAYS_15M
        } else {
            MAX_DAYS
        };
        if days > max {
            return Err(bad(format!(
                "{days} days is too long a period for this interval (at most {max})"
            )));
        }
        Ok(ReportRequest {
            name: name.to_string(),
            from,
            to,
            interval,
        })
    }
}

/// Read the period's events (and tickets, for the ticket report) and sum them.
pub async fn tally_period(
    store: &Store,
    cx: &ReportContext,
    periods: Periods,
    now_ms: i64,
) -> Result<RangeTally, ReportError> {
    let (start, end) = (periods.start() as i64, periods.end as i64);
    let mut l = load::Loader::new(store, RangeTally::new(periods, cx.kpi.clone()));
    l.seed_agents(start, cx.agent_names.len().max(1)).await?;
    l.range(start, end).await?;
    l.tail(end, now_ms).await?;
    l.close_spans(end.min(now_ms).max(0) as u64);
    Ok(l.tally)
}

/// Build one report.
pub async fn run(
    store: &Store,
    cx: &ReportContext,
    req: &ReportRequest,
    now_ms: i64,
) -> Result<Table, ReportError> {
    let periods = Periods::new(cx.tz, req.from, req.to, req.interval);
    let (start, end) = (periods.start() as i64, periods.end as i64);
    let tickets = if req.name == "tickets" {
        let t = store.tickets_touched(start, end).await?;
        let c = store.ticket_calls(start, end).await?;
        tickets::tally(&periods, &t, &c, cx.fcr_window_ms)
    } else {
        tickets::TicketTally::default()
    };
    let tally = tally_period(store, cx, periods, now_ms).await?;
    let extras = tables::Extras {
        agent_names: &cx.agent_names,
        tickets: &tickets,
    };
    tables::build(&req.name, &tally, &extras)
        .ok_or_else(|| ReportError::Bad(format!("unknown report `{}`", req.name)))
}
