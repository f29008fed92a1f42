//! The metrics as their real consumers read them: `promtool check metrics` (Debian's
//! `prometheus` package) on the textfile and on both answers of `/metrics`, and a real
//! prometheus-node-exporter whose textfile collector reads the warden's file, scraped over
//! HTTP. The warden is the real daemon (`anycast-warden run`, the BIRD backend writing its
//! include file in a temp directory, `reconfigure = ["/bin/true"]`) with services of
//! several check kinds, some failing, one drained, one disabled, one dampened, so that
//! the real families appear. Everything listens on loopback only; every process is
//! killed by PID when the test ends, also on failure.
//!
//! Without promtool or node_exporter the test prints `SKIPPED` and passes, unless
//! `CI=true` (integration/setup.sh installs both), where that is a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const WARDEN: &str = env!("CARGO_BIN_EXE_anycast-warden");
const PROMTOOL: &str = "/usr/bin/promtool";
const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const SECOND: Duration = Duration::from_secs(1);

/// Whether the tools are there; prints SKIPPED (outside CI) or panics (CI=true) if not.
fn tools_or_skip(test: &str) -> bool {
    let missing: Vec<&str> = [PROMTOOL, NODE_EXPORTER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "{} missing (apt-get install prometheus prometheus-node-exporter, as integration/setup.sh does)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: {why}, although CI=true");
    }
    eprintln!("\n**************************************************************");
    eprintln!("SKIPPED: {test}: {why}");
    eprintln!("**************************************************************");
    false
}

/// Child processes killed by PID at drop (also when an assertion fails), their logs
/// printed when the test fails.
struct Processes {
    children: Vec<(String, Child, PathBuf)>,
}

impl Processes {
    fn spawn(&mut self, label: &str, command: &mut Command, log: PathBuf) {
        let file = std::fs::File::create(&log).expect("log file");
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {label}: {e}"));
        self.children.push((label.to_string(), child, log));
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (label, child, log) in &mut self.children {
            if child.try_wait().ok().flatten().is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
            if std::thread::panicking() {
                let text = std::fs::read_to_string(&*log).unwrap_or_default();
                eprintln!("--- {label} ({})\n{text}", log.display());
            }
        }
    }
}

fn until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// `GET path` with an optional Accept header: (status line and headers, body). HTTP/1.0,
/// so that node_exporter (Go's server) answers without chunked transfer encoding.
fn get(addr: &str, path: &str, accept: Option<&str>) -> std::io::Result<(String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(5 * SECOND))?;
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{accept}\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP head in {response:?}")))?;
    Ok((head.to_string(), body.to_string()))
}

/// `promtool check metrics` with `text` on stdin.
fn promtool(text: &str) -> Output {
    let mut child = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start promtool");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    child.wait_with_output().expect("promtool's output")
}

fn assert_promtool_clean(what: &str, text: &str) {
    let out = promtool(text);
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics on {what}: {}\nstdout: {}\nstderr: {}\n--- {what}\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sample lines as `series → value` (comments skipped).
fn samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn warden(dir: &Path, args: &[&str]) -> Output {
    Command::new(WARDEN)
        .arg("--config")
        .arg(dir.join("warden.toml"))
        .arg("--config-dir")
        .arg(dir.join("conf.d"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run anycast-warden")
}

fn status(dir: &Path) -> Option<serde_json::Value> {
    let out = warden(dir, &["status", "--json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())
        .flatten()
}

#[test]
fn promtool_and_node_exporter_read_what_the_daemon_writes() {
    let test = "promtool_and_node_exporter_read_what_the_daemon_writes";
    if !tools_or_skip(test) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let textfile_dir = root.join("textfile");
    std::fs::create_dir_all(&textfile_dir).expect("textfile dir");
    std::fs::create_dir_all(root.join("conf.d")).expect("conf.d");
    let textfile = textfile_dir.join("anycast_warden.prom");
    let metrics = format!("127.0.0.1:{}", free_port());
    // A tcp check target that accepts (the kernel completes the handshake from the
    // backlog), and a port nobody listens on.
    let open = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let open_addr = open.local_addr().expect("listener address");
    let closed = format!("127.0.0.1:{}", free_port());
    let config = format!(
        r#"[daemon]
state_dir = "{root}/state"
batch_window = "0s"
[bird]
include_file = "{root}/state/bird/prefixes.conf"
reconfigure = ["/bin/true"]
[metrics]
listen = "{metrics}"
textfile = "{textfile}"
textfile_interval = "100ms"
[defaults]
interval = "100ms"
rise = 1
fall = 1
ip_check = false

[[service]]
name = "dns"
prefixes = ["203.0.113.53/32", "2001:db8::53/128"]
dampening = {{}}
[[service.check]]
kind = "exec"
command = ["/bin/true"]
[[service.check]]
kind = "tcp"
target = "{open_addr}"

[[service]]
name = "web"
prefixes = ["203.0.113.80/32"]
[[service.check]]
kind = "http"
url = "http://{metrics}/"
body_contains = "metrics"

[[service]]
name = "ntp"
prefixes = ["203.0.113.123/32"]
[[service.check]]
kind = "tcp"
target = "{closed}"
[[service.check]]
kind = "file"
path = "{root}/ntp-ok"

[[service]]
name = "mail"
prefixes = ["198.51.100.25/32"]
[[service.check]]
kind = "exec"
command = ["/bin/sh", "-c", "echo 'a \"quoted\" \\back\\slash'; exit 3"]

[[service]]
name = "old"
prefixes = ["198.51.100.99/32"]
disabled = true
[[service.check]]
kind = "exec"
command = ["/bin/true"]
"#,
        root = root.display(),
        textfile = textfile.display(),
    );
    std::fs::write(root.join("warden.toml"), config).expect("write config");
    let check = warden(root, &["check"]);
    assert!(
        check.status.success(),
        "the test's configuration: {}",
        String::from_utf8_lossy(&check.stderr)
    );

    let mut procs = Processes {
        children: Vec::new(),
    };
    let mut run = Command::new(WARDEN);
    run.arg("--config")
        .arg(root.join("warden.toml"))
        .arg("--config-dir")
        .arg(root.join("conf.d"))
        .arg("run");
    procs.spawn("anycast-warden", &mut run, root.join("warden.log"));
    assert!(
        until(10 * SECOND, || status(root).is_some()),
        "the daemon did not answer"
    );
    let out = warden(root, &["drain", "web", "--reason", "maintenance"]);
    assert!(
        out.status.success(),
        "drain: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // dns and web up (web drained), ntp and mail down: every family with samples.
    let settled = until(10 * SECOND, || {
        status(root).is_some_and(|s| {
            let state = |name: &str| s["services"][name]["state"].clone();
            state("dns") == "up"
                && state("web") == "up"
                && state("ntp") == "down"
                && state("mail") == "down"
        }) && std::fs::read_to_string(&textfile).is_ok_and(|t| {
            t.contains(r#"anycast_warden_service_drained{service="web"} 1"#)
                && t.contains(r#"anycast_warden_service_state{service="mail",state="down"} 1"#)
        })
    });
    assert!(settled, "the services never settled: {:#?}", status(root));

    // promtool on the textfile and on /metrics as 0.0.4.
    let file = std::fs::read_to_string(&textfile).expect("read the textfile");
    assert_promtool_clean("the textfile", &file);
    let (head, plain) = get(&metrics, "/metrics", None).expect("scrape /metrics");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert_promtool_clean("/metrics (0.0.4)", &plain);
    // Prometheus' own Accept header gets OpenMetrics: the same series, its own framing.
    // promtool 2.42 reads only 0.0.4 (an OpenMetrics `info` family is "unknown metric
    // type" to it), so this answer is held against the 0.0.4 one instead.
    let (head, openmetrics) = get(
        &metrics,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    )
    .expect("scrape /metrics for OpenMetrics");
    assert!(
        head.contains(
            "\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ),
        "{head}"
    );
    assert!(openmetrics.ends_with("\n# EOF\n"), "{openmetrics}");
    assert!(
        openmetrics.contains("# TYPE anycast_warden_build info\n"),
        "{openmetrics}"
    );
    let series = |text: &str| samples(text).into_keys().collect::<Vec<_>>();
    assert_eq!(series(&openmetrics), series(&plain));

    // node_exporter's textfile collector.
    let exporter = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(NODE_EXPORTER);
    command.args([
        "--collector.disable-defaults",
        "--collector.textfile",
        &format!("--collector.textfile.directory={}", textfile_dir.display()),
        &format!("--web.listen-address={exporter}"),
    ]);
    procs.spawn(
        "node_exporter",
        &mut command,
        root.join("node_exporter.log"),
    );
    let mut scraped = None;
    until(10 * SECOND, || {
        scraped = get(&exporter, "/metrics", None).ok();
        scraped.is_some()
    });
    let (_, body) = scraped.expect("node_exporter answers on /metrics");
    let m = samples(&body);
    assert_eq!(
        m.get("node_textfile_scrape_error"),
        Some(&0.0),
        "node_exporter could not read the textfile:\n{body}"
    );
    let check_up = |service: &str, check: &str| {
        format!(r#"anycast_warden_check_up{{check="{check}",service="{service}"}}"#)
    };
    for (series, want) in [
        ("anycast_warden_up".to_string(), Some(1.0)),
        (
            r#"anycast_warden_build_info{version="0.1.0"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_state{service="dns",state="up"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_state{service="ntp",state="down"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_drained{service="web"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_disabled{service="old"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_announced{prefix="203.0.113.53/32",service="dns"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_service_announced{prefix="203.0.113.80/32",service="web"}"#.into(),
            Some(0.0),
        ),
        (
            r#"anycast_warden_service_suppressed{service="dns"}"#.into(),
            Some(0.0),
        ),
        (
            r#"anycast_warden_service_transitions_total{service="mail"}"#.into(),
            Some(1.0),
        ),
        (check_up("dns", &format!("tcp {open_addr}")), Some(1.0)),
        (check_up("ntp", &format!("tcp {closed}")), Some(0.0)),
        (
            r#"anycast_warden_backend_up{backend="bird"}"#.into(),
            Some(1.0),
        ),
        (
            r#"anycast_warden_desired_prefixes{backend="bird"}"#.into(),
            Some(2.0),
        ),
        (
            r#"anycast_warden_backend_applies_total{backend="bird"}"#.into(),
            None,
        ),
        (
            r#"anycast_warden_backend_apply_duration_seconds_count{backend="bird"}"#.into(),
            None,
        ),
        (
            r#"anycast_warden_backend_apply_duration_seconds_bucket{backend="bird",le="+Inf"}"#
                .into(),
            None,
        ),
    ] {
        let got = m
            .get(&series)
            .unwrap_or_else(|| panic!("node_exporter does not export {series}:\n{body}"));
        match want {
            Some(want) => assert_eq!(*got, want, "{series}"),
            None => assert!(*got >= 1.0, "{series} = {got}"),
        }
    }
    // Counters and histograms keep their types through node_exporter.
    for line in [
        "# TYPE anycast_warden_service_transitions_total counter",
        "# TYPE anycast_warden_check_failures_total counter",
        "# TYPE anycast_warden_check_duration_seconds histogram",
        "# TYPE anycast_warden_build_info gauge",
    ] {
        assert!(body.lines().any(|l| l == line), "{line} missing in\n{body}");
    }
    drop(open);
}
