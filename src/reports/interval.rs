//! Report periods in the centre's time zone: a date range cut into 15-minute, hourly, daily or
//! monthly intervals. Interval starts are local wall-clock boundaries turned into epoch
//! milliseconds, so a daylight-saving change day has 23 or 25 hourly intervals (the repeated
//! hour is labelled with its zone abbreviation) and days and months have unequal lengths.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// How a report period is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    Min15,
    Hour,
    Day,
    Month,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "15m" => Some(Interval::Min15),
            "hour" => Some(Interval::Hour),
            "day" => Some(Interval::Day),
            "month" => Some(Interval::Month),
            _ => None,
        }
    }

    /// The interval a report of `days` days is read in when none is asked for: hours for a
    /// day, days up to two months, months beyond.
    pub fn for_range(days: i64) -> Interval {
        match days {
            ..=1 => Interval::Hour,
            2..=62 => Interval::Day,
            _ => Interval::Month,
        }
    }
}

/// The intervals of one report: starts (epoch ms, ascending), labels, and the range's end.
#[derive(Clone, Debug, PartialEq)]
pub struct Periods {
    pub starts: Vec<u64>,
    pub labels: Vec<String>,
    /// End of the range (exclusive): local midnight after the last day.
    pub end: u64,
}

impl Periods {
    /// Dates `from..=to` (local days in `tz`) cut by `interval`.
    pub fn new(tz: Tz, from: NaiveDate, to: NaiveDate, interval: Interval) -> Periods {
        let start = local_midnight(tz, from);
        let end = local_midnight(tz, to.succ_opt().unwrap_or(to));
        let mut starts = Vec::new();
        let mut labels = Vec::new();
        match interval {
            Interval::Min15 | Interval::Hour => {
                let step = if interval == Interval::Hour {
                    3_600_000
                } else {
                    900_000
                };
                let mut t = start;
                while t < end {
                    starts.push(t);
                    t += step;
                }
                labels = label_times(tz, &starts);
            }
            Interval::Day => {
                let mut d = from;
                while d <= to {
                    starts.push(local_midnight(tz, d));
                    labels.push(d.format("%Y-%m-%d").to_string());
                    let Some(next) = d.succ_opt() else { break };
                    d = next;
                }
            }
            Interval::Month => {
                let mut d = from;
                while d <= to {
                    starts.push(local_midnight(tz, d));
                    labels.push(d.format("%Y-%m").to_string());
                    let Some(next) = first_of_next_month(d) else {
                        break;
                    };
                    d = next;
                }
            }
        }
        Periods {
            starts,
            labels,
            end,
        }
    }

    /// Index of the interval holding `at_ms`, if inside the range.
    pub fn index(&self, at_ms: u64) -> Option<usize> {
        if at_ms >= self.end || self.starts.first().is_none_or(|s| at_ms < *s) {
            return None;
        }
        Some(self.starts.partition_point(|s| *s <= at_ms) - 1)
    }

    pub fn start(&self) -> u64 {
        self.starts.first().copied().unwrap_or(self.end)
    }

    pub fn len(&self) -> usize {
        self.starts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }
}

/// Epoch ms of local midnight starting `day` (or the first instant after it, should a zone
/// skip midnight).
pub fn local_midnight(tz: Tz, day: NaiveDate) -> u64 {
    let mut t = NaiveDateTime::new(day, NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(dt) = tz.from_local_datetime(&t).earliest() {
            return dt.timestamp_millis().max(0) as u64;
        }
        t += Duration::minutes(30);
    }
    tz.from_utc_datetime(&NaiveDateTime::new(day, NaiveTime::MIN))
        .timestamp_millis()
        .max(0) as u64
}

/// The local date of an instant.
pub fn local_date(tz: Tz, at_ms: u64) -> NaiveDate {
    DateTime::from_timestamp_millis(at_ms as i64)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive()
}

fn first_of_next_month(d: NaiveDate) -> Option<NaiveDate> {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
}

/// "YYYY-MM-DD HH:MM" local; a wall-clock time that occurs twice (the hour repeated when the
/// clocks go back) carries its zone abbreviation, e.g. "01:00 BST" then "01:00 GMT".
fn label_times(tz: Tz, starts: &[u64]) -> Vec<String> {
    let local: Vec<DateTime<Tz>> = starts
        .iter()
        .map(|t| {
            DateTime::from_timestamp_millis(*t as i64)
                .unwrap_or_default()
                .with_timezone(&tz)
        })
        .collect();
    let plain: Vec<String> = local
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .collect();
    plain
        .iter()
        .zip(&local)
        .map(|(p, t)| {
            if plain.iter().filter(|q| *q == p).count() > 1 {
                format!("{p} {}", t.format("%Z"))
            } else {
                p.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    const LONDON: Tz = chrono_tz::Europe::London;

    #[test]
    fn spring_forward_day_has_23_hours() {
        let p = Periods::new(LONDON, d("2025-03-30"), d("2025-03-30"), Interval::Hour);
        assert_eq!(p.len(), 23);
        assert_eq!(p.labels[0], "2025-03-30 00:00");
        assert_eq!(p.labels[1], "2025-03-30 02:00", "01:00 does not exist");
        assert_eq!(p.end - p.start(), 23 * 3_600_000);
        // Midnight GMT = 00:00 UTC.
        assert_eq!(p.start(), 1_743_292_800_000);
        let days = Periods::new(LONDON, d("2025-03-29"), d("2025-03-31"), Interval::Day);
        let lens: Vec<u64> = days
            .starts
            .windows(2)
            .map(|w| (w[1] - w[0]) / 3_600_000)
            .chain([(days.end - days.starts[2]) / 3_600_000])
            .collect();
        assert_eq!(lens, vec![24, 23, 24]);
    }

    #[test]
    fn fall_back_day_has_25_hours_and_the_repeated_hour_is_labelled() {
        let p = Periods::new(LONDON, d("2025-10-26"), d("2025-10-26"), Interval::Hour);
        assert_eq!(p.len(), 25);
        assert_eq!(p.labels[1], "2025-10-26 01:00 BST");
        assert_eq!(p.labels[2], "2025-10-26 01:00 GMT");
        assert_eq!(p.labels[3], "2025-10-26 02:00");
        let q = Periods::new(LONDON, d("2025-10-26"), d("2025-10-26"), Interval::Min15);
        assert_eq!(q.len(), 100);
    }

    #[test]
    fn months_start_at_the_range_start_and_local_midnights() {
        let p = Periods::new(LONDON, d("2025-01-15"), d("2025-04-02"), Interval::Month);
        assert_eq!(p.labels, vec!["2025-01", "2025-02", "2025-03", "2025-04"]);
        assert_eq!(p.starts[0], local_midnight(LONDON, d("2025-01-15")));
        // April 1st is BST: midnight local = 23:00 UTC the day before.
        assert_eq!(p.starts[3], 1_743_462_000_000);
        assert_eq!(p.index(p.starts[3] - 1), Some(2));
        assert_eq!(p.index(p.end), None);
        assert_eq!(p.index(p.starts[0] - 1), None);
        assert_eq!(local_date(LONDON, 1_743_462_000_000), d("2025-04-01"));
    }
}
