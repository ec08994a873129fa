//! Each agent's current state (available, not-ready + reason, …), kept so it survives a
//! restart. Normally written by the event writer from `agent.state_changed` events; an older
//! state never overwrites a newer one.

use super::backend::{with_pool, RowExt};
use super::error::Result;
use super::events::agents_upsert_sql;
use super::Store;

/// One agent's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentState {
    pub agent_id: String,
    /// The router's state name, e.g. `available`, `not-ready`.
    pub state: String,
    pub reason: Option<String>,
    /// When the agent entered this state (epoch ms).
    pub since_ms: i64,
}

fn agent_row(row: &impl RowExt) -> Result<AgentState> {
    Ok(AgentState {
        agent_id: row.text("agent_id")?,
        state: row.text("state")?,
        reason: row.opt_text("reason")?,
        since_ms: row.int("since_ms")?,
    })
}

impl Store {
    /// Store a state directly. False when a newer state was already stored (nothing changed).
    pub async fn set_agent_state(&self, s: &AgentState) -> Result<bool> {
        let sql = agents_upsert_sql(1);
        with_pool!(&self.db, |pool| {
            let done = sqlx::query(&sql)
                .bind(&s.agent_id)
                .bind(&s.state)
                .bind(s.reason.as_deref())
                .bind(s.since_ms)
                .bind(None::<String>)
                .bind(None::<String>)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Every agent's stored state, by agent id.
    pub async fn agent_states(&self) -> Result<Vec<AgentState>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT agent_id, state, reason, since_ms FROM agent_state ORDER BY agent_id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter().map(agent_row).collect()
        })
    }

    pub async fn agent_state(&self, agent_id: &str) -> Result<Option<AgentState>> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT agent_id, state, reason, since_ms FROM agent_state WHERE agent_id = $1",
            )
            .bind(agent_id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(agent_row).transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::derive::agent_state_event;
    use super::super::test_support::{test_stores, TempDir};
    use super::super::writer::{EventWriter, WriterConfig};
    use super::*;

    fn state(agent: &str, state: &str, reason: Option<&str>, since: i64) -> AgentState {
        AgentState {
            agent_id: agent.into(),
            state: state.into(),
            reason: reason.map(Into::into),
            since_ms: since,
        }
    }

    #[tokio::test]
    async fn a_newer_state_wins_and_an_older_one_is_ignored() {
        for t in test_stores("agents_direct").await {
            let s = &t.store;
            assert!(s
                .set_agent_state(&state("a1", "available", None, 100))
                .await
                .unwrap());
            assert!(s
                .set_agent_state(&state("a1", "not-ready", Some("lunch"), 200))
                .await
                .unwrap());
            assert!(
                !s.set_agent_state(&state("a1", "available", None, 150))
                    .await
                    .unwrap(),
                "{}",
                t.label
            );
            assert_eq!(
                s.agent_state("a1").await.unwrap(),
                Some(state("a1", "not-ready", Some("lunch"), 200))
            );
            assert_eq!(s.agent_state("zz").await.unwrap(), None);
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn state_change_events_set_agent_state_and_it_survives_a_restart() {
        for t in test_stores("agents_events").await {
            let spill = TempDir::new("agents_events_spill");
            let config = WriterConfig {
                spill_dir: spill.path().to_path_buf(),
                ..WriterConfig::default()
            };
            let writer = EventWriter::start(&t.store, config).unwrap();
            let h = writer.handle();
            h.append(agent_state_event("e1", "a1", "available", None, 1_000));
            h.append(agent_state_event("e2", "a2", "available", None, 1_000));
            h.append(agent_state_event(
                "e3",
                "a1",
                "not-ready",
                Some("break"),
                2_000,
            ));
            writer.shutdown(Duration::from_secs(10)).await.unwrap();

            // "Restart": a fresh pool on the same database sees the states.
            t.store.close().await;
            let reopened = t.reopen().await;
            let states = reopened.agent_states().await.unwrap();
            reopened.close().await;
            assert_eq!(
                states,
                vec![
                    state("a1", "not-ready", Some("break"), 2_000),
                    state("a2", "available", None, 1_000)
                ],
                "{}",
                t.label
            );
            t.finish().await;
        }
    }
}
