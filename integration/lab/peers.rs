//! BIRD 2 and FRR as the *receiving* router, in the router namespace: the peers of the
//! built-in speaker's interop tests (GoBGP is [`super::gobgp::Router`]). Each keeps its files in
//! the lab's tempdir and is a child of the lab, like every other daemon.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::frr::VTYSH;
use super::process::{poll, run};
use super::{HOST_AS, HOST_V4, HOST_V6, Lab, ROUTER_AS, ROUTER_V4, ROUTER_V6};

/// BIRD 2 in the router namespace, importing everything the host sends.
pub struct BirdPeer {
    ctl: PathBuf,
}

impl Lab {
    /// Starts BIRD 2 as AS 65000 at 192.0.2.2 with eBGP sessions to the host (IPv4 and
    /// IPv6 unicast, over IPv4, and over IPv6 with `extended next hop on` for RFC 8950),
    /// importing all and exporting nothing.
    pub fn start_bird2_peer(&self) -> BirdPeer {
        let log = self.path("rtr-bird.log");
        let ctl = self.path("rtr-bird.ctl");
        let conf = self.path("rtr-bird.conf");
        fs::write(
            &conf,
            format!(
                r#"log "{log}" all;
router id {ROUTER_V4};
protocol device {{ scan time 10; }}
protocol bgp warden {{
  local {ROUTER_V4} as {ROUTER_AS}; neighbor {HOST_V4} as {HOST_AS};
  connect delay time 1; connect retry time 1;
  ipv4 {{ import all; export none; }};
  ipv6 {{ import all; export none; }};
}}
protocol bgp warden6 {{
  local {ROUTER_V6} as {ROUTER_AS}; neighbor {HOST_V6} as {HOST_AS};
  connect delay time 1; connect retry time 1;
  ipv4 {{ import all; export none; extended next hop on; }};
  ipv6 {{ import all; export none; }};
}}
"#,
                log = log.display()
            ),
        )
        .expect("write the router's bird.conf");
        self.add_log("router bird log", &log);
        let pidfile = self.path("rtr-bird.pid");
        let pid = self.spawn_bird("rtr-bird", &self.rtr_ns, "bird", &conf, &ctl, &pidfile);
        let peer = BirdPeer { ctl };
        poll(Duration::from_secs(15), Duration::from_millis(50), || {
            assert!(self.is_running(pid), "the router's BIRD exited at start");
            peer.birdc(&["show", "status"]).ok()
        })
        .unwrap_or_else(|| panic!("the router's BIRD did not answer within 15 s"));
        peer
    }

    /// Starts FRR (zebra and bgpd) as AS 65000 at 192.0.2.2 in the router namespace, with
    /// eBGP sessions to the host for IPv4 and IPv6 unicast: one to its IPv4 address, one
    /// to its IPv6 address with the extended next hop capability (RFC 8950).
    pub fn start_frr_peer(&self) -> FrrPeer<'_> {
        let dir = self.path("rtr-frr");
        fs::create_dir_all(&dir).expect("create the router's FRR directory");
        fs::write(dir.join("zebra.conf"), "frr defaults traditional\n").unwrap();
        fs::write(
            dir.join("bgpd.conf"),
            format!(
                "frr defaults traditional
router bgp {ROUTER_AS}
 bgp router-id {ROUTER_V4}
 no bgp ebgp-requires-policy
 no bgp default ipv4-unicast
 neighbor {HOST_V4} remote-as {HOST_AS}
 neighbor {HOST_V4} timers connect 1
 neighbor {HOST_V6} remote-as {HOST_AS}
 neighbor {HOST_V6} timers connect 1
 neighbor {HOST_V6} capability extended-nexthop
 address-family ipv4 unicast
  neighbor {HOST_V4} activate
  neighbor {HOST_V6} activate
 exit-address-family
 address-family ipv6 unicast
  neighbor {HOST_V4} activate
  neighbor {HOST_V6} activate
 exit-address-family
exit
"
            ),
        )
        .unwrap();
        self.hand_to_frr(&dir);
        let d = dir.display().to_string();
        let zserv = format!("{d}/zserv.api");
        for name in ["zebra", "bgpd"] {
            let owned = super::frr::frr_daemon_argv(&d, name, ROUTER_V4);
            let argv: Vec<&str> = owned.iter().map(String::as_str).collect();
            let pid = self
                .spawn(&format!("rtr-{name}"), Some(&self.rtr_ns), &argv)
                .unwrap_or_else(|e| panic!("{e}"));
            if name == "zebra" {
                poll(Duration::from_secs(15), Duration::from_millis(10), || {
                    assert!(self.is_running(pid), "the router's zebra exited at start");
                    std::path::Path::new(&zserv).exists().then_some(())
                })
                .unwrap_or_else(|| panic!("the router's zebra did not open {zserv}"));
            }
        }
        let peer = FrrPeer { lab: self, dir };
        poll(Duration::from_secs(15), Duration::from_millis(50), || {
            peer.vtysh(&["-c", "show bgp summary"]).ok()
        })
        .unwrap_or_else(|| panic!("the router's bgpd did not answer vtysh within 15 s"));
        peer
    }
}

impl BirdPeer {
    pub fn birdc(&self, args: &[&str]) -> Result<String, String> {
        let ctl = self.ctl.to_string_lossy().to_string();
        let mut argv = vec!["-s", ctl.as_str()];
        argv.extend_from_slice(args);
        run("birdc", &argv)
    }

    /// `show route all` of both tables.
    pub fn routes_text(&self) -> String {
        self.birdc(&["show", "route", "all"]).unwrap_or_else(|e| e)
    }

    /// The prefixes BIRD imported from the host.
    pub fn rib(&self) -> BTreeSet<IpNet> {
        self.routes_text()
            .lines()
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_whitespace().next()?.parse().ok())
            .collect()
    }

    /// Waits until the RIB is `expected`.
    pub fn wait_for_rib(
        &self,
        expected: &BTreeSet<IpNet>,
        timeout: Duration,
    ) -> Result<Duration, String> {
        wait_for_rib(timeout, Duration::from_millis(50), expected, || self.rib()).map_err(|()| {
            format!(
                "the router's BIRD after {timeout:?}: want {expected:?}\n{}",
                self.routes_text()
            )
        })
    }
}

/// FRR in the router namespace.
pub struct FrrPeer<'a> {
    lab: &'a Lab,
    dir: PathBuf,
}

impl FrrPeer<'_> {
    pub fn vtysh(&self, args: &[&str]) -> Result<String, String> {
        let d = self.dir.to_string_lossy().to_string();
        let mut argv = vec!["--vty_socket", d.as_str()];
        argv.extend_from_slice(args);
        self.lab
            .exec_in(&self.lab.rtr_ns, &[&[VTYSH][..], &argv].concat())
    }

    /// FRR's JSON for `show bgp <family> unicast [prefix] json`.
    pub fn json(&self, family: &str, prefix: Option<&str>) -> serde_json::Value {
        let mut cmd = format!("show bgp {family} unicast");
        if let Some(p) = prefix {
            cmd.push(' ');
            cmd.push_str(p);
        }
        cmd.push_str(" json");
        let out = self.vtysh(&["-c", &cmd]).unwrap_or_else(|e| e);
        serde_json::from_str(&out).unwrap_or(serde_json::Value::Null)
    }

    /// The prefixes bgpd received (IPv4 and IPv6).
    pub fn rib(&self) -> BTreeSet<IpNet> {
        let mut out = BTreeSet::new();
        for family in ["ipv4", "ipv6"] {
            if let Some(routes) = self.json(family, None)["routes"].as_object() {
                out.extend(routes.keys().filter_map(|k| k.parse::<IpNet>().ok()));
            }
        }
        out
    }

    pub fn wait_for_rib(
        &self,
        expected: &BTreeSet<IpNet>,
        timeout: Duration,
    ) -> Result<Duration, String> {
        wait_for_rib(timeout, Duration::from_millis(100), expected, || self.rib()).map_err(|()| {
            format!(
                "the router's FRR after {timeout:?}: want {expected:?}, has {:?}\n{}",
                self.rib(),
                self.vtysh(&["-c", "show bgp summary"])
                    .unwrap_or_else(|e| e)
            )
        })
    }
}

/// Reads `rib` every `every` until it is `expected`; the time that took.
fn wait_for_rib(
    timeout: Duration,
    every: Duration,
    expected: &BTreeSet<IpNet>,
    rib: impl Fn() -> BTreeSet<IpNet>,
) -> Result<Duration, ()> {
    let start = std::time::Instant::now();
    poll(timeout, every, || {
        (rib() == *expected).then(|| start.elapsed())
    })
    .ok_or(())
}
