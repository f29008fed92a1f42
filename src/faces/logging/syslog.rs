//! Log lines to a remote syslog server over UDP, in the RFC 5424 format:
//! `<PRI>1 TIMESTAMP HOSTNAME anycast-warden PID - - MESSAGE`, facility `daemon`.
//! UDP never blocks the daemon: a lost server loses log lines, not health checks.

use std::io::{self, Write};
use std::net::{ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::SystemTime;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Facility `daemon` (3).
const FACILITY: u8 = 3;
/// Longest datagram sent; longer lines are cut (RFC 5424 receivers must take 480 bytes,
/// and should take 2048).
const MAX_DATAGRAM: usize = 2048;

#[derive(Debug, Clone)]
pub struct Syslog {
    socket: Arc<UdpSocket>,
    hostname: Arc<str>,
}

impl Syslog {
    /// Resolves `host:port` once and "connects" a UDP socket to it.
    pub fn connect(server: &str) -> io::Result<Syslog> {
        let addr = server
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))?;
        let local = if addr.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        let socket = UdpSocket::bind(local)?;
        socket.connect(addr)?;
        socket.set_nonblocking(true)?;
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "-".into());
        Ok(Syslog {
            socket: Arc::new(socket),
            hostname: hostname.into(),
        })
    }
}

/// The severity of a tracing level.
pub fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// One RFC 5424 message.
pub fn format(severity: u8, time: SystemTime, hostname: &str, pid: u32, message: &str) -> String {
    format!(
        "<{}>1 {} {hostname} anycast-warden {pid} - - {}",
        FACILITY * 8 + severity,
        humantime::format_rfc3339_millis(time),
        message.trim_end()
    )
}

/// Writes one event (the fmt layer writes each event in one call) as one datagram.
pub struct SyslogLine<'a> {
    syslog: &'a Syslog,
    severity: u8,
}

impl Write for SyslogLine<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut datagram = format(
            self.severity,
            SystemTime::now(),
            &self.syslog.hostname,
            std::process::id(),
            &text,
        );
        if datagram.len() > MAX_DATAGRAM {
            let mut cut = MAX_DATAGRAM;
            while !datagram.is_char_boundary(cut) {
                cut -= 1;
            }
            datagram.truncate(cut);
        }
        // A full buffer or an unreachable server drops the line; never block or fail.
        let _ = self.syslog.socket.send(datagram.as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        SyslogLine {
            syslog: self,
            severity: 6,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        SyslogLine {
            syslog: self,
            severity: severity(meta.level()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn formats_rfc5424() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            format(
                severity(&Level::WARN),
                t,
                "edge1",
                42,
                "service dns is down\n"
            ),
            "<28>1 2023-11-14T22:13:20.123Z edge1 anycast-warden 42 - - service dns is down"
        );
        assert_eq!(severity(&Level::ERROR), 3);
        assert_eq!(severity(&Level::DEBUG), 7);
    }

    #[test]
    fn sends_one_datagram_per_event() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        server
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let syslog = Syslog::connect(&server.local_addr().unwrap().to_string()).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(syslog)
            .without_time()
            .with_ansi(false)
            .with_target(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(service = "dns", "apply failed");
        });
        let mut buf = [0u8; 4096];
        let n = server.recv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("<27>1 "), "{text}");
        assert!(text.contains(" anycast-warden "), "{text}");
        assert!(
            text.ends_with("ERROR apply failed service=\"dns\""),
            "{text}"
        );
    }
}
