//! A throwaway lab for the FRR backend: two network namespaces joined by a veth pair,
//! FRR (zebra, staticd, bgpd; no watchfrr, no systemd) on the host side with its own vty
//! socket directory, GoBGP as the observing router on the other, and the warden itself.
//!
//! ```text
//!   host namespace  <name>h                        router namespace <name>r
//!   ┌───────────────────────────────┐  veth        ┌──────────────────────────┐
//!   │ lo: service addresses         │ 192.0.2.1/30 │ gobgpd AS 65000          │
//!   │ zebra, staticd, bgpd AS 65001 ├──────────────┤ API on a Unix socket     │
//!   │ anycast-warden ──vtysh──▶ FRR │ 192.0.2.2/30 │ (RIB read by the test)   │
//!   └───────────────────────────────┘              └──────────────────────────┘
//! ```
//! Names start with `awf` and carry the test's own tag and this process's id, so tests run
//! in parallel. `Drop` kills only the processes this lab started (by PID) and deletes the
//! namespaces, also when the test panics. Only documentation addresses are used, only
//! inside these namespaces.
//!
//! Policy: without root or the daemons, a test prints `SKIPPED: <why>` and returns, unless
//! `CI=true`, where that is a failure.

#![allow(dead_code)] // each test binary uses a different part of the lab

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ZEBRA: &str = "/usr/lib/frr/zebra";
pub const STATICD: &str = "/usr/lib/frr/staticd";
pub const BGPD: &str = "/usr/lib/frr/bgpd";
pub const VTYSH: &str = "/usr/bin/vtysh";

/// The BGP part of bgpd.conf that every lab has: AS 65001 peering with the router, with
/// `redistribute static` for static mode. `extra` goes into the default instance's IPv4
/// unicast family (hand-made statements); `more` after the instance (e.g. a VRF instance).
pub fn bgpd_conf(extra_v4: &str, more: &str) -> String {
    format!(
        "frr defaults traditional
hostname awf-bgpd
router bgp 65001
 bgp router-id 192.0.2.1
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor 192.0.2.2 remote-as 65000
 neighbor 192.0.2.2 timers connect 1
 neighbor 192.0.2.2 advertisement-interval 0
 address-family ipv4 unicast
  redistribute static
  neighbor 192.0.2.2 activate
{extra_v4}
 exit-address-family
 address-family ipv6 unicast
  redistribute static
  neighbor 192.0.2.2 activate
 exit-address-family
exit
{more}
"
    )
}

const ROUTER_CONF: &str = r#"[global.config]
  as = 65000
  router-id = "192.0.2.2"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = 65001
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
"#;

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Why the lab cannot run here, if it cannot.
fn missing_prerequisite() -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces)".into());
    }
    for binary in [ZEBRA, STATICD, BGPD, VTYSH] {
        if !Path::new(binary).exists() {
            return Some(format!("{binary} is missing (apt-get install frr)"));
        }
    }
    for program in ["ip", "gobgpd", "gobgp"] {
        let found = Command::new(program)
            .arg(if program == "ip" { "-V" } else { "--version" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!(
                "{program} is missing (apt-get install iproute2 gobgpd)"
            ));
        }
    }
    None
}

/// The effective uid from /proc (the crate's nix has no `user` feature).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Runs a command that must work (lab setup); panics with its output otherwise.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One lab. Dropping it tears everything down.
pub struct FrrLab {
    pub name: String,
    pub host: String,
    pub router: String,
    pub dir: tempfile::TempDir,
    /// FRR's config, pid files and vty sockets.
    pub frr_dir: PathBuf,
    gobgpd: Option<Child>,
    pub warden: Option<Child>,
}

impl FrrLab {
    /// Builds the namespaces and starts FRR and GoBGP, or returns `None` after printing
    /// `SKIPPED: <why>` (a panic under `CI=true`). `tag`: two letters unique per test.
    pub fn start(test: &str, tag: &str, staticd_conf: &str, bgpd_conf: &str) -> Option<FrrLab> {
        if let Some(why) = missing_prerequisite() {
            assert!(!ci(), "{test}: the lab cannot run although CI=true: {why}");
            eprintln!("SKIPPED: {test}: {why}");
            return None;
        }
        let name = format!("awf{}{tag}", std::process::id() % 100_000);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir()
            .expect("temp dir");
        let frr_dir = dir.path().join("frr");
        let mut lab = FrrLab {
            host: format!("{name}h"),
            router: format!("{name}r"),
            name,
            dir,
            frr_dir,
            gobgpd: None,
            warden: None,
        };
        lab.build_network();
        lab.write_frr_conf(staticd_conf, bgpd_conf);
        lab.start_frr();
        lab.start_router();
        Some(lab)
    }

    fn build_network(&self) {
        let (h, r) = (self.host.as_str(), self.router.as_str());
        let (hv, rv) = (format!("{}h0", self.name), format!("{}r0", self.name));
        sh("ip", &["netns", "add", h]);
        sh("ip", &["netns", "add", r]);
        sh(
            "ip",
            &["link", "add", &hv, "type", "veth", "peer", "name", &rv],
        );
        sh("ip", &["link", "set", &hv, "netns", h]);
        sh("ip", &["link", "set", &rv, "netns", r]);
        sh("ip", &["-n", h, "addr", "add", "192.0.2.1/30", "dev", &hv]);
        sh("ip", &["-n", r, "addr", "add", "192.0.2.2/30", "dev", &rv]);
        sh(
            "ip",
            &[
                "-n",
                h,
                "-6",
                "addr",
                "add",
                "2001:db8:1::1/64",
                "dev",
                &hv,
                "nodad",
            ],
        );
        sh(
            "ip",
            &[
                "-n",
                r,
                "-6",
                "addr",
                "add",
                "2001:db8:1::2/64",
                "dev",
                &rv,
                "nodad",
            ],
        );
        for ns in [h, r] {
            sh("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        sh("ip", &["-n", h, "link", "set", &hv, "up"]);
        sh("ip", &["-n", r, "link", "set", &rv, "up"]);
    }

    /// Assigns a service address to the host's loopback (network mode needs it there).
    pub fn add_loopback_address(&self, prefix: &str) {
        let mut args = vec!["-n", self.host.as_str()];
        if prefix.contains(':') {
            args.push("-6");
        }
        args.extend(["addr", "add", prefix, "dev", "lo"]);
        sh("ip", &args);
    }

    fn write_frr_conf(&self, staticd_conf: &str, bgpd_conf: &str) {
        std::fs::create_dir_all(&self.frr_dir).expect("frr dir");
        let files = [
            (
                "zebra.conf",
                "frr defaults traditional\nhostname awf-zebra\n".to_string(),
            ),
            (
                "staticd.conf",
                format!("frr defaults traditional\nhostname awf-staticd\n{staticd_conf}\n"),
            ),
            ("bgpd.conf", bgpd_conf.to_string()),
        ];
        for (file, text) in files {
            std::fs::write(self.frr_dir.join(file), text).expect("write frr conf");
        }
        let dir = self.frr_dir.display().to_string();
        sh("chown", &["-R", "frr:frr", &dir]);
        // The temp dir is 0700 root: let the frr user reach its directory.
        sh("chmod", &["755", &self.dir.path().display().to_string()]);
    }

    /// Starts zebra, staticd and bgpd (daemonised; their PIDs are in pid files here).
    pub fn start_frr(&self) {
        let d = self.frr_dir.display().to_string();
        let zserv = format!("{d}/zserv.api");
        for (daemon, name) in [(ZEBRA, "zebra"), (STATICD, "staticd"), (BGPD, "bgpd")] {
            let conf = format!("{d}/{name}.conf");
            let pid = format!("{d}/{name}.pid");
            let mut args = vec![
                "netns",
                "exec",
                &self.host,
                daemon,
                "-d",
                "-N",
                &self.name,
                "--vty_socket",
                &d,
                "-u",
                "frr",
                "-g",
                "frr",
                "-f",
                &conf,
                "-i",
                &pid,
                "-z",
                &zserv,
                "-P",
                "0",
            ];
            if name == "bgpd" {
                args.extend(["-l", "192.0.2.1"]);
            }
            sh("ip", &args);
        }
        // vtysh answers once every daemon's socket is there.
        self.wait_until("FRR answers vtysh", Duration::from_secs(10), || {
            self.vtysh(&["-c", "show running-config"])
                .is_ok_and(|t| t.contains("router bgp 65001"))
        });
    }

    /// Kills zebra, staticd and bgpd by the PIDs in their pid files and waits until they
    /// are gone (as a crash would: no clean-up by FRR).
    pub fn kill_frr(&self) {
        for name in ["bgpd", "staticd", "zebra"] {
            let pid_file = self.frr_dir.join(format!("{name}.pid"));
            let Some(pid) = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse::<i32>().ok())
            else {
                continue;
            };
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            let proc_dir = PathBuf::from(format!("/proc/{pid}"));
            let until = Instant::now() + Duration::from_secs(5);
            while proc_dir.exists() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = std::fs::remove_file(&pid_file);
        }
    }

    fn start_router(&mut self) {
        let conf = self.dir.path().join("router.toml");
        std::fs::write(&conf, ROUTER_CONF).expect("router conf");
        let api = format!("unix://{}", self.gobgp_socket().display());
        let log = std::fs::File::create(self.dir.path().join("gobgpd.log")).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.router, "gobgpd", "-f"])
            .arg(&conf)
            .args(["-t", "toml", "--api-hosts", &api, "--pprof-disable", "-p"])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("gobgpd");
        self.gobgpd = Some(child);
    }

    fn gobgp_socket(&self) -> PathBuf {
        self.dir.path().join("gobgp.sock")
    }

    /// The prefixes GoBGP received, IPv4 and IPv6 ("" when it does not answer yet).
    pub fn rib(&self) -> BTreeSet<String> {
        let target = format!("unix://{}", self.gobgp_socket().display());
        let mut found = BTreeSet::new();
        for family in ["ipv4", "ipv6"] {
            let Ok(out) = Command::new("gobgp")
                .args(["--target", &target, "global", "rib", "-a", family, "-j"])
                .output()
            else {
                continue;
            };
            // {"203.0.113.53/32":[{"nlri":{"prefix":"203.0.113.53/32"},...}],...}
            let text = String::from_utf8_lossy(&out.stdout);
            for piece in text.split("\"nlri\":{\"prefix\":\"").skip(1) {
                if let Some(end) = piece.find('"') {
                    found.insert(piece[..end].to_string());
                }
            }
        }
        found
    }

    /// Waits until the router's RIB satisfies `ok`; panics with the RIB after `timeout`.
    pub fn wait_rib(&self, what: &str, timeout: Duration, ok: impl Fn(&BTreeSet<String>) -> bool) {
        let until = Instant::now() + timeout;
        loop {
            let rib = self.rib();
            if ok(&rib) {
                return;
            }
            assert!(
                Instant::now() < until,
                "{what}: not within {timeout:?}; router has {rib:?}\nwarden log:\n{}",
                self.warden_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn() -> bool) {
        let until = Instant::now() + timeout;
        while !ok() {
            assert!(Instant::now() < until, "{what}: not within {timeout:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs vtysh against this lab's FRR.
    pub fn vtysh(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(VTYSH)
            .arg("--vty_socket")
            .arg(&self.frr_dir)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(text)
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    pub fn running_config(&self) -> String {
        self.vtysh(&["-c", "show running-config"])
            .unwrap_or_else(|e| panic!("vtysh: {e}"))
    }

    /// The file whose existence makes service `name` healthy.
    pub fn up_file(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("up-{name}"))
    }

    pub fn set_up(&self, name: &str, up: bool) {
        let file = self.up_file(name);
        if up {
            std::fs::write(&file, "").expect("up file");
        } else {
            let _ = std::fs::remove_file(&file);
        }
    }

    /// A `[[service]]` checked every 100 ms, up while its up file exists.
    pub fn service(&self, name: &str, prefixes: &str, ip_check: bool) -> String {
        format!(
            "[[service]]\nname = \"{name}\"\nprefixes = [{prefixes}]\ninterval = \"100ms\"\ntimeout = \"1s\"\nrise = 1\nfall = 1\nip_check = {ip_check}\n[[service.check]]\nkind = \"exec\"\ncommand = [\"test\", \"-e\", \"{}\"]\n",
            self.up_file(name).display()
        )
    }

    /// Starts the warden in the host namespace with `[frr]` pointing at this lab's FRR
    /// (`frr_extra`: more lines of `[frr]`), and the services given.
    pub fn start_warden(&mut self, frr_extra: &str, services: &str) {
        let config = self.dir.path().join("warden.toml");
        let confd = self.dir.path().join("conf.d");
        std::fs::create_dir_all(&confd).expect("conf.d");
        let text = format!(
            "[daemon]\nstate_dir = \"{}\"\nbatch_window = \"20ms\"\n[frr]\nvty_socket = \"{}\"\nverify_interval = \"500ms\"\n{frr_extra}\n{services}",
            self.dir.path().join("state").display(),
            self.frr_dir.display()
        );
        std::fs::write(&config, text).expect("warden config");
        let log = std::fs::File::create(self.dir.path().join("warden.log")).expect("log");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.host,
                env!("CARGO_BIN_EXE_anycast-warden"),
            ])
            .arg("--config")
            .arg(&config)
            .arg("--config-dir")
            .arg(&confd)
            .arg("run")
            .env("RUST_LOG", "anycast_warden=debug")
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("warden");
        self.warden = Some(child);
    }

    /// SIGTERM to the warden; returns whether it exited with status 0 within 10 s.
    pub fn stop_warden(&mut self) -> bool {
        let Some(mut child) = self.warden.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if Instant::now() > until {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn warden_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("warden.log")).unwrap_or_default()
    }
}

impl Drop for FrrLab {
    fn drop(&mut self) {
        for child in [self.warden.take(), self.gobgpd.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
        self.kill_frr();
        for ns in [&self.host, &self.router] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}
