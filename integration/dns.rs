//! DNS failover end to end: a real Knot DNS primary on the host namespace's loopback with
//! a dynamic zone and a TSIG key, endpoints that are addresses inside the router
//! namespace (ICMP checks), and the warden updating the zone with RFC 2136. Every
//! assertion about the zone is a real query (`kdig`) of what Knot serves.
//!
//! Needs root, knotd/knotc (Debian `knot`) and kdig (`knot-dnsutils`); without them it
//! prints SKIPPED, unless CI=true (the lab's policy).

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::lab::needs::Need;
use crate::lab::process::poll;
use crate::lab::warden_config::{
    Check, Defaults, DnsAgreement, DnsSection, Service, WardenConfig, ms, secs,
};

const ZONE: &str = "example.net.";
const WWW: &str = "www.example.net.";
const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";
/// Endpoints, on the router namespace's `lo`.
const EP_A: &str = "198.51.100.10";
const EP_B: &str = "198.51.100.11";
/// A record of the zone that no service manages: never touched.
const OTHER: &str = "198.51.100.99";
const LONG: Duration = Duration::from_secs(30);

struct Dns<'a> {
    lab: &'a Lab,
}

impl<'a> Dns<'a> {
    /// Starts Knot in the host namespace on 127.0.0.1:53 serving `example.net.` with
    /// `www` records `initial`, updatable with key `warden` (hmac-sha256).
    fn start(lab: &'a Lab, initial: &[&str]) -> Dns<'a> {
        let dir = lab.path("knot");
        fs::create_dir_all(dir.join("db")).unwrap();
        let mut zone = format!(
            "$ORIGIN {ZONE}\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.53\n"
        );
        for a in initial {
            zone.push_str(&format!("www A {a}\n"));
        }
        fs::write(dir.join("example.net.zone"), zone).unwrap();
        let d = dir.display();
        let conf = format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@53\n    pidfile: \"{d}/knot.pid\"\n\
             log:\n  - target: stderr\n    any: info\n\
             database:\n    storage: \"{d}/db\"\n\
             key:\n  - id: warden\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
             acl:\n  - id: update\n    key: warden\n    action: update\n    update-type: [A, AAAA]\n    update-owner: name\n    update-owner-match: equal\n    update-owner-name: [{WWW}]\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    file: \"%s.zone\"\n    zonefile-sync: -1\n    journal-content: changes\n\
             zone:\n  - domain: {ZONE}\n    acl: update\n"
        );
        let conf_file = dir.join("knot.conf");
        fs::write(&conf_file, conf).unwrap();
        lab.spawn(
            "knotd",
            Some(&lab.host_ns),
            &["/usr/sbin/knotd", "-c", &conf_file.to_string_lossy()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let dns = Dns { lab };
        poll(LONG, Duration::from_millis(50), || {
            (dns.www().ok()? == initial.iter().map(|s| s.to_string()).collect()).then_some(())
        })
        .expect("Knot serves the zone");
        dns
    }

    /// The addresses of www's A RRset as Knot answers now.
    fn www(&self) -> Result<BTreeSet<String>, String> {
        let out = self.lab.exec_in(
            &self.lab.host_ns,
            &[
                "kdig",
                "+short",
                "+time=1",
                "+retry=0",
                "@127.0.0.1",
                WWW,
                "A",
            ],
        )?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect())
    }

    fn wait_www(&self, want: &[&str], timeout: Duration) -> Duration {
        let start = Instant::now();
        let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
        poll(timeout, Duration::from_millis(20), || {
            (self.www().ok()? == want).then_some(())
        })
        .unwrap_or_else(|| panic!("www is {:?}, not {want:?}, after {timeout:?}", self.www()));
        start.elapsed()
    }
}

/// The endpoints live in the router namespace; the host reaches them through it.
fn endpoints(lab: &Lab) {
    lab.route_via_router("198.51.100.0/24").unwrap();
    for a in [EP_A, EP_B] {
        set_endpoint(lab, a, true);
    }
}

fn set_endpoint(lab: &Lab, addr: &str, up: bool) {
    lab.set_router_lo_address(addr, up).unwrap();
}

fn key_file(lab: &Lab, secret: &str) -> PathBuf {
    let path = lab.path("tsig.key");
    fs::write(&path, format!("{secret}\n")).unwrap();
    path
}

/// `[dns]` for the lab's Knot, signing with `key_name` and `secret` (written to a file).
fn dns_section(lab: &Lab, key_name: &str, secret: &str) -> DnsSection {
    DnsSection::new("127.0.0.1:53", ZONE, key_name, &key_file(lab, secret))
        .ttl(secs(30))
        .verify_interval(secs(1))
}

/// `[daemon]`, `[defaults]` and `dns`, without services.
fn base(lab: &Lab, dns: DnsSection) -> WardenConfig {
    WardenConfig::new(lab)
        .batch_window(ms(50))
        .defaults(Defaults::new().timing(ms(300), ms(250), 2, 2))
        .dns(dns)
}

/// A service with the A record `name` → `addr`, up while `addr` answers a ping.
fn endpoint(service: &str, name: &str, addr: &str) -> Service {
    Service::new(service)
        .record(name, "A", addr)
        .check(Check::icmp(addr).count(1))
}

/// A whole configuration: a service (name, address) per www record.
fn config(lab: &Lab, dns: DnsSection, services: &[(&str, &str)]) -> String {
    base(lab, dns)
        .services(
            services
                .iter()
                .map(|(name, addr)| endpoint(name, WWW, addr)),
        )
        .to_toml()
}

/// `anycast-warden status --json` as JSON.
fn status(lab: &Lab) -> serde_json::Value {
    let out = lab
        .warden_cli()
        .args(["status", "--json"])
        .output()
        .expect("run anycast-warden status");
    // Null while the control socket is not there yet (the polls wait for more).
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

fn status_text(lab: &Lab) -> String {
    let out = lab
        .warden_cli()
        .arg("status")
        .output()
        .expect("run anycast-warden status");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn record<'v>(s: &'v serde_json::Value, addr: &str) -> &'v serde_json::Value {
    &s["dns"]["records"][format!("{WWW}/A/{addr}")]
}

fn lab(test: &str) -> Option<Lab> {
    Lab::new_or_skip(test, &[Need::Knot])
}

#[test]
fn records_leave_after_fall_and_return_after_rise() {
    let Some(lab) = lab("dns_failover") else {
        return;
    };
    endpoints(&lab);
    // EP_B is up but not in the zone yet: the warden adds it. OTHER is nobody's.
    let dns = Dns::start(&lab, &[EP_A, OTHER]);
    let warden = lab.start_warden(&config(
        &lab,
        dns_section(&lab, "warden", SECRET)
            .dry_run(false)
            .min_records(1),
        &[("edge-a", EP_A), ("edge-b", EP_B)],
    ));
    dns.wait_www(&[EP_A, EP_B, OTHER], LONG);
    warden.wait_for_log("DNS record added", 1, LONG).unwrap();

    // EP_A stops answering: after `fall` failed rounds its record goes, nothing else.
    set_endpoint(&lab, EP_A, false);
    let gone = dns.wait_www(&[EP_B, OTHER], LONG);
    eprintln!("endpoint down -> record gone from the zone: {gone:?} (interval 300ms, fall 2)");
    warden.wait_for_log("DNS record deleted", 1, LONG).unwrap();
    let s = status(&lab);
    assert_eq!(record(&s, EP_A)["verdict"], "down", "{s:#}");
    assert_eq!(record(&s, EP_A)["in_zone"], false, "{s:#}");
    assert_eq!(record(&s, EP_A)["last_update"]["action"], "delete", "{s:#}");
    assert_eq!(record(&s, EP_A)["last_update"]["ok"], true, "{s:#}");
    assert!(s["dns"]["updates"]["ok"].as_u64().unwrap() >= 2, "{s:#}");

    // Back: after `rise` passing rounds it returns.
    set_endpoint(&lab, EP_A, true);
    let back = dns.wait_www(&[EP_A, EP_B, OTHER], LONG);
    eprintln!("endpoint up -> record back in the zone: {back:?} (rise 2)");

    // A record deleted behind the warden's back comes back at the next verification.
    lab.exec_in(
        &lab.host_ns,
        &[
            "/usr/sbin/knotc",
            "-s",
            &lab.path("knot/knot.sock").to_string_lossy(),
            "zone-begin",
            ZONE,
        ],
    )
    .unwrap();
    for cmd in [
        vec!["zone-unset", ZONE, "www", "A", EP_B],
        vec!["zone-commit", ZONE],
    ] {
        let mut argv = vec!["/usr/sbin/knotc", "-s"];
        let sock = lab.path("knot/knot.sock").to_string_lossy().into_owned();
        argv.push(&sock);
        argv.extend(cmd);
        lab.exec_in(&lab.host_ns, &argv).unwrap();
    }
    dns.wait_www(&[EP_A, EP_B, OTHER], LONG);

    let text = status_text(&lab);
    assert!(
        text.contains(&format!(
            "record {WWW} A {EP_A} (edge-a): local verdict up, in the zone"
        )),
        "{text}"
    );

    // SIGHUP: a new service with a record of an endpoint that is down never adds it;
    // dropping edge-b leaves its record alone.
    warden.write_config(&config(
        &lab,
        dns_section(&lab, "warden", SECRET)
            .dry_run(false)
            .min_records(1),
        &[("edge-a", EP_A), ("edge-c", "198.51.100.12")],
    ));
    warden.signal(nix::sys::signal::Signal::SIGHUP).unwrap();
    warden
        .wait_for_log("configuration reloaded", 1, LONG)
        .unwrap();
    poll(LONG, Duration::from_millis(50), || {
        (record(&status(&lab), "198.51.100.12")["verdict"] == "down").then_some(())
    })
    .expect("the new service's verdict");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        dns.www().unwrap(),
        [EP_A, EP_B, OTHER].iter().map(|s| s.to_string()).collect()
    );
}

#[test]
fn min_records_keeps_the_last_record() {
    let Some(lab) = lab("dns_min_records") else {
        return;
    };
    endpoints(&lab);
    let dns = Dns::start(&lab, &[EP_A, EP_B]);
    let warden = lab.start_warden(&config(
        &lab,
        dns_section(&lab, "warden", SECRET)
            .dry_run(false)
            .min_records(1),
        &[("edge-a", EP_A), ("edge-b", EP_B)],
    ));
    poll(LONG, Duration::from_millis(50), || {
        let s = status(&lab);
        (record(&s, EP_A)["verdict"] == "up" && record(&s, EP_B)["verdict"] == "up").then_some(())
    })
    .expect("both up");
    // Both endpoints fail: one record goes, the last one stays.
    set_endpoint(&lab, EP_A, false);
    set_endpoint(&lab, EP_B, false);
    dns.wait_www(&[EP_B], LONG);
    let s = poll(LONG, Duration::from_millis(50), || {
        let s = status(&lab);
        record(&s, EP_B)["held"].is_string().then_some(s)
    })
    .expect("the deletion of the last record is held");
    assert!(
        record(&s, EP_B)["held"]
            .as_str()
            .unwrap()
            .contains("min_records = 1"),
        "{s:#}"
    );
    assert_eq!(record(&s, EP_B)["verdict"], "down");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(dns.www().unwrap(), BTreeSet::from([EP_B.to_string()]));
    assert!(status_text(&lab).contains("deletion held: min_records = 1"));
    let _ = warden;
}

#[test]
fn dry_run_changes_nothing() {
    let Some(lab) = lab("dns_dry_run") else {
        return;
    };
    endpoints(&lab);
    let dns = Dns::start(&lab, &[EP_A, OTHER]);
    // dry_run is the default.
    let warden = lab.start_warden(&config(
        &lab,
        dns_section(&lab, "warden", SECRET),
        &[("edge-a", EP_A), ("edge-b", EP_B)],
    ));
    warden
        .wait_for_log("dry run: would add the record", 1, LONG)
        .unwrap();
    set_endpoint(&lab, EP_A, false);
    warden
        .wait_for_log("dry run: would delete the record", 1, LONG)
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        dns.www().unwrap(),
        [EP_A, OTHER].iter().map(|s| s.to_string()).collect(),
        "dry run changed the zone"
    );
    let s = status(&lab);
    assert_eq!(s["dns"]["dry_run"], true);
    assert!(
        s["dns"]["updates"]["dry_run"].as_u64().unwrap() >= 2,
        "{s:#}"
    );
    assert!(s["dns"]["updates"].get("ok").is_none(), "{s:#}");
    assert_eq!(record(&s, EP_A)["last_update"]["dry_run"], true, "{s:#}");
    assert_eq!(warden.log_count("DNS record deleted"), 0);
}

#[test]
fn a_wrong_tsig_key_is_refused_and_reported() {
    let Some(lab) = lab("dns_wrong_key") else {
        return;
    };
    endpoints(&lab);
    let dns = Dns::start(&lab, &[EP_A]);
    // The right name, a wrong secret: Knot answers BADSIG.
    let warden = lab.start_warden(&config(
        &lab,
        dns_section(&lab, "warden", "d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==")
            .dry_run(false)
            .min_records(0),
        &[("edge-a", EP_A), ("edge-b", EP_B)],
    ));
    let s = poll(LONG, Duration::from_millis(50), || {
        let s = status(&lab);
        s["dns"]["last_error"].is_string().then_some(s)
    })
    .expect("the failure is reported");
    let e = s["dns"]["last_error"].as_str().unwrap();
    assert!(e.contains("BADSIG"), "{e}");
    assert!(s["dns"]["updates"]["tsig"].as_u64().unwrap() >= 1, "{s:#}");
    warden.wait_for_log("BADSIG", 1, LONG).unwrap();
    assert!(status_text(&lab).contains("LAST ROUND FAILED"));
    set_endpoint(&lab, EP_A, false);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(dns.www().unwrap(), BTreeSet::from([EP_A.to_string()]));

    // A key name Knot does not know: BADKEY, after a reload.
    warden.write_config(&config(
        &lab,
        dns_section(&lab, "stranger", SECRET)
            .dry_run(false)
            .min_records(0),
        &[("edge-a", EP_A), ("edge-b", EP_B)],
    ));
    warden.signal(nix::sys::signal::Signal::SIGHUP).unwrap();
    poll(LONG, Duration::from_millis(50), || {
        let s = status(&lab);
        s["dns"]["last_error"]
            .as_str()?
            .contains("BADKEY")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("BADKEY reported: {:#}", status(&lab)));
    assert_eq!(dns.www().unwrap(), BTreeSet::from([EP_A.to_string()]));

    // The right key: the pending deletion and addition go through.
    warden.write_config(&config(
        &lab,
        dns_section(&lab, "warden", SECRET)
            .dry_run(false)
            .min_records(0),
        &[("edge-a", EP_A), ("edge-b", EP_B)],
    ));
    warden.signal(nix::sys::signal::Signal::SIGHUP).unwrap();
    dns.wait_www(&[EP_B], LONG);
}

#[test]
fn an_update_the_zone_acl_forbids_is_refused_and_reported() {
    let Some(lab) = lab("dns_refused") else {
        return;
    };
    endpoints(&lab);
    let dns = Dns::start(&lab, &[EP_A]);
    // Knot's ACL lets the key change www only; api is another owner. Knot answers such
    // an update NOTAUTH with TSIG BADKEY (BIND would answer REFUSED); the signed queries
    // of the zone before it succeed.
    let text = base(&lab, dns_section(&lab, "warden", SECRET).dry_run(false))
        .service(endpoint("api", &format!("api.{ZONE}"), EP_B))
        .to_toml();
    let warden = lab.start_warden(&text);
    let s = poll(LONG, Duration::from_millis(50), || {
        let s = status(&lab);
        s["dns"]["updates"]["tsig"]
            .as_u64()
            .is_some_and(|n| n >= 1)
            .then_some(s)
    })
    .unwrap_or_else(|| panic!("the refusal counted: {:#}", status(&lab)));
    let e = s["dns"]["last_error"].as_str().unwrap_or_default();
    assert!(e.contains("BADKEY") && e.contains("ACL"), "{e}");
    assert!(
        s["dns"]["last_read"].is_number(),
        "the queries were accepted: {s:#}"
    );
    assert_eq!(
        s["dns"]["records"][format!("api.{ZONE}/A/{EP_B}")]["in_zone"],
        false,
        "{s:#}"
    );
    warden.wait_for_log("BADKEY", 1, LONG).unwrap();
    assert_eq!(dns.www().unwrap(), BTreeSet::from([EP_A.to_string()]));
}

/// One of three wardens watching the same record, each with its own view of the
/// endpoint (a flag file its exec check tests), agreeing through one etcd.
struct Monitor {
    id: &'static str,
    pid: i32,
    config: std::path::PathBuf,
}

impl Monitor {
    fn start(lab: &Lab, id: &'static str) -> Monitor {
        set_seen(lab, id, true);
        let state = lab.path(&format!("state-{id}"));
        let config = lab.path(&format!("{id}.toml"));
        let conf_d = lab.path(&format!("{id}.d"));
        fs::create_dir_all(&conf_d).unwrap();
        let dns = DnsSection::new("127.0.0.1:53", ZONE, "warden", &key_file(lab, SECRET))
            .ttl(secs(30))
            .dry_run(false)
            .min_records(1)
            .verify_interval(secs(1))
            .agreement(DnsAgreement {
                etcd_endpoints: &["http://127.0.0.1:2379"],
                monitor_id: id,
                min_agree: 2,
                lease_ttl: secs(3),
            });
        let text = WardenConfig::with_state_dir(&state)
            .batch_window(ms(50))
            .dns(dns)
            .service(
                Service::new("edge-a")
                    .interval(ms(200))
                    .rise(2)
                    .fall(2)
                    .record(WWW, "A", EP_A)
                    .check(Check::exists(&lab.path(&format!("seen-{id}")))),
            )
            .to_toml();
        fs::write(&config, text).unwrap();
        let pid = lab
            .spawn(
                &format!("warden-{id}"),
                Some(&lab.host_ns),
                &[
                    crate::lab::WARDEN_BIN,
                    "run",
                    "--config",
                    &config.to_string_lossy(),
                    "--config-dir",
                    &conf_d.to_string_lossy(),
                ],
            )
            .unwrap_or_else(|e| panic!("{e}"));
        Monitor { id, pid, config }
    }

    fn status(&self) -> serde_json::Value {
        let out = std::process::Command::new(crate::lab::WARDEN_BIN)
            .arg("--config")
            .arg(&self.config)
            .arg("--config-dir")
            .arg(self.config.with_extension("d"))
            .args(["status", "--json"])
            .output()
            .expect("run anycast-warden status");
        serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    fn record(&self) -> serde_json::Value {
        record(&self.status(), EP_A).clone()
    }
}

/// Whether monitor `id` sees the endpoint up.
fn set_seen(lab: &Lab, id: &str, up: bool) {
    let flag = lab.path(&format!("seen-{id}"));
    if up {
        fs::write(flag, "").unwrap();
    } else {
        let _ = fs::remove_file(flag);
    }
}

fn start_etcd(lab: &Lab) -> i32 {
    let data = lab.path("etcd");
    let data = data.to_string_lossy();
    lab.spawn(
        "etcd",
        Some(&lab.host_ns),
        &[
            "etcd",
            "--name",
            "lab",
            "--data-dir",
            &data,
            "--listen-client-urls",
            "http://127.0.0.1:2379",
            "--advertise-client-urls",
            "http://127.0.0.1:2379",
            "--listen-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-advertise-peer-urls",
            "http://127.0.0.1:2380",
            "--initial-cluster",
            "lab=http://127.0.0.1:2380",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Holds for `d` and asserts the zone did not change meanwhile.
fn stays(dns: &Dns, want: &[&str], d: Duration) {
    let want: BTreeSet<String> = want.iter().map(|s| s.to_string()).collect();
    let end = Instant::now() + d;
    while Instant::now() < end {
        assert_eq!(dns.www().unwrap(), want);
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_monitors_delete_only_when_two_agree() {
    let Some(lab) = Lab::new_or_skip("dns_agreement", &[Need::Knot, Need::Etcd]) else {
        return;
    };
    let dns = Dns::start(&lab, &[EP_A, OTHER]);
    let etcd = start_etcd(&lab);
    let monitors: Vec<Monitor> = ["m1", "m2", "m3"]
        .into_iter()
        .map(|id| Monitor::start(&lab, id))
        .collect();
    // Everyone connected, one leader, every vote visible.
    poll(LONG, Duration::from_millis(100), || {
        monitors
            .iter()
            .all(|m| {
                let s = m.status();
                s["dns"]["store_error"].is_null()
                    && s["dns"]["sender_id"].is_string()
                    && record(&s, EP_A)["votes"]
                        .as_object()
                        .is_some_and(|v| v.len() == 2)
            })
            .then_some(())
    })
    .unwrap_or_else(|| {
        panic!(
            "three monitors agree on a leader: {:#}",
            monitors[0].status()
        )
    });
    let leader = monitors[0].status()["dns"]["sender_id"]
        .as_str()
        .unwrap()
        .to_string();
    eprintln!("leader: {leader}");

    // One monitor alone seeing it down deletes nothing, and says why.
    set_seen(&lab, "m1", false);
    poll(LONG, Duration::from_millis(100), || {
        monitors[0].record()["held"]
            .as_str()?
            .contains("1 of 2")
            .then_some(())
    })
    .unwrap_or_else(|| panic!("m1 holds: {:#}", monitors[0].record()));
    stays(&dns, &[EP_A, OTHER], Duration::from_secs(3));

    // Two of three: the leader deletes it.
    set_seen(&lab, "m2", false);
    let t = dns.wait_www(&[OTHER], LONG);
    eprintln!("second monitor sees it down -> record gone: {t:?}");

    // m2 sees it up again: no agreement any more, the record returns.
    set_seen(&lab, "m2", true);
    dns.wait_www(&[EP_A, OTHER], LONG);

    // m1 and m3 down: gone; then m3 dies, its vote expires with its lease, and the record
    // returns (only m1 sees it down).
    set_seen(&lab, "m3", false);
    dns.wait_www(&[OTHER], LONG);
    let m3 = &monitors[2];
    lab.signal(m3.pid, nix::sys::signal::Signal::SIGKILL)
        .unwrap();
    let t = dns.wait_www(&[EP_A, OTHER], LONG);
    eprintln!("m3 killed -> its vote expired and the record returned: {t:?} (lease_ttl 3s)");
    assert!(m3.id == "m3");

    // etcd stopped: m2 sees it down too now, but nothing is deleted, and status says why.
    lab.stop(etcd, Duration::from_secs(5));
    poll(LONG, Duration::from_millis(100), || {
        monitors[0].status()["dns"]["store_error"]
            .is_string()
            .then_some(())
    })
    .expect("m1 reports etcd unreachable");
    set_seen(&lab, "m2", false);
    poll(LONG, Duration::from_millis(100), || {
        (monitors[1].record()["verdict"] == "down").then_some(())
    })
    .expect("m2 sees it down");
    stays(&dns, &[EP_A, OTHER], Duration::from_secs(4));
    let s = monitors[1].status();
    assert!(s["dns"]["store_error"].is_string(), "{s:#}");
    assert!(
        record(&s, EP_A)["held"]
            .as_str()
            .unwrap_or_default()
            .contains("etcd unreachable"),
        "{s:#}"
    );
}
