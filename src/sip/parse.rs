//! SIP message parser (RFC 3261 §7, tolerant per RFC 4475). Hand-written, no regex.
//!
//! Liberal: leading CRLFs, LF-only line ends, folded header lines, compact and
//! mixed-case names, LWS around `:`, repeated SP in the start line, trailing SP after
//! the version, non-UTF-8 bytes (replaced), unknown headers kept. List headers (Via,
//! Contact, Route, ...) are split into one entry per comma-separated value.
//!
//! Strict (returns [`ParseError`] with the status to answer): broken start line (400),
//! SIP version other than 2.0 (505), malformed Request-URI (400), header line without
//! a colon (400), empty elements in a Via/Contact/Route list (400), bad or conflicting
//! Content-Length, or a body shorter than it (400), unterminated header section.
//! Semantic checks (mandatory headers, CSeq, Require, ...) live in `validate`.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;

use super::headers::{canonical_name, is_list_header, Headers};
use super::message::{Message, Method, Request, Response};
use super::params::{split_quoted, trim_lws};
use super::uri::Uri;
use super::via::is_token_char;

/// A message that cannot be parsed, with the status a UAS should answer and whatever
/// could be parsed so that a stateless error response can be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 400, 505, ... (meaningful only when `method` is Some: responses are dropped).
    pub status: u16,
    /// Short human-readable reason, usable as a Reason-Phrase.
    pub reason: &'static str,
    /// The request method if the start line looked like a request.
    pub method: Option<Method>,
    /// Headers parsed before the error (empty if it happened in the start line).
    pub headers: Headers,
}

impl ParseError {
    pub fn new(status: u16, reason: &'static str) -> ParseError {
        ParseError {
            status,
            reason,
            method: None,
            headers: Headers::new(),
        }
    }

    /// The stateless error response to send back, if one can be built: only for
    /// requests other than ACK that have a parsable top Via, Call-ID, CSeq, From
    /// and To. `to_tag` is added to To.
    pub fn error_response(&self, to_tag: &str) -> Option<Response> {
        let method = self.method.as_ref()?;
        if *method == Method::Ack {
            return None;
        }
        let h = &self.headers;
        h.top_via().ok()?;
        h.call_id().ok()?;
        h.cseq().ok()?;
        h.from().ok()?;
        h.to().ok()?;
        let mut resp = Response::new(self.status, "");
        for (name, value) in h.iter() {
            if matches!(name, "via" | "from" | "to" | "call-id" | "cseq") {
                resp.headers.push(name, value);
            }
        }
        resp.set_to_tag(to_tag);
        if resp.reason.is_empty() {
            resp.reason = self.reason.to_string();
        }
        Some(resp)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

impl std::error::Error for ParseError {}

fn bad(reason: &'static str) -> ParseError {
    ParseError::new(400, reason)
}

/// Parses one message from a datagram or a frame. See [`Message::parse`].
pub fn parse_message(data: &[u8]) -> Result<Message, ParseError> {
    let (mut msg, body_range) = parse_head(data)?;
    let body = Bytes::copy_from_slice(data.get(body_range).unwrap_or(&[]));
    set_body(&mut msg, body);
    Ok(msg)
}

/// Like [`parse_message`], the body sharing `data`'s buffer.
pub fn parse_message_bytes(data: Bytes) -> Result<Message, ParseError> {
    let (mut msg, body_range) = parse_head(&data)?;
    let body = if body_range.end <= data.len() {
        data.slice(body_range)
    } else {
        Bytes::new()
    };
    set_body(&mut msg, body);
    Ok(msg)
}

fn set_body(msg: &mut Message, body: Bytes) {
    match msg {
        Message::Request(r) => r.body = body,
        Message::Response(r) => r.body = body,
    }
}

/// Finds the blank line ending the header section (`\r\n\r\n` or `\n\n`, also a
/// mix), searching from `from`. Returns (offset of the LF ending the last header
/// line, offset of the first body byte). Also used by stream framing.
pub(crate) fn find_header_end(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    loop {
        i += data.get(i..)?.iter().position(|&b| b == b'\n')?;
        // The line ended at i; is the next line empty?
        match data.get(i + 1) {
            Some(b'\n') => return Some((i, i + 2)),
            Some(b'\r') if data.get(i + 2) == Some(&b'\n') => return Some((i, i + 3)),
            _ => i += 1,
        }
    }
}

/// Parses start line and headers; returns the message without body and the body range.
fn parse_head(data: &[u8]) -> Result<(Message, std::ops::Range<usize>), ParseError> {
    // RFC 3261 §7.5: ignore CRLFs before the start line.
    let start = data
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or_else(|| bad("empty message"))?;
    let (head_end, body_start) =
        find_header_end(data, start).ok_or_else(|| bad("header section not terminated"))?;
    let raw = data.get(start..head_end).unwrap_or(&[]);
    let head: Cow<'_, str> = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(raw),
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start_line = lines.next().unwrap_or("");

    let msg = parse_start_line(start_line)?;
    let method = match &msg {
        Ok(Message::Request(r)) => Some(r.method.clone()),
        Err((m, _)) => m.clone(),
        _ => None,
    };
    let headers = match parse_headers(lines) {
        Ok(h) => h,
        Err((reason, headers)) => {
            return Err(ParseError {
                status: 400,
                reason,
                method,
                headers,
            })
        }
    };
    // A start-line error that still allows a response (bad version, bad URI).
    let mut msg = match msg {
        Ok(m) => m,
        Err((method, err)) => {
            return Err(ParseError {
                method,
                headers,
                ..err
            })
        }
    };
    let available = data.len() - body_start.min(data.len());
    let len = match headers.content_length() {
        Ok(Some(n)) if n > available => "body shorter than Content-Length",
        Ok(Some(n)) => {
            *msg.headers_mut() = headers;
            return Ok((msg, body_start..body_start + n));
        }
        Ok(None) => {
            *msg.headers_mut() = headers;
            return Ok((msg, body_start..body_start + available));
        }
        Err(_) => "invalid Content-Length",
    };
    Err(ParseError {
        status: 400,
        reason: len,
        method,
        headers,
    })
}

type StartLine = Result<Message, (Option<Method>, ParseError)>;

/// Parses the start line. The outer error means nothing useful was recognised; the
/// inner `Err` is an error that still identifies a request (so headers are parsed
/// for an error response).
fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let first = parts.next().ok_or_else(|| bad("empty start line"))?;
    if first.len() > 4 && has_sip_prefix(first) {
        return parse_status_line(first, line).map(Ok);
    }
    if !first.bytes().all(is_token_char) {
        return Err(bad("invalid method token"));
    }
    let method = Method::parse(first);
    let uri_text = parts.next();
    let version = parts.next();
    let extra = parts.next();
    let (Some(uri_text), Some(version), None) = (uri_text, version, extra) else {
        return Ok(Err((
            Some(method),
            bad("Request-Line must be: Method SP Request-URI SP SIP/2.0"),
        )));
    };
    if let Err(e) = check_version(version) {
        return Ok(Err((Some(method), e)));
    }
    match Uri::parse(uri_text) {
        Ok(uri) => Ok(Ok(Message::Request(Request::new(method, uri)))),
        Err(e) => Ok(Err((Some(method), ParseError::new(400, e.0)))),
    }
}

fn has_sip_prefix(s: &str) -> bool {
    s.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let Some(num) = v.get(4..).filter(|_| has_sip_prefix(v)) else {
        return Err(bad("invalid SIP version"));
    };
    let mut it = num.split('.');
    let ok =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if ok(it.next()) && ok(it.next()) && it.next().is_none() {
        Err(ParseError::new(505, "Version Not Supported"))
    } else {
        Err(bad("invalid SIP version"))
    }
}

fn parse_status_line(version: &str, line: &str) -> Result<Message, ParseError> {
    check_version(version)?;
    let rest = line.trim_start_matches(' ');
    let rest = rest.get(version.len()..).unwrap_or("");
    let rest = rest.trim_start_matches(' ');
    let code_end = rest.find(' ').unwrap_or(rest.len());
    let code = &rest[..code_end];
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("status code must be three digits"));
    }
    let status: u16 = code.parse().map_err(|_| bad("invalid status code"))?;
    if !(100..=699).contains(&status) {
        return Err(bad("status code out of range"));
    }
    let reason = rest[code_end..].strip_prefix(' ').unwrap_or("");
    Ok(Message::Response(Response {
        status,
        reason: reason.trim_end_matches([' ', '\t']).to_string(),
        headers: Headers::new(),
        body: Bytes::new(),
    }))
}

/// Parses header lines (after the start line), unfolding continuations.
fn parse_headers<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Result<Headers, (&'static str, Headers)> {
    let mut headers = Headers::with_capacity(16);
    // The current header being accumulated: (name, value pieces).
    let mut cur: Option<(&'a str, Cow<'a, str>)> = None;
    for line in lines {
        if line.starts_with([' ', '\t']) {
            match cur.as_mut() {
                Some((_, v)) => {
                    let add = trim_lws(line);
                    if !add.is_empty() {
                        let s = v.to_mut();
                        if !s.is_empty() {
                            s.push(' ');
                        }
                        s.push_str(add);
                    }
                    continue;
                }
                None => return Err(("continuation line before any header", headers)),
            }
        }
        if let Some((name, value)) = cur.take() {
            if let Err(e) = add_header(&mut headers, name, value) {
                return Err((e, headers));
            }
        }
        let Some(colon) = line.find(':') else {
            return Err(("header line without a colon", headers));
        };
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(("invalid header name", headers));
        }
        cur = Some((name, Cow::Borrowed(trim_lws(&line[colon + 1..]))));
    }
    if let Some((name, value)) = cur.take() {
        if let Err(e) = add_header(&mut headers, name, value) {
            return Err((e, headers));
        }
    }
    Ok(headers)
}

fn add_header(headers: &mut Headers, name: &str, value: Cow<'_, str>) -> Result<(), &'static str> {
    let canon = canonical_name(name);
    let value = trim_lws(&value);
    if is_list_header(&canon) && value.contains(',') {
        let strict = matches!(&*canon, "via" | "contact" | "route" | "record-route");
        for part in split_quoted(value, b',') {
            let part = trim_lws(part);
            if part.is_empty() {
                if strict {
                    return Err("empty element in a header list");
                }
                continue;
            }
            headers.push_canonical(canon.clone(), part.to_string());
        }
    } else {
        headers.push_canonical(canon, value.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@example.com>\r\n\
From: Alice <sip:alice@example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.1>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\r\nJUNK";

    #[test]
    fn parses_request_and_frames_body() {
        let m = Message::parse(INVITE).unwrap();
        let r = m.as_request().unwrap();
        assert_eq!(r.method, Method::Invite);
        assert_eq!(r.uri.to_string(), "sip:bob@example.com");
        assert_eq!(&r.body[..], b"v=0\r");
        assert_eq!(r.call_id().unwrap(), "a84b4c76e66710@pc33.example.com");
        assert_eq!(r.from().unwrap().tag(), Some("1928301774"));
        assert_eq!(r.top_via().unwrap().rport, Some(None));
    }

    #[test]
    fn folded_compact_and_leading_crlf() {
        let m = Message::parse(
            b"\r\n\r\nOPTIONS  sip:a@b  SIP/2.0 \r\nv: SIP/2.0/UDP h;branch=z9hG4bK1,\r\n SIP/2.0/TCP g\r\n\
i: x\r\nSubject:\r\n  hello\r\n   world\r\nl: 0\r\n\r\n",
        )
        .unwrap();
        let h = m.headers();
        assert_eq!(h.get_all("via").count(), 2);
        assert_eq!(h.get("subject"), Some("hello world"));
        assert_eq!(h.call_id().unwrap(), "x");
    }

    #[test]
    fn responses_and_bad_status_lines() {
        let m = Message::parse(b"SIP/2.0 100 \r\nl: 0\r\n\r\n").unwrap();
        assert_eq!(m.as_response().unwrap().reason, "");
        let e = Message::parse(b"SIP/2.0 4294967301 Big\r\n\r\n").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.method.is_none());
    }

    #[test]
    fn version_and_content_length_errors() {
        let e =
            Message::parse(b"OPTIONS sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h\r\n\r\n").unwrap_err();
        assert_eq!(e.status, 505);
        assert_eq!(e.method, Some(Method::Options));
        assert_eq!(e.headers.get("via"), Some("SIP/2.0/UDP h"));
        let e = Message::parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\nabc").unwrap_err();
        assert_eq!(e.reason, "body shorter than Content-Length");
        let e = Message::parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n").unwrap_err();
        assert_eq!(e.status, 400);
        let e = Message::parse(b"OPTIONS sip:a@b\r\n\r\n").unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn error_response_is_built_from_parsed_headers() {
        let data = b"INVITE sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
        let e = Message::parse(data).unwrap_err();
        let r = e.error_response("t1").unwrap();
        assert_eq!(r.status, 505);
        assert_eq!(r.to_tag().as_deref(), Some("t1"));
        assert_eq!(r.headers.get("via"), Some("SIP/2.0/UDP h;branch=z9hG4bK1"));
    }

    #[test]
    fn round_trip_through_serializer() {
        let m = Message::parse(INVITE).unwrap();
        let again = Message::parse(&m.to_bytes()).unwrap();
        assert_eq!(again, m);
    }
}
