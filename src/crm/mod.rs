//! The CRM as the call centre sees it: who is calling, what is open for them, and where each
//! call's outcome is written.
//!
//! - [`model`]: contacts, tickets, interactions, the screen-pop (the JSON the agent gets).
//! - [`pop`], [`fcr`]: the pure rules (which contact, ticket order, repeat callers, FCR).
//! - [`Crm`]: the service the call layer and the web edge use. It asks the built-in store (or an
//!   external CRM) with a deadline, so a slow CRM never holds up a call: the pop then says
//!   "unavailable" and the call rings anyway.
//! - [`import`], [`demo`]: CSV import (all or nothing) and the demo data set.

pub mod breaker;
pub mod demo;
pub mod fcr;
pub mod import;
pub mod model;
pub mod pop;

use crate::config::CrmSettings;
use crate::ivr::crm::{CallerFacts, LookupAnswer, LookupKind, TicketFact, TicketPriority};
use crate::store::Store;
use model::{Contact, Interaction, IvrSummary, Pop, Ticket, WrapUp};
use std::time::Duration;

const DAY_MS: i64 = 86_400_000;

/// What the pop is built from: the caller and what the IVR learnt.
#[derive(Debug, Clone, Default)]
pub struct PopRequest {
    /// The caller's number as received (normalised here).
    pub caller: String,
    /// Account number typed in the IVR, if any.
    pub account: Option<String>,
    /// Ticket number typed in the IVR, if any.
    pub ticket: Option<String>,
    pub ivr: IvrSummary,
    pub wait_secs: f64,
    pub now_ms: i64,
}

/// The CRM service. Cheap to clone.
#[derive(Clone)]
pub struct Crm {
    store: Store,
    settings: CrmSettings,
    region: String,
}

impl Crm {
    pub fn new(store: Store, settings: CrmSettings, default_region: &str) -> Crm {
        Crm {
            store,
            settings,
            region: default_region.to_string(),
        }
    }

    pub fn settings(&self) -> &CrmSettings {
        &self.settings
    }

    /// A number in any form (`+44 20…`, `020…`, `tel:`, `sip:+44…@host`) as E.164.
    pub fn normalise(&self, number: &str) -> Option<String> {
        crate::phone::normalise(number, &self.region)
    }

    fn deadline(&self) -> Duration {
        Duration::from_millis(self.settings.pop_timeout_ms.max(1))
    }

    /// The screen-pop for a call; "unavailable" when the CRM fails or misses the deadline.
    pub async fn pop(&self, req: &PopRequest) -> Pop {
        match tokio::time::timeout(self.deadline(), self.build_pop(req)).await {
            Ok(Ok(pop)) => pop,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "CRM lookup failed; pop sent without it");
                pop::unavailable(&req.caller, req.wait_secs, req.ivr.clone())
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = self.settings.pop_timeout_ms,
                    "CRM too slow; pop sent without it"
                );
                pop::unavailable(&req.caller, req.wait_secs, req.ivr.clone())
            }
        }
    }

    async fn build_pop(&self, req: &PopRequest) -> crate::store::Result<Pop> {
        let caller = self.normalise(&req.caller);
        let matches = match &caller {
            Some(n) => self.store.contacts_by_phone(n).await?,
            None => Vec::new(),
        };
        let mut identified: Option<Contact> = None;
        let mut ticket_hit: Option<Ticket> = None;
        if let Some(t) = &req.ticket {
            ticket_hit = self.store.ticket_by_number(t).await?;
            if let Some(cid) = ticket_hit.as_ref().and_then(|t| t.contact_id.clone()) {
                identified = self.store.contact(&cid).await?;
            }
        }
        if identified.is_none() {
            if let Some(a) = &req.account {
                identified = self.store.contact_by_account(a).await?;
            }
        }
        let contact = pop::choose_contact(identified, &matches);
        let (mut tickets, interactions) = match &contact {
            Some(c) => (
                self.store.open_tickets(&c.id, 20).await?,
                self.store.recent_interactions(&c.id, 5).await?,
            ),
            None => (Vec::new(), Vec::new()),
        };
        if let Some(t) = ticket_hit {
            if !tickets.iter().any(|x| x.id == t.id) {
                tickets.push(t);
            }
        }
        pop::order_tickets(&mut tickets);
        let mut words = String::new();
        for w in req
            .ivr
            .choice
            .iter()
            .chain(tickets.iter().filter_map(|t| t.category.as_ref()))
        {
            words.push_str(w);
            words.push(' ');
        }
        let articles = self.store.search_articles(&words, 3).await?;
        let repeat = pop::is_repeat(
            &interactions,
            req.now_ms,
            i64::from(self.settings.repeat_days) * DAY_MS,
        );
        Ok(Pop {
            status: pop::status(&matches, &contact),
            caller: caller.unwrap_or_else(|| req.caller.clone()),
            matches,
            contact,
            tickets,
            interactions,
            ivr: req.ivr.clone(),
            wait_secs: req.wait_secs,
            articles,
            repeat_caller: repeat,
        })
    }

    /// Answer one IVR lookup (caller number, account or ticket typed), within the deadline.
    pub async fn lookup(&self, kind: LookupKind, value: &str) -> LookupAnswer {
        match tokio::time::timeout(self.deadline(), self.lookup_inner(kind, value)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, ?kind, "CRM lookup failed");
                LookupAnswer::Unavailable
            }
            Err(_) => LookupAnswer::Unavailable,
        }
    }

    async fn lookup_inner(
        &self,
        kind: LookupKind,
        value: &str,
    ) -> crate::store::Result<LookupAnswer> {
        let contact = match kind {
            LookupKind::Ticket => {
                return Ok(match self.store.ticket_by_number(value).await? {
                    Some(t) if t.status.is_open() => LookupAnswer::Ticket(ticket_fact(&t)),
                    _ => LookupAnswer::NotFound,
                })
            }
            LookupKind::Caller => match self.normalise(value) {
                Some(n) => self.store.contacts_by_phone(&n).await?.into_iter().next(),
                None => None,
            },
            LookupKind::Account => self.store.contact_by_account(value).await?,
        };
        let Some(c) = contact else {
            return Ok(LookupAnswer::NotFound);
        };
        let open = self.store.open_tickets(&c.id, 1).await?;
        Ok(LookupAnswer::Contact(CallerFacts {
            contact_id: c.id,
            vip: c.vip,
            open_ticket: open.first().map(ticket_fact),
        }))
    }

    /// Store a call's interaction (and with a wrap-up, its ticket change) in one transaction.
    pub async fn save(
        &self,
        interaction: &Interaction,
        wrap: Option<&WrapUp>,
        now_ms: i64,
    ) -> crate::store::Result<crate::store::SavedInteraction> {
        let outbox = self.settings.provider == "http";
        self.store
            .save_interaction(interaction, wrap, outbox, now_ms)
            .await
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

fn ticket_fact(t: &Ticket) -> TicketFact {
    use model::Priority;
    TicketFact {
        id: t.number.clone(),
        priority: match t.priority {
            Priority::Low => TicketPriority::Low,
            Priority::Normal => TicketPriority::Normal,
            Priority::High => TicketPriority::High,
            Priority::Urgent => TicketPriority::Urgent,
        },
    }
}
