//! `gobgp monitor`: every route event the router receives, time-stamped as it is read.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::gobgp::Router;
use super::process::poll;

impl Router<'_> {
    /// Starts `gobgp monitor global rib -j` (all families) and time-stamps each event as it
    /// is read. Call it before the events of interest; it is subscribed on return.
    pub fn monitor(&self) -> Monitor {
        let argv = [
            "gobgp",
            "--target",
            &self.target,
            "monitor",
            "global",
            "rib",
            "-j",
        ];
        let (events, reader) = self
            .lab
            .spawn_reader("monitor", None, &argv, |line, at, sink| {
                let Ok(serde_json::Value::Array(paths)) = serde_json::from_str(line) else {
                    return;
                };
                for path in paths {
                    let Some(prefix) = path["nlri"]["prefix"].as_str().and_then(|p| p.parse().ok())
                    else {
                        continue;
                    };
                    sink.push(RouteEvent {
                        at,
                        prefix,
                        withdrawal: path["withdrawal"].as_bool() == Some(true),
                    });
                }
            });
        let monitor = Monitor {
            events,
            _reader: reader,
        };
        // Nothing is printed at subscription, so prove the monitor listens: originate a
        // marker route at the router itself, wait for its event, and remove it again.
        let marker: IpNet = MONITOR_MARKER.parse().unwrap();
        poll(Duration::from_secs(10), Duration::from_millis(100), || {
            self.gobgp(&["global", "rib", "add", MONITOR_MARKER, "-a", "ipv4"])
                .unwrap_or_else(|e| panic!("{e}"));
            let seen = monitor
                .wait_for(Duration::from_millis(300), |e| e.prefix == marker)
                .is_ok();
            self.gobgp(&["global", "rib", "del", MONITOR_MARKER, "-a", "ipv4"])
                .unwrap_or_else(|e| panic!("{e}"));
            seen.then_some(())
        })
        .unwrap_or_else(|| panic!("gobgp monitor did not report the marker route within 10 s"));
        monitor
            .wait_for(Duration::from_secs(5), |e| {
                e.prefix == marker && e.withdrawal
            })
            .unwrap_or_else(|e| panic!("marker withdrawal: {e}"));
        // The marker's own events are not the test's business.
        monitor.events.lock().unwrap().clear();
        monitor
    }
}

/// A route the router originates itself to prove that a monitor is subscribed.
const MONITOR_MARKER: &str = "192.0.2.200/32";

/// One UPDATE entry the router received, time-stamped when the monitor read it.
///
/// The time is when `gobgp monitor` printed the line, which can trail the RIB: in a burst of
/// 1,000 routes on a busy machine the last event came up to a few hundred ms after
/// `gobgp global rib` already showed the final state.
#[derive(Debug, Clone, Copy)]
pub struct RouteEvent {
    /// When the line was read (monotonic).
    pub at: Instant,
    pub prefix: IpNet,
    /// A withdrawal, else an announcement.
    pub withdrawal: bool,
}

/// Time-stamped route events seen by the router since [`Router::monitor`].
pub struct Monitor {
    events: Arc<Mutex<Vec<RouteEvent>>>,
    _reader: JoinHandle<()>,
}

impl Monitor {
    /// Every event so far.
    pub fn events(&self) -> Vec<RouteEvent> {
        self.events.lock().unwrap().clone()
    }

    /// Events for one prefix.
    pub fn events_for(&self, prefix: &IpNet) -> Vec<RouteEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.prefix == *prefix)
            .collect()
    }

    /// Waits until the events so far satisfy `pred` (cheap: no process per poll, unlike
    /// reading the RIB); returns the time waited.
    pub fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[RouteEvent]) -> bool,
    ) -> Result<Duration, String> {
        let start = Instant::now();
        poll(timeout, Duration::from_millis(5), || {
            pred(&self.events.lock().unwrap()).then(|| start.elapsed())
        })
        .ok_or_else(|| {
            let events = self.events();
            format!(
                "the route events did not satisfy the condition within {timeout:?}; {} events, last {:?}",
                events.len(),
                events.last()
            )
        })
    }

    /// Waits until an event satisfies `pred`; returns it.
    pub fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&RouteEvent) -> bool,
    ) -> Result<RouteEvent, String> {
        poll(timeout, Duration::from_millis(10), || {
            self.events
                .lock()
                .unwrap()
                .iter()
                .find(|e| pred(e))
                .copied()
        })
        .ok_or_else(|| {
            format!(
                "no such route event within {timeout:?}; saw {:?}",
                self.events()
            )
        })
    }
}
