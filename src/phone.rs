//! Phone numbers normalised to E.164 (`+<country><national>`), with a default region for
//! national and internationally-prefixed forms. Used for support numbers, caller ids and CRM
//! matching, so `+44 20 7946 0000`, `02079460000`, `tel:+44-20-7946-0000` and
//! `sip:+442079460000@host` all become `+442079460000`.

/// Dialling rules of one region.
#[derive(Debug, Clone, Copy)]
struct Region {
    code: &'static str,
    country: &'static str,
    trunk_prefix: &'static str,
    international_prefix: &'static str,
}

const REGIONS: &[Region] = &[
    Region {
        code: "GB",
        country: "44",
        trunk_prefix: "0",
        international_prefix: "00",
    },
    Region {
        code: "IE",
        country: "353",
        trunk_prefix: "0",
        international_prefix: "00",
    },
    Region {
        code: "US",
        country: "1",
        trunk_prefix: "1",
        international_prefix: "011",
    },
    Region {
        code: "CA",
        country: "1",
        trunk_prefix: "1",
        international_prefix: "011",
    },
    Region {
        code: "ES",
        country: "34",
        trunk_prefix: "",
        international_prefix: "00",
    },
    Region {
        code: "FR",
        country: "33",
        trunk_prefix: "0",
        international_prefix: "00",
    },
    Region {
        code: "DE",
        country: "49",
        trunk_prefix: "0",
        international_prefix: "00",
    },
    Region {
        code: "NL",
        country: "31",
        trunk_prefix: "0",
        international_prefix: "00",
    },
    Region {
        code: "AU",
        country: "61",
        trunk_prefix: "0",
        international_prefix: "0011",
    },
];

/// Whether `region` is one we know how to normalise for.
pub fn known_region(region: &str) -> bool {
    find_region(region).is_some()
}

/// The region codes we support, for error messages.
pub fn region_codes() -> Vec<&'static str> {
    REGIONS.iter().map(|r| r.code).collect()
}

fn find_region(region: &str) -> Option<&'static Region> {
    REGIONS.iter().find(|r| r.code.eq_ignore_ascii_case(region))
}

/// Normalise a number, `tel:` URI or `sip:`/`sips:` URI user part to E.164.
/// Returns `None` when no plausible number is there (a name like `alice`, or too few digits).
pub fn normalise(input: &str, default_region: &str) -> Option<String> {
    let number = user_part(input.trim());
    let mut digits = String::with_capacity(number.len());
    let mut plus = false;
    for (i, c) in number.chars().enumerate() {
        match c {
            '+' if i == 0 => plus = true,
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return None,
        }
    }
    if plus {
        return plausible(digits);
    }
    let region = find_region(default_region)?;
    if let Some(rest) = digits.strip_prefix(region.international_prefix) {
        return plausible(rest.to_string());
    }
    let national = if region.trunk_prefix.is_empty() {
        digits.as_str()
    } else if region.country == "1" && digits.len() == 11 {
        digits.strip_prefix(region.trunk_prefix)?
    } else if region.country == "1" {
        digits.as_str()
    } else {
        digits.strip_prefix(region.trunk_prefix)?
    };
    plausible(format!("{}{}", region.country, national))
}

fn plausible(digits: String) -> Option<String> {
    (7..=15)
        .contains(&digits.len())
        .then(|| format!("+{digits}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_of_one_uk_number_agree() {
        for input in [
            "+44 20 7946 0000",
            "02079460000",
            "020 7946 0000",
            "tel:+44-20-7946-0000",
            "sip:+442079460000@pbx.example.com;user=phone",
            "sips:02079460000@host",
            "00442079460000",
        ] {
            assert_eq!(
                normalise(input, "GB").as_deref(),
                Some("+442079460000"),
                "{input}"
            );
        }
    }

    #[test]
    fn north_american_forms() {
        assert_eq!(
            normalise("(800) 555-0100", "US").as_deref(),
            Some("+18005550100")
        );
        assert_eq!(
            normalise("1 800 555 0100", "US").as_deref(),
            Some("+18005550100")
        );
        assert_eq!(
            normalise("011 44 20 7946 0000", "US").as_deref(),
            Some("+442079460000")
        );
    }

    #[test]
    fn non_ascii_input_is_refused_not_a_panic() {
        assert_eq!(normalise("call\u{fffd}r", "GB"), None);
        assert_eq!(normalise("s\u{e9}p:+4420", "GB"), None);
    }

    #[test]
    fn names_and_short_strings_are_not_numbers() {
        assert_eq!(normalise("sip:alice@example.com", "GB"), None);
        assert_eq!(normalise("123", "GB"), None);
        assert_eq!(normalise("", "GB"), None);
        assert_eq!(normalise("+44 20 7946 0000 ext", "GB"), None);
    }

    #[test]
    fn national_number_without_trunk_prefix_is_refused_where_one_is_required() {
        assert_eq!(normalise("2079460000", "GB"), None);
        assert_eq!(
            normalise("912345678", "ES").as_deref(),
            Some("+34912345678")
        );
    }
}
