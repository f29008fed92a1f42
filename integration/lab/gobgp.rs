//! GoBGP in the router namespace: the router that observes what the host announces, read
//! through the `gobgp` CLI (its API is a unix socket in the lab's tempdir).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use super::process::{poll, run};
use super::{HOST_AS, HOST_V4, HOST_V6, Lab, ROUTER_AS, ROUTER_V4};

impl Lab {
    /// Starts gobgpd in the router namespace with one eBGP neighbor (the host's v4 address,
    /// carrying IPv4 and IPv6 unicast: how BIRD 2 peers) and, with `v6_session`, a second
    /// one over IPv6 for IPv6 unicast (how BIRD 1.6's bird6 peers). Waits for its API.
    pub fn start_router(&self, v6_session: bool) -> Router<'_> {
        let host = |address, families| GobgpNeighbor {
            address,
            peer_as: HOST_AS,
            password: None,
            families,
            graceful_restart: false,
        };
        let mut neighbors = vec![host(HOST_V4, &["ipv4-unicast", "ipv6-unicast"])];
        if v6_session {
            neighbors.push(host(HOST_V6, &["ipv6-unicast"]));
        }
        self.start_router_with(ROUTER_AS, &neighbors)
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
}

/// GoBGP running in the router namespace.
pub struct Router<'a> {
    pub(super) lab: &'a Lab,
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

fn show<'x>(nets: impl Iterator<Item = &'x IpNet>) -> String {
    let all: Vec<String> = nets.map(ToString::to_string).collect();
    if all.len() > 12 {
        format!("[{} ... and {} more]", all[..12].join(" "), all.len() - 12)
    } else {
        format!("[{}]", all.join(" "))
    }
}
