//! SIP message types (RFC 3261 §7): requests, responses, methods, the typed header
//! accessors that parse values on demand, and builders for responses. This is the
//! stable public API of the message layer; parsing lives in `parse`, serialization in
//! `serialize`.

use std::fmt;

use bytes::Bytes;

pub use super::headers::Headers;
pub use super::name_addr::NameAddr;
pub use super::params::Params;
pub use super::parse::ParseError;
pub use super::uri::{SipUri, TelUri, Uri, UriError};
pub use super::via::Via;

/// A SIP method. Method names are case-sensitive (RFC 3261 §7.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Invite,
    Ack,
    Bye,
    Cancel,
    Options,
    Register,
    Info,
    Update,
    Prack,
    Subscribe,
    Notify,
    Refer,
    Message,
    Publish,
    /// Any other (extension or unknown) method token, as received.
    Other(String),
}

impl Method {
    /// Maps a method token; unknown tokens become `Other`.
    pub fn parse(token: &str) -> Method {
        match token {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            other => Method::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Method, Self::Err> {
        Ok(Method::parse(s))
    }
}

/// The CSeq header: sequence number and method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// One Contact value: `*` (only valid in REGISTER to remove all bindings) or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    Wildcard,
    Addr(NameAddr),
}

/// A typed header accessor failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The header is absent.
    Missing(&'static str),
    /// The header occurs more than once where only one is allowed.
    Multiple(&'static str),
    /// The value does not parse.
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Missing(n) => write!(f, "missing {n} header"),
            HeaderError::Multiple(n) => write!(f, "more than one {n} header"),
            HeaderError::Invalid { name, reason } => write!(f, "invalid {name} header: {reason}"),
        }
    }
}

impl std::error::Error for HeaderError {}

/// A SIP request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// A request or a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Request {
    /// A request with no headers and an empty body.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// Parses one request datagram (see [`Message::parse`]).
    pub fn parse(data: &[u8]) -> Result<Request, ParseError> {
        match Message::parse(data)? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => Err(ParseError::new(400, "expected a request")),
        }
    }

    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.headers.call_id()
    }
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        self.headers.cseq()
    }
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        self.headers.top_via()
    }
    pub fn from(&self) -> Result<NameAddr, HeaderError> {
        self.headers.from()
    }
    pub fn to(&self) -> Result<NameAddr, HeaderError> {
        self.headers.to()
    }

    /// Sets the body and its Content-Type (Content-Length is written on serialization).
    pub fn set_body(&mut self, content_type: &str, body: impl Into<Bytes>) {
        self.headers.set("content-type", content_type);
        self.body = body.into();
    }

    /// Appends the wire form (with a correct Content-Length) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        super::serialize::write_request(self, out)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

impl Response {
    /// A response with no headers; an empty `reason` uses the standard phrase.
    pub fn new(status: u16, reason: &str) -> Response {
        Response {
            status,
            reason: if reason.is_empty() {
                reason_phrase(status).to_string()
            } else {
                reason.to_string()
            },
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    /// A response to `req` per RFC 3261 §8.2.6: copies every Via (in order), From, To,
    /// Call-ID and CSeq (and Timestamp for 100). Empty `reason` → standard phrase.
    /// Add the To tag with [`Response::set_to_tag`] (not for 100 Trying).
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        let mut resp = Response::new(status, reason);
        for (name, value) in req.headers.iter() {
            let copy = matches!(name, "via" | "from" | "to" | "call-id" | "cseq")
                || (status == 100 && name == "timestamp");
            if copy {
                resp.headers.push(name, value);
            }
        }
        resp
    }

    /// Adds `;tag=` to the To header unless it already has one. Returns false if
    /// there is no parsable To header.
    pub fn set_to_tag(&mut self, tag: &str) -> bool {
        let Ok(mut to) = self.headers.to() else {
            return false;
        };
        if to.tag().is_none() {
            to.set_tag(tag);
            self.headers.set("to", to.to_string());
        }
        true
    }

    /// Builder form of [`Response::set_to_tag`].
    pub fn with_to_tag(mut self, tag: &str) -> Response {
        self.set_to_tag(tag);
        self
    }

    pub fn to_tag(&self) -> Option<String> {
        self.headers.to().ok()?.tag().map(str::to_string)
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// 3xx–6xx.
    pub fn is_final_failure(&self) -> bool {
        self.status >= 300
    }

    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.headers.call_id()
    }
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        self.headers.cseq()
    }
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        self.headers.top_via()
    }
    pub fn from(&self) -> Result<NameAddr, HeaderError> {
        self.headers.from()
    }
    pub fn to(&self) -> Result<NameAddr, HeaderError> {
        self.headers.to()
    }

    /// Sets the body and its Content-Type.
    pub fn set_body(&mut self, content_type: &str, body: impl Into<Bytes>) {
        self.headers.set("content-type", content_type);
        self.body = body.into();
    }

    /// Appends the wire form (with a correct Content-Length) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        super::serialize::write_response(self, out)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        self.write_to(&mut out);
        out
    }
}

impl Message {
    /// Parses one complete message (a UDP datagram, or a frame cut by
    /// `framing`). Bytes after the Content-Length body are ignored; without a
    /// Content-Length the body is the rest of the input (UDP rules).
    pub fn parse(data: &[u8]) -> Result<Message, ParseError> {
        super::parse::parse_message(data)
    }

    /// Like [`Message::parse`] but the body shares `data`'s buffer (no copy).
    pub fn parse_bytes(data: Bytes) -> Result<Message, ParseError> {
        super::parse::parse_message_bytes(data)
    }

    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }

    pub fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }

    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request(_))
    }

    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Message::Request(r) => Some(r),
            Message::Response(_) => None,
        }
    }

    pub fn as_response(&self) -> Option<&Response> {
        match self {
            Message::Response(r) => Some(r),
            Message::Request(_) => None,
        }
    }

    pub fn call_id(&self) -> Result<&str, HeaderError> {
        self.headers().call_id()
    }
    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        self.headers().cseq()
    }
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        self.headers().top_via()
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body().len());
        self.write_to(&mut out);
        out
    }

    /// The wire form as shareable `Bytes` (for retransmission buffers).
    pub fn encode(&self) -> Bytes {
        Bytes::from(self.to_bytes())
    }
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}

/// Standard reason phrase for a status code ("" for unknown codes).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "",
    }
}
