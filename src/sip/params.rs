//! Generic `;name=value` parameter lists (URI, Via, name-addr, Contact) and the small
//! lexical helpers shared by the header parsers: LWS trimming, and splitting on a
//! delimiter while respecting quoted strings and `<...>` brackets.

use std::fmt;

/// An ordered list of `;name[=value]` parameters. Names compare case-insensitively;
/// values are kept as received (quoted strings keep their quotes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, Option<String>)>);

impl Params {
    pub fn new() -> Self {
        Params(Vec::new())
    }

    /// Parses `;a=b;c` (a leading `;` is optional). Empty segments are skipped.
    pub fn parse(s: &str) -> Params {
        let mut out = Vec::new();
        for seg in split_quoted(s, b';') {
            let seg = trim_lws(seg);
            if seg.is_empty() {
                continue;
            }
            match seg.find('=') {
                Some(eq) => {
                    let name = trim_lws(&seg[..eq]);
                    let value = trim_lws(&seg[eq + 1..]);
                    out.push((name.to_string(), Some(value.to_string())));
                }
                None => out.push((seg.to_string(), None)),
            }
        }
        Params(out)
    }

    /// `Some(Some(v))` for `;name=v`, `Some(None)` for a bare `;name`, `None` if absent.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The value of `;name=value` (None if absent or valueless).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets (replacing the first existing one) or appends a parameter.
    pub fn set(&mut self, name: &str, value: Option<String>) {
        if let Some(slot) = self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            slot.1 = value;
        } else {
            self.0.push((name.to_string(), value));
        }
    }

    /// Removes every parameter of that name; returns whether one was present.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.0.len();
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        before != self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for Params {
    /// Writes `;name=value` for each parameter (nothing when empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.0 {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

/// Trims SIP linear white space (space, tab, CR, LF) from both ends.
pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t' || c == '\r' || c == '\n')
}

/// Splits on `delim` outside quoted strings (with `\` escapes) and outside `<...>`.
pub(crate) fn split_quoted(s: &str, delim: u8) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut start = 0;
    let mut in_quote = false;
    let mut angle = 0u32;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_quote {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_quote = false;
            }
        } else if c == b'"' {
            in_quote = true;
        } else if c == b'<' {
            angle += 1;
        } else if c == b'>' {
            angle = angle.saturating_sub(1);
        } else if c == delim && angle == 0 {
            out.push(&s[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    out.push(s.get(start..).unwrap_or(""));
    out
}

/// Finds the first `delim` outside quotes and `<...>`.
pub(crate) fn find_unquoted(s: &str, delim: u8) -> Option<usize> {
    let b = s.as_bytes();
    let mut in_quote = false;
    let mut angle = 0u32;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_quote {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_quote = false;
            }
        } else if c == delim && angle == 0 {
            return Some(i);
        } else if c == b'"' {
            in_quote = true;
        } else if c == b'<' {
            angle += 1;
        } else if c == b'>' {
            angle = angle.saturating_sub(1);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse_get_set_remove() {
        let mut p = Params::parse(";branch=z9hG4bK1;rport; Received = 1.2.3.4 ;x=\"a;b\"");
        assert_eq!(p.value("BRANCH"), Some("z9hG4bK1"));
        assert_eq!(p.get("rport"), Some(None));
        assert_eq!(p.value("received"), Some("1.2.3.4"));
        assert_eq!(p.value("x"), Some("\"a;b\""));
        p.set("rport", Some("5060".into()));
        assert!(p.remove("x"));
        assert_eq!(
            p.to_string(),
            ";branch=z9hG4bK1;rport=5060;Received=1.2.3.4"
        );
    }

    #[test]
    fn split_respects_quotes_and_angles() {
        let parts = split_quoted("\"a, b\" <sip:x;y=1,2>, <sip:z>", b',');
        assert_eq!(parts, vec!["\"a, b\" <sip:x;y=1,2>", " <sip:z>"]);
    }
}
