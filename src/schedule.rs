//! When a service's next check round is due: pure arithmetic on offsets from a fixed
//! origin, so it can be tested without a clock.
//!
//! Rounds sit on a fixed grid `anchor + k × interval`: a slow round does not push later
//! rounds back (no drift), and a round that overran the grid skips the points it missed
//! rather than running them back to back. While a change is being confirmed, rounds come
//! every `fast_interval` (counted from the previous round's start) until the state settles,
//! then return to the grid.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Offset of the first round (the startup splay).
    anchor: Duration,
    interval: Duration,
    fast_interval: Option<Duration>,
}

impl Schedule {
    /// `interval` must be non-zero (validation guarantees it); zero is taken as 1 ms.
    pub fn new(anchor: Duration, interval: Duration, fast_interval: Option<Duration>) -> Self {
        let floor = Duration::from_millis(1);
        Schedule {
            anchor,
            interval: interval.max(floor),
            fast_interval: fast_interval.map(|f| f.max(floor)),
        }
    }

    /// The first round.
    pub fn first(&self) -> Duration {
        self.anchor
    }

    /// The next grid point strictly after `now`.
    pub fn next_regular(&self, now: Duration) -> Duration {
        if now < self.anchor {
            return self.anchor;
        }
        let interval = self.interval.as_nanos();
        let elapsed = (now - self.anchor).as_nanos();
        let k = elapsed / interval + 1;
        self.anchor + nanos(k * interval)
    }

    /// The next round after one that started at `started` and ended at `now`.
    /// `confirming`: the last result disagreed with the state.
    pub fn next(&self, started: Duration, now: Duration, confirming: bool) -> Duration {
        let regular = self.next_regular(now);
        match self.fast_interval {
            Some(fast) if confirming => (started + fast).max(now).min(regular),
            _ => regular,
        }
    }
}

fn nanos(n: u128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn first_round_at_anchor() {
        let s = Schedule::new(ms(300), ms(1000), None);
        assert_eq!(s.first(), ms(300));
        assert_eq!(s.next_regular(ms(0)), ms(300));
    }

    #[test]
    fn quick_rounds_stay_on_the_grid() {
        let s = Schedule::new(ms(0), ms(1000), None);
        let mut start = s.first();
        for k in 1..=1000u64 {
            // Each round takes a varying 0..=250 ms; the grid does not move.
            let end = start + ms((k * 37) % 251);
            start = s.next(start, end, false);
            assert_eq!(start, ms(1000 * k));
        }
    }

    #[test]
    fn a_slow_round_skips_missed_points_without_shifting_the_grid() {
        let s = Schedule::new(ms(100), ms(1000), None);
        // Started at 100, took 2.5 s: points 1100 and 2100 are missed, 3100 is next.
        assert_eq!(s.next(ms(100), ms(2600), false), ms(3100));
        // Exactly on a grid point: the next one, never the same instant twice.
        assert_eq!(s.next(ms(100), ms(1100), false), ms(2100));
    }

    #[test]
    fn confirming_uses_fast_interval_from_the_round_start() {
        let s = Schedule::new(ms(0), ms(10_000), Some(ms(500)));
        assert_eq!(s.next(ms(10_000), ms(10_020), true), ms(10_500));
        // A round longer than fast_interval is followed at once.
        assert_eq!(s.next(ms(10_000), ms(10_700), true), ms(10_700));
        // Settled: back to the grid.
        assert_eq!(s.next(ms(10_500), ms(10_520), false), ms(20_000));
    }

    #[test]
    fn fast_pace_never_passes_the_regular_point() {
        let s = Schedule::new(ms(0), ms(1000), Some(ms(800)));
        assert_eq!(s.next(ms(900), ms(950), true), ms(1000));
    }

    #[test]
    fn without_fast_interval_confirming_changes_nothing() {
        let s = Schedule::new(ms(0), ms(1000), None);
        assert_eq!(s.next(ms(0), ms(10), true), ms(1000));
    }

    #[test]
    fn zero_interval_is_clamped() {
        let s = Schedule::new(ms(0), Duration::ZERO, Some(Duration::ZERO));
        assert_eq!(s.next_regular(ms(0)), ms(1));
        assert_eq!(s.next(ms(0), ms(0), true), ms(1));
    }

    #[test]
    fn long_uptime_does_not_overflow() {
        let s = Schedule::new(ms(0), ms(1000), None);
        let year = Duration::from_secs(365 * 24 * 3600);
        assert_eq!(s.next_regular(year + ms(1)), year + ms(1000));
    }
}
