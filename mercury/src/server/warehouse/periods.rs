//! The analytics periods ([`crate::model::ANALYTICS_PERIODS`]): rolling ones (the last 24 hours, 7, 30 or 365 days) and calendar ones (today, this
//! week from Monday, this month, this year; UTC like every time on the dashboard), each with the step its
//! completion-time chart uses. Rolling periods start at a whole step (see [`resolve`]).

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// The step of a period's time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An hour (the day periods).
    Hour,
    /// A day (week and month periods).
    Day,
    /// A calendar month (year periods).
    Month,
}

impl Step {
    /// The ClickHouse expression numbering a session's step from `started_at_ms` (UTC): hours or days since the
    /// epoch, or `YYYYMM` (functions ClickHouse 18.16 has too).
    pub fn sql_key(self) -> &'static str {
        match self {
            Step::Hour => "intDiv(started_at_ms, 3600000)",
            Step::Day => "intDiv(started_at_ms, 86400000)",
            Step::Month => "toYYYYMM(toDateTime(intDiv(started_at_ms, 1000), 'UTC'))",
        }
    }

    /// The key of the step holding `at`, as [`Step::sql_key`] computes it.
    pub fn key(self, at: DateTime<Utc>) -> u64 {
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        match self {
            Step::Hour => ms / 3_600_000,
            Step::Day => ms / 86_400_000,
            Step::Month => u64::try_from(at.year()).unwrap_or(0) * 100 + u64::from(at.month()),
        }
    }

    /// Every key from the step holding `from` to the one holding `to`, in order, with its label.
    pub fn keys(self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(u64, String)> {
        let mut keys = Vec::new();
        let mut at = self.start_of(from);
        while at <= to && keys.len() < 1000 {
            keys.push((self.key(at), self.label(at)));
            at = self.next(at);
        }
        keys
    }

    fn start_of(self, at: DateTime<Utc>) -> DateTime<Utc> {
        let date = at.date_naive();
        let start = match self {
            Step::Hour => date.and_hms_opt(at.hour(), 0, 0),
            Step::Day => date.and_hms_opt(0, 0, 0),
            Step::Month => {
                NaiveDate::from_ymd_opt(at.year(), at.month(), 1).and_then(|d| d.and_hms_opt(0, 0, 0))
            }
        };
        start.map_or(at, |naive| Utc.from_utc_datetime(&naive))
    }

    fn next(self, at: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Step::Hour => at + Duration::hours(1),
            Step::Day => at + Duration::days(1),
            Step::Month => {
                let (year, month) = if at.month() == 12 {
                    (at.year() + 1, 1)
                } else {
                    (at.year(), at.month() + 1)
                };
                NaiveDate::from_ymd_opt(year, month, 1)
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map_or(at + Duration::days(31), |naive| Utc.from_utc_datetime(&naive))
            }
        }
    }

    fn label(self, at: DateTime<Utc>) -> String {
        match self {
            Step::Hour => at.format("%H:00").to_string(),
            Step::Day => at.format("%a %d %b").to_string(),
            Step::Month => at.format("%b %Y").to_string(),
        }
    }
}

/// Where period `name` starts at `now`, and its chart's step; none for an unknown name. A rolling period starts
/// at the first whole step within its length (the last 24 hours: at the hour 23 hours before the current one),
/// so its chart has one step per label and the peak hours (counted per whole hour) cover the same span.
pub fn resolve(name: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, Step)> {
    let midnight = |date: NaiveDate| {
        date.and_hms_opt(0, 0, 0)
            .map(|naive| Utc.from_utc_datetime(&naive))
    };
    let rolling = |length: Duration, step: Step| (step.next(step.start_of(now - length)), step);
    let today = now.date_naive();
    Some(match name {
        "day" => rolling(Duration::days(1), Step::Hour),
        "week" => rolling(Duration::days(7), Step::Day),
        "month" => rolling(Duration::days(30), Step::Day),
        "year" => rolling(Duration::days(365), Step::Month),
        "today" => (midnight(today)?, Step::Hour),
        "this_week" => (
            midnight(today - Duration::days(i64::from(today.weekday().num_days_from_monday())))?,
            Step::Day,
        ),
        "this_month" => (midnight(today.with_day(1)?)?, Step::Day),
        "this_year" => (
            midnight(NaiveDate::from_ymd_opt(today.year(), 1, 1)?)?,
            Step::Month,
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn calendar_periods_start_at_midnight_monday_the_first_and_new_year() {
        // A Wednesday.
        let now = at("2026-12-02T15:30:00Z");
        assert_eq!(
            resolve("today", now),
            Some((at("2026-12-02T00:00:00Z"), Step::Hour))
        );
        assert_eq!(
            resolve("this_week", now),
            Some((at("2026-11-30T00:00:00Z"), Step::Day))
        );
        assert_eq!(
            resolve("this_month", now),
            Some((at("2026-12-01T00:00:00Z"), Step::Day))
        );
        assert_eq!(
            resolve("this_year", now),
            Some((at("2026-01-01T00:00:00Z"), Step::Month))
        );
        // On a Monday the week starts that day.
        assert_eq!(
            resolve("this_week", at("2026-11-30T08:00:00Z")).map(|(start, _)| start),
            Some(at("2026-11-30T00:00:00Z"))
        );
    }

    #[test]
    fn rolling_periods_start_at_the_first_whole_step_and_unknown_ones_have_none() {
        let now = at("2026-12-02T15:30:00Z");
        assert_eq!(
            resolve("day", now),
            Some((at("2026-12-01T16:00:00Z"), Step::Hour))
        );
        assert_eq!(
            resolve("week", now),
            Some((at("2026-11-26T00:00:00Z"), Step::Day))
        );
        assert_eq!(
            resolve("month", now),
            Some((at("2026-11-03T00:00:00Z"), Step::Day))
        );
        assert_eq!(
            resolve("year", now),
            Some((at("2026-01-01T00:00:00Z"), Step::Month))
        );
        // One step per label: 24 hours, 7 days, 30 days, 12 months.
        for (name, steps) in [("day", 24), ("week", 7), ("month", 30), ("year", 12)] {
            let (start, step) = resolve(name, now).unwrap();
            assert_eq!(step.keys(start, now).len(), steps, "{name}");
        }
        assert_eq!(resolve("decade", now), None);
        assert!(
            crate::model::ANALYTICS_PERIODS
                .iter()
                .all(|(name, _)| resolve(name, now).is_some())
        );
    }

    #[test]
    fn a_series_has_every_step_from_the_start_to_now_labelled() {
        let keys = Step::Hour.keys(at("2026-12-02T22:10:00Z"), at("2026-12-03T01:05:00Z"));
        let labels: Vec<&str> = keys.iter().map(|(_, label)| label.as_str()).collect();
        assert_eq!(labels, ["22:00", "23:00", "00:00", "01:00"]);
        assert_eq!(keys[0].0, Step::Hour.key(at("2026-12-02T22:59:59Z")));
        let months = Step::Month.keys(at("2025-11-15T00:00:00Z"), at("2026-02-01T00:00:00Z"));
        assert_eq!(
            months,
            [
                (202_511, "Nov 2025".to_owned()),
                (202_512, "Dec 2025".to_owned()),
                (202_601, "Jan 2026".to_owned()),
                (202_602, "Feb 2026".to_owned()),
            ]
        );
        let days = Step::Day.keys(at("2026-11-30T12:00:00Z"), at("2026-12-01T00:00:00Z"));
        assert_eq!(
            days.iter().map(|(_, label)| label.as_str()).collect::<Vec<_>>(),
            ["Mon 30 Nov", "Tue 01 Dec"]
        );
    }
}
