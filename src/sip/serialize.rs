//! Writes requests and responses in wire form. Content-Length is always written from
//! the actual body length (any stored Content-Length is ignored).

use super::headers::display_name;
use super::headers::Headers;
use super::message::{Request, Response};

/// Appends `req` in wire form to `out`.
pub fn write_request(req: &Request, out: &mut Vec<u8>) {
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.uri.to_string().as_bytes());
    out.extend_from_slice(b" SIP/2.0\r\n");
    write_headers_and_body(&req.headers, &req.body, out);
}

/// Appends `resp` in wire form to `out`.
pub fn write_response(resp: &Response, out: &mut Vec<u8>) {
    out.extend_from_slice(b"SIP/2.0 ");
    push_u64(out, u64::from(resp.status));
    out.push(b' ');
    out.extend_from_slice(resp.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    write_headers_and_body(&resp.headers, &resp.body, out);
}

fn write_headers_and_body(headers: &Headers, body: &[u8], out: &mut Vec<u8>) {
    for (name, value) in headers.iter() {
        if name == "content-length" {
            continue;
        }
        out.extend_from_slice(display_name(name).as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    push_u64(out, body.len() as u64);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}
