//! Registrar bindings (several contacts per address-of-record) so registrations survive a
//! restart. The registrar decides what to accept; this only keeps the result.

use super::backend::{with_pool, RowExt};
use super::error::Result;
use super::Store;

/// One contact bound to an AOR, with where its REGISTER came from (so calls reach phones
/// behind NAT over the same transport, address and connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Address-of-record, e.g. `sip:alice@helpline`.
    pub aor: String,
    /// The Contact URI.
    pub contact: String,
    /// `+sip.instance` (RFC 5626) when the phone sent one; a binding is identified by it, else
    /// by the contact URI.
    pub instance: Option<String>,
    /// `udp`, `tcp`, `tls`, `ws`, `wss`.
    pub transport: String,
    /// Source `ip:port` of the REGISTER.
    pub source_addr: String,
    /// Id of the connection it came in on (stream transports), if any.
    pub connection: Option<String>,
    pub expires_at_ms: i64,
    pub call_id: String,
    pub cseq: i64,
    pub updated_ms: i64,
}

impl Binding {
    /// What identifies this binding within its AOR.
    pub fn key(&self) -> &str {
        self.instance.as_deref().unwrap_or(&self.contact)
    }
}

const COLUMNS: &str = "aor, contact, instance, transport, source_addr, connection, \
                       expires_at_ms, call_id, cseq, updated_ms";

fn binding_row(row: &impl RowExt) -> Result<Binding> {
    Ok(Binding {
        aor: row.text("aor")?,
        contact: row.text("contact")?,
        instance: row.opt_text("instance")?,
        transport: row.text("transport")?,
        source_addr: row.text("source_addr")?,
        connection: row.opt_text("connection")?,
        expires_at_ms: row.int("expires_at_ms")?,
        call_id: row.text("call_id")?,
        cseq: row.int("cseq")?,
        updated_ms: row.int("updated_ms")?,
    })
}

impl Store {
    /// Add or refresh a binding (same AOR and key → replaced).
    pub async fn upsert_binding(&self, b: &Binding) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO registrations (aor, binding_key, contact, instance, transport, \
                 source_addr, connection, expires_at_ms, call_id, cseq, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (aor, binding_key) DO UPDATE SET contact = excluded.contact, \
                 instance = excluded.instance, transport = excluded.transport, \
                 source_addr = excluded.source_addr, connection = excluded.connection, \
                 expires_at_ms = excluded.expires_at_ms, call_id = excluded.call_id, \
                 cseq = excluded.cseq, updated_ms = excluded.updated_ms",
            )
            .bind(&b.aor)
            .bind(b.key())
            .bind(&b.contact)
            .bind(b.instance.as_deref())
            .bind(&b.transport)
            .bind(&b.source_addr)
            .bind(b.connection.as_deref())
            .bind(b.expires_at_ms)
            .bind(&b.call_id)
            .bind(b.cseq)
            .bind(b.updated_ms)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Remove one binding by its key (instance or contact URI). True if it existed.
    pub async fn remove_binding(&self, aor: &str, key: &str) -> Result<bool> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("DELETE FROM registrations WHERE aor = $1 AND binding_key = $2")
                .bind(aor)
                .bind(key)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Remove every binding of an AOR (`Contact: *`). Returns how many.
    pub async fn remove_all_bindings(&self, aor: &str) -> Result<u64> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("DELETE FROM registrations WHERE aor = $1")
                .bind(aor)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// Unexpired bindings of one AOR, newest first.
    pub async fn live_bindings(&self, aor: &str, now_ms: i64) -> Result<Vec<Binding>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM registrations WHERE aor = $1 AND expires_at_ms > $2 \
             ORDER BY updated_ms DESC, contact"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(aor)
                .bind(now_ms)
                .fetch_all(pool)
                .await?;
            rows.iter().map(binding_row).collect()
        })
    }

    /// Every unexpired binding (to load the registrar at start-up).
    pub async fn all_live_bindings(&self, now_ms: i64) -> Result<Vec<Binding>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM registrations WHERE expires_at_ms > $1 ORDER BY aor, updated_ms DESC"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql).bind(now_ms).fetch_all(pool).await?;
            rows.iter().map(binding_row).collect()
        })
    }

    /// Delete bindings expired at `now_ms`. Returns how many.
    pub async fn purge_expired_bindings(&self, now_ms: i64) -> Result<u64> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("DELETE FROM registrations WHERE expires_at_ms <= $1")
                .bind(now_ms)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::test_stores;
    use super::*;

    fn binding(contact: &str, instance: Option<&str>, expires: i64, updated: i64) -> Binding {
        Binding {
            aor: "sip:alice@helpline".into(),
            contact: contact.into(),
            instance: instance.map(Into::into),
            transport: "udp".into(),
            source_addr: "192.0.2.7:5062".into(),
            connection: None,
            expires_at_ms: expires,
            call_id: "reg-1".into(),
            cseq: 1,
            updated_ms: updated,
        }
    }

    #[tokio::test]
    async fn several_contacts_refresh_expire_and_unregister() {
        for t in test_stores("registrations").await {
            let s = &t.store;
            let desk = binding("sip:alice@192.0.2.7:5062", None, 10_000, 1);
            let mut soft = binding(
                "sip:alice@198.51.100.2:40000;transport=tcp",
                Some("<urn:uuid:1>"),
                5_000,
                2,
            );
            soft.transport = "tcp".into();
            soft.connection = Some("tcp-17".into());
            s.upsert_binding(&desk).await.unwrap();
            s.upsert_binding(&soft).await.unwrap();
            let live = s.live_bindings("sip:alice@helpline", 1_000).await.unwrap();
            assert_eq!(live, vec![soft.clone(), desk.clone()], "{}", t.label);

            // The softphone re-registers from a new NAT port: same instance, binding replaced.
            let mut moved = soft.clone();
            moved.contact = "sip:alice@198.51.100.2:40444;transport=tcp".into();
            moved.cseq = 2;
            moved.expires_at_ms = 20_000;
            moved.updated_ms = 3;
            s.upsert_binding(&moved).await.unwrap();
            let live = s.live_bindings("sip:alice@helpline", 1_000).await.unwrap();
            assert_eq!(live, vec![moved.clone(), desk.clone()], "{}", t.label);

            // Expiry: at 15 s only the refreshed softphone is live; purge removes the desk phone.
            assert_eq!(
                s.live_bindings("sip:alice@helpline", 15_000).await.unwrap(),
                vec![moved.clone()]
            );
            assert_eq!(
                s.all_live_bindings(15_000).await.unwrap(),
                vec![moved.clone()]
            );
            assert_eq!(
                s.purge_expired_bindings(15_000).await.unwrap(),
                1,
                "{}",
                t.label
            );
            assert_eq!(s.all_live_bindings(0).await.unwrap(), vec![moved.clone()]);

            // Unregister one, then all.
            s.upsert_binding(&desk).await.unwrap();
            assert!(s
                .remove_binding("sip:alice@helpline", moved.key())
                .await
                .unwrap());
            assert!(!s
                .remove_binding("sip:alice@helpline", moved.key())
                .await
                .unwrap());
            assert_eq!(
                s.remove_all_bindings("sip:alice@helpline").await.unwrap(),
                1
            );
            assert!(
                s.all_live_bindings(0).await.unwrap().is_empty(),
                "{}",
                t.label
            );
            t.finish().await;
        }
    }
}
