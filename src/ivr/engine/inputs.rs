//! The session's input nodes (menu, collect, survey, callback offer) and how prompts finishing,
//! digits and timeouts move them on: barge-in, re-prompts with retry limits, fallbacks.

use super::{Action, Flow, IvrEventKind, Now, Phase, PlayId, Session, State};
use crate::ivr::model::{NodeKind, PromptSpec, Retry};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy)]
enum Why {
    Invalid,
    Timeout,
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

fn why_prompts(r: &Retry, why: Why) -> &[PromptSpec] {
    match why {
        Why::Invalid => &r.invalid_prompt,
        Why::Timeout => &r.timeout_prompt,
    }
}

impl Session {
    /// Another attempt if retries are left (emits `Retry`), else `None`.
    fn again(&mut self, node: &str, retry: &Retry, attempt: u32) -> Option<u32> {
        (attempt < retry.retries).then(|| {
            self.event(
                node,
                IvrEventKind::Retry {
                    attempt: attempt + 2,
                },
            );
            attempt + 1
        })
    }

    /// Plays the node's prompts after an input-node state was set; arms the timer if silent.
    fn prompt_or_wait<'p>(
        &mut self,
        prompts: impl IntoIterator<Item = &'p PromptSpec>,
        wait: u32,
        now: &Now,
    ) {
        match self.play(prompts, true) {
            Some(id) => self.set_phase(Phase::Prompt(id)),
            None => self.arm(now, secs(wait)),
        }
    }

    fn set_phase(&mut self, p: Phase) {
        if let State::Menu { phase, .. }
        | State::Collect { phase, .. }
        | State::Callback { phase, .. }
        | State::Survey { phase, .. } = &mut self.state
        {
            *phase = p;
        }
    }

    pub(super) fn start_menu(
        &mut self,
        i: usize,
        attempt: u32,
        extra: &[PromptSpec],
        now: &Now,
    ) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Menu(m)) = plan.nodes.get(i).map(|n| &n.kind) else {
            return self.fail();
        };
        self.state = State::Menu {
            node: i,
            attempt,
            phase: Phase::Wait,
        };
        if let Some(d) = self.typeahead.pop_front() {
            return self.menu_digit(i, attempt, d, now);
        }
        self.prompt_or_wait(extra.iter().chain(&m.prompts), m.retry.timeout_secs, now);
        Flow::Stay
    }

    fn menu_digit(&mut self, i: usize, attempt: u32, d: char, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::Menu(m))) = plan.nodes.get(i).map(|n| (&n.name, &n.kind)) else {
            return self.fail();
        };
        self.deadline = None;
        if let Some((_, to)) = m.choices.iter().find(|(k, _)| *k == d) {
            self.event(
                name,
                IvrEventKind::Choice {
                    digit: d,
                    next: to.value.clone(),
                },
            );
            return self.resolve(to);
        }
        self.event(
            name,
            IvrEventKind::Invalid {
                input: d.to_string(),
            },
        );
        self.menu_retry(i, attempt, Why::Invalid, now)
    }

    fn menu_retry(&mut self, i: usize, attempt: u32, why: Why, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::Menu(m))) = plan.nodes.get(i).map(|n| (&n.name, &n.kind)) else {
            return self.fail();
        };
        match self.again(name, &m.retry, attempt) {
            Some(a) => self.start_menu(i, a, why_prompts(&m.retry, why), now),
            None => {
                self.event(
                    name,
                    IvrEventKind::Fallback {
                        to: m.fallback.value.clone(),
                    },
                );
                self.resolve(&m.fallback)
            }
        }
    }

    pub(super) fn start_collect(
        &mut self,
        i: usize,
        attempt: u32,
        extra: &[PromptSpec],
        now: &Now,
    ) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Collect(c)) = plan.nodes.get(i).map(|n| &n.kind) else {
            return self.fail();
        };
        self.state = State::Collect {
            node: i,
            attempt,
            digits: String::new(),
            phase: Phase::Wait,
        };
        while let Some(d) = self.typeahead.pop_front() {
            let flow = self.collect_digit(d, now);
            if !matches!(&self.state, State::Collect { node, attempt: a, .. } if *node == i && *a == attempt)
            {
                return flow;
            }
        }
        if matches!(&self.state, State::Collect { digits, .. } if digits.is_empty()) {
            self.prompt_or_wait(extra.iter().chain(&c.prompts), c.retry.timeout_secs, now);
        }
        Flow::Stay
    }

    fn collect_digit(&mut self, d: char, now: &Now) -> Flow {
        let State::Collect {
            node,
            attempt,
            mut digits,
            phase,
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return Flow::Stay;
        };
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Collect(c)) = plan.nodes.get(node).map(|n| &n.kind) else {
            return self.fail();
        };
        if let Phase::Prompt(_) = phase {
            self.out.push(Action::StopPlayback);
        }
        if Some(d) == c.terminator {
            return self.collect_finish(node, attempt, digits, now);
        }
        digits.push(d);
        if digits.len() >= c.max_len {
            return self.collect_finish(node, attempt, digits, now);
        }
        self.arm(now, secs(c.inter_digit_timeout_secs));
        self.state = State::Collect {
            node,
            attempt,
            digits,
            phase: Phase::Wait,
        };
        Flow::Stay
    }

    fn collect_finish(&mut self, i: usize, attempt: u32, digits: String, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::Collect(c))) = plan.nodes.get(i).map(|n| (&n.name, &n.kind))
        else {
            return self.fail();
        };
        self.deadline = None;
        self.event(
            name,
            IvrEventKind::Digits {
                digits: digits.clone(),
            },
        );
        let len_ok = (c.min_len..=c.max_len).contains(&digits.len());
        let pattern_ok = c.patterns.is_empty() || c.patterns.iter().any(|p| p.matches(&digits));
        if !(len_ok && pattern_ok) {
            self.event(name, IvrEventKind::Invalid { input: digits });
            return self.collect_retry(i, attempt, Why::Invalid, now);
        }
        if let Some(kind) = c.lookup {
            self.start_lookup(i, kind, digits, now);
            return Flow::Stay;
        }
        self.call.vars.insert(c.var.clone(), digits.clone());
        self.event(
            name,
            IvrEventKind::VarSet {
                name: c.var.clone(),
                value: digits,
            },
        );
        self.resolve(&c.next)
    }

    fn collect_retry(&mut self, i: usize, attempt: u32, why: Why, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::Collect(c))) = plan.nodes.get(i).map(|n| (&n.name, &n.kind))
        else {
            return self.fail();
        };
        match self.again(name, &c.retry, attempt) {
            Some(a) => self.start_collect(i, a, why_prompts(&c.retry, why), now),
            None => {
                self.event(
                    name,
                    IvrEventKind::Fallback {
                        to: c.on_invalid.value.clone(),
                    },
                );
                self.resolve(&c.on_invalid)
            }
        }
    }

    pub(super) fn start_survey(
        &mut self,
        i: usize,
        attempt: u32,
        extra: &[PromptSpec],
        now: &Now,
    ) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(NodeKind::Survey(s)) = plan.nodes.get(i).map(|n| &n.kind) else {
            return self.fail();
        };
        self.state = State::Survey {
            node: i,
            attempt,
            phase: Phase::Wait,
        };
        if let Some(d) = self.typeahead.pop_front() {
            return self.survey_digit(i, attempt, d, now);
        }
        self.prompt_or_wait(extra.iter().chain(&s.prompts), s.retry.timeout_secs, now);
        Flow::Stay
    }

    fn survey_digit(&mut self, i: usize, attempt: u32, d: char, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::Survey(s))) = plan.nodes.get(i).map(|n| (&n.name, &n.kind))
        else {
            return self.fail();
        };
        self.deadline = None;
        let Some(score) = d.to_digit(10).filter(|s| (1..=5).contains(s)) else {
            self.event(
                name,
                IvrEventKind::Invalid {
                    input: d.to_string(),
                },
            );
            return self.survey_retry(i, attempt, Why::Invalid, now);
        };
        let score = score as u8;
        self.event(name, IvrEventKind::SurveyScore { score });
        let ticket = self.call.ticket.as_ref().map(|t| t.id.clone());
        self.out.push(Action::SurveyResult { score, ticket });
        self.survey_done(name, s.next.as_ref())
    }

    fn survey_retry(&mut self, i: usize, attempt: u32, why: Why, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::Survey(s))) = plan.nodes.get(i).map(|n| (&n.name, &n.kind))
        else {
            return self.fail();
        };
        match self.again(name, &s.retry, attempt) {
            Some(a) => self.start_survey(i, a, why_prompts(&s.retry, why), now),
            None => {
                self.event(name, IvrEventKind::SurveySkipped);
                self.survey_done(name, s.next.as_ref())
            }
        }
    }

    fn survey_done(&mut self, name: &str, next: Option<&crate::ivr::model::NodeRef>) -> Flow {
        match next {
            Some(r) => self.resolve(r),
            None => {
                self.hangup(name, super::HangupCause::AfterSurvey);
                Flow::Stay
            }
        }
    }

    pub(super) fn start_callback(&mut self, i: usize, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::CallbackOffer(c))) =
            plan.nodes.get(i).map(|n| (&n.name, &n.kind))
        else {
            return self.fail();
        };
        self.event(name, IvrEventKind::CallbackOffered);
        self.state = State::Callback {
            node: i,
            phase: Phase::Wait,
        };
        if let Some(d) = self.typeahead.pop_front() {
            return self.callback_digit(i, Some(d));
        }
        self.prompt_or_wait(&c.prompts, c.timeout_secs, now);
        Flow::Stay
    }

    /// A digit (or `None` for a timeout) answers the callback offer.
    fn callback_digit(&mut self, i: usize, d: Option<char>) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some((name, NodeKind::CallbackOffer(c))) =
            plan.nodes.get(i).map(|n| (&n.name, &n.kind))
        else {
            return self.fail();
        };
        self.deadline = None;
        if d == Some(c.accept_digit) {
            self.event(name, IvrEventKind::CallbackAccepted);
            let req = self.queue_request(&c.queue.value, &[], None);
            self.out.push(Action::CallbackRequested(req));
            return self.resolve(&c.on_accept);
        }
        self.event(name, IvrEventKind::CallbackDeclined);
        self.resolve(&c.next)
    }

    pub(super) fn prompt_finished(&mut self, id: PlayId, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let node = self.state_node().and_then(|i| plan.nodes.get(i));
        let Some(node) = node else { return Flow::Stay };
        match (&self.state, &node.kind) {
            (State::Play { play, .. }, NodeKind::Play(p)) if *play == id => self.resolve(&p.next),
            (
                State::Menu {
                    phase: Phase::Prompt(p),
                    ..
                },
                NodeKind::Menu(m),
            ) if *p == id => self.wait(m.retry.timeout_secs, now),
            (
                State::Collect {
                    phase: Phase::Prompt(p),
                    ..
                },
                NodeKind::Collect(c),
            ) if *p == id => self.wait(c.retry.timeout_secs, now),
            (
                State::Survey {
                    phase: Phase::Prompt(p),
                    ..
                },
                NodeKind::Survey(s),
            ) if *p == id => self.wait(s.retry.timeout_secs, now),
            (
                State::Callback {
                    phase: Phase::Prompt(p),
                    ..
                },
                NodeKind::CallbackOffer(c),
            ) if *p == id => self.wait(c.timeout_secs, now),
            (
                State::Voicemail {
                    node: i,
                    prompt: Some(p),
                },
                NodeKind::Voicemail(v),
            ) if *p == id => {
                self.start_recording(*i, v.max_secs, now);
                Flow::Stay
            }
            (State::Closing { play, .. }, NodeKind::Hangup(h)) if *play == id => {
                self.hangup(
                    &node.name,
                    super::HangupCause::Dialplan {
                        reason: h.reason.clone(),
                    },
                );
                Flow::Stay
            }
            _ => Flow::Stay,
        }
    }

    fn wait(&mut self, timeout: u32, now: &Now) -> Flow {
        self.set_phase(Phase::Wait);
        self.arm(now, secs(timeout));
        Flow::Stay
    }

    pub(super) fn digit(&mut self, d: char, now: &Now) -> Flow {
        if !(d.is_ascii_digit() || d == '*' || d == '#') {
            return Flow::Stay;
        }
        let playing = matches!(
            self.state,
            State::Menu {
                phase: Phase::Prompt(_),
                ..
            } | State::Callback {
                phase: Phase::Prompt(_),
                ..
            } | State::Survey {
                phase: Phase::Prompt(_),
                ..
            }
        );
        if playing {
            self.out.push(Action::StopPlayback);
            self.set_phase(Phase::Wait);
        }
        match self.state.clone() {
            State::Play { node, .. } => {
                let plan = Arc::clone(&self.plan);
                match plan.nodes.get(node).map(|n| &n.kind) {
                    Some(NodeKind::Play(p)) if p.barge_in => {
                        self.out.push(Action::StopPlayback);
                        self.type_ahead(d);
                        self.resolve(&p.next)
                    }
                    _ => Flow::Stay,
                }
            }
            State::Menu { node, attempt, .. } => self.menu_digit(node, attempt, d, now),
            State::Collect { .. } => self.collect_digit(d, now),
            State::Survey { node, attempt, .. } => self.survey_digit(node, attempt, d, now),
            State::Callback { node, .. } => self.callback_digit(node, Some(d)),
            State::Lookup { .. } => {
                self.type_ahead(d);
                Flow::Stay
            }
            State::Voicemail { prompt: None, .. } if d == '#' => {
                self.out.push(Action::StopRecording);
                Flow::Stay
            }
            _ => Flow::Stay,
        }
    }

    pub(super) fn timeout(&mut self, now: &Now) -> Flow {
        let name = self.current_node().unwrap_or_default().to_string();
        match self.state.clone() {
            State::Menu { node, attempt, .. } => {
                self.event(&name, IvrEventKind::Timeout);
                self.menu_retry(node, attempt, Why::Timeout, now)
            }
            State::Collect {
                node,
                attempt,
                digits,
                ..
            } if digits.is_empty() => {
                self.event(&name, IvrEventKind::Timeout);
                self.collect_retry(node, attempt, Why::Timeout, now)
            }
            State::Collect {
                node,
                attempt,
                digits,
                ..
            } => self.collect_finish(node, attempt, digits, now),
            State::Survey { node, attempt, .. } => {
                self.event(&name, IvrEventKind::Timeout);
                self.survey_retry(node, attempt, Why::Timeout, now)
            }
            State::Callback { node, .. } => {
                self.event(&name, IvrEventKind::Timeout);
                self.callback_digit(node, None)
            }
            State::Lookup { kind, .. } => {
                self.event(&name, IvrEventKind::Timeout);
                self.lookup_done(kind, crate::ivr::crm::LookupAnswer::Unavailable, now)
            }
            State::Voicemail { prompt: None, .. } => {
                self.out.push(Action::StopRecording);
                self.recording_finished()
            }
            _ => Flow::Stay,
        }
    }
}
