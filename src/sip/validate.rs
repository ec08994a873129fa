//! Semantic checks a UAS (or registrar) applies to a parsed request before handing it
//! to the transaction/call layers (RFC 3261 §8.2.1–§8.2.3, RFC 4475 §3.3): mandatory
//! headers, CSeq, URI schemes, Require, Content-Type/Encoding and Accept. Also the
//! checks that decide whether a received response is dropped.

use super::message::{HeaderError, Method, Request, Response};
use super::typed::parse_u32;
use super::uri::Uri;

/// Why a request is refused, with the status and the extra headers to send
/// (e.g. `Unsupported` with 420, `Accept` with 415).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
}

impl Rejection {
    fn new(status: u16, reason: impl Into<String>) -> Rejection {
        Rejection {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    fn with(mut self, name: &str, value: impl Into<String>) -> Rejection {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The response to send for `req`: RFC 3261 §8.2.6 copies, `to_tag` added to To,
    /// the extra headers, and the reason as Reason-Phrase.
    pub fn to_response(&self, req: &Request, to_tag: &str) -> Response {
        let mut resp = Response::for_request(req, self.status, &self.reason);
        resp.set_to_tag(to_tag);
        for (n, v) in &self.headers {
            resp.headers.push(n, v.as_str());
        }
        resp
    }
}

/// What this element supports; drives the 415/420/406/416 decisions.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Option tags accepted in Require.
    pub supported: Vec<String>,
    /// Body types accepted for INVITE/UPDATE/PRACK/ACK (session descriptions).
    pub session_types: Vec<String>,
    /// Request-URI schemes served.
    pub uri_schemes: Vec<String>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            supported: vec!["replaces".into(), "outbound".into(), "path".into()],
            session_types: vec!["application/sdp".into()],
            uri_schemes: vec!["sip".into(), "sips".into(), "tel".into()],
        }
    }
}

/// [`validate_request_with`] under [`Policy::default`].
pub fn validate_request(req: &Request) -> Result<(), Rejection> {
    validate_request_with(req, &Policy::default())
}

/// Semantic checks for a request received by a UAS/registrar. `Ok` means: hand it on.
pub fn validate_request_with(req: &Request, policy: &Policy) -> Result<(), Rejection> {
    let h = &req.headers;
    let bad = |e: HeaderError| Rejection::new(400, e.to_string());
    // Mandatory headers (§8.1.1); Max-Forwards is optional for RFC 2543 peers.
    for via in h.vias().map_err(bad)? {
        if via.branch.as_deref() == Some("") {
            return Err(Rejection::new(400, "empty Via branch"));
        }
    }
    if !h.contains("via") {
        return Err(Rejection::new(400, "missing Via header"));
    }
    let to = h.to().map_err(bad)?;
    h.from().map_err(bad)?;
    h.call_id().map_err(bad)?;
    let cseq = h.cseq().map_err(bad)?;
    h.max_forwards().map_err(bad)?;
    h.expires().map_err(bad)?;
    let contacts = h.contacts().map_err(bad)?;
    if let Some(len) = h.content_length().map_err(bad)? {
        if len != req.body.len() {
            return Err(Rejection::new(
                400,
                "Content-Length does not match the body",
            ));
        }
    }
    if cseq.method != req.method {
        // An unknown method we would refuse anyway: 501 (RFC 4475 §3.1.2.18).
        if matches!(req.method, Method::Other(_)) {
            return Err(not_implemented());
        }
        return Err(Rejection::new(
            400,
            "CSeq method does not match the request method",
        ));
    }
    // §8.2.2.1: Request-URI scheme.
    let scheme = req.uri.scheme();
    if !policy
        .uri_schemes
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&scheme))
    {
        return Err(Rejection::new(416, "Unsupported URI Scheme"));
    }
    if req.method == Method::Register {
        check_register(req, &to.uri, &contacts)?;
    }
    // §8.2.2.3: Require (not applied to ACK and CANCEL).
    if !matches!(req.method, Method::Ack | Method::Cancel) {
        let unknown: Vec<&str> = h
            .tokens("require")
            .into_iter()
            .filter(|t| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
            .collect();
        if !unknown.is_empty() {
            return Err(
                Rejection::new(420, "Bad Extension").with("Unsupported", unknown.join(", "))
            );
        }
    }
    check_content(req, policy)
}

fn not_implemented() -> Rejection {
    let allow = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO, UPDATE, PRACK, NOTIFY, REFER";
    Rejection::new(501, "Not Implemented").with("Allow", allow)
}

/// Registrar rules (RFC 3261 §10.3): AOR must be SIP/SIPS; `*` only alone with Expires: 0.
fn check_register(
    req: &Request,
    to: &Uri,
    contacts: &[super::message::Contact],
) -> Result<(), Rejection> {
    if !to.is_sip() {
        return Err(Rejection::new(
            400,
            "To of a REGISTER must be a SIP or SIPS URI",
        ));
    }
    let star = contacts
        .iter()
        .any(|c| matches!(c, super::message::Contact::Wildcard));
    if star {
        let expires_zero = req.headers.get("expires").and_then(parse_u32) == Some(0);
        if contacts.len() != 1 || !expires_zero {
            return Err(Rejection::new(
                400,
                "Contact: * needs Expires: 0 and no other Contact",
            ));
        }
    }
    for c in contacts {
        if let super::message::Contact::Addr(a) = c {
            if let Some(e) = a.params.value("expires") {
                if parse_u32(e).is_none() {
                    return Err(Rejection::new(400, "invalid Contact expires parameter"));
                }
            }
        }
    }
    Ok(())
}

/// §8.2.3: body type/encoding we cannot handle on session requests → 415; an INVITE
/// whose Accept excludes SDP → 406.
fn check_content(req: &Request, policy: &Policy) -> Result<(), Rejection> {
    let h = &req.headers;
    let session = matches!(
        req.method,
        Method::Invite | Method::Update | Method::Prack | Method::Ack
    );
    if !req.body.is_empty() && session {
        let accept = policy.session_types.join(", ");
        match h.mime_type() {
            None => {
                return Err(Rejection::new(400, "body without Content-Type"));
            }
            Some(t) if t == "multipart/mixed" && policy_has(policy, "application/sdp") => {
                if !contains_ci(&req.body, b"application/sdp") {
                    return Err(
                        Rejection::new(415, "Unsupported Media Type").with("Accept", accept)
                    );
                }
            }
            Some(t) if !policy_has(policy, &t) => {
                return Err(Rejection::new(415, "Unsupported Media Type").with("Accept", accept));
            }
            Some(_) => {}
        }
        let encodings = h.tokens("content-encoding");
        if encodings
            .iter()
            .any(|e| !e.eq_ignore_ascii_case("identity"))
        {
            return Err(Rejection::new(415, "Unsupported Content-Encoding")
                .with("Accept-Encoding", "identity"));
        }
    }
    if req.method == Method::Invite && h.contains("accept") {
        let ok = h.tokens("accept").iter().any(|a| {
            let t = a
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            t == "*/*" || t == "application/*" || policy_has(policy, &t)
        });
        if !ok {
            return Err(Rejection::new(406, "Not Acceptable")
                .with("Accept", policy.session_types.join(", "))
                .with(
                    "Warning",
                    "399 helpline \"only application/sdp bodies are offered\"",
                ));
        }
    }
    Ok(())
}

fn policy_has(policy: &Policy, t: &str) -> bool {
    policy
        .session_types
        .iter()
        .any(|s| s.eq_ignore_ascii_case(t))
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Checks for a received response; `Err` means drop it silently (never answer a
/// response): missing/invalid Via, From, To, Call-ID or CSeq, or a Via that points at
/// a broadcast address.
pub fn validate_response(resp: &Response) -> Result<(), &'static str> {
    let h = &resp.headers;
    let vias = h.vias().map_err(|_| "invalid Via")?;
    if vias.is_empty() {
        return Err("missing Via");
    }
    if vias
        .iter()
        .any(|v| v.host == "255.255.255.255" || v.received.as_deref() == Some("255.255.255.255"))
    {
        return Err("Via with a broadcast address");
    }
    h.from().map_err(|_| "invalid From")?;
    h.to().map_err(|_| "invalid To")?;
    h.call_id().map_err(|_| "invalid Call-ID")?;
    h.cseq().map_err(|_| "invalid CSeq")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::Message;

    fn req(extra: &str, method: &str, cseq_method: &str, body: &str) -> Request {
        let text = format!(
            "{method} sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\n\
CSeq: 1 {cseq_method}\r\nMax-Forwards: 70\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        match Message::parse(text.as_bytes()).unwrap() {
            Message::Request(r) => r,
            Message::Response(_) => unreachable!(),
        }
    }

    #[test]
    fn well_formed_request_passes() {
        let r = req(
            "Content-Type: application/sdp\r\n",
            "INVITE",
            "INVITE",
            "v=0\r\n",
        );
        assert_eq!(validate_request(&r), Ok(()));
    }

    #[test]
    fn cseq_mismatch_and_unknown_method() {
        assert_eq!(
            validate_request(&req("", "OPTIONS", "INVITE", ""))
                .unwrap_err()
                .status,
            400
        );
        let e = validate_request(&req("", "NEWMETHOD", "INVITE", "")).unwrap_err();
        assert_eq!(e.status, 501);
        assert!(e.headers.iter().any(|(n, _)| n == "Allow"));
    }

    #[test]
    fn require_unknown_gives_420_with_unsupported() {
        let r = req(
            "Require: foo, replaces\r\nRequire: bar\r\n",
            "OPTIONS",
            "OPTIONS",
            "",
        );
        let e = validate_request(&r).unwrap_err();
        assert_eq!(e.status, 420);
        assert_eq!(
            e.headers,
            vec![("Unsupported".to_string(), "foo, bar".to_string())]
        );
        let resp = e.to_response(&r, "x");
        assert_eq!(resp.headers.get("unsupported"), Some("foo, bar"));
        assert_eq!(resp.to_tag().as_deref(), Some("x"));
    }

    #[test]
    fn content_checks() {
        let r = req(
            "Content-Type: application/unknown\r\n",
            "INVITE",
            "INVITE",
            "xx",
        );
        let e = validate_request(&r).unwrap_err();
        assert_eq!(
            (e.status, e.headers[0].1.as_str()),
            (415, "application/sdp")
        );
        let r = req(
            "Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n",
            "INVITE",
            "INVITE",
            "xx",
        );
        assert_eq!(validate_request(&r).unwrap_err().status, 415);
        let r = req("Accept: text/plain\r\n", "INVITE", "INVITE", "");
        assert_eq!(validate_request(&r).unwrap_err().status, 406);
        // The same body type on MESSAGE is the application's business.
        let r = req(
            "Content-Type: application/unknown\r\n",
            "MESSAGE",
            "MESSAGE",
            "xx",
        );
        assert_eq!(validate_request(&r), Ok(()));
    }

    #[test]
    fn register_rules_and_schemes() {
        let mut r = req("Contact: *\r\n", "REGISTER", "REGISTER", "");
        assert_eq!(validate_request(&r).unwrap_err().status, 400);
        r.headers.push("Expires", "0");
        assert_eq!(validate_request(&r), Ok(()));
        r.headers.set("To", "<isbn:2983792873>");
        assert_eq!(validate_request(&r).unwrap_err().status, 400);
        let mut o = req("", "OPTIONS", "OPTIONS", "");
        o.uri = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(validate_request(&o).unwrap_err().status, 416);
    }

    #[test]
    fn missing_headers_are_400() {
        let mut r = req("", "INVITE", "INVITE", "");
        r.headers.remove("call-id");
        let e = validate_request(&r).unwrap_err();
        assert_eq!(
            (e.status, e.reason.as_str()),
            (400, "missing Call-ID header")
        );
    }
}
