//! [`Leg`]: a UAS or UAC leg behind one interface, so [`super::Legs`] routes
//! messages, timers and commands without caring which side placed the call.

use std::time::Instant;

use super::ctx::LegCtx;
use super::session::Session;
use super::uac::UacLeg;
use super::uas::UasLeg;
use super::LegError;
use crate::sip::dialog::Dialog;
use crate::sip::message::{Request, Response};
use crate::sip::transaction::TxId;

#[derive(Debug)]
pub(crate) enum Leg {
    Uas(UasLeg),
    Uac(UacLeg),
}

impl Leg {
    /// In-dialog request (To tag is ours).
    pub fn on_request(&mut self, ctx: &mut LegCtx, tx: TxId, req: Request) {
        match self {
            Leg::Uas(l) => l.on_request(ctx, tx, req),
            Leg::Uac(l) => l.on_request(ctx, tx, req),
        }
    }

    pub fn on_ack(&mut self, ctx: &mut LegCtx, ack: &Request) {
        match self {
            Leg::Uas(l) => l.on_ack(ctx, ack),
            Leg::Uac(l) => l.on_ack(ctx, ack),
        }
    }

    pub fn on_response(&mut self, ctx: &mut LegCtx, tx: TxId, resp: Response) {
        match self {
            Leg::Uas(l) => l.on_response(ctx, tx, &resp),
            Leg::Uac(l) => l.on_response(ctx, tx, resp),
        }
    }

    /// A 2xx to an INVITE that matched no transaction (retransmission after timer M).
    pub fn on_stray_2xx(&mut self, ctx: &mut LegCtx, resp: &Response) {
        match self {
            Leg::Uac(l) => l.on_2xx(ctx, resp),
            Leg::Uas(l) => {
                if let Some(s) = l.session.as_mut() {
                    s.on_2xx_retransmission(ctx, resp);
                }
            }
        }
    }

    pub fn on_tx_failure(&mut self, ctx: &mut LegCtx, tx: TxId, timeout: bool) {
        match self {
            Leg::Uas(l) => l.on_tx_failure(ctx, tx, timeout),
            Leg::Uac(l) => l.on_tx_failure(ctx, tx, timeout),
        }
    }

    pub fn hangup(&mut self, ctx: &mut LegCtx) {
        match self {
            Leg::Uas(l) => l.hangup(ctx),
            Leg::Uac(l) => l.hangup(ctx),
        }
    }

    pub fn session_mut(&mut self) -> Result<&mut Session, LegError> {
        match self {
            Leg::Uas(l) => l.session_mut(),
            Leg::Uac(l) => l.session_mut(),
        }
    }

    pub fn dialog(&self) -> Option<&Dialog> {
        match self {
            Leg::Uas(l) => l.dialog(),
            Leg::Uac(l) => l.dialog(),
        }
    }

    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Leg::Uas(l) => l.deadline(),
            Leg::Uac(l) => l.deadline(),
        }
    }

    pub fn on_timer(&mut self, ctx: &mut LegCtx) {
        match self {
            Leg::Uas(l) => l.on_timer(ctx),
            Leg::Uac(l) => l.on_timer(ctx),
        }
    }

    pub fn finished(&self) -> bool {
        match self {
            Leg::Uas(l) => l.finished(),
            Leg::Uac(l) => l.finished(),
        }
    }
}
