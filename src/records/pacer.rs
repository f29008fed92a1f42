//! When the DNS updater runs its next round, without I/O: [`Pacer::process`] takes what
//! happened (a verdict, a vote, a round's result) and says when the next round is due.
//! The updater task owns the channel, the gate and the client; this type owns the
//! batching window, the retry backoff and the verify interval, as the announcer's
//! planner does for prefixes.
//!
//! - Changes arriving together go out in one round: the round is due `batch_window` after
//!   the first of them (not pushed back by the ones after).
//! - A failed round is retried after [`backoff::APPLY`](crate::backoff::APPLY)'s delay;
//!   while it backs off, new changes wait for the retry instead of hammering the server.
//!   A refused prerequisite (the zone changed under us) is retried at once, twice, on
//!   fresh data.
//! - After a good round, the next is due after `verify_interval` (zero: none), which
//!   repairs records changed behind the warden's back.

use std::time::Duration;

use tokio::time::Instant;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A verdict, a forgotten service, or the other monitors' votes changed.
    Changed,
    /// `[dns]` changed (reload): the new settings start with a clean slate.
    Settings { verify_interval: Duration },
    /// The due round is starting.
    Started,
    /// The round ended.
    Finished(RoundResult),
}

/// How a round ended, as far as pacing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundResult {
    Ok,
    /// The server refused a prerequisite: the zone changed between read and update.
    Prerequisite,
    Failed,
}

/// The next round's time and the retry state.
#[derive(Debug, Clone)]
pub struct Pacer {
    batch_window: Duration,
    verify_interval: Duration,
    due: Option<Instant>,
    failures: u32,
}

impl Pacer {
    pub fn new(batch_window: Duration, verify_interval: Duration) -> Self {
        Pacer {
            batch_window,
            verify_interval,
            due: None,
            failures: 0,
        }
    }

    /// When the next round is due (`None`: not until something changes).
    pub fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Consecutive failed rounds.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// One event at `now`; the retry delay, when a failed round is to be retried.
    pub fn process(&mut self, event: Event, now: Instant) -> Option<Duration> {
        match event {
            Event::Changed => {
                let soon = now + self.batch_window;
                if self.failures == 0 {
                    self.due = Some(self.due.map_or(soon, |d| d.min(soon)));
                }
                None
            }
            Event::Settings { verify_interval } => {
                self.verify_interval = verify_interval;
                self.failures = 0;
                None
            }
            Event::Started => {
                self.due = None;
                None
            }
            Event::Finished(RoundResult::Ok) => {
                self.failures = 0;
                self.due = (!self.verify_interval.is_zero()).then(|| now + self.verify_interval);
                None
            }
            Event::Finished(result) => {
                self.failures = self.failures.saturating_add(1);
                let delay = if result == RoundResult::Prerequisite && self.failures < 3 {
                    Duration::ZERO
                } else {
                    crate::backoff::APPLY.delay(self.failures.saturating_sub(1))
                };
                self.due = Some(now + delay);
                Some(delay)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rounds_are_batched_retried_and_verified() {
        let t0 = Instant::now();
        let mut p = Pacer::new(ms(50), ms(10_000));
        let at = |n: u64| t0 + ms(n);
        // (time, event, retry delay returned, due afterwards)
        let table: Vec<(u64, Event, Option<u64>, Option<u64>)> = vec![
            // The first change sets the round; later ones join it without delaying it.
            (0, Event::Changed, None, Some(50)),
            (30, Event::Changed, None, Some(50)),
            (50, Event::Started, None, None),
            (60, Event::Finished(RoundResult::Ok), None, Some(10_060)),
            // What came during the round (queued meanwhile): one more after the window.
            (60, Event::Changed, None, Some(110)),
            (110, Event::Started, None, None),
            // Refused prerequisites: twice at once, then the backoff (third failure: 400 ms).
            (
                115,
                Event::Finished(RoundResult::Prerequisite),
                Some(0),
                Some(115),
            ),
            (115, Event::Started, None, None),
            (
                116,
                Event::Finished(RoundResult::Prerequisite),
                Some(0),
                Some(116),
            ),
            (116, Event::Started, None, None),
            (
                117,
                Event::Finished(RoundResult::Prerequisite),
                Some(400),
                Some(517),
            ),
            // While backing off, a change waits for the retry.
            (200, Event::Changed, None, Some(517)),
            (517, Event::Started, None, None),
            (
                520,
                Event::Finished(RoundResult::Failed),
                Some(800),
                Some(1320),
            ),
            (1320, Event::Started, None, None),
            (1330, Event::Finished(RoundResult::Ok), None, Some(11_330)),
            // A reload without verify: nothing due after the next good round.
            (
                2000,
                Event::Settings {
                    verify_interval: Duration::ZERO,
                },
                None,
                Some(11_330),
            ),
            (2000, Event::Changed, None, Some(2050)),
            (2050, Event::Started, None, None),
            (2060, Event::Finished(RoundResult::Ok), None, None),
        ];
        for (i, (now, event, delay, due)) in table.into_iter().enumerate() {
            let got = p.process(event.clone(), at(now));
            assert_eq!(got, delay.map(ms), "row {i}: {event:?} at {now} ms");
            assert_eq!(p.due(), due.map(at), "row {i}: {event:?} at {now} ms: due");
        }
    }

    #[test]
    fn a_reload_ends_the_backoff() {
        let t0 = Instant::now();
        let mut p = Pacer::new(ms(50), Duration::ZERO);
        p.process(Event::Finished(RoundResult::Failed), t0);
        assert_eq!(p.failures(), 1);
        p.process(
            Event::Settings {
                verify_interval: Duration::ZERO,
            },
            t0,
        );
        assert_eq!(p.failures(), 0);
        // A change now sets the round again (a backing-off pacer would ignore it).
        p.process(Event::Started, t0);
        p.process(Event::Changed, t0 + ms(1));
        assert_eq!(p.due(), Some(t0 + ms(51)));
    }
}
