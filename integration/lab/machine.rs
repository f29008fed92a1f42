//! The machine the end-to-end tests share. They run as threads of one test binary, as many
//! at once as libtest runs; most are light and sit beside each other well. A few load the
//! whole machine (10,000 hanging checks, 1,000 services and addresses at once): beside
//! them a neighbour's timing would suffer (a check killed at its timeout, a flap seen
//! within its 500 ms), and their own counts would show the neighbour's load. Those run
//! alone: [`Claim::alone`] waits until no other test holds a claim and keeps new ones out
//! until it is dropped. Every other test holds a [`Claim::shared`] (a [`Lab`] holds one
//! from [`Lab::new`] to its drop), so the alone ones know when they may start.
//!
//! [`Lab`]: super::Lab
//! [`Lab::new`]: super::Lab::new

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

static MACHINE: RwLock<()> = RwLock::new(());

thread_local! {
    /// How many shared claims this thread (one test) holds, and the lock they share: a test
    /// may hold several labs at once, and a second read of the lock could wait behind an
    /// alone test that waits for the first.
    static SHARED: RefCell<(usize, Option<RwLockReadGuard<'static, ()>>)> =
        const { RefCell::new((0, None)) };
}

/// A test's hold on the machine, released when dropped (on the thread that took it: it is
/// not `Send`).
pub struct Claim {
    alone: Option<RwLockWriteGuard<'static, ()>>,
    _not_send: PhantomData<RwLockReadGuard<'static, ()>>,
}

impl Claim {
    /// Runs beside other shared claims; waits while an alone test runs.
    pub fn shared() -> Claim {
        SHARED.with(|held| {
            let mut held = held.borrow_mut();
            if held.0 == 0 {
                held.1 = Some(MACHINE.read().unwrap_or_else(PoisonError::into_inner));
            }
            held.0 += 1;
        });
        Claim {
            alone: None,
            _not_send: PhantomData,
        }
    }

    /// Waits until no other test holds a claim; none starts until this one is dropped.
    pub fn alone() -> Claim {
        let held = SHARED.with(|held| held.borrow().0);
        assert_eq!(
            held, 0,
            "a test that runs alone cannot hold shared claims too"
        );
        Claim {
            alone: Some(MACHINE.write().unwrap_or_else(PoisonError::into_inner)),
            _not_send: PhantomData,
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if self.alone.is_some() {
            return;
        }
        SHARED.with(|held| {
            let mut held = held.borrow_mut();
            held.0 -= 1;
            if held.0 == 0 {
                held.1 = None;
            }
        });
    }
}
