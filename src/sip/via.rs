//! The Via header value (RFC 3261 §20.42, RFC 3581 rport): transport, sent-by,
//! branch, received, rport and other parameters.

use std::fmt;

use super::params::{trim_lws, Params};
use super::uri::split_hostport;

/// The magic cookie that marks an RFC 3261 branch.
pub const BRANCH_MAGIC: &str = "z9hG4bK";

/// One Via value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// Uppercase transport (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, `SCTP`, ...).
    pub transport: String,
    /// sent-by host as written (IPv6 with brackets).
    pub host: String,
    pub port: Option<u16>,
    pub branch: Option<String>,
    /// `None`: no rport; `Some(None)`: `;rport` (asks for it); `Some(Some(p))`: filled in.
    pub rport: Option<Option<u16>>,
    pub received: Option<String>,
    /// All other parameters, in order (maddr, ttl, unknown ones...).
    pub params: Params,
}

/// Why a Via value is malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViaError(pub &'static str);

impl Via {
    /// A Via for an outgoing request: `SIP/2.0/<transport> host[:port];branch=..;rport`.
    pub fn new(transport: &str, host: &str, port: Option<u16>, branch: &str) -> Via {
        Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_string(),
            port,
            branch: Some(branch.to_string()),
            rport: Some(None),
            received: None,
            params: Params::new(),
        }
    }

    /// Parses one Via value (already split from a comma list and unfolded).
    pub fn parse(s: &str) -> Result<Via, ViaError> {
        let s = trim_lws(s);
        let mut parts = s.splitn(3, '/');
        let name = trim_lws(parts.next().unwrap_or(""));
        let version = trim_lws(parts.next().ok_or(ViaError("Via lacks protocol version"))?);
        let rest = trim_lws(parts.next().ok_or(ViaError("Via lacks transport"))?);
        // Any protocol version is accepted here so that a 505 can still be routed back
        // to a peer that sent `SIP/7.0` (RFC 4475 §3.1.2.16).
        if !name.eq_ignore_ascii_case("SIP")
            || version.is_empty()
            || !version.bytes().all(is_token_char)
        {
            return Err(ViaError("Via protocol is not SIP/<version>"));
        }
        let t_end = rest
            .find([' ', '\t', ';', '\r', '\n'])
            .ok_or(ViaError("Via lacks sent-by"))?;
        let transport = &rest[..t_end];
        if transport.is_empty() || !transport.bytes().all(is_token_char) {
            return Err(ViaError("invalid Via transport"));
        }
        let rest = trim_lws(&rest[t_end..]);
        let p_start = rest.find(';').unwrap_or(rest.len());
        let sent_by: String = rest[..p_start]
            .chars()
            .filter(|c| !matches!(c, ' ' | '\t' | '\r' | '\n'))
            .collect();
        // A trailing comment "(...)" is not supported and rejected as junk.
        let (host, port) = split_hostport(&sent_by).map_err(|e| ViaError(e.0))?;
        let mut all = Params::parse(&rest[p_start..]);
        let mut via = Via {
            transport: transport.to_ascii_uppercase(),
            host: host.to_string(),
            port,
            branch: None,
            rport: None,
            received: None,
            params: Params::new(),
        };
        if let Some(b) = all.get("branch") {
            let b = b.ok_or(ViaError("empty Via branch"))?;
            if b.is_empty() || !b.bytes().all(is_token_char) {
                return Err(ViaError("invalid Via branch"));
            }
            via.branch = Some(b.to_string());
            all.remove("branch");
        }
        if let Some(r) = all.get("rport") {
            via.rport = Some(match r {
                None | Some("") => None,
                Some(p) => Some(p.parse().map_err(|_| ViaError("invalid Via rport"))?),
            });
            all.remove("rport");
        }
        if let Some(r) = all.value("received") {
            via.received = Some(r.to_string());
            all.remove("received");
        }
        via.params = all;
        Ok(via)
    }

    /// True if the branch carries the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch
            .as_deref()
            .is_some_and(|b| b.starts_with(BRANCH_MAGIC))
    }

    /// `host[:port]` as written in the Via.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }

    /// Where responses go (RFC 3261 §18.2.2 + RFC 3581): `received` (else sent-by host)
    /// and `rport` (else sent-by port, else the transport default).
    pub fn response_target(&self) -> (&str, u16) {
        let host = self.received.as_deref().unwrap_or(&self.host);
        let default = if self.transport == "TLS" { 5061 } else { 5060 };
        let port = match self.rport {
            Some(Some(p)) => p,
            _ => self.port.unwrap_or(default),
        };
        (host, port)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(b) = &self.branch {
            write!(f, ";branch={b}")?;
        }
        if let Some(r) = &self.received {
            write!(f, ";received={r}")?;
        }
        match self.rport {
            Some(Some(p)) => write!(f, ";rport={p}")?,
            Some(None) => f.write_str(";rport")?,
            None => {}
        }
        self.params.fmt(f)
    }
}

/// RFC 3261 `token` characters.
pub(crate) fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spaced_via_with_params() {
        let v = Via::parse(
            "SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8 ;rport;x=1",
        )
        .unwrap();
        assert_eq!(v.transport, "TCP");
        assert_eq!(v.host, "spindle.example.com");
        assert_eq!(v.branch.as_deref(), Some("z9hG4bK9ikj8"));
        assert_eq!(v.rport, Some(None));
        assert_eq!(v.params.value("x"), Some("1"));
        assert!(v.has_rfc3261_branch());
    }

    #[test]
    fn ipv6_sent_by_and_response_target() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKa;received=192.0.2.200;rport=7000",
        )
        .unwrap();
        assert_eq!(v.host, "[2001:db8::9:1]");
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.response_target(), ("192.0.2.200", 7000));
        let w = Via::parse("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKb").unwrap();
        assert_eq!(w.response_target(), ("192.0.2.1", 5060));
    }

    #[test]
    fn round_trips_and_rejects_garbage() {
        let v = Via::new("udp", "10.0.0.1", Some(5060), "z9hG4bKx");
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKx;rport"
        );
        assert_eq!(Via::parse(&v.to_string()).unwrap(), v);
        assert!(Via::parse("SIP/2.0 host").is_err());
        assert!(Via::parse("SIPX/2.0/UDP host").is_err());
        assert!(Via::parse("SIP/7.0/UDP host").is_ok());
        assert!(Via::parse("SIP/2.0/UDP host:abc").is_err());
    }
}
