//! Where one call stands with a callback, sans-IO: what a digit or a router answer means for
//! the call (offered once, accepted or declined by a key, requested in the IVR, booked,
//! refused, called back). The call's driver plays the prompts and tells the router.

/// The key that accepts a callback offered while waiting (the `callback_offer` prompt says so).
pub const ACCEPT_DIGIT: char = '1';
/// The key that declines it ("to keep waiting, press 2").
pub const DECLINE_DIGIT: char = '2';

/// Where one call stands with a callback.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackState {
    phase: Phase,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Phase {
    #[default]
    None,
    /// The offer was made while waiting; the next accept or decline key answers it.
    Offered,
    /// The caller declined, or their number was refused: not offered again.
    Declined,
    /// Asked of the router (`via_ivr`: by the IVR's node, before the call was queued).
    Requested { via_ivr: bool },
    /// Booked; `goodbye` is the media play id after which we hang up (queue path).
    Booked { goodbye: Option<u64> },
    /// The customer was called back and answered.
    CalledBack,
}

/// What a digit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitUse {
    /// Ask the router for a callback.
    Accept,
    /// Keep waiting (stop the offer prompt).
    Decline,
    /// Not ours: the IVR gets it.
    Pass,
}

impl CallbackState {
    /// The router offers a callback: whether to play the offer (once per call, never after a
    /// request or a refusal).
    pub fn offer(&mut self) -> bool {
        if self.phase == Phase::None {
            self.phase = Phase::Offered;
            true
        } else {
            false
        }
    }

    pub fn digit(&mut self, d: char) -> DigitUse {
        match (&self.phase, d) {
            (Phase::Offered, ACCEPT_DIGIT) => {
                self.phase = Phase::Requested { via_ivr: false };
                DigitUse::Accept
            }
            (Phase::Offered, DECLINE_DIGIT) => {
                self.phase = Phase::Declined;
                DigitUse::Decline
            }
            _ => DigitUse::Pass,
        }
    }

    /// The IVR's `callback_offer` node was accepted.
    pub fn requested_in_ivr(&mut self) {
        self.phase = Phase::Requested { via_ivr: true };
    }

    /// The router booked it: `Some(via_ivr)` if we had asked (else the cue is stale).
    pub fn booked(&mut self) -> Option<bool> {
        let Phase::Requested { via_ivr } = self.phase else {
            return None;
        };
        self.phase = Phase::Booked { goodbye: None };
        Some(via_ivr)
    }

    /// The router refused it: `Some(via_ivr)` if we had asked.
    pub fn refused(&mut self) -> Option<bool> {
        let Phase::Requested { via_ivr } = self.phase else {
            return None;
        };
        self.phase = Phase::Declined;
        Some(via_ivr)
    }

    /// We play the goodbye ourselves (queue path); hang up when play `id` ends.
    pub fn goodbye(&mut self, id: u64) {
        if let Phase::Booked { goodbye } = &mut self.phase {
            *goodbye = Some(id);
        }
    }

    pub fn is_goodbye(&self, id: u64) -> bool {
        self.phase == Phase::Booked { goodbye: Some(id) }
    }

    pub fn is_booked(&self) -> bool {
        matches!(self.phase, Phase::Booked { .. })
    }

    pub fn called_back() -> Self {
        CallbackState {
            phase: Phase::CalledBack,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_is_made_once_and_answered_by_its_keys() {
        let mut s = CallbackState::default();
        assert_eq!(
            s.digit('1'),
            DigitUse::Pass,
            "no offer yet: the IVR's digit"
        );
        assert!(s.offer());
        assert!(!s.offer(), "not twice");
        assert_eq!(s.digit('5'), DigitUse::Pass);
        assert_eq!(s.digit(ACCEPT_DIGIT), DigitUse::Accept);
        assert_eq!(s.digit(ACCEPT_DIGIT), DigitUse::Pass, "asked once");
        assert_eq!(
            s.booked(),
            Some(false),
            "booked from the queue: we say goodbye"
        );
        assert!(s.is_booked());

        let mut s = CallbackState::default();
        s.offer();
        assert_eq!(s.digit(DECLINE_DIGIT), DigitUse::Decline);
        assert!(!s.offer(), "a caller who declined is not asked again");
        assert_eq!(s.digit(ACCEPT_DIGIT), DigitUse::Pass);
    }

    #[test]
    fn a_refused_number_leaves_the_caller_waiting_and_unasked() {
        let mut s = CallbackState::default();
        s.offer();
        s.digit(ACCEPT_DIGIT);
        assert_eq!(s.refused(), Some(false));
        assert!(!s.is_booked());
        assert!(!s.offer());
        assert_eq!(
            s.booked(),
            None,
            "a late booking for a refused request is stale"
        );

        let mut s = CallbackState::default();
        s.requested_in_ivr();
        assert_eq!(
            s.refused(),
            Some(true),
            "the IVR path must queue the caller"
        );
    }

    #[test]
    fn the_goodbye_prompt_ends_the_call_only_when_booked() {
        let mut s = CallbackState::default();
        s.goodbye(7);
        assert!(!s.is_goodbye(7));
        s.requested_in_ivr();
        assert_eq!(s.booked(), Some(true), "the IVR says goodbye itself");
        s.goodbye(7);
        assert!(s.is_goodbye(7));
        assert!(!s.is_goodbye(8));
        assert!(
            !CallbackState::called_back().offer(),
            "no offer once called back"
        );
    }
}
