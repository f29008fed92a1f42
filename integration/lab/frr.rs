//! FRR on the host side: zebra, staticd and bgpd as children of the lab, driven by the
//! warden through vtysh or the vty sockets, and the `[frr]` section that points it there.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::process::{poll, run};
use super::warden_config::FrrSection;
use super::{HOST_AS, HOST_V4, Lab, ROUTER_AS, ROUTER_V4};

impl Lab {
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
        self.hand_to_frr(&dir);
        let mut frr = Frr {
            lab: self,
            dir,
            daemons: Vec::new(),
            starts: 0,
        };
        frr.start();
        frr
    }

    /// Gives `dir` and the files in it to user frr, as FRR's daemons drop to it and must
    /// reach (and write to) their directory; the tempdir itself, 0700 root, becomes 0755.
    pub(super) fn hand_to_frr(&self, dir: &Path) {
        use std::os::unix::fs::PermissionsExt;
        let frr_user = nix::unistd::User::from_name("frr")
            .ok()
            .flatten()
            .expect("user frr (apt-get install frr)");
        let owner = (Some(frr_user.uid.as_raw()), Some(frr_user.gid.as_raw()));
        let entries = fs::read_dir(dir).expect("read the FRR directory");
        for path in entries
            .map(|e| e.expect("FRR directory entry").path())
            .chain([dir.to_path_buf()])
        {
            std::os::unix::fs::chown(&path, owner.0, owner.1).expect("chown FRR's files");
        }
        fs::set_permissions(self.dir(), fs::Permissions::from_mode(0o755))
            .expect("chmod the tempdir");
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
    pub fn warden_section(&self, mode: FrrMode) -> FrrSection {
        FrrSection::new(VTYSH, &self.dir, mode)
    }

    /// Like `warden_section`, with a vtysh that does not exist: the warden can then only
    /// reach FRR over the vty sockets (its default transport), which the test proves.
    pub fn warden_section_without_vtysh(&self, mode: FrrMode) -> FrrSection {
        FrrSection::new("/nonexistent/vtysh", &self.dir, mode)
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
