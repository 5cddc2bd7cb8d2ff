//! Reconnecting without hammering: exponential backoff with jitter, for every connection
//! Ringside makes itself (the Xelion websocket, CardDAV syncs).

use std::time::Duration;

/// The first wait after a failure (shorter if `backoff_max_s` is shorter).
const BACKOFF_BASE: Duration = Duration::from_secs(1);
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn jitter_is_in_range() {
        for _ in 0..100 {
            assert!((0.0..=1.0).contains(&jitter()));
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
}
