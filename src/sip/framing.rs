//! Stream (TCP/TLS) framing for SIP (RFC 3261 §18.3, RFC 5626 §3.5.1): cuts a byte
//! stream into messages by Content-Length, which is mandatory on streams. Handles many
//! messages per segment, messages split across reads, and CRLF keep-alives (a
//! double-CRLF "ping" must be answered with a single CRLF "pong"). Sans-IO: feed bytes
//! with [`Framer::push`], take frames with [`Framer::next_frame`]; a
//! [`FramingError`] means the stream cannot be resynchronised: close the connection.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use super::parse::find_header_end;

/// One unit cut from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete message (start line, headers, body of Content-Length bytes), ready
    /// for `Message::parse_bytes`.
    Message(Bytes),
    /// `CRLF CRLF` keep-alive ping: answer with [`PONG`].
    Ping,
    /// A lone `CRLF` keep-alive pong (answer to our ping).
    Pong,
}

/// The reply to a [`Frame::Ping`].
pub const PONG: &[u8] = b"\r\n";

/// The stream is unusable; close the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FramingError {
    /// No Content-Length: the body cannot be delimited on a stream.
    MissingContentLength,
    /// Content-Length is not a non-negative number, or two values conflict.
    BadContentLength,
    /// The header section or the whole message exceeds the configured maximum.
    TooLarge,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FramingError::MissingContentLength => "message on a stream has no Content-Length",
            FramingError::BadContentLength => "invalid or conflicting Content-Length",
            FramingError::TooLarge => "message larger than the allowed maximum",
        })
    }
}

impl std::error::Error for FramingError {}

/// Where the next frame in a buffer ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// Skip this many bytes (stray CRLFs); no frame.
    Skip(usize),
    /// A ping of this many bytes.
    Ping(usize),
    /// A pong of this many bytes.
    Pong(usize),
    /// A message occupying `buf[..len]`.
    Message(usize),
}

/// Finds the next frame boundary at the start of `buf` (stateless form of [`Framer`]).
/// `Ok(None)`: need more bytes.
pub fn next_boundary(buf: &[u8], max_message: usize) -> Result<Option<Boundary>, FramingError> {
    match buf {
        [] => return Ok(None),
        [b'\r', b'\n', b'\r', b'\n', ..] => return Ok(Some(Boundary::Ping(4))),
        [b'\r', b'\n', b'\r'] | [b'\r'] => return Ok(None),
        [b'\r', b'\n'] => return Ok(Some(Boundary::Pong(2))),
        [b'\r', b'\n', ..] => return Ok(Some(Boundary::Skip(2))),
        [b'\n', ..] => return Ok(Some(Boundary::Skip(1))),
        _ => {}
    }
    let Some((head_end, body_start)) = find_header_end(buf, 0) else {
        return if buf.len() > max_message {
            Err(FramingError::TooLarge)
        } else {
            Ok(None)
        };
    };
    let len = content_length(&buf[..head_end])?.ok_or(FramingError::MissingContentLength)?;
    let total = body_start.checked_add(len).ok_or(FramingError::TooLarge)?;
    if total > max_message {
        return Err(FramingError::TooLarge);
    }
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(Boundary::Message(total)))
}

/// Content-Length from a raw header section (compact `l` and folded lines included).
fn content_length(head: &[u8]) -> Result<Option<usize>, FramingError> {
    let mut found: Option<usize> = None;
    let mut lines = head.split(|&b| b == b'\n').skip(1).peekable();
    while let Some(line) = lines.next() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let mut value: Vec<u8> = trim(&line[colon + 1..]).to_vec();
        while let Some(next) = lines.peek() {
            if !next.starts_with(b" ") && !next.starts_with(b"\t") {
                break;
            }
            let next = next.strip_suffix(b"\r").unwrap_or(next);
            value.extend_from_slice(trim(next));
            lines.next();
        }
        if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
            return Err(FramingError::BadContentLength);
        }
        let n = value
            .iter()
            .fold(0u64, |acc, d| acc * 10 + u64::from(d.saturating_sub(b'0')));
        let n = usize::try_from(n).map_err(|_| FramingError::TooLarge)?;
        if found.is_some_and(|f| f != n) {
            return Err(FramingError::BadContentLength);
        }
        found = Some(n);
    }
    Ok(found)
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

/// A per-connection reassembly buffer.
#[derive(Debug)]
pub struct Framer {
    buf: BytesMut,
    max_message: usize,
}

impl Framer {
    /// `max_message` bounds one message (headers + body); past it the stream errors.
    pub fn new(max_message: usize) -> Framer {
        Framer {
            buf: BytesMut::with_capacity(4096),
            max_message,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes waiting for more data.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed, or an error after
    /// which the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FramingError> {
        loop {
            match next_boundary(&self.buf, self.max_message)? {
                None => return Ok(None),
                Some(Boundary::Skip(n)) => self.buf.advance(n),
                Some(Boundary::Ping(n)) => {
                    self.buf.advance(n);
                    return Ok(Some(Frame::Ping));
                }
                Some(Boundary::Pong(n)) => {
                    self.buf.advance(n);
                    return Ok(Some(Frame::Pong));
                }
                Some(Boundary::Message(n)) => {
                    return Ok(Some(Frame::Message(self.buf.split_to(n).freeze())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\nl: 3\r\n\r\nabc";

    fn frames(f: &mut Framer) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(fr) = f.next_frame().unwrap() {
            out.push(fr);
        }
        out
    }

    #[test]
    fn many_messages_in_one_segment() {
        let mut f = Framer::new(65536);
        let mut seg = OPT.to_vec();
        seg.extend_from_slice(b"\r\n\r\n");
        seg.extend_from_slice(OPT);
        f.push(&seg);
        let got = frames(&mut f);
        assert_eq!(
            got,
            vec![
                Frame::Message(Bytes::from_static(OPT)),
                Frame::Ping,
                Frame::Message(Bytes::from_static(OPT))
            ]
        );
        assert_eq!(f.buffered(), 0);
    }

    #[test]
    fn byte_by_byte_partial_reads() {
        let mut f = Framer::new(65536);
        let mut got = Vec::new();
        for b in OPT.iter().chain(OPT.iter()) {
            f.push(&[*b]);
            got.extend(frames(&mut f));
        }
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .all(|g| *g == Frame::Message(Bytes::from_static(OPT))));
    }

    #[test]
    fn keepalives() {
        let mut f = Framer::new(100);
        f.push(b"\r\n\r\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Ping)));
        f.push(b"\r\n");
        assert_eq!(f.next_frame(), Ok(Some(Frame::Pong)));
        f.push(b"\r\nOPT");
        assert_eq!(f.next_frame(), Ok(None));
        assert_eq!(f.buffered(), 3);
    }

    #[test]
    fn unframable_streams_error() {
        let mut f = Framer::new(65536);
        f.push(b"INVITE sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\nv=0");
        assert_eq!(f.next_frame(), Err(FramingError::MissingContentLength));
        let mut f = Framer::new(65536);
        f.push(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -5\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::BadContentLength));
        let mut f = Framer::new(65536);
        f.push(b"INVITE sip:a@b SIP/2.0\r\nl: 5\r\nContent-Length: 13\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::BadContentLength));
        let mut f = Framer::new(64);
        f.push(&[b'x'; 65]);
        assert_eq!(f.next_frame(), Err(FramingError::TooLarge));
        let mut f = Framer::new(64);
        f.push(b"A sip:a@b SIP/2.0\r\nl: 1000\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FramingError::TooLarge));
    }

    #[test]
    fn large_content_length_waits_for_body() {
        let mut f = Framer::new(65536);
        f.push(b"A sip:a@b SIP/2.0\r\nContent-Length : 10\r\n\r\n12345");
        assert_eq!(f.next_frame(), Ok(None));
        f.push(b"67890NEXT");
        assert!(matches!(f.next_frame(), Ok(Some(Frame::Message(m))) if m.ends_with(b"67890")));
        assert_eq!(f.buffered(), 4);
    }
}
