//! The rise/fall state machine of one service: pure, no I/O, no clock.
//!
//! ```text
//!            rise passes                 fall failures
//!  Unknown ───────────────▶ Up ◀───────────────────────┐
//!     │                      │  fall failures          │ rise passes
//!     │ fall failures        ▼                         │
//!     └────────────────────▶ Down ─────────────────────┘
//! ```
//! A pass resets the failure count and a failure resets the pass count, so thresholds
//! count *consecutive* results. Unknown is never announced, except for a service adopted
//! at start (its prefixes were already in BIRD's file): it stays announced until its first
//! failure, which withdraws it at once, or until `rise` passes confirm it.

pub mod dampening;
pub mod schedule;

use std::fmt;

/// Health of a service as the state machine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No verdict yet (start, or a new service).
    Unknown,
    Up,
    Down,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A change of state caused by one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub from: Health,
    pub to: Health,
    /// How many consecutive results of the kind that caused it had been seen.
    pub streak: u32,
}

/// Rise/fall hysteresis for one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthMachine {
    rise: u32,
    fall: u32,
    state: Health,
    /// Consecutive passes since the last failure.
    passes: u32,
    /// Consecutive failures since the last pass.
    failures: u32,
    /// Adopted at start: announced while Unknown until the first failure.
    adopted: bool,
}

impl HealthMachine {
    /// A new service: Unknown, not announced. `rise` and `fall` are at least 1.
    pub fn new(rise: u32, fall: u32) -> Self {
        HealthMachine {
            rise: rise.max(1),
            fall: fall.max(1),
            state: Health::Unknown,
            passes: 0,
            failures: 0,
            adopted: false,
        }
    }

    /// A service whose prefixes were already announced when the daemon started.
    pub fn adopted(rise: u32, fall: u32) -> Self {
        HealthMachine {
            adopted: true,
            ..HealthMachine::new(rise, fall)
        }
    }

    /// The same state and counts under new thresholds (after a reload).
    pub fn with_thresholds(&self, rise: u32, fall: u32) -> Self {
        HealthMachine {
            rise: rise.max(1),
            fall: fall.max(1),
            ..self.clone()
        }
    }

    pub fn state(&self) -> Health {
        self.state
    }

    /// Whether the service's prefixes should be announced (before `disabled` policy).
    pub fn announce(&self) -> bool {
        match self.state {
            Health::Up => true,
            Health::Down => false,
            Health::Unknown => self.adopted,
        }
    }

    /// The last result disagrees with the state and a change is being confirmed: the
    /// moment to re-check at `fast_interval`.
    pub fn confirming(&self) -> bool {
        match self.state {
            Health::Up => self.failures > 0,
            Health::Down => self.passes > 0,
            Health::Unknown => self.passes > 0 || self.failures > 0,
        }
    }

    /// Feeds one check round's result; returns the transition it caused, if any.
    pub fn observe(&mut self, passed: bool) -> Option<Transition> {
        if passed {
            self.failures = 0;
            self.passes = self.passes.saturating_add(1);
        } else {
            self.passes = 0;
            self.failures = self.failures.saturating_add(1);
        }
        let to = match (self.state, passed) {
            (Health::Up, true) | (Health::Down, false) => return None,
            (Health::Unknown, false) if self.adopted => Health::Down,
            (Health::Unknown | Health::Down, true) if self.passes >= self.rise => Health::Up,
            (Health::Unknown | Health::Up, false) if self.failures >= self.fall => Health::Down,
            _ => return None,
        };
        let transition = Transition {
            from: self.state,
            to,
            streak: if passed { self.passes } else { self.failures },
        };
        self.state = to;
        self.adopted = false;
        Some(transition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(m: &mut HealthMachine, results: &[bool]) -> Vec<Option<(Health, Health)>> {
        results
            .iter()
            .map(|&r| m.observe(r).map(|t| (t.from, t.to)))
            .collect()
    }

    use Health::*;

    #[test]
    fn starts_unknown_and_silent() {
        let m = HealthMachine::new(2, 2);
        assert_eq!(m.state(), Unknown);
        assert!(!m.announce());
        assert!(!m.confirming());
    }

    #[test]
    fn unknown_to_up_after_rise_passes() {
        let mut m = HealthMachine::new(3, 2);
        assert_eq!(feed(&mut m, &[true, true]), vec![None, None]);
        assert!(!m.announce());
        assert!(m.confirming());
        let t = m.observe(true).expect("third pass rises");
        assert_eq!((t.from, t.to, t.streak), (Unknown, Up, 3));
        assert!(m.announce());
        assert!(!m.confirming());
    }

    #[test]
    fn unknown_to_down_after_fall_failures() {
        let mut m = HealthMachine::new(2, 3);
        assert_eq!(
            feed(&mut m, &[false, false, false]),
            vec![None, None, Some((Unknown, Down))]
        );
        assert!(!m.announce());
    }

    #[test]
    fn up_to_down_needs_consecutive_failures() {
        let mut m = HealthMachine::new(1, 3);
        assert_eq!(m.observe(true).map(|t| t.to), Some(Up));
        // An interrupted streak starts again.
        assert_eq!(
            feed(&mut m, &[false, false, true, false, false]),
            vec![None; 5]
        );
        assert_eq!(m.state(), Up);
        assert!(m.confirming());
        assert_eq!(
            m.observe(false).map(|t| (t.from, t.to, t.streak)),
            Some((Up, Down, 3))
        );
    }

    #[test]
    fn down_to_up_needs_consecutive_passes() {
        let mut m = HealthMachine::new(2, 1);
        assert_eq!(feed(&mut m, &[false]), vec![Some((Unknown, Down))]);
        assert_eq!(feed(&mut m, &[true, false, true]), vec![None, None, None]);
        assert_eq!(m.state(), Down);
        assert_eq!(m.observe(true).map(|t| (t.from, t.to)), Some((Down, Up)));
    }

    #[test]
    fn steady_results_cause_no_transition() {
        let mut m = HealthMachine::new(1, 1);
        m.observe(true);
        assert_eq!(feed(&mut m, &[true; 10]), vec![None; 10]);
        m.observe(false);
        assert_eq!(feed(&mut m, &[false; 10]), vec![None; 10]);
        assert!(!m.confirming());
    }

    #[test]
    fn rise_and_fall_of_one_follow_every_result() {
        let mut m = HealthMachine::new(1, 1);
        assert_eq!(
            feed(&mut m, &[true, false, true, false]),
            vec![
                Some((Unknown, Up)),
                Some((Up, Down)),
                Some((Down, Up)),
                Some((Up, Down))
            ]
        );
    }

    #[test]
    fn zero_thresholds_are_treated_as_one() {
        let mut m = HealthMachine::new(0, 0);
        assert_eq!(m.observe(true).map(|t| t.to), Some(Up));
        assert_eq!(m.observe(false).map(|t| t.to), Some(Down));
    }

    #[test]
    fn adopted_is_announced_until_first_failure() {
        let mut m = HealthMachine::adopted(3, 3);
        assert!(m.announce());
        assert_eq!(
            m.observe(false).map(|t| (t.from, t.to)),
            Some((Unknown, Down))
        );
        assert!(!m.announce());
        // Once down it needs the full rise like anyone else.
        assert_eq!(feed(&mut m, &[true, true]), vec![None, None]);
        assert!(!m.announce());
    }

    #[test]
    fn adopted_is_confirmed_by_rise_passes() {
        let mut m = HealthMachine::adopted(2, 2);
        assert_eq!(m.observe(true), None);
        assert!(m.announce());
        assert_eq!(m.observe(true).map(|t| (t.from, t.to)), Some((Unknown, Up)));
        // Confirmed: from now on a failure needs the full fall.
        assert_eq!(m.observe(false), None);
        assert!(m.announce());
    }

    #[test]
    fn thresholds_change_keeps_state_and_counts() {
        let mut m = HealthMachine::new(5, 5);
        feed(&mut m, &[true, true]);
        let mut m = m.with_thresholds(3, 3);
        assert_eq!(m.state(), Unknown);
        assert_eq!(m.observe(true).map(|t| t.to), Some(Up));
    }

    #[test]
    fn display_names() {
        assert_eq!(format!("{Unknown} {Up} {Down}"), "unknown up down");
    }
}
