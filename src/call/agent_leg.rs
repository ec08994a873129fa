//! The agent's side of a call: an RTP session beside the caller's, reached either through the
//! agent's SIP phone (an outgoing call leg) or through their browser (a WebRTC leg of the
//! gateway, bridged to that session as plain RTP).

use crate::media::MediaSession;
use crate::sip::endpoint::{Endpoint, LegRef};
use crate::sip::leg::LegEvent;
use crate::sip::sdp_negotiate::LocalMedia;
use crate::webrtc::{LegState, WebRtcLeg};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::watch;

/// How the agent is reached.
pub(super) enum AgentPath {
    Phone {
        leg: LegRef,
        local: LocalMedia,
        events: UnboundedReceiver<(LegRef, LegEvent)>,
    },
    Browser {
        rtc: WebRtcLeg,
        state: watch::Receiver<LegState>,
        /// The server's SDP offer the page answered (or is to answer).
        sdp: String,
        /// A fresh leg offered after the page lost its audio (reload), until it answers.
        replacement: Option<(WebRtcLeg, String)>,
    },
}

/// What happened on the agent's path.
pub(super) enum AgentEvent {
    Sip(Box<LegEvent>),
    /// The browser's WebRTC leg failed or closed.
    BrowserGone,
    /// The browser's leg connected (ICE + DTLS done).
    BrowserConnected,
}

pub(super) struct AgentLeg {
    pub id: String,
    pub path: AgentPath,
    pub media: MediaSession,
    pub answered: bool,
    pub offered_ms: i64,
    /// The screen-pop shown with the offer.
    pub pop: Option<crate::crm::model::Pop>,
    pub muted: bool,
}

impl AgentLeg {
    /// The next event on the agent's path (pends when there is nothing to wait for).
    pub async fn next_event(&mut self) -> AgentEvent {
        match &mut self.path {
            AgentPath::Phone { events, .. } => match events.recv().await {
                Some((_, ev)) => AgentEvent::Sip(Box::new(ev)),
                None => std::future::pending().await,
            },
            AgentPath::Browser { state, .. } => loop {
                if state.changed().await.is_err() {
                    return std::future::pending().await;
                }
                let now = *state.borrow_and_update();
                match now {
                    LegState::Connected => return AgentEvent::BrowserConnected,
                    LegState::Failed | LegState::Closed => return AgentEvent::BrowserGone,
                    _ => {}
                }
            },
        }
    }

    /// Id for `leg.state` events.
    pub fn leg_label(&self) -> String {
        match &self.path {
            AgentPath::Phone { leg, .. } => leg.leg.to_string(),
            AgentPath::Browser { rtc, .. } => format!("webrtc:{}", rtc.label()),
        }
    }

    pub fn is_browser(&self) -> bool {
        matches!(self.path, AgentPath::Browser { .. })
    }

    /// End the agent's path (BYE/CANCEL the phone, close the browser's leg) and its media.
    pub fn close(self, ep: Option<&Endpoint>) {
        match self.path {
            AgentPath::Phone { leg, .. } => {
                if let Some(ep) = ep {
                    ep.hangup(leg);
                }
            }
            AgentPath::Browser {
                rtc, replacement, ..
            } => {
                tokio::spawn(async move {
                    rtc.close().await;
                    if let Some((r, _)) = replacement {
                        r.close().await;
                    }
                });
            }
        }
        self.media.close();
    }

    /// Hang up the phone leg without giving up the struct (its `Ended` event follows).
    pub fn hang_up_phone(&self, ep: Option<&Endpoint>) -> bool {
        match (&self.path, ep) {
            (AgentPath::Phone { leg, .. }, Some(ep)) => {
                ep.hangup(*leg);
                true
            }
            _ => false,
        }
    }
}
