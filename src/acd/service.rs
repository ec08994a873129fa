//! The I/O edge around the sans-IO router (`super::router`): one task owns the `Router`, feeds it
//! what calls and agents report, wakes it at its deadlines, and hands its decisions to the calls
//! they concern (offer this call to that agent, stop ringing). Agent state changes become events.

use crate::acd::config::AcdConfig;
use crate::acd::router::{
    AcdError, Action, AgentStateRecord, CallSnapshot, Input, QueuedCall, Router, Snapshot,
    StopReason,
};
use crate::acd::types::{AgentId, CallId, OutcomeKind};
use crate::desk::Desk;
use crate::events::{now_ms, Event};
use crate::store::StoreHandle;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

/// What the router asks of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cue {
    /// Ring this agent for at most `ring` (the router withdraws the offer after that).
    Offer { agent: String, ring: Duration },
    /// Stop ringing this agent: the offer was withdrawn (`reason` says why; for ring-all
    /// `AnsweredElsewhere` means another phone took the call).
    StopRinging { agent: String, reason: StopReason },
    /// Tell the caller their place (1 = next) and expected wait (None: unknown).
    Announce { position: u32, ewt_ms: Option<u64> },
    /// The call now waits in this queue (overflow, or a supervisor moved it).
    QueueChanged { queue: String },
    /// The router has taken the call out of its queue (its maximum wait passed, or the queue
    /// was full): the call carries out `outcome` (voicemail or busy).
    Outcome {
        outcome: OutcomeKind,
        cause: OutcomeCause,
    },
    /// Callbacks (see `crate::call`): offer one to the waiting caller, it was booked or
    /// refused, dial the customer back for the reserved agent, or every attempt failed.
    Callback(CallbackCue),
}

/// Why the router decided a call's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeCause {
    MaxWait,
    QueueFull,
}

impl OutcomeCause {
    pub fn name(self) -> &'static str {
        match self {
            OutcomeCause::MaxWait => "max_wait",
            OutcomeCause::QueueFull => "queue_full",
        }
    }
}

/// What the router says about callbacks, for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackCue {
    /// Offer the waiting caller a callback.
    Offer,
    /// The callback is booked: the caller may go.
    Booked { number: String },
    /// The number may not be called back: the caller stays queued.
    Refused { reason: String },
    /// An agent is reserved: dial the customer back (give up after `ring`).
    Dial {
        agent: String,
        number: String,
        attempt: u32,
        ring: Duration,
    },
    /// Every attempt failed: the callback is dropped.
    Failed { attempts: u32 },
}

/// Where one router decision goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Routed {
    /// Cues for one call (an offer to several agents is one cue per agent).
    Call(CallId, Vec<Cue>),
    /// An agent's state changed: stored and shown on their page.
    AgentState {
        agent: AgentId,
        state: crate::acd::types::AgentStatus,
        reason: Option<String>,
        call: Option<CallId>,
    },
}

/// Every router action, routed. No wildcard: a new action kind does not compile until it is
/// given a destination here.
pub fn route(action: Action) -> Routed {
    let one = |call: CallId, cue: Cue| Routed::Call(call, vec![cue]);
    let outcome = |call: CallId, outcome: OutcomeKind, cause: OutcomeCause| match outcome {
        OutcomeKind::Callback => one(call, Cue::Callback(CallbackCue::Offer)),
        OutcomeKind::Voicemail | OutcomeKind::Busy => one(call, Cue::Outcome { outcome, cause }),
    };
    match action {
        Action::Offer {
            call,
            agents,
            ring_ms,
            explanation,
        } => {
            tracing::info!(call_id = %call, ?agents, why = ?explanation, "offer");
            let ring = Duration::from_millis(ring_ms);
            let cues = agents
                .into_iter()
                .map(|a| Cue::Offer {
                    agent: a.to_string(),
                    ring,
                })
                .collect();
            Routed::Call(call, cues)
        }
        Action::StopRinging {
            call,
            agent,
            reason,
        } => one(
            call,
            Cue::StopRinging {
                agent: agent.to_string(),
                reason,
            },
        ),
        Action::Announce {
            call,
            position,
            ewt_ms,
        } => one(call, Cue::Announce { position, ewt_ms }),
        Action::Overflow {
            call,
            from,
            to,
            reason,
        } => {
            tracing::info!(call_id = %call, %from, %to, ?reason, "overflow");
            Routed::Call(call, vec![Cue::QueueChanged { queue: to }])
        }
        Action::MaxWaitOutcome { call, outcome: o } => outcome(call, o, OutcomeCause::MaxWait),
        Action::QueueFull { call, outcome: o } => outcome(call, o, OutcomeCause::QueueFull),
        Action::OfferCallback { call, .. } => one(call, Cue::Callback(CallbackCue::Offer)),
        Action::CallbackBooked { call, number } => {
            one(call, Cue::Callback(CallbackCue::Booked { number }))
        }
        Action::CallbackRefused { call, reason } => {
            one(call, Cue::Callback(CallbackCue::Refused { reason }))
        }
        Action::DialCallback {
            call,
            agent,
            number,
            attempt,
            ring_ms,
        } => one(
            call,
            Cue::Callback(CallbackCue::Dial {
                agent: agent.to_string(),
                number,
                attempt,
                ring: Duration::from_millis(ring_ms),
            }),
        ),
        Action::CallbackFailed { call, attempts } => {
            one(call, Cue::Callback(CallbackCue::Failed { attempts }))
        }
        Action::AgentStateChanged {
            agent,
            state,
            reason,
            call,
        } => Routed::AgentState {
            agent,
            state,
            reason,
            call,
        },
    }
}

enum Msg {
    Queue(QueuedCall, UnboundedSender<Cue>),
    Input(Input),
    /// An input whose outcome someone waits for (a supervisor's action).
    Request(Input, oneshot::Sender<Result<(), AcdError>>),
    Board(oneshot::Sender<Board>),
    Desk(Arc<Desk>),
}

/// The router's state for the wallboard. Router times are milliseconds since the routing task
/// started; `epoch_at_zero_ms` turns them into wall-clock time.
#[derive(Clone, Debug)]
pub struct Board {
    pub snapshot: Snapshot,
    /// Calls known to the router (waiting first, in service order), at most [`BOARD_CALLS`].
    pub calls: Vec<CallSnapshot>,
    pub epoch_at_zero_ms: i64,
}

/// Most calls listed on the wallboard.
pub const BOARD_CALLS: usize = 1000;

/// Cheap handle for calls and the registrar.
#[derive(Clone)]
pub struct RouterHandle {
    tx: UnboundedSender<Msg>,
}

impl RouterHandle {
    /// Queue a call; the router's cues for it arrive on the returned channel.
    pub fn queue(&self, call: QueuedCall) -> UnboundedReceiver<Cue> {
        let (tx, rx) = unbounded_channel();
        let _ = self.tx.send(Msg::Queue(call, tx));
        rx
    }

    pub fn send(&self, input: Input) {
        let _ = self.tx.send(Msg::Input(input));
    }

    /// Apply an input and say whether the router took it (None: routing has stopped).
    pub async fn request(&self, input: Input) -> Option<Result<(), AcdError>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Request(input, tx)).ok()?;
        rx.await.ok()
    }

    /// The router's queues, agents and calls now.
    pub async fn board(&self) -> Option<Board> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Board(tx)).ok()?;
        rx.await.ok()
    }

    /// Agent state changes also go to the agents' pages.
    pub fn attach_desk(&self, desk: Arc<Desk>) {
        let _ = self.tx.send(Msg::Desk(desk));
    }
}

/// Start the routing task. `restore`: agent states stored before a restart (an agent who was
/// not ready is still not ready; everyone counts as disconnected until their phone or browser
/// is seen again, after the configured grace period).
pub fn spawn(
    config: AcdConfig,
    events: StoreHandle,
    restore: Vec<AgentStateRecord>,
) -> RouterHandle {
    let (tx, mut rx) = unbounded_channel::<Msg>();
    tokio::spawn(async move {
        let start = Instant::now();
        let now = || start.elapsed().as_millis() as u64;
        let mut router = Router::new(config);
        let unknown = router.restore(now(), &restore);
        if !unknown.is_empty() {
            tracing::info!(
                ?unknown,
                "stored agent states for agents no longer configured; ignored"
            );
        }
        let mut calls: HashMap<CallId, UnboundedSender<Cue>> = HashMap::new();
        let mut desk: Option<Arc<Desk>> = None;
        loop {
            let deadline = router
                .next_deadline()
                .map(|ms| tokio::time::Instant::from_std(start + Duration::from_millis(ms)));
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else { break };
                    let (input, reply) = match msg {
                        Msg::Queue(call, cues) => {
                            calls.insert(call.call.clone(), cues);
                            (Input::CallQueued(call), None)
                        }
                        Msg::Input(i) => (i, None),
                        Msg::Request(i, reply) => (i, Some(reply)),
                        Msg::Board(reply) => {
                            let at = now();
                            let _ = reply.send(Board {
                                snapshot: router.snapshot(at),
                                calls: router.calls_snapshot(at, None, BOARD_CALLS),
                                epoch_at_zero_ms: now_ms() - at as i64,
                            });
                            continue;
                        }
                        Msg::Desk(d) => {
                            desk = Some(d);
                            continue;
                        }
                    };
                    if let Input::CallEnded { call } | Input::CallAbandoned { call } = &input {
                        calls.remove(call);
                    }
                    let moved = moved_call(&input);
                    let result = router.handle(now(), input);
                    if let (Some((call, queue)), Ok(())) = (moved, &result) {
                        // The router says nothing of a supervisor's move: tell the call.
                        cue_call(&calls, &call, Cue::QueueChanged { queue });
                    }
                    if let Err(e) = &result {
                        tracing::debug!(error = ?e, "router refused an input");
                    }
                    if let Some(reply) = reply {
                        let _ = reply.send(result);
                    }
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600))), if deadline.is_some() => {
                    router.tick(now());
                }
            }
            for action in router.drain_actions() {
                dispatch(action, &mut calls, &events, desk.as_deref());
            }
        }
    });
    RouterHandle { tx }
}

/// The call and its new queue, if `input` is a supervisor's move.
fn moved_call(input: &Input) -> Option<(CallId, String)> {
    match input {
        Input::MoveCall { call, queue } => Some((call.clone(), queue.clone())),
        _ => None,
    }
}

fn cue_call(calls: &HashMap<CallId, UnboundedSender<Cue>>, call: &CallId, cue: Cue) {
    if let Some(tx) = calls.get(call) {
        let _ = tx.send(cue);
    }
}

fn dispatch(
    action: Action,
    calls: &mut HashMap<CallId, UnboundedSender<Cue>>,
    events: &StoreHandle,
    desk: Option<&Desk>,
) {
    // The overflow is stored here, where it was decided (the call only follows it).
    if let Action::Overflow {
        call,
        from,
        to,
        reason,
    } = &action
    {
        let ev = Event::CallOverflowed {
            from: from.clone(),
            to: to.clone(),
            reason: *reason,
        };
        events.append(ev.record(Some(call.as_str()), now_ms()));
    }
    match route(action) {
        Routed::Call(call, cues) => {
            // After an outcome the router has forgotten the call: so do we.
            let gone = cues.iter().any(|c| matches!(c, Cue::Outcome { .. }));
            for c in cues {
                cue_call(calls, &call, c);
            }
            if gone {
                calls.remove(&call);
            }
        }
        Routed::AgentState {
            agent,
            state,
            reason,
            call,
        } => {
            let at = now_ms();
            if let Some(d) = desk {
                d.state_changed(agent.as_str(), state.name(), reason.clone(), at);
            }
            let ev = Event::AgentState {
                agent: agent.to_string(),
                state: state.name().to_string(),
                reason,
                call: call.map(|c| c.to_string()),
            };
            events.append(ev.record(None, at));
        }
    }
}

/// Stored agent states as the router's restore records (unreadable rows are skipped).
pub fn records(stored: &[crate::store::AgentState]) -> Vec<AgentStateRecord> {
    stored
        .iter()
        .filter_map(|s| {
            Some(AgentStateRecord {
                agent: AgentId::from(s.agent_id.as_str()),
                state: crate::acd::types::AgentStatus::parse(&s.state)?,
                reason: s.reason.clone(),
            })
        })
        .collect()
}

/// The router's id for an agent (the SIP/HTTP username).
pub fn agent_id(username: &str) -> AgentId {
    AgentId::from(username)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acd::router::Explanation;
    use crate::acd::types::AgentStatus;

    fn cues(a: Action) -> Vec<Cue> {
        match route(a) {
            Routed::Call(call, cues) => {
                assert_eq!(call.as_str(), "c1");
                cues
            }
            other => panic!("not for a call: {other:?}"),
        }
    }

    #[test]
    fn every_router_action_reaches_its_call() {
        let call = CallId::from("c1");
        let offer = cues(Action::Offer {
            call: call.clone(),
            agents: vec!["ann".into(), "bob".into()],
            ring_ms: 15_000,
            explanation: Explanation {
                call: call.clone(),
                at_ms: 0,
                queue: "q".into(),
                trigger: "call-queued",
                rule: String::new(),
                requirement: String::new(),
                relaxation_stage: 0,
                penalty: 0,
                considered: 2,
                chosen: vec![],
                runners_up: vec![],
            },
        });
        assert_eq!(offer.len(), 2, "ring-all: one cue per agent");
        assert_eq!(
            cues(Action::StopRinging {
                call: call.clone(),
                agent: "ann".into(),
                reason: StopReason::AnsweredElsewhere
            }),
            vec![Cue::StopRinging {
                agent: "ann".into(),
                reason: StopReason::AnsweredElsewhere
            }]
        );
        assert_eq!(
            cues(Action::Announce {
                call: call.clone(),
                position: 2,
                ewt_ms: None
            }),
            vec![Cue::Announce {
                position: 2,
                ewt_ms: None
            }]
        );
        assert_eq!(
            cues(Action::Overflow {
                call: call.clone(),
                from: "a".into(),
                to: "b".into(),
                reason: crate::acd::router::OverflowReason::MaxWait
            }),
            vec![Cue::QueueChanged { queue: "b".into() }]
        );
        for (a, cause) in [
            (
                Action::MaxWaitOutcome {
                    call: call.clone(),
                    outcome: OutcomeKind::Voicemail,
                },
                OutcomeCause::MaxWait,
            ),
            (
                Action::QueueFull {
                    call: call.clone(),
                    outcome: OutcomeKind::Voicemail,
                },
                OutcomeCause::QueueFull,
            ),
        ] {
            assert_eq!(
                cues(a),
                vec![Cue::Outcome {
                    outcome: OutcomeKind::Voicemail,
                    cause
                }],
                "voicemail is carried out, not dropped"
            );
        }
        assert_eq!(
            cues(Action::QueueFull {
                call: call.clone(),
                outcome: OutcomeKind::Busy
            }),
            vec![Cue::Outcome {
                outcome: OutcomeKind::Busy,
                cause: OutcomeCause::QueueFull
            }]
        );
        for a in [
            Action::MaxWaitOutcome {
                call: call.clone(),
                outcome: OutcomeKind::Callback,
            },
            Action::QueueFull {
                call: call.clone(),
                outcome: OutcomeKind::Callback,
            },
            Action::OfferCallback {
                call: call.clone(),
                ewt_ms: Some(1),
            },
        ] {
            assert_eq!(cues(a), vec![Cue::Callback(CallbackCue::Offer)]);
        }
        assert_eq!(
            cues(Action::CallbackBooked {
                call: call.clone(),
                number: "+15550100".into()
            }),
            vec![Cue::Callback(CallbackCue::Booked {
                number: "+15550100".into()
            })]
        );
        assert_eq!(
            cues(Action::CallbackRefused {
                call: call.clone(),
                reason: "x".into()
            }),
            vec![Cue::Callback(CallbackCue::Refused { reason: "x".into() })]
        );
        assert_eq!(
            cues(Action::DialCallback {
                call: call.clone(),
                agent: "ann".into(),
                number: "+15550100".into(),
                attempt: 2,
                ring_ms: 30_000
            }),
            vec![Cue::Callback(CallbackCue::Dial {
                agent: "ann".into(),
                number: "+15550100".into(),
                attempt: 2,
                ring: Duration::from_secs(30)
            })]
        );
        assert_eq!(
            cues(Action::CallbackFailed {
                call: call.clone(),
                attempts: 3
            }),
            vec![Cue::Callback(CallbackCue::Failed { attempts: 3 })]
        );
        assert!(matches!(
            route(Action::AgentStateChanged {
                agent: "ann".into(),
                state: AgentStatus::Available,
                reason: None,
                call: None
            }),
            Routed::AgentState { .. }
        ));
    }
}
