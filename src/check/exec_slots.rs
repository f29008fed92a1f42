//! The cap on exec checks running at once (`[daemon] max_concurrent_exec`): in a check
//! storm (thousands of services whose checks all hang until their timeouts) the warden
//! keeps at most this many processes, and the other checks wait for a slot in turn.
//! Set once at start; without it (the library used alone) there is no cap.

use std::sync::OnceLock;

use tokio::sync::{Semaphore, SemaphorePermit};

static SLOTS: OnceLock<Semaphore> = OnceLock::new();

/// Caps concurrent exec checks at `max` for the life of the process. Only the first call
/// counts (a reload does not change `[daemon]`); returns whether this one did.
pub fn set_limit(max: usize) -> bool {
    SLOTS.set(Semaphore::new(max.max(1))).is_ok()
}

/// Waits for a slot; the slot is held until the returned guard is dropped.
pub async fn acquire() -> Option<SemaphorePermit<'static>> {
    // The semaphore is never closed, so acquiring only waits.
    SLOTS.get()?.acquire().await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn at_most_the_limit_run_and_the_rest_wait_their_turn() {
        set_limit(2);
        assert!(!set_limit(5), "a second limit is ignored");
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (running, peak) = (Arc::clone(&running), Arc::clone(&peak));
                tokio::spawn(async move {
                    let _slot = acquire().await.expect("a limit is set");
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        let started = tokio::time::Instant::now();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        // Six one-second checks two at a time: three seconds.
        assert_eq!(started.elapsed().as_secs(), 3);
    }
}
