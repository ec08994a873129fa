//! Number and duration saying: which prompt names speak a number in a language.
//! English and Spanish rules; other languages fall back to saying the digits one by one.
//!
//! Prompt names used — English: `0`–`19`, `20`…`90`, `hundred`, `thousand`; Spanish: `0`–`29`,
//! `30`…`90`, `y`, `100` (cien), `ciento`, `200`…`900`, `mil`, `un`; both: `minute`, `minutes`,
//! `second`, `seconds`.

/// Prompt names that say `n` (0–999 999) in `lang`.
pub fn number(lang: &str, n: u32) -> Vec<String> {
    let mut out = Vec::new();
    match base(lang) {
        "en" => english(n.min(999_999), &mut out),
        "es" => spanish(n.min(999_999), &mut out),
        _ => out.extend(n.to_string().chars().map(|c| c.to_string())),
    }
    out
}

/// Prompt names that say each digit of `digits` (non-digits skipped).
pub fn digits(digits: &str) -> Vec<String> {
    digits
        .chars()
        .filter(char::is_ascii_digit)
        .map(|c| c.to_string())
        .collect()
}

/// Prompt names that say a duration as minutes and seconds ("2 minutes 5 seconds").
pub fn duration(lang: &str, total_secs: u64) -> Vec<String> {
    let minutes = (total_secs / 60).min(999_999) as u32;
    let seconds = (total_secs % 60) as u32;
    let mut out = Vec::new();
    let unit = |n: u32, one: &str, many: &str, out: &mut Vec<String>| {
        if base(lang) == "es" && n == 1 {
            out.push("un".into());
        } else {
            out.extend(number(lang, n));
        }
        out.push(if n == 1 { one } else { many }.to_string());
    };
    if minutes > 0 {
        unit(minutes, "minute", "minutes", &mut out);
    }
    if seconds > 0 || minutes == 0 {
        unit(seconds, "second", "seconds", &mut out);
    }
    out
}

fn base(lang: &str) -> &str {
    lang.split(['-', '_']).next().unwrap_or(lang)
}

fn english(n: u32, out: &mut Vec<String>) {
    if n >= 1000 {
        english(n / 1000, out);
        out.push("thousand".into());
        if !n.is_multiple_of(1000) {
            english(n % 1000, out);
        }
    } else if n >= 100 {
        out.push((n / 100).to_string());
        out.push("hundred".into());
        if !n.is_multiple_of(100) {
            english(n % 100, out);
        }
    } else if n >= 20 {
        out.push((n / 10 * 10).to_string());
        if !n.is_multiple_of(10) {
            out.push((n % 10).to_string());
        }
    } else {
        out.push(n.to_string());
    }
}

fn spanish(n: u32, out: &mut Vec<String>) {
    if n >= 1000 {
        if n / 1000 > 1 {
            spanish(n / 1000, out);
        }
        out.push("mil".into());
        if !n.is_multiple_of(1000) {
            spanish(n % 1000, out);
        }
    } else if n == 100 {
        out.push("100".into());
    } else if n >= 100 {
        if n / 100 == 1 {
            out.push("ciento".into());
        } else {
            out.push((n / 100 * 100).to_string());
        }
        if !n.is_multiple_of(100) {
            spanish(n % 100, out);
        }
    } else if n >= 30 {
        out.push((n / 10 * 10).to_string());
        if !n.is_multiple_of(10) {
            out.push("y".into());
            out.push((n % 10).to_string());
        }
    } else {
        out.push(n.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Vec<String>) -> String {
        v.join(" ")
    }

    #[test]
    fn english_numbers() {
        assert_eq!(s(number("en", 0)), "0");
        assert_eq!(s(number("en", 13)), "13");
        assert_eq!(s(number("en", 42)), "40 2");
        assert_eq!(s(number("en", 300)), "3 hundred");
        assert_eq!(s(number("en-GB", 1205)), "1 thousand 2 hundred 5");
        assert_eq!(s(number("en", 20_000)), "20 thousand");
    }

    #[test]
    fn spanish_numbers() {
        assert_eq!(s(number("es", 21)), "21");
        assert_eq!(s(number("es", 45)), "40 y 5");
        assert_eq!(s(number("es", 100)), "100");
        assert_eq!(s(number("es", 115)), "ciento 15");
        assert_eq!(s(number("es", 532)), "500 30 y 2");
        assert_eq!(s(number("es", 1000)), "mil");
        assert_eq!(s(number("es", 2001)), "2 mil 1");
    }

    #[test]
    fn unknown_language_says_digits() {
        assert_eq!(s(number("fr", 305)), "3 0 5");
        assert_eq!(s(digits("4-0 7")), "4 0 7");
    }

    #[test]
    fn durations() {
        assert_eq!(s(duration("en", 125)), "2 minutes 5 seconds");
        assert_eq!(s(duration("en", 60)), "1 minute");
        assert_eq!(s(duration("en", 0)), "0 seconds");
        assert_eq!(s(duration("es", 61)), "un minute un second");
        assert_eq!(s(duration("es", 150)), "2 minutes 30 seconds");
    }
}
