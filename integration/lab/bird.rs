//! BIRD on the host side: BIRD 2 (one daemon) or BIRD 1.6 (bird for IPv4, bird6 for
//! IPv6), its configuration, include files and control sockets, and the `[bird]` section
//! that points the warden at it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use nix::sys::signal::Signal;

use super::gobgp::Router;
use super::needs::{Need, bird1_sbin};
use super::process::{poll, run, settled_count};
use super::warden_config::BirdSection;
use super::{HOST_AS, HOST_V4, HOST_V6, Lab, ROUTER_AS, ROUTER_V4, ROUTER_V6};

/// The lab most BIRD tests run in: GoBGP as the router and BIRD (`variant`) on the host,
/// their sessions Established, handed to `body`. Without root or the daemons it returns
/// after printing SKIPPED (a failure with `CI=true`).
pub fn with_bird(test: &str, variant: BirdVariant, body: impl FnOnce(&Lab, &Router, &mut Bird)) {
    let need = match variant {
        BirdVariant::Bird2 => Need::Bird2,
        BirdVariant::Bird1 => Need::Bird1,
    };
    let Some(lab) = Lab::new_or_skip(test, &[need, Need::Gobgp]) else {
        return;
    };
    let (router, mut bird) = lab.start_router_and_bird(variant);
    body(&lab, &router, &mut bird);
}

impl Lab {
    /// Starts the router and BIRD (`variant`) and waits up to 30 s until every session is
    /// Established; panics if they are not.
    pub fn start_router_and_bird(&self, variant: BirdVariant) -> (Router<'_>, Bird<'_>) {
        // BIRD 1.6's bird6 has a session of its own, over IPv6.
        let router = self.start_router(variant == BirdVariant::Bird1);
        let bird = match variant {
            BirdVariant::Bird2 => self.start_bird2(),
            BirdVariant::Bird1 => self.start_bird1(),
        };
        router
            .wait_established(Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{e}"));
        (router, bird)
    }

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
        let pid = self.spawn_bird(label, &self.host_ns, bird, conf, ctl, &pidfile);
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

    /// Runs `bird` in the foreground in `ns` with its files given; its PID.
    pub(super) fn spawn_bird(
        &self,
        label: &str,
        ns: &str,
        bird: &str,
        conf: &Path,
        ctl: &Path,
        pidfile: &Path,
    ) -> i32 {
        let (conf, ctl, pidfile) = (
            conf.to_string_lossy(),
            ctl.to_string_lossy(),
            pidfile.to_string_lossy(),
        );
        let argv = [bird, "-f", "-c", &conf, "-s", &ctl, "-P", &pidfile];
        self.spawn(label, Some(ns), &argv)
            .unwrap_or_else(|e| panic!("{e}"))
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
    pub fn warden_section(&self, control_socket: bool) -> BirdSection {
        let birdc = |d: &BirdDaemon| {
            let ctl = d.ctl.display().to_string();
            [d.birdc.clone(), "-s".into(), ctl, "configure".into()]
        };
        let section = BirdSection::new(self.variant, &self.include_file());
        match (self.variant, control_socket) {
            (BirdVariant::Bird2, true) => section.control_socket(&self.v4().ctl),
            (BirdVariant::Bird2, false) => section.reconfigure(&birdc(self.v4())),
            (BirdVariant::Bird1, _) => {
                let section = section
                    .include_file6(&self.include_file6())
                    .dummy_prefixes(DUMMY_V4, DUMMY_V6);
                if control_socket {
                    section
                        .control_socket(&self.v4().ctl)
                        .control_socket6(&self.v6().ctl)
                } else {
                    section
                        .reconfigure(&birdc(self.v4()))
                        .reconfigure6(&birdc(self.v6()))
                }
            }
        }
    }
}
