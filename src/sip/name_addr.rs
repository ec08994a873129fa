//! name-addr / addr-spec values used by From, To, Contact, Route, Record-Route,
//! P-Asserted-Identity and friends: optional display name, URI, header parameters.

use std::fmt;

use super::params::{find_unquoted, trim_lws, Params};
use super::uri::{Uri, UriError};

/// `"Display" <uri>;param=value` (or a bare `uri;param`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name, unquoted and unescaped (None when absent or empty).
    pub display: Option<String>,
    pub uri: Uri,
    /// Header parameters (after `>`, or after the addr-spec), e.g. `tag`, `expires`, `q`.
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    /// Parses a name-addr or addr-spec. Liberal about spaces inside `< >` and a missing
    /// space before `<`; strict about unbalanced quotes/brackets.
    pub fn parse(s: &str) -> Result<NameAddr, UriError> {
        let s = trim_lws(s);
        let (display, rest) = if let Some(q) = s.strip_prefix('"') {
            let end = closing_quote(q).ok_or(UriError("unterminated quoted display name"))?;
            let disp = unescape_quoted(&q[..end]);
            let rest = trim_lws(&q[end + 1..]);
            if !rest.starts_with('<') {
                return Err(UriError("quoted display name not followed by <uri>"));
            }
            (Some(disp), rest)
        } else if let Some(lt) = find_unquoted(s, b'<') {
            let disp = trim_lws(&s[..lt]);
            if disp.contains('"') {
                return Err(UriError("stray quote in display name"));
            }
            (Some(disp.to_string()), &s[lt..])
        } else {
            (None, s)
        };
        let display = display.filter(|d| !d.is_empty());
        if let Some(inner) = rest.strip_prefix('<') {
            let gt = inner.find('>').ok_or(UriError("missing > after URI"))?;
            let uri = Uri::parse(trim_lws(&inner[..gt]))?;
            let after = trim_lws(&inner[gt + 1..]);
            if !after.is_empty() && !after.starts_with(';') {
                return Err(UriError("junk after >"));
            }
            Ok(NameAddr {
                display,
                uri,
                params: parse_header_params(after)?,
            })
        } else {
            // addr-spec: parameters after the URI belong to the header, not the URI.
            let semi = rest.find(';').unwrap_or(rest.len());
            let uri_text = trim_lws(&rest[..semi]);
            if uri_text.contains(['?', ',']) {
                return Err(UriError("addr-spec with ? or , must be enclosed in <>"));
            }
            Ok(NameAddr {
                display: None,
                uri: Uri::parse(uri_text)?,
                params: parse_header_params(&rest[semi..])?,
            })
        }
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }

    pub fn set_tag(&mut self, tag: &str) {
        self.params.set("tag", Some(tag.to_string()));
    }
}

/// Header parameters: every `;` segment must be a non-empty `token[=value]`.
fn parse_header_params(s: &str) -> Result<Params, UriError> {
    let s = trim_lws(s);
    if s.is_empty() {
        return Ok(Params::new());
    }
    let body = s.strip_prefix(';').unwrap_or(s);
    if super::params::split_quoted(body, b';')
        .iter()
        .any(|seg| trim_lws(seg.split('=').next().unwrap_or("")).is_empty())
    {
        return Err(UriError("empty header parameter"));
    }
    Ok(Params::parse(s))
}

/// Index of the closing `"` in `s` (which starts just after the opening quote).
pub(crate) fn closing_quote(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn unescape_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            f.write_str("\"")?;
            for c in d.chars() {
                if c == '"' || c == '\\' {
                    f.write_str("\\")?;
                }
                write!(f, "{c}")?;
            }
            f.write_str("\" ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_display_and_tag() {
        let n = NameAddr::parse(r#""J Rosenberg \"RFC\"" <sip:jdrosen@example.com>;tag=98asjd8"#)
            .unwrap();
        assert_eq!(n.display.as_deref(), Some("J Rosenberg \"RFC\""));
        assert_eq!(n.tag(), Some("98asjd8"));
        assert_eq!(n.uri.host(), Some("example.com"));
        let again = NameAddr::parse(&n.to_string()).unwrap();
        assert_eq!(again, n);
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let n = NameAddr::parse("sip:user@example.com;tag=1;unknownparam").unwrap();
        assert_eq!(n.tag(), Some("1"));
        assert!(n.params.contains("unknownparam"));
        assert!(n.uri.params().unwrap().is_empty());
        let m = NameAddr::parse("<sip:user@example.com;unknownparam>").unwrap();
        assert!(m.uri.params().unwrap().contains("unknownparam"));
        assert!(m.params.is_empty());
    }

    #[test]
    fn liberal_and_strict_cases() {
        let n = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(n.display.as_deref(), Some("caller"));
        assert!(NameAddr::parse("< sip:t.watson@example.org >").is_ok());
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("<sip:a@b>;;;;").is_err());
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:x%3E").is_err());
        assert!(NameAddr::parse("<tel:+15551234>").unwrap().uri.is_tel());
    }
}
