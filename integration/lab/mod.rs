//! A throwaway routing lab for end-to-end tests (and the benchmark harness): two network
//! namespaces joined by a veth pair, a real BIRD or FRR on the host side, GoBGP as the router
//! that observes what the host announces, and anycast-warden running inside the host namespace.
//!
//! ```text
//!   root namespace (the test process; every file lives in the lab's tempdir)
//!   ┌──────────────────────────────────┐           ┌────────────────────────────────┐
//!   │ <name>h  "host"                  │           │ <name>r  "router"              │
//!   │                                  │   veth    │                                │
//!   │  lo: 127.0.0.1, service prefixes │ <name>h ─ <name>r                          │
//!   │  anycast-warden ──writes──▶ include file     │  gobgpd  AS 65000              │
//!   │        │ configure (ctl socket)  │ 192.0.2.1/30 ── 192.0.2.2/30               │
//!   │        ▼                         │ 2001:db8:1::1/64 ── 2001:db8:1::2/64       │
//!   │  bird (AS 65001) ─── eBGP ───────┼───────────┼──▶ RIB ──▶ gobgp global rib -j │
//!   │  (bird1: bird + bird6)           │           │      └──▶ gobgp monitor (events│
//!   │  or FRR: zebra, staticd, bgpd    │           │           time-stamped here)   │
//!   │  (the warden runs vtysh)         │           └────────────────────────────────┘
//!   └──────────────────────────────────┘
//! ```
//!
//! Every process the lab starts is its child (`ip netns exec` execs, so the PID is the
//! daemon's own); dropping the [`Lab`] sends them SIGTERM, then SIGKILL, waits for them and
//! deletes both namespaces, also when the test panics (then it first prints the logs).
//! Nothing outside the two namespaces and the tempdir is touched; the only addresses are
//! documentation prefixes (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
//!
//! Tests start with [`Lab::new_or_skip`]: without root or the daemons it prints
//! `SKIPPED: <why>` and the test returns, unless `CI=true`, where that is a failure.
//! `AW_BIRD1_SBIN` points at BIRD 1.6's binaries (default `/opt/bird1/usr/sbin`); FRR's
//! daemons are expected in `/usr/lib/frr` (no watchfrr, no systemd: the lab runs them);
//! `AW_LAB_KEEP=1` keeps the tempdir of a failed test, `AW_LAB_KEEP=always` of every test.
//! `AW_WARDEN_LOG` sets the warden's `RUST_LOG` (default `info`).
#![allow(dead_code)] // each test binary uses a different part of the lab

pub mod peers;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The warden binary Cargo built for this test run.
pub const WARDEN_BIN: &str = env!("CARGO_BIN_EXE_anycast-warden");

/// AS numbers and addresses of the two sides (as in the shared lab recipes).
pub const HOST_AS: u32 = 65001;
pub const ROUTER_AS: u32 = 65000;
pub const HOST_V4: &str = "192.0.2.1";
pub const ROUTER_V4: &str = "192.0.2.2";
pub const HOST_V6: &str = "2001:db8:1::1";
pub const ROUTER_V6: &str = "2001:db8:1::2";

/// Used to tell the labs of one test process apart.
static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// What a test needs besides root and `ip`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// `bird` and `birdc` (BIRD 2) in PATH.
    Bird2,
    /// `bird`, `bird6`, `birdc`, `birdc6` of BIRD 1.6 in [`bird1_sbin`].
    Bird1,
    /// `gobgpd` and `gobgp` in PATH.
    Gobgp,
    /// FRR's `zebra`, `staticd`, `bgpd` in [`FRR_SBIN`] and [`VTYSH`].
    Frr,
    /// `tcpdump` in PATH, for [`Router::wire`].
    Tcpdump,
    /// Knot DNS: `knotd` and `knotc` in PATH or /usr/sbin, `kdig` in PATH.
    Knot,
    /// `etcd` in PATH (Debian's etcd-server).
    Etcd,
    /// libfaketime (Debian's `faketime`), see [`libfaketime`].
    Faketime,
}

/// Debian's libfaketime for this architecture (`/usr/lib/<triplet>/faketime/`), if installed.
pub fn libfaketime() -> Option<PathBuf> {
    fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .map(|e| e.path().join("faketime/libfaketime.so.1"))
        .find(|p| p.is_file())
}

/// Where BIRD 1.6's binaries are: `AW_BIRD1_SBIN`, else `/opt/bird1/usr/sbin`.
pub fn bird1_sbin() -> PathBuf {
    std::env::var_os("AW_BIRD1_SBIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/bird1/usr/sbin"))
}

/// A test that cannot run here: prints `SKIPPED: <why>` loudly, or panics with CI=true,
/// where every prerequisite must be installed (integration/setup.sh).
pub fn skip_outside_ci(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: cannot run here although CI=true: {why}");
    }
    eprintln!();
    eprintln!("**************************************************************");
    eprintln!("SKIPPED: {test}: {why}");
    eprintln!("**************************************************************");
}

/// True when `CI=true`: then a missing prerequisite fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn in_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Why the lab cannot run here, if it cannot.
pub fn missing(needs: &[Need]) -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("network namespaces need root (run the tests as root)".into());
    }
    let mut programs = vec!["ip"];
    for need in needs {
        match need {
            Need::Bird2 => programs.extend(["bird", "birdc"]),
            Need::Gobgp => programs.extend(["gobgpd", "gobgp"]),
            Need::Tcpdump => programs.push("tcpdump"),
            Need::Knot => programs.push("kdig"),
            Need::Etcd => programs.push("etcd"),
            Need::Bird1 | Need::Frr | Need::Faketime => {}
        }
    }
    let mut absent: Vec<String> = programs
        .into_iter()
        .filter(|p| !in_path(p))
        .map(String::from)
        .collect();
    for need in needs {
        match need {
            Need::Bird2 | Need::Gobgp | Need::Tcpdump | Need::Etcd => {}
            Need::Knot => {
                for b in ["knotd", "knotc"] {
                    if !in_path(b) && !is_executable(&Path::new("/usr/sbin").join(b)) {
                        absent.push(b.to_string());
                    }
                }
            }
            Need::Faketime => {
                if libfaketime().is_none() {
                    absent.push("/usr/lib/*/faketime/libfaketime.so.1".into());
                }
            }
            Need::Bird1 => {
                for b in ["bird", "bird6", "birdc", "birdc6"] {
                    let path = bird1_sbin().join(b);
                    if !is_executable(&path) {
                        absent.push(path.display().to_string());
                    }
                }
            }
            Need::Frr => {
                let daemons = FRR_DAEMONS.iter().map(|d| Path::new(FRR_SBIN).join(d));
                for path in daemons.chain([PathBuf::from(VTYSH)]) {
                    if !is_executable(&path) {
                        absent.push(path.display().to_string());
                    }
                }
            }
        }
    }
    if absent.is_empty() {
        None
    } else {
        Some(format!(
            "missing {} (run integration/setup.sh as root)",
            absent.join(", ")
        ))
    }
}

/// Runs `program args`, returning stdout, or an error with the command and its stderr.
pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Result<String, String> {
    let program = program.as_ref();
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {} failed ({}): {}{}",
            program.to_string_lossy(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Polls `probe` every `every` until it returns `Some` or `timeout` passes.
pub fn poll<T>(
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Waits until `count` stays the same for `quiet` (or `timeout` passes); returns it.
pub fn settled_count(count: impl Fn() -> usize, quiet: Duration, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    let mut last = count();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = count();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    last
}

/// Whether a process is gone or a zombie (killed, not yet reaped by its parent).
pub fn gone_or_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// One process the lab started.
struct Owned {
    what: String,
    child: Child,
    /// Set once reaped, so that the PID is never signalled again.
    status: Option<ExitStatus>,
}

/// Two namespaces, a veth pair, a tempdir and every process started in them.
pub struct Lab {
    /// Short unique name, e.g. `aw1234-0`; the namespaces are `<name>h` and `<name>r`.
    pub name: String,
    /// The host namespace (BIRD, the warden, the service addresses on `lo`).
    pub host_ns: String,
    /// The router namespace (GoBGP).
    pub rtr_ns: String,
    dir: Option<tempfile::TempDir>,
    procs: Mutex<Vec<Owned>>,
    /// Files worth reading when a test fails: (label, path).
    logs: Mutex<Vec<(String, PathBuf)>>,
    /// PIDs not our children that a test asked us to clean up (e.g. a check's grandchild).
    adopted: Mutex<Vec<i32>>,
}

impl Lab {
    /// The lab, or `None` after printing `SKIPPED: <why>` when root or a daemon is missing
    /// (and `CI` is not `true`; in CI that panics).
    pub fn new_or_skip(test: &str, needs: &[Need]) -> Option<Lab> {
        if let Some(why) = missing(needs) {
            skip_outside_ci(test, &why);
            return None;
        }
        Some(Lab::new(test))
    }

    /// Creates the namespaces and the veth pair with the lab's addresses. Panics on failure
    /// (after cleaning up what it created).
    pub fn new(test: &str) -> Lab {
        let pid = std::process::id() % 10_000;
        let name = loop {
            let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
            let name = format!("aw{pid}-{n}");
            let taken = Path::new(&format!("/run/netns/{name}h")).exists()
                || Path::new(&format!("/run/netns/{name}r")).exists()
                || Path::new(&format!("/sys/class/net/{name}h")).exists()
                || Path::new(&format!("/sys/class/net/{name}r")).exists();
            if !taken {
                break name;
            }
        };
        let short: String = test
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-{short}-"))
            .tempdir()
            .expect("cannot create the lab's tempdir");
        let lab = Lab {
            host_ns: format!("{name}h"),
            rtr_ns: format!("{name}r"),
            name,
            dir: Some(dir),
            procs: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            adopted: Mutex::new(Vec::new()),
        };
        // From here on, Drop deletes whatever exists.
        if let Err(e) = lab.build_network() {
            panic!("lab {}: cannot build the network: {e}", lab.name);
        }
        lab
    }

    fn build_network(&self) -> Result<(), String> {
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
        run(
            "ip",
            &["-n", h, "addr", "add", &format!("{HOST_V4}/30"), "dev", h],
        )?;
        run(
            "ip",
            &["-n", r, "addr", "add", &format!("{ROUTER_V4}/30"), "dev", r],
        )?;
        run(
            "ip",
            &[
                "-n",
                h,
                "-6",
                "addr",
                "add",
                &format!("{HOST_V6}/64"),
                "dev",
                h,
                "nodad",
            ],
        )?;
        run(
            "ip",
            &[
                "-n",
                r,
                "-6",
                "addr",
                "add",
                &format!("{ROUTER_V6}/64"),
                "dev",
                r,
                "nodad",
            ],
        )?;
        for ns in [h, r] {
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
            run("ip", &["-n", ns, "link", "set", ns, "up"])?;
        }
        Ok(())
    }

    /// The lab's tempdir: configs, sockets, logs.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("tempdir exists until drop").path()
    }

    /// A path inside the tempdir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// Remembers a file to print when the test fails.
    pub fn add_log(&self, label: &str, path: &Path) {
        self.logs
            .lock()
            .unwrap()
            .push((label.to_string(), path.to_path_buf()));
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

    /// Removes addresses from the host's `lo`, in one `ip -b` batch.
    pub fn del_lo_addresses(&self, prefixes: &[IpNet]) -> Result<(), String> {
        self.lo_batch("del", prefixes)
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

    /// Starts `argv` inside `ns` (or in the root namespace when `None`) as a child the lab
    /// owns, stdout and stderr to `<label>.out` / `<label>.err` in the tempdir (or piped
    /// stdout, see [`Lab::spawn_piped`]). Returns the PID.
    pub fn spawn(&self, label: &str, ns: Option<&str>, argv: &[&str]) -> Result<i32, String> {
        let out = self.path(&format!("{label}.out"));
        let err = self.path(&format!("{label}.err"));
        let stdout = fs::File::create(&out).map_err(|e| e.to_string())?;
        let stderr = fs::File::create(&err).map_err(|e| e.to_string())?;
        self.add_log(&format!("{label} stdout"), &out);
        self.add_log(&format!("{label} stderr"), &err);
        let (pid, _) = self.spawn_with(label, ns, argv, stdout.into(), stderr.into(), &[])?;
        Ok(pid)
    }

    /// Like [`Lab::spawn`] with extra environment variables.
    pub fn spawn_env(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
        env: &[(&str, &str)],
    ) -> Result<i32, String> {
        let out = self.path(&format!("{label}.out"));
        let err = self.path(&format!("{label}.err"));
        let stdout = fs::File::create(&out).map_err(|e| e.to_string())?;
        let stderr = fs::File::create(&err).map_err(|e| e.to_string())?;
        self.add_log(&format!("{label} stdout"), &out);
        self.add_log(&format!("{label} stderr"), &err);
        let (pid, _) = self.spawn_with(label, ns, argv, stdout.into(), stderr.into(), env)?;
        Ok(pid)
    }

    /// Starts a child whose stdout the caller reads (stderr to `<label>.err`).
    pub fn spawn_piped(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
    ) -> Result<(i32, std::process::ChildStdout), String> {
        let err = self.path(&format!("{label}.err"));
        let stderr = fs::File::create(&err).map_err(|e| e.to_string())?;
        self.add_log(&format!("{label} stderr"), &err);
        let (pid, stdout) = self.spawn_with(label, ns, argv, Stdio::piped(), stderr.into(), &[])?;
        Ok((pid, stdout.expect("stdout was piped")))
    }

    fn spawn_with(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
        stdout: Stdio,
        stderr: Stdio,
        env: &[(&str, &str)],
    ) -> Result<(i32, Option<std::process::ChildStdout>), String> {
        let mut command = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).args(argv);
                c
            }
            None => {
                let mut c = Command::new(argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .current_dir(self.dir());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {label} ({}): {e}", argv.join(" ")))?;
        let pid = child.id() as i32;
        let stdout = child.stdout.take();
        self.procs.lock().unwrap().push(Owned {
            what: label.to_string(),
            child,
            status: None,
        });
        Ok((pid, stdout))
    }

    /// The exit status if the child has exited (reaping it), `None` while it runs.
    pub fn try_wait(&self, pid: i32) -> Option<ExitStatus> {
        let mut procs = self.procs.lock().unwrap();
        let owned = procs
            .iter_mut()
            .find(|o| o.child.id() as i32 == pid)
            .unwrap_or_else(|| panic!("pid {pid} is not a child of lab {}", self.name));
        if owned.status.is_none() {
            owned.status = owned.child.try_wait().ok().flatten();
        }
        owned.status
    }

    /// Whether the child still runs.
    pub fn is_running(&self, pid: i32) -> bool {
        self.try_wait(pid).is_none()
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&self, pid: i32, timeout: Duration) -> Result<ExitStatus, String> {
        poll(timeout, Duration::from_millis(20), || self.try_wait(pid))
            .ok_or_else(|| format!("pid {pid} still runs after {timeout:?}"))
    }

    /// Sends a signal to a running child (never to a reaped PID).
    pub fn signal(&self, pid: i32, signal: Signal) -> Result<(), String> {
        if !self.is_running(pid) {
            return Err(format!("pid {pid} has already exited"));
        }
        kill(Pid::from_raw(pid), signal).map_err(|e| format!("kill({pid}, {signal}): {e}"))
    }

    /// Terminates one child: SIGTERM, then SIGKILL after `grace`; waits for it.
    pub fn stop(&self, pid: i32, grace: Duration) {
        if self.signal(pid, Signal::SIGTERM).is_ok() && self.wait_exit(pid, grace).is_err() {
            let _ = self.signal(pid, Signal::SIGKILL);
            let _ = self.wait_exit(pid, Duration::from_secs(5));
        }
    }

    /// Asks the lab to SIGKILL a process that is not its child (a check's grandchild, say)
    /// at drop, if it still runs then and still is `comm`.
    pub fn adopt(&self, pid: i32) {
        self.adopted.lock().unwrap().push(pid);
    }

    /// Prints every log file the lab knows (the last 200 lines of each).
    pub fn dump_logs(&self) {
        eprintln!(
            "===== lab {} ({}) logs =====",
            self.name,
            self.dir().display()
        );
        for (label, path) in self.logs.lock().unwrap().iter() {
            let text = fs::read_to_string(path).unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(200);
            eprintln!(
                "----- {label}: {} ({} lines) -----",
                path.display(),
                lines.len()
            );
            for line in &lines[from..] {
                eprintln!("{line}");
            }
        }
        eprintln!("===== end of lab {} logs =====", self.name);
    }

    // ---------------------------------------------------------------------------------
    // GoBGP, the observing router

    /// Starts gobgpd in the router namespace with one eBGP neighbor (the host's v4 address,
    /// carrying IPv4 and IPv6 unicast: how BIRD 2 peers) and, with `v6_session`, a second
    /// one over IPv6 for IPv6 unicast (how BIRD 1.6's bird6 peers). Waits for its API.
    pub fn start_router(&self, v6_session: bool) -> Router<'_> {
        let mut toml = format!(
            r#"[global.config]
  as = {ROUTER_AS}
  router-id = "{ROUTER_V4}"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "{HOST_V4}"
    peer-as = {HOST_AS}
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#
        );
        if v6_session {
            write!(
                toml,
                r#"[[neighbors]]
  [neighbors.config]
    neighbor-address = "{HOST_V6}"
    peer-as = {HOST_AS}
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#
            )
            .unwrap();
        }
        self.spawn_router(&toml, if v6_session { 2 } else { 1 })
    }

    /// Starts gobgpd in the router namespace as AS `local_as` with the given neighbors
    /// (for the built-in speaker's tests: other AS numbers, IPv6 sessions, MD5).
    pub fn start_router_with(&self, local_as: u32, neighbors: &[GobgpNeighbor]) -> Router<'_> {
        let mut toml =
            format!("[global.config]\n  as = {local_as}\n  router-id = \"{ROUTER_V4}\"\n");
        for n in neighbors {
            write!(
                toml,
                "[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{}\"\n    peer-as = {}\n",
                n.address, n.peer_as
            )
            .unwrap();
            if let Some(pw) = n.password {
                writeln!(toml, "    auth-password = \"{pw}\"").unwrap();
            }
            toml.push_str("  [neighbors.timers.config]\n    connect-retry = 1\n");
            if n.graceful_restart {
                toml.push_str("  [neighbors.graceful-restart.config]\n    enabled = true\n");
            }
            for f in n.families {
                write!(
                    toml,
                    "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"
                )
                .unwrap();
                if n.graceful_restart {
                    toml.push_str("    [neighbors.afi-safis.mp-graceful-restart.config]\n      enabled = true\n");
                }
            }
        }
        self.spawn_router(&toml, neighbors.len())
    }

    /// Runs gobgpd with `toml` and waits for its API.
    fn spawn_router(&self, toml: &str, neighbors: usize) -> Router<'_> {
        let sock = self.path("gobgp.sock");
        let conf = self.path("gobgpd.toml");
        fs::write(&conf, toml).expect("write gobgpd.toml");
        let target = format!("unix://{}", sock.display());
        let pid = self
            .spawn(
                "gobgpd",
                Some(&self.rtr_ns),
                &[
                    "gobgpd",
                    "-f",
                    &conf.to_string_lossy(),
                    "-t",
                    "toml",
                    "--api-hosts",
                    &target,
                    "--pprof-disable",
                    "-p",
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let router = Router {
            lab: self,
            pid,
            target,
            neighbors,
        };
        poll(Duration::from_secs(15), Duration::from_millis(50), || {
            assert!(self.is_running(pid), "gobgpd exited at start");
            router.gobgp(&["global"]).ok()
        })
        .unwrap_or_else(|| panic!("gobgpd's API did not come up within 15 s"));
        router
    }

    // ---------------------------------------------------------------------------------
    /// Creates (`on`) or removes the flag file `name` in the lab's directory: the file
    /// checks of the tests' services pass while it exists.
    pub fn set_flag(&self, name: &str, on: bool) {
        let file = self.path(name);
        if on {
            fs::write(&file, "").expect("flag file");
        } else {
            let _ = fs::remove_file(&file);
        }
    }

    // BIRD on the host side

    /// Starts BIRD 2 in the host namespace (foreground, a child of the lab), exporting to
    /// the router what `ANYCAST_PREFIXES` / `ANYCAST6_PREFIXES` in the include file allow.
    /// The include file starts with both sets empty. Waits until birdc answers.
    pub fn start_bird2(&self) -> Bird<'_> {
        let include = self.path("anycast-prefixes.conf");
        fs::write(&include, render_bird2_sets(&BTreeSet::new())).expect("write include");
        let log = self.path("bird.log");
        let ctl = self.path("bird.ctl");
        let conf = self.path("bird.conf");
        let log_line = format!("log \"{}\" all;", log.display());
        fs::write(&conf, bird2_conf(&log_line, &include)).expect("write bird.conf");
        let daemon = self.start_bird_daemon("bird", "bird", "birdc", &conf, &ctl, &log);
        Bird {
            lab: self,
            variant: BirdVariant::Bird2,
            daemons: vec![daemon],
        }
    }

    /// Starts BIRD 1.6 in the host namespace: `bird` for IPv4 (include file with
    /// `ANYCAST_PREFIXES`, session over IPv4) and `bird6` for IPv6 (`ANYCAST6_PREFIXES`,
    /// session over IPv6). BIRD 1.6 refuses empty sets, so the include files start with
    /// the warden's default dummy prefixes. The router needs `start_router(true)`.
    pub fn start_bird1(&self) -> Bird<'_> {
        let sbin = bird1_sbin();
        let mut daemons = Vec::new();
        for (v6, label, set, dummy, local, neighbor, router_id) in [
            (
                false,
                "bird1",
                "ANYCAST_PREFIXES",
                DUMMY_V4,
                HOST_V4,
                ROUTER_V4,
                HOST_V4,
            ),
            // A router id of its own, so the router sees two distinct speakers.
            (
                true,
                "bird6",
                "ANYCAST6_PREFIXES",
                DUMMY_V6,
                HOST_V6,
                ROUTER_V6,
                "192.0.2.5",
            ),
        ] {
            let include = self.path(if v6 {
                "anycast6-prefixes.conf"
            } else {
                "anycast-prefixes.conf"
            });
            fs::write(&include, format!("define {set} = [ {dummy} ];\n")).expect("write include");
            let log = self.path(&format!("{label}.log"));
            let ctl = self.path(&format!("{label}.ctl"));
            let conf = self.path(&format!("{label}.conf"));
            fs::write(
                &conf,
                format!(
                    r#"log "{log}" all;
router id {router_id};
include "{include}";
protocol device {{ scan time 10; }}
protocol direct {{ interface "lo"; }}
protocol bgp rtr {{
  local {local} as {HOST_AS}; neighbor {neighbor} as {ROUTER_AS};
  connect delay time 1; connect retry time 1;
  import none;
  export where net ~ {set};
}}
"#,
                    log = log.display(),
                    include = include.display()
                ),
            )
            .expect("write bird1 conf");
            let (bird, birdc) = if v6 {
                ("bird6", "birdc6")
            } else {
                ("bird", "birdc")
            };
            let bird = sbin.join(bird).to_string_lossy().into_owned();
            let birdc = sbin.join(birdc).to_string_lossy().into_owned();
            daemons.push(self.start_bird_daemon(label, &bird, &birdc, &conf, &ctl, &log));
        }
        Bird {
            lab: self,
            variant: BirdVariant::Bird1,
            daemons,
        }
    }

    fn start_bird_daemon(
        &self,
        label: &str,
        bird: &str,
        birdc: &str,
        conf: &Path,
        ctl: &Path,
        log: &Path,
    ) -> BirdDaemon {
        self.add_log(&format!("{label} log"), log);
        let pidfile = self.path(&format!("{label}.pid"));
        let pid = self
            .spawn(
                label,
                Some(&self.host_ns),
                &[
                    bird,
                    "-f",
                    "-c",
                    &conf.to_string_lossy(),
                    "-s",
                    &ctl.to_string_lossy(),
                    "-P",
                    &pidfile.to_string_lossy(),
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let daemon = BirdDaemon {
            pid,
            birdc: birdc.to_string(),
            ctl: ctl.to_path_buf(),
            log: log.to_path_buf(),
            label: label.to_string(),
            bird: bird.to_string(),
            conf: conf.to_path_buf(),
        };
        poll(Duration::from_secs(15), Duration::from_millis(50), || {
            assert!(self.is_running(pid), "{label} exited at start");
            run(
                &daemon.birdc,
                &["-s", &ctl.to_string_lossy(), "show", "status"],
            )
            .ok()
        })
        .unwrap_or_else(|| panic!("{label}'s control socket did not answer within 15 s"));
        daemon
    }

    // ---------------------------------------------------------------------------------
    // FRR on the host side

    /// Starts FRR in the host namespace: zebra, staticd and bgpd (AS 65001, peering with
    /// the router over IPv4 for IPv4 and IPv6 unicast, `redistribute static` in both), each
    /// in the foreground as a child of the lab, with `frr/` in the tempdir as its vty socket
    /// directory. `conf` adds hand-made routes and BGP statements. Waits until vtysh shows
    /// the BGP instance. The router needs `start_router(false)`.
    pub fn start_frr(&self, conf: &FrrConf) -> Frr<'_> {
        let dir = self.path("frr");
        fs::create_dir_all(&dir).expect("create the FRR directory");
        let files = [
            (
                "zebra.conf",
                format!("frr defaults traditional\n{}\n", conf.zebra),
            ),
            (
                "staticd.conf",
                format!("frr defaults traditional\n{}\n", conf.statics),
            ),
            ("bgpd.conf", render_bgpd_conf(conf)),
        ];
        for (file, text) in files {
            fs::write(dir.join(file), text).expect("write FRR's configuration");
        }
        // The daemons drop to user frr: it must reach (and write to) its directory. The
        // tempdir itself is 0700 root.
        let frr_user = nix::unistd::User::from_name("frr")
            .ok()
            .flatten()
            .expect("user frr (apt-get install frr)");
        for entry in fs::read_dir(&dir).expect("read the FRR directory") {
            let path = entry.expect("FRR directory entry").path();
            std::os::unix::fs::chown(
                &path,
                Some(frr_user.uid.as_raw()),
                Some(frr_user.gid.as_raw()),
            )
            .expect("chown FRR's files");
        }
        std::os::unix::fs::chown(
            &dir,
            Some(frr_user.uid.as_raw()),
            Some(frr_user.gid.as_raw()),
        )
        .expect("chown the FRR directory");
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(self.dir(), fs::Permissions::from_mode(0o755))
                .expect("chmod the tempdir");
        }
        let mut frr = Frr {
            lab: self,
            dir,
            daemons: Vec::new(),
            starts: 0,
        };
        frr.start();
        frr
    }

    // ---------------------------------------------------------------------------------
    // The warden

    /// Writes `config` to `warden.toml` (and an empty `conf.d/`) and starts
    /// `anycast-warden run` inside the host namespace.
    /// `anycast-warden` with the files [`Lab::start_warden`] wrote (`--config`,
    /// `--config-dir`): add a subcommand such as `status --json` or `drain SERVICE`.
    pub fn warden_cli(&self) -> std::process::Command {
        let mut command = std::process::Command::new(WARDEN_BIN);
        command
            .arg("--config")
            .arg(self.path("warden.toml"))
            .arg("--config-dir")
            .arg(self.path("conf.d"));
        command
    }

    pub fn start_warden(&self, config: &str) -> Warden<'_> {
        let config_file = self.path("warden.toml");
        let config_dir = self.path("conf.d");
        fs::create_dir_all(&config_dir).expect("create conf.d");
        fs::write(&config_file, config).expect("write warden.toml");
        self.start_warden_files(&config_file, &config_dir)
    }

    /// Starts the warden on files the test wrote itself.
    pub fn start_warden_files(&self, config_file: &Path, config_dir: &Path) -> Warden<'_> {
        self.start_warden_files_env(config_file, config_dir, &[])
    }

    /// [`Lab::start_warden`] with extra environment variables (e.g. libfaketime's).
    pub fn start_warden_env(&self, config: &str, env: &[(&str, &str)]) -> Warden<'_> {
        let config_file = self.path("warden.toml");
        let config_dir = self.path("conf.d");
        fs::create_dir_all(&config_dir).expect("create conf.d");
        fs::write(&config_file, config).expect("write warden.toml");
        self.start_warden_files_env(&config_file, &config_dir, env)
    }

    /// [`Lab::start_warden`] with the warden's command line after `wrapper` (e.g. util-linux
    /// `setpriv ... --` to run it as another user with chosen capabilities) and run from
    /// `binary` (a copy other users may execute).
    pub fn start_warden_wrapped(
        &self,
        config: &str,
        wrapper: &[&str],
        binary: &Path,
    ) -> Warden<'_> {
        let config_file = self.path("warden.toml");
        let config_dir = self.path("conf.d");
        fs::create_dir_all(&config_dir).expect("create conf.d");
        fs::write(&config_file, config).expect("write warden.toml");
        self.start_warden_argv(&config_file, &config_dir, &[], wrapper, binary)
    }

    fn start_warden_files_env(
        &self,
        config_file: &Path,
        config_dir: &Path,
        env: &[(&str, &str)],
    ) -> Warden<'_> {
        self.start_warden_argv(config_file, config_dir, env, &[], Path::new(WARDEN_BIN))
    }

    fn start_warden_argv(
        &self,
        config_file: &Path,
        config_dir: &Path,
        env: &[(&str, &str)],
        wrapper: &[&str],
        binary: &Path,
    ) -> Warden<'_> {
        let rust_log = std::env::var("AW_WARDEN_LOG").unwrap_or_else(|_| "info".into());
        let mut env: Vec<(&str, &str)> = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "RUST_LOG") {
            env.push(("RUST_LOG", &rust_log));
        }
        let (config_file_text, config_dir_text, binary_text) = (
            config_file.to_string_lossy(),
            config_dir.to_string_lossy(),
            binary.to_string_lossy(),
        );
        let mut argv: Vec<&str> = wrapper.to_vec();
        argv.extend([
            &*binary_text,
            "run",
            "--config",
            &config_file_text,
            "--config-dir",
            &config_dir_text,
        ]);
        let pid = self
            .spawn_env("warden", Some(&self.host_ns), &argv, &env)
            .unwrap_or_else(|e| panic!("{e}"));
        Warden {
            lab: self,
            pid,
            config_file: config_file.to_path_buf(),
            config_dir: config_dir.to_path_buf(),
            stderr: self.path("warden.err"),
        }
    }

    /// A TCP listener on `127.0.0.1:port` inside the host namespace that accepts and
    /// closes every connection until [`NsListener::close`].
    pub fn host_tcp_listener(&self, port: u16) -> NsListener {
        NsListener::open(&self.host_ns, port)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        // Newest first: the warden (started last) still reaches BIRD for its final
        // withdrawal, and BIRD still has its session while the warden exits.
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for owned in procs.iter_mut().rev() {
            if owned.status.is_some() || owned.child.try_wait().ok().flatten().is_some() {
                continue;
            }
            let _ = kill(Pid::from_raw(owned.child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while owned.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if owned.child.try_wait().ok().flatten().is_none() {
                eprintln!(
                    "lab {}: {} ignored SIGTERM for 5 s; killing it",
                    self.name, owned.what
                );
                let _ = owned.child.kill();
                let _ = owned.child.wait();
            }
        }
        drop(procs);
        for pid in self
            .adopted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if !gone_or_zombie(*pid) {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
        }
        for ns in [&self.host_ns, &self.rtr_ns] {
            if Path::new(&format!("/run/netns/{ns}")).exists()
                && let Err(e) = run("ip", &["netns", "del", ns])
            {
                eprintln!("lab {}: {e}", self.name);
            }
        }
        let keep = match std::env::var("AW_LAB_KEEP").as_deref() {
            Ok("always") => true,
            Ok(_) => std::thread::panicking(),
            Err(_) => false,
        };
        if let Some(dir) = self.dir.take()
            && keep
        {
            eprintln!("lab {}: kept {}", self.name, dir.keep().display());
        }
    }
}

/// The warden's default dummy prefixes (what BIRD 1.6's sets hold when empty).
pub const DUMMY_V4: &str = "192.0.2.255/32";
pub const DUMMY_V6: &str = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128";

/// The BIRD 2 include file for a set of prefixes (what the warden writes, by hand).
pub fn render_bird2_sets(prefixes: &BTreeSet<IpNet>) -> String {
    let join = |v6: bool| {
        prefixes
            .iter()
            .filter(|p| p.addr().is_ipv6() == v6)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "define ANYCAST_PREFIXES = [ {} ];\ndefine ANYCAST6_PREFIXES = [ {} ];\n",
        join(false),
        join(true)
    )
}

/// Parses prefixes for tests; panics on a typo.
pub fn nets(list: &[&str]) -> BTreeSet<IpNet> {
    list.iter()
        .map(|p| p.parse().unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect()
}

/// GoBGP running in the router namespace.
pub struct Router<'a> {
    lab: &'a Lab,
    /// gobgpd's PID.
    pub pid: i32,
    /// `unix://<tempdir>/gobgp.sock`
    pub target: String,
    neighbors: usize,
}

impl Router<'_> {
    /// Runs the `gobgp` CLI against this router (its API is a unix socket in the
    /// tempdir, reachable from any namespace).
    pub fn gobgp(&self, args: &[&str]) -> Result<String, String> {
        let mut argv = vec!["--target", &self.target];
        argv.extend_from_slice(args);
        run("gobgp", &argv)
    }

    /// How many neighbors are Established.
    pub fn established(&self) -> Result<usize, String> {
        let out = self.gobgp(&["neighbor", "-j"])?;
        let json: serde_json::Value =
            serde_json::from_str(&out).map_err(|e| format!("gobgp neighbor -j: {e}: {out}"))?;
        Ok(json
            .as_array()
            .map(|peers| {
                peers
                    .iter()
                    // gobgp's apipb.PeerState.SessionState: 6 = ESTABLISHED
                    .filter(|p| p["state"]["session_state"].as_u64() == Some(6))
                    .count()
            })
            .unwrap_or(0))
    }

    /// Waits until every configured neighbor is Established; returns the time taken.
    pub fn wait_established(&self, timeout: Duration) -> Result<Duration, String> {
        let start = Instant::now();
        poll(timeout, Duration::from_millis(100), || {
            (self.established().ok()? == self.neighbors).then(|| start.elapsed())
        })
        .ok_or_else(|| {
            format!(
                "BGP sessions not Established after {timeout:?}: {}",
                self.gobgp(&["neighbor"]).unwrap_or_else(|e| e)
            )
        })
    }

    /// The prefixes the router has received (IPv4 and IPv6).
    pub fn rib(&self) -> Result<BTreeSet<IpNet>, String> {
        let mut all = BTreeSet::new();
        for family in ["ipv4", "ipv6"] {
            let out = self.gobgp(&["global", "rib", "-a", family, "-j"])?;
            let json: serde_json::Value = serde_json::from_str(&out)
                .map_err(|e| format!("gobgp global rib -a {family} -j: {e}: {out}"))?;
            // `{}` when empty, else {"203.0.113.53/32": [paths...], ...}
            if let Some(map) = json.as_object() {
                for key in map.keys() {
                    all.insert(key.parse().map_err(|e| format!("{key}: {e}"))?);
                }
            }
        }
        Ok(all)
    }

    /// Polls until the RIB is exactly `expected`; the time taken, or an error showing
    /// expected vs actual.
    pub fn wait_for_rib(
        &self,
        expected: &BTreeSet<IpNet>,
        timeout: Duration,
    ) -> Result<Duration, String> {
        self.poll_rib(timeout, |rib| rib == expected)
            .map_err(|last| match last {
                Ok(actual) => format!(
                    "router RIB after {timeout:?}:\n  expected {} {}\n  actual   {} {}\n  missing  {}\n  extra    {}",
                    expected.len(),
                    show(expected.iter()),
                    actual.len(),
                    show(actual.iter()),
                    show(expected.difference(&actual)),
                    show(actual.difference(expected)),
                ),
                Err(e) => format!("router RIB after {timeout:?}: {e}"),
            })
    }

    /// Polls until the RIB satisfies `pred` (`what` names the condition in the error);
    /// the time taken.
    pub fn wait_for_rib_where(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&BTreeSet<IpNet>) -> bool,
    ) -> Result<Duration, String> {
        self.poll_rib(timeout, pred).map_err(|last| match last {
            Ok(actual) => format!(
                "{what}: not within {timeout:?}; the router has {} {}",
                actual.len(),
                show(actual.iter())
            ),
            Err(e) => format!("{what}: not within {timeout:?}: {e}"),
        })
    }

    /// Reads the RIB until `pred` holds (the time taken) or `timeout` passes (the last
    /// reading).
    fn poll_rib(
        &self,
        timeout: Duration,
        pred: impl Fn(&BTreeSet<IpNet>) -> bool,
    ) -> Result<Duration, Result<BTreeSet<IpNet>, String>> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let asked = Instant::now();
            let last = self.rib();
            if matches!(&last, Ok(rib) if pred(rib)) {
                return Ok(start.elapsed());
            }
            if Instant::now() >= deadline {
                return Err(last);
            }
            // Reading a big RIB costs two gobgp processes; rest at least as long as that
            // took, so that polling does not slow down what it measures.
            std::thread::sleep(asked.elapsed().max(Duration::from_millis(25)));
        }
    }

    /// Starts `gobgp monitor global rib -j` (all families) and time-stamps each event as it
    /// is read. Call it before the events of interest; it is subscribed on return.
    pub fn monitor(&self) -> Monitor {
        let (pid, stdout) = self
            .lab
            .spawn_piped(
                "monitor",
                None,
                &[
                    "gobgp",
                    "--target",
                    &self.target,
                    "monitor",
                    "global",
                    "rib",
                    "-j",
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                let Ok(serde_json::Value::Array(paths)) = serde_json::from_str(&line) else {
                    continue;
                };
                let mut sink = sink.lock().unwrap();
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
            }
        });
        let monitor = Monitor {
            pid,
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

/// One neighbor of [`Lab::start_router_with`].
pub struct GobgpNeighbor<'s> {
    pub address: &'s str,
    pub peer_as: u32,
    /// TCP MD5 (RFC 2385) password.
    pub password: Option<&'s str>,
    /// gobgp's afi-safi names, e.g. "ipv4-unicast".
    pub families: &'s [&'s str],
    /// Graceful restart helper (RFC 4724): keep the neighbor's routes when it restarts.
    pub graceful_restart: bool,
}

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
        let (pid, stdout) = self
            .lab
            .spawn_piped(
                &label,
                Some(&self.lab.rtr_ns),
                // -tt: epoch time stamps from the kernel; -q: "tcp LEN" (payload bytes);
                // -l: a line as soon as a packet is seen; -Z root: stay root, so the
                // capture does not depend on a tcpdump user.
                &[
                    "tcpdump", "-i", veth, "-n", "-tt", "-q", "-l", "-Z", "root", &filter,
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let packets = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&packets);
        let (base_instant, base_wall) = (Instant::now(), std::time::SystemTime::now());
        let base_epoch = base_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some((epoch, len)) = parse_tcpdump_line(&line) else {
                    continue;
                };
                let offset = epoch - base_epoch;
                let at = if offset >= 0.0 {
                    base_instant + Duration::from_secs_f64(offset)
                } else {
                    base_instant - Duration::from_secs_f64(-offset)
                };
                sink.lock().unwrap().push(WirePacket { at, len });
            }
        });
        let wire = Wire {
            pid,
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
    /// The tcpdump process (owned and stopped by the lab).
    pub pid: i32,
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

/// A route the router originates itself to prove that a monitor is subscribed.
const MONITOR_MARKER: &str = "192.0.2.200/32";

fn show<'x>(nets: impl Iterator<Item = &'x IpNet>) -> String {
    let all: Vec<String> = nets.map(ToString::to_string).collect();
    if all.len() > 12 {
        format!("[{} ... and {} more]", all[..12].join(" "), all.len() - 12)
    } else {
        format!("[{}]", all.join(" "))
    }
}

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
    /// The `gobgp monitor` process (owned and stopped by the lab).
    pub pid: i32,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirdVariant {
    Bird2,
    Bird1,
}

/// One BIRD process and its control socket.
pub struct BirdDaemon {
    pub pid: i32,
    /// The birdc (or birdc6) binary.
    pub birdc: String,
    pub ctl: PathBuf,
    pub log: PathBuf,
    /// How it was started, to start it again after a kill.
    label: String,
    bird: String,
    conf: PathBuf,
}

/// The exact line BIRD (2.0.12 and 1.6.8) logs when a `configure` starts applying a new
/// configuration: `2026-01-01 12:00:00.000 <INFO> Reconfiguring`. It is logged once per
/// accepted `configure` (followed by "Reconfigured" when done).
pub const RECONFIGURE_LOG_LINE: &str = "<INFO> Reconfiguring";

/// BIRD on the host side: one daemon (BIRD 2) or two (BIRD 1.6: bird for IPv4, bird6).
pub struct Bird<'a> {
    lab: &'a Lab,
    pub variant: BirdVariant,
    /// BIRD 2: one; BIRD 1.6: [bird, bird6].
    pub daemons: Vec<BirdDaemon>,
}

impl Bird<'_> {
    /// Kills every daemon with SIGKILL, as a crash would, and waits until they are gone.
    pub fn kill(&mut self) {
        for d in &self.daemons {
            let _ = self.lab.signal(d.pid, Signal::SIGKILL);
            self.lab
                .wait_exit(d.pid, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("{}: {e}", d.label));
        }
    }

    /// Starts every daemon again from its configuration (after `kill`), as a supervisor
    /// would; returns once each control socket answers.
    pub fn start_again(&mut self) {
        let again: Vec<BirdDaemon> = self
            .daemons
            .iter()
            .map(|d| {
                // A crash leaves the socket file behind; clear it as an init script would.
                let _ = fs::remove_file(&d.ctl);
                self.lab
                    .start_bird_daemon(&d.label, &d.bird, &d.birdc, &d.conf, &d.ctl, &d.log)
            })
            .collect();
        self.daemons = again;
    }

    /// The (IPv4, for bird1) daemon.
    pub fn v4(&self) -> &BirdDaemon {
        &self.daemons[0]
    }

    /// bird6 of BIRD 1.6.
    pub fn v6(&self) -> &BirdDaemon {
        &self.daemons[1]
    }

    /// The include file the (v4) daemon reads.
    pub fn include_file(&self) -> PathBuf {
        self.lab.path("anycast-prefixes.conf")
    }

    /// bird6's include file (BIRD 1.6).
    pub fn include_file6(&self) -> PathBuf {
        self.lab.path("anycast6-prefixes.conf")
    }

    /// `birdc configure` on every daemon; BIRD's replies.
    pub fn configure(&self) -> Result<String, String> {
        let mut replies = String::new();
        for d in &self.daemons {
            let out = run(&d.birdc, &["-s", &d.ctl.to_string_lossy(), "configure"])?;
            if !out.contains("Reconfigured") && !out.contains("Reconfiguration in progress") {
                return Err(format!("{} configure: {out}", d.birdc));
            }
            replies.push_str(&out);
        }
        Ok(replies)
    }

    /// How many configurations each daemon has applied (lines ending in
    /// [`RECONFIGURE_LOG_LINE`] in its log), summed.
    pub fn reconfigure_count(&self) -> usize {
        self.daemons
            .iter()
            .map(|d| {
                fs::read_to_string(&d.log)
                    .unwrap_or_default()
                    .lines()
                    .filter(|l| l.trim_end().ends_with(RECONFIGURE_LOG_LINE))
                    .count()
            })
            .sum()
    }

    /// Waits until the reconfigure count stays the same for `quiet`; returns it.
    pub fn settled_reconfigure_count(&self, quiet: Duration, timeout: Duration) -> usize {
        settled_count(|| self.reconfigure_count(), quiet, timeout)
    }

    /// The `[bird]` section that points the warden at this BIRD, reconfiguring through the
    /// control socket (`control_socket = true`) or by running birdc (`reconfigure`).
    pub fn warden_section(&self, control_socket: bool) -> String {
        let mut s = String::from("[bird]\n");
        match self.variant {
            BirdVariant::Bird2 => {
                let d = self.v4();
                writeln!(s, "variant = \"bird2\"").unwrap();
                writeln!(
                    s,
                    "include_file = {:?}",
                    self.include_file().display().to_string()
                )
                .unwrap();
                if control_socket {
                    writeln!(s, "control_socket = {:?}", d.ctl.display().to_string()).unwrap();
                } else {
                    writeln!(
                        s,
                        "reconfigure = [{:?}, \"-s\", {:?}, \"configure\"]",
                        d.birdc,
                        d.ctl.display().to_string()
                    )
                    .unwrap();
                }
            }
            BirdVariant::Bird1 => {
                let (d4, d6) = (self.v4(), self.v6());
                writeln!(s, "variant = \"bird1\"").unwrap();
                writeln!(
                    s,
                    "include_file = {:?}",
                    self.include_file().display().to_string()
                )
                .unwrap();
                writeln!(
                    s,
                    "include_file6 = {:?}",
                    self.include_file6().display().to_string()
                )
                .unwrap();
                writeln!(s, "dummy_prefix = {DUMMY_V4:?}").unwrap();
                writeln!(s, "dummy_prefix6 = {DUMMY_V6:?}").unwrap();
                if control_socket {
                    writeln!(s, "control_socket = {:?}", d4.ctl.display().to_string()).unwrap();
                    writeln!(s, "control_socket6 = {:?}", d6.ctl.display().to_string()).unwrap();
                } else {
                    for (key, d) in [("reconfigure", d4), ("reconfigure6", d6)] {
                        writeln!(
                            s,
                            "{key} = [{:?}, \"-s\", {:?}, \"configure\"]",
                            d.birdc,
                            d.ctl.display().to_string()
                        )
                        .unwrap();
                    }
                }
            }
        }
        s
    }
}

/// Where the Debian package puts FRR's daemons.
pub const FRR_SBIN: &str = "/usr/lib/frr";
/// The FRR daemons the lab runs, in start order.
pub const FRR_DAEMONS: [&str; 3] = ["zebra", "staticd", "bgpd"];
/// FRR's shell (also the warden's default `vtysh`).
pub const VTYSH: &str = "/usr/bin/vtysh";
/// What the warden logs once for every vtysh run that changes FRR's configuration.
pub const FRR_CHANGE_LOG_LINE: &str = "changed FRR's configuration";

/// What FRR's configuration holds besides the BGP session every FRR lab has.
#[derive(Debug, Default, Clone, Copy)]
pub struct FrrConf<'s> {
    /// Lines for staticd.conf: hand-made static routes.
    pub statics: &'s str,
    /// Lines inside the default instance's IPv4 unicast family: hand-made statements.
    pub bgp_v4: &'s str,
    /// Lines after the default instance, e.g. a VRF's instance.
    pub bgp_more: &'s str,
    /// Lines for zebra.conf, e.g. `zebra work-queue 0`.
    pub zebra: &'s str,
}

/// bgpd.conf: AS 65001 peering with the router, `redistribute static` for static mode,
/// no advertisement interval (else FRR holds UPDATEs back for a while after the first).
fn render_bgpd_conf(conf: &FrrConf) -> String {
    format!(
        "frr defaults traditional
router bgp {HOST_AS}
 bgp router-id {HOST_V4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor {ROUTER_V4} remote-as {ROUTER_AS}
 neighbor {ROUTER_V4} timers connect 1
 neighbor {ROUTER_V4} advertisement-interval 0
 address-family ipv4 unicast
  redistribute static
  neighbor {ROUTER_V4} activate
{}
 exit-address-family
 address-family ipv6 unicast
  redistribute static
  neighbor {ROUTER_V4} activate
 exit-address-family
exit
{}
",
        conf.bgp_v4, conf.bgp_more
    )
}

/// How the warden makes FRR announce (`mode` in `[frr]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrrMode {
    /// `network` statements: for service addresses on `lo`.
    Network,
    /// Tagged static routes to Null0, announced by `redistribute static`: for prefixes
    /// that are not on the host.
    Static,
}

impl FrrMode {
    /// The word in `[frr]`.
    pub fn as_str(self) -> &'static str {
        match self {
            FrrMode::Network => "network",
            FrrMode::Static => "static",
        }
    }
}

/// One running FRR daemon.
pub struct FrrDaemon {
    /// `zebra`, `staticd` or `bgpd`.
    pub name: &'static str,
    pub pid: i32,
}

/// FRR on the host side: zebra, staticd and bgpd, children of the lab.
pub struct Frr<'a> {
    lab: &'a Lab,
    /// FRR's directory: configuration, pid files, zserv.api and the vty sockets.
    pub dir: PathBuf,
    /// The daemons of the current start (empty after [`Frr::kill`]).
    pub daemons: Vec<FrrDaemon>,
    /// How many times FRR was started, so that each start has its own log files.
    starts: usize,
}

impl Frr<'_> {
    /// Starts the three daemons from the files in [`Frr::dir`] and waits until vtysh shows
    /// the BGP instance. After [`Frr::kill`] this is a restart: FRR comes back from its own
    /// configuration files, without what vtysh changed since.
    pub fn start(&mut self) {
        assert!(self.daemons.is_empty(), "FRR is already running");
        self.starts += 1;
        let d = self.dir.display().to_string();
        let zserv = format!("{d}/zserv.api");
        for name in FRR_DAEMONS {
            // A killed daemon leaves its pid file behind.
            let _ = fs::remove_file(format!("{d}/{name}.pid"));
            let owned = frr_daemon_argv(&d, name, HOST_V4);
            let argv: Vec<&str> = owned.iter().map(String::as_str).collect();
            let label = if self.starts == 1 {
                name.to_string()
            } else {
                format!("{name}-{}", self.starts)
            };
            if name == "zebra" {
                // A killed zebra leaves its socket behind; zebra replaces it at start.
                let _ = fs::remove_file(&zserv);
            }
            let pid = self
                .lab
                .spawn(&label, Some(&self.lab.host_ns), &argv)
                .unwrap_or_else(|e| panic!("{e}"));
            self.daemons.push(FrrDaemon { name, pid });
            if name == "zebra" {
                // staticd and bgpd start only once zebra listens, as FRR's init script
                // does it: a daemon that finds no zebra retries after 10 s (lib/zclient.c),
                // and until then FRR neither installs nor redistributes its static routes.
                poll(Duration::from_secs(15), Duration::from_millis(10), || {
                    assert!(self.lab.is_running(pid), "zebra exited at start");
                    Path::new(&zserv).exists().then_some(())
                })
                .unwrap_or_else(|| panic!("zebra did not open {zserv} within 15 s"));
            }
        }
        poll(Duration::from_secs(15), Duration::from_millis(50), || {
            for daemon in &self.daemons {
                assert!(
                    self.lab.is_running(daemon.pid),
                    "{} exited at start",
                    daemon.name
                );
            }
            let every_socket = FRR_DAEMONS
                .iter()
                .all(|name| self.dir.join(format!("{name}.vty")).exists());
            (every_socket
                && self
                    .vtysh(&["-c", "show running-config"])
                    .is_ok_and(|c| c.contains(&format!("router bgp {HOST_AS}"))))
            .then_some(())
        })
        .unwrap_or_else(|| panic!("FRR did not answer vtysh within 15 s"));
    }

    /// Kills bgpd, staticd and zebra with SIGKILL, as a crash would (FRR cleans nothing
    /// up), and waits until they are gone.
    pub fn kill(&mut self) {
        for daemon in self.daemons.drain(..).rev() {
            let _ = self.lab.signal(daemon.pid, Signal::SIGKILL);
            self.lab
                .wait_exit(daemon.pid, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("{}: {e}", daemon.name));
        }
    }

    /// Runs vtysh against this FRR; its output.
    pub fn vtysh(&self, args: &[&str]) -> Result<String, String> {
        let mut argv = vec!["--vty_socket", self.dir.to_str().expect("UTF-8 tempdir")];
        argv.extend_from_slice(args);
        run(VTYSH, &argv)
    }

    /// `show running-config`.
    pub fn running_config(&self) -> String {
        self.vtysh(&["-c", "show running-config"])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The `[frr]` section that points the warden at this FRR in `mode`. More keys of the
    /// section (`tag`, `asn`, `verify_interval`) may follow it.
    pub fn warden_section(&self, mode: FrrMode) -> String {
        self.section_with_vtysh(mode, VTYSH)
    }

    /// Like `warden_section`, with a vtysh that does not exist: the warden can then only
    /// reach FRR over the vty sockets (its default transport), which the test proves.
    pub fn warden_section_without_vtysh(&self, mode: FrrMode) -> String {
        self.section_with_vtysh(mode, "/nonexistent/vtysh")
    }

    fn section_with_vtysh(&self, mode: FrrMode, vtysh: &str) -> String {
        format!(
            "[frr]\nvtysh = {vtysh:?}\nvty_socket = {:?}\nmode = {:?}\n",
            self.dir.display().to_string(),
            mode.as_str()
        )
    }
}

/// The command line of FRR daemon `name` (zebra, staticd, bgpd) with everything under
/// `dir`: its configuration, pid file, vty sockets and zebra's socket. No -N: with every
/// path given, no path space directory under /var/run/frr. bgpd listens on `bgp_listen`.
pub fn frr_daemon_argv(dir: &str, name: &str, bgp_listen: &str) -> Vec<String> {
    let mut argv: Vec<String> = [
        format!("{FRR_SBIN}/{name}"),
        "--vty_socket".into(),
        dir.into(),
        "-u".into(),
        "frr".into(),
        "-g".into(),
        "frr".into(),
        "-f".into(),
        format!("{dir}/{name}.conf"),
        "-i".into(),
        format!("{dir}/{name}.pid"),
        "-z".into(),
        format!("{dir}/zserv.api"),
        "-P".into(),
        "0".into(),
        "--log".into(),
        "stdout".into(),
    ]
    .into();
    if name == "bgpd" {
        argv.extend(["-l".into(), bgp_listen.into()]);
    }
    argv
}

/// anycast-warden running in the host namespace.
pub struct Warden<'a> {
    lab: &'a Lab,
    /// The warden's own PID (`ip netns exec` execs).
    pub pid: i32,
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    stderr: PathBuf,
}

impl Warden<'_> {
    pub fn signal(&self, signal: Signal) -> Result<(), String> {
        self.lab.signal(self.pid, signal)
    }

    pub fn is_running(&self) -> bool {
        self.lab.is_running(self.pid)
    }

    pub fn wait_exit(&self, timeout: Duration) -> Result<ExitStatus, String> {
        self.lab.wait_exit(self.pid, timeout)
    }

    /// What the warden logged so far: its log lines go to stdout, early errors (an
    /// invalid configuration) to stderr.
    pub fn log(&self) -> String {
        let mut text = fs::read_to_string(self.stderr.with_extension("out")).unwrap_or_default();
        text.push_str(&fs::read_to_string(&self.stderr).unwrap_or_default());
        text
    }

    /// How many times `needle` occurs in the log.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits until the log holds `needle` at least `times` times.
    pub fn wait_for_log(
        &self,
        needle: &str,
        times: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        poll(timeout, Duration::from_millis(20), || {
            (self.log_count(needle) >= times).then_some(())
        })
        .ok_or_else(|| format!("the warden did not log {needle:?} ×{times} within {timeout:?}"))
    }

    /// Replaces the main configuration file (then send SIGHUP).
    pub fn write_config(&self, text: &str) {
        fs::write(&self.config_file, text).expect("write warden.toml");
    }

    /// Writes a file in the configuration directory.
    pub fn write_service_file(&self, name: &str, text: &str) {
        fs::write(self.config_dir.join(name), text).expect("write conf.d file");
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

/// The host's BIRD 2 configuration: `log_line`, the include file, and one BGP session to
/// the router that exports what `ANYCAST_PREFIXES` / `ANYCAST6_PREFIXES` allow.
pub fn bird2_conf(log_line: &str, include: &Path) -> String {
    format!(
        r#"{log_line}
router id {HOST_V4};
include "{include}";
protocol device {{ scan time 10; }}
protocol direct {{ ipv4; ipv6; interface "lo"; }}
protocol bgp rtr {{
  local {HOST_V4} as {HOST_AS}; neighbor {ROUTER_V4} as {ROUTER_AS};
  connect delay time 1; connect retry time 1;
  ipv4 {{ import none; export where net ~ ANYCAST_PREFIXES; }};
  ipv6 {{ import none; export where net ~ ANYCAST6_PREFIXES; next hop address {HOST_V6}; }};
}}
"#,
        include = include.display()
    )
}

/// A finished command's stdout and stderr, one after the other, for assertions and panics.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
