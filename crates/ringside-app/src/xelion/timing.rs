//! The client's timing, as pure functions of their inputs: the reconnect backoff (jitter
//! passed in), when to renew the session, when a silent connection counts as dead.

use chrono::{DateTime, NaiveDateTime, Utc};
use std::time::Duration;

/// The first wait after a failure (shorter if `backoff_max_s` is shorter).
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// A connection that lived this long was healthy: the next failure starts the backoff over.
pub const STABLE: Duration = Duration::from_secs(60);
/// The soonest a renewal is scheduled (unless `renew_s` is shorter): an apparently short
/// `validUntil` (a server clock or zone far off) must not turn into a renewal loop.
const RENEW_FLOOR: Duration = Duration::from_secs(60);

/// Exponential backoff with "equal jitter": the n-th consecutive failure waits between half
/// and all of `min(max, base * 2^n)`, so many clients never retry in step and none retries
/// faster than half the base.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(max: Duration) -> Backoff {
        Backoff::starting_at(BACKOFF_BASE, max)
    }

    /// Waits from `base` (or `max`, if shorter) up to `max`.
    pub fn starting_at(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base: base.min(max),
            max,
            failures: 0,
        }
    }

    /// The wait before the next attempt; `jitter` is uniform in `[0, 1]`.
    pub fn next_delay(&mut self, jitter: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// A connection was healthy: start over from the base.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A uniform number in `[0, 1]` from the OS's random source.
pub fn jitter() -> f64 {
    let bits = (uuid::Uuid::new_v4().as_u128() >> 64) as u64;
    bits as f64 / u64::MAX as f64
}

/// How long after `now` to renew a session that Xelion says is valid until `valid_until`.
///
/// `validUntil` has no zone: it is read as UTC. Three quarters of the remaining time, but at
/// most `renew_max` (so a zone that makes it look later still renews in time, mostly) and at
/// least a minute (or `renew_max`, if shorter). A `validUntil` already past (a zone behind
/// UTC) gives `renew_max`, not a loop. A renewal that comes too late is not fatal: the
/// rejected token leads to a fresh login.
pub fn renew_delay(
    valid_until: Option<NaiveDateTime>,
    now: DateTime<Utc>,
    renew_max: Duration,
) -> Duration {
    let floor = RENEW_FLOOR.min(renew_max);
    let Some(until) = valid_until else {
        return renew_max;
    };
    match (until.and_utc() - now).to_std() {
        Ok(left) if !left.is_zero() => left.mul_f64(0.75).clamp(floor, renew_max),
        _ => renew_max,
    }
}

/// Xelion's `validUntil`: `YYYY-MM-DD HH:MM:SS` (no zone), tolerating a `T`, fractions and an
/// RFC 3339 zone (converted to UTC).
pub fn parse_valid_until(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// Keep-alive: a ping goes out every `ping`; a connection from which nothing at all (no pong,
/// no echo, no event) arrived for `dead_after(ping)` is dead. Each ping is answered within
/// milliseconds by a live server, so twice the interval leaves one lost ping's slack, and a
/// dead connection is noticed at most `2 * ping` after the last sign of life.
pub fn dead_after(ping: Duration) -> Duration {
    ping * 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_and_starts_over_after_a_reset() {
        let mut b = Backoff::new(Duration::from_secs(60));
        let lows: Vec<u64> = (0..9)
            .map(|_| b.next_delay(0.0).as_millis() as u64)
            .collect();
        assert_eq!(
            lows,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        let mut b = Backoff::new(Duration::from_secs(60));
        let highs: Vec<u64> = (0..8).map(|_| b.next_delay(1.0).as_secs()).collect();
        assert_eq!(highs, [1, 2, 4, 8, 16, 32, 60, 60]);
        b.reset();
        assert_eq!(b.next_delay(0.5), Duration::from_millis(750));
        // Many failures never overflow.
        for _ in 0..100 {
            assert!(b.next_delay(1.0) <= Duration::from_secs(60));
        }
    }

    #[test]
    fn a_short_cap_shortens_the_base_too() {
        let mut b = Backoff::new(Duration::from_millis(200));
        let d: Vec<u64> = (0..3)
            .map(|_| b.next_delay(0.0).as_millis() as u64)
            .collect();
        assert_eq!(d, [100, 100, 100]);
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            assert!((0.0..=1.0).contains(&jitter()));
        }
    }

    #[test]
    fn renewal_comes_at_three_quarters_of_the_validity_within_bounds() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
        let max = Duration::from_secs(900);
        let at = |s: &str| parse_valid_until(s);
        let secs = |d: Duration| d.as_secs();
        // 8 minutes left: renew after 6.
        assert_eq!(secs(renew_delay(at("2026-11-20 10:08:00"), now, max)), 360);
        // A day left: renew after renew_max anyway.
        assert_eq!(secs(renew_delay(at("2026-11-21 10:00:00"), now, max)), 900);
        // 20 seconds left: not sooner than a minute.
        assert_eq!(secs(renew_delay(at("2026-11-20 10:00:20"), now, max)), 60);
        // Already past (a zone behind UTC), missing, or unreadable: renew_max, never a loop.
        assert_eq!(secs(renew_delay(at("2026-11-20 05:00:00"), now, max)), 900);
        assert_eq!(secs(renew_delay(None, now, max)), 900);
        assert_eq!(at("soon"), None);
        // A short renew_max (tests) lowers the floor too.
        let short = Duration::from_secs(2);
        assert_eq!(secs(renew_delay(at("2026-11-20 10:00:20"), now, short)), 2);
        // Other spellings.
        assert_eq!(at("2026-11-20T10:08:00"), at("2026-11-20 10:08:00"));
        assert_eq!(at("2026-11-20T11:08:00+01:00"), at("2026-11-20 10:08:00"));
        assert_eq!(
            at("2026-11-20 10:08:00.250").map(|t| t.and_utc().timestamp()),
            at("2026-11-20 10:08:00").map(|t| t.and_utc().timestamp())
        );
    }

    #[test]
    fn a_connection_is_dead_after_two_silent_ping_intervals() {
        assert_eq!(dead_after(Duration::from_secs(30)), Duration::from_secs(60));
        assert_eq!(
            dead_after(Duration::from_millis(500)),
            Duration::from_secs(1)
        );
    }
}
