//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6). Trying → Proceeding →
//! Completed. Timer E retransmits (T1 doubling to T2; T2 once a provisional arrived;
//! unreliable only), F gives up, K absorbs response retransmits (zero on reliable).

use std::sync::Arc;
use std::time::Duration;

use super::ctx::{Ctx, Step};
use super::timers::{TimerConfig, TimerKind};
use super::Action;
use crate::sip::message::{Message, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(crate) struct ClientNonInvite {
    pub state: State,
    request: Arc<Message>,
    e_interval: Duration,
}

impl ClientNonInvite {
    /// Sends the request and starts timers E (unreliable) and F.
    pub fn start(ctx: &mut Ctx, request: Arc<Message>) -> ClientNonInvite {
        ctx.send(&request);
        let t1 = ctx.cfg.t1;
        if !ctx.reliable() {
            ctx.arm(TimerKind::E, t1);
        }
        ctx.arm(TimerKind::F, ctx.cfg.t1x64());
        ClientNonInvite {
            state: State::Trying,
            request,
            e_interval: t1,
        }
    }

    pub fn request(&self) -> &Arc<Message> {
        &self.request
    }

    pub fn on_response(&mut self, ctx: &mut Ctx, resp: Response) -> Step {
        match self.state {
            State::Trying | State::Proceeding if resp.is_provisional() => {
                self.state = State::Proceeding;
                ctx.emit(Action::ResponseReceived {
                    tx: ctx.id,
                    response: resp,
                });
                Step::Stay
            }
            State::Trying | State::Proceeding => {
                self.state = State::Completed;
                ctx.disarm(TimerKind::E);
                ctx.disarm(TimerKind::F);
                ctx.emit(Action::ResponseReceived {
                    tx: ctx.id,
                    response: resp,
                });
                if ctx.reliable() {
                    return Step::Terminate;
                }
                ctx.arm(TimerKind::K, ctx.cfg.t4);
                Step::Stay
            }
            State::Completed => Step::Stay,
        }
    }

    pub fn on_timer(&mut self, ctx: &mut Ctx, kind: TimerKind) -> Step {
        match (self.state, kind) {
            (State::Trying | State::Proceeding, TimerKind::E) => {
                let req = Arc::clone(&self.request);
                ctx.resend(&req);
                self.e_interval = if self.state == State::Proceeding {
                    ctx.cfg.t2
                } else {
                    TimerConfig::backoff(self.e_interval, ctx.cfg.t2)
                };
                ctx.arm(TimerKind::E, self.e_interval);
                Step::Stay
            }
            (State::Trying | State::Proceeding, TimerKind::F) => {
                ctx.emit(Action::Timeout { tx: ctx.id });
                Step::Terminate
            }
            (State::Completed, TimerKind::K) => Step::Terminate,
            _ => Step::Stay,
        }
    }
}
