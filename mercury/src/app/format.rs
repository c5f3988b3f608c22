//! How figures read on the pages: distances in the user's units, durations, UTC times, day-over-day changes.

/// Kilometres per mile.
const KM_PER_MILE: f64 = 1.609_344;

/// A distance in kilometres converted to `units` (`km` or `mi`), for charts.
pub fn in_units(km: f64, units: &str) -> f64 {
    if units == "mi" { km / KM_PER_MILE } else { km }
}

/// A distance in `units` (`km` or `mi`).
pub fn distance(km: f64, units: &str) -> String {
    let unit = if units == "mi" { "mi" } else { "km" };
    format!("{:.1} {unit}", in_units(km, units))
}

/// `1 h 05 min`, `12 min 30 s`, `45 s`.
pub fn duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60);
    if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else if minutes > 0 {
        format!("{minutes} min {secs:02} s")
    } else {
        format!("{secs} s")
    }
}

/// `2026-11-27 14:05:09 UTC` from epoch milliseconds.
pub fn time(epoch_ms: u64) -> String {
    let seconds = epoch_ms / 1000;
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    let of_day = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (H. Hinnant's algorithm;
/// chrono's clock does not build for the browser without extra features, and this is all the pages need).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `+25 % vs yesterday`, `−10 % vs yesterday`, `new today`, `same as yesterday`.
pub fn change(today: f64, yesterday: f64) -> String {
    if yesterday == 0.0 {
        return if today == 0.0 {
            "same as yesterday".to_owned()
        } else {
            "new today".to_owned()
        };
    }
    let percent = (today - yesterday) / yesterday * 100.0;
    if percent.abs() < 0.5 {
        "same as yesterday".to_owned()
    } else if percent > 0.0 {
        format!("+{percent:.0} % vs yesterday")
    } else {
        format!("−{:.0} % vs yesterday", -percent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_units_and_changes() {
        assert_eq!(time(1_795_788_309_000), "2026-11-27 14:05:09 UTC");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(distance(16.09344, "mi"), "10.0 mi");
        assert_eq!(distance(3.0, "km"), "3.0 km");
        assert_eq!(duration(3900.0), "1 h 05 min");
        assert_eq!(change(15.0, 10.0), "+50 % vs yesterday");
        assert_eq!(change(5.0, 10.0), "−50 % vs yesterday");
        assert_eq!(change(3.0, 0.0), "new today");
    }
}
