//! The waiting side of a queued call: what joins the router's queue (the caller's IVR language
//! and their ticket — owner, priority, SLA — from the CRM), the router's cues for the call,
//! position and expected-wait announcements over the music, and following the call into
//! another queue (overflow, or a supervisor's move) so its pop and interaction row name the
//! right queue.

use super::driver::CallTask;
use super::machine::{self, Phase};
use crate::acd::router::{QueuedCall, TicketInfo};
use crate::acd::service::Cue;
use crate::acd::types::{AgentId, CallId};
use crate::crm::model::Ticket;
use crate::events::Event;
use crate::ivr::engine::QueueRequest;

impl CallTask {
    /// The call as the router gets it (its ticket is added once the CRM has named it).
    /// `callback_number`: the caller booked a callback in the IVR (a virtual call).
    pub(super) fn queued_call(
        &self,
        q: &QueueRequest,
        callback_number: Option<String>,
    ) -> QueuedCall {
        QueuedCall {
            call: CallId::from(self.call_id.as_str()),
            queue: q.queue.clone(),
            skills: q.skills.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            language: Some(q.language.clone()).filter(|l| !l.is_empty()),
            priority: i32::from(q.priority),
            callback_number,
            ..Default::default()
        }
    }

    /// A decision of the router about this call.
    pub(super) fn cue(&mut self, cue: Cue) {
        match cue {
            Cue::Offer { agent, ring } => {
                self.rings.insert(agent.clone(), ring);
                self.feed(machine::Input::Cue(Cue::Offer { agent, ring }));
            }
            c @ (Cue::StopRinging { .. } | Cue::Outcome { .. }) => {
                self.feed(machine::Input::Cue(c))
            }
            Cue::Announce { position, ewt_ms } => self.announce(position, ewt_ms),
            Cue::QueueChanged { queue } => self.queue_changed(queue),
            Cue::Callback(c) => self.callback_cue(c),
        }
    }

    /// The router announces the caller's place: play it over the music (a prompt takes the
    /// music's place while it plays; the music goes on where it was afterwards). Only while
    /// the caller waits in the queue, not while the IVR plays something, the previous
    /// announcement is still being said, or the caller holds.
    pub(super) fn announce(&mut self, position: u32, ewt_ms: Option<u64>) {
        let waiting = self.machine.phase() == &Phase::Queued;
        let busy = !self.plays.is_empty() || self.announcing.is_some();
        if !waiting || self.held || busy {
            return;
        }
        let lang = self
            .queued
            .as_ref()
            .map(|q| q.language.clone())
            .unwrap_or_default();
        let items = super::announcement::items(position, ewt_ms);
        match self.env.prompts.sequence(&lang, &items) {
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
