//! The waiting side of a queued call: joining the router's queue with the caller's IVR language
//! and their ticket (owner, priority, SLA) from the CRM, hearing position and expected-wait
//! announcements over the music, and following the call into another queue (overflow, or a
//! supervisor's move) so its pop and interaction row name the right queue.

use super::ivr_call::IvrCall;
use crate::acd::router::{QueuedCall, TicketInfo};
use crate::acd::types::{AgentId, CallId};
use crate::crm::model::Ticket;
use crate::events::Event;
use crate::ivr::engine::QueueRequest;
use tokio::sync::oneshot;

/// A call waiting for the CRM's answer (which ticket is the caller's) before it joins the
/// router's queue. The CRM is asked under its pop deadline, so this lasts at most that long.
pub(super) struct Joining {
    pub call: QueuedCall,
    pub ticket: oneshot::Receiver<Option<TicketInfo>>,
}

impl IvrCall {
    /// Queue the call as the IVR asked: music has started; the router gets the call once the
    /// CRM has said which ticket is the caller's (`Crm::routing_ticket`: a ticket typed in the
    /// IVR, else their most urgent open one), or at once without a CRM.
    /// `callback_number`: the caller booked a callback in the IVR (a virtual call).
    pub(super) fn join_queue(&mut self, q: &QueueRequest, callback_number: Option<String>) {
        let call = QueuedCall {
            call: CallId::from(self.call_id.as_str()),
            queue: q.queue.clone(),
            skills: q.skills.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            language: Some(q.language.clone()).filter(|l| !l.is_empty()),
            priority: i32::from(q.priority),
            callback_number,
            ..Default::default()
        };
        let Some(router) = self.router().cloned() else {
            return;
        };
        let Some(crm) = self.manager.ivr.as_ref().and_then(|p| p.crm.clone()) else {
            self.cues = Some(router.queue(call));
            return;
        };
        let caller = self.caller.clone();
        let typed = q.ticket.clone();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let ticket = crm.routing_ticket(&caller, typed.as_deref()).await;
            let now = crate::events::now_ms();
            let _ = tx.send(ticket.map(|t| ticket_info(&t, now)));
        });
        self.joining = Some(Joining { call, ticket: rx });
    }

    /// The CRM answered (or gave up): the call joins the router's queue.
    pub(super) fn joined(&mut self, ticket: Option<TicketInfo>) {
        let Some(mut j) = self.joining.take() else {
            return;
        };
        let Some(router) = self.router().cloned() else {
            return;
        };
        if let Some(t) = &ticket {
            tracing::info!(call_id = %self.call_id, owner = ?t.owner, priority = t.priority, sla_breached = t.sla_breached, "queued with the caller's ticket");
        }
        j.call.ticket = ticket;
        self.cues = Some(router.queue(j.call));
    }

    /// The router announces the caller's place: play it over the music (a prompt takes the
    /// music's place while it plays; the music goes on where it was afterwards). Not while the
    /// IVR plays something, the previous announcement is still being said, the caller holds,
    /// or an agent is talking to them.
    pub(super) fn announce(&mut self, position: u32, ewt_ms: Option<u64>) {
        let talking = self.agent.as_ref().is_some_and(|a| a.answered);
        let busy = !self.plays.is_empty() || self.announcing.is_some();
        if talking || self.after_agent || self.held || busy {
            return;
        }
        let lang = self
            .queued
            .as_ref()
            .map(|q| q.language.clone())
            .unwrap_or_default();
        let items = super::announcement::items(position, ewt_ms);
        match self.manager.prompts.sequence(&lang, &items) {
            Ok(prompts) => {
                self.announcing = Some(self.media.play(prompts, false));
                self.record(Event::CallAnnounced { position, ewt_ms });
            }
            Err(e) => {
                tracing::warn!(call_id = %self.call_id, error = %e, "position announcement not played")
            }
        }
    }

    /// The call now waits in `queue` (the overflow or move is recorded where it was decided).
    pub(super) fn queue_changed(&mut self, queue: String) {
        tracing::info!(call_id = %self.call_id, from = ?self.facts.queue, to = %queue, "call now waits in another queue");
        if let Some(q) = self.queued.as_mut() {
            q.queue = queue.clone();
        }
        self.facts.queue = Some(queue);
    }
}

/// What the router needs of the caller's ticket.
pub(super) fn ticket_info(t: &Ticket, now_ms: i64) -> TicketInfo {
    TicketInfo {
        owner: t.owner.as_deref().map(AgentId::from),
        priority: t.priority.level().clamp(0, 4) as u8,
        sla_breached: t.sla_due_ms.is_some_and(|due| due < now_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::model::{Priority, TicketStatus};

    fn ticket(owner: Option<&str>, p: Priority, sla_due_ms: Option<i64>) -> Ticket {
        Ticket {
            id: "t".into(),
            number: "100".into(),
            contact_id: None,
            subject: String::new(),
            category: None,
            status: TicketStatus::Open,
            priority: p,
            tier: 1,
            owner: owner.map(str::to_string),
            sla_due_ms,
            created_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn owner_priority_and_breached_sla_go_to_the_router() {
        let t = ticket(Some("bob"), Priority::Urgent, Some(1_000));
        assert_eq!(
            ticket_info(&t, 2_000),
            TicketInfo {
                owner: Some(AgentId::from("bob")),
                priority: 3,
                sla_breached: true,
            }
        );
        assert!(!ticket_info(&t, 500).sla_breached, "not due yet");
        let plain = ticket_info(&ticket(None, Priority::Low, None), 2_000);
        assert_eq!(
            (plain.owner, plain.priority, plain.sla_breached),
            (None, 0, false)
        );
    }
}
