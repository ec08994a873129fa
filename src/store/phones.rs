//! Contact numbers keyed again when the rules that normalise them change (the hand-written
//! table of nine regions gave way to libphonenumber's metadata): a number the old rules stored
//! as `+44020…` (from `+44 (0)20 …`) becomes `+4420…`, so existing contacts keep popping.

use super::backend::{with_pool, BeginWrite, RowExt};
use super::{Result, Store};

impl Store {
    /// Re-key every stored contact number with `normalise` (a number it cannot read stays as
    /// it is), in one write transaction. Returns how many numbers changed.
    pub async fn renormalise_phones(
        &self,
        normalise: impl Fn(&str) -> Option<String>,
    ) -> Result<usize> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query("SELECT number, contact_id FROM contact_phones")
                .fetch_all(&mut *tx)
                .await?;
            let mut changed = 0;
            for r in &rows {
                let (number, contact) = (r.text("number")?, r.text("contact_id")?);
                let Some(new) = normalise(&number).filter(|n| *n != number) else {
                    continue;
                };
                sqlx::query(
                    "INSERT INTO contact_phones (number, contact_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(&new)
                .bind(&contact)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM contact_phones WHERE number = $1 AND contact_id = $2")
                    .bind(&number)
                    .bind(&contact)
                    .execute(&mut *tx)
                    .await?;
                changed += 1;
            }
            tx.commit().await?;
            Ok(changed)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::backend::with_pool;
    use crate::store::test_support::test_stores;

    #[tokio::test]
    async fn numbers_stored_by_the_old_table_pop_after_the_upgrade() {
        for t in test_stores("phones_renormalise").await {
            let s = &t.store;
            // As the old table stored them: `+44 (0)20 7946 0000` kept its bracketed zero.
            for (id, number) in [("c1", "+4402079460000"), ("c2", "+353012345678")] {
                with_pool!(&s.db, |pool| {
                    sqlx::query(
                        "INSERT INTO contacts (id, name, created_ms, updated_ms) \
                         VALUES ($1, $1, 0, 0)",
                    )
                    .bind(id)
                    .execute(pool)
                    .await
                    .unwrap();
                    sqlx::query("INSERT INTO contact_phones (number, contact_id) VALUES ($1, $2)")
                        .bind(number)
                        .bind(id)
                        .execute(pool)
                        .await
                        .unwrap();
                });
            }
            let caller = crate::phone::normalise("+44 20 7946 0000", "GB").unwrap();
            assert!(
                s.contacts_by_phone_ids(&caller).await.unwrap().is_empty(),
                "{}: before, the caller does not match the stored form",
                t.label
            );
            let changed = s
                .renormalise_phones(|n| crate::phone::normalise(n, "GB"))
                .await
                .unwrap();
            assert_eq!(changed, 2, "{}", t.label);
            assert_eq!(
                s.contacts_by_phone_ids(&caller).await.unwrap(),
                vec!["c1".to_string()],
                "{}",
                t.label
            );
            let irish = crate::phone::normalise("01 234 5678", "IE").unwrap();
            assert_eq!(
                s.contacts_by_phone_ids(&irish).await.unwrap(),
                vec!["c2".to_string()]
            );
            let again = s
                .renormalise_phones(|n| crate::phone::normalise(n, "GB"))
                .await
                .unwrap();
            assert_eq!(again, 0, "{}: a second pass changes nothing", t.label);
            t.finish().await;
        }
    }
}
