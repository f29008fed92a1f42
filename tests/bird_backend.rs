//! The BIRD backend against the real BIRD: BIRD 2 (Debian `bird2`, `/usr/sbin/bird`) and
//! BIRD 1.6 (Debian `bird` unpacked into `AW_BIRD1_SBIN`, default `/opt/bird1/usr/sbin`).
//!
//! Each test starts its own `bird -f` on a control socket in a temp directory (no
//! network, no BGP) whose bird.conf includes the backend's file, applies sets through
//! the control socket and through `birdc configure`, and asks BIRD what its sets now
//! hold (`birdc eval SET`). Without a BIRD binary a test prints `SKIPPED: why` and
//! passes, except under `CI=true`, where it fails: CI must run them.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anycast_warden::backend::bird::{BirdBackend, BirdError, render};
use anycast_warden::config::{BirdSettings, BirdVariant};
use anycast_warden::sys::atomic_write;
use ipnet::IpNet;

/// Skips (loudly) or, under CI, fails.
fn unavailable(why: &str) {
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{why}: CI must run this test (install it in .ci/run)");
    }
    // Straight to the process's stderr: the test harness captures `eprintln!` of
    // passing tests, and a skip must be seen.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// BIRD 2's `bird` and `birdc`, if installed.
fn bird2_bins() -> Option<(PathBuf, PathBuf)> {
    let sbin = PathBuf::from(std::env::var("AW_BIRD2_SBIN").unwrap_or("/usr/sbin".into()));
    let (bird, birdc) = (sbin.join("bird"), sbin.join("birdc"));
    let version = Command::new(&bird).arg("--version").output().ok()?;
    // BIRD prints its version on stderr.
    let text = String::from_utf8_lossy(&version.stderr).into_owned();
    if !text.contains("BIRD version 2.") {
        return None;
    }
    birdc.exists().then_some((bird, birdc))
}

/// BIRD 1.6's directory with bird, bird6, birdc, birdc6, if present.
fn bird1_sbin() -> Option<PathBuf> {
    let sbin =
        PathBuf::from(std::env::var("AW_BIRD1_SBIN").unwrap_or("/opt/bird1/usr/sbin".into()));
    let runs = |name: &str| {
        Command::new(sbin.join(name))
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stderr).contains("BIRD version 1."))
    };
    (runs("bird") && runs("bird6") && sbin.join("birdc").exists() && sbin.join("birdc6").exists())
        .then_some(sbin)
}

/// A `bird -f` we started; killed by its PID when dropped.
struct Bird {
    child: Child,
    socket: PathBuf,
    config: PathBuf,
    birdc: PathBuf,
}

impl Bird {
    /// Starts `bird` on `dir/NAME.ctl` with a bird.conf that includes `include`.
    fn start(bird: &Path, birdc: &Path, dir: &Path, name: &str, include: &Path) -> Bird {
        let config = dir.join(format!("{name}.conf"));
        std::fs::write(&config, bird_conf(include)).unwrap();
        let socket = dir.join(format!("{name}.ctl"));
        let child = Command::new(bird)
            .arg("-f")
            .arg("-c")
            .arg(&config)
            .arg("-s")
            .arg(&socket)
            .arg("-P")
            .arg(dir.join(format!("{name}.pid")))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut me = Bird {
            child,
            socket,
            config,
            birdc: birdc.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while UnixStream::connect(&me.socket).is_err() {
            if let Ok(Some(status)) = me.child.try_wait() {
                panic!("{} exited at start: {status}", bird.display());
            }
            assert!(Instant::now() < deadline, "BIRD did not open its socket");
            std::thread::sleep(Duration::from_millis(10));
        }
        me
    }

    /// What BIRD says a set (or any expression) holds, e.g. `[203.0.113.53/32{0.0.0.1}]`.
    fn eval(&self, expr: &str) -> String {
        let out = Command::new(&self.birdc)
            .arg("-s")
            .arg(&self.socket)
            .arg("eval")
            .arg(expr)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // The first line is the greeting ("BIRD 2.0.12 ready.").
        text.lines().skip(1).collect::<Vec<_>>().join("\n")
    }

    fn birdc_configure(&self) -> Vec<String> {
        vec![
            self.birdc.display().to_string(),
            "-s".into(),
            self.socket.display().to_string(),
            "configure".into(),
        ]
    }
}

impl Drop for Bird {
    fn drop(&mut self) {
        // Child::kill signals exactly this PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal bird.conf: our include, and a protocol (BIRD refuses a config with none).
fn bird_conf(include: &Path) -> String {
    format!(
        "router id 192.0.2.1;\ninclude \"{}\";\nprotocol device {{ }}\n",
        include.display()
    )
}

fn settings(variant: BirdVariant, dir: &Path) -> BirdSettings {
    let bird1 = variant == BirdVariant::Bird1;
    BirdSettings {
        variant,
        include_file: dir.join("anycast-prefixes.conf"),
        include_file6: bird1.then(|| dir.join("anycast-prefixes6.conf")),
        set_name: "ANYCAST_PREFIXES".into(),
        set_name6: "ANYCAST6_PREFIXES".into(),
        control_socket: None,
        control_socket6: None,
        reconfigure: vec!["birdc".into(), "configure".into()],
        reconfigure6: None,
        reconfigure_timeout: Duration::from_secs(3),
        dummy_prefix: bird1.then(|| "192.0.2.255/32".parse().unwrap()),
        dummy_prefix6: bird1.then(|| "2001:db8:ffff::ffff/128".parse().unwrap()),
        keep_changes: 2,
    }
}

/// Writes the include file(s) for `set` so that BIRD can start.
fn prepare(settings: &BirdSettings, set: &BTreeSet<IpNet>) {
    for f in render::render_files(settings, set).unwrap() {
        atomic_write::write(&f.path, f.text.as_bytes(), 0).unwrap();
    }
}

fn set(prefixes: &[&str]) -> BTreeSet<IpNet> {
    prefixes.iter().map(|p| p.parse().unwrap()).collect()
}

fn shows(eval: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().all(|p| eval.contains(p))
}

/// The apply/verify cycle shared by the socket and the command variants.
async fn bird2_cycle(backend: &mut BirdBackend, bird: &Bird) {
    let both = set(&["203.0.113.53/32", "198.51.100.0/24", "2001:db8::53/128"]);
    backend.apply(&both).await.unwrap();
    let v4 = bird.eval("ANYCAST_PREFIXES");
    let v6 = bird.eval("ANYCAST6_PREFIXES");
    assert!(shows(&v4, &["203.0.113.53/32", "198.51.100.0/24"]), "{v4}");
    assert!(!v4.contains("2001:db8"), "{v4}");
    assert!(shows(&v6, &["2001:db8::53/128"]), "{v6}");
    assert_eq!(backend.read_announced().unwrap(), both);

    // Idempotent.
    backend.apply(&both).await.unwrap();

    let fewer = set(&["198.51.100.0/24"]);
    backend.apply(&fewer).await.unwrap();
    let v4 = bird.eval("ANYCAST_PREFIXES");
    assert!(
        shows(&v4, &["198.51.100.0/24"]) && !v4.contains("203.0.113.53"),
        "{v4}"
    );
    assert_eq!(bird.eval("ANYCAST6_PREFIXES"), "[]");

    backend.apply(&BTreeSet::new()).await.unwrap();
    assert_eq!(bird.eval("ANYCAST_PREFIXES"), "[]");
    assert_eq!(backend.read_announced().unwrap(), BTreeSet::new());
}

#[tokio::test]
async fn bird2_apply_through_the_control_socket() {
    let Some((bird, birdc)) = bird2_bins() else {
        return unavailable(
            "BIRD 2 is not installed (bird, birdc in AW_BIRD2_SBIN, default /usr/sbin)",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(BirdVariant::Bird2, dir.path());
    prepare(&s, &BTreeSet::new());
    let b = Bird::start(&bird, &birdc, dir.path(), "bird", &s.include_file);
    s.control_socket = Some(b.socket.clone());
    let mut backend = BirdBackend::new(&s);
    bird2_cycle(&mut backend, &b).await;
    // keep_changes = 2: the two versions before the current one.
    assert_eq!(
        std::fs::read_dir(dir.path().join("history"))
            .unwrap()
            .count(),
        2
    );
}

#[tokio::test]
async fn bird2_apply_through_birdc_configure() {
    let Some((bird, birdc)) = bird2_bins() else {
        return unavailable(
            "BIRD 2 is not installed (bird, birdc in AW_BIRD2_SBIN, default /usr/sbin)",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(BirdVariant::Bird2, dir.path());
    prepare(&s, &BTreeSet::new());
    let b = Bird::start(&bird, &birdc, dir.path(), "bird", &s.include_file);
    s.reconfigure = b.birdc_configure();
    let mut backend = BirdBackend::new(&s);
    bird2_cycle(&mut backend, &b).await;
}

#[tokio::test]
async fn bird2_through_a_symlinked_include_file() {
    let Some((bird, birdc)) = bird2_bins() else {
        return unavailable(
            "BIRD 2 is not installed (bird, birdc in AW_BIRD2_SBIN, default /usr/sbin)",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(BirdVariant::Bird2, dir.path());
    let real = dir.path().join("real/prefixes.conf");
    prepare(
        &BirdSettings {
            include_file: real.clone(),
            ..s.clone()
        },
        &BTreeSet::new(),
    );
    std::os::unix::fs::symlink(&real, &s.include_file).unwrap();
    let b = Bird::start(&bird, &birdc, dir.path(), "bird", &s.include_file);
    s.control_socket = Some(b.socket.clone());
    BirdBackend::new(&s)
        .apply(&set(&["203.0.113.53/32"]))
        .await
        .unwrap();
    assert!(shows(&b.eval("ANYCAST_PREFIXES"), &["203.0.113.53/32"]));
    assert!(
        std::fs::symlink_metadata(&s.include_file)
            .unwrap()
            .is_symlink()
    );
}

#[tokio::test]
async fn bird2_broken_user_config_gives_birds_message() {
    let Some((bird, birdc)) = bird2_bins() else {
        return unavailable(
            "BIRD 2 is not installed (bird, birdc in AW_BIRD2_SBIN, default /usr/sbin)",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(BirdVariant::Bird2, dir.path());
    let before = set(&["203.0.113.53/32"]);
    prepare(&s, &before);
    let b = Bird::start(&bird, &birdc, dir.path(), "bird", &s.include_file);
    // The user breaks bird.conf (line 4) while BIRD runs.
    let mut conf = bird_conf(&s.include_file);
    conf.push_str("protocol static { route 203.0.113.0/33 blackhole; }\n");
    std::fs::write(&b.config, conf).unwrap();
    let after = set(&["198.51.100.0/24"]);

    s.control_socket = Some(b.socket.clone());
    let err = BirdBackend::new(&s).apply(&after).await.unwrap_err();
    let msg = err.to_string();
    let place = format!("{}:4:", b.config.display());
    assert!(matches!(err, BirdError::Reconfigure { .. }), "{msg}");
    assert!(msg.contains("(8002)") && msg.contains(&place), "{msg}");
    eprintln!("socket: {msg}");

    s.control_socket = None;
    s.reconfigure = b.birdc_configure();
    let msg = BirdBackend::new(&s)
        .apply(&after)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("exit status: 1") && msg.contains(&place),
        "{msg}"
    );
    eprintln!("birdc: {msg}");

    // BIRD kept its old configuration.
    let v4 = b.eval("ANYCAST_PREFIXES");
    assert!(
        shows(&v4, &["203.0.113.53/32"]) && !v4.contains("198.51.100"),
        "{v4}"
    );
}

#[tokio::test]
async fn bird_not_running_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(BirdVariant::Bird2, dir.path());
    let socket = dir.path().join("no-bird.ctl");
    s.control_socket = Some(socket.clone());
    let msg = BirdBackend::new(&s)
        .apply(&set(&["203.0.113.53/32"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(&format!(
            "bird: cannot connect to BIRD's control socket {} (is BIRD running?)",
            socket.display()
        )),
        "{msg}"
    );

    let Some((_, birdc)) = bird2_bins() else {
        return unavailable("BIRD 2's birdc is not installed");
    };
    s.control_socket = None;
    s.reconfigure = vec![
        birdc.display().to_string(),
        "-s".into(),
        socket.display().to_string(),
        "configure".into(),
    ];
    let msg = BirdBackend::new(&s)
        .apply(&set(&["203.0.113.53/32"]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains(&format!(
            "Unable to connect to server control socket ({})",
            socket.display()
        )),
        "{msg}"
    );
}

/// Every layout the renderer writes is accepted by `bird -p` (and `bird6 -p`).
#[test]
fn rendered_files_pass_birds_own_parser() {
    let dir = tempfile::tempdir().unwrap();
    let sets = [
        set(&[]),
        set(&["203.0.113.53/32"]),
        set(&["2001:db8::53/128"]),
        set(&[
            "203.0.113.53/32",
            "198.51.100.0/24",
            "2001:db8::/48",
            "2001:db8::53/128",
        ]),
    ];
    let check = |bird: &Path, include: &Path, text: &str| {
        std::fs::write(include, text).unwrap();
        let conf = dir.path().join("check.conf");
        std::fs::write(&conf, bird_conf(include)).unwrap();
        let out = Command::new(bird)
            .arg("-p")
            .arg("-c")
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} -p rejects\n{text}\n{}",
            bird.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    match bird2_bins() {
        Some((bird, _)) => {
            for dummies in [false, true] {
                let mut s = settings(BirdVariant::Bird2, dir.path());
                if dummies {
                    s.dummy_prefix = Some("192.0.2.255/32".parse().unwrap());
                    s.dummy_prefix6 = Some("2001:db8:ffff::ffff/128".parse().unwrap());
                }
                for want in &sets {
                    for f in render::render_files(&s, want).unwrap() {
                        check(&bird, &f.path, &f.text);
                    }
                }
            }
        }
        None => unavailable("BIRD 2 is not installed (bird in AW_BIRD2_SBIN, default /usr/sbin)"),
    }
    match bird1_sbin() {
        Some(sbin) => {
            let s = settings(BirdVariant::Bird1, dir.path());
            for want in &sets {
                let files = render::render_files(&s, want).unwrap();
                check(&sbin.join("bird"), &files[0].path, &files[0].text);
                check(&sbin.join("bird6"), &files[1].path, &files[1].text);
            }
        }
        None => unavailable("BIRD 1.6 binaries not found in AW_BIRD1_SBIN (/opt/bird1/usr/sbin)"),
    }
}

#[tokio::test]
async fn bird1_apply_to_bird_and_bird6() {
    let Some(sbin) = bird1_sbin() else {
        return unavailable(
            "BIRD 1.6 binaries not found in AW_BIRD1_SBIN (/opt/bird1/usr/sbin); \
             `apt-get download bird && dpkg -x bird_*.deb /opt/bird1`",
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let mut s = settings(BirdVariant::Bird1, dir.path());
    prepare(&s, &BTreeSet::new());
    let include6 = s.include_file6.clone().unwrap();
    let b4 = Bird::start(
        &sbin.join("bird"),
        &sbin.join("birdc"),
        dir.path(),
        "bird",
        &s.include_file,
    );
    let b6 = Bird::start(
        &sbin.join("bird6"),
        &sbin.join("birdc6"),
        dir.path(),
        "bird6",
        &include6,
    );
    // bird over its socket, bird6 through birdc6: both paths in one test.
    s.control_socket = Some(b4.socket.clone());
    s.reconfigure6 = Some(b6.birdc_configure());
    let mut backend = BirdBackend::new(&s);

    let both = set(&["203.0.113.53/32", "2001:db8::53/128"]);
    backend.apply(&both).await.unwrap();
    let v4 = b4.eval("ANYCAST_PREFIXES");
    let v6 = b6.eval("ANYCAST6_PREFIXES");
    assert!(shows(&v4, &["203.0.113.53/32", "192.0.2.255/32"]), "{v4}");
    assert!(
        shows(&v6, &["2001:db8::53/128", "2001:db8:ffff::ffff/128"]),
        "{v6}"
    );
    assert_eq!(backend.read_announced().unwrap(), both);

    // Empty: only the dummies remain, which BIRD 1.6 accepts.
    backend.apply(&BTreeSet::new()).await.unwrap();
    let v4 = b4.eval("ANYCAST_PREFIXES");
    let v6 = b6.eval("ANYCAST6_PREFIXES");
    assert!(
        shows(&v4, &["192.0.2.255/32"]) && !v4.contains("203.0.113.53"),
        "{v4}"
    );
    assert!(
        shows(&v6, &["2001:db8:ffff::ffff/128"]) && !v6.contains("2001:db8::53"),
        "{v6}"
    );
    assert_eq!(backend.read_announced().unwrap(), BTreeSet::new());

    // BIRD 1.6's birdc exits 0 on a refused config: the backend still sees the error.
    let mut conf = bird_conf(&include6);
    conf.push_str("protocol static { route 2001:db8::/129 blackhole; }\n");
    std::fs::write(&b6.config, conf).unwrap();
    let msg = backend.apply(&both).await.unwrap_err().to_string();
    assert!(
        msg.starts_with("bird6: ")
            && msg.contains("exit status: 0")
            && msg.contains(&format!("{}:4:", b6.config.display())),
        "{msg}"
    );
    eprintln!("bird6 via birdc6: {msg}");
}
