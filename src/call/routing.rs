//! The I/O edge around the sans-IO router (`crate::acd`): one task owns the `Router`, feeds it
//! what calls and agents report, wakes it at its deadlines, and hands its decisions to the calls
//! they concern (offer this call to that agent, stop ringing). Agent state changes become events.

use crate::acd::config::AcdConfig;
use crate::acd::router::{
    AcdError, Action, AgentStateRecord, CallSnapshot, Input, QueuedCall, Router, Snapshot,
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
    /// Stop ringing this agent (offer withdrawn, or the agent was taken away).
    StopRinging { agent: String },
    /// Tell the caller their place (1 = next) and expected wait (None: unknown).
    Announce { position: u32, ewt_ms: Option<u64> },
    /// The call now waits in this queue (overflow, or a supervisor moved it).
    QueueChanged { queue: String },
    /// Callbacks (see [`super::callback`]): offer one to the waiting caller, it was booked or
    /// refused, dial the customer back for the reserved agent, or every attempt failed.
    Callback(super::callback::CallbackCue),
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
                dispatch(action, &calls, &events, desk.as_deref());
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
    calls: &HashMap<CallId, UnboundedSender<Cue>>,
    events: &StoreHandle,
    desk: Option<&Desk>,
) {
    let cue = |call: &CallId, cue: Cue| cue_call(calls, call, cue);
    match action {
        Action::Offer {
            call,
            agents,
            ring_ms,
            explanation,
        } => {
            tracing::info!(call_id = %call, ?agents, why = ?explanation, "offer");
            for a in agents {
                cue(
                    &call,
                    Cue::Offer {
                        agent: a.to_string(),
                        ring: Duration::from_millis(ring_ms),
                    },
                );
            }
        }
        Action::StopRinging { call, agent, .. } => cue(
            &call,
            Cue::StopRinging {
                agent: agent.to_string(),
            },
        ),
        Action::AgentStateChanged {
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
        Action::Announce {
            call,
            position,
            ewt_ms,
        } => cue(&call, Cue::Announce { position, ewt_ms }),
        Action::Overflow {
            call,
            from,
            to,
            reason,
        } => {
            tracing::info!(call_id = %call, %from, %to, ?reason, "overflow");
            let ev = Event::CallOverflowed {
                from,
                to: to.clone(),
                reason,
            };
            events.append(ev.record(Some(call.as_str()), now_ms()));
            cue(&call, Cue::QueueChanged { queue: to });
        }
        a @ (Action::OfferCallback { .. }
        | Action::MaxWaitOutcome {
            outcome: OutcomeKind::Callback,
            ..
        }
        | Action::QueueFull {
            outcome: OutcomeKind::Callback,
            ..
        }
        | Action::CallbackBooked { .. }
        | Action::CallbackRefused { .. }
        | Action::DialCallback { .. }
        | Action::CallbackFailed { .. }) => {
            if let Some((call, c)) = super::callback::cue_for(&a) {
                cue(&call, Cue::Callback(c));
            }
        }
        other => tracing::debug!(action = ?other, "router action not acted on yet"),
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
