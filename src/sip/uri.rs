//! SIP, SIPS and tel URIs (RFC 3261 §19.1, RFC 3966) plus opaque absolute URIs of any
//! other scheme. User parts are kept as received (escaped); `%HH` decoding is offered
//! on demand and never applied twice.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::params::Params;

/// Why a URI could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UriError(pub &'static str);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for UriError {}

/// A URI as found in a Request-Line, name-addr or Contact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:` (see [`SipUri::secure`]).
    Sip(SipUri),
    /// `tel:` (RFC 3966).
    Tel(TelUri),
    /// Any other absolute URI, kept verbatim (e.g. `http:...`, `urn:...`).
    Other(String),
}

/// A `sip:`/`sips:` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SipUri {
    /// True for `sips:`.
    pub secure: bool,
    /// User part as received (may contain `%HH` escapes and `;`).
    pub user: Option<String>,
    pub password: Option<String>,
    /// Host as written: a domain name, IPv4 address, or IPv6 reference *with* brackets.
    pub host: String,
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params,
    /// URI headers (`?Route=%3C...%3E&x=y`), names and values as received.
    pub headers: Vec<(String, String)>,
}

/// A `tel:` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelUri {
    /// The number as written (`+1-201-555-0123`, `5551234`).
    pub number: String,
    pub params: Params,
}

impl SipUri {
    /// A plain `sip:[user@]host[:port]` URI.
    pub fn new(user: Option<&str>, host: &str, port: Option<u16>) -> SipUri {
        SipUri {
            secure: false,
            user: user.map(str::to_string),
            password: None,
            host: host.to_string(),
            port,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// The user part with `%HH` escapes decoded once (lossy for non-UTF-8 bytes).
    pub fn user_decoded(&self) -> Option<Cow<'_, str>> {
        self.user.as_deref().map(unescape)
    }

    /// Host without IPv6 brackets.
    pub fn host_bare(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    /// Address-of-record key (RFC 3261 §10.3): `sip[s]:user@host` with the user
    /// decoded once, the host lowercased, and port, parameters and headers dropped.
    pub fn aor(&self) -> String {
        let scheme = if self.secure { "sips" } else { "sip" };
        let host = self.host.to_ascii_lowercase();
        match self.user_decoded() {
            Some(u) => format!("{scheme}:{u}@{host}"),
            None => format!("{scheme}:{host}"),
        }
    }

    /// The `transport` URI parameter, lowercased.
    pub fn transport(&self) -> Option<String> {
        self.params
            .value("transport")
            .map(|t| t.to_ascii_lowercase())
    }
}

impl Uri {
    /// Parses an absolute URI. `sip`/`sips`/`tel` are parsed fully, other schemes are
    /// checked for a valid scheme and kept raw.
    pub fn parse(s: &str) -> Result<Uri, UriError> {
        let colon = s.find(':').ok_or(UriError("URI has no scheme"))?;
        let scheme = &s[..colon];
        let rest = &s[colon + 1..];
        if !valid_scheme(scheme) {
            return Err(UriError("invalid URI scheme"));
        }
        if rest.is_empty() {
            return Err(UriError("empty URI"));
        }
        if rest
            .bytes()
            .any(|b| b == b' ' || b == b'\t' || b == b'\r' || b == b'\n' || b == b'<' || b == b'>')
        {
            return Err(UriError("whitespace or <> inside URI"));
        }
        if scheme.eq_ignore_ascii_case("sip") {
            parse_sip(rest, false).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            parse_sip(rest, true).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            parse_tel(rest).map(Uri::Tel)
        } else {
            Ok(Uri::Other(s.to_string()))
        }
    }

    /// Lowercase scheme name (`sip`, `sips`, `tel`, or the other URI's scheme).
    pub fn scheme(&self) -> Cow<'_, str> {
        match self {
            Uri::Sip(u) if u.secure => Cow::Borrowed("sips"),
            Uri::Sip(_) => Cow::Borrowed("sip"),
            Uri::Tel(_) => Cow::Borrowed("tel"),
            Uri::Other(s) => {
                let sch = s.split(':').next().unwrap_or("");
                Cow::Owned(sch.to_ascii_lowercase())
            }
        }
    }

    /// `sip:` or `sips:`.
    pub fn is_sip(&self) -> bool {
        matches!(self, Uri::Sip(_))
    }

    pub fn is_sips(&self) -> bool {
        matches!(self, Uri::Sip(u) if u.secure)
    }

    pub fn is_tel(&self) -> bool {
        matches!(self, Uri::Tel(_))
    }

    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    pub fn as_sip_mut(&mut self) -> Option<&mut SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The user (SIP, decoded once) or number (tel); None for other schemes.
    pub fn user(&self) -> Option<Cow<'_, str>> {
        match self {
            Uri::Sip(u) => u.user_decoded(),
            Uri::Tel(t) => Some(Cow::Borrowed(t.number.as_str())),
            Uri::Other(_) => None,
        }
    }

    /// Host for SIP URIs (as written, IPv6 in brackets).
    pub fn host(&self) -> Option<&str> {
        self.as_sip().map(|u| u.host.as_str())
    }

    /// URI parameters (empty for opaque URIs).
    pub fn params(&self) -> Option<&Params> {
        match self {
            Uri::Sip(u) => Some(&u.params),
            Uri::Tel(t) => Some(&t.params),
            Uri::Other(_) => None,
        }
    }
}

impl FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Uri, UriError> {
        Uri::parse(s)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => write!(f, "tel:{}{}", t.number, t.params),
            Uri::Other(s) => f.write_str(s),
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(pw) = &self.password {
                write!(f, ":{pw}")?;
            }
            f.write_str("@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        self.params.fmt(f)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

fn valid_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'-' || c == b'.')
}

fn parse_sip(rest: &str, secure: bool) -> Result<SipUri, UriError> {
    // The user part may itself contain ';' and '?', so the first '@' ends it.
    let (userinfo, hostpart) = match rest.find('@') {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            if ui.is_empty() {
                return Err(UriError("empty user part"));
            }
            match ui.find(':') {
                Some(c) => (Some(&ui[..c]), Some(&ui[c + 1..])),
                None => (Some(ui), None),
            }
        }
    };
    // hostport ends at the first ';' or '?' (outside an IPv6 reference).
    let (hostport, tail) = if hostpart.starts_with('[') {
        let close = hostpart
            .find(']')
            .ok_or(UriError("unterminated IPv6 reference"))?;
        let after = &hostpart[close + 1..];
        let end = after.find([';', '?']).unwrap_or(after.len());
        (&hostpart[..close + 1 + end], &after[end..])
    } else {
        let end = hostpart.find([';', '?']).unwrap_or(hostpart.len());
        (&hostpart[..end], &hostpart[end..])
    };
    let (host, port) = split_hostport(hostport)?;
    let (params_str, headers_str) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let mut headers = Vec::new();
    if let Some(h) = headers_str {
        for kv in h.split('&').filter(|s| !s.is_empty()) {
            let (n, v) = kv.split_once('=').unwrap_or((kv, ""));
            headers.push((n.to_string(), v.to_string()));
        }
    }
    Ok(SipUri {
        secure,
        user: user.map(str::to_string),
        password: password.map(str::to_string),
        host: host.to_string(),
        port,
        params: Params::parse(params_str),
        headers,
    })
}

/// Splits `host[:port]` (host may be a bracketed IPv6 reference) and validates both.
pub(crate) fn split_hostport(s: &str) -> Result<(&str, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        let close = s.find(']').ok_or(UriError("unterminated IPv6 reference"))?;
        let inner = &s[1..close];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
            || !inner.contains(':')
        {
            return Err(UriError("invalid IPv6 reference"));
        }
        let after = &s[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UriError("junk after IPv6 reference")),
        };
        (&s[..close + 1], port)
    } else {
        match s.find(':') {
            Some(c) => (&s[..c], Some(&s[c + 1..])),
            None => (s, None),
        }
    };
    if !s.starts_with('[') && !valid_host(host) {
        return Err(UriError("invalid host"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p)?),
    };
    Ok((host, port))
}

fn parse_port(p: &str) -> Result<u16, UriError> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UriError("invalid port"));
    }
    p.parse::<u16>().map_err(|_| UriError("port out of range"))
}

/// Domain name or IPv4 address characters (liberal: `_` allowed).
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_')
}

fn parse_tel(rest: &str) -> Result<TelUri, UriError> {
    let end = rest.find(';').unwrap_or(rest.len());
    let number = &rest[..end];
    if number.is_empty()
        || !number.bytes().all(|c| {
            c.is_ascii_hexdigit() || matches!(c, b'+' | b'-' | b'.' | b'(' | b')' | b'*' | b'#')
        })
    {
        return Err(UriError("invalid telephone number"));
    }
    Ok(TelUri {
        number: number.to_string(),
        params: Params::parse(&rest[end..]),
    })
}

/// Decodes `%HH` escapes once; a `%` not followed by two hex digits is kept literally.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| hex(*c)),
                b.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_sip_uri() {
        let u =
            Uri::parse("sips:alice:pw@Example.COM:5061;transport=tcp;lr?Subject=hi&x=y").unwrap();
        let s = u.as_sip().unwrap();
        assert!(s.secure && u.is_sips());
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.password.as_deref(), Some("pw"));
        assert_eq!(s.host, "Example.COM");
        assert_eq!(s.port, Some(5061));
        assert_eq!(s.transport().as_deref(), Some("tcp"));
        assert!(s.params.contains("lr"));
        assert_eq!(s.headers[0], ("Subject".into(), "hi".into()));
        assert_eq!(
            u.to_string(),
            "sips:alice:pw@Example.COM:5061;transport=tcp;lr?Subject=hi&x=y"
        );
    }

    #[test]
    fn user_with_semicolon_and_escapes() {
        let u = Uri::parse("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.host(), Some("example.com"));
        assert_eq!(u.user().unwrap(), "user;par=u@example.net");
        let v = Uri::parse("sip:%75se%72@example.com").unwrap();
        assert_eq!(v.user().unwrap(), "user");
        let w = Uri::parse("sip:%75ser@EXAMPLE.com:5070;transport=tcp").unwrap();
        assert_eq!(w.as_sip().unwrap().aor(), "sip:user@example.com");
        // Decoded once only: value%2541 -> value%41, not valueA.
        assert_eq!(unescape("value%2541"), "value%41");
    }

    #[test]
    fn ipv6_references() {
        let u = Uri::parse("sip:[2001:db8::10]:5070").unwrap();
        assert_eq!(u.host(), Some("[2001:db8::10]"));
        assert_eq!(u.as_sip().unwrap().port, Some(5070));
        assert_eq!(u.as_sip().unwrap().host_bare(), "2001:db8::10");
        let amb = Uri::parse("sip:[2001:db8::10:5070]").unwrap();
        assert_eq!(amb.as_sip().unwrap().port, None);
        assert!(Uri::parse("sip:user@[2001:db8:::192.0.2.1]").is_ok());
        assert!(Uri::parse("sip:2001:db8::10").is_err());
    }

    #[test]
    fn tel_and_other_schemes() {
        let t = Uri::parse("tel:+1-201-555-0123;phone-context=example.com").unwrap();
        assert!(t.is_tel());
        assert_eq!(t.user().unwrap(), "+1-201-555-0123");
        assert_eq!(
            t.to_string(),
            "tel:+1-201-555-0123;phone-context=example.com"
        );
        let o = Uri::parse("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(o.scheme(), "nobodyknowsthisscheme");
        assert!(!o.is_sip());
        assert!(Uri::parse("sip:").is_err());
        assert!(Uri::parse("1abc:x").is_err());
        assert!(Uri::parse("sip:host:99999").is_err());
    }
}
