//! The task that follows one answered call: answers re-INVITEs (hold/unhold), records the end.

use super::env::CallEnv;
use crate::events::Event;
use crate::sip::endpoint::{Command, LegRef};
use crate::sip::leg::LegEvent;
use crate::sip::sdp::SessionDescription;
use crate::sip::sdp_negotiate::{answer, LocalMedia};
use std::sync::Arc;
use tokio::sync::mpsc::UnboundedReceiver;

pub(super) struct Session {
    pub call_id: String,
    pub leg: LegRef,
    pub local: LocalMedia,
    pub env: Arc<CallEnv>,
}

impl Session {
    pub async fn run(mut self, mut rx: UnboundedReceiver<(LegRef, LegEvent)>) {
        let mut held = false;
        let mut cause = "failed";
        while let Some((leg, event)) = rx.recv().await {
            match event {
                LegEvent::Confirmed { .. } => self.record(Event::CallAnswered {}),
                LegEvent::ReInvite { sdp } => {
                    let offer = sdp
                        .as_deref()
                        .and_then(|b| std::str::from_utf8(b).ok())
                        .and_then(|t| SessionDescription::parse(t).ok());
                    self.local.session_version += 1;
                    match offer.and_then(|o| answer(&o, &self.local)) {
                        Some((sdp, media)) => {
                            // The caller holds us with sendonly/inactive or c=0.0.0.0: we stop sending.
                            let now_held =
                                !media.direction.sends() || media.remote_addr.is_unspecified();
                            if now_held != held {
                                held = now_held;
                                self.record(Event::CallHold { held });
                            }
                            self.command(
                                leg,
                                Command::AnswerReinvite(leg.leg, sdp.to_string().into()),
                            );
                        }
                        None => self.command(leg, Command::RejectReinvite(leg.leg, 488)),
                    }
                }
                LegEvent::Ended { by, cause: why } => {
                    cause = super::env::end_cause(by, why);
                    break;
                }
                LegEvent::Cancelled => {
                    cause = "cancelled";
                    break;
                }
                LegEvent::Request { tx, request } => {
                    self.command(
                        leg,
                        Command::Respond(tx, super::env::in_dialog_response(&request)),
                    );
                }
                _ => {}
            }
        }
        self.finish(cause);
    }

    fn command(&self, leg: LegRef, cmd: Command) {
        if let Some(ep) = self.env.endpoint.get() {
            ep.command(leg.shard, cmd);
        }
    }

    fn record(&self, event: Event) {
        self.env.record(&self.call_id, event);
    }

    fn finish(&self, cause: &str) {
        self.env.finish_call(&self.call_id, cause);
        let _ = self.leg;
    }
}
