//! Business-hours schedules: opening ranges per weekday in a named time zone, plus holiday dates.
//! Wall-clock time is always passed in (UTC) and converted with chrono-tz, so tests pick the hour.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// Weekday keys in file order, Monday first (chrono's `num_days_from_monday`).
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Opening minutes of the day, start inclusive, end exclusive (end may be 1440 = midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenRange {
    pub start_min: u16,
    pub end_min: u16,
}

/// A named schedule, e.g. `[hours.office]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub tz: Tz,
    /// Index 0 = Monday.
    pub week: [Vec<OpenRange>; 7],
    pub holidays: BTreeSet<NaiveDate>,
}

impl Schedule {
    /// Whether the local date at `at` is a holiday.
    pub fn is_holiday(&self, at: DateTime<Utc>) -> bool {
        self.holidays
            .contains(&at.with_timezone(&self.tz).date_naive())
    }

    /// Whether the help desk is open at `at`: inside a range for that weekday and not a holiday.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = at.with_timezone(&self.tz);
        if self.holidays.contains(&local.date_naive()) {
            return false;
        }
        let minute = u16::try_from(local.hour() * 60 + local.minute()).unwrap_or(u16::MAX);
        let day = local.weekday().num_days_from_monday() as usize;
        self.week.get(day).is_some_and(|ranges| {
            ranges
                .iter()
                .any(|r| r.start_min <= minute && minute < r.end_min)
        })
    }
}

/// Parses `"08:00-18:00"` (end may be `24:00`).
pub fn parse_range(text: &str) -> Result<OpenRange, String> {
    let help = "write opening hours as \"HH:MM-HH:MM\", e.g. \"08:00-18:00\"";
    let (a, b) = text
        .split_once('-')
        .ok_or_else(|| format!("`{text}` is not a time range; {help}"))?;
    let start_min = parse_clock(a.trim()).ok_or_else(|| format!("`{a}` is not a time; {help}"))?;
    let end_min = parse_clock(b.trim()).ok_or_else(|| format!("`{b}` is not a time; {help}"))?;
    if end_min <= start_min {
        return Err(format!(
            "range `{text}` ends before it starts; split ranges that cross midnight into two days"
        ));
    }
    Ok(OpenRange { start_min, end_min })
}

fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Parses a holiday date `"2025-12-25"`.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a date; write holidays as \"YYYY-MM-DD\""))
}

/// Parses an IANA time zone name such as `Europe/London`.
pub fn parse_tz(text: &str) -> Result<Tz, String> {
    text.parse::<Tz>().map_err(|_| {
        format!("unknown time zone `{text}`; use an IANA name such as \"Europe/London\" or \"America/New_York\"")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn office() -> Schedule {
        let weekday = vec![parse_range("08:00-18:00").unwrap()];
        Schedule {
            tz: parse_tz("Europe/London").unwrap(),
            week: [
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday,
                vec![],
                vec![],
            ],
            holidays: [parse_date("2025-12-25").unwrap()].into_iter().collect(),
        }
    }

    #[test]
    fn summer_time_shifts_opening_by_an_hour_in_utc() {
        let s = office();
        // Monday 2025-07-07 07:30 UTC = 08:30 BST: open.
        assert!(s.is_open(Utc.with_ymd_and_hms(2025, 7, 7, 7, 30, 0).unwrap()));
        // Monday 2025-01-06 07:30 UTC = 07:30 GMT: closed.
        assert!(!s.is_open(Utc.with_ymd_and_hms(2025, 1, 6, 7, 30, 0).unwrap()));
        // 17:59 local open, 18:00 closed.
        assert!(s.is_open(Utc.with_ymd_and_hms(2025, 1, 6, 17, 59, 0).unwrap()));
        assert!(!s.is_open(Utc.with_ymd_and_hms(2025, 1, 6, 18, 0, 0).unwrap()));
    }

    #[test]
    fn weekends_and_holidays_are_closed() {
        let s = office();
        assert!(
            !s.is_open(Utc.with_ymd_and_hms(2025, 7, 5, 10, 0, 0).unwrap()),
            "Saturday"
        );
        let xmas = Utc.with_ymd_and_hms(2025, 12, 25, 10, 0, 0).unwrap();
        assert!(s.is_holiday(xmas));
        assert!(!s.is_open(xmas), "Christmas is a Thursday but a holiday");
    }

    #[test]
    fn holiday_uses_the_local_date() {
        let mut s = office();
        s.tz = parse_tz("America/New_York").unwrap();
        // 2025-12-26 03:00 UTC is still the 25th in New York.
        assert!(s.is_holiday(Utc.with_ymd_and_hms(2025, 12, 26, 3, 0, 0).unwrap()));
    }

    #[test]
    fn bad_ranges_explain_the_format() {
        assert!(parse_range("8-18").unwrap_err().contains("HH:MM"));
        assert!(parse_range("18:00-08:00").unwrap_err().contains("midnight"));
        assert_eq!(parse_range("00:00-24:00").unwrap().end_min, 1440);
        assert!(parse_tz("Europe/Londres").is_err());
        assert!(parse_date("2025-13-01").is_err());
    }
}
