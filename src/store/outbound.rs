//! Billable outbound legs the outbound gate let through (`outbound_legs`), so its caps survive
//! a restart: one row per leg, read back for the last 24 hours at start.

use super::backend::{with_pool, RowExt};
use super::crypto::random_hex;
use super::error::Result;
use super::Store;

/// One leg as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundLeg {
    pub at_ms: i64,
    pub path: String,
    pub number: String,
    pub requester: String,
    pub trunk: String,
    pub call_id: Option<String>,
}

impl Store {
    /// Store one leg placed; rows older than `forget_before_ms` are deleted on the way.
    pub async fn record_outbound(&self, leg: &OutboundLeg, forget_before_ms: i64) -> Result<()> {
        let id = random_hex(16);
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO outbound_legs (id, at_ms, path, number, requester, trunk, call_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(leg.at_ms)
            .bind(&leg.path)
            .bind(&leg.number)
            .bind(&leg.requester)
            .bind(&leg.trunk)
            .bind(&leg.call_id)
            .execute(pool)
            .await?;
            sqlx::query("DELETE FROM outbound_legs WHERE at_ms < $1")
                .bind(forget_before_ms)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The legs placed at or after `since_ms`, oldest first.
    pub async fn outbound_since(&self, since_ms: i64) -> Result<Vec<OutboundLeg>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT at_ms, path, number, requester, trunk, call_id FROM outbound_legs \
                 WHERE at_ms >= $1 ORDER BY at_ms",
            )
            .bind(since_ms)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(OutboundLeg {
                        at_ms: r.int("at_ms")?,
                        path: r.text("path")?,
                        number: r.text("number")?,
                        requester: r.text("requester")?,
                        trunk: r.text("trunk")?,
                        call_id: r.opt_text("call_id")?,
                    })
                })
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn legs_are_stored_read_back_and_old_ones_forgotten() {
        let leg = |at_ms: i64, number: &str| OutboundLeg {
            at_ms,
            path: "callback".into(),
            number: number.into(),
            requester: "+15551230000".into(),
            trunk: "pstn".into(),
            call_id: Some("c1".into()),
        };
        for t in crate::store::test_support::test_stores("outbound").await {
            let store = &t.store;
            store
                .record_outbound(&leg(1_000, "+1555000001"), 0)
                .await
                .unwrap();
            store
                .record_outbound(&leg(2_000, "+1555000002"), 0)
                .await
                .unwrap();
            assert_eq!(
                store.outbound_since(1_500).await.unwrap(),
                vec![leg(2_000, "+1555000002")],
                "{}",
                t.label
            );
            store
                .record_outbound(&leg(3_000, "+1555000003"), 2_000)
                .await
                .unwrap();
            assert_eq!(
                store.outbound_since(0).await.unwrap().len(),
                2,
                "{}",
                t.label
            );
            t.finish().await;
        }
    }
}
