//! Where the simulated clock starts. Fast-forwarding (`MARS_STEP` > `MARS_INTERVAL`) makes it run ahead of the
//! real one, and a gateway refuses events stamped more than `VENUS_MAX_CLOCK_SKEW` ahead of their arrival. In
//! `until-complete` mode a run's simulated length has a bound (its longest route at its slowest speed, plus the
//! waits, per session), so the clock starts far enough in the past that the last event is stamped no later than
//! it is sent. In `continuous` mode there is no bound: the clock starts now and a warning says how fast it runs
//! ahead.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::Config;
use crate::config::Mode;
use crate::routes::Route;

/// Speeds vary ±10 % around the cruising speed (see `fleet`).
const SLOWEST_FACTOR: f64 = 0.9;

/// The simulated time of the first tick, for a run starting at `now`.
pub fn simulated_start(config: &Config, routes: &[Arc<Route>], now: DateTime<Utc>) -> DateTime<Utc> {
    let (step, interval) = (config.step().as_secs_f64(), config.interval.as_secs_f64());
    if step <= interval {
        return now;
    }
    let gain_per_tick = step - interval;
    if config.mode == Mode::Continuous {
        tracing::warn!(
            ahead_per_minute_s = gain_per_tick / interval.max(1e-9) * 60.0,
            "MARS_STEP fast-forwards a continuous fleet: its events run ahead of real time, and Venus refuses \
             those more than VENUS_MAX_CLOCK_SKEW ahead"
        );
        return now;
    }
    let longest_m = routes
        .iter()
        .map(|route| route.line.length_m())
        .fold(0.0, f64::max);
    let slowest_m_per_s = (config.min_speed_kmh * SLOWEST_FACTOR / 3.6).max(1e-3);
    let per_session_s = longest_m / slowest_m_per_s + config.start_spread.as_secs_f64() + 2.0 * step;
    let ticks = (per_session_s * config.sessions_per_vehicle as f64 / step).ceil();
    let back = chrono::Duration::milliseconds((ticks * gain_per_tick * 1_000.0) as i64);
    now - back
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_fast_forwarded_fleet_ends_no_later_than_the_real_clock_and_a_real_time_one_starts_now() {
        let routes = crate::routes::built_in().unwrap();
        let now = Utc::now();
        let mut config = Config::defaults();
        assert_eq!(simulated_start(&config, &routes, now), now);

        config.interval = Duration::from_millis(200);
        config.step = Some(Duration::from_secs(20));
        let start = simulated_start(&config, &routes, now);
        // The longest built-in route (24 km) at the slowest speed takes about an hour to drive.
        let back = now - start;
        assert!(
            back > chrono::Duration::minutes(50) && back < chrono::Duration::hours(2),
            "{back}"
        );

        config.mode = Mode::Continuous;
        assert_eq!(simulated_start(&config, &routes, now), now);
    }
}
