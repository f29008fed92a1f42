//! The crate's one retry rule: delays that double from a floor to a ceiling, optionally
//! with jitter so that peers which failed at the same moment do not return in lockstep.
//! Used by the announcer and the DNS updater (retrying an apply), the BGP session's
//! connect-retry timer and the etcd session. Pure: the caller counts failures and brings
//! its own randomness, so tests are repeatable.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub floor: Duration,
    /// No delay is longer.
    pub ceiling: Duration,
}

/// Retrying a failed apply (routing daemon or DNS primary): 100 ms doubling, at most 10 s.
pub const APPLY: Backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));

impl Backoff {
    pub const fn new(floor: Duration, ceiling: Duration) -> Backoff {
        Backoff { floor, ceiling }
    }

    /// The delay after `failures` consecutive failures before this one (0 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        self.floor
            .saturating_mul(1u32 << failures.min(16))
            .min(self.ceiling)
    }

    /// [`delay`](Self::delay) scaled into `[low, 1]` of itself; `random` in `[0, 1)` picks
    /// the point.
    pub fn jittered(&self, failures: u32, low: f64, random: f64) -> Duration {
        let low = low.clamp(0.0, 1.0);
        self.delay(failures)
            .mul_f64(low + (1.0 - low) * random.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_with_jitter() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let top: Vec<Duration> = (0..6).map(|n| b.jittered(n, 0.5, 1.0)).collect();
        assert_eq!(
            top,
            [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
        assert_eq!(b.jittered(0, 0.5, 0.0), Duration::from_millis(50));
        assert_eq!(b.jittered(1, 0.5, 0.5), Duration::from_millis(150));
        for n in 0..100 {
            let d = b.jittered(n, 0.5, 0.999);
            assert!(d <= Duration::from_secs(1), "{d:?}");
        }
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn apply_retries_from_100_ms_to_10_s() {
        // The announcer's retry n (1-based) waits APPLY.delay(n - 1).
        assert_eq!(APPLY.delay(0), Duration::from_millis(100));
        assert_eq!(APPLY.delay(1), Duration::from_millis(200));
        assert_eq!(APPLY.delay(4), Duration::from_millis(1600));
        assert_eq!(APPLY.delay(99), Duration::from_secs(10));
    }
}
