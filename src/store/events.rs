//! The `events` and `calls` tables: batch insert (idempotent, with derived rows) and reads.

use std::collections::HashSet;
use std::sync::LazyLock;

use super::backend::{values_list, with_pool, BeginWrite, Db, RowExt};
use super::derive::{derive, CallPatch};
use super::error::Result;
use super::ownership::Owner;
use super::{EventRecord, Store};

/// Rows per multi-row INSERT (5 parameters each; far below both backends' parameter limits).
const ROWS_PER_INSERT: usize = 100;

/// An event as read back, with its insertion sequence number (a resume cursor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event: EventRecord,
}

/// One call's summary row, derived from its `call.*` events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    pub call_id: String,
    pub arrived_ms: Option<i64>,
    pub answered_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub cause: Option<String>,
    pub caller: Option<String>,
    pub called: Option<String>,
    pub queue: Option<String>,
    pub agent: Option<String>,
    /// Time of the newest event applied to this row.
    pub updated_ms: i64,
    /// The server run that took the call (None for rows stored outside a server run).
    pub node_id: Option<i64>,
    pub incarnation: Option<i64>,
}

/// What one committed batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    /// Events newly stored.
    pub inserted: u64,
    /// Events whose id was already stored (a retry or replay), skipped.
    pub duplicates: u64,
}

pub(crate) const EVENT_COLUMNS: &str = "seq, id, call_id, kind, at_ms, payload";

/// Times: the first one stored wins. Text: the newest event's value wins, an absent value never
/// erases one.
static CALLS_UPSERT_TAIL: LazyLock<String> = LazyLock::new(|| {
    let mut sets: Vec<String> = ["arrived_ms", "answered_ms", "ended_ms"]
        .iter()
        .map(|c| format!("{c} = COALESCE(calls.{c}, excluded.{c})"))
        .collect();
    for c in ["cause", "caller", "called", "queue", "agent"] {
        sets.push(format!(
            "{c} = CASE WHEN excluded.updated_ms >= calls.updated_ms \
             THEN COALESCE(excluded.{c}, calls.{c}) ELSE COALESCE(calls.{c}, excluded.{c}) END"
        ));
    }
    // The owner is set by the first batch that creates the row and never changed after.
    for c in ["node_id", "incarnation"] {
        sets.push(format!("{c} = COALESCE(calls.{c}, excluded.{c})"));
    }
    sets.push(
        "updated_ms = CASE WHEN excluded.updated_ms > calls.updated_ms \
         THEN excluded.updated_ms ELSE calls.updated_ms END"
            .into(),
    );
    format!(" ON CONFLICT (call_id) DO UPDATE SET {}", sets.join(", "))
});

/// Store a batch in one transaction: new events are inserted, known ids skipped, and the
/// `calls` / `agent_state` rows updated from the new ones only. A `calls` row created by this
/// batch is stamped with `owner` (the server run whose writer stores it).
pub(crate) async fn insert_batch(
    db: &Db,
    events: &[EventRecord],
    owner: Option<Owner>,
) -> Result<BatchOutcome> {
    with_pool!(db, |pool| {
        let mut tx = pool.begin_write().await?;
        let mut fresh_ids: HashSet<String> = HashSet::with_capacity(events.len());
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO events (id, call_id, kind, at_ms, payload) VALUES {} \
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                values_list(chunk.len(), 5)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.id.as_str())
                    .bind(e.call_id.as_deref())
                    .bind(e.kind.as_str())
                    .bind(e.at_ms)
                    .bind(e.payload.as_str());
            }
            for row in q.fetch_all(&mut *tx).await? {
                fresh_ids.insert(row.text("id")?);
            }
        }
        let inserted = fresh_ids.len() as u64;
        // `remove` keeps only the first of two same-id events in one batch.
        let fresh: Vec<&EventRecord> = events.iter().filter(|e| fresh_ids.remove(&e.id)).collect();
        let derived = derive(&fresh);
        for chunk in derived.calls.chunks(ROWS_PER_INSERT) {
            let sql = calls_upsert_sql(chunk);
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q
                    .bind(p.call_id.as_str())
                    .bind(p.arrived_ms)
                    .bind(p.answered_ms)
                    .bind(p.ended_ms)
                    .bind(p.cause.as_deref())
                    .bind(p.caller.as_deref())
                    .bind(p.called.as_deref())
                    .bind(p.queue.as_deref())
                    .bind(p.agent.as_deref())
                    .bind(p.updated_ms)
                    .bind(owner.map(|o| i64::from(o.node_id)))
                    .bind(owner.map(|o| o.incarnation));
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in derived.agents.chunks(ROWS_PER_INSERT) {
            let sql = agents_upsert_sql(chunk.len());
            let mut q = sqlx::query(&sql);
            for p in chunk {
                q = q
                    .bind(p.agent_id.as_str())
                    .bind(p.state.as_str())
                    .bind(p.reason.as_deref())
                    .bind(p.since_ms)
                    .bind(p.event_id.as_str())
                    .bind(p.call_id.as_deref());
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in derived.audit.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO audit (event_id, at_ms, actor, action, target, detail, result) \
                 VALUES {} ON CONFLICT (event_id) DO NOTHING",
                values_list(chunk.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q
                    .bind(a.event_id.as_str())
                    .bind(a.at_ms)
                    .bind(a.actor.as_str())
                    .bind(a.action.as_str())
                    .bind(a.target.as_str())
                    .bind(a.detail.as_str())
                    .bind(a.result.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(BatchOutcome {
            inserted,
            duplicates: events.len() as u64 - inserted,
        })
    })
}

fn calls_upsert_sql(chunk: &[CallPatch]) -> String {
    format!(
        "INSERT INTO calls (call_id, arrived_ms, answered_ms, ended_ms, cause, caller, called, \
         queue, agent, updated_ms, node_id, incarnation) VALUES {}{}",
        values_list(chunk.len(), 12),
        CALLS_UPSERT_TAIL.as_str()
    )
}

/// Shared with `agents.rs`: a state only replaces an older one.
pub(crate) fn agents_upsert_sql(rows: usize) -> String {
    format!(
        "INSERT INTO agent_state (agent_id, state, reason, since_ms, event_id, call_id) VALUES {} \
         ON CONFLICT (agent_id) DO UPDATE SET state = excluded.state, reason = excluded.reason, \
         since_ms = excluded.since_ms, event_id = excluded.event_id, call_id = excluded.call_id \
         WHERE excluded.since_ms >= agent_state.since_ms",
        values_list(rows, 6)
    )
}

pub(crate) fn stored_event(row: &impl RowExt) -> Result<StoredEvent> {
    Ok(StoredEvent {
        seq: row.int("seq")?,
        event: EventRecord {
            id: row.text("id")?,
            call_id: row.opt_text("call_id")?,
            kind: row.text("kind")?,
            at_ms: row.int("at_ms")?,
            payload: row.text("payload")?,
        },
    })
}

fn call_row(row: &impl RowExt) -> Result<CallRow> {
    Ok(CallRow {
        call_id: row.text("call_id")?,
        arrived_ms: row.opt_int("arrived_ms")?,
        answered_ms: row.opt_int("answered_ms")?,
        ended_ms: row.opt_int("ended_ms")?,
        cause: row.opt_text("cause")?,
        caller: row.opt_text("caller")?,
        called: row.opt_text("called")?,
        queue: row.opt_text("queue")?,
        agent: row.opt_text("agent")?,
        updated_ms: row.int("updated_ms")?,
        node_id: row.opt_int("node_id")?,
        incarnation: row.opt_int("incarnation")?,
    })
}

impl Store {
    /// Store events now, bypassing the writer queue (imports, tests). Idempotent by id.
    pub async fn insert_events(&self, events: &[EventRecord]) -> Result<u64> {
        Ok(insert_batch(&self.db, events, None).await?.inserted)
    }

    /// Every stored event of one call, in the order they were stored.
    pub async fn events_for_call(&self, call_id: &str) -> Result<Vec<StoredEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE call_id = $1 ORDER BY seq");
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql).bind(call_id).fetch_all(pool).await?;
            rows.iter().map(stored_event).collect()
        })
    }

    /// Up to `limit` events stored after sequence number `after_seq` (0 = from the start).
    pub async fn events_after(&self, after_seq: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2");
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(after_seq)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(stored_event).collect()
        })
    }

    /// How many events are stored.
    pub async fn event_count(&self) -> Result<i64> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM events")
                .fetch_one(pool)
                .await?;
            row.int("n")
        })
    }

    /// The summary row of one call.
    pub async fn call(&self, call_id: &str) -> Result<Option<CallRow>> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT call_id, arrived_ms, answered_ms, ended_ms, cause, caller, called, queue, \
                 agent, updated_ms, node_id, incarnation FROM calls WHERE call_id = $1",
            )
            .bind(call_id)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(call_row).transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::derive::{CALL_ANSWERED, CALL_ARRIVED, CALL_ENDED};
    use super::super::test_support::{ev, test_stores};

    #[tokio::test]
    async fn the_same_event_id_twice_is_stored_once() {
        for t in test_stores("events_idempotent").await {
            let s = &t.store;
            let a = ev("e1", "c1", CALL_ARRIVED, 1000, r#"{"caller":"+4420"}"#);
            assert_eq!(
                s.insert_events(&[a.clone(), a.clone()]).await.unwrap(),
                1,
                "{}",
                t.label
            );
            assert_eq!(
                s.insert_events(std::slice::from_ref(&a)).await.unwrap(),
                0,
                "{}",
                t.label
            );
            let stored = s.events_for_call("c1").await.unwrap();
            assert_eq!(stored.len(), 1, "{}", t.label);
            assert_eq!(stored[0].event, a, "{}", t.label);
            assert_eq!(s.event_count().await.unwrap(), 1, "{}", t.label);
            t.finish().await;
        }
    }

    #[tokio::test]
    async fn calls_row_follows_the_call_events_and_replays_do_not_change_it() {
        for t in test_stores("events_calls").await {
            let s = &t.store;
            let arrived = ev(
                "e1",
                "c9",
                CALL_ARRIVED,
                1000,
                r#"{"caller":"+441","called":"+442","queue":"sales"}"#,
            );
            let answered = ev("e2", "c9", CALL_ANSWERED, 4000, r#"{"agent":"alice"}"#);
            let ended = ev("e3", "c9", CALL_ENDED, 9000, r#"{"cause":"caller-hangup"}"#);
            // Out of order across batches (as a spill replay can deliver them).
            s.insert_events(std::slice::from_ref(&ended)).await.unwrap();
            s.insert_events(&[arrived.clone(), answered.clone()])
                .await
                .unwrap();
            let late_dup = ev("e1", "c9", CALL_ARRIVED, 1000, r#"{"caller":"spoofed"}"#);
            s.insert_events(&[late_dup, ended]).await.unwrap();
            let row = s.call("c9").await.unwrap().expect("calls row");
            assert_eq!(row.arrived_ms, Some(1000), "{}", t.label);
            assert_eq!(row.answered_ms, Some(4000), "{}", t.label);
            assert_eq!(row.ended_ms, Some(9000), "{}", t.label);
            assert_eq!(row.cause.as_deref(), Some("caller-hangup"), "{}", t.label);
            assert_eq!(row.caller.as_deref(), Some("+441"), "{}", t.label);
            assert_eq!(row.called.as_deref(), Some("+442"), "{}", t.label);
            assert_eq!(row.queue.as_deref(), Some("sales"), "{}", t.label);
            assert_eq!(row.agent.as_deref(), Some("alice"), "{}", t.label);
            assert_eq!(s.call("nope").await.unwrap(), None, "{}", t.label);
            let evs = s.events_for_call("c9").await.unwrap();
            let kinds: Vec<&str> = evs.iter().map(|e| e.event.kind.as_str()).collect();
            assert_eq!(
                kinds,
                [CALL_ENDED, CALL_ARRIVED, CALL_ANSWERED],
                "{}",
                t.label
            );
            let after = s.events_after(evs[0].seq, 10).await.unwrap();
            assert_eq!(after.len(), 2, "{}", t.label);
            t.finish().await;
        }
    }
}
