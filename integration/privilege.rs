//! Least privilege, end to end: the warden runs as `nobody`/`nogroup` with exactly the
//! capabilities README's "Least privilege" table names for a feature (util-linux `setpriv`
//! sets the user, the ambient and bounding sets, and `no_new_privs`), inside the lab's
//! host namespace, against a real gobgpd in the router namespace.
//!
//! - The built-in speaker listening on port 179 works with only `CAP_NET_BIND_SERVICE`
//!   (gobgpd opens the session to the warden's listener), and without it the daemon
//!   refuses to start with a message that names the port, the capability and the fixes.
//! - `icmp` checks work with only `CAP_NET_RAW` (raw sockets) while the namespace's
//!   `net.ipv4.ping_group_range` excludes the daemon's group, or with no capability at
//!   all while it includes the group (ICMP datagram sockets); with neither the check
//!   fails with a reason naming both. The sysctl is per network namespace: the test sets
//!   it in the lab's host namespace only, never on the machine.
//!
//! Each test reads the running daemon's /proc/PID/status: its user and group, and that
//! its effective, permitted, ambient and bounding sets hold what it was given and nothing
//! else. Run as root (`cargo test --test e2e privilege::`); without root, gobgpd or setpriv
//! every test prints `SKIPPED: <why>`, unless `CI=true`.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::lab::gobgp::Router;
use crate::lab::needs::Need;
use crate::lab::process::poll;
use crate::lab::warden::Warden;
use crate::lab::warden_config::{BgpSection, Check, Peer, Service, WardenConfig, ms, secs};
use crate::lab::{HOST_AS, HOST_V4, Lab, ROUTER_AS, ROUTER_V4, nets};
use nix::sys::signal::Signal;

const SESSION: Duration = Duration::from_secs(30);
const CHANGE: Duration = Duration::from_secs(10);

/// Bits of the capability sets (linux/capability.h).
const CAP_NET_BIND_SERVICE: u64 = 1 << 10;
const CAP_NET_RAW: u64 = 1 << 13;

/// Who the daemon runs as (Debian's unprivileged user and group).
const USER: &str = "nobody";
const GROUP: &str = "nogroup";

/// This helper's addresses: the service prefix and the ICMP target.
const PREFIX: &str = "198.51.100.65/32";
const PING_TARGET: &str = "198.51.100.126";

/// The lab, or `None` (SKIPPED) without root, the daemons or util-linux's `setpriv`.
fn lab_or_skip(test: &str, needs: &[Need]) -> Option<Lab> {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .any(|p| fs::metadata(p).is_ok());
    if !setpriv && nix::unistd::geteuid().is_root() {
        let why = "missing setpriv (util-linux; run integration/setup.sh as root)";
        crate::lab::needs::skip_outside_ci(test, why);
        return None;
    }
    Lab::new_or_skip(test, needs)
}

/// Calls `f` with the wrapper `setpriv ... --` that runs what follows it as `nobody:nogroup`
/// with no supplementary group, `no_new_privs`, and exactly `caps` (setpriv's names, e.g.
/// `net_raw`) in the inheritable, ambient and bounding sets. A callback because the lab
/// takes `&str` arguments and the formatted ones live here.
fn with_setpriv<R>(caps: &[&str], f: impl FnOnce(&[&str]) -> R) -> R {
    let set: String = std::iter::once("-all".to_string())
        .chain(caps.iter().map(|c| format!("+{c}")))
        .collect::<Vec<_>>()
        .join(",");
    f(&[
        "setpriv",
        &format!("--reuid={USER}"),
        &format!("--regid={GROUP}"),
        "--clear-groups",
        &format!("--inh-caps={set}"),
        &format!("--ambient-caps={set}"),
        &format!("--bounding-set={set}"),
        "--no-new-privs",
        "--",
    ])
}

/// Makes the lab's tempdir usable by `nobody`: traversable, a copy of the warden binary
/// it may run, and a state directory it owns. Returns the binary's path.
fn prepare_for_nobody(lab: &Lab) -> PathBuf {
    fs::set_permissions(lab.dir(), fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
    let bin = lab.path("anycast-warden");
    fs::copy(crate::lab::WARDEN_BIN, &bin).expect("copy the warden");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod warden");
    let state = lab.path("state");
    fs::create_dir_all(&state).expect("state dir");
    let user = nix::unistd::User::from_name(USER)
        .expect("passwd")
        .expect("user nobody");
    let group = nix::unistd::Group::from_name(GROUP)
        .expect("group")
        .expect("group nogroup");
    nix::unistd::chown(&state, Some(user.uid), Some(group.gid)).expect("chown state");
    bin
}

fn start_unprivileged<'l>(lab: &'l Lab, config: &str, caps: &[&str]) -> Warden<'l> {
    let bin = prepare_for_nobody(lab);
    with_setpriv(caps, |wrapper| {
        lab.start_warden_wrapped(config, wrapper, &bin)
    })
}

/// The fields of /proc/PID/status the tests look at.
#[derive(Debug)]
struct Privileges {
    uid: String,
    gid: String,
    groups: String,
    eff: u64,
    prm: u64,
    amb: u64,
    bnd: u64,
}

fn privileges(pid: i32) -> Privileges {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_string()
    };
    let caps = |name: &str| {
        u64::from_str_radix(&field(name), 16).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let first = |name: &str| {
        field(name)
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    Privileges {
        uid: first("Uid:"),
        gid: first("Gid:"),
        groups: field("Groups:"),
        eff: caps("CapEff:"),
        prm: caps("CapPrm:"),
        amb: caps("CapAmb:"),
        bnd: caps("CapBnd:"),
    }
}

/// The running daemon is nobody:nogroup without supplementary groups and holds exactly
/// `caps` in every set.
fn assert_exactly(warden: &Warden, caps: u64) {
    assert!(warden.is_running(), "{}", warden.log());
    let p = privileges(warden.pid);
    let user = nix::unistd::User::from_name(USER).unwrap().unwrap();
    let group = nix::unistd::Group::from_name(GROUP).unwrap().unwrap();
    assert_eq!(p.uid, user.uid.to_string(), "{p:?}");
    assert_eq!(p.gid, group.gid.to_string(), "{p:?}");
    assert_eq!(p.groups, "", "{p:?}");
    assert_eq!(
        (p.eff, p.prm, p.amb, p.bnd),
        (caps, caps, caps, caps),
        "capability sets (eff, prm, amb, bnd) of the daemon: {p:?}"
    );
}

fn set_up(lab: &Lab, up: bool) {
    let file = lab.path("up");
    if up {
        fs::write(&file, "").expect("up file");
    } else {
        let _ = fs::remove_file(&file);
    }
}

/// `[daemon]`, a `[bgp]` speaker peering with the router (`listen`, and whether the peer is
/// `passive`), and one service with `check`.
fn config(lab: &Lab, listen: bool, passive: bool, check: Check) -> String {
    let peer = Peer::new(ROUTER_V4, ROUTER_AS);
    let bgp = BgpSection::new(HOST_AS, HOST_V4)
        .hold_time(secs(9))
        .connect_retry(ms(500))
        .drain_time(ms(0))
        .listen(listen)
        .peer(if passive { peer.passive(true) } else { peer });
    WardenConfig::new(lab)
        .batch_window(ms(0))
        .bgp(bgp)
        .service(
            Service::new("svc")
                .prefixes(&[PREFIX])
                .timing(ms(200), secs(1), 1, 1)
                .ip_check(false)
                .check(check),
        )
        .to_toml()
}

fn exec_check(lab: &Lab) -> Check {
    Check::exec(&["test", "-e", &lab.path("up").display().to_string()])
}

fn wait_rib(router: &Router, expected: &[&str], timeout: Duration) {
    router
        .wait_for_rib(&nets(expected), timeout)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The lab's host namespace's `sysctl NAME`.
fn sysctl(lab: &Lab, name: &str) -> String {
    lab.exec_in(&lab.host_ns, &["sysctl", "-n", name])
        .unwrap_or_else(|e| panic!("{e}"))
        .trim()
        .to_string()
}

#[test]
fn the_speaker_listens_on_port_179_with_only_cap_net_bind_service() {
    let Some(lab) = lab_or_skip("priv-bgp-179", &[Need::Gobgp]) else {
        return;
    };
    // Else port 179 needs no capability in the namespace and the test proves nothing.
    assert_eq!(sysctl(&lab, "net.ipv4.ip_unprivileged_port_start"), "1024");
    let router = lab.start_router(false);
    set_up(&lab, true);
    // Passive: the warden never connects; the only session is the one gobgpd opens to
    // the warden's port 179.
    let text = config(&lab, true, true, exec_check(&lab));
    let warden = start_unprivileged(&lab, &text, &["net_bind_service"]);
    wait_rib(&router, &[PREFIX], SESSION);
    assert_exactly(&warden, CAP_NET_BIND_SERVICE);
    let listening = lab
        .exec_in(&lab.host_ns, &["ss", "-Hltnp", "sport = :179"])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        listening.contains(&format!("pid={},", warden.pid)),
        "the warden listens on 179: {listening}"
    );
    assert!(
        warden.log().contains("listening for BGP connections"),
        "{}",
        warden.log()
    );
    // Health still decides: the check fails, the router loses the route.
    set_up(&lab, false);
    wait_rib(&router, &[], CHANGE);
    set_up(&lab, true);
    wait_rib(&router, &[PREFIX], CHANGE);
    warden.signal(Signal::SIGTERM).unwrap();
    assert_eq!(warden.wait_exit(CHANGE).unwrap().code(), Some(0));
    wait_rib(&router, &[], CHANGE);
}

#[test]
fn without_cap_net_bind_service_the_speaker_refuses_to_start_and_says_why() {
    let Some(lab) = lab_or_skip("priv-bgp-nocap", &[]) else {
        return;
    };
    assert_eq!(sysctl(&lab, "net.ipv4.ip_unprivileged_port_start"), "1024");
    set_up(&lab, true);
    let text = config(&lab, true, true, exec_check(&lab));
    let warden = start_unprivileged(&lab, &text, &[]);
    let status = warden
        .wait_exit(CHANGE)
        .unwrap_or_else(|e| panic!("the warden kept running without the capability: {e}"));
    assert_eq!(status.code(), Some(1), "{}", warden.log());
    let log = warden.log();
    for needle in [
        "port 179",
        "permission denied",
        "CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "listen = false",
    ] {
        assert!(log.contains(needle), "{needle:?} is not in: {log}");
    }
    assert!(
        !lab.path("state/control.sock").exists(),
        "nothing was started"
    );
    // What the daemon had: the same wrapper gives a shell nothing at all.
    let caps = with_setpriv(&[], |wrapper| {
        let argv = [wrapper, &["grep", "^Cap", "/proc/self/status"]].concat();
        lab.exec_in(&lab.host_ns, &argv)
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        caps.lines()
            .filter(|l| !l.ends_with("0000000000000000"))
            .count(),
        0,
        "{caps}"
    );

    // With `listen = false` the same user without any capability connects out and
    // announces (README: connecting out to port 179 needs nothing).
    let Some(router_lab) = lab_or_skip("priv-bgp-out", &[Need::Gobgp]) else {
        return;
    };
    let router = router_lab.start_router(false);
    set_up(&router_lab, true);
    let text = config(&router_lab, false, false, exec_check(&router_lab));
    let warden = start_unprivileged(&router_lab, &text, &[]);
    wait_rib(&router, &[PREFIX], SESSION);
    assert_exactly(&warden, 0);
}

/// The ICMP target: an address on the router namespace's `lo`, routed to from the host.
fn add_ping_target(lab: &Lab) {
    lab.set_router_lo_address(PING_TARGET, true)
        .unwrap_or_else(|e| panic!("{e}"));
    lab.route_via_router(&format!("{PING_TARGET}/32"))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Takes the target away: the router drops echo requests for an address it no longer
/// has (it does not forward), so the check times out.
fn remove_ping_target(lab: &Lab) {
    lab.set_router_lo_address(PING_TARGET, false)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Sets `net.ipv4.ping_group_range` in the lab's host namespace (only there).
fn ping_group_range(lab: &Lab, range: &str) {
    lab.exec_in(
        &lab.host_ns,
        &[
            "sysctl",
            "-q",
            "-w",
            &format!("net.ipv4.ping_group_range={range}"),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sysctl(lab, "net.ipv4.ping_group_range")
            .split_whitespace()
            .collect::<Vec<_>>(),
        range.split_whitespace().collect::<Vec<_>>()
    );
}

fn icmp_check() -> Check {
    Check::icmp(PING_TARGET).count(2)
}

/// The daemon's `status --json` (asked as root, which the control socket admits), once
/// its control socket is there.
fn snapshot(lab: &Lab) -> Option<serde_json::Value> {
    let out = lab
        .warden_cli()
        .args(["status", "--json"])
        .output()
        .expect("run status");
    if !out.status.success() {
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(error.contains("No such file"), "status: {error}");
        return None;
    }
    Some(serde_json::from_slice(&out.stdout).expect("status --json"))
}

/// The icmp check's last verdict and detail, once it ran.
fn last_reason(lab: &Lab) -> Option<(bool, String)> {
    let s = snapshot(lab)?;
    let checks = s["services"]["svc"]["checks"].as_object()?;
    let (_, check) = checks.iter().find(|(name, _)| name.starts_with("icmp"))?;
    if check["runs"].as_u64()? == 0 {
        return None;
    }
    Some((
        check["passed"].as_bool()?,
        check["detail"].as_str()?.to_string(),
    ))
}

/// The router gets the prefix while the target answers and loses it when it does not.
fn icmp_follows_the_target(lab: &Lab, router: &Router, warden: &Warden) {
    wait_rib(router, &[PREFIX], SESSION);
    let (passed, reason) = last_reason(lab).expect("the check ran");
    assert!(passed && reason.starts_with("2 of 2 replies"), "{reason}");
    remove_ping_target(lab);
    wait_rib(router, &[], CHANGE);
    let (passed, reason) = last_reason(lab).expect("the check ran");
    assert!(!passed && reason.starts_with("100 % loss"), "{reason}");
    assert!(warden.is_running());
}

#[test]
fn icmp_checks_with_only_cap_net_raw_use_raw_sockets() {
    let Some(lab) = lab_or_skip("priv-icmp-raw", &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    add_ping_target(&lab);
    // No group may open ICMP datagram sockets: only the raw socket can work.
    ping_group_range(&lab, "1 0");
    let text = config(&lab, false, false, icmp_check());
    let warden = start_unprivileged(&lab, &text, &["net_raw"]);
    icmp_follows_the_target(&lab, &router, &warden);
    assert_exactly(&warden, CAP_NET_RAW);
}

#[test]
fn icmp_checks_without_cap_net_raw_or_ping_group_fail_and_say_why() {
    let Some(lab) = lab_or_skip("priv-icmp-none", &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    add_ping_target(&lab);
    ping_group_range(&lab, "1 0");
    let text = config(&lab, false, false, icmp_check());
    let warden = start_unprivileged(&lab, &text, &[]);
    let reason = poll(CHANGE, Duration::from_millis(100), || {
        assert!(warden.is_running(), "{}", warden.log());
        last_reason(&lab)
    })
    .map(|(passed, reason)| {
        assert!(!passed, "the check passed without a way to ping: {reason}");
        reason
    })
    .expect("the service got a verdict");
    for needle in ["CAP_NET_RAW", "net.ipv4.ping_group_range"] {
        assert!(reason.contains(needle), "{needle:?} is not in {reason:?}");
    }
    // The session is up, and the router has nothing from the failing service.
    poll(SESSION, Duration::from_millis(100), || {
        let s = snapshot(&lab)?;
        (s["bgp_peers"][0]["state"] == "established").then_some(())
    })
    .expect("the session came up");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(router.rib().unwrap(), nets(&[]));
    assert_exactly(&warden, 0);
}

#[test]
fn icmp_checks_without_a_capability_use_the_ping_group() {
    let Some(lab) = lab_or_skip("priv-icmp-group", &[Need::Gobgp]) else {
        return;
    };
    let router = lab.start_router(false);
    add_ping_target(&lab);
    let gid = nix::unistd::Group::from_name(GROUP)
        .unwrap()
        .expect("group nogroup")
        .gid;
    ping_group_range(&lab, &format!("{gid} {gid}"));
    let text = config(&lab, false, false, icmp_check());
    let warden = start_unprivileged(&lab, &text, &[]);
    icmp_follows_the_target(&lab, &router, &warden);
    assert_exactly(&warden, 0);
}
