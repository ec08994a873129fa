//! The agent socket's JSON messages (`GET /ws/agent`). Every message has a `type`; the README
//! section "Agent socket" documents them with examples.

use crate::config::Disposition;
use crate::crm::model::{Pop, Ticket, WrapUp};
use serde::{Deserialize, Serialize};

/// The agent's routing state as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateView {
    pub state: String,
    pub reason: Option<String>,
    pub since_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferView {
    pub call_id: String,
    pub caller: String,
    pub queue: String,
    /// Seconds since the call arrived (IVR and queue included), when the offer was made.
    pub wait_secs: f64,
    pub ring_secs: f64,
    pub pop: Pop,
    /// The server's SDP offer when the agent answers in the browser.
    pub webrtc: Option<WebRtcOffer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebRtcOffer {
    pub sdp: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallView {
    pub call_id: String,
    pub caller: String,
    pub queue: String,
    /// When the call arrived (epoch ms): the caller waited `answered_ms - arrived_ms`.
    pub arrived_ms: i64,
    pub answered_ms: i64,
    pub held: bool,
    pub muted: bool,
    pub pop: Pop,
    /// The server's SDP offer for the browser's audio leg (a new one after `reoffer`).
    pub webrtc: Option<WebRtcOffer>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WrapupView {
    pub call_id: String,
    pub required: bool,
    /// When the queue's wrap-up time (`wrap_up_s`) runs out and the agent is offered calls
    /// again (epoch ms); none when the queue has no wrap-up time.
    pub until_ms: Option<i64>,
    pub pop: Pop,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub answered_today: i64,
    pub aht_secs: Option<f64>,
    pub talk_secs_today: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueCount {
    pub name: String,
    pub waiting: usize,
    pub longest_wait_secs: f64,
}

/// Server → page. (`hello` is large and rare; boxing it would only add noise to every match.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Hello {
        agent: String,
        display_name: String,
        #[serde(flatten)]
        state: StateView,
        offer: Option<OfferView>,
        call: Option<CallView>,
        wrapup: Option<WrapupView>,
        dispositions: Vec<Disposition>,
        not_ready_reasons: Vec<String>,
        stats: Stats,
        device: &'static str,
    },
    State(StateView),
    Offer(OfferView),
    OfferWithdrawn {
        call_id: String,
        /// A stable code (`caller-hung-up`, `no-answer`, `answered-elsewhere`, `rejected`,
        /// `withdrawn`)…
        reason: String,
        /// …and what it means, in words the page shows.
        text: String,
    },
    Call(CallView),
    CallEnded {
        call_id: String,
        by: &'static str,
        talk_secs: f64,
    },
    Wrapup(WrapupView),
    WrapupSaved {
        call_id: String,
        interaction_id: String,
        ticket: Option<Ticket>,
    },
    Queues {
        queues: Vec<QueueCount>,
    },
    Stats(Stats),
    Error {
        request: String,
        message: String,
    },
    Pong,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferTarget {
    Queue(String),
    Agent(String),
    Number(String),
}

/// Page → server.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    SetState {
        state: String,
        #[serde(default)]
        reason: Option<String>,
    },
    Answer {
        call_id: String,
        #[serde(default)]
        sdp: Option<String>,
    },
    Reject {
        call_id: String,
    },
    Hangup {
        call_id: String,
    },
    Hold {
        call_id: String,
        on: bool,
    },
    Mute {
        call_id: String,
        on: bool,
    },
    Dtmf {
        call_id: String,
        digits: String,
    },
    Transfer {
        call_id: String,
        to: TransferTarget,
    },
    Wrapup {
        call_id: String,
        #[serde(flatten)]
        wrap: WrapUp,
    },
    /// The page has no audio for its call (it was reloaded): offer a new WebRTC leg.
    Reoffer {
        call_id: String,
    },
    Ping,
}

impl ClientMsg {
    /// The message's `type`, for error replies.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMsg::SetState { .. } => "set_state",
            ClientMsg::Answer { .. } => "answer",
            ClientMsg::Reject { .. } => "reject",
            ClientMsg::Hangup { .. } => "hangup",
            ClientMsg::Hold { .. } => "hold",
            ClientMsg::Mute { .. } => "mute",
            ClientMsg::Dtmf { .. } => "dtmf",
            ClientMsg::Transfer { .. } => "transfer",
            ClientMsg::Wrapup { .. } => "wrapup",
            ClientMsg::Reoffer { .. } => "reoffer",
            ClientMsg::Ping => "ping",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::model::{Resolution, TicketChoice};

    #[test]
    fn a_wrapup_from_the_page_parses() {
        let m: ClientMsg = serde_json::from_str(
            r#"{"type":"wrapup","call_id":"c1","disposition":"resolved","notes":"reset done",
                "ticket":{"link":"T-1001"},"resolution":"resolved"}"#,
        )
        .unwrap();
        let ClientMsg::Wrapup { call_id, wrap } = m else {
            panic!("not a wrapup")
        };
        assert_eq!(call_id, "c1");
        assert_eq!(wrap.ticket, Some(TicketChoice::Link("T-1001".into())));
        assert_eq!(wrap.resolution, Resolution::Resolved);
    }

    #[test]
    fn transfer_targets_and_unknown_types() {
        let m: ClientMsg =
            serde_json::from_str(r#"{"type":"transfer","call_id":"c","to":{"queue":"tier2"}}"#)
                .unwrap();
        assert_eq!(
            m,
            ClientMsg::Transfer {
                call_id: "c".into(),
                to: TransferTarget::Queue("tier2".into())
            }
        );
        assert!(serde_json::from_str::<ClientMsg>(r#"{"type":"explode"}"#).is_err());
    }

    #[test]
    fn server_messages_carry_their_type() {
        let v = serde_json::to_value(ServerMsg::OfferWithdrawn {
            call_id: "c".into(),
            reason: "caller-hung-up".into(),
            text: "the caller hung up".into(),
        })
        .unwrap();
        assert_eq!(v["type"], "offer_withdrawn");
        let v = serde_json::to_value(ServerMsg::State(StateView {
            state: "available".into(),
            reason: None,
            since_ms: 5,
        }))
        .unwrap();
        assert_eq!(
            (v["type"].as_str(), v["state"].as_str()),
            (Some("state"), Some("available"))
        );
    }
}
