//! The wire: tcpdump on the router's veth records when each BGP segment from the host
//! arrives, before GoBGP decodes it.

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::gobgp::Router;
use super::process::poll;
use super::{HOST_V4, HOST_V6};

impl Router<'_> {
    /// Starts recording, at the router's end of the link, when each BGP segment from the
    /// host arrives (tcpdump on the router's veth): the moment the router has the message,
    /// before gobgpd decodes it and long before `gobgp monitor` prints it (which lags by
    /// hundreds of ms in a burst of 1,000 routes).
    pub fn wire(&self) -> Wire {
        let veth = self.lab.rtr_ns.as_str();
        let filter = format!("tcp port 179 and (src host {HOST_V4} or src host {HOST_V6})");
        static WIRES: AtomicUsize = AtomicUsize::new(0);
        let label = format!("tcpdump-{}", WIRES.fetch_add(1, Ordering::Relaxed));
        let (base_instant, base_wall) = (Instant::now(), std::time::SystemTime::now());
        let base_epoch = base_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        // -tt: epoch time stamps from the kernel; -q: "tcp LEN" (payload bytes); -l: a line
        // as soon as a packet is seen; -Z root: stay root, so the capture does not depend
        // on a tcpdump user.
        let argv = [
            "tcpdump", "-i", veth, "-n", "-tt", "-q", "-l", "-Z", "root", &filter,
        ];
        let (packets, reader) = self.lab.spawn_reader(
            &label,
            Some(&self.lab.rtr_ns),
            &argv,
            move |line, _, sink| {
                let Some((epoch, len)) = parse_tcpdump_line(line) else {
                    return;
                };
                let offset = epoch - base_epoch;
                let at = if offset >= 0.0 {
                    base_instant + Duration::from_secs_f64(offset)
                } else {
                    base_instant - Duration::from_secs_f64(-offset)
                };
                sink.push(WirePacket { at, len });
            },
        );
        let wire = Wire {
            packets,
            _reader: reader,
        };
        // tcpdump says "listening on" (on stderr) once its capture and filter are set.
        let stderr = self.lab.path(&format!("{label}.err"));
        poll(Duration::from_secs(10), Duration::from_millis(20), || {
            fs::read_to_string(&stderr)
                .ok()
                .filter(|t| t.contains("listening on"))
                .map(|_| ())
        })
        .unwrap_or_else(|| {
            panic!(
                "tcpdump did not start listening within 10 s: {}",
                fs::read_to_string(&stderr).unwrap_or_default()
            )
        });
        wire
    }
}

/// `1795326302.963666 IP 192.0.2.1.34317 > 192.0.2.2.179: tcp 47` → (epoch, 47).
pub fn parse_tcpdump_line(line: &str) -> Option<(f64, usize)> {
    let mut words = line.split_whitespace();
    let epoch = words.next()?.parse::<f64>().ok()?;
    let len = line.rsplit_once(": tcp ")?.1.trim().parse::<usize>().ok()?;
    Some((epoch, len))
}

/// A BGP segment from the host, time-stamped by the kernel when it reached the router.
#[derive(Debug, Clone, Copy)]
pub struct WirePacket {
    pub at: Instant,
    /// TCP payload bytes.
    pub len: usize,
}

/// The BGP segments from the host since [`Router::wire`].
pub struct Wire {
    packets: Arc<Mutex<Vec<WirePacket>>>,
    _reader: JoinHandle<()>,
}

/// A KEEPALIVE is 19 bytes; anything longer carries an UPDATE (or more).
const KEEPALIVE_LEN: usize = 19;

impl Wire {
    /// Arrival times of segments carrying more than a KEEPALIVE, within `(from, to]`.
    pub fn updates_between(&self, from: Instant, to: Instant) -> Vec<Instant> {
        self.packets
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.len > KEEPALIVE_LEN && p.at > from && p.at <= to)
            .map(|p| p.at)
            .collect()
    }

    /// Waits for the first segment carrying more than a KEEPALIVE after `from`.
    pub fn wait_first_update(&self, from: Instant, timeout: Duration) -> Result<Instant, String> {
        poll(timeout, Duration::from_millis(1), || {
            self.updates_between(from, Instant::now() + Duration::from_secs(3600))
                .first()
                .copied()
        })
        .ok_or_else(|| format!("no UPDATE from the host on the wire within {timeout:?}"))
    }
}
