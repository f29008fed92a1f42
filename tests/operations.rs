//! The daemon as an operator drives it, without a routing daemon: the BIRD backend writes
//! its include file in a temp directory and `reconfigure` is `/bin/true`, so what the
//! warden would announce is exactly what the include file holds. Each test starts
//! `anycast-warden run` as a child (killed by PID when the test ends, also on failure) and
//! talks to it the way a person would: the CLI over the control socket, `/metrics` over
//! HTTP, the textfile, `$NOTIFY_SOCKET`, the log file.
//!
//! Tests that need root (running the client as another user) print `SKIPPED` without it,
//! and fail under `CI=true`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use regex::Regex;

const WARDEN: &str = env!("CARGO_BIN_EXE_anycast-warden");
const SECOND: Duration = Duration::from_secs(1);

/// A temp directory with a configuration; the daemons started in it are killed at drop.
struct Site {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

impl Site {
    /// `extra` is added to the main file (e.g. `[metrics]`); each service passes while
    /// the file `<dir>/<name>-up` exists.
    fn new(services: &[(&str, &str)], extra: &str) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        // Other users (the permission test's client) must reach the socket's directory,
        // so that only the socket's own mode decides.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let root = dir.path().display().to_string();
        let mut text = format!(
            "[daemon]\nstate_dir = \"{root}/state\"\nbatch_window = \"0s\"\n\
             [bird]\ninclude_file = \"{root}/state/bird/prefixes.conf\"\nreconfigure = [\"/bin/true\"]\n\
             [defaults]\ninterval = \"100ms\"\nrise = 1\nfall = 1\nip_check = false\n{extra}\n"
        );
        for (name, prefix) in services {
            text.push_str(&format!(
                "[[service]]\nname = \"{name}\"\nprefixes = [\"{prefix}\"]\n\
                 [[service.check]]\nkind = \"exec\"\ncommand = [\"/bin/test\", \"-e\", \"{root}/{name}-up\"]\n"
            ));
        }
        std::fs::write(dir.path().join("warden.toml"), text).unwrap();
        std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
        Site {
            dir,
            daemons: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn up(&self, service: &str) {
        std::fs::write(self.path(&format!("{service}-up")), "").unwrap();
    }

    fn down(&self, service: &str) {
        let _ = std::fs::remove_file(self.path(&format!("{service}-up")));
    }

    fn socket(&self) -> PathBuf {
        self.path("state/control.sock")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WARDEN);
        c.arg("--config")
            .arg(self.path("warden.toml"))
            .arg("--config-dir")
            .arg(self.path("conf.d"))
            .args(args);
        c
    }

    /// Starts `run`, logging to `<dir>/warden-N.log`; returns its index.
    fn start(&mut self, env: &[(&str, &str)]) -> usize {
        self.start_as(env, None)
    }

    /// `start`, with the daemon switched to `(binary, uid, gid)` first.
    fn start_as(&mut self, env: &[(&str, &str)], user: Option<(&PathBuf, u32, u32)>) -> usize {
        let n = self.daemons.len();
        let log = std::fs::File::create(self.path(&format!("warden-{n}.log"))).unwrap();
        let mut c = self.command(&["run"]);
        if let Some((bin, uid, gid)) = user {
            c = Command::new(bin);
            c.arg("--config")
                .arg(self.path("warden.toml"))
                .arg("--config-dir")
                .arg(self.path("conf.d"))
                .arg("run")
                .uid(uid)
                .gid(gid);
        }
        c.stdout(log.try_clone().unwrap()).stderr(log);
        for (k, v) in env {
            c.env(k, v);
        }
        self.daemons.push(c.spawn().expect("start anycast-warden"));
        // Ready once the control socket answers.
        until(10 * SECOND, || {
            self.cli(&["status", "--json"]).status.success()
        })
        .unwrap_or_else(|| panic!("the daemon did not answer:\n{}", self.log(n)));
        n
    }

    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(self.path(&format!("warden-{n}.log"))).unwrap_or_default()
    }

    fn signal(&self, n: usize, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.daemons[n].id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
    }

    fn wait(&mut self, n: usize) -> std::process::ExitStatus {
        let deadline = Instant::now() + 15 * SECOND;
        loop {
            if let Some(status) = self.daemons[n].try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "daemon {n} did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// What the include file announces (prefixes between the brackets).
    fn announced(&self) -> Vec<String> {
        let text =
            std::fs::read_to_string(self.path("state/bird/prefixes.conf")).unwrap_or_default();
        text.lines()
            .map(str::trim)
            .filter(|l| l.contains('/') && !l.starts_with('#') && !l.starts_with("define"))
            .map(|l| l.trim_end_matches(',').to_string())
            .collect()
    }

    /// Waits until the daemon's status says `n` prefixes are applied (the include file
    /// is written before the reconfigure returns, the status follows after it).
    fn wait_applied(&self, n: usize) {
        until(5 * SECOND, || {
            self.status_json()["backend"]["applied"]
                .as_array()
                .is_some_and(|a| a.len() == n)
        })
        .unwrap_or_else(|| panic!("{n} prefixes never applied"));
    }

    fn status_json(&self) -> serde_json::Value {
        let out = self.cli(&["status", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for child in &mut self.daemons {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for n in 0..self.daemons.len() {
                eprintln!("--- warden-{n}.log\n{}", self.log(n));
            }
        }
    }
}

fn wait_for<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T>
where
    T: Sized,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn until(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<()> {
    wait_for(timeout, || cond().then_some(()))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Skips (loudly) or, under CI, fails.
fn needs_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test} needs root, and CI runs as root"
    );
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: needs root");
    false
}

#[test]
fn status_drain_undrain_and_a_drain_survives_a_restart() {
    let mut site = Site::new(
        &[("dns", "203.0.113.53/32"), ("ntp", "203.0.113.123/32")],
        "",
    );
    site.up("dns");
    site.up("ntp");
    let first = site.start(&[]);
    until(5 * SECOND, || site.announced().len() == 2).expect("both announced");
    site.wait_applied(2);

    let out = site.cli(&["status"]);
    assert!(out.status.success(), "{}", text(&out));
    let table = text(&out);
    let dns = table
        .lines()
        .find(|l| l.starts_with("dns"))
        .expect("a dns row");
    assert!(
        dns.contains(" up ") && dns.contains("203.0.113.53/32"),
        "{table}"
    );
    assert!(table.contains("bird: last apply"), "{table}");

    let out = site.cli(&["drain", "dns", "--reason", "kernel upgrade"]);
    assert!(out.status.success(), "{}", text(&out));
    // drain returns once the withdrawal was applied.
    assert_eq!(site.announced(), ["203.0.113.123/32"]);
    let status = site.status_json();
    assert_eq!(
        status["services"]["dns"]["drained"]["reason"],
        "kernel upgrade"
    );
    assert_eq!(status["services"]["dns"]["state"], "up", "still healthy");
    let (code, line) = nagios(&site);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("drained: dns"), "{line}");

    // A restart keeps the drain: dns is never announced by the new daemon.
    site.signal(first, nix::sys::signal::Signal::SIGTERM);
    assert!(site.wait(first).success());
    assert!(site.announced().is_empty(), "SIGTERM withdrew everything");
    let second = site.start(&[]);
    until(5 * SECOND, || site.announced() == ["203.0.113.123/32"]).expect("ntp back");
    let end = Instant::now() + SECOND;
    while Instant::now() < end {
        assert_eq!(site.announced(), ["203.0.113.123/32"], "dns stays drained");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        site.status_json()["services"]["dns"]["drained"]["reason"],
        "kernel upgrade"
    );

    let out = site.cli(&["undrain", "dns"]);
    assert!(out.status.success(), "{}", text(&out));
    until(5 * SECOND, || site.announced().len() == 2).expect("dns announced again");

    // drain --all, and undrain of one service is refused while it holds.
    let out = site.cli(&["drain", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(site.announced().is_empty());
    let out = site.cli(&["undrain", "dns"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("undrain --all first"), "{}", text(&out));
    let out = site.cli(&["undrain", "--all"]);
    assert!(out.status.success(), "{}", text(&out));
    until(5 * SECOND, || site.announced().len() == 2).expect("everything back");

    let out = site.cli(&["drain", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("no service \"nosuch\" (configured: dns, ntp)"),
        "{}",
        text(&out)
    );
    assert!(
        site.log(second).contains("drained dns"),
        "{}",
        site.log(second)
    );
}

fn nagios(site: &Site) -> (i32, String) {
    let out = site.cli(&["status", "--nagios"]);
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn check_now_runs_one_service_at_once() {
    let mut site = Site::new(
        &[("dns", "203.0.113.53/32"), ("ntp", "203.0.113.123/32")],
        "",
    );
    // An hour between rounds: only check-now can notice the change.
    let config = std::fs::read_to_string(site.path("warden.toml"))
        .unwrap()
        .replace("interval = \"100ms\"", "interval = \"1h\"");
    std::fs::write(site.path("warden.toml"), config).unwrap();
    site.start(&[]);
    until(5 * SECOND, || {
        site.status_json()["backend"]["applies"].as_u64() > Some(0)
    })
    .unwrap();
    site.up("dns");
    site.up("ntp");
    let out = site.cli(&["check-now", "dns"]);
    assert!(out.status.success(), "{}", text(&out));
    until(5 * SECOND, || site.announced() == ["203.0.113.53/32"]).expect("dns checked now");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(site.announced(), ["203.0.113.53/32"], "ntp was not checked");
    let out = site.cli(&["check-now"]);
    assert!(out.status.success(), "{}", text(&out));
    until(5 * SECOND, || site.announced().len() == 2).expect("every service checked now");
    let (code, line) = nagios(&site);
    assert_eq!(code, 0, "{line}");
    assert!(
        line.starts_with("ANYCAST-WARDEN OK - 2 services up"),
        "{line}"
    );
}

/// `reload` (the unit's ExecReload=) fails visibly on a refused configuration, with the
/// problem's position, and the running configuration stays; a good one runs.
#[test]
fn reload_reports_a_refused_configuration_and_runs_a_good_one() {
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    site.start(&[]);
    site.up("dns");
    site.wait_applied(1);
    let good = std::fs::read_to_string(site.path("warden.toml")).unwrap();
    let bad = good.replace("interval = \"100ms\"", "interval = \"soon\"");
    assert_ne!(good, bad);
    std::fs::write(site.path("warden.toml"), &bad).unwrap();
    let line = bad
        .lines()
        .position(|l| l.contains("\"soon\""))
        .expect("the bad line")
        + 1;
    let socket = site.socket().display().to_string();
    let position = Regex::new(&format!(r"warden\.toml:{line}:\d+")).unwrap();
    // Asked over the socket, the daemon itself refuses (the client reads no file).
    let out = site.cli(&["reload", "--socket", &socket]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(position.is_match(&stderr), "{stderr}");
    assert!(
        stderr.contains("the running configuration stays"),
        "{stderr}"
    );
    // As ExecReload= runs it (the socket from the files): refused just the same.
    let out = site.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        position.is_match(&String::from_utf8_lossy(&out.stderr)),
        "{}",
        text(&out)
    );
    let status = site
        .command(&["status", "--json", "--socket", &socket])
        .output()
        .unwrap();
    let snapshot: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(snapshot["services"]["dns"]["state"], "up", "still running");

    // A good file with one more service: it runs, and the answer says so.
    let added = format!(
        "{good}[[service]]\nname = \"ntp\"\nprefixes = [\"203.0.113.123/32\"]\n\
         [[service.check]]\nkind = \"exec\"\ncommand = [\"/bin/test\", \"-e\", \"{}\"]\n",
        site.path("ntp-up").display()
    );
    std::fs::write(site.path("warden.toml"), added).unwrap();
    site.up("ntp");
    let out = site.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("reloaded: 2 services"),
        "{}",
        text(&out)
    );
    site.wait_applied(2);
}

/// With `JOURNAL_STREAM` naming its stdout (as systemd sets it), each line starts with its
/// sd-daemon priority and has no time of its own; a redirected stdout gets plain lines.
#[test]
fn under_journald_lines_carry_their_priority_and_no_time() {
    use std::os::unix::fs::MetadataExt;
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    // The daemon's stdout will be this file (truncated, same inode).
    let log = site.path("warden-0.log");
    std::fs::write(&log, "").unwrap();
    let meta = std::fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let journald = site.start(&[("JOURNAL_STREAM", &stream)]);
    site.up("dns");
    site.wait_applied(1);
    site.down("dns");
    site.wait_applied(0);
    site.signal(journald, nix::sys::signal::Signal::SIGTERM);
    site.wait(journald);
    let text = site.log(journald);
    let priority = Regex::new(r"^<[3-7]>").unwrap();
    assert!(
        text.lines().all(|l| priority.is_match(l)),
        "a line without its priority:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<6> INFO applied prefix set ")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("<4> WARN service dns is down ")),
        "{text}"
    );
    // Another device or inode (the log file of a second start): plain, timed lines.
    let plain = site.start(&[("JOURNAL_STREAM", &stream)]);
    site.signal(plain, nix::sys::signal::Signal::SIGTERM);
    site.wait(plain);
    let text = site.log(plain);
    let timed = Regex::new(r"^\d{4}-\d\d-\d\dT[\d:.]+Z +(INFO|WARN|ERROR|DEBUG) ").unwrap();
    assert!(!text.is_empty());
    assert!(
        text.lines().all(|l| timed.is_match(l)),
        "a line without its time:\n{text}"
    );
}

#[test]
fn status_without_a_daemon_says_so() {
    let site = Site::new(&[("dns", "203.0.113.53/32")], "");
    let out = site.cli(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("is `anycast-warden run` running"),
        "{}",
        text(&out)
    );
    let (code, line) = nagios(&site);
    assert_eq!(code, 3, "{line}");
    assert!(line.starts_with("ANYCAST-WARDEN UNKNOWN - "), "{line}");
}

/// Parses the OpenMetrics text into `series -> value`.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {l:?}"));
            (series.to_string(), value)
        })
        .collect()
}

fn scrape(addr: &str, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(5 * SECOND)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn metrics_endpoint_shows_every_documented_series_after_a_transition() {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut site = Site::new(
        &[("dns", "203.0.113.53/32"), ("ntp", "2001:db8::123/128")],
        &format!("[metrics]\nlisten = \"{addr}\"\n"),
    );
    site.up("ntp");
    site.start(&[]);
    until(5 * SECOND, || site.announced() == ["2001:db8::123/128"]).unwrap();
    // dns: unknown -> down at its first failure; then up.
    until(5 * SECOND, || {
        site.status_json()["services"]["dns"]["state"] == "down"
    })
    .unwrap();
    site.up("dns");
    site.wait_applied(2);

    let (head, body) = scrape(&addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    // The Prometheus text format 0.0.4 ends with its last family, not `# EOF`.
    assert!(body.ends_with("# TYPE anycast_warden_bgp_peer_last_notification_seconds gauge\n"));
    let m = parse_metrics(&body);
    let check = format!("exec /bin/test -e {}", site.path("dns-up").display());
    let expect = [
        (
            r#"anycast_warden_build_info{version="0.1.0"}"#.to_string(),
            Some(1.0),
        ),
        ("anycast_warden_up".into(), Some(1.0)),
        (
            r#"anycast_warden_service_announced{service="dns",prefix="203.0.113.53/32"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_announced{service="ntp",prefix="2001:db8::123/128"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_state{service="dns",state="up"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_state{service="dns",state="down"}"#.into(),
            Some(0.0),
        ),
        (
            r#"anycast_warden_service_state{service="dns",state="unknown"}"#.into(),
            Some(0.0),
        ),
        (
            r#"anycast_warden_service_transitions_total{service="dns"}"#.into(),
            Some(2.0),
        ),
        (
            r#"anycast_warden_service_transitions_total{service="ntp"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_drained{service="dns"}"#.into(),
            Some(0.0),
        ),
        (
            r#"anycast_warden_service_disabled{service="dns"}"#.into(),
            Some(0.0),
        ),
        (
            format!(r#"anycast_warden_check_up{{service="dns",check="{check}"}}"#),
            Some(1.0),
        ),
        (
            format!(
                r#"anycast_warden_check_failures_total{{service="dns",check="{check}",reason="exit_status"}}"#
            ),
            None,
        ),
        (
            format!(r#"anycast_warden_check_runs_total{{service="dns",check="{check}"}}"#),
            None,
        ),
        (
            format!(
                r#"anycast_warden_check_duration_seconds_count{{service="dns",check="{check}"}}"#
            ),
            None,
        ),
        (
            format!(
                r#"anycast_warden_check_duration_seconds_bucket{{le="+Inf",service="dns",check="{check}"}}"#
            ),
            None,
        ),
        (
            r#"anycast_warden_backend_applies_total{backend="bird"}"#.into(),
            None,
        ),
        (
            r#"anycast_warden_backend_apply_failures_total{backend="bird"}"#.into(),
            Some(0.0),
        ),
        (
            r#"anycast_warden_backend_apply_duration_seconds_count{backend="bird"}"#.into(),
            None,
        ),
        (
            r#"anycast_warden_backend_up{backend="bird"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_desired_prefixes{backend="bird"}"#.into(),
            Some(2.0),
        ),
        (
            r#"anycast_warden_applied_prefixes{backend="bird"}"#.into(),
            Some(2.0),
        ),
    ];
    for (series, value) in expect {
        let got = m
            .get(&series)
            .unwrap_or_else(|| panic!("{series} missing in\n{body}"));
        if let Some(v) = value {
            assert_eq!(*got, v, "{series}");
        } else {
            assert!(*got >= 1.0, "{series} = {got}");
        }
    }
    for series in [
        "anycast_warden_start_time_seconds",
        "anycast_warden_backend_last_success_seconds{backend=\"bird\"}",
    ] {
        assert!(m[series] > 1.6e9, "{series}");
    }
    assert!(
        m[&format!(
            r#"anycast_warden_check_failures_total{{service="dns",check="{check}",reason="exit_status"}}"#
        )] >= 1.0
    );
    let (head, _) = scrape(&addr, "/nothing");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn textfile_is_never_half_written() {
    let prom = "metrics/anycast_warden.prom";
    let services: Vec<(String, String)> = (0..40)
        .map(|i| (format!("svc{i}"), format!("198.51.100.{i}/32")))
        .collect();
    let refs: Vec<(&str, &str)> = services
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut site = Site::new(&refs, "");
    let textfile = site.path(prom);
    let config = std::fs::read_to_string(site.path("warden.toml"))
        .unwrap()
        .replace(
            "[defaults]",
            &format!(
                "[metrics]\ntextfile = \"{}\"\ntextfile_interval = \"10ms\"\n[defaults]",
                textfile.display()
            ),
        );
    std::fs::write(site.path("warden.toml"), config).unwrap();
    std::fs::create_dir_all(textfile.parent().unwrap()).unwrap();
    site.start(&[]);
    // The first write may come before the services are registered.
    until(5 * SECOND, || {
        std::fs::read_to_string(&textfile).is_ok_and(|t| t.contains("service=\"svc39\""))
    })
    .expect("the textfile appears");
    let (mut reads, mut versions, mut last) = (0, 0, String::new());
    let end = Instant::now() + 3 * SECOND;
    while Instant::now() < end {
        let text = std::fs::read_to_string(&textfile).unwrap();
        assert!(text.starts_with("# HELP anycast_warden_build"), "{text}");
        assert!(
            // 0.0.4 has no `# EOF`: the last family (no samples without BGP peers) ends it.
            text.ends_with("# TYPE anycast_warden_bgp_peer_last_notification_seconds gauge\n"),
            "a half-written textfile:\n{text}"
        );
        assert_eq!(text.matches("anycast_warden_service_state{").count(), 120);
        if text != last {
            versions += 1;
            last = text;
        }
        reads += 1;
    }
    assert!(
        versions >= 10,
        "only {versions} rewrites seen in {reads} reads"
    );
    let stray: Vec<_> = std::fs::read_dir(textfile.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".prom") && n != "anycast_warden.prom")
        .collect();
    assert!(
        stray.is_empty(),
        "temporary files must not end in .prom: {stray:?}"
    );
    site.signal(0, nix::sys::signal::Signal::SIGTERM);
    assert!(site.wait(0).success());
    assert!(
        !textfile.exists(),
        "a stopped daemon leaves no textfile behind"
    );
}

#[test]
fn socket_refuses_another_user_unless_its_group_is_configured() {
    if !needs_root("socket_refuses_another_user_unless_its_group_is_configured") {
        return;
    }
    // The client runs as nobody, so it needs a binary it may execute.
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    let bin = site.path("anycast-warden");
    std::fs::copy(WARDEN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        site.path("warden.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let as_nobody = |site: &Site| {
        Command::new(&bin)
            .args(["status", "--socket"])
            .arg(site.socket())
            .uid(nobody.uid.as_raw())
            .gid(nobody.gid.as_raw())
            .output()
            .unwrap()
    };
    let first = site.start(&[]);
    let mode = std::fs::metadata(site.socket())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let out = as_nobody(&site);
    assert!(!out.status.success());
    assert!(text(&out).contains("Permission denied"), "{}", text(&out));
    assert!(site.cli(&["status"]).status.success(), "root still gets in");

    // A socket whose mode was widened (by hand, or a umask-less copy) still refuses
    // nobody: the daemon checks the peer's credentials (SO_PEERCRED) too.
    std::fs::set_permissions(site.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = as_nobody(&site);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("may not use the control socket"),
        "{}",
        text(&out)
    );
    assert!(site.log(first).contains("refused a connection"));
    assert!(site.cli(&["status"]).status.success(), "root still gets in");

    // With its group configured, nobody's group may use the socket.
    site.signal(first, nix::sys::signal::Signal::SIGTERM);
    site.wait(first);
    let group = nix::unistd::Group::from_gid(nobody.gid)
        .unwrap()
        .expect("nobody's group");
    let config = std::fs::read_to_string(site.path("warden.toml"))
        .unwrap()
        .replace(
            "[defaults]",
            &format!("[control]\ngroup = \"{}\"\n[defaults]", group.name),
        );
    std::fs::write(site.path("warden.toml"), config).unwrap();
    site.start(&[]);
    let meta = std::fs::metadata(site.socket()).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    let out = as_nobody(&site);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("dns"), "{}", text(&out));
}

/// The daemon needs no root for the BIRD backend with a `reconfigure` command and exec
/// checks: run as nobody, it checks, writes the include file, answers its own user on the
/// control socket (and root), and holds no capability.
#[test]
fn the_daemon_runs_as_an_unprivileged_user() {
    if !needs_root("the_daemon_runs_as_an_unprivileged_user") {
        return;
    }
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    let bin = site.path("anycast-warden");
    std::fs::copy(WARDEN, &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        site.path("warden.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let nobody = nix::unistd::User::from_name("nobody")
        .unwrap()
        .expect("user nobody");
    let state = site.path("state");
    std::fs::create_dir_all(&state).unwrap();
    nix::unistd::chown(&state, Some(nobody.uid), Some(nobody.gid)).unwrap();
    site.up("dns");
    let n = site.start_as(&[], Some((&bin, nobody.uid.as_raw(), nobody.gid.as_raw())));
    site.wait_applied(1);
    assert_eq!(site.announced(), vec!["203.0.113.53/32"]);
    let pid = site.daemons[n].id();
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        proc_status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(field("Uid:"), nobody.uid.to_string(), "{proc_status}");
    assert_eq!(field("CapEff:"), "0000000000000000", "{proc_status}");
    // Its own user gets in.
    let out = Command::new(&bin)
        .args(["status", "--socket"])
        .arg(site.socket())
        .uid(nobody.uid.as_raw())
        .gid(nobody.gid.as_raw())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    site.down("dns");
    site.wait_applied(0);
    site.signal(n, nix::sys::signal::Signal::SIGTERM);
    assert!(site.wait(n).success(), "{}", site.log(n));
}

#[test]
fn sd_notify_ready_after_the_first_apply_then_status_watchdog_and_stopping() {
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    let notify_path = site.path("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(5 * SECOND)).unwrap();
    site.up("dns");
    let n = site.start(&[
        ("NOTIFY_SOCKET", &notify_path.display().to_string()),
        ("WATCHDOG_USEC", "200000"),
    ]);
    let mut messages = Vec::new();
    let mut buf = [0u8; 4096];
    let mut receive = |messages: &mut Vec<String>| {
        let len = notify.recv(&mut buf).expect("a notification");
        messages.push(String::from_utf8_lossy(&buf[..len]).into_owned());
    };
    receive(&mut messages);
    assert!(messages[0].starts_with("READY=1\nSTATUS="), "{messages:?}");
    // The watchdog pings every 100 ms (half of WATCHDOG_USEC); the status follows dns up.
    while messages
        .iter()
        .filter(|m| m.as_str() == "WATCHDOG=1")
        .count()
        < 3
        || !messages
            .iter()
            .any(|m| m.contains("1/1 services up, 1 prefixes announced"))
    {
        receive(&mut messages);
        assert!(messages.len() < 200, "{messages:?}");
    }
    site.signal(n, nix::sys::signal::Signal::SIGTERM);
    loop {
        receive(&mut messages);
        if messages.last().is_some_and(|m| m.starts_with("STOPPING=1")) {
            break;
        }
    }
    assert!(site.wait(n).success());
}

#[test]
fn withdraw_all_empties_the_routing_daemon_after_the_warden_was_killed() {
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    site.up("dns");
    let n = site.start(&[]);
    until(5 * SECOND, || site.announced() == ["203.0.113.53/32"]).unwrap();

    let out = site.cli(&["withdraw-all"]);
    assert_eq!(out.status.code(), Some(1), "refused while the daemon runs");
    assert!(
        text(&out).contains("anycast-warden is running"),
        "{}",
        text(&out)
    );
    assert_eq!(site.announced(), ["203.0.113.53/32"]);

    site.signal(n, nix::sys::signal::Signal::SIGKILL);
    site.wait(n);
    assert_eq!(
        site.announced(),
        ["203.0.113.53/32"],
        "a killed warden withdrew nothing"
    );
    let out = site.cli(&["withdraw-all"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(site.announced().is_empty());
    // And a new daemon starts despite the dead one's socket file.
    site.down("dns");
    site.start(&[]);
}

#[test]
fn log_file_rotation_keeps_log_backups_files() {
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    let log = site.path("logs/warden.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let config = std::fs::read_to_string(site.path("warden.toml")).unwrap().replace(
        "batch_window",
        &format!("log_file = \"{}\"\nlog_max_bytes = 2000\nlog_backups = 2\nlog_format = \"json\"\nbatch_window", log.display()),
    );
    std::fs::write(site.path("warden.toml"), config).unwrap();
    // Debug logs every round: plenty of lines.
    site.start(&[("RUST_LOG", "debug")]);
    let names = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(log.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    until(10 * SECOND, || names().len() == 3).unwrap_or_else(|| panic!("{:?}", names()));
    std::thread::sleep(SECOND);
    assert_eq!(names(), ["warden.log", "warden.log.1", "warden.log.2"]);
    for name in names() {
        let text = std::fs::read_to_string(log.parent().unwrap().join(&name)).unwrap();
        assert!(text.len() <= 2000, "{name}: {} bytes", text.len());
        for line in text.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            assert!(v["level"].is_string(), "{line}");
        }
    }
    let all = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(log.with_extension("log.1")).unwrap();
    assert!(all.contains("\"service\":\"dns\""), "{all}");
}

#[test]
fn completions_and_man_page() {
    let out = Command::new(WARDEN)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let bash = String::from_utf8_lossy(&out.stdout);
    assert!(
        bash.contains("anycast-warden") && bash.contains("drain"),
        "{bash}"
    );
    let out = Command::new(WARDEN).args(["man"]).output().unwrap();
    assert!(out.status.success());
    let man = String::from_utf8_lossy(&out.stdout).into_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(WARDEN)
        .args(["man", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The daemon's page (8) and the configuration file's (5).
    for page in ["anycast-warden.8", "anycast-warden.toml.5"] {
        let roff = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(roff.contains(".SH NAME"), "{page}");
    }
    assert!(man.contains(".TH ANYCAST\\-WARDEN 8"), "{man}");
}

#[test]
fn register_validates_like_the_file_persists_and_deregister_withdraws() {
    let mut site = Site::new(&[("dns", "203.0.113.53/32")], "");
    site.up("dns");
    site.up("web");
    let first = site.start(&[]);
    until(5 * SECOND, || site.announced().len() == 1).unwrap();
    let web_check = format!("exec:/bin/test -e {}", site.path("web-up").display());

    // The same validation as the files: a prefix with host bits, a prefix of another
    // service, an unknown check kind.
    let out = site.cli(&[
        "register",
        "--name",
        "web",
        "--prefix",
        "203.0.113.81/24",
        "--check",
        &web_check,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("registered/web.toml:"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("host bits"), "{}", text(&out));
    let out = site.cli(&[
        "register",
        "--name",
        "web",
        "--prefix",
        "203.0.113.53/32",
        "--check",
        &web_check,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("also a prefix of service \"dns\""),
        "{}",
        text(&out)
    );
    let out = site.cli(&[
        "register",
        "--name",
        "web",
        "--prefix",
        "203.0.113.80/32",
        "--check",
        "bogus:target=127.0.0.1:1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("unknown check kind \"bogus\""),
        "{}",
        text(&out)
    );
    assert!(!site.path("state/registered/web.toml").exists());

    let out = site.cli(&[
        "register",
        "--name",
        "web",
        "--prefix",
        "203.0.113.80/32",
        "--prefix",
        "2001:db8::80",
        "--check",
        &web_check,
        "--interval",
        "100ms",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    until(5 * SECOND, || site.announced().len() == 3).expect("web announced");
    let dns_since = site.status_json()["services"]["dns"]["since"].clone();

    // Registered services come back after a restart.
    site.signal(first, nix::sys::signal::Signal::SIGTERM);
    assert!(site.wait(first).success());
    site.start(&[]);
    until(5 * SECOND, || site.announced().len() == 3).expect("web back after the restart");
    assert_ne!(
        site.status_json()["services"]["dns"]["since"],
        dns_since,
        "a new daemon"
    );

    // A service of the configuration cannot be deregistered.
    let out = site.cli(&["deregister", "dns"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("was not registered; it is defined at"),
        "{}",
        text(&out)
    );
    let out = site.cli(&["deregister", "web"]);
    assert!(out.status.success(), "{}", text(&out));
    until(5 * SECOND, || site.announced() == ["203.0.113.53/32"]).expect("web withdrawn");
    assert!(!site.path("state/registered/web.toml").exists());
    assert!(site.status_json()["services"].get("web").is_none());
}

fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(5 * SECOND)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[test]
fn http_api_refuses_requests_without_the_token_and_does_what_the_socket_does() {
    let addr = format!("127.0.0.1:{}", free_port());
    let token = "3f9c1e0a7b2d4c6e8f1a3b5c7d9e0f21";
    let mut site = Site::new(
        &[("dns", "203.0.113.53/32")],
        &format!("[api]\nlisten = \"{addr}\"\ntoken_file = \"TOKEN_FILE\"\n"),
    );
    let token_file = site.path("api-token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let config = std::fs::read_to_string(site.path("warden.toml"))
        .unwrap()
        .replace("TOKEN_FILE", &token_file.display().to_string());
    std::fs::write(site.path("warden.toml"), config).unwrap();
    site.up("dns");
    site.start(&[]);
    until(5 * SECOND, || site.announced().len() == 1).unwrap();

    for bad in [None, Some("wrong-token-wrong-token-wrong-tok")] {
        let (head, body) = http(&addr, "GET", "/v1/status", bad, "");
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        assert!(head.contains("WWW-Authenticate: Bearer"), "{head}");
        assert!(body.contains("bearer token"), "{body}");
        let (head, _) = http(&addr, "POST", "/v1/drain?service=dns", bad, "");
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    }
    assert_eq!(site.announced(), ["203.0.113.53/32"], "nothing was drained");

    let (head, body) = http(&addr, "GET", "/v1/status", Some(token), "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"]["services"]["dns"]["state"], "up");

    let (head, body) = http(
        &addr,
        "POST",
        "/v1/drain?service=dns&reason=api+test",
        Some(token),
        "",
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head} {body}");
    until(5 * SECOND, || site.announced().is_empty()).expect("drained through the API");
    assert_eq!(
        site.status_json()["services"]["dns"]["drained"]["reason"],
        "api test"
    );

    site.up("web");
    let registration = format!(
        r#"{{"name":"web","prefixes":["203.0.113.80/32"],"checks":["exec:/bin/test -e {}"]}}"#,
        site.path("web-up").display()
    );
    let (head, body) = http(&addr, "POST", "/v1/register", Some(token), &registration);
    assert!(head.starts_with("HTTP/1.1 200"), "{head} {body}");
    until(5 * SECOND, || site.announced() == ["203.0.113.80/32"])
        .expect("registered through the API");
    let (head, body) = http(
        &addr,
        "POST",
        "/v1/register",
        Some(token),
        r#"{"name":"x","prefixes":["nonsense"],"checks":["tcp:127.0.0.1:1"]}"#,
    );
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(body.contains("registered/x.toml"), "{body}");
}

#[test]
fn an_api_off_loopback_needs_a_token() {
    let site = Site::new(
        &[("dns", "203.0.113.53/32")],
        "[api]\nlisten = \"192.0.2.1:9312\"\n",
    );
    let out = site.cli(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("the API on 192.0.2.1:9312 (not loopback) needs a token"),
        "{}",
        text(&out)
    );
}
