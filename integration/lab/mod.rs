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
//!
//! The parts: [`needs`] (prerequisites, the SKIPPED/CI policy), [`process`] (the children
//! and how they are stopped), [`netns`] (namespaces, veth, addresses on `lo`, listeners),
//! [`gobgp`], [`monitor`] and [`wire`] (the router and what it receives), [`bird`] and
//! [`frr`] (the host's routing daemon), [`peers`] (BIRD or FRR as the router instead),
//! [`warden`] (the daemon under test), [`warden_config`] (its configuration, typed) and
//! [`machine`] (tests that load the whole machine start with [`Lab::new_alone_or_skip`]).

pub mod bird;
pub mod frr;
pub mod gobgp;
pub mod machine;
pub mod monitor;
pub mod needs;
pub mod netns;
pub mod peers;
pub mod process;
pub mod warden;
pub mod warden_config;
pub mod wire;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use ipnet::IpNet;
use machine::Claim;
use needs::{Need, missing, skip_outside_ci};
use process::Owned;

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
    /// Held until everything above is gone (fields drop after [`Lab`]'s `drop`).
    _claim: Claim,
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

    /// Like [`Lab::new_or_skip`], for a test that loads the whole machine: it waits until
    /// no other test holds a claim on the machine and runs alone ([`machine`]).
    pub fn new_alone_or_skip(test: &str, needs: &[Need]) -> Option<Lab> {
        if let Some(why) = missing(needs) {
            skip_outside_ci(test, &why);
            return None;
        }
        Some(Lab::with_claim(test, Claim::alone()))
    }

    /// Creates the namespaces and the veth pair with the lab's addresses, beside other
    /// tests ([`machine`]). Panics on failure (after cleaning up what it created).
    pub fn new(test: &str) -> Lab {
        Lab::with_claim(test, Claim::shared())
    }

    fn with_claim(test: &str, claim: Claim) -> Lab {
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
            _claim: claim,
        };
        // From here on, Drop deletes whatever exists.
        if let Err(e) = lab.build_network() {
            panic!("lab {}: cannot build the network: {e}", lab.name);
        }
        lab
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
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        self.stop_every_process();
        self.delete_namespaces();
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

/// Parses prefixes for tests; panics on a typo.
pub fn nets(list: &[&str]) -> BTreeSet<IpNet> {
    list.iter()
        .map(|p| p.parse().unwrap_or_else(|e| panic!("{p}: {e}")))
        .collect()
}
