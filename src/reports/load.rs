//! Reading a period's stored events through the fold: agents start in the last state stored
//! before the period, events are read in (time, insertion) pages, and calls still open at the
//! period's end are followed a while after it so their wait, talk and wrap-up are complete.

use super::fold::{Change, Fold};
use super::tally::RangeTally;
use crate::acd::types::AgentStatus;
use crate::store::{Result, Store, StoredEvent};
use std::collections::HashSet;

const PAGE: i64 = 5_000;
/// How far past the period's end calls still open are followed.
const CALL_TAIL_MS: i64 = 24 * 3_600_000;
/// How far past the end a wrap-up in progress is followed.
const AGENT_TAIL_MS: i64 = 4 * 3_600_000;

/// Feed stored events to `fold` and `tally`.
pub struct Loader<'a> {
    pub store: &'a Store,
    pub fold: Fold,
    pub tally: RangeTally,
    buf: Vec<Change>,
    /// Ids of events applied (only kept when asked, for a live rebuild).
    pub seen: Option<HashSet<String>>,
}

impl<'a> Loader<'a> {
    pub fn new(store: &'a Store, tally: RangeTally) -> Loader<'a> {
        Loader {
            store,
            fold: Fold::new(),
            tally,
            buf: Vec::new(),
            seen: None,
        }
    }

    pub fn apply(&mut self, ev: &StoredEvent) {
        if let Some(seen) = self.seen.as_mut() {
            seen.insert(ev.event.id.clone());
        }
        self.fold.apply(&ev.event, &mut self.buf);
        for c in self.buf.drain(..) {
            self.tally.apply(&c);
        }
    }

    /// Seed each agent with the last state stored before `before_ms` (at most `max_agents`
    /// distinct agents; older history is read in pages until they are all found).
    pub async fn seed_agents(&mut self, before_ms: i64, max_agents: usize) -> Result<()> {
        let mut found: HashSet<String> = HashSet::new();
        let mut offset = 0;
        for _ in 0..40 {
            let page = self
                .store
                .agent_events_before(before_ms, offset, PAGE)
                .await?;
            for ev in &page {
                let Ok(p) = serde_json::from_str::<serde_json::Value>(&ev.event.payload) else {
                    continue;
                };
                let (Some(agent), Some(status)) = (
                    p.get("agent").and_then(|v| v.as_str()),
                    p.get("state")
                        .and_then(|v| v.as_str())
                        .and_then(AgentStatus::parse),
                ) else {
                    continue;
                };
                if found.insert(agent.to_string()) {
                    self.fold
                        .seed_agent(agent, status, ev.event.at_ms.max(0) as u64);
                }
            }
            if (page.len() as i64) < PAGE || found.len() >= max_agents {
                break;
            }
            offset += PAGE;
        }
        Ok(())
    }

    /// Every event with `from_ms <= at_ms < to_ms`.
    pub async fn range(&mut self, from_ms: i64, to_ms: i64) -> Result<()> {
        let mut after = None;
        loop {
            let page = self.store.events_page(from_ms, to_ms, after, PAGE).await?;
            for ev in &page {
                self.apply(ev);
            }
            after = page.last().map(|e| (e.event.at_ms, e.seq));
            if (page.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    /// After the period `[.., end_ms)`: the later events of calls still open, and of the agents
    /// those calls mention or who are in wrap-up, in one (time, insertion) order.
    pub async fn tail(&mut self, end_ms: i64, now_ms: i64) -> Result<()> {
        if end_ms >= now_ms {
            return Ok(());
        }
        let calls = self.fold.open_call_ids();
        let mut events = self
            .store
            .call_events_between(&calls, end_ms, (end_ms + CALL_TAIL_MS).min(now_ms))
            .await?;
        let mut agents: HashSet<String> = self.fold.pending_agents().into_iter().collect();
        agents.extend(events.iter().filter_map(|e| agent_of(&e.event.payload)));
        if !agents.is_empty() {
            let later = self
                .store
                .agent_events_between(end_ms, (end_ms + AGENT_TAIL_MS).min(now_ms), PAGE * 4)
                .await?;
            events.extend(
                later
                    .into_iter()
                    .filter(|e| agent_of(&e.event.payload).is_some_and(|a| agents.contains(&a))),
            );
        }
        events.sort_by_key(|e| (e.event.at_ms, e.seq));
        for ev in &events {
            self.apply(ev);
        }
        Ok(())
    }

    /// Close the agents' current states at `until_ms` (the period's end, or now).
    pub fn close_spans(&mut self, until_ms: u64) {
        let open: Vec<(String, AgentStatus, u64)> = self
            .fold
            .agent_states()
            .map(|(a, s, since)| (a.to_string(), s, since))
            .collect();
        for (agent, status, since) in open {
            if since < until_ms {
                self.tally.agent_span(&agent, status, since, until_ms);
            }
        }
    }
}

fn agent_of(payload: &str) -> Option<String> {
    let p: serde_json::Value = serde_json::from_str(payload).ok()?;
    p.get("agent")?.as_str().map(str::to_string)
}
