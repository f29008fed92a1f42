//! Faults the warden must survive, end to end against real BIRD 2 and a GoBGP router:
//! BIRD killed and restarted while services change, and the include file's directory full
//! or read-only. In each, the router ends with exactly the healthy prefixes once the fault
//! is gone, without a warden restart, and nothing written is ever half a file.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::lab::bird::{Bird, BirdVariant};
use crate::lab::gobgp::Router;
use crate::lab::needs::Need;
use crate::lab::process::run;
use crate::lab::warden_config::{Check, Service, WardenConfig, ms, secs};
use crate::lab::{Lab, nets};
use ipnet::IpNet;

/// The slowest the router may take after the fault is gone: the warden's retry backoff
/// tops out at 10 s, BIRD's BGP session comes back within a few seconds.
const RECOVERY: Duration = Duration::from_secs(20);

fn config(lab: &Lab, bird: &Bird, services: Vec<Service>) -> String {
    WardenConfig::new(lab)
        .batch_window(ms(20))
        .bird(bird.warden_section(true))
        .services(services)
        .to_toml()
}

/// A service checked every 100 ms, healthy while `<tempdir>/up-<name>` exists.
fn service(lab: &Lab, name: &str, prefix: &str) -> Service {
    Service::new(name)
        .prefixes(&[prefix])
        .timing(ms(100), secs(1), 1, 1)
        .ip_check(false)
        .check(Check::exists(&lab.path(&format!("up-{name}"))))
}

fn set_up(lab: &Lab, name: &str, up: bool) {
    lab.set_flag(&format!("up-{name}"), up);
}

fn wait_exactly(router: &Router, what: &str, want: &BTreeSet<IpNet>, timeout: Duration) {
    router
        .wait_for_rib_where(what, timeout, |rib| rib == want)
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Every prefix a test here uses; on `lo`, so BIRD has the routes its filter lets out.
const PREFIXES: [&str; 5] = [
    "203.0.113.1/32",
    "203.0.113.2/32",
    "203.0.113.3/32",
    "203.0.113.11/32",
    "203.0.113.12/32",
];

fn with_lab(test: &str, body: impl FnOnce(&Lab, &Router, Bird)) {
    with_lab_prepared(
        test,
        |_| (),
        |lab, router, bird, ()| body(lab, router, bird),
    );
}

/// `with_lab`, running `prepare` before BIRD starts.
fn with_lab_prepared<T>(
    test: &str,
    prepare: impl FnOnce(&Lab) -> T,
    body: impl FnOnce(&Lab, &Router, Bird, T),
) {
    let Some(lab) = Lab::new_or_skip(test, &[Need::Bird2, Need::Gobgp]) else {
        return;
    };
    let prepared = prepare(&lab);
    lab.add_lo_addresses(&nets(&PREFIXES).into_iter().collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{e}"));
    let (router, bird) = lab.start_router_and_bird(BirdVariant::Bird2);
    body(&lab, &router, bird, prepared);
}

#[test]
fn bird_killed_and_restarted_while_services_change() {
    with_lab("fault-bird-restart", |lab, router, mut bird| {
        let services = [
            ("a", "203.0.113.1/32"),
            ("b", "203.0.113.2/32"),
            ("c", "203.0.113.3/32"),
        ];
        let text = services
            .iter()
            .map(|(name, prefix)| service(lab, name, prefix))
            .collect();
        set_up(lab, "a", true);
        set_up(lab, "b", true);
        let warden = lab.start_warden(&config(lab, &bird, text));
        wait_exactly(
            router,
            "a and b announced",
            &nets(&["203.0.113.1/32", "203.0.113.2/32"]),
            Duration::from_secs(30),
        );

        bird.kill();
        // While BIRD is down, b fails and c recovers: the applies fail and are retried.
        set_up(lab, "b", false);
        set_up(lab, "c", true);
        warden
            .wait_for_log(
                "could not apply the announced prefix set",
                1,
                Duration::from_secs(10),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_secs(1));

        let back = Instant::now();
        bird.start_again();
        wait_exactly(
            router,
            "exactly the healthy prefixes after BIRD is back",
            &nets(&["203.0.113.1/32", "203.0.113.3/32"]),
            RECOVERY,
        );
        eprintln!("router exact {:?} after BIRD started again", back.elapsed());
        assert!(warden.is_running(), "the warden exited while BIRD was down");

        // And it keeps following the services.
        set_up(lab, "a", false);
        wait_exactly(
            router,
            "a withdrawn after the restart",
            &nets(&["203.0.113.3/32"]),
            Duration::from_secs(10),
        );
    });
}

/// A small tmpfs mounted on a directory of the lab; unmounted when dropped, also when the
/// test fails.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).expect("mount point");
        run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
                &dir.to_string_lossy(),
            ],
        )
        .unwrap_or_else(|e| panic!("mount tmpfs: {e}"));
        Tmpfs {
            dir: dir.to_path_buf(),
        }
    }

    fn remount(&self, option: &str) {
        run(
            "mount",
            &[
                "-o",
                &format!("remount,{option}"),
                &self.dir.to_string_lossy(),
            ],
        )
        .unwrap_or_else(|e| panic!("remount {option}: {e}"));
    }

    /// Fills the filesystem to the last byte with `<dir>/filler`.
    fn fill(&self) {
        let filler = self.dir.join("filler");
        // dd stops with "No space left on device", which is the point.
        let _ = run(
            "dd",
            &["if=/dev/zero", &format!("of={}", filler.display()), "bs=1k"],
        );
        let free = nix::sys::statvfs::statvfs(&self.dir).expect("statvfs");
        assert_eq!(free.blocks_available(), 0, "the tmpfs is not full");
    }

    fn unfill(&self) {
        fs::remove_file(self.dir.join("filler")).expect("remove filler");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Err(e) = run("umount", &["-l", &self.dir.to_string_lossy()]) {
            eprintln!("umount {}: {e}", self.dir.display());
        }
    }
}

/// Puts the include file on a small tmpfs: the lab's include path becomes a symlink to
/// it, which BIRD and the warden follow (the warden's temporary file goes next to the real
/// file). Done before BIRD and the warden start, since each runs in a mount namespace of
/// its own (`ip netns exec`) copied at its start.
fn include_on_tmpfs(lab: &Lab) -> (Tmpfs, PathBuf) {
    let tmpfs = Tmpfs::mount(&lab.path("include-fs"), "64k");
    let real = tmpfs.dir.join("anycast-prefixes.conf");
    std::os::unix::fs::symlink(&real, lab.path("anycast-prefixes.conf")).expect("symlink include");
    (tmpfs, real)
}

fn include_fault(test: &str, fault: fn(&Tmpfs), repair: fn(&Tmpfs)) {
    with_lab_prepared(
        test,
        include_on_tmpfs,
        |lab, router, bird, (tmpfs, real)| {
            let text = vec![
                service(lab, "a", "203.0.113.11/32"),
                service(lab, "b", "203.0.113.12/32"),
            ];
            set_up(lab, "a", true);
            let warden = lab.start_warden(&config(lab, &bird, text));
            wait_exactly(
                router,
                "a announced",
                &nets(&["203.0.113.11/32"]),
                Duration::from_secs(30),
            );
            let before = fs::read_to_string(&real).expect("include");

            fault(&tmpfs);
            set_up(lab, "a", false);
            set_up(lab, "b", true);
            warden
                .wait_for_log(
                    "could not apply the announced prefix set",
                    1,
                    Duration::from_secs(10),
                )
                .unwrap_or_else(|e| panic!("{e}"));
            // The old file is whole, and BIRD still has what it had.
            assert_eq!(fs::read_to_string(&real).expect("include"), before);
            assert!(
                fs::read_dir(&tmpfs.dir)
                    .expect("tmpfs")
                    .filter_map(Result::ok)
                    .all(|e| e.file_name() == "anycast-prefixes.conf" || e.file_name() == "filler"),
                "a temporary file was left behind"
            );
            let log = warden.log();
            assert!(
                log.lines()
                    .any(|l| l.contains("could not apply")
                        && l.contains(&*tmpfs.dir.to_string_lossy())),
                "the error names the directory: {log}"
            );

            let repaired = Instant::now();
            repair(&tmpfs);
            wait_exactly(
                router,
                "b alone after the space returns",
                &nets(&["203.0.113.12/32"]),
                RECOVERY,
            );
            eprintln!("router exact {:?} after the repair", repaired.elapsed());
            assert!(warden.is_running());
            drop(tmpfs);
        },
    );
}

#[test]
fn include_directory_full_keeps_the_old_file_and_retries() {
    include_fault("fault-full", Tmpfs::fill, Tmpfs::unfill);
}

#[test]
fn include_directory_read_only_keeps_the_old_file_and_retries() {
    include_fault(
        "fault-readonly",
        |fs| fs.remount("ro"),
        |fs| fs.remount("rw"),
    );
}

/// Open file descriptors and threads of a process.
fn fds_and_threads(pid: i32) -> (usize, usize) {
    let fds = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(Iterator::count)
        .unwrap_or(0);
    let threads = fs::read_dir(format!("/proc/{pid}/task"))
        .map(Iterator::count)
        .unwrap_or(0);
    (fds, threads)
}

#[test]
fn a_storm_of_reloads_with_bad_files_flaps_nothing_and_leaks_nothing() {
    with_lab("fault-sighup-storm", |lab, router, bird| {
        let a = service(lab, "a", "203.0.113.1/32");
        let b = service(lab, "b", "203.0.113.2/32");
        set_up(lab, "a", true);
        set_up(lab, "b", true);
        let only_a = config(lab, &bird, vec![a.clone()]);
        let with_b = config(lab, &bird, vec![a.clone(), b.clone()]);
        // rise = 0 is refused.
        let bad = config(lab, &bird, vec![a.rise(0), b.rise(0)]);
        let warden = lab.start_warden(&only_a);
        wait_exactly(
            router,
            "a announced",
            &nets(&["203.0.113.1/32"]),
            Duration::from_secs(30),
        );
        // Let start-up settle before counting.
        std::thread::sleep(Duration::from_millis(500));
        let before = fds_and_threads(warden.pid);
        let monitor = router.monitor();

        // 100 reloads within about a second: good files with and without b, and bad ones.
        for i in 0..100 {
            warden.write_config(match i % 3 {
                0 => &only_a,
                1 => &bad,
                _ => &with_b,
            });
            warden
                .signal(nix::sys::signal::Signal::SIGHUP)
                .expect("SIGHUP");
            std::thread::sleep(Duration::from_millis(10));
        }
        // The last good file is the one that runs.
        warden.write_config(&with_b);
        warden
            .signal(nix::sys::signal::Signal::SIGHUP)
            .expect("SIGHUP");
        wait_exactly(
            router,
            "a and b after the storm",
            &nets(&["203.0.113.1/32", "203.0.113.2/32"]),
            Duration::from_secs(10),
        );
        std::thread::sleep(Duration::from_secs(1));
        let a_prefix: IpNet = "203.0.113.1/32".parse().expect("prefix");
        let flaps: Vec<_> = monitor
            .events_for(&a_prefix)
            .into_iter()
            .filter(|e| e.withdrawal)
            .collect();
        assert!(
            flaps.is_empty(),
            "a was withdrawn during the storm: {flaps:?}"
        );
        assert!(warden.is_running());
        assert!(
            warden.log_count("configuration reload refused") > 0,
            "the bad files were refused"
        );
        let after = fds_and_threads(warden.pid);
        eprintln!("fds and threads before {before:?}, after {after:?}");
        // tokio's blocking pool may have grown; file descriptors must not.
        assert!(after.0 <= before.0 + 2, "fds {before:?} -> {after:?}");
    });
}
