//! Conference mixer for three or more legs (sans-IO). Each leg has a role that says who hears
//! it: a participant is heard by all, a listening supervisor by nobody, a whispering supervisor
//! by one leg only (the agent); everyone hears what they are allowed to, never themselves.
//! Frames are pushed as they arrive and mixed once per 20 ms tick, whichever leg asks first.

use std::collections::VecDeque;

use super::player::FRAME;

/// Identifies a leg (the session id).
pub type LegId = u64;

/// Who hears a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Heard by everyone (caller, agent, consulted colleague, barging supervisor).
    Participant,
    /// Heard by nobody (supervisor listening).
    Listen,
    /// Heard only by the given leg (supervisor whispering to the agent).
    Whisper {
        /// The leg that hears the whisper.
        to: LegId,
    },
}

#[derive(Debug)]
struct MixLeg {
    id: LegId,
    role: Role,
    queue: VecDeque<[i16; FRAME]>,
    current: Option<[i16; FRAME]>,
}

/// The mixer state shared by the legs of one conference.
#[derive(Debug)]
pub struct Mixer {
    legs: Vec<MixLeg>,
    tick: Option<u64>,
    max_queue: usize,
    overflows: u64,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixer {
    /// Empty conference; each leg buffers up to 3 frames (60 ms).
    pub fn new() -> Self {
        Mixer {
            legs: Vec::new(),
            tick: None,
            max_queue: 3,
            overflows: 0,
        }
    }

    /// Adds a leg, or changes its role when already in.
    pub fn join(&mut self, id: LegId, role: Role) {
        if !self.set_role(id, role) {
            self.legs.push(MixLeg {
                id,
                role,
                queue: VecDeque::new(),
                current: None,
            });
        }
    }

    /// Changes a leg's role (listen → whisper → barge); false if not in the conference.
    pub fn set_role(&mut self, id: LegId, role: Role) -> bool {
        match self.legs.iter_mut().find(|l| l.id == id) {
            Some(l) => {
                l.role = role;
                true
            }
            None => false,
        }
    }

    /// Removes a leg.
    pub fn leave(&mut self, id: LegId) {
        self.legs.retain(|l| l.id != id);
    }

    /// Number of legs.
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// Whether nobody is in.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Whether the leg is in.
    pub fn contains(&self, id: LegId) -> bool {
        self.legs.iter().any(|l| l.id == id)
    }

    /// Frames dropped because a leg sent faster than the mix ran.
    pub fn overflows(&self) -> u64 {
        self.overflows
    }

    /// Whether `listener` hears `speaker`.
    pub fn hears(&self, listener: LegId, speaker: LegId) -> bool {
        if listener == speaker {
            return false;
        }
        let Some(s) = self.legs.iter().find(|l| l.id == speaker) else {
            return false;
        };
        match s.role {
            Role::Participant => true,
            Role::Listen => false,
            Role::Whisper { to } => to == listener,
        }
    }

    /// Queues a frame of the leg's speech.
    pub fn push(&mut self, id: LegId, frame: &[i16; FRAME]) {
        let max = self.max_queue;
        if let Some(l) = self.legs.iter_mut().find(|l| l.id == id) {
            if l.queue.len() >= max {
                l.queue.pop_front();
                self.overflows += 1;
            }
            l.queue.push_back(*frame);
        }
    }

    fn advance(&mut self, tick: u64) {
        if self.tick.is_some_and(|t| t >= tick) {
            return;
        }
        self.tick = Some(tick);
        for l in &mut self.legs {
            l.current = l.queue.pop_front();
        }
    }

    /// What `id` hears at `tick`; false when the leg is not in the conference.
    pub fn mix_for(&mut self, id: LegId, tick: u64, out: &mut [i16; FRAME]) -> bool {
        if !self.contains(id) {
            return false;
        }
        self.advance(tick);
        let mut acc = [0i32; FRAME];
        for speaker in &self.legs {
            let Some(frame) = &speaker.current else {
                continue;
            };
            if !self.hears(id, speaker.id) {
                continue;
            }
            for (a, &s) in acc.iter_mut().zip(frame.iter()) {
                *a += s as i32;
            }
        }
        for (o, a) in out.iter_mut().zip(acc) {
            *o = a.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: LegId = 1;
    const AGENT: LegId = 2;
    const SUP: LegId = 3;

    fn heard(m: &mut Mixer, tick: u64) -> [i16; 3] {
        // Each leg speaks a distinct constant: caller 1, agent 10, supervisor 100.
        m.push(CALLER, &[1; FRAME]);
        m.push(AGENT, &[10; FRAME]);
        m.push(SUP, &[100; FRAME]);
        let mut out = [0i16; FRAME];
        let mut res = [0; 3];
        for (i, id) in [CALLER, AGENT, SUP].into_iter().enumerate() {
            assert!(m.mix_for(id, tick, &mut out));
            res[i] = out[0];
        }
        res
    }

    #[test]
    fn listen_whisper_barge() {
        let mut m = Mixer::new();
        m.join(CALLER, Role::Participant);
        m.join(AGENT, Role::Participant);
        m.join(SUP, Role::Listen);
        // Listen: supervisor hears both, nobody hears the supervisor.
        assert_eq!(heard(&mut m, 1), [10, 1, 11]);
        // Whisper: only the agent hears the supervisor.
        m.join(SUP, Role::Whisper { to: AGENT });
        assert_eq!(heard(&mut m, 2), [10, 101, 11]);
        // Barge: everyone hears everyone else.
        assert!(m.set_role(SUP, Role::Participant));
        assert_eq!(heard(&mut m, 3), [110, 101, 11]);
    }

    #[test]
    fn consult_three_way_and_leave() {
        let mut m = Mixer::new();
        for id in [CALLER, AGENT, SUP] {
            m.join(id, Role::Participant);
        }
        assert_eq!(heard(&mut m, 1), [110, 101, 11]);
        m.leave(CALLER);
        let mut out = [0i16; FRAME];
        assert!(!m.mix_for(CALLER, 2, &mut out));
        m.push(AGENT, &[10; FRAME]);
        assert!(m.mix_for(SUP, 2, &mut out));
        assert_eq!(out[0], 10);
    }

    #[test]
    fn one_frame_per_tick_and_overflow_bounded() {
        let mut m = Mixer::new();
        m.join(CALLER, Role::Participant);
        m.join(AGENT, Role::Participant);
        for v in 1..=5 {
            m.push(CALLER, &[v; FRAME]);
        }
        assert_eq!(m.overflows(), 2);
        let mut out = [0i16; FRAME];
        m.mix_for(AGENT, 7, &mut out);
        assert_eq!(out[0], 3);
        m.mix_for(AGENT, 7, &mut out); // same tick: same mix
        assert_eq!(out[0], 3);
        m.mix_for(AGENT, 8, &mut out);
        assert_eq!(out[0], 4);
    }

    #[test]
    fn clips_instead_of_wrapping() {
        let mut m = Mixer::new();
        for id in [CALLER, AGENT, SUP] {
            m.join(id, Role::Participant);
            m.push(id, &[30_000; FRAME]);
        }
        let mut out = [0i16; FRAME];
        m.mix_for(SUP, 1, &mut out);
        assert_eq!(out[0], i16::MAX);
    }
}
