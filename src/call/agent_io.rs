//! The I/O side of the legs the call's machine opens toward agents and supervisors: an RTP
//! session beside the caller's, reached through the user's SIP phone (an outgoing call leg) or
//! their browser (a WebRTC leg of the gateway, bridged to that session as plain RTP).
//!
//! Setting a leg up awaits (dialling, opening a WebRTC leg, accepting a browser's answer), so
//! it runs in a spawned task whose result comes back to the call's loop as a [`Done`]; the
//! leg's events are forwarded to one channel, tagged with the machine's leg id.

use super::machine::LegId;
use crate::media::MediaSession;
use crate::sip::endpoint::{Endpoint, LegRef};
use crate::sip::leg::{LegEvent, OutgoingCall};
use crate::sip::message::{NameAddr, Uri};
use crate::sip::sdp_negotiate::LocalMedia;
use crate::webrtc::{LegState, WebRtcLeg};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

/// How the user is reached.
pub(super) enum AgentPath {
    Phone {
        leg: LegRef,
        local: LocalMedia,
    },
    Browser {
        rtc: WebRtcLeg,
        /// The server's SDP offer the page answered (or is to answer).
        sdp: String,
        /// A fresh leg offered after the page lost its audio (reload), until it answers.
        replacement: Option<(WebRtcLeg, String)>,
    },
}

/// What happened on a leg.
#[derive(Debug)]
pub(super) enum AgentEvent {
    Sip(Box<LegEvent>),
    /// The browser's WebRTC leg failed or closed.
    BrowserGone,
    /// The browser's leg connected (ICE + DTLS done).
    BrowserConnected,
}

/// One agent's (or supervisor's) leg of the call.
pub(super) struct AgentLeg {
    pub user: String,
    pub path: AgentPath,
    pub media: MediaSession,
    pub offered_ms: i64,
    pub muted: bool,
}

/// The result of work the call's loop spawned.
pub(super) enum Done {
    /// The CRM named the ticket that routes the call (or gave up).
    Ticket(Option<crate::acd::router::TicketInfo>),
    /// The screen-pop (None: no CRM).
    Pop(Option<Box<crate::crm::model::Pop>>),
    /// A leg is set up (it rings), or could not be.
    Rung {
        leg: LegId,
        result: Result<AgentLeg, String>,
    },
    /// The browser's answer was accepted (`pcmu`: it chose PCMU) or refused.
    BrowserAnswered {
        leg: LegId,
        result: Result<bool, String>,
    },
    /// A replacement WebRTC leg for a page that lost its audio.
    Reoffered {
        leg: LegId,
        result: Result<(WebRtcLeg, String), String>,
    },
    /// The page answered the replacement leg.
    Reattached {
        leg: LegId,
        result: Result<bool, String>,
    },
    /// An event on a leg set up earlier. It comes on the same channel as the leg's `Rung`,
    /// and after it, so the leg is known when its first event is handled.
    Leg(LegId, AgentEvent),
}

impl AgentLeg {
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

    pub fn phone(&self) -> Option<LegRef> {
        match &self.path {
            AgentPath::Phone { leg, .. } => Some(*leg),
            AgentPath::Browser { .. } => None,
        }
    }

    /// End the leg (CANCEL with `reason` before the answer, BYE after; close the browser's
    /// WebRTC leg) and its media.
    pub fn close(self, ep: Option<&Endpoint>, reason: Option<String>) {
        match self.path {
            AgentPath::Phone { leg, .. } => {
                if let Some(ep) = ep {
                    ep.cancel(leg, reason);
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
}

/// Forward a phone leg's events to the call's loop, tagged `leg`.
pub(super) fn forward_phone(
    leg: LegId,
    mut events: UnboundedReceiver<(LegRef, LegEvent)>,
    to: UnboundedSender<Done>,
) {
    tokio::spawn(async move {
        while let Some((_, ev)) = events.recv().await {
            let last = matches!(
                ev,
                LegEvent::Ended { .. } | LegEvent::Cancelled | LegEvent::Failed { .. }
            );
            if to
                .send(Done::Leg(leg, AgentEvent::Sip(Box::new(ev))))
                .is_err()
                || last
            {
                return;
            }
        }
    });
}

/// Forward a browser leg's connection state to the call's loop, tagged `leg`.
pub(super) fn forward_browser(leg: LegId, rtc: &WebRtcLeg, to: UnboundedSender<Done>) {
    let mut state = rtc.state();
    tokio::spawn(async move {
        while state.changed().await.is_ok() {
            let now = *state.borrow_and_update();
            let ev = match now {
                LegState::Connected => AgentEvent::BrowserConnected,
                LegState::Failed | LegState::Closed => AgentEvent::BrowserGone,
                _ => continue,
            };
            let gone = matches!(ev, AgentEvent::BrowserGone);
            if to.send(Done::Leg(leg, ev)).is_err() || gone {
                return;
            }
        }
    });
}

/// Everything needed to dial a user's registered phone from the call, owned so the dial can
/// run in its own task.
pub(super) struct PhoneDial {
    pub ep: Endpoint,
    pub user: String,
    pub contact: String,
    pub source: crate::sip::transaction::Peer,
    pub from_user: String,
    pub domain: String,
    pub media: MediaSession,
    pub offered_ms: i64,
}

impl PhoneDial {
    /// Call the phone with an offer for `media`; the leg's events go to `events`.
    pub async fn dial(
        self,
        events: UnboundedSender<(LegRef, LegEvent)>,
    ) -> Result<AgentLeg, String> {
        let addr = self.media.local_addr();
        let local = LocalMedia::new(addr.ip(), addr.port());
        let sdp = crate::sip::sdp_negotiate::offer(&local).to_string();
        let domain = &self.domain;
        let parsed = (
            Uri::parse(&self.contact),
            NameAddr::parse(&format!("<sip:{}@{domain}>", self.from_user)),
            NameAddr::parse(&format!("<sip:{}@{domain}>", self.user)),
        );
        let (Ok(uri), Ok(from), Ok(to)) = parsed else {
            self.media.close();
            return Err("the phone's contact is not a SIP URI".into());
        };
        let out = OutgoingCall {
            target: self.source,
            uri,
            from,
            to,
            sdp: Some(sdp.into()),
            headers: vec![],
        };
        match self.ep.call(out, events).await {
            Ok(leg) => Ok(AgentLeg {
                user: self.user,
                path: AgentPath::Phone { leg, local },
                media: self.media,
                offered_ms: self.offered_ms,
                muted: false,
            }),
            Err(e) => {
                self.media.close();
                Err(format!("phone not called: {e}"))
            }
        }
    }
}

/// Open a WebRTC leg toward `media` for the agent's page.
pub(super) async fn open_browser(
    gw: std::sync::Arc<crate::webrtc::WebRtcGateway>,
    label: String,
    user: String,
    media: MediaSession,
    offered_ms: i64,
) -> Result<AgentLeg, String> {
    match gw.open(&label, media.local_addr()).await {
        Ok((rtc, sdp)) => {
            media.set_remote(browser_media(rtc.rtp_addr(), true));
            Ok(AgentLeg {
                user,
                path: AgentPath::Browser {
                    rtc,
                    sdp,
                    replacement: None,
                },
                media,
                offered_ms,
                muted: false,
            })
        }
        Err(e) => {
            media.close();
            Err(format!("no WebRTC leg for the browser: {e}"))
        }
    }
}

/// Point `media` at what the phone's 200 OK answered to our offer (`local`).
pub(super) fn accept_phone_answer(sdp: Option<&[u8]>, local: &LocalMedia, media: &MediaSession) {
    let neg = sdp
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|t| crate::sip::sdp::SessionDescription::parse(t).ok())
        .and_then(|answer| crate::sip::sdp_negotiate::accept_answer(&answer, local));
    if let Some(n) = neg {
        media.set_remote(super::media_map::to_media(&n));
    }
}

/// The media engine's view of a browser leg: plain RTP to the gateway's socket, G.711 as the
/// browser chose, telephone-event 101.
pub(super) fn browser_media(
    addr: std::net::SocketAddr,
    pcmu: bool,
) -> crate::media::NegotiatedMedia {
    use crate::media::{Codec, NegotiatedMedia};
    let mut m = NegotiatedMedia::new(addr, if pcmu { Codec::Pcmu } else { Codec::Pcma });
    m.telephone_event_pt = Some(crate::webrtc::PT_TELEPHONE_EVENT);
    m
}

/// Whether the browser's answer keeps PCMU (else it chose PCMA): the first payload type on its
/// `m=audio` line.
pub(super) fn prefers_pcmu(answer: &str) -> bool {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split_whitespace().nth(2))
        .is_none_or(|pt| pt != "8")
}

/// The supervisor's leg on this call.
pub(super) struct MonitorLeg {
    pub leg: LegId,
    pub supervisor: String,
    pub mode: crate::desk::MonitorMode,
    pub phone: AgentLeg,
    pub conference: Option<crate::media::Conference>,
}
