//! The per-call IVR state machine (sans-IO). The call layer creates a `Session` with the
//! `Arc<Dialplan>` a call was routed to, feeds it `Input`s with the current `Now`, performs the
//! returned `Action`s in order and calls `handle(Input::Timeout, now)` once `next_deadline()` passes.
//! Every step also comes out as `Action::Event(IvrEvent)` for drop-out reports.

mod conditions;
mod inputs;
mod outcomes;
pub mod types;

pub use types::*;

use crate::ivr::crm::{LookupAnswer, LookupKind, LookupResult, TicketFact};
use crate::ivr::model::{Dialplan, Node, NodeKind, NodeRef, PromptSpec};
use crate::ivr::set::Route;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a CRM lookup may take before the session carries on without it.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);
/// Node steps without caller input before a session gives up (a checked plan never gets close).
const MAX_HOPS: usize = 100;
/// Digits typed ahead (during barge-in prompts or lookups) kept for the next input node.
const MAX_TYPEAHEAD: usize = 32;
/// Extra time a voicemail recording gets before the session stops it itself.
const RECORDING_GRACE: Duration = Duration::from_secs(5);

/// What the session has learned and set about the call.
#[derive(Debug, Clone)]
pub(crate) struct CallState {
    pub caller: String,
    pub called: String,
    pub language: String,
    pub vars: BTreeMap<String, String>,
    pub skills: BTreeMap<String, u8>,
    pub priority: u8,
    pub tags: Vec<String>,
    pub crm: CrmState,
    pub ticket: Option<TicketFact>,
}

/// Prompt playing, or waiting for the caller after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Prompt(PlayId),
    Wait,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Idle,
    Play {
        node: usize,
        play: PlayId,
    },
    Menu {
        node: usize,
        attempt: u32,
        phase: Phase,
    },
    Collect {
        node: usize,
        attempt: u32,
        digits: String,
        phase: Phase,
    },
    /// Waiting for the CRM on behalf of a collect or branch node.
    Lookup {
        node: usize,
        kind: LookupKind,
        value: String,
    },
    Callback {
        node: usize,
        phase: Phase,
    },
    /// `None` = recording.
    Voicemail {
        node: usize,
        prompt: Option<PlayId>,
    },
    Survey {
        node: usize,
        attempt: u32,
        phase: Phase,
    },
    Closing {
        node: usize,
        play: PlayId,
    },
    Enqueued,
    Transferred,
    Done,
}

/// Where a handler leaves the session.
enum Flow {
    Goto(usize),
    Stay,
}

/// One caller's walk through one dialplan version.
#[derive(Debug)]
pub struct Session {
    plan: Arc<Dialplan>,
    entry: usize,
    call: CallState,
    state: State,
    deadline: Option<Instant>,
    typeahead: VecDeque<char>,
    next_play: u32,
    out: Vec<Action>,
}

impl Session {
    /// A session for entry point `entry` of `plan`; `None` if there is no such entry.
    pub fn new(plan: Arc<Dialplan>, entry: usize, ctx: CallContext) -> Option<Self> {
        let e = plan.entries.get(entry)?;
        let language = e
            .language
            .as_ref()
            .map_or(plan.default_language.clone(), |l| l.value.clone());
        Some(Session {
            call: CallState {
                caller: ctx.caller,
                called: ctx.called,
                language,
                vars: BTreeMap::new(),
                skills: BTreeMap::new(),
                priority: 0,
                tags: Vec::new(),
                crm: ctx.crm,
                ticket: None,
            },
            plan,
            entry,
            state: State::Idle,
            deadline: None,
            typeahead: VecDeque::new(),
            next_play: 0,
            out: Vec::new(),
        })
    }

    /// A session for a call routed by a `DialplanSet`.
    pub fn from_route(route: Route, ctx: CallContext) -> Option<Self> {
        Session::new(route.plan, route.entry, ctx)
    }

    /// Feeds one input; returns the actions to perform, in order.
    pub fn handle(&mut self, input: Input, now: Now) -> Vec<Action> {
        self.step(input, &now);
        std::mem::take(&mut self.out)
    }

    /// When to send `Input::Timeout`, if a timer is running.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Version of the dialplan set this session runs on.
    pub fn plan_version(&self) -> u64 {
        self.plan.version
    }

    pub fn plan(&self) -> &Arc<Dialplan> {
        &self.plan
    }

    /// The caller's current language.
    pub fn language(&self) -> &str {
        &self.call.language
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.call.vars
    }

    pub fn tags(&self) -> &[String] {
        &self.call.tags
    }

    /// The node the caller is at, while in the IVR.
    pub fn current_node(&self) -> Option<&str> {
        self.state_node()
            .and_then(|i| self.plan.nodes.get(i))
            .map(|n| n.name.as_str())
    }

    /// Whether the call is waiting in a queue (or with an agent) after `Enqueue`.
    pub fn is_enqueued(&self) -> bool {
        self.state == State::Enqueued
    }

    /// The call is back with the router after leaving the plan for a callback (the caller
    /// was called back, or their callback was refused): an agent follows, then the survey.
    /// Any prompt or timer of the node the caller was at is forgotten.
    pub fn resume_queued(&mut self) {
        self.state = State::Enqueued;
        self.deadline = None;
        self.typeahead.clear();
    }

    /// Whether the session has nothing more to do (hung up or transferred).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done | State::Transferred)
    }

    fn state_node(&self) -> Option<usize> {
        match &self.state {
            State::Play { node, .. }
            | State::Menu { node, .. }
            | State::Collect { node, .. }
            | State::Lookup { node, .. }
            | State::Callback { node, .. }
            | State::Voicemail { node, .. }
            | State::Survey { node, .. }
            | State::Closing { node, .. } => Some(*node),
            State::Idle | State::Enqueued | State::Transferred | State::Done => None,
        }
    }

    fn step(&mut self, input: Input, now: &Now) {
        let flow = match input {
            Input::Started if self.state == State::Idle => {
                let start = self.plan.entries.get(self.entry).map(|e| e.start.clone());
                match start {
                    Some(r) => self.resolve(&r),
                    None => self.fail(),
                }
            }
            Input::Started => Flow::Stay,
            Input::CallerHungUp => {
                if let Some(name) = self.current_node().map(str::to_string) {
                    self.event(&name, IvrEventKind::CallerHungUp);
                }
                self.state = State::Done;
                self.deadline = None;
                Flow::Stay
            }
            Input::PromptFinished(id) => self.prompt_finished(id, now),
            Input::Digit(d) => self.digit(d, now),
            Input::Timeout => match self.deadline {
                Some(d) if now.at >= d => {
                    self.deadline = None;
                    self.timeout(now)
                }
                _ => Flow::Stay,
            },
            Input::LookupResult(r) => self.lookup_result(r, now),
            Input::RecordingFinished => self.recording_finished(),
            Input::AgentHungUp if self.state == State::Enqueued => {
                let survey = self
                    .plan
                    .entries
                    .get(self.entry)
                    .and_then(|e| e.survey.clone());
                match survey {
                    Some(r) => {
                        self.typeahead.clear();
                        self.resolve(&r)
                    }
                    None => {
                        self.hangup("", HangupCause::CallEnded);
                        Flow::Stay
                    }
                }
            }
            Input::AgentHungUp => Flow::Stay,
        };
        self.follow(flow, now);
    }

    /// Runs instant nodes from `flow` until one waits for the caller.
    fn follow(&mut self, mut flow: Flow, now: &Now) {
        for _ in 0..MAX_HOPS {
            match flow {
                Flow::Stay => return,
                Flow::Goto(i) => flow = self.enter(i, now),
            }
        }
        self.fail();
    }

    fn resolve(&mut self, r: &NodeRef) -> Flow {
        match self.plan.node_index(&r.value) {
            Some(i) => Flow::Goto(i),
            None => self.fail(),
        }
    }

    fn fail(&mut self) -> Flow {
        self.hangup("", HangupCause::PlanError);
        Flow::Stay
    }

    fn event(&mut self, node: &str, kind: IvrEventKind) {
        self.out.push(Action::Event(IvrEvent {
            node: node.to_string(),
            kind,
        }));
    }

    fn arm(&mut self, now: &Now, after: Duration) {
        self.deadline = Some(now.at + after);
    }

    fn hangup(&mut self, node: &str, cause: HangupCause) {
        if !node.is_empty() {
            self.event(node, IvrEventKind::Hangup);
        }
        self.out.push(Action::Hangup { cause });
        self.state = State::Done;
        self.deadline = None;
    }

    /// Emits `Play` for the prompts in the call's language; `None` when there is nothing to play.
    fn play<'p>(
        &mut self,
        prompts: impl IntoIterator<Item = &'p PromptSpec>,
        barge_in: bool,
    ) -> Option<PlayId> {
        let prompts: Vec<PromptRef> = prompts
            .into_iter()
            .map(|p| PromptRef {
                name: p.name.clone(),
                lang: p.lang.clone().unwrap_or_else(|| self.call.language.clone()),
            })
            .collect();
        if prompts.is_empty() {
            return None;
        }
        self.next_play = self.next_play.wrapping_add(1);
        let id = PlayId(self.next_play);
        self.out.push(Action::Play {
            id,
            prompts,
            barge_in,
        });
        Some(id)
    }

    fn queue_request(
        &self,
        queue: &str,
        skills: &[(crate::ivr::model::Located<String>, u8)],
        priority: Option<u8>,
    ) -> QueueRequest {
        let mut all = self.call.skills.clone();
        for (s, level) in skills {
            let e = all.entry(s.value.clone()).or_insert(*level);
            *e = (*e).max(*level);
        }
        QueueRequest {
            queue: queue.to_string(),
            skills: all,
            priority: self.call.priority.max(priority.unwrap_or(0)),
            language: self.call.language.clone(),
            caller: self.call.caller.clone(),
            called: self.call.called.clone(),
            vars: self.call.vars.clone(),
            tags: self.call.tags.clone(),
            ticket: self.call.ticket.as_ref().map(|t| t.id.clone()),
        }
    }

    fn tag(&mut self, tag: String) {
        if !self.call.tags.contains(&tag) {
            self.call.tags.push(tag);
        }
    }

    /// Enters node `i`: instant nodes return where to go next, input nodes set a waiting state.
    fn enter(&mut self, i: usize, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(node) = plan.nodes.get(i) else {
            return self.fail();
        };
        self.deadline = None;
        self.event(
            &node.name,
            IvrEventKind::NodeEntered {
                kind: node.kind.name(),
            },
        );
        match &node.kind {
            NodeKind::Play(p) => {
                if p.barge_in && !self.typeahead.is_empty() {
                    return self.resolve(&p.next);
                }
                match self.play(&p.prompts, p.barge_in) {
                    Some(play) => {
                        self.state = State::Play { node: i, play };
                        Flow::Stay
                    }
                    None => self.resolve(&p.next),
                }
            }
            NodeKind::Menu(_) => self.start_menu(i, 0, &[], now),
            NodeKind::Collect(_) => self.start_collect(i, 0, &[], now),
            NodeKind::Survey(_) => self.start_survey(i, 0, &[], now),
            NodeKind::CallbackOffer(_) => self.start_callback(i, now),
            NodeKind::Set(s) => {
                for (k, v) in &s.vars {
                    self.call.vars.insert(k.clone(), v.clone());
                    self.event(
                        &node.name,
                        IvrEventKind::VarSet {
                            name: k.clone(),
                            value: v.clone(),
                        },
                    );
                }
                if let Some(l) = &s.language {
                    self.call.language = l.value.clone();
                    self.event(
                        &node.name,
                        IvrEventKind::LanguageSet {
                            lang: l.value.clone(),
                        },
                    );
                }
                for (skill, level) in &s.skills {
                    self.call.skills.insert(skill.value.clone(), *level);
                }
                if let Some(p) = s.priority {
                    self.call.priority = p;
                }
                for t in &s.tags {
                    self.tag(t.clone());
                }
                self.resolve(&s.next)
            }
            NodeKind::Branch(_) => self.decide(i, now),
            NodeKind::Enqueue(e) => {
                let req = self.queue_request(&e.queue.value, &e.skills, e.priority);
                self.event(
                    &node.name,
                    IvrEventKind::Enqueued {
                        queue: req.queue.clone(),
                        priority: req.priority,
                    },
                );
                self.out.push(Action::Enqueue(req));
                self.state = State::Enqueued;
                Flow::Stay
            }
            NodeKind::Voicemail(v) => {
                match self.play(&v.prompts, false) {
                    Some(play) => {
                        self.state = State::Voicemail {
                            node: i,
                            prompt: Some(play),
                        }
                    }
                    None => self.start_recording(i, v.max_secs, now),
                }
                Flow::Stay
            }
            NodeKind::Transfer(t) => self.transfer(node, t),
            NodeKind::Hangup(h) => {
                match self.play(&h.prompts, false) {
                    Some(play) => self.state = State::Closing { node: i, play },
                    None => self.hangup(
                        &node.name,
                        HangupCause::Dialplan {
                            reason: h.reason.clone(),
                        },
                    ),
                }
                Flow::Stay
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests_flow;
#[cfg(test)]
mod tests_input;
