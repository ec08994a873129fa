//! Session steps with an outcome beyond the caller's keypad: branch decisions (asking the CRM
//! when a rule needs caller facts), CRM lookup answers and timeouts, transfers checked against
//! the allow-list, and voicemail recording.

use super::conditions::{evaluate, Eval};
use super::*;

impl Session {
    /// Takes the branch's first matching rule, asking the CRM first if a rule needs caller facts.
    pub(super) fn decide(&mut self, i: usize, now: &Now) -> Flow {
        let plan = Arc::clone(&self.plan);
        let Some(Node {
            name,
            kind: NodeKind::Branch(b),
            ..
        }) = plan.nodes.get(i)
        else {
            return self.fail();
        };
        match evaluate(b, &self.call, &plan, now.wall) {
            Eval::Taken(rule) => {
                let to = rule
                    .and_then(|r| b.whens.get(r))
                    .map_or(&b.default, |w| &w.goto);
                self.event(
                    name,
                    IvrEventKind::Branch {
                        rule,
                        to: to.value.clone(),
                    },
                );
                self.resolve(to)
            }
            Eval::NeedCaller => {
                self.start_lookup(i, LookupKind::Caller, self.call.caller.clone(), now);
                Flow::Stay
            }
        }
    }

    pub(super) fn transfer(&mut self, node: &Node, t: &crate::ivr::model::Transfer) -> Flow {
        use crate::ivr::model::TransferTarget;
        let number = match &t.target.value {
            TransferTarget::Number(n) => n.clone(),
            TransferTarget::Var(v) => self.call.vars.get(v).cloned().unwrap_or_default(),
        };
        if self.plan.transfer_allow.allows(&number) {
            self.event(
                &node.name,
                IvrEventKind::Transferred {
                    number: number.clone(),
                },
            );
            self.out.push(Action::Transfer { number });
            self.state = State::Transferred;
            return Flow::Stay;
        }
        self.event(&node.name, IvrEventKind::TransferRefused { number });
        match &t.on_refused {
            Some(r) => self.resolve(r),
            None => {
                self.hangup(&node.name, HangupCause::TransferRefused);
                Flow::Stay
            }
        }
    }

    pub(super) fn start_lookup(&mut self, node: usize, kind: LookupKind, value: String, now: &Now) {
        self.out.push(Action::Lookup {
            kind,
            value: value.clone(),
        });
        self.state = State::Lookup { node, kind, value };
        self.arm(now, LOOKUP_TIMEOUT);
    }

    pub(super) fn start_recording(&mut self, node: usize, max_secs: u32, now: &Now) {
        let ticket = self.call.ticket.as_ref().map(|t| t.id.clone());
        self.out.push(Action::RecordVoicemail { max_secs, ticket });
        self.state = State::Voicemail { node, prompt: None };
        self.arm(
            now,
            Duration::from_secs(u64::from(max_secs)) + RECORDING_GRACE,
        );
    }

    pub(super) fn recording_finished(&mut self) -> Flow {
        let State::Voicemail { node, prompt: None } = self.state else {
            return Flow::Stay;
        };
        let plan = Arc::clone(&self.plan);
        let Some(n) = plan.nodes.get(node) else {
            return self.fail();
        };
        self.deadline = None;
        self.event(&n.name, IvrEventKind::VoicemailRecorded);
        match &n.kind {
            NodeKind::Voicemail(v) if v.next.is_some() => {
                v.next.as_ref().map_or(Flow::Stay, |r| self.resolve(r))
            }
            _ => {
                self.hangup(&n.name, HangupCause::AfterVoicemail);
                Flow::Stay
            }
        }
    }

    pub(super) fn lookup_result(&mut self, r: LookupResult, now: &Now) -> Flow {
        match &self.state {
            State::Lookup { kind, value, .. } if *kind == r.kind && *value == r.value => {}
            _ => return Flow::Stay,
        }
        self.deadline = None;
        self.lookup_done(r.kind, r.answer, now)
    }

    /// A lookup answered (or timed out as `Unavailable`): carry on at the node that asked.
    pub(super) fn lookup_done(
        &mut self,
        kind: LookupKind,
        answer: LookupAnswer,
        now: &Now,
    ) -> Flow {
        let State::Lookup { node, value, .. } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return Flow::Stay;
        };
        let plan = Arc::clone(&self.plan);
        let Some(n) = plan.nodes.get(node) else {
            return self.fail();
        };
        let outcome = match (&answer, kind) {
            (LookupAnswer::Contact(_), LookupKind::Caller | LookupKind::Account)
            | (LookupAnswer::Ticket(_), LookupKind::Ticket) => IvrEventKind::LookupFound { kind },
            (LookupAnswer::NotFound, _) => IvrEventKind::LookupNotFound { kind },
            _ => IvrEventKind::LookupUnavailable { kind },
        };
        let found = matches!(outcome, IvrEventKind::LookupFound { .. });
        let not_found = matches!(outcome, IvrEventKind::LookupNotFound { .. });
        self.event(&n.name, outcome);
        match answer {
            LookupAnswer::Contact(f) if found => self.call.crm = CrmState::Found(f),
            LookupAnswer::Ticket(t) if found => {
                self.tag(format!("ticket:{}", t.id));
                self.event(
                    &n.name,
                    IvrEventKind::TicketTagged {
                        ticket: t.id.clone(),
                    },
                );
                self.call.ticket = Some(t);
            }
            _ if kind == LookupKind::Caller && not_found => self.call.crm = CrmState::NotFound,
            _ if kind == LookupKind::Caller => self.call.crm = CrmState::Unavailable,
            _ if !not_found => self.tag("crm_unavailable".to_string()),
            _ => {}
        }
        match &n.kind {
            NodeKind::Branch(_) => self.decide(node, now),
            NodeKind::Collect(c) => {
                if not_found {
                    return self.resolve(c.on_not_found.as_ref().unwrap_or(&c.on_invalid));
                }
                self.call.vars.insert(c.var.clone(), value.clone());
                self.event(
                    &n.name,
                    IvrEventKind::VarSet {
                        name: c.var.clone(),
                        value,
                    },
                );
                self.resolve(&c.next)
            }
            _ => self.fail(),
        }
    }

    /// Keeps a digit typed while nothing listens for the next input node.
    pub(super) fn type_ahead(&mut self, d: char) {
        if self.typeahead.len() < MAX_TYPEAHEAD {
            self.typeahead.push_back(d);
        }
    }
}
