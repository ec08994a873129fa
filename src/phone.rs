//! Phone numbers, by libphonenumber's metadata (the `phonenumber` crate): any ISO 3166 region,
//! numbers normalised to E.164 (`+<country><national significant number>`), checked for
//! validity, and formatted for people in the national and international styles.
//!
//! Used for support numbers, caller ids, CRM matching, import and the API, so `+44 20 7946
//! 0000`, `+44 (0)20 7946 0000`, `02079460000`, `00442079460000`, `tel:+44-20-7946-0000` and
//! `sip:+442079460000@host` all become `+442079460000`, and an Italian `06 1234 5678` keeps its
//! significant leading zero (`+390612345678`).

use phonenumber::{country, Mode};

/// Whether `region` is an ISO 3166 region libphonenumber has dialling rules for (`GB`, `IT`…).
pub fn known_region(region: &str) -> bool {
    region_id(region).is_some()
}

/// Some region codes, for error messages.
pub fn region_codes() -> Vec<&'static str> {
    vec![
        "GB", "IE", "US", "CA", "DE", "FR", "IT", "ES", "NL", "JP", "IN", "BR", "AU", "…",
    ]
}

fn region_id(region: &str) -> Option<country::Id> {
    region
        .trim()
        .to_ascii_uppercase()
        .parse::<country::Id>()
        .ok()
}

/// A number as the centre shows and matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    /// `+442079460000`: the key for matching and storing.
    pub e164: String,
    /// `020 7946 0000`: as dialled within the number's own country.
    pub national: String,
    /// `+44 20 7946 0000`.
    pub international: String,
    /// Whether libphonenumber's rules hold for it (an unassigned range is not valid).
    pub valid: bool,
    /// The number's own ISO region (`GB`), empty when libphonenumber cannot tell.
    pub region: String,
}

/// What a caller id turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallerNumber {
    Number(Number),
    /// Withheld, `anonymous`, or `unknown`.
    Withheld,
    /// Something that is not a number (a SIP user name, garbage).
    NotANumber,
}

/// Parse a number, `tel:` URI or `sip:`/`sips:` URI user part in the dialling context of
/// `region`. `None` when no possible number is there.
pub fn parse(input: &str, region: &str) -> Option<Number> {
    let raw = user_part(input.trim());
    if raw.is_empty() || raw.len() > 64 || !raw.chars().all(allowed) {
        return None;
    }
    let cleaned = strip_bracketed_trunk_prefix(raw);
    let digits = cleaned.chars().filter(char::is_ascii_digit).count();
    if !(3..=17).contains(&digits) {
        return None;
    }
    let id = region_id(region);
    // An international form is parsed without the region: the number's own country's rules
    // apply (the crate would otherwise strip the region's trunk prefix from, say, an Italian
    // `+39 06…` called into a British centre).
    let international = if cleaned.starts_with('+') {
        Some(cleaned.clone())
    } else {
        after_international_prefix(&cleaned, region)
    };
    let national_try = match &international {
        Some(intl) => phonenumber::parse(None, intl).ok(),
        None => phonenumber::parse(id, &cleaned).ok(),
    };
    let best = match national_try {
        Some(n) if phonenumber::is_valid(&n) => n,
        other => {
            // Digits without the `+` (some trunks send `442079460000`): read them as
            // international when that makes a valid number and the national reading does not.
            let intl = (!cleaned.starts_with('+'))
                .then(|| phonenumber::parse(None, format!("+{cleaned}")).ok())
                .flatten()
                .filter(phonenumber::is_valid);
            match (intl, other) {
                (Some(n), _) => n,
                (None, Some(n)) => n,
                (None, None) => return None,
            }
        }
    };
    let e164 = best.format().mode(Mode::E164).to_string();
    let sig = e164.len().saturating_sub(1);
    if !(7..=15).contains(&sig) {
        return None;
    }
    Some(Number {
        national: best.format().mode(Mode::National).to_string(),
        international: best.format().mode(Mode::International).to_string(),
        valid: phonenumber::is_valid(&best),
        // An invalid number has no region of its own: its country code's main one.
        region: best
            .country()
            .id()
            .map(|id| id.as_ref().to_string())
            .or_else(|| {
                let regions = phonenumber::metadata::DATABASE.region(&best.country().code())?;
                regions.first().map(|r| r.to_string())
            })
            .unwrap_or_default(),
        e164,
    })
}

/// Normalise to E.164 (see [`parse`]); `None` when there is no possible number.
pub fn normalise(input: &str, region: &str) -> Option<String> {
    parse(input, region).map(|n| n.e164)
}

/// What a caller id is: a number, withheld, or not a number.
pub fn caller(input: &str, region: &str) -> CallerNumber {
    let user = user_part(input.trim());
    let lower = user.to_ascii_lowercase();
    if lower.is_empty()
        || matches!(
            lower.as_str(),
            "anonymous" | "unknown" | "restricted" | "withheld" | "private" | "unavailable"
        )
    {
        return CallerNumber::Withheld;
    }
    match parse(input, region) {
        Some(n) => CallerNumber::Number(n),
        None => CallerNumber::NotANumber,
    }
}

/// `0039 06…` dialled from a region whose international prefix is `00`: `+39 06…`.
fn after_international_prefix(cleaned: &str, region: &str) -> Option<String> {
    let digits: String = cleaned.chars().filter(char::is_ascii_digit).collect();
    let code = region.trim().to_ascii_uppercase();
    let md = phonenumber::metadata::DATABASE.by_id(code.as_str())?;
    let m = md.international_prefix()?.find(&digits)?;
    (m.start() == 0 && m.end() < digits.len()).then(|| format!("+{}", &digits[m.end()..]))
}

fn allowed(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')' | '/')
}

/// `+44 (0)20 …`: the bracketed trunk prefix written after a country code is not dialled.
fn strip_bracketed_trunk_prefix(s: &str) -> String {
    if s.starts_with('+') {
        s.replacen("(0)", "", 1)
    } else {
        s.to_string()
    }
}

/// The number inside `tel:+1-555…;params` or `sip:+44…@host;params`, or the input itself.
fn user_part(s: &str) -> &str {
    let lower_prefix = |p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
    let s = if lower_prefix("tel:") {
        &s[4..]
    } else if lower_prefix("sips:") {
        s[5..].split('@').next().unwrap_or("")
    } else if lower_prefix("sip:") {
        s[4..].split('@').next().unwrap_or("")
    } else {
        s
    };
    s.split(';').next().unwrap_or("")
}

/// Format an already-normalised E.164 number for people; the number itself if it does not
/// parse.
pub fn display(e164: &str) -> (String, String) {
    match phonenumber::parse(None, e164) {
        Ok(n) => (
            n.format().mode(Mode::National).to_string(),
            n.format().mode(Mode::International).to_string(),
        ),
        Err(_) => (e164.to_string(), e164.to_string()),
    }
}

#[cfg(test)]
mod tests;
