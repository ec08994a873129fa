//! Regex-free digit patterns in the style PBX operators know from Asterisk, used to validate
//! collected digits and to describe the transfer allow-list (toll-fraud guard).
//!
//! Pattern letters: `X` any digit 0-9, `Z` 1-9, `N` 2-9; digits, `*`, `#` and `+` match themselves;
//! a trailing `.` matches one or more further characters (so `+44207946.` is a prefix rule).

/// One validated pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitPattern {
    /// Pattern characters without the trailing `.`.
    fixed: Vec<char>,
    /// Whether a trailing `.` allows one or more further characters.
    open_ended: bool,
    text: String,
}

impl DigitPattern {
    /// Parses a pattern, explaining what is wrong when it is not one.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (body, open_ended) = match text.strip_suffix('.') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.is_empty() {
            return Err(format!(
                "pattern `{text}` is empty; write digits and X (0-9), Z (1-9), N (2-9), e.g. `XXXXXX`"
            ));
        }
        let mut fixed = Vec::with_capacity(body.len());
        for c in body.chars() {
            let c = c.to_ascii_uppercase();
            match c {
                '0'..='9' | '*' | '#' | '+' | 'X' | 'Z' | 'N' => fixed.push(c),
                other => {
                    return Err(format!(
                        "pattern `{text}` has `{other}`; use digits, `*`, `#`, `+`, X (0-9), Z (1-9), N (2-9) and an optional trailing `.`"
                    ))
                }
            }
        }
        Ok(DigitPattern {
            fixed,
            open_ended,
            text: text.to_string(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Shortest input the pattern can match.
    pub fn min_len(&self) -> usize {
        self.fixed.len() + usize::from(self.open_ended)
    }

    /// Longest input the pattern can match (`None` when open-ended).
    pub fn max_len(&self) -> Option<usize> {
        (!self.open_ended).then_some(self.fixed.len())
    }

    /// Whether `input` matches the whole pattern.
    pub fn matches(&self, input: &str) -> bool {
        let mut chars = input.chars();
        for &p in &self.fixed {
            let Some(c) = chars.next() else { return false };
            let ok = match p {
                'X' => c.is_ascii_digit(),
                'Z' => matches!(c, '1'..='9'),
                'N' => matches!(c, '2'..='9'),
                lit => c == lit,
            };
            if !ok {
                return false;
            }
        }
        let rest = chars.count();
        if self.open_ended {
            rest >= 1
        } else {
            rest == 0
        }
    }
}

/// Whether `number` is an E.164 number: `+`, a non-zero digit, 2..=15 digits in all.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// Destinations a dialplan may transfer callers to. Empty means no transfer is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    patterns: Vec<DigitPattern>,
}

impl AllowList {
    /// Builds the list from operator-written patterns such as `+4420794609XX` or `+1800555.`.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, String> {
        let patterns = patterns
            .iter()
            .map(|p| DigitPattern::parse(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AllowList { patterns })
    }

    /// Whether a transfer to `number` is allowed: it must be E.164 and match one pattern.
    pub fn allows(&self, number: &str) -> bool {
        is_e164(number) && self.patterns.iter().any(|p| p.matches(number))
    }

    /// The patterns, as written, for error messages.
    pub fn describe(&self) -> String {
        if self.patterns.is_empty() {
            return "the allow-list is empty".to_string();
        }
        let list: Vec<&str> = self.patterns.iter().map(DigitPattern::as_str).collect();
        format!("allowed: {}", list.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_match_their_digit_ranges() {
        let p = DigitPattern::parse("ZXN").unwrap();
        assert!(p.matches("102"));
        assert!(!p.matches("002"), "Z excludes 0");
        assert!(!p.matches("101"), "N excludes 1");
        assert!(!p.matches("10"), "too short");
        assert!(!p.matches("1023"), "too long");
    }

    #[test]
    fn trailing_dot_needs_at_least_one_more_digit() {
        let p = DigitPattern::parse("+1800.").unwrap();
        assert!(p.matches("+18005550100"));
        assert!(!p.matches("+1800"));
        assert!(!p.matches("+1900555"));
        assert_eq!(p.min_len(), 6);
        assert_eq!(p.max_len(), None);
    }

    #[test]
    fn bad_pattern_says_which_letter() {
        let err = DigitPattern::parse("12a4").unwrap_err();
        assert!(err.contains("`A`"), "{err}");
        assert!(DigitPattern::parse(".").is_err());
    }

    #[test]
    fn e164_rules() {
        assert!(is_e164("+442079460000"));
        assert!(!is_e164("442079460000"));
        assert!(!is_e164("+0442079460000"));
        assert!(!is_e164("+44207946000012345"));
        assert!(!is_e164("+44 20"));
    }

    #[test]
    fn allow_list_refuses_premium_numbers() {
        let allow = AllowList::parse(&["+4420794609XX", "+1800555."]).unwrap();
        assert!(allow.allows("+442079460999"));
        assert!(allow.allows("+18005550199"));
        assert!(!allow.allows("+882123456789"), "international premium");
        assert!(!allow.allows("+4420794609"), "too short for XX");
        assert!(!AllowList::default().allows("+442079460999"));
    }
}
