//! CRM writes: bulk imports (all or nothing), knowledge-base articles, and the wrap-up — the
//! call's interaction row and its ticket change in one transaction — plus the outbox of outcomes
//! for an external CRM.

use super::backend::{values_list, with_pool, Backend, BeginWrite, RowExt};
use super::crm_read::{ticket_row, TICKET_COLS};
use super::error::{Result, StoreError};
use super::Store;
use crate::crm::model::{Contact, Interaction, Resolution, Ticket, TicketChoice, WrapUp};

/// Rows per multi-row INSERT (well under both backends' parameter limits).
const CHUNK: usize = 500;

/// What a saved wrap-up produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedInteraction {
    pub interaction_id: String,
    pub ticket: Option<Ticket>,
}

/// An outcome waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    pub interaction_id: String,
    pub payload: String,
    pub attempts: i64,
}

/// Bind a ticket's columns in `TICKET_COLS` order.
macro_rules! bind_ticket {
    ($q:expr, $t:expr) => {{
        let t: &Ticket = $t;
        $q.bind(&t.id)
            .bind(&t.number)
            .bind(&t.contact_id)
            .bind(&t.subject)
            .bind(&t.category)
            .bind(t.status.as_str())
            .bind(t.priority.level())
            .bind(t.tier)
            .bind(&t.owner)
            .bind(t.sla_due_ms)
            .bind(t.created_ms)
            .bind(t.updated_ms)
    }};
}

/// Append a line to a ticket's history inside the open transaction `$tx`.
macro_rules! history {
    ($tx:ident, $ticket:expr, $at:expr, $actor:expr, $what:expr) => {
        sqlx::query(
            "INSERT INTO ticket_history (ticket_id, at_ms, actor, what) VALUES ($1, $2, $3, $4)",
        )
        .bind($ticket)
        .bind($at)
        .bind($actor)
        .bind($what)
        .execute(&mut *$tx)
        .await?
    };
}

impl Store {
    /// Insert contacts (with their phones) in one transaction: all or none.
    pub async fn insert_contacts(&self, contacts: &[Contact], now_ms: i64) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            for chunk in contacts.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO contacts (id, name, organisation, email, language, tier, vip, \
                     account, notes, created_ms, updated_ms) VALUES {}",
                    values_list(chunk.len(), 11)
                );
                let mut q = sqlx::query(&sql);
                for c in chunk {
                    q = q
                        .bind(&c.id)
                        .bind(&c.name)
                        .bind(&c.organisation)
                        .bind(&c.email)
                        .bind(&c.language)
                        .bind(c.tier)
                        .bind(i64::from(c.vip))
                        .bind(&c.account)
                        .bind(&c.notes)
                        .bind(now_ms)
                        .bind(now_ms);
                }
                q.execute(&mut *tx).await?;
                let phones: Vec<(&str, &str)> = chunk
                    .iter()
                    .flat_map(|c| c.phones.iter().map(|p| (p.as_str(), c.id.as_str())))
                    .collect();
                for part in phones.chunks(CHUNK) {
                    let sql = format!(
                        "INSERT INTO contact_phones (number, contact_id) VALUES {} \
                         ON CONFLICT DO NOTHING",
                        values_list(part.len(), 2)
                    );
                    let mut q = sqlx::query(&sql);
                    for (n, id) in part {
                        q = q.bind(*n).bind(*id);
                    }
                    q.execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Insert tickets in one transaction: all or none.
    pub async fn insert_tickets(&self, tickets: &[Ticket]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            for chunk in tickets.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO tickets ({TICKET_COLS}) VALUES {}",
                    values_list(chunk.len(), 12)
                );
                let mut q = sqlx::query(&sql);
                for t in chunk {
                    q = bind_ticket!(q, t);
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Add or replace knowledge-base articles `(id, title, body, tags)`.
    pub async fn upsert_articles(
        &self,
        articles: &[(String, String, String, String)],
    ) -> Result<()> {
        let sqlite = self.backend() == Backend::Sqlite;
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            for (id, title, body, tags) in articles {
                sqlx::query(
                    "INSERT INTO kb_articles (id, title, body, tags) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (id) DO UPDATE SET title = $2, body = $3, tags = $4",
                )
                .bind(id)
                .bind(title)
                .bind(body)
                .bind(tags)
                .execute(&mut *tx)
                .await?;
                if sqlite {
                    sqlx::query("DELETE FROM kb_fts WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO kb_fts (id, title, body, tags) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id)
                    .bind(title)
                    .bind(body)
                    .bind(tags)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Store a call's interaction, and with a wrap-up also link or create its ticket and apply
    /// the resolution, all in one transaction. Saving the same call again updates its row.
    /// With `outbox` the outcome is also queued for the external CRM, in the same transaction.
    pub async fn save_interaction(
        &self,
        i: &Interaction,
        wrap: Option<&WrapUp>,
        outbox: bool,
        now_ms: i64,
    ) -> Result<SavedInteraction> {
        let actor = i.agent.clone();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin_write().await?;
            // Which ticket: the wrap-up's choice, else the one the IVR identified.
            let link = match wrap.and_then(|w| w.ticket.as_ref()) {
                Some(TicketChoice::Link(n)) => Some(n.clone()),
                Some(TicketChoice::Create(_)) => None,
                None => i.ticket_number.clone(),
            };
            let mut ticket: Option<Ticket> = None;
            if let Some(number) = link {
                let sql = format!("SELECT {TICKET_COLS} FROM tickets WHERE number = $1");
                let row = sqlx::query(&sql)
                    .bind(&number)
                    .fetch_optional(&mut *tx)
                    .await?;
                ticket = row.as_ref().map(ticket_row).transpose()?;
                // A ticket the agent names must be this caller's (or the one the IVR
                // identified): linking another customer's ticket would hand its owner and
                // contact to whoever typed the number. Refused before anything is written.
                // With an external CRM (`outbox`) a ticket not stored here is that CRM's to
                // check: nothing changes here for it, the outcome carries the call's contact.
                if let Some(TicketChoice::Link(_)) = wrap.and_then(|w| w.ticket.as_ref()) {
                    let own = match ticket.as_ref() {
                        Some(t) => {
                            i.ticket_number.as_deref() == Some(t.number.as_str())
                                || (t.contact_id.is_some() && t.contact_id == i.contact_id)
                        }
                        None => outbox,
                    };
                    if !own {
                        return Err(StoreError::Refused(format!(
                            "ticket `{number}` is not one of this caller's tickets; link one of \
                             theirs or create a new ticket"
                        )));
                    }
                }
            }
            if let Some(TicketChoice::Create(new)) = wrap.and_then(|w| w.ticket.as_ref()) {
                let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM tickets")
                    .fetch_one(&mut *tx)
                    .await?
                    .int("n")?;
                let t = Ticket {
                    id: uuid::Uuid::now_v7().to_string(),
                    number: format!("T-{}", 100_001 + count),
                    contact_id: i.contact_id.clone(),
                    subject: new.subject.clone(),
                    category: new.category.clone(),
                    status: crate::crm::model::TicketStatus::Open,
                    priority: new.priority,
                    tier: 1,
                    owner: actor.clone(),
                    sla_due_ms: None,
                    created_ms: now_ms,
                    updated_ms: now_ms,
                };
                let sql = format!(
                    "INSERT INTO tickets ({TICKET_COLS}) VALUES {}",
                    values_list(1, 12)
                );
                bind_ticket!(sqlx::query(&sql), &t)
                    .execute(&mut *tx)
                    .await?;
                history!(tx, &t.id, now_ms, actor.as_deref(), "created during a call");
                ticket = Some(t);
            }
            if let (Some(t), Some(w)) = (ticket.as_mut(), wrap) {
                apply_resolution(t, w.resolution, actor.as_deref(), now_ms);
                sqlx::query(
                    "UPDATE tickets SET status = $2, tier = $3, owner = $4, updated_ms = $5, \
                     resolved_ms = CASE WHEN $2 = 'resolved' THEN $5 ELSE resolved_ms END \
                     WHERE id = $1",
                )
                .bind(&t.id)
                .bind(t.status.as_str())
                .bind(t.tier)
                .bind(&t.owner)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
                let what = format!(
                    "call {}: {} ({})",
                    i.call_id,
                    w.resolution.as_str(),
                    w.disposition
                );
                history!(tx, &t.id, now_ms, actor.as_deref(), &what);
            }
            let contact = i
                .contact_id
                .clone()
                .or_else(|| ticket.as_ref().and_then(|t| t.contact_id.clone()));
            let path = serde_json::to_string(&i.ivr_path).unwrap_or_else(|_| "[]".into());
            let row = sqlx::query(
                "INSERT INTO interactions (id, call_id, ticket_id, contact_id, caller, called, \
                 queue, agent, ivr_path, arrived_ms, wait_ms, ring_ms, talk_ms, hold_ms, wrap_ms, \
                 abandoned, callback, disposition, resolution, notes, recording, survey_score, \
                 ended_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,\
                 $19,$20,$21,$22,$23) ON CONFLICT (id) DO UPDATE SET \
                 ticket_id = COALESCE($3, interactions.ticket_id), \
                 contact_id = COALESCE($4, interactions.contact_id), queue = $7, agent = $8, \
                 ivr_path = $9, wait_ms = $11, ring_ms = $12, talk_ms = $13, hold_ms = $14, \
                 wrap_ms = $15, abandoned = $16, callback = $17, \
                 disposition = COALESCE($18, interactions.disposition), \
                 resolution = COALESCE($19, interactions.resolution), \
                 notes = COALESCE($20, interactions.notes), \
                 recording = COALESCE($21, interactions.recording), \
                 survey_score = COALESCE($22, interactions.survey_score), ended_ms = $23 \
                 RETURNING id",
            )
            .bind(&i.id)
            .bind(&i.call_id)
            .bind(ticket.as_ref().map(|t| t.id.clone()))
            .bind(&contact)
            .bind(&i.caller)
            .bind(&i.called)
            .bind(&i.queue)
            .bind(&i.agent)
            .bind(&path)
            .bind(i.arrived_ms)
            .bind(i.wait_ms)
            .bind(i.ring_ms)
            .bind(i.talk_ms)
            .bind(i.hold_ms)
            .bind(i.wrap_ms)
            .bind(i64::from(i.abandoned))
            .bind(i64::from(i.callback))
            .bind(wrap.map(|w| w.disposition.clone()))
            .bind(wrap.map(|w| w.resolution.as_str()))
            .bind(wrap.map(|w| w.notes.clone()))
            .bind(&i.recording)
            .bind(i.survey_score)
            .bind(i.ended_ms)
            .fetch_one(&mut *tx)
            .await?;
            let interaction_id = row.text("id")?;
            if outbox {
                let payload = serde_json::json!({
                    "interaction_id": interaction_id,
                    "interaction": i,
                    "wrapup": wrap,
                    "ticket": ticket,
                })
                .to_string();
                sqlx::query(
                    "INSERT INTO crm_outbox (interaction_id, payload, created_ms, next_attempt_ms) \
                     VALUES ($1, $2, $3, $3) ON CONFLICT (interaction_id) DO UPDATE SET \
                     payload = $2, delivered_ms = NULL, next_attempt_ms = $3",
                )
                .bind(&interaction_id)
                .bind(&payload)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(SavedInteraction {
                interaction_id,
                ticket,
            })
        })
    }

    /// The caller's survey score, on the call's interaction (false if none is stored yet).
    pub async fn set_survey_score(&self, call_id: &str, score: i64) -> Result<bool> {
        with_pool!(&self.db, |pool| {
            let done = sqlx::query("UPDATE interactions SET survey_score = $2 WHERE call_id = $1")
                .bind(call_id)
                .bind(score)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Outcomes due for (re)delivery, oldest first.
    pub async fn outbox_due(&self, now_ms: i64, limit: i64) -> Result<Vec<OutboxItem>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(
                "SELECT interaction_id, payload, attempts FROM crm_outbox \
                 WHERE delivered_ms IS NULL AND next_attempt_ms <= $1 \
                 ORDER BY created_ms LIMIT $2",
            )
            .bind(now_ms)
            .bind(limit)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(OutboxItem {
                        interaction_id: r.text("interaction_id")?,
                        payload: r.text("payload")?,
                        attempts: r.int("attempts")?,
                    })
                })
                .collect()
        })
    }

    /// Outcomes not yet delivered.
    pub async fn outbox_pending(&self) -> Result<i64> {
        with_pool!(&self.db, |pool| {
            Ok(
                sqlx::query("SELECT COUNT(*) AS n FROM crm_outbox WHERE delivered_ms IS NULL")
                    .fetch_one(pool)
                    .await?
                    .int("n")?,
            )
        })
    }

    pub async fn outbox_delivered(&self, interaction_id: &str, now_ms: i64) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE crm_outbox SET delivered_ms = $2, attempts = attempts + 1 \
                 WHERE interaction_id = $1",
            )
            .bind(interaction_id)
            .bind(now_ms)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn outbox_failed(
        &self,
        interaction_id: &str,
        next_attempt_ms: i64,
        error: &str,
    ) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE crm_outbox SET attempts = attempts + 1, next_attempt_ms = $2, \
                 last_error = $3 WHERE interaction_id = $1",
            )
            .bind(interaction_id)
            .bind(next_attempt_ms)
            .bind(error)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}

/// Resolved → resolved; escalated → next tier, unowned, open again; open → stays open, owned by
/// the agent when nobody owned it.
fn apply_resolution(t: &mut Ticket, r: Resolution, agent: Option<&str>, now_ms: i64) {
    use crate::crm::model::TicketStatus;
    match r {
        Resolution::Resolved => t.status = TicketStatus::Resolved,
        Resolution::Escalated => {
            t.tier = (t.tier + 1).min(3);
            t.owner = None;
            t.status = TicketStatus::Open;
        }
        Resolution::Open => {
            if t.owner.is_none() {
                t.owner = agent.map(str::to_string);
            }
            if !t.status.is_open() {
                t.status = TicketStatus::Open;
            }
        }
    }
    t.updated_ms = now_ms;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::model::Resolution;

    fn ticket() -> Ticket {
        Ticket {
            id: "t".into(),
            number: "T-1".into(),
            contact_id: None,
            subject: "s".into(),
            category: None,
            status: crate::crm::model::TicketStatus::Open,
            priority: crate::crm::model::Priority::Normal,
            tier: 1,
            owner: Some("alice".into()),
            sla_due_ms: None,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn escalation_raises_the_tier_and_frees_the_ticket_for_that_tier() {
        let mut t = ticket();
        apply_resolution(&mut t, Resolution::Escalated, Some("bob"), 5);
        assert_eq!((t.tier, t.owner.as_deref(), t.updated_ms), (2, None, 5));
        t.tier = 3;
        apply_resolution(&mut t, Resolution::Escalated, Some("bob"), 6);
        assert_eq!(t.tier, 3, "tier 3 is the top");
    }

    fn contact(id: &str) -> Contact {
        Contact {
            id: id.into(),
            name: id.into(),
            organisation: None,
            phones: vec![],
            email: None,
            language: None,
            tier: 1,
            vip: false,
            notes: None,
            account: None,
        }
    }

    /// Issue 14 row 1: an agent could link any ticket number at wrap-up and, with "open",
    /// become its owner (and so read that customer's contact and tickets).
    #[tokio::test]
    async fn a_wrap_up_links_only_the_callers_own_tickets() {
        use super::super::test_support::test_stores;
        for ts in test_stores("wrapup_foreign_ticket").await {
            let s = &ts.store;
            s.insert_contacts(&[contact("c-caller"), contact("c-victim")], 1)
                .await
                .unwrap();
            let mut mine = ticket();
            mine.id = "t-mine".into();
            mine.number = "T-1".into();
            mine.contact_id = Some("c-caller".into());
            mine.owner = None;
            let mut theirs = mine.clone();
            theirs.id = "t-theirs".into();
            theirs.number = "T-2".into();
            theirs.contact_id = Some("c-victim".into());
            let mut orphan = mine.clone();
            orphan.id = "t-orphan".into();
            orphan.number = "T-3".into();
            orphan.contact_id = None;
            s.insert_tickets(&[mine, theirs, orphan]).await.unwrap();
            let call = |id: &str| Interaction {
                id: format!("i-{id}"),
                call_id: id.into(),
                contact_id: Some("c-caller".into()),
                agent: Some("mallory".into()),
                ..Default::default()
            };
            let link = |n: &str| WrapUp {
                disposition: "resolved".into(),
                notes: String::new(),
                ticket: Some(TicketChoice::Link(n.into())),
                resolution: Resolution::Open,
            };
            for (foreign, outbox) in [("T-2", true), ("T-3", true), ("T-404", false)] {
                let err = s
                    .save_interaction(&call("c1"), Some(&link(foreign)), outbox, 5)
                    .await
                    .unwrap_err();
                assert!(
                    matches!(&err, StoreError::Refused(m) if m.contains(foreign)),
                    "{}: {err}",
                    ts.label
                );
            }
            // With an external CRM a ticket not stored here is that CRM's to check.
            let ext = s
                .save_interaction(&call("c0"), Some(&link("T-404")), true, 5)
                .await
                .unwrap();
            assert_eq!(ext.ticket, None, "{}", ts.label);
            with_pool!(&s.db, |pool| {
                sqlx::query("DELETE FROM crm_outbox")
                    .execute(pool)
                    .await
                    .unwrap();
                sqlx::query("DELETE FROM interactions")
                    .execute(pool)
                    .await
                    .unwrap();
            });
            // Nothing changed: still unowned, no interaction stored, nothing queued.
            let t = s.ticket_by_number("T-2").await.unwrap().unwrap();
            assert_eq!(t.owner, None, "{}", ts.label);
            assert_eq!(t.updated_ms, 0, "{}", ts.label);
            assert!(s.ticket_interactions("t-theirs").await.unwrap().is_empty());
            assert_eq!(s.outbox_pending().await.unwrap(), 0, "{}", ts.label);
            // The caller's own ticket links, and the agent owns it.
            let saved = s
                .save_interaction(&call("c2"), Some(&link("T-1")), false, 6)
                .await
                .unwrap();
            let t = saved.ticket.unwrap();
            assert_eq!(
                (t.number.as_str(), t.owner.as_deref()),
                ("T-1", Some("mallory"))
            );
            // The ticket the IVR identified for this call links too (even without a contact).
            let mut ivr = call("c3");
            ivr.ticket_number = Some("T-3".into());
            let saved = s
                .save_interaction(&ivr, Some(&link("T-3")), false, 7)
                .await
                .unwrap();
            assert_eq!(saved.ticket.map(|t| t.number), Some("T-3".into()));
            ts.finish().await;
        }
    }

    #[test]
    fn resolving_and_keeping_open() {
        let mut t = ticket();
        t.owner = None;
        apply_resolution(&mut t, Resolution::Open, Some("bob"), 1);
        assert_eq!(t.owner.as_deref(), Some("bob"));
        apply_resolution(&mut t, Resolution::Resolved, Some("bob"), 2);
        assert_eq!(t.status, crate::crm::model::TicketStatus::Resolved);
    }
}
