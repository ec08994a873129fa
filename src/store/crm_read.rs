//! CRM reads: contacts by number, account or id; tickets; a contact's recent calls; knowledge-base
//! search; paged lists for the REST API. The screen-pop is assembled from these.

use super::backend::{with_pool, Backend, RowExt};
use super::error::{Result, StoreError};
use super::Store;
use crate::crm::model::{Article, Contact, InteractionSummary, Priority, Ticket, TicketStatus};

const CONTACT_COLS: &str = "id, name, organisation, email, language, tier, vip, account, notes";
pub(crate) const TICKET_COLS: &str =
    "id, number, contact_id, subject, category, status, priority, \
     tier, owner, sla_due_ms, created_ms, updated_ms";

fn contact_row(row: &impl RowExt) -> Result<Contact> {
    Ok(Contact {
        id: row.text("id")?,
        name: row.text("name")?,
        organisation: row.opt_text("organisation")?,
        phones: Vec::new(),
        email: row.opt_text("email")?,
        language: row.opt_text("language")?,
        tier: row.int("tier")?,
        vip: row.int("vip")? != 0,
        notes: row.opt_text("notes")?,
        account: row.opt_text("account")?,
    })
}

pub(crate) fn ticket_row(row: &impl RowExt) -> Result<Ticket> {
    let status = row.text("status")?;
    Ok(Ticket {
        id: row.text("id")?,
        number: row.text("number")?,
        contact_id: row.opt_text("contact_id")?,
        subject: row.text("subject")?,
        category: row.opt_text("category")?,
        status: TicketStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("ticket status `{status}`")))?,
        priority: Priority::from_level(row.int("priority")?),
        tier: row.int("tier")?,
        owner: row.opt_text("owner")?,
        sla_due_ms: row.opt_int("sla_due_ms")?,
        created_ms: row.int("created_ms")?,
        updated_ms: row.int("updated_ms")?,
    })
}

fn interaction_row(row: &impl RowExt) -> Result<InteractionSummary> {
    Ok(InteractionSummary {
        id: row.text("id")?,
        call_id: row.text("call_id")?,
        at_ms: row.int("arrived_ms")?,
        queue: row.opt_text("queue")?,
        agent: row.opt_text("agent")?,
        agent_name: None,
        disposition: row.opt_text("disposition")?,
        disposition_label: None,
        resolution: row.opt_text("resolution")?,
        wait_secs: row.int("wait_ms")? as f64 / 1000.0,
        talk_secs: row.int("talk_ms")? as f64 / 1000.0,
        abandoned: row.int("abandoned")? != 0,
        ticket_number: row.opt_text("ticket_number")?,
        survey_score: row.opt_int("survey_score")?,
        recording: row.opt_text("recording")?,
    })
}

const INTERACTION_SELECT: &str = "SELECT i.id, i.call_id, i.arrived_ms, i.queue, i.agent, \
     i.disposition, i.resolution, i.wait_ms, i.talk_ms, i.abandoned, i.survey_score, i.recording, \
     t.number AS ticket_number FROM interactions i LEFT JOIN tickets t ON t.id = i.ticket_id";

/// One page of a list: `offset` rows skipped, at most `limit` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Store {
    /// Contacts owning this E.164 number (several for a shared line), with their phones.
    pub async fn contacts_by_phone(&self, number: &str) -> Result<Vec<Contact>> {
        let sql = format!(
            "SELECT {CONTACT_COLS} FROM contacts WHERE id IN \
             (SELECT contact_id FROM contact_phones WHERE number = $1) ORDER BY name LIMIT 10"
        );
        let mut found = with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql).bind(number).fetch_all(pool).await?;
            rows.iter().map(contact_row).collect::<Result<Vec<_>>>()
        })?;
        self.fill_phones(&mut found).await?;
        Ok(found)
    }

    pub async fn contact_by_account(&self, account: &str) -> Result<Option<Contact>> {
        self.one_contact("account", account).await
    }

    pub async fn contact(&self, id: &str) -> Result<Option<Contact>> {
        self.one_contact("id", id).await
    }

    async fn one_contact(&self, col: &'static str, value: &str) -> Result<Option<Contact>> {
        let sql = format!("SELECT {CONTACT_COLS} FROM contacts WHERE {col} = $1");
        let found = with_pool!(&self.db, |pool| {
            let row = sqlx::query(&sql).bind(value).fetch_optional(pool).await?;
            row.as_ref().map(contact_row).transpose()
        })?;
        let mut list: Vec<Contact> = found.into_iter().collect();
        self.fill_phones(&mut list).await?;
        Ok(list.pop())
    }

    async fn fill_phones(&self, contacts: &mut [Contact]) -> Result<()> {
        for c in contacts.iter_mut() {
            c.phones = with_pool!(&self.db, |pool| {
                let rows = sqlx::query(
                    "SELECT number FROM contact_phones WHERE contact_id = $1 ORDER BY number",
                )
                .bind(&c.id)
                .fetch_all(pool)
                .await?;
                rows.iter()
                    .map(|r| r.text("number"))
                    .collect::<Result<Vec<_>>>()
            })?;
        }
        Ok(())
    }

    /// A ticket by its number (`T-1001`); digits alone (`1001`, as typed on a keypad) also match.
    pub async fn ticket_by_number(&self, number: &str) -> Result<Option<Ticket>> {
        let sql = format!("SELECT {TICKET_COLS} FROM tickets WHERE number = $1 OR number = $2");
        let prefixed = format!("T-{number}");
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(&sql)
                .bind(number)
                .bind(&prefixed)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(ticket_row).transpose()
        })
    }

    /// A contact's open and pending tickets, most urgent first, then newest.
    pub async fn open_tickets(&self, contact_id: &str, limit: i64) -> Result<Vec<Ticket>> {
        let sql = format!(
            "SELECT {TICKET_COLS} FROM tickets WHERE contact_id = $1 \
             AND status IN ('open', 'pending') ORDER BY priority DESC, updated_ms DESC LIMIT $2"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(contact_id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(ticket_row).collect()
        })
    }

    /// A contact's latest calls, newest first.
    pub async fn recent_interactions(
        &self,
        contact_id: &str,
        limit: i64,
    ) -> Result<Vec<InteractionSummary>> {
        let sql = format!(
            "{INTERACTION_SELECT} WHERE i.contact_id = $1 ORDER BY i.arrived_ms DESC LIMIT $2"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(contact_id)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(interaction_row).collect()
        })
    }

    /// Every call linked to a ticket, oldest first.
    pub async fn ticket_interactions(&self, ticket_id: &str) -> Result<Vec<InteractionSummary>> {
        let sql = format!("{INTERACTION_SELECT} WHERE i.ticket_id = $1 ORDER BY i.arrived_ms");
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql).bind(ticket_id).fetch_all(pool).await?;
            rows.iter().map(interaction_row).collect()
        })
    }

    /// Knowledge-base articles matching any of the words, best first.
    pub async fn search_articles(&self, words: &str, limit: i64) -> Result<Vec<Article>> {
        let terms: Vec<String> = words
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.len() > 1)
            .map(str::to_lowercase)
            .collect();
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, query) = match self.backend() {
            Backend::Sqlite => (
                "SELECT a.id, a.title, a.body FROM kb_fts f JOIN kb_articles a ON a.id = f.id \
                 WHERE kb_fts MATCH $1 ORDER BY rank LIMIT $2",
                terms
                    .iter()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(" OR "),
            ),
            Backend::Postgres => (
                "SELECT id, title, body FROM kb_articles WHERE search @@ to_tsquery('simple', $1) \
                 ORDER BY ts_rank(search, to_tsquery('simple', $1)) DESC LIMIT $2",
                terms.join(" | "),
            ),
        };
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(sql)
                .bind(&query)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let body = r.text("body")?;
                    Ok(Article {
                        id: r.text("id")?,
                        title: r.text("title")?,
                        snippet: body.chars().take(160).collect(),
                    })
                })
                .collect()
        })
    }

    /// Contacts whose name, organisation, email or account contains `q` (all when empty).
    pub async fn list_contacts(&self, q: &str, page: Page) -> Result<Vec<Contact>> {
        let sql = format!(
            "SELECT {CONTACT_COLS} FROM contacts WHERE $1 = '' OR LOWER(name) LIKE $2 \
             OR LOWER(COALESCE(organisation, '')) LIKE $2 OR LOWER(COALESCE(email, '')) LIKE $2 \
             OR account = $1 ORDER BY name, id LIMIT $3 OFFSET $4"
        );
        let like = format!("%{}%", q.to_lowercase());
        let mut found = with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(q)
                .bind(&like)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(pool)
                .await?;
            rows.iter().map(contact_row).collect::<Result<Vec<_>>>()
        })?;
        self.fill_phones(&mut found).await?;
        Ok(found)
    }

    /// Tickets, newest first, optionally of one contact and/or one status.
    pub async fn list_tickets(
        &self,
        contact_id: Option<&str>,
        status: Option<TicketStatus>,
        page: Page,
    ) -> Result<Vec<Ticket>> {
        let sql = format!(
            "SELECT {TICKET_COLS} FROM tickets WHERE ($1 = '' OR contact_id = $1) \
             AND ($2 = '' OR status = $2) ORDER BY updated_ms DESC, id LIMIT $3 OFFSET $4"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(contact_id.unwrap_or(""))
                .bind(status.map(|s| s.as_str()).unwrap_or(""))
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(pool)
                .await?;
            rows.iter().map(ticket_row).collect()
        })
    }

    /// Calls, newest first, optionally of one ticket (by id).
    pub async fn list_interactions(
        &self,
        ticket_id: Option<&str>,
        page: Page,
    ) -> Result<Vec<InteractionSummary>> {
        let sql = format!(
            "{INTERACTION_SELECT} WHERE ($1 = '' OR i.ticket_id = $1) \
             ORDER BY i.arrived_ms DESC, i.id LIMIT $2 OFFSET $3"
        );
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query(&sql)
                .bind(ticket_id.unwrap_or(""))
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(pool)
                .await?;
            rows.iter().map(interaction_row).collect()
        })
    }

    /// An agent's answered calls since `since_ms`: (count, talk ms, talk + wrap-up ms).
    pub async fn agent_day(&self, agent: &str, since_ms: i64) -> Result<(i64, i64, i64)> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(talk_ms), 0) AS BIGINT) AS talk, \
                 CAST(COALESCE(SUM(talk_ms + wrap_ms), 0) AS BIGINT) AS handle FROM interactions \
                 WHERE agent = $1 AND arrived_ms >= $2 AND abandoned = 0",
            )
            .bind(agent)
            .bind(since_ms)
            .fetch_one(pool)
            .await?;
            Ok((row.int("n")?, row.int("talk")?, row.int("handle")?))
        })
    }

    /// Has this agent handled a call of this contact, or does they own one of their tickets?
    pub async fn agent_knows_contact(&self, agent: &str, contact_id: &str) -> Result<bool> {
        with_pool!(&self.db, |pool| {
            let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM interactions WHERE agent = $1 AND contact_id = $2) \
                 + (SELECT COUNT(*) FROM tickets WHERE owner = $1 AND contact_id = $2) AS n",
            )
            .bind(agent)
            .bind(contact_id)
            .fetch_one(pool)
            .await?;
            Ok(row.int("n")? > 0)
        })
    }

    /// Account number → contact id, for ticket imports.
    pub async fn account_index(&self) -> Result<std::collections::HashMap<String, String>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query("SELECT account, id FROM contacts WHERE account IS NOT NULL")
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.text("account")?, r.text("id")?)))
                .collect()
        })
    }

    /// Contact ids owning a number: one indexed lookup (the pop benchmark's reference floor).
    pub async fn contacts_by_phone_ids(&self, number: &str) -> Result<Vec<String>> {
        with_pool!(&self.db, |pool| {
            let rows = sqlx::query("SELECT contact_id FROM contact_phones WHERE number = $1")
                .bind(number)
                .fetch_all(pool)
                .await?;
            rows.iter().map(|r| r.text("contact_id")).collect()
        })
    }
}
