//! Exec checks that misbehave: thousands of runs leak no file descriptor and leave no
//! zombie; a check that ignores SIGTERM and floods its output is killed at its timeout
//! with its output bounded; a descendant that leaves the check's process group with
//! `setsid` is killed by the running daemon.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anycast_warden::check::address::AddressBook;
use anycast_warden::check::exec::OUTPUT_LIMIT;
use anycast_warden::check::{Check, CheckContext};
use anycast_warden::config::load_str;
use futures_util::StreamExt;

/// The first check of a one-service configuration with `check` as its check table.
fn check(check: &str) -> Check {
    let text = format!(
        "[[service]]\nname = \"s\"\nprefixes = [\"203.0.113.1/32\"]\nip_check = false\n[[service.check]]\n{check}\n"
    );
    let config = load_str(Path::new("t.toml"), &text).unwrap_or_else(|e| panic!("{e}"));
    let ctx = CheckContext {
        service: "s".into(),
        addresses: AddressBook::uncached(),
    };
    Check::new(&config.services[0].checks[0], &ctx)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// This process's children that are zombies.
fn zombie_children() -> Vec<i32> {
    let mut zombies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let list = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in list.split_whitespace() {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            if state == Some("Z") {
                zombies.push(pid.parse().unwrap());
            }
        }
    }
    zombies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_runs_leak_no_fd_and_leave_no_zombie() {
    let passing = check("kind = \"exec\"\ncommand = [\"/bin/true\"]");
    let failing =
        check("kind = \"exec\"\nshell = true\ncommand = \"echo out; echo err >&2; exit 3\"");
    let run_many = |n: usize| {
        let (passing, failing) = (passing.clone(), failing.clone());
        async move {
            futures_util::stream::iter(0..n)
                .map(|i| {
                    let c = if i % 2 == 0 {
                        passing.clone()
                    } else {
                        failing.clone()
                    };
                    async move { (i, c.run(Duration::from_secs(10)).await) }
                })
                .buffer_unordered(32)
                .for_each(|(i, outcome)| async move {
                    assert_eq!(outcome.passed(), i % 2 == 0, "run {i}: {}", outcome.detail);
                })
                .await;
        }
    };
    // The runtime opens what it needs (signal pipe, pidfds) on first use.
    run_many(200).await;
    let before = open_fds();
    let started = Instant::now();
    run_many(10_000).await;
    eprintln!("10,000 exec checks in {:?}", started.elapsed());
    let after = open_fds();
    assert!(
        after <= before,
        "file descriptors: {before} before, {after} after 10,000 runs"
    );
    // tokio reaps its children on SIGCHLD; give the last ones a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !zombie_children().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(zombie_children(), Vec::<i32>::new(), "zombies left");
}

#[tokio::test]
async fn a_check_that_ignores_sigterm_and_floods_stdout_is_killed_at_its_timeout() {
    let flood = check(
        "kind = \"exec\"\nshell = true\ncommand = \"trap '' TERM; yes flood & yes >&2; wait\"",
    );
    let started = Instant::now();
    let outcome = flood.run(Duration::from_millis(300)).await;
    let took = started.elapsed();
    assert!(!outcome.passed());
    assert!(
        outcome.detail.starts_with("timeout after 300ms"),
        "{}",
        outcome.detail
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // Both streams cut at the limit, plus a few words.
    assert!(
        outcome.detail.len() < 2 * OUTPUT_LIMIT + 200,
        "detail of {} bytes",
        outcome.detail.len()
    );
    assert!(outcome.detail.contains("[cut]"), "{}", outcome.detail);
}

/// Kills the daemon when dropped, also when the test fails.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// SIGKILLs a PID this test caused, when dropped, if it still runs.
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.0),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn alive(pid: i32) -> bool {
    // A zombie counts as gone only once reaped: /proc/PID disappears then.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_descendant_that_leaves_the_process_group_is_killed_by_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("escapee.pid");
    // No routing daemon: the applies fail and are retried, the checks run all the same.
    // The check waits until the escapee has left its group (the group is killed when the
    // check ends, which could otherwise catch the escapee before its setsid).
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = {state:?}\n[bird]\ninclude_file = {include:?}\ncontrol_socket = {ctl:?}\n\
             [[service]]\nname = \"s\"\nprefixes = [\"203.0.113.1/32\"]\nip_check = false\ninterval = \"1h\"\n\
             [[service.check]]\nkind = \"exec\"\nshell = true\ncommand = \"[ -e {pid} ] && exit 0; setsid sh -c 'echo $$ > {pid}.tmp && mv {pid}.tmp {pid}; exec sleep 300' & while [ ! -e {pid} ]; do sleep 0.01; done\"\n",
            state = dir.path().join("state").display().to_string(),
            include = dir.path().join("prefixes.conf").display().to_string(),
            ctl = dir.path().join("no-bird.ctl").display().to_string(),
            pid = pidfile.display(),
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("conf.d")).unwrap();
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_anycast-warden"))
            .args(["run", "--config"])
            .arg(&config)
            .args([
                "--config-dir",
                &dir.path().join("conf.d").display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let escapee: i32 = loop {
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the check never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    // Should the daemon fail at its job, the test still cleans up after itself.
    let _cleanup = KillOnDrop(escapee);
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(escapee) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(escapee),
        "pid {escapee} (setsid sleep 300) outlived its check by 5 s"
    );
    drop(daemon);
}
