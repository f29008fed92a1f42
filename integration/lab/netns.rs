//! The lab's network: the two namespaces, the veth pair between them with the lab's
//! addresses, service addresses on the host's `lo`, and listeners inside a namespace.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use ipnet::IpNet;

use super::process::run;
use super::{HOST_V4, HOST_V6, Lab, ROUTER_V4, ROUTER_V6};

impl Lab {
    pub(super) fn build_network(&self) -> Result<(), String> {
        let (h, r) = (self.host_ns.as_str(), self.rtr_ns.as_str());
        run("ip", &["netns", "add", h])?;
        run("ip", &["netns", "add", r])?;
        // No duplicate address detection: else the veth's link-local address appears a
        // second after BIRD started, and bird6 resets its fresh IPv6 session when it does.
        // Set before the veth ends move in, so that they inherit it.
        for ns in [h, r] {
            run(
                "ip",
                &[
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-q",
                    "-w",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                ],
            )?;
        }
        // The veth ends are named like the namespaces they go to.
        run("ip", &["link", "add", h, "type", "veth", "peer", "name", r])?;
        run("ip", &["link", "set", h, "netns", h])?;
        run("ip", &["link", "set", r, "netns", r])?;
        // Each veth end is its namespace's only link: the device has the namespace's name.
        for (ns, v4, v6) in [(h, HOST_V4, HOST_V6), (r, ROUTER_V4, ROUTER_V6)] {
            run(
                "ip",
                &["-n", ns, "addr", "add", &format!("{v4}/30"), "dev", ns],
            )?;
            let v6 = format!("{v6}/64");
            run(
                "ip",
                &["-n", ns, "-6", "addr", "add", &v6, "dev", ns, "nodad"],
            )?;
        }
        for ns in [h, r] {
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", ns, "link", "set", ns, "up"])?;
        }
        Ok(())
    }

    /// Deletes both namespaces (and with them the veth pair) if they exist.
    pub(super) fn delete_namespaces(&self) {
        for ns in [&self.host_ns, &self.rtr_ns] {
            if Path::new(&format!("/run/netns/{ns}")).exists()
                && let Err(e) = run("ip", &["netns", "del", ns])
            {
                eprintln!("lab {}: {e}", self.name);
            }
        }
    }

    /// Runs a command inside a namespace and returns its stdout.
    pub fn exec_in(&self, ns: &str, argv: &[&str]) -> Result<String, String> {
        let mut args = vec!["netns", "exec", ns];
        args.extend_from_slice(argv);
        run("ip", &args)
    }

    /// Routes `prefix` from the host namespace via the router, for addresses that live in
    /// the router namespace (the router does not announce them over BGP).
    pub fn route_via_router(&self, prefix: &str) -> Result<(), String> {
        let args = [
            "-n",
            &self.host_ns,
            "route",
            "add",
            prefix,
            "via",
            ROUTER_V4,
        ];
        run("ip", &args).map(|_| ())
    }

    /// Adds (`present`) or removes an IPv4 address on the router namespace's `lo`: a
    /// target for checks from the host, reached through `route_via_router`.
    pub fn set_router_lo_address(&self, addr: &str, present: bool) -> Result<(), String> {
        let verb = if present { "add" } else { "del" };
        let prefix = format!("{addr}/32");
        let args = ["-n", &self.rtr_ns, "addr", verb, &prefix, "dev", "lo"];
        run("ip", &args).map(|_| ())
    }

    /// Adds addresses (host routes: /32, /128) to the host's `lo`, in one `ip -b` batch.
    pub fn add_lo_addresses(&self, prefixes: &[IpNet]) -> Result<(), String> {
        self.lo_batch("add", prefixes)
    }

    fn lo_batch(&self, verb: &str, prefixes: &[IpNet]) -> Result<(), String> {
        if prefixes.is_empty() {
            return Ok(());
        }
        let mut batch = String::new();
        for p in prefixes {
            // Each batch line is an `ip` command without the program name; the family
            // follows from the address.
            let nodad = if p.addr().is_ipv6() { " nodad" } else { "" };
            writeln!(batch, "addr {verb} {p} dev lo{nodad}").unwrap();
        }
        let file = self.path(&format!("lo-{verb}-{}.batch", prefixes.len()));
        fs::write(&file, batch).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
        run("ip", &["-n", &self.host_ns, "-b", &file.to_string_lossy()]).map(|_| ())
    }

    /// Addresses on the host's `lo` now.
    pub fn lo_addresses(&self) -> Result<BTreeSet<IpAddr>, String> {
        let out = run(
            "ip",
            &["-n", &self.host_ns, "-o", "addr", "show", "dev", "lo"],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut words = l.split_whitespace();
                words.find(|w| *w == "inet" || *w == "inet6")?;
                words.next()?.split('/').next()?.parse().ok()
            })
            .collect())
    }

    /// A TCP listener on `127.0.0.1:port` inside the host namespace that accepts and
    /// closes every connection until [`NsListener::close`].
    pub fn host_tcp_listener(&self, port: u16) -> NsListener {
        NsListener::open(&self.host_ns, port)
    }
}

/// A TCP listener inside a namespace, served by its own thread.
pub struct NsListener {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NsListener {
    fn open(ns: &str, port: u16) -> NsListener {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let ns_path = format!("/run/netns/{ns}");
        // setns(2) moves only the calling thread, so a dedicated thread enters the
        // namespace; the socket stays in it for its whole life.
        let thread = std::thread::spawn(move || {
            let listener = (|| -> Result<TcpListener, String> {
                let file = fs::File::open(&ns_path).map_err(|e| format!("{ns_path}: {e}"))?;
                nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("setns {ns_path}: {e}"))?;
                bind_with_backlog(port)
            })();
            let listener = match listener {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(listener.local_addr().map_err(|e| e.to_string()));
            listener
                .set_nonblocking(true)
                .expect("nonblocking listener");
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => drop(conn),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        let addr = rx
            .recv()
            .expect("listener thread")
            .unwrap_or_else(|e| panic!("cannot listen in {ns}: {e}"));
        NsListener {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the listening socket: connections are refused from the moment this returns.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for NsListener {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A listener on 127.0.0.1:port (0 = any) with a backlog large enough for a thousand
/// checks connecting in the same instant (std's 128 would drop SYNs and fail checks).
fn bind_with_backlog(port: u16) -> Result<TcpListener, String> {
    use nix::sys::socket::{
        AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, bind, listen, setsockopt, socket,
        sockopt,
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("socket: {e}"))?;
    setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(|e| format!("SO_REUSEADDR: {e}"))?;
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, port))
        .map_err(|e| format!("bind 127.0.0.1:{port}: {e}"))?;
    listen(&fd, Backlog::new(4096).map_err(|e| e.to_string())?)
        .map_err(|e| format!("listen: {e}"))?;
    Ok(TcpListener::from(fd))
}
