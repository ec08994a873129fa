//! The one typed event stream every part of the server emits. Records, KPIs, metrics and
//! dashboards are derived from these; the store keeps them append-only as [`EventRecord`]s.

use crate::store::EventRecord;
use serde::Serialize;

/// Something that happened, with the facts reports need. The serde tag is the stored `kind`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
pub enum Event {
    /// A caller's INVITE was accepted for a support number.
    #[serde(rename = "call.arrived")]
    CallArrived {
        caller: String,
        called: String,
        transport: &'static str,
        /// Whether `caller` came from a trusted trunk's P-Asserted-Identity.
        asserted: bool,
    },
    /// We answered the caller (200 OK sent).
    #[serde(rename = "call.answered")]
    CallAnswered {},
    /// The call's media was put on hold or taken off hold by the caller.
    #[serde(rename = "call.hold")]
    CallHold { held: bool },
    /// The call ended; `cause` is one of: caller_hangup, server_hangup, cancelled,
    /// no_ack, media_timeout, shutdown, failed.
    #[serde(rename = "call.ended")]
    CallEnded { cause: String },
    /// A call refused before answer (404 unknown number, 488 codecs, 503 overload…).
    #[serde(rename = "call.rejected")]
    CallRejected {
        status: u16,
        caller: String,
        called: String,
    },
    /// An outgoing leg (to an agent phone or a trunk) changed state.
    #[serde(rename = "leg.state")]
    LegState {
        leg: String,
        target: String,
        state: String,
        status: Option<u16>,
    },
    /// A SIP phone registered, refreshed or removed a binding.
    #[serde(rename = "sip.registration")]
    Registration {
        aor: String,
        contact: String,
        expires: u32,
    },
}

impl Event {
    /// Stamp the event with a fresh unique id, its call and the wall-clock time.
    pub fn record(&self, call_id: Option<&str>, at_ms: i64) -> EventRecord {
        let payload = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        let kind = payload
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("unknown")
            .to_string();
        EventRecord {
            id: uuid::Uuid::new_v4().to_string(),
            call_id: call_id.map(str::to_string),
            kind,
            at_ms,
            payload: payload.to_string(),
        }
    }
}

/// Milliseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_carries_kind_and_fields() {
        let e = Event::CallEnded {
            cause: "caller_hangup".into(),
        };
        let r = e.record(Some("c1"), 42);
        assert_eq!(r.kind, "call.ended");
        assert_eq!(r.call_id.as_deref(), Some("c1"));
        assert_eq!(r.at_ms, 42);
        let v: serde_json::Value = serde_json::from_str(&r.payload).unwrap();
        assert_eq!(v["cause"], "caller_hangup");
        assert_ne!(e.record(None, 0).id, r.id, "ids are unique");
    }
}
