//! The Debian package against the host it is made for (issue 18):
//!
//! - both manual pages lint clean (`mandoc -T lint`, `groff -man -ww`);
//! - `contrib/debian/build-deb.sh` builds a .deb that lintian passes (no error or warning
//!   beyond the overrides the package carries), and that installs into a clean Debian 12
//!   root made with debootstrap: `apt-get install ./x.deb` inside `chroot` creates the user and the state
//!   directory with the intended owners and modes, starts and enables nothing,
//!   `anycast-warden check` passes on the installed example as the daemon's user,
//!   `systemd-analyze verify` passes on the installed unit (which also finds the man pages
//!   its Documentation= names), and `dpkg --purge` removes it again;
//! - Debian's BIRD 2, started as bird.service starts it (`bird -f -u bird -g bird`), reads
//!   the include file where the package's tmpfiles.d entry creates it, with that entry's
//!   owners and modes (`systemd-tmpfiles --create --root`), before the warden ever ran; the
//!   warden then runs as its own user with the unit's capabilities and BIRD's group, and
//!   the router (GoBGP) gains the prefix and loses it when the service fails; `birdc
//!   configure` as user bird works.
//!
//! The test package holds the debug binary cargo already built for the tests (the script's
//! `--binary`): what is under test is the packaging, and a release build (fat LTO) would
//! add about 4 to 12 minutes on a 2-core machine. The debootstrap root is cached as a tar
//! in cargo's target tmpdir (`AW_DEBIAN_ROOT_CACHE` elsewhere), so only the first run
//! downloads; `AW_DEBIAN_MIRROR` replaces http://deb.debian.org/debian.
//!
//! Run as root (`cargo test --test e2e package::`); without root or the tools of
//! integration/setup.sh every test prints `SKIPPED: <why>`, unless `CI=true`.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::lab::bird::BirdVariant;
use crate::lab::machine::Claim;
use crate::lab::needs::Need;
use crate::lab::process::poll;
use crate::lab::warden_config::{BirdSection, Check, Service, WardenConfig, ms};
use crate::lab::{Lab, nets};
use nix::sys::signal::Signal;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const TARGET_TMP: &str = env!("CARGO_TARGET_TMPDIR");

/// What the package's tmpfiles.d entry and unit say (the test reads both files too).
const STATE_DIR: &str = "var/lib/anycast-warden";
const INCLUDE_FILE: &str = "var/lib/anycast-warden/bird/anycast-prefixes.conf";

fn repo(path: &str) -> PathBuf {
    Path::new(REPO).join(path)
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A shared claim on the machine to run with ([`crate::lab::machine`]), or `None` after
/// printing SKIPPED (outside CI) why not; panics in CI.
fn run_or_skip(test: &str, root: bool, programs: &[&str]) -> Option<Claim> {
    let mut why = Vec::new();
    if root && !nix::unistd::geteuid().is_root() {
        why.push("root".to_string());
    }
    why.extend(programs.iter().filter(|p| !have(p)).map(|p| p.to_string()));
    if why.is_empty() {
        return Some(Claim::shared());
    }
    let why = format!(
        "needs {} (run integration/setup.sh as root)",
        why.join(", ")
    );
    crate::lab::needs::skip_outside_ci(test, &why);
    None
}

fn output(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(out: &Output) -> String {
    crate::lab::process::output_text(out)
}

#[test]
fn both_manual_pages_lint_clean() {
    let Some(_machine) = run_or_skip("both_manual_pages_lint_clean", false, &["mandoc", "groff"])
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = output(
        Command::new(crate::lab::WARDEN_BIN)
            .args(["man", "--dir"])
            .arg(dir.path()),
    );
    assert!(out.status.success(), "man --dir: {}", text(&out));
    for page in ["anycast-warden.8", "anycast-warden.toml.5"] {
        let path = dir.path().join(page);
        // Style messages too: they are what lintian's manpage checks report.
        let lint = output(
            Command::new("mandoc")
                .args(["-T", "lint", "-W", "style"])
                .arg(&path),
        );
        assert!(
            lint.status.success() && text(&lint).is_empty(),
            "mandoc -T lint {page}:\n{}",
            text(&lint)
        );
        let groff = output(Command::new("groff").args(["-man", "-ww", "-z"]).arg(&path));
        assert!(
            groff.status.success() && text(&groff).is_empty(),
            "groff -man -ww {page}:\n{}",
            text(&groff)
        );
    }
}

/// The package, built once per test process from the tests' binary.
fn package() -> &'static Path {
    static DEB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DEB.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let start = Instant::now();
        let out = output(
            Command::new("bash")
                .arg(repo("contrib/debian/build-deb.sh"))
                .args(["--binary", crate::lab::WARDEN_BIN, "--out"])
                .arg(dir.path()),
        );
        assert!(out.status.success(), "build-deb.sh: {}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let deb = PathBuf::from(stdout.trim());
        assert!(deb.is_file(), "build-deb.sh printed {stdout:?}, not a file");
        eprintln!(
            "package: {} built in {:.1} s",
            deb.display(),
            start.elapsed().as_secs_f64()
        );
        (dir, deb)
    })
    .1
}

#[test]
fn the_package_builds_and_lintian_passes_it() {
    let Some(_machine) = run_or_skip(
        "the_package_builds_and_lintian_passes_it",
        false,
        &["dpkg-deb", "dpkg-shlibdeps", "lintian"],
    ) else {
        return;
    };
    let deb = package();
    let name = deb.file_name().map(|n| n.to_string_lossy().into_owned());
    let version = format!("{}-1", env!("CARGO_PKG_VERSION"));
    assert!(
        name.as_deref().is_some_and(
            |n| n.starts_with(&format!("anycast-warden_{version}_")) && n.ends_with(".deb")
        ),
        "{name:?}"
    );
    let contents = text(&output(Command::new("dpkg-deb").arg("--contents").arg(deb)));
    for path in [
        "./usr/bin/anycast-warden",
        "./lib/systemd/system/anycast-warden.service",
        "./usr/lib/sysusers.d/anycast-warden.conf",
        "./usr/lib/tmpfiles.d/anycast-warden.conf",
        "./usr/share/man/man8/anycast-warden.8.gz",
        "./usr/share/man/man5/anycast-warden.toml.5.gz",
        "./usr/share/bash-completion/completions/anycast-warden",
        "./usr/share/zsh/vendor-completions/_anycast-warden",
        "./usr/share/fish/vendor_completions.d/anycast-warden.fish",
        "./etc/anycast-warden/config.toml",
        "./etc/anycast-warden/conf.d/ntp.toml",
        "./usr/share/doc/anycast-warden/copyright",
        "./usr/share/doc/anycast-warden/changelog.Debian.gz",
    ] {
        assert!(
            contents.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} is not in the package:\n{contents}"
        );
    }
    assert!(
        contents.lines().all(|l| l.contains(" root/root ")),
        "every file belongs to root:\n{contents}"
    );
    let conffiles = text(&output(
        Command::new("dpkg-deb")
            .args(["--info"])
            .arg(deb)
            .arg("conffiles"),
    ));
    assert_eq!(
        conffiles,
        "/etc/anycast-warden/conf.d/ntp.toml\n/etc/anycast-warden/config.toml\n"
    );

    // glibc before 2.36 refuses a binary with packed relative relocations (build.rs), which
    // dpkg-shlibdeps does not count; ExecReload= is the warden's own `reload`, so no procps.
    let depends = text(&output(
        Command::new("dpkg-deb")
            .args(["--field"])
            .arg(deb)
            .arg("Depends"),
    ));
    let relr = text(&output(
        Command::new("readelf").args(["-V", crate::lab::WARDEN_BIN]),
    ))
    .contains("GLIBC_ABI_DT_RELR");
    assert!(
        relr,
        "the tests' binary has no DT_RELR: the check below tests nothing"
    );
    assert!(depends.contains("libc6 (>= 2.36)"), "Depends: {depends}");
    assert!(
        !depends.contains("procps") && depends.contains("passwd"),
        "Depends: {depends}"
    );

    let start = Instant::now();
    let lint = output(
        Command::new("lintian")
            .args(["--fail-on", "error,warning"])
            .arg(deb),
    );
    eprintln!("lintian took {:.1} s", start.elapsed().as_secs_f64());
    let report = text(&lint);
    assert!(
        lint.status.success()
            && !report
                .lines()
                .any(|l| l.starts_with("E:") || l.starts_with("W:")),
        "lintian:\n{report}"
    );
}

/// A clean Debian 12 root (minbase, with systemd for systemd-analyze and man-db for the
/// man pages it looks up), unpacked from the cache or made by debootstrap.
fn debian_root(into: &Path) {
    let cache = std::env::var_os("AW_DEBIAN_ROOT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(TARGET_TMP).join("debian12-minbase-systemd.tar"));
    fs::create_dir_all(into).expect("create the root");
    let start = Instant::now();
    if cache.is_file() {
        let out = output(
            Command::new("tar")
                .arg("-C")
                .arg(into)
                .arg("-xf")
                .arg(&cache),
        );
        assert!(
            out.status.success(),
            "tar -x {}: {}",
            cache.display(),
            text(&out)
        );
        eprintln!(
            "debian root: unpacked {} in {:.1} s",
            cache.display(),
            start.elapsed().as_secs_f64()
        );
        return;
    }
    let mirror =
        std::env::var("AW_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".into());
    let out = output(
        Command::new("debootstrap")
            .args(["--variant=minbase", "--include=systemd,man-db", "bookworm"])
            .arg(into)
            .arg(&mirror),
    );
    assert!(out.status.success(), "debootstrap: {}", text(&out));
    eprintln!(
        "debian root: debootstrap took {:.1} s",
        start.elapsed().as_secs_f64()
    );
    // Package lists, so that apt can resolve the package's dependencies.
    let update = in_root(into, "apt-get update");
    assert!(update.status.success(), "apt-get update: {}", text(&update));
    // Cached under a temporary name first: a run killed midway leaves no half tar behind.
    if let Some(dir) = cache.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let partial = cache.with_extension("tar.partial");
    let out = output(
        Command::new("tar")
            .arg("-C")
            .arg(into)
            .arg("-cf")
            .arg(&partial)
            .arg("."),
    );
    if out.status.success() {
        let _ = fs::rename(&partial, &cache);
    } else {
        let _ = fs::remove_file(&partial);
        eprintln!("debian root: not cached: {}", text(&out));
    }
}

/// Runs `script` with /bin/sh inside `root`, in mount and PID namespaces of its own:
/// /proc and /dev are mounted there and vanish with the namespace, whatever happens.
fn in_root(root: &Path, script: &str) -> Output {
    output(
        Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "--propagation", "private", "--"])
            .args([
                "sh",
                "-c",
                r#"mount -t proc proc "$1/proc" && mount --rbind /dev "$1/dev" && exec chroot "$1" /bin/sh -c "$2""#,
                "sh",
            ])
            .arg(root)
            .arg(format!(
                "export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive\n{script}"
            )),
    )
}

fn ok_in_root(root: &Path, what: &str, script: &str) -> String {
    let out = in_root(root, script);
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        text(&out)
    );
    text(&out)
}

#[test]
fn the_package_installs_into_a_clean_debian_12_root() {
    let Some(_machine) = run_or_skip(
        "the_package_installs_into_a_clean_debian_12_root",
        true,
        &[
            "debootstrap",
            "unshare",
            "chroot",
            "dpkg-deb",
            "dpkg-shlibdeps",
        ],
    ) else {
        return;
    };
    let deb = package();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("root");
    debian_root(&root);
    fs::copy(deb, root.join("tmp/anycast-warden.deb")).expect("copy the package");

    // The install, then every process in the namespace but the shell itself: a daemon the
    // postinst started (directly or through systemctl) would still be there.
    let install = in_root(
        &root,
        r#"set -e
# apt resolves the package's Depends from the mirror; stale package lists (the cached
# root's) are refreshed once.
apt-get install -y --no-install-recommends /tmp/anycast-warden.deb \
    || { apt-get update && apt-get install -y --no-install-recommends /tmp/anycast-warden.deb; }
echo "left running:"
for d in /proc/[0-9]*; do
    [ "${d#/proc/}" = "$$" ] || { read -r comm < "$d/comm" && echo "$comm"; }
done"#,
    );
    assert!(
        install.status.success(),
        "apt-get install: {}\n{}",
        install.status,
        text(&install)
    );
    // Only stdout: systemd-sysusers reports the user it made on stderr.
    let stdout = String::from_utf8_lossy(&install.stdout).into_owned();
    let left = stdout
        .split("left running:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no process list in:\n{stdout}"));
    let install = text(&install);
    assert_eq!(
        left.trim(),
        "",
        "the postinst left processes running:\n{install}"
    );
    assert!(
        !root
            .join("etc/systemd/system/multi-user.target.wants/anycast-warden.service")
            .exists(),
        "the postinst enabled the unit"
    );

    let passwd = ok_in_root(&root, "getent", "getent passwd anycast-warden");
    let fields: Vec<&str> = passwd.trim().split(':').collect();
    assert_eq!(fields.len(), 7, "{passwd}");
    let uid: u32 = fields[2].parse().expect("uid");
    assert!((1..1000).contains(&uid), "not a system user: {passwd}");
    assert_eq!(fields[5], "/var/lib/anycast-warden", "{passwd}");
    assert_eq!(fields[6], "/usr/sbin/nologin", "{passwd}");
    let group = ok_in_root(&root, "getent", "getent group anycast-warden");
    let gid: u32 = group
        .split(':')
        .nth(2)
        .and_then(|g| g.parse().ok())
        .expect("gid");

    for (path, mode) in [
        (STATE_DIR, 0o755),
        ("var/lib/anycast-warden/bird", 0o755),
        (INCLUDE_FILE, 0o644),
    ] {
        let meta = fs::metadata(root.join(path)).unwrap_or_else(|e| panic!("/{path}: {e}"));
        assert_eq!(
            meta.mode() & 0o7777,
            mode,
            "/{path}: mode {:o}",
            meta.mode()
        );
        assert_eq!((meta.uid(), meta.gid()), (uid, gid), "/{path}: owner");
    }
    let include = fs::read_to_string(root.join(INCLUDE_FILE)).expect("include file");
    assert!(
        include.contains("define ANYCAST_PREFIXES = [ ];")
            && include.contains("define ANYCAST6_PREFIXES = [ ];"),
        "{include}"
    );

    // As the unit's ExecStartPre= does: the daemon's user reads the installed example.
    let check = ok_in_root(
        &root,
        "anycast-warden check as its user",
        "setpriv --reuid=anycast-warden --regid=anycast-warden --init-groups anycast-warden check",
    );
    assert!(check.contains("dns") && check.contains("ntp"), "{check}");

    // It runs man(1) for the pages Documentation= names: they must be installed.
    let verify = in_root(
        &root,
        "systemd-analyze verify /lib/systemd/system/anycast-warden.service",
    );
    assert!(
        verify.status.success() && !text(&verify).contains("anycast-warden"),
        "systemd-analyze verify: {}\n{}",
        verify.status,
        text(&verify)
    );
    ok_in_root(
        &root,
        "man -w",
        "man -w anycast-warden.toml && man -w 8 anycast-warden",
    );

    ok_in_root(&root, "dpkg --purge", "dpkg --purge anycast-warden");
    assert!(!root.join(STATE_DIR).exists(), "purge left /{STATE_DIR}");
    assert!(!root.join("usr/bin/anycast-warden").exists());
}

/// The uid and gid the test root gives the daemon's user (no user on the host needed).
const WARDEN_UID: u32 = 64_990;

#[test]
fn debians_bird_reads_what_the_package_creates_and_follows_the_warden() {
    let test = "debians_bird_reads_what_the_package_creates_and_follows_the_warden";
    let Some(_machine) = run_or_skip(test, true, &["systemd-tmpfiles", "setpriv"]) else {
        return;
    };
    let Some(lab) = Lab::new_or_skip(test, &[Need::Bird2, Need::Gobgp]) else {
        return;
    };
    let bird = nix::unistd::User::from_name("bird")
        .ok()
        .flatten()
        .expect("Debian's bird2 creates the user bird");
    let bird_group = nix::unistd::Group::from_name("bird")
        .ok()
        .flatten()
        .expect("Debian's bird2 creates the group bird");

    // The unit and the tmpfiles.d entry agree on the state directory's mode.
    let unit = fs::read_to_string(repo("contrib/systemd/anycast-warden.service")).expect("unit");
    let tmpfiles =
        fs::read_to_string(repo("contrib/debian/anycast-warden.tmpfiles")).expect("tmpfiles");
    assert!(unit.lines().any(|l| l == "StateDirectoryMode=0755"), "unit");
    assert!(
        tmpfiles
            .lines()
            .any(|l| l.starts_with("d /var/lib/anycast-warden 0755 anycast-warden ")),
        "tmpfiles"
    );

    // A root with the package's users, where systemd-tmpfiles applies the package's file.
    fs::set_permissions(lab.dir(), fs::Permissions::from_mode(0o755)).expect("chmod tempdir");
    let root = lab.path("root");
    fs::create_dir_all(root.join("etc")).expect("etc");
    fs::write(
        root.join("etc/passwd"),
        format!(
            "root:x:0:0:root:/root:/bin/sh\nbird:x:{}:{}::/run/bird:/usr/sbin/nologin\nanycast-warden:x:{WARDEN_UID}:{WARDEN_UID}::/var/lib/anycast-warden:/usr/sbin/nologin\n",
            bird.uid, bird_group.gid
        ),
    )
    .expect("passwd");
    fs::write(
        root.join("etc/group"),
        format!(
            "root:x:0:\nbird:x:{}:anycast-warden\nanycast-warden:x:{WARDEN_UID}:\n",
            bird_group.gid
        ),
    )
    .expect("group");
    let out = output(
        Command::new("systemd-tmpfiles")
            .arg("--create")
            .arg(format!("--root={}", root.display()))
            .arg(repo("contrib/debian/anycast-warden.tmpfiles")),
    );
    assert!(out.status.success(), "systemd-tmpfiles: {}", text(&out));
    let include = root.join(INCLUDE_FILE);
    let meta = fs::metadata(&include).expect("the include file");
    assert_eq!((meta.uid(), meta.mode() & 0o777), (WARDEN_UID, 0o644));

    // /run/bird as Debian's prepare-environment makes it: bird:bird 0775.
    let run = root.join("run/bird");
    fs::create_dir_all(&run).expect("run/bird");
    nix::unistd::chown(&run, Some(bird.uid), Some(bird_group.gid)).expect("chown run/bird");
    fs::set_permissions(&run, fs::Permissions::from_mode(0o775)).expect("chmod run/bird");
    let ctl = run.join("bird.ctl");
    let conf = root.join("etc/bird/bird.conf");
    fs::create_dir_all(root.join("etc/bird")).expect("etc/bird");
    fs::write(
        &conf,
        crate::lab::bird::bird2_conf("log stderr all;", &include),
    )
    .expect("bird.conf");

    let router = lab.start_router(false);
    let (conf_s, ctl_s) = (conf.display().to_string(), ctl.display().to_string());
    // Exactly bird.service's ExecStart= (with its own files under the test root).
    let bird_pid = lab
        .spawn(
            "bird",
            Some(&lab.host_ns),
            &[
                "bird", "-f", "-u", "bird", "-g", "bird", "-c", &conf_s, "-s", &ctl_s,
            ],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    poll(Duration::from_secs(15), Duration::from_millis(50), || {
        assert!(
            lab.is_running(bird_pid),
            "BIRD (-u bird -g bird) exited at start with the package's include file"
        );
        crate::lab::process::run("birdc", &["-s", &ctl_s, "show", "status"]).ok()
    })
    .unwrap_or_else(|| panic!("BIRD's control socket did not answer within 15 s"));
    router
        .wait_established(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));

    // The warden as the unit runs it: its user, BIRD's group, the unit's capabilities.
    let prefix = "203.0.113.180/32";
    let prefixes = nets(&[prefix]);
    lab.add_lo_addresses(&prefixes.iter().copied().collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{e}"));
    let bin = lab.path("anycast-warden");
    fs::copy(crate::lab::WARDEN_BIN, &bin).expect("copy the warden");
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).expect("chmod warden");
    let maintenance = lab.path("maintenance");
    let config = WardenConfig::with_state_dir(&root.join(STATE_DIR))
        .bird(BirdSection::new(BirdVariant::Bird2, &include).control_socket(&ctl))
        .service(
            Service::new("web")
                .prefixes(&[prefix])
                .interval(ms(200))
                .rise(1)
                .fall(1)
                .check(Check::file(&maintenance).absent(true)),
        )
        .to_toml();
    let caps = "-all,+net_bind_service,+net_raw";
    let wrapper = [
        "setpriv",
        &format!("--reuid={WARDEN_UID}"),
        &format!("--regid={WARDEN_UID}"),
        &format!("--groups={}", bird_group.gid),
        &format!("--inh-caps={caps}"),
        &format!("--ambient-caps={caps}"),
        &format!("--bounding-set={caps}"),
        "--no-new-privs",
        "--",
    ];
    let wrapper: Vec<&str> = wrapper.iter().map(|s| s.as_ref()).collect();
    let warden = lab.start_warden_wrapped(&config, &wrapper, &bin);
    router
        .wait_for_rib(&prefixes, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}\nwarden: {}", warden.log()));
    let meta = fs::metadata(&include).expect("the include file");
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (WARDEN_UID, 0o644),
        "rewritten include"
    );

    // `birdc configure` as bird (BIRD re-reads the warden's file as its own user).
    let configure = output(Command::new("setpriv").args([
        "--reuid=bird",
        "--regid=bird",
        "--init-groups",
        "birdc",
        "-s",
        &ctl_s,
        "configure",
    ]));
    assert!(
        text(&configure).contains("Reconfigured"),
        "birdc configure as bird: {}",
        text(&configure)
    );

    fs::write(&maintenance, "").expect("maintenance");
    router
        .wait_for_rib(&Default::default(), Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}\nwarden: {}", warden.log()));

    warden.signal(Signal::SIGTERM).expect("SIGTERM");
    let status = warden
        .wait_exit(Duration::from_secs(15))
        .expect("warden exit");
    assert!(status.success(), "warden: {status}\n{}", warden.log());
}
