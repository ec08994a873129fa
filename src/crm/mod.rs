//! The CRM as the call centre sees it: who is calling, what is open for them, and where each
//! call's outcome is written.
//!
//! - [`model`]: contacts, tickets, interactions, the screen-pop (the JSON the agent gets).
//! - [`pop`], [`fcr`]: the pure rules (which contact, ticket order, repeat callers, FCR).
//! - [`Crm`]: the service the call layer and the web edge use. It asks the built-in store (or an
//!   external CRM) with a deadline, so a slow CRM never holds up a call: the pop then says
//!   "unavailable" and the call rings anyway.
//! - [`http`], [`breaker`], [`outbox`]: the external CRM over HTTP/JSON (`[crm] provider =
//!   "http"`): lookups go to it behind a circuit breaker; outcomes are stored locally first and
//!   delivered from the outbox by a background task ([`outbox::spawn_outbox`]).
//! - [`import`], [`demo`]: CSV import (all or nothing) and the demo data set.
//! - [`voicemail`]: a message left in the IVR, filed on the caller's ticket (or a new one).

pub mod breaker;
pub mod demo;
pub mod fcr;
pub mod http;
pub mod import;
pub mod model;
pub mod outbox;
pub mod pop;
mod routing;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_http;
pub mod voicemail;

use crate::config::CrmSettings;
use crate::ivr::crm::{CallerFacts, LookupAnswer, LookupKind, TicketFact, TicketPriority};
use crate::store::{Store, StoreError};
use http::{HttpCrm, HttpError};
use model::{Contact, Interaction, InteractionSummary, IvrSummary, Pop, Ticket, WrapUp};
use std::collections::HashMap;
use std::sync::Arc;
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
    /// The ISO region of the line the call came in on (`[sip] line_regions`, a trunk's
    /// `region`); empty: `default_region`.
    pub region: String,
}

/// Why a CRM read failed.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl CrmError {
    /// The external CRM's circuit breaker refused the request (the outage is already logged).
    pub fn is_breaker_open(&self) -> bool {
        matches!(self, CrmError::Http(e) if e.is_breaker_open())
    }
}

/// Where contacts, tickets and past interactions are read from. The knowledge base, the
/// interaction rows and the outbox are always in our own store.
#[derive(Clone)]
enum Source {
    Builtin(Store),
    Http(HttpCrm),
}

impl Source {
    async fn contacts_by_phone(&self, number: &str) -> Result<Vec<Contact>, CrmError> {
        Ok(match self {
            Source::Builtin(s) => s.contacts_by_phone(number).await?,
            Source::Http(h) => h.contacts_by_phone(number).await?,
        })
    }

    async fn contact_by_account(&self, account: &str) -> Result<Option<Contact>, CrmError> {
        Ok(match self {
            Source::Builtin(s) => s.contact_by_account(account).await?,
            Source::Http(h) => h.contact_by_account(account).await?,
        })
    }

    async fn contact(&self, id: &str) -> Result<Option<Contact>, CrmError> {
        Ok(match self {
            Source::Builtin(s) => s.contact(id).await?,
            Source::Http(h) => h.contact(id).await?,
        })
    }

    async fn ticket_by_number(&self, number: &str) -> Result<Option<Ticket>, CrmError> {
        Ok(match self {
            Source::Builtin(s) => s.ticket_by_number(number).await?,
            Source::Http(h) => h.ticket_by_number(number).await?,
        })
    }

    async fn open_tickets(&self, contact_id: &str, limit: i64) -> Result<Vec<Ticket>, CrmError> {
        Ok(match self {
            Source::Builtin(s) => s.open_tickets(contact_id, limit).await?,
            Source::Http(h) => h.open_tickets(contact_id, limit).await?,
        })
    }

    async fn recent_interactions(
        &self,
        contact_id: &str,
        limit: i64,
    ) -> Result<Vec<InteractionSummary>, CrmError> {
        Ok(match self {
            Source::Builtin(s) => s.recent_interactions(contact_id, limit).await?,
            Source::Http(h) => h.recent_interactions(contact_id, limit).await?,
        })
    }
}

/// The CRM service. Cheap to clone.
#[derive(Clone)]
pub struct Crm {
    store: Store,
    source: Source,
    settings: CrmSettings,
    region: String,
    /// Agent ids → display names, for the pop's past calls.
    agent_names: Arc<HashMap<String, String>>,
    /// Rung when an outcome is queued, so the outbox task delivers it without waiting to poll.
    outbox_wake: Arc<tokio::sync::Notify>,
}

impl Crm {
    /// With `provider = "http"` (and its `[crm.http]`, checked by the config validation)
    /// lookups go to the external CRM; otherwise to `store`.
    pub fn new(store: Store, settings: CrmSettings, default_region: &str) -> Crm {
        let source = match (settings.provider.as_str(), &settings.http) {
            ("http", Some(h)) => Source::Http(HttpCrm::new(h)),
            ("http", None) => {
                tracing::error!(
                    "[crm] provider = \"http\" without [crm.http]; using the built-in CRM"
                );
                Source::Builtin(store.clone())
            }
            _ => Source::Builtin(store.clone()),
        };
        Crm {
            store,
            source,
            settings,
            region: default_region.to_string(),
            agent_names: Arc::default(),
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// The names the pop shows for agents (ids → display names).
    pub fn with_agent_names(mut self, names: HashMap<String, String>) -> Crm {
        self.agent_names = Arc::new(names);
        self
    }

    /// The external CRM client, when the provider is `http`.
    pub fn http(&self) -> Option<&HttpCrm> {
        match &self.source {
            Source::Http(h) => Some(h),
            Source::Builtin(_) => None,
        }
    }

    pub(crate) fn outbox_wake(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
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
        let mut pop = self.pop_inner(req).await;
        let region = if req.region.is_empty() {
            &self.region
        } else {
            &req.region
        };
        pop.number = pop::caller_view(&req.caller, region);
        let labels: HashMap<&str, &str> = self
            .settings
            .dispositions
            .iter()
            .map(|d| (d.code.as_str(), d.label.as_str()))
            .collect();
        pop::name_interactions(&mut pop.interactions, &self.agent_names, &labels);
        pop
    }

    async fn pop_inner(&self, req: &PopRequest) -> Pop {
        match tokio::time::timeout(self.deadline(), self.build_pop(req)).await {
            Ok(Ok(pop)) => pop,
            Ok(Err(e)) if e.is_breaker_open() => {
                // The breaker logged the outage when it opened; no warning per call.
                tracing::debug!(error = %e, "CRM unavailable; pop sent without it");
                pop::unavailable(&req.caller, req.wait_secs, req.ivr.clone())
            }
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

    async fn build_pop(&self, req: &PopRequest) -> Result<Pop, CrmError> {
        let src = &self.source;
        let caller = self.normalise(&req.caller);
        // The number lookup and what the IVR identified are asked at the same time: with an
        // external CRM each is a round trip, and the whole pop has one deadline.
        let by_number = async {
            match &caller {
                Some(n) => src.contacts_by_phone(n).await,
                None => Ok(Vec::new()),
            }
        };
        let by_ivr = async {
            let mut identified: Option<Contact> = None;
            let mut ticket_hit: Option<Ticket> = None;
            if let Some(t) = &req.ticket {
                ticket_hit = src.ticket_by_number(t).await?;
                if let Some(cid) = ticket_hit.as_ref().and_then(|t| t.contact_id.clone()) {
                    identified = src.contact(&cid).await?;
                }
            }
            if identified.is_none() {
                if let Some(a) = &req.account {
                    identified = src.contact_by_account(a).await?;
                }
            }
            Ok::<_, CrmError>((identified, ticket_hit))
        };
        let (matches, (identified, ticket_hit)) = tokio::try_join!(by_number, by_ivr)?;
        let contact = pop::choose_contact(identified, &matches);
        let (mut tickets, interactions) = match &contact {
            Some(c) => tokio::try_join!(
                src.open_tickets(&c.id, 20),
                src.recent_interactions(&c.id, 5)
            )?,
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
            number: Default::default(),
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
            Ok(Err(e)) if e.is_breaker_open() => {
                tracing::debug!(error = %e, ?kind, "CRM unavailable");
                LookupAnswer::Unavailable
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, ?kind, "CRM lookup failed");
                LookupAnswer::Unavailable
            }
            Err(_) => LookupAnswer::Unavailable,
        }
    }

    async fn lookup_inner(&self, kind: LookupKind, value: &str) -> Result<LookupAnswer, CrmError> {
        let src = &self.source;
        let contact = match kind {
            LookupKind::Ticket => {
                return Ok(match src.ticket_by_number(value).await? {
                    Some(t) if t.status.is_open() => LookupAnswer::Ticket(ticket_fact(&t)),
                    _ => LookupAnswer::NotFound,
                })
            }
            LookupKind::Caller => match self.normalise(value) {
                Some(n) => src.contacts_by_phone(&n).await?.into_iter().next(),
                None => None,
            },
            LookupKind::Account => src.contact_by_account(value).await?,
        };
        let Some(c) = contact else {
            return Ok(LookupAnswer::NotFound);
        };
        let open = src.open_tickets(&c.id, 1).await?;
        Ok(LookupAnswer::Contact(CallerFacts {
            contact_id: c.id,
            vip: c.vip,
            open_ticket: open.first().map(ticket_fact),
        }))
    }

    /// Store a call's interaction (and with a wrap-up, its ticket change) in one transaction;
    /// with the HTTP provider the outcome is queued in the outbox in the same transaction and
    /// the outbox task is woken to deliver it.
    pub async fn save(
        &self,
        interaction: &Interaction,
        wrap: Option<&WrapUp>,
        now_ms: i64,
    ) -> crate::store::Result<crate::store::SavedInteraction> {
        let outbox = self.http().is_some();
        let saved = self
            .store
            .save_interaction(interaction, wrap, outbox, now_ms)
            .await?;
        if outbox {
            self.outbox_wake.notify_one();
        }
        Ok(saved)
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
