//! The client's timing, as pure functions of their inputs: when to renew the session, when a
//! silent connection counts as dead. (The reconnect backoff is [`crate::backoff`].)

use chrono::{DateTime, NaiveDateTime, Utc};
use std::time::Duration;

/// A connection that lived this long was healthy: the next failure starts the backoff over.
pub const STABLE: Duration = Duration::from_secs(60);
/// The soonest a renewal is scheduled (unless `renew_s` is shorter): an apparently short
/// `validUntil` (a server clock or zone far off) must not turn into a renewal loop.
const RENEW_FLOOR: Duration = Duration::from_secs(60);

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
