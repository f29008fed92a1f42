//! Delay between reconnection attempts: doubling from a floor to a ceiling, with jitter so
//! that monitors which lost the same etcd at the same moment do not return in lockstep.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    floor: Duration,
    ceiling: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(floor: Duration, ceiling: Duration) -> Backoff {
        Backoff {
            floor,
            ceiling,
            failures: 0,
        }
    }

    /// The delay after one more failure; `random` in `[0, 1)` picks a point in the upper half
    /// of the current step (×0.5 to ×1.0).
    pub fn next(&mut self, random: f64) -> Duration {
        let step = self
            .floor
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.ceiling);
        self.failures = self.failures.saturating_add(1);
        step.mul_f64(0.5 + 0.5 * random.clamp(0.0, 1.0))
    }

    /// A connection worked: the next failure starts from the floor again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_ceiling_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let top: Vec<Duration> = (0..6).map(|_| b.next(1.0)).collect();
        assert_eq!(
            top,
            [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
        b.reset();
        assert_eq!(b.next(0.0), Duration::from_millis(50));
        assert_eq!(b.next(0.5), Duration::from_millis(150));
        for _ in 0..100 {
            let d = b.next(0.999);
            assert!(d <= Duration::from_secs(1), "{d:?}");
        }
    }
}
