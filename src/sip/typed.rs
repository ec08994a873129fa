//! Typed header accessors on [`Headers`], parsed on demand from the stored text:
//! Via, From/To, Call-ID, CSeq, Max-Forwards, Contact, Expires, Content-Length,
//! Content-Type and option-tag lists.

use super::headers::Headers;
use super::message::{CSeq, Contact, HeaderError, Method};
use super::name_addr::NameAddr;
use super::params::{find_unquoted, split_quoted, trim_lws};
use super::via::Via;

fn invalid(name: &'static str, reason: &'static str) -> HeaderError {
    HeaderError::Invalid { name, reason }
}

impl Headers {
    /// The one value of a header that must occur exactly once.
    pub fn single(&self, name: &'static str) -> Result<&str, HeaderError> {
        let mut it = self.get_all(name);
        let first = it.next().ok_or(HeaderError::Missing(name))?;
        if it.next().is_some() {
            return Err(HeaderError::Multiple(name));
        }
        Ok(first)
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, HeaderError> {
        let v = self.get("via").ok_or(HeaderError::Missing("Via"))?;
        let first = find_unquoted(v, b',').map_or(v, |comma| &v[..comma]);
        Via::parse(first).map_err(|e| invalid("Via", e.0))
    }

    /// Every Via, top first.
    pub fn vias(&self) -> Result<Vec<Via>, HeaderError> {
        let mut out = Vec::new();
        for v in self.get_all("via") {
            for part in split_quoted(v, b',') {
                out.push(Via::parse(part).map_err(|e| invalid("Via", e.0))?);
            }
        }
        Ok(out)
    }

    pub fn from(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(self.single("From")?).map_err(|e| invalid("From", e.0))
    }

    pub fn to(&self) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(self.single("To")?).map_err(|e| invalid("To", e.0))
    }

    pub fn call_id(&self) -> Result<&str, HeaderError> {
        let v = self.single("Call-ID")?;
        if v.is_empty() || v.bytes().any(|b| b <= b' ') {
            return Err(invalid("Call-ID", "empty or contains white space"));
        }
        Ok(v)
    }

    pub fn cseq(&self) -> Result<CSeq, HeaderError> {
        let v = self.single("CSeq")?;
        let mut parts = v.split([' ', '\t']).filter(|s| !s.is_empty());
        let seq = parts.next().ok_or(invalid("CSeq", "empty"))?;
        let method = parts.next().ok_or(invalid("CSeq", "no method"))?;
        if parts.next().is_some() {
            return Err(invalid("CSeq", "junk after method"));
        }
        let seq =
            parse_u32(seq).ok_or(invalid("CSeq", "sequence number is not a 32-bit number"))?;
        if !method.bytes().all(super::via::is_token_char) {
            return Err(invalid("CSeq", "invalid method"));
        }
        Ok(CSeq {
            seq,
            method: Method::parse(method),
        })
    }

    /// Max-Forwards (None when absent; RFC 2543 peers omit it).
    pub fn max_forwards(&self) -> Result<Option<u32>, HeaderError> {
        match self.get_all("max-forwards").count() {
            0 => Ok(None),
            1 => {
                let v = self.get("max-forwards").unwrap_or("");
                let n = parse_u32(v).ok_or(invalid("Max-Forwards", "not a number"))?;
                if n > 255 {
                    return Err(invalid("Max-Forwards", "greater than 255"));
                }
                Ok(Some(n))
            }
            _ => Err(HeaderError::Multiple("Max-Forwards")),
        }
    }

    /// Every Contact value (a `*` becomes [`Contact::Wildcard`]).
    pub fn contacts(&self) -> Result<Vec<Contact>, HeaderError> {
        let mut out = Vec::new();
        for v in self.get_all("contact") {
            for part in split_quoted(v, b',') {
                let part = trim_lws(part);
                if part == "*" {
                    out.push(Contact::Wildcard);
                } else {
                    let na = NameAddr::parse(part).map_err(|e| invalid("Contact", e.0))?;
                    out.push(Contact::Addr(na));
                }
            }
        }
        Ok(out)
    }

    /// The first Contact address (None if absent or only `*`).
    pub fn contact(&self) -> Result<Option<NameAddr>, HeaderError> {
        Ok(self.contacts()?.into_iter().find_map(|c| match c {
            Contact::Addr(a) => Some(a),
            Contact::Wildcard => None,
        }))
    }

    /// Expires in seconds (None when absent).
    pub fn expires(&self) -> Result<Option<u32>, HeaderError> {
        match self.get("expires") {
            None => Ok(None),
            Some(v) => parse_u32(v)
                .map(Some)
                .ok_or(invalid("Expires", "not a 32-bit number of seconds")),
        }
    }

    /// Content-Length (None when absent). Several differing values are an error.
    pub fn content_length(&self) -> Result<Option<usize>, HeaderError> {
        let mut found: Option<usize> = None;
        for v in self.get_all("content-length") {
            let n = parse_u32(v).ok_or(invalid("Content-Length", "not a number"))? as usize;
            if found.is_some_and(|f| f != n) {
                return Err(HeaderError::Multiple("Content-Length"));
            }
            found = Some(n);
        }
        Ok(found)
    }

    /// Content-Type as written.
    pub fn content_type(&self) -> Option<&str> {
        self.get("content-type")
    }

    /// `type/subtype` of Content-Type, lowercased, parameters dropped.
    pub fn mime_type(&self) -> Option<String> {
        let v = self.content_type()?;
        let end = v.find(';').unwrap_or(v.len());
        let t: String = v[..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        Some(t.to_ascii_lowercase())
    }

    /// Comma-separated tokens of every entry of a list header (Require, Supported,
    /// Allow, Proxy-Require, Accept, ...), trimmed, empty items skipped.
    pub fn tokens(&self, name: &str) -> Vec<&str> {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .map(trim_lws)
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Every value of a name-addr list header (Route, Record-Route, Path,
    /// P-Asserted-Identity ...), in order.
    pub fn name_addrs(&self, name: &'static str) -> Result<Vec<NameAddr>, HeaderError> {
        let mut out = Vec::new();
        for v in self.get_all(name) {
            for part in split_quoted(v, b',') {
                out.push(NameAddr::parse(part).map_err(|e| invalid(name, e.0))?);
            }
        }
        Ok(out)
    }

    pub fn routes(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addrs("Route")
    }

    pub fn record_routes(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addrs("Record-Route")
    }
}

/// Decimal u32 with leading zeros allowed; None if empty, non-digit or > 2^32-1.
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    let s = trim_lws(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = s.trim_start_matches('0');
    if digits.len() > 10 {
        return None;
    }
    if digits.is_empty() {
        return Some(0);
    }
    digits.parse::<u32>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(list: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in list {
            h.push(n, *v);
        }
        h
    }

    #[test]
    fn cseq_max_forwards_with_leading_zeros() {
        let h = hdrs(&[("CSeq", "0009 INVITE"), ("Max-Forwards", "0068")]);
        assert_eq!(
            h.cseq().unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert_eq!(h.max_forwards().unwrap(), Some(68));
        let big = hdrs(&[
            ("CSeq", "36893488147419103232 INVITE"),
            ("Max-Forwards", "300"),
        ]);
        assert!(big.cseq().is_err());
        assert!(big.max_forwards().is_err());
    }

    #[test]
    fn contacts_star_and_list() {
        let h = hdrs(&[
            ("m", "\"a,b\" <sip:a@x>;expires=5, <sip:b@y>"),
            ("Contact", "*"),
        ]);
        let c = h.contacts().unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[2], Contact::Wildcard);
        assert_eq!(
            h.contact().unwrap().unwrap().display.as_deref(),
            Some("a,b")
        );
    }

    #[test]
    fn single_valued_headers_detect_duplicates() {
        let h = hdrs(&[
            ("Call-ID", "a"),
            ("i", "b"),
            ("l", "5"),
            ("Content-Length", "13"),
        ]);
        assert_eq!(h.call_id(), Err(HeaderError::Multiple("Call-ID")));
        assert!(h.content_length().is_err());
        assert_eq!(h.from(), Err(HeaderError::Missing("From")));
    }

    #[test]
    fn tokens_and_mime() {
        let h = hdrs(&[
            ("Require", "100rel, timer"),
            ("Require", "foo"),
            ("c", "Application/SDP ; charset=x"),
        ]);
        assert_eq!(h.tokens("require"), ["100rel", "timer", "foo"]);
        assert_eq!(h.mime_type().as_deref(), Some("application/sdp"));
    }

    #[test]
    fn vias_top_first() {
        let h = hdrs(&[
            ("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b"),
            ("Via", "SIP/2.0/UDP c"),
        ]);
        let v = h.vias().unwrap();
        assert_eq!(
            v.iter().map(|v| v.host.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(h.top_via().unwrap().branch.as_deref(), Some("z9hG4bK1"));
    }
}
