//! What one call's task notes as it goes (when it queued, rang, was answered, held…), turned
//! into the call's interaction row for the CRM when the agent's part ends or the caller leaves.

use crate::crm::model::{Interaction, IvrSummary};

/// Milestones of one call, epoch milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub arrived_ms: i64,
    pub called: String,
    /// The ISO region of the line called (its callers' numbers are read by its rules).
    pub region: String,
    /// The caller's identity was asserted by a trusted trunk (P-Asserted-Identity): only such
    /// a number may be called back.
    pub asserted: bool,
    pub queue: Option<String>,
    pub queued_ms: Option<i64>,
    /// When the agent who answered was first offered the call.
    pub offered_ms: Option<i64>,
    pub answered_ms: Option<i64>,
    pub agent: Option<String>,
    pub hold_ms: i64,
    pub hold_since: Option<i64>,
    pub callback: bool,
    pub recording: Option<String>,
    pub contact_id: Option<String>,
    pub ticket: Option<String>,
    pub ivr: IvrSummary,
}

impl Facts {
    pub fn hold(&mut self, on: bool, now_ms: i64) {
        match (on, self.hold_since) {
            (true, None) => self.hold_since = Some(now_ms),
            (false, Some(t)) => {
                self.hold_ms += now_ms - t;
                self.hold_since = None;
            }
            _ => {}
        }
    }

    /// Seconds since the call arrived (IVR, queue and ringing included): what the caller has
    /// waited as they feel it.
    pub fn since_arrival_secs(&self, now_ms: i64) -> f64 {
        (now_ms - self.arrived_ms).max(0) as f64 / 1000.0
    }

    /// The interaction as of `ended_ms`: answered calls count wait (queued → answered), ring
    /// (offered → answered) and talk (answered → end, hold included); unanswered queued calls
    /// are abandoned with their wait.
    pub fn interaction(&self, call_id: &str, caller: &str, ended_ms: i64) -> Interaction {
        let mut hold_ms = self.hold_ms;
        if let Some(t) = self.hold_since {
            hold_ms += ended_ms - t;
        }
        let queued = self.queued_ms.unwrap_or(self.arrived_ms);
        let (wait_ms, ring_ms, talk_ms, abandoned) = match self.answered_ms {
            Some(a) => (
                a - queued,
                self.offered_ms.map_or(0, |o| a - o),
                ended_ms - a,
                false,
            ),
            None => (
                ended_ms - queued,
                0,
                0,
                self.queued_ms.is_some() && !self.callback,
            ),
        };
        Interaction {
            id: uuid::Uuid::now_v7().to_string(),
            call_id: call_id.to_string(),
            contact_id: self.contact_id.clone(),
            caller: (!caller.is_empty()).then(|| caller.to_string()),
            called: (!self.called.is_empty()).then(|| self.called.clone()),
            queue: self.queue.clone(),
            agent: self.answered_ms.and(self.agent.clone()),
            ivr_path: self.ivr.path.clone(),
            arrived_ms: self.arrived_ms,
            wait_ms: wait_ms.max(0),
            ring_ms: ring_ms.max(0),
            talk_ms: talk_ms.max(0),
            hold_ms: hold_ms.max(0),
            wrap_ms: 0,
            abandoned,
            callback: self.callback,
            recording: self.recording.clone(),
            survey_score: None,
            ended_ms: Some(ended_ms),
            ticket_number: self.ticket.clone(),
            disposition: None,
            resolution: None,
            notes: None,
        }
    }
}

/// Who causes a billable leg for this call (the outbound gate's per-requester key): the
/// caller, vouched for when a trusted trunk asserted their number.
pub(super) fn requester(facts: &Facts, caller: &str) -> crate::outbound::Requester {
    if facts.asserted {
        crate::outbound::Requester::Asserted(caller.to_string())
    } else {
        crate::outbound::Requester::Unverified(caller.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_call_counts_wait_ring_talk_and_hold() {
        let mut f = Facts {
            arrived_ms: 0,
            queued_ms: Some(10_000),
            offered_ms: Some(25_000),
            answered_ms: Some(28_000),
            agent: Some("alice".into()),
            ..Default::default()
        };
        f.hold(true, 40_000);
        f.hold(false, 45_000);
        f.hold(true, 60_000);
        let i = f.interaction("c", "+44", 88_000);
        assert_eq!((i.wait_ms, i.ring_ms, i.talk_ms), (18_000, 3_000, 60_000));
        assert_eq!(i.hold_ms, 5_000 + 28_000, "still on hold at the end counts");
        assert!(!i.abandoned);
        assert_eq!(i.agent.as_deref(), Some("alice"));
    }

    #[test]
    fn a_queued_caller_who_hangs_up_abandoned_after_their_wait() {
        let f = Facts {
            arrived_ms: 0,
            queued_ms: Some(5_000),
            agent: Some("rang-but-no-answer".into()),
            ..Default::default()
        };
        let i = f.interaction("c", "", 35_000);
        assert!(i.abandoned);
        assert_eq!((i.wait_ms, i.talk_ms), (30_000, 0));
        assert_eq!(i.agent, None, "nobody handled it");
        assert_eq!(i.caller, None);
    }

    #[test]
    fn a_callback_request_is_not_an_abandon() {
        let f = Facts {
            queued_ms: Some(0),
            callback: true,
            ..Default::default()
        };
        assert!(!f.interaction("c", "x", 1000).abandoned);
    }
}
