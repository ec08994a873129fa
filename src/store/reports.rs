//! Reads for the supervisor reports and dashboard: events by time range (keyset pages on
//! `at_ms, seq`), the follow-up events of calls still open at a range's end, the agents' last
//! states before a range, ticket times and ticket calls, and the audit log.

use super::backend::{with_pool, RowExt};
use super::error::Result;
use super::events::{stored_event as stored, StoredEvent, EVENT_COLUMNS as COLS};
use super::Store;

/// A ticket's life times (epoch ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketTimes {
    pub id: String,
    pub created_ms: i64,
    pub resolved_ms: Option<i64>,
}

/// One stored call (interaction) about a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketCallRow {
    pub ticket_id: String,
    pub at_ms: i64,
    pub abandoned: bool,
    pub resolution: Option<String>,
}

/// One audited supervisor action.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRow {
    pub event_id: String,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// JSON text.
    pub detail: String,
    pub result: String,
}

/// Where the previous page ended: (at_ms, seq).
pub type Cursor = (i64, i64);

impl Store {
    /// Up to `limit` events with `from_ms <= at_ms < to_ms`, in (at_ms, seq) order, after
    /// `after` (the last row of the previous page).
    pub async fn events_page(
        &self,
        from_ms: i64,
        to_ms: i64,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let (at, seq) = after.unwrap_or((from_ms, -1));
        let sql = format!(
            "SELECT {COLS} FROM events WHERE at_ms >= $1 AND at_ms < $2 \
             AND (at_ms > $3 OR (at_ms = $3 AND seq > $4)) ORDER BY at_ms, seq LIMIT $5"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(from_ms)
                .bind(to_ms)
                .bind(at)
                .bind(seq)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(stored).collect()
        })
    }

    /// Events of these calls with `from_ms <= at_ms < to_ms` (calls still open at a range's
    /// end), in (at_ms, seq) order.
    pub async fn call_events_between(
        &self,
        call_ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        for chunk in call_ids.chunks(200) {
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT {COLS} FROM events WHERE at_ms >= $1 AND at_ms < $2 AND call_id IN ({}) \
                 ORDER BY at_ms, seq",
                marks.join(",")
            );
            let rows = with_pool!(&self.db, |pool| {
                let mut q = sqlx::query(&sql).bind(from_ms).bind(to_ms);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                let rows = q.fetch_all(pool).await?;
                rows.iter().map(stored).collect::<Result<Vec<_>>>()
            })?;
            out.extend(rows);
        }
        out.sort_by_key(|e| (e.event.at_ms, e.seq));
        Ok(out)
    }

    /// `agent.state_changed` events before `before_ms`, newest first, one page.
    pub async fn agent_events_before(
        &self,
        before_ms: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {COLS} FROM events WHERE kind = 'agent.state_changed' AND at_ms < $1 \
             ORDER BY at_ms DESC, seq DESC LIMIT $2 OFFSET $3"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(before_ms)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            rows.iter().map(stored).collect()
        })
    }

    /// `agent.state_changed` events with `from_ms <= at_ms < to_ms`, oldest first.
    pub async fn agent_events_between(
        &self,
        from_ms: i64,
        to_ms: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>> {
        let sql = format!(
            "SELECT {COLS} FROM events WHERE kind = 'agent.state_changed' AND at_ms >= $1 \
             AND at_ms < $2 ORDER BY at_ms, seq LIMIT $3"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(from_ms)
                .bind(to_ms)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(stored).collect()
        })
    }

    /// Tickets created or resolved in `[from_ms, to_ms)`.
    pub async fn tickets_touched(&self, from_ms: i64, to_ms: i64) -> Result<Vec<TicketTimes>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT id, created_ms, resolved_ms FROM tickets \
                 WHERE (created_ms >= $1 AND created_ms < $2) \
                 OR (resolved_ms >= $1 AND resolved_ms < $2)",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(TicketTimes {
                        id: r.text("id")?,
                        created_ms: r.int("created_ms")?,
                        resolved_ms: r.opt_int("resolved_ms")?,
                    })
                })
                .collect()
        })
    }

    /// Every stored call about the tickets that had a call in `[from_ms, to_ms)`.
    pub async fn ticket_calls(&self, from_ms: i64, to_ms: i64) -> Result<Vec<TicketCallRow>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT ticket_id, arrived_ms, abandoned, resolution FROM interactions \
                 WHERE ticket_id IN (SELECT ticket_id FROM interactions \
                 WHERE ticket_id IS NOT NULL AND arrived_ms >= $1 AND arrived_ms < $2)",
            )
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(TicketCallRow {
                        ticket_id: r.text("ticket_id")?,
                        at_ms: r.int("arrived_ms")?,
                        abandoned: r.int("abandoned")? != 0,
                        resolution: r.opt_text("resolution")?,
                    })
                })
                .collect()
        })
    }

    /// The latest audited actions, newest first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditRow>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT event_id, at_ms, actor, action, target, detail, result FROM audit \
                 ORDER BY at_ms DESC, event_id DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(AuditRow {
                        event_id: r.text("event_id")?,
                        at_ms: r.int("at_ms")?,
                        actor: r.text("actor")?,
                        action: r.text("action")?,
                        target: r.text("target")?,
                        detail: r.text("detail")?,
                        result: r.text("result")?,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{ev, test_stores};

    #[tokio::test]
    async fn pages_follow_time_then_insertion_order_and_audit_rows_follow_events() {
        for t in test_stores("report_reads").await {
            let s = &t.store;
            let events = vec![
                ev("e1", "c1", "call.arrived", 2000, r#"{"called":"+1"}"#),
                ev("e2", "c1", "call.queued", 1000, r#"{"queue":"q"}"#),
                ev("e3", "c2", "call.arrived", 2000, r#"{"called":"+2"}"#),
                ev(
                    "e4",
                    "c2",
                    "call.ended",
                    9000,
                    r#"{"cause":"caller_hangup"}"#,
                ),
                ev(
                    "e5",
                    "",
                    "supervisor.action",
                    3000,
                    r#"{"actor":"super1","action":"move","target":"c1","detail":{"queue":"x"},"result":"ok"}"#,
                ),
            ];
            s.insert_events(&events).await.unwrap();
            let p1 = s.events_page(0, 5000, None, 2).await.unwrap();
            let ids: Vec<&str> = p1.iter().map(|e| e.event.id.as_str()).collect();
            assert_eq!(ids, vec!["e2", "e1"], "{}", t.label);
            let last = p1.last().map(|e| (e.event.at_ms, e.seq));
            let p2 = s.events_page(0, 5000, last, 10).await.unwrap();
            let ids: Vec<&str> = p2.iter().map(|e| e.event.id.as_str()).collect();
            assert_eq!(ids, vec!["e3", "e5"], "{}", t.label);
            let tail = s
                .call_events_between(&["c2".into()], 5000, 10_000)
                .await
                .unwrap();
            assert_eq!(tail.len(), 1, "{}", t.label);
            let audit = s.audit_log(10).await.unwrap();
            assert_eq!(audit.len(), 1, "{}", t.label);
            assert_eq!(
                (
                    audit[0].actor.as_str(),
                    audit[0].action.as_str(),
                    audit[0].result.as_str()
                ),
                ("super1", "move", "ok"),
                "{}",
                t.label
            );
            assert_eq!(audit[0].detail, r#"{"queue":"x"}"#, "{}", t.label);
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn tickets_touched_and_every_call_about_tickets_called_about() {
        use super::super::backend::with_pool;
        for t in test_stores("report_tickets").await {
            let s = &t.store;
            let sql = [
                "INSERT INTO tickets (id, number, subject, status, created_ms, updated_ms, resolved_ms) \
                 VALUES ('t1', 'T-1', 's', 'resolved', 100, 100, 500), \
                 ('t2', 'T-2', 's', 'open', 5, 5, NULL), ('t3', 'T-3', 's', 'open', 150, 150, NULL)",
                "INSERT INTO interactions (id, call_id, ticket_id, arrived_ms, abandoned, resolution) \
                 VALUES ('i1', 'c1', 't1', 120, 0, 'resolved'), ('i2', 'c2', 't2', 10, 0, 'open'), \
                 ('i3', 'c3', 't2', 160, 1, NULL), ('i4', 'c4', NULL, 170, 0, NULL)",
            ];
            for q in sql {
                with_pool!(&s.db, |pool| sqlx::query(q).execute(pool).await.map(|_| ()))
                    .expect("insert");
            }
            let mut touched: Vec<String> = s
                .tickets_touched(100, 200)
                .await
                .unwrap()
                .into_iter()
                .map(|t| t.id)
                .collect();
            touched.sort();
            assert_eq!(touched, ["t1", "t3"], "{}", t.label);
            let mut calls: Vec<(String, i64, bool)> = s
                .ticket_calls(100, 200)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.ticket_id, c.at_ms, c.abandoned))
                .collect();
            calls.sort();
            // t2 was called about in the period (c3), so its earlier call c2 comes too.
            assert_eq!(
                calls,
                [
                    ("t1".to_string(), 120, false),
                    ("t2".to_string(), 10, false),
                    ("t2".to_string(), 160, true)
                ],
                "{}",
                t.label
            );
            t.finish().await;
        }
    }
}
