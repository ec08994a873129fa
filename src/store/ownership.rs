//! Calls are owned: each `calls` row carries the node id and boot incarnation of the server run
//! that took the call. A start takes the next incarnation of its node and closes the calls its
//! node's earlier runs left open (a `kill -9`, a crash, a power cut): each gets a `call.ended`
//! event with cause [`SERVER_LOST`], and each agent whose stored state refers to one of them is
//! taken out of it. Other nodes' calls are never touched, so several nodes can share a database.

use super::backend::{with_pool, BeginWrite, RowExt};
use super::derive::{AGENT_STATE_CHANGED, CALL_ENDED};
use super::error::Result;
use super::events::insert_batch;
use super::{EventRecord, Store};

/// The cause stored on calls whose server run ended without ending them.
pub const SERVER_LOST: &str = "server_lost";

/// One server run: its node and its boot incarnation (1, 2, … per node, never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub node_id: u32,
    pub incarnation: i64,
}

/// A call an earlier run of this node left open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostCall {
    pub call_id: String,
    pub incarnation: i64,
    /// Time of the newest event stored for it.
    pub last_event_ms: i64,
}

/// An agent whose stored state referred to a lost call, and the state they were put in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostAgent {
    pub agent_id: String,
    pub call_id: String,
    /// The stored state (e.g. `on-call`).
    pub was: String,
    /// The state stored now.
    pub state: &'static str,
    pub reason: Option<&'static str>,
}

/// What a start closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LostCalls {
    pub calls: Vec<LostCall>,
    pub agents: Vec<LostAgent>,
}

/// Where an agent goes when the call their state refers to was lost: one who was only offered
/// it (or reserved for it) is available again; one who was talking or wrapping up is not ready
/// (`restart`), as the router does on restore. `None`: the state refers to no call in progress.
pub(crate) fn agent_after_lost_call(state: &str) -> Option<(&'static str, Option<&'static str>)> {
    match state {
        "ringing" | "reserved" => Some(("available", None)),
        "on-call" | "wrap-up" => Some(("not-ready", Some("restart"))),
        _ => None,
    }
}

/// The events that close `lost` at `now_ms`. Ids are derived from the call (and agent), so a
/// start that is cut short and repeated stores each of them once.
pub(crate) fn closing_events(lost: &LostCalls, now_ms: i64) -> Vec<EventRecord> {
    let mut out = Vec::with_capacity(lost.calls.len() + lost.agents.len());
    for c in &lost.calls {
        let payload = serde_json::json!({
            "kind": CALL_ENDED,
            "cause": SERVER_LOST,
            "incarnation": c.incarnation,
            "last_event_ms": c.last_event_ms,
        });
        out.push(EventRecord {
            id: format!("{}/{SERVER_LOST}", c.call_id),
            call_id: Some(c.call_id.clone()),
            kind: CALL_ENDED.to_string(),
            at_ms: now_ms,
            payload: payload.to_string(),
        });
    }
    for a in &lost.agents {
        let payload = serde_json::json!({
            "kind": AGENT_STATE_CHANGED,
            "agent": a.agent_id,
            "state": a.state,
            "reason": a.reason,
            "call": null,
        });
        out.push(EventRecord {
            id: format!("{}/{SERVER_LOST}/{}", a.call_id, a.agent_id),
            call_id: None,
            kind: AGENT_STATE_CHANGED.to_string(),
            at_ms: now_ms,
            payload: payload.to_string(),
        });
    }
    out
}

impl Store {
    /// Register a new run of `node_id`: its incarnation is one above the node's highest so far
    /// (1 for the first), so it never repeats across restarts whatever the clock does.
    pub async fn begin_incarnation(&self, node_id: u32, now_ms: i64) -> Result<Owner> {
        let node = i64::from(node_id);
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query(
                "SELECT COALESCE(MAX(incarnation), 0) AS n FROM incarnations WHERE node_id = $1",
            )
            .bind(node)
            .fetch_one(&mut *tx)
            .await?;
            let incarnation = row.int("n")? + 1;
            sqlx::query(
                "INSERT INTO incarnations (node_id, incarnation, started_ms) VALUES ($1, $2, $3)",
            )
            .bind(node)
            .bind(incarnation)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Owner {
                node_id,
                incarnation,
            })
        })
    }

    /// The calls `owner`'s node left open in earlier incarnations, oldest first.
    pub async fn calls_left_open(&self, owner: Owner) -> Result<Vec<LostCall>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT call_id, incarnation, updated_ms FROM calls \
                 WHERE node_id = $1 AND incarnation < $2 AND ended_ms IS NULL \
                 ORDER BY updated_ms, call_id",
            )
            .bind(i64::from(owner.node_id))
            .bind(owner.incarnation)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(LostCall {
                        call_id: r.text("call_id")?,
                        incarnation: r.int("incarnation")?,
                        last_event_ms: r.int("updated_ms")?,
                    })
                })
                .collect()
        })
    }

    /// Agents whose stored state refers to a call `owner`'s node left open: (agent, call, state).
    async fn agents_on_calls_left_open(
        &self,
        owner: Owner,
    ) -> Result<Vec<(String, String, String)>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT a.agent_id, a.call_id, a.state FROM agent_state a \
                 JOIN calls c ON c.call_id = a.call_id \
                 WHERE c.node_id = $1 AND c.incarnation < $2 AND c.ended_ms IS NULL \
                 ORDER BY a.agent_id",
            )
            .bind(i64::from(owner.node_id))
            .bind(owner.incarnation)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok((r.text("agent_id")?, r.text("call_id")?, r.text("state")?)))
                .collect()
        })
    }

    /// Close every call `owner`'s node left open in earlier incarnations (stored as ended with
    /// cause [`SERVER_LOST`]) and take the agents out of them. Other nodes' calls and this run's
    /// own calls are untouched. Safe to repeat: a second pass finds nothing left.
    pub async fn close_lost_calls(&self, owner: Owner, now_ms: i64) -> Result<LostCalls> {
        let calls = self.calls_left_open(owner).await?;
        if calls.is_empty() {
            return Ok(LostCalls::default());
        }
        let agents = self
            .agents_on_calls_left_open(owner)
            .await?
            .into_iter()
            .filter_map(|(agent_id, call_id, was)| {
                let (state, reason) = agent_after_lost_call(&was)?;
                Some(LostAgent {
                    agent_id,
                    call_id,
                    was,
                    state,
                    reason,
                })
            })
            .collect();
        let lost = LostCalls { calls, agents };
        insert_batch(&self.db, &closing_events(&lost, now_ms), None).await?;
        Ok(lost)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::derive::{CALL_ANSWERED, CALL_ARRIVED};
    use super::super::test_support::{ev, test_stores, TempDir};
    use super::super::writer::{EventWriter, WriterConfig};
    use super::*;

    fn on_call(id: &str, agent: &str, state: &str, call: &str, at: i64) -> EventRecord {
        EventRecord {
            id: id.into(),
            call_id: None,
            kind: AGENT_STATE_CHANGED.into(),
            at_ms: at,
            payload:
                serde_json::json!({"agent": agent, "state": state, "reason": null, "call": call})
                    .to_string(),
        }
    }

    /// Store `events` through a writer running as `owner` (as the server does).
    async fn write_as(store: &Store, owner: Owner, events: Vec<EventRecord>) {
        let spill = TempDir::new("ownership_spill");
        let writer = EventWriter::start(
            store,
            WriterConfig {
                spill_dir: spill.path().to_path_buf(),
                owner: Some(owner),
                ..WriterConfig::default()
            },
        )
        .unwrap();
        let h = writer.handle();
        for e in events {
            h.append(e);
        }
        writer.shutdown(Duration::from_secs(10)).await.unwrap();
    }

    #[test]
    fn agents_leave_a_lost_call_by_what_they_were_doing() {
        assert_eq!(agent_after_lost_call("ringing"), Some(("available", None)));
        assert_eq!(agent_after_lost_call("reserved"), Some(("available", None)));
        assert_eq!(
            agent_after_lost_call("on-call"),
            Some(("not-ready", Some("restart")))
        );
        assert_eq!(
            agent_after_lost_call("wrap-up"),
            Some(("not-ready", Some("restart")))
        );
        assert_eq!(agent_after_lost_call("available"), None);
        assert_eq!(agent_after_lost_call("not-ready"), None);
    }

    #[tokio::test]
    async fn incarnations_count_up_per_node() {
        for t in test_stores("ownership_incarnations").await {
            let s = &t.store;
            let a = s.begin_incarnation(1, 10).await.unwrap();
            let b = s.begin_incarnation(1, 5).await.unwrap();
            let other = s.begin_incarnation(2, 20).await.unwrap();
            assert_eq!(
                (a.incarnation, b.incarnation, other.incarnation),
                (1, 2, 1),
                "{}",
                t.label
            );
            assert_eq!(other.node_id, 2, "{}", t.label);
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn a_start_closes_only_its_own_nodes_earlier_open_calls_and_frees_their_agents() {
        for t in test_stores("ownership_close").await {
            let s = &t.store;
            let first = s.begin_incarnation(1, 1_000).await.unwrap();
            let other_node = s.begin_incarnation(2, 1_000).await.unwrap();
            // Node 1, first run: c1 talking to alice, c2 ringing bob, c3 ended normally.
            write_as(
                s,
                first,
                vec![
                    ev("e1", "c1", CALL_ARRIVED, 1_100, r#"{"caller":"+441"}"#),
                    ev("e2", "c1", CALL_ANSWERED, 1_200, "{}"),
                    on_call("e3", "alice", "on-call", "c1", 1_300),
                    ev("e4", "c2", CALL_ARRIVED, 1_400, r#"{"caller":"+442"}"#),
                    on_call("e5", "bob", "ringing", "c2", 1_500),
                    ev("e6", "c3", CALL_ARRIVED, 1_100, "{}"),
                    ev(
                        "e7",
                        "c3",
                        CALL_ENDED,
                        1_600,
                        r#"{"cause":"caller_hangup"}"#,
                    ),
                ],
            )
            .await;
            // Node 2 (sharing the database): c9 in progress with carol.
            write_as(
                s,
                other_node,
                vec![
                    ev("e8", "c9", CALL_ARRIVED, 1_700, "{}"),
                    on_call("e9", "carol", "on-call", "c9", 1_800),
                ],
            )
            .await;
            let c1 = s.call("c1").await.unwrap().unwrap();
            assert_eq!(
                (c1.node_id, c1.incarnation),
                (Some(1), Some(1)),
                "{}",
                t.label
            );

            // Node 1 restarts (after a kill -9).
            let second = s.begin_incarnation(1, 5_000).await.unwrap();
            write_as(s, second, vec![ev("e10", "c4", CALL_ARRIVED, 5_100, "{}")]).await;
            let lost = s.close_lost_calls(second, 5_200).await.unwrap();
            let ids: Vec<&str> = lost.calls.iter().map(|c| c.call_id.as_str()).collect();
            assert_eq!(ids, ["c1", "c2"], "{}", t.label);
            let agents: Vec<(&str, &str, Option<&str>)> = lost
                .agents
                .iter()
                .map(|a| (a.agent_id.as_str(), a.state, a.reason))
                .collect();
            assert_eq!(
                agents,
                [
                    ("alice", "not-ready", Some("restart")),
                    ("bob", "available", None)
                ],
                "{}",
                t.label
            );
            for id in ["c1", "c2"] {
                let row = s.call(id).await.unwrap().unwrap();
                assert_eq!(row.ended_ms, Some(5_200), "{id} {}", t.label);
                assert_eq!(row.cause.as_deref(), Some(SERVER_LOST), "{id} {}", t.label);
                assert_eq!(row.node_id, Some(1), "owner kept: {id} {}", t.label);
                let kinds: Vec<String> = s
                    .events_for_call(id)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|e| e.event.kind)
                    .collect();
                assert_eq!(
                    kinds.last().map(String::as_str),
                    Some(CALL_ENDED),
                    "{}",
                    t.label
                );
            }
            let c3 = s.call("c3").await.unwrap().unwrap();
            assert_eq!(c3.cause.as_deref(), Some("caller_hangup"), "{}", t.label);
            assert_eq!(c3.ended_ms, Some(1_600), "{}", t.label);
            let c4 = s.call("c4").await.unwrap().unwrap();
            assert_eq!(c4.ended_ms, None, "this run's own call: {}", t.label);
            assert_eq!(c4.incarnation, Some(2), "{}", t.label);
            let c9 = s.call("c9").await.unwrap().unwrap();
            assert_eq!(c9.ended_ms, None, "another node's call: {}", t.label);
            assert_eq!(c9.node_id, Some(2), "{}", t.label);

            let alice = s.agent_state("alice").await.unwrap().unwrap();
            assert_eq!(
                (alice.state.as_str(), alice.reason.as_deref()),
                ("not-ready", Some("restart"))
            );
            assert_eq!(
                s.agent_state("bob").await.unwrap().unwrap().state,
                "available"
            );
            assert_eq!(
                s.agent_state("carol").await.unwrap().unwrap().state,
                "on-call",
                "another node's agent: {}",
                t.label
            );

            // Repeating the pass (a start cut short) finds nothing and stores nothing twice.
            let events = s.event_count().await.unwrap();
            assert_eq!(
                s.close_lost_calls(second, 6_000).await.unwrap(),
                LostCalls::default()
            );
            assert_eq!(s.event_count().await.unwrap(), events, "{}", t.label);
            t.finish().await;
        }
    }
}
