//! The ordered header list of a SIP message. Names are stored in canonical form (full
//! name, lowercase: `v` and `Via` both become `via`) and looked up case-insensitively
//! by full or compact name. Values are kept as received (unfolded, trimmed).

use std::borrow::Cow;

/// Ordered list of `(canonical lowercase name, value)` pairs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(Cow<'static, str>, String)>,
}

impl Headers {
    pub fn new() -> Headers {
        Headers {
            entries: Vec::new(),
        }
    }

    pub fn with_capacity(n: usize) -> Headers {
        Headers {
            entries: Vec::with_capacity(n),
        }
    }

    /// Number of header entries (one per value after list splitting).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// First value of a header (name in any case, full or compact form).
    pub fn get(&self, name: &str) -> Option<&str> {
        let key = lookup_key(name);
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// All values of a header, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let key: Cow<'static, str> = canonical_name(name);
        self.entries
            .iter()
            .filter(move |(n, _)| *n == key)
            .map(|(_, v)| v.as_str())
    }

    /// How many entries of that header there are.
    pub fn count(&self, name: &str) -> usize {
        let key = lookup_key(name);
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(key))
            .count()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends an entry (keeps existing ones of that name).
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((canonical_name(name), value.into()));
    }

    /// Inserts before the first existing entry of that name (or at the top if none):
    /// the way to add a Via or Record-Route.
    pub fn push_front(&mut self, name: &str, value: impl Into<String>) {
        let key = canonical_name(name);
        let at = self
            .entries
            .iter()
            .position(|(n, _)| *n == key)
            .unwrap_or(0);
        self.entries.insert(at, (key, value.into()));
    }

    /// Replaces every entry of that name with one value, at the position of the first.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let key = canonical_name(name);
        match self.entries.iter().position(|(n, _)| *n == key) {
            Some(first) => {
                self.entries[first].1 = value.into();
                let mut i = 0;
                self.entries.retain(|(n, _)| {
                    let keep = i <= first || *n != key;
                    i += 1;
                    keep
                });
            }
            None => self.entries.push((key, value.into())),
        }
    }

    /// Removes every entry of that name; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let key = canonical_name(name);
        let before = self.entries.len();
        self.entries.retain(|(n, _)| *n != key);
        before - self.entries.len()
    }

    /// Removes and returns the first entry of that name (e.g. the top Via).
    pub fn remove_first(&mut self, name: &str) -> Option<String> {
        let key = canonical_name(name);
        let at = self.entries.iter().position(|(n, _)| *n == key)?;
        Some(self.entries.remove(at).1)
    }

    /// All entries in order as `(canonical lowercase name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }

    /// Appends with an already-canonical name (parser fast path).
    pub(crate) fn push_canonical(&mut self, name: Cow<'static, str>, value: String) {
        self.entries.push((name, value));
    }
}

/// Full lowercase name for a compact form, or the name itself.
fn lookup_key(name: &str) -> &str {
    if name.len() == 1 {
        if let Some(full) = expand_compact(name.as_bytes()[0]) {
            return full;
        }
    }
    name
}

/// Canonical (full, lowercase) form of a header name. Known names are borrowed.
pub fn canonical_name(name: &str) -> Cow<'static, str> {
    if name.len() == 1 {
        if let Some(full) = expand_compact(name.as_bytes()[0]) {
            return Cow::Borrowed(full);
        }
    }
    let mut buf = [0u8; 32];
    if name.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(name.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        if let Ok(lower) = std::str::from_utf8(&buf[..name.len()]) {
            if let Some(k) = known_name(lower) {
                return Cow::Borrowed(k);
            }
        }
    }
    Cow::Owned(name.to_ascii_lowercase())
}

/// RFC 3261 §7.3.3 and later compact forms.
fn expand_compact(c: u8) -> Option<&'static str> {
    Some(match c.to_ascii_lowercase() {
        b'a' => "accept-contact",
        b'b' => "referred-by",
        b'c' => "content-type",
        b'd' => "request-disposition",
        b'e' => "content-encoding",
        b'f' => "from",
        b'i' => "call-id",
        b'j' => "reject-contact",
        b'k' => "supported",
        b'l' => "content-length",
        b'm' => "contact",
        b'n' => "identity-info",
        b'o' => "event",
        b'r' => "refer-to",
        b's' => "subject",
        b't' => "to",
        b'u' => "allow-events",
        b'v' => "via",
        b'x' => "session-expires",
        b'y' => "identity",
        _ => return None,
    })
}

/// Known header names: (lowercase, wire spelling).
const KNOWN: &[(&str, &str)] = &[
    ("via", "Via"),
    ("from", "From"),
    ("to", "To"),
    ("call-id", "Call-ID"),
    ("cseq", "CSeq"),
    ("contact", "Contact"),
    ("max-forwards", "Max-Forwards"),
    ("content-length", "Content-Length"),
    ("content-type", "Content-Type"),
    ("content-encoding", "Content-Encoding"),
    ("content-disposition", "Content-Disposition"),
    ("content-language", "Content-Language"),
    ("route", "Route"),
    ("record-route", "Record-Route"),
    ("expires", "Expires"),
    ("min-expires", "Min-Expires"),
    ("allow", "Allow"),
    ("allow-events", "Allow-Events"),
    ("supported", "Supported"),
    ("require", "Require"),
    ("proxy-require", "Proxy-Require"),
    ("unsupported", "Unsupported"),
    ("accept", "Accept"),
    ("accept-encoding", "Accept-Encoding"),
    ("accept-language", "Accept-Language"),
    ("user-agent", "User-Agent"),
    ("server", "Server"),
    ("subject", "Subject"),
    ("date", "Date"),
    ("timestamp", "Timestamp"),
    ("warning", "Warning"),
    ("retry-after", "Retry-After"),
    ("authorization", "Authorization"),
    ("proxy-authorization", "Proxy-Authorization"),
    ("www-authenticate", "WWW-Authenticate"),
    ("proxy-authenticate", "Proxy-Authenticate"),
    ("authentication-info", "Authentication-Info"),
    ("event", "Event"),
    ("subscription-state", "Subscription-State"),
    ("refer-to", "Refer-To"),
    ("referred-by", "Referred-By"),
    ("session-expires", "Session-Expires"),
    ("min-se", "Min-SE"),
    ("rseq", "RSeq"),
    ("rack", "RAck"),
    ("p-asserted-identity", "P-Asserted-Identity"),
    ("p-preferred-identity", "P-Preferred-Identity"),
    ("p-called-party-id", "P-Called-Party-ID"),
    ("privacy", "Privacy"),
    ("path", "Path"),
    ("service-route", "Service-Route"),
    ("reason", "Reason"),
    ("organization", "Organization"),
    ("priority", "Priority"),
    ("in-reply-to", "In-Reply-To"),
    ("reply-to", "Reply-To"),
    ("mime-version", "MIME-Version"),
    ("alert-info", "Alert-Info"),
    ("call-info", "Call-Info"),
    ("error-info", "Error-Info"),
    ("accept-contact", "Accept-Contact"),
    ("reject-contact", "Reject-Contact"),
    ("request-disposition", "Request-Disposition"),
    ("identity", "Identity"),
    ("identity-info", "Identity-Info"),
    ("replaces", "Replaces"),
];

fn known_name(lower: &str) -> Option<&'static str> {
    // The hot names first, by exact match; then the rest of the table.
    Some(match lower {
        "via" => "via",
        "from" => "from",
        "to" => "to",
        "call-id" => "call-id",
        "cseq" => "cseq",
        "contact" => "contact",
        "max-forwards" => "max-forwards",
        "content-length" => "content-length",
        "content-type" => "content-type",
        "route" => "route",
        "record-route" => "record-route",
        "allow" => "allow",
        "supported" => "supported",
        "user-agent" => "user-agent",
        "expires" => "expires",
        _ => return KNOWN.iter().find(|(k, _)| *k == lower).map(|(k, _)| *k),
    })
}

/// Wire spelling of a canonical name (`call-id` → `Call-ID`); unknown names are
/// written in Title-Case.
pub fn display_name(canonical: &str) -> Cow<'static, str> {
    if let Some((_, d)) = KNOWN.iter().find(|(k, _)| *k == canonical) {
        return Cow::Borrowed(d);
    }
    let mut out = String::with_capacity(canonical.len());
    let mut up = true;
    for c in canonical.chars() {
        out.push(if up { c.to_ascii_uppercase() } else { c });
        up = c == '-';
    }
    Cow::Owned(out)
}

/// Headers whose comma-separated values the parser splits into separate entries.
/// (Not Authorization/WWW-Authenticate/Date/etc., whose values contain commas.)
pub(crate) fn is_list_header(canonical: &str) -> bool {
    matches!(
        canonical,
        "via"
            | "contact"
            | "route"
            | "record-route"
            | "allow"
            | "supported"
            | "require"
            | "proxy-require"
            | "unsupported"
            | "accept"
            | "accept-encoding"
            | "accept-language"
            | "allow-events"
            | "content-encoding"
            | "path"
            | "service-route"
            | "p-asserted-identity"
            | "p-preferred-identity"
            | "privacy"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_lookup() {
        let mut h = Headers::new();
        h.push("v", "SIP/2.0/UDP a");
        h.push("VIA", "SIP/2.0/UDP b");
        h.push("X-Custom", "1");
        assert_eq!(h.get("Via"), Some("SIP/2.0/UDP a"));
        assert_eq!(h.get("v"), Some("SIP/2.0/UDP a"));
        assert_eq!(
            h.get_all("via").collect::<Vec<_>>(),
            ["SIP/2.0/UDP a", "SIP/2.0/UDP b"]
        );
        assert_eq!(h.get("x-custom"), Some("1"));
        assert_eq!(h.count("V"), 2);
        assert_eq!(h.iter().next(), Some(("via", "SIP/2.0/UDP a")));
    }

    #[test]
    fn set_push_front_remove() {
        let mut h = Headers::new();
        h.push("To", "a");
        h.push("Via", "1");
        h.push("Via", "2");
        h.push_front("Via", "0");
        assert_eq!(h.get_all("via").collect::<Vec<_>>(), ["0", "1", "2"]);
        assert_eq!(h.remove_first("via").as_deref(), Some("0"));
        h.set("via", "x");
        assert_eq!(h.get_all("via").collect::<Vec<_>>(), ["x"]);
        assert_eq!(h.iter().map(|(n, _)| n).collect::<Vec<_>>(), ["to", "via"]);
        assert_eq!(h.remove("t"), 1);
        assert!(!h.contains("to"));
    }

    #[test]
    fn wire_names() {
        assert_eq!(display_name("call-id"), "Call-ID");
        assert_eq!(display_name("www-authenticate"), "WWW-Authenticate");
        assert_eq!(display_name("x-foo-bar"), "X-Foo-Bar");
        assert_eq!(canonical_name("i"), "call-id");
        assert_eq!(canonical_name("CSEQ"), "cseq");
    }
}
