//! `kind = "exec"`: runs a program; exit status 0 passes.
//!
//! The program runs without a shell (unless `shell = true`), with no stdin, in a process
//! group of its own. When it exits, or when the timeout expires, the whole group is sent
//! SIGKILL, so grandchildren it left behind (or that keep its pipes open) die with it; one
//! that left the group with `setsid()` is caught by the `reaper`.
//! stdout and stderr are captured up to `OUTPUT_LIMIT` bytes each and read to the end, so
//! a chatty check never blocks on a full pipe.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::task::JoinHandle;

use super::{CheckOutcome, Failure};
use crate::config::{ExecCommand, ExecSpec};

/// Bytes of each output stream kept for the log.
pub const OUTPUT_LIMIT: usize = 4096;

/// How long to wait for the pipes to close once the process group is dead.
const DRAIN_GRACE: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct ExecCheck {
    command: ExecCommand,
    service: String,
    /// `(uid, gid)` to switch to before the program starts.
    run_as: Option<(u32, u32)>,
}

impl ExecCheck {
    pub fn new(spec: &ExecSpec, service: &str) -> Self {
        ExecCheck {
            command: spec.command.clone(),
            service: service.to_string(),
            run_as: spec.run_as.as_ref().map(|r| (r.uid, r.gid)),
        }
    }

    pub fn command(&self) -> &ExecCommand {
        &self.command
    }

    fn build(&self) -> Command {
        let mut cmd = match &self.command {
            ExecCommand::Argv(argv) => {
                let mut cmd = Command::new(argv.first().map_or("", String::as_str));
                cmd.args(argv.iter().skip(1));
                cmd
            }
            ExecCommand::Shell(line) => {
                let mut cmd = Command::new("/bin/sh");
                cmd.arg("-c").arg(line);
                cmd
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .env("ANYCAST_WARDEN_SERVICE", &self.service);
        if let Some((uid, gid)) = self.run_as {
            // std sets the group, clears the supplementary groups (when running as root)
            // and sets the user in the child before exec: the check never runs with the
            // daemon's privileges.
            cmd.gid(gid).uid(uid);
        }
        cmd
    }

    pub async fn run(&self, timeout: Duration) -> CheckOutcome {
        // In a storm, wait for one of `max_concurrent_exec` slots; the timeout runs from
        // the start of the process.
        let _slot = super::exec_slots::acquire().await;
        let mut child = match crate::sys::reaper::spawn_check(&mut self.build()) {
            Ok(child) => child,
            Err(e) => {
                return CheckOutcome::fail(
                    Failure::Start,
                    format!("cannot start {}: {e}", self.command),
                );
            }
        };
        // The child leads its own group, so its PID is the group's ID.
        // Also kills the group if this future is dropped mid-run (shutdown, reload).
        let group = GroupKiller(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .map(Pid::from_raw),
        );
        let stdout = child.stdout.take().map(read_bounded);
        let stderr = child.stderr.take().map(read_bounded);

        let waited = tokio::time::timeout(timeout, child.wait()).await;
        drop(group);
        let status = match waited {
            Ok(status) => status,
            Err(_) => {
                // Reap the leader we just killed so no zombie is left.
                let _ = child.wait().await;
                let out = collect(stdout, stderr).await;
                return CheckOutcome::fail(
                    Failure::Timeout,
                    format!(
                        "{}, killed its process group{out}",
                        super::timeout_reason(timeout)
                    ),
                );
            }
        };
        let out = collect(stdout, stderr).await;
        match status {
            Ok(status) if status.success() => CheckOutcome::pass("exit status 0"),
            Ok(status) => CheckOutcome::fail(
                Failure::ExitStatus,
                format!("{}{out}", describe_status(status)),
            ),
            Err(e) => CheckOutcome::fail(
                Failure::Other,
                format!("waiting for {}: {e}{out}", self.command),
            ),
        }
    }
}

/// Sends SIGKILL to the check's process group when dropped.
struct GroupKiller(Option<Pid>);

impl Drop for GroupKiller {
    fn drop(&mut self) {
        if let Some(group) = self.0 {
            // ESRCH (group already gone) is the normal case for a well-behaved check.
            let _ = killpg(group, Signal::SIGKILL);
            // Whatever of it is left outside the group is now the reaper's.
            crate::sys::reaper::forget_group(group.as_raw());
        }
    }
}

fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended abnormally".to_string(),
    }
}

/// Captured output of one stream: the first bytes, and whether more was cut.
struct Captured {
    head: Vec<u8>,
    truncated: bool,
}

fn read_bounded<R: AsyncRead + Unpin + Send + 'static>(mut pipe: R) -> JoinHandle<Captured> {
    tokio::spawn(async move {
        let mut head = Vec::new();
        let mut truncated = false;
        let mut buf = [0u8; 4096];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = OUTPUT_LIMIT.saturating_sub(head.len());
                    head.extend_from_slice(&buf[..n.min(room)]);
                    truncated |= n > room;
                }
            }
        }
        Captured { head, truncated }
    })
}

/// "; stdout: …; stderr: …" for whatever was printed.
async fn collect(
    stdout: Option<JoinHandle<Captured>>,
    stderr: Option<JoinHandle<Captured>>,
) -> String {
    let mut text = String::new();
    for (name, task) in [("stdout", stdout), ("stderr", stderr)] {
        let Some(mut task) = task else { continue };
        // A descendant that escaped the group could hold the pipe open: do not wait for it.
        let captured = match tokio::time::timeout(DRAIN_GRACE, &mut task).await {
            Ok(Ok(c)) => c,
            _ => {
                task.abort();
                continue;
            }
        };
        let shown = String::from_utf8_lossy(&captured.head);
        let shown = shown.trim();
        if !shown.is_empty() {
            text.push_str(&format!("; {name}: {shown}"));
            if captured.truncated {
                text.push_str(" [cut]");
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn argv(args: &[&str]) -> ExecCheck {
        ExecCheck::new(
            &ExecSpec {
                command: ExecCommand::Argv(args.iter().map(|s| s.to_string()).collect()),
                shell: false,
                run_as: None,
            },
            "svc",
        )
    }

    fn shell(line: &str) -> ExecCheck {
        ExecCheck::new(
            &ExecSpec {
                command: ExecCommand::Shell(line.to_string()),
                shell: true,
                run_as: None,
            },
            "svc",
        )
    }

    const T: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn exit_zero_passes_and_nonzero_fails_with_output() {
        assert!(argv(&["/bin/true"]).run(T).await.passed());
        let out = shell("echo out; echo err >&2; exit 3").run(T).await;
        assert!(!out.passed());
        assert_eq!(out.detail, "exit status 3; stdout: out; stderr: err");
    }

    #[tokio::test]
    async fn argv_is_not_interpreted_by_a_shell() {
        let out = argv(&["/bin/echo", "$HOME", ";", "exit 1"]).run(T).await;
        assert!(out.passed(), "{}", out.detail);
    }

    #[tokio::test]
    async fn service_name_is_in_the_environment() {
        assert!(
            shell("test \"$ANYCAST_WARDEN_SERVICE\" = svc")
                .run(T)
                .await
                .passed()
        );
    }

    #[tokio::test]
    async fn missing_program_fails_with_reason() {
        let out = argv(&["/nonexistent/check"]).run(T).await;
        assert!(!out.passed());
        assert!(
            out.detail.starts_with("cannot start /nonexistent/check"),
            "{}",
            out.detail
        );
    }

    #[tokio::test]
    async fn output_is_bounded() {
        let out = shell("head -c 1000000 /dev/zero | tr '\\0' x; exit 1")
            .run(T)
            .await;
        assert!(!out.passed());
        assert!(
            out.detail.ends_with("[cut]"),
            "{}",
            &out.detail[out.detail.len() - 20..]
        );
        assert!(out.detail.len() < OUTPUT_LIMIT + 100);
    }

    #[tokio::test]
    async fn hung_check_and_its_grandchild_are_killed_at_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pids");
        let line = format!(
            "sleep 1000 & echo $! > {p}; echo $$ >> {p}; sleep 1000",
            p = pidfile.display()
        );
        let started = Instant::now();
        let out = shell(&line).run(Duration::from_millis(500)).await;
        let took = started.elapsed();
        assert!(!out.passed());
        assert!(
            out.detail.starts_with("timeout after 500ms"),
            "{}",
            out.detail
        );
        assert!(took < Duration::from_secs(3), "took {took:?}");
        let pids = std::fs::read_to_string(&pidfile).unwrap();
        let pids: Vec<i32> = pids.lines().map(|l| l.trim().parse().unwrap()).collect();
        assert_eq!(pids.len(), 2);
        // Both must be gone (the grandchild is reaped by init; allow it a moment).
        let deadline = Instant::now() + Duration::from_secs(2);
        for pid in pids {
            while std::path::Path::new(&format!("/proc/{pid}")).exists()
                && !is_zombie(pid)
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert!(
                !std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid),
                "process {pid} survived"
            );
        }
    }

    #[tokio::test]
    async fn background_child_of_a_passing_check_does_not_hold_it() {
        let started = Instant::now();
        let out = shell("sleep 1000 & exit 0").run(T).await;
        assert!(out.passed());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    /// The `nobody` user, or `None` (with a loud SKIPPED) when the tests do not run as
    /// root and so cannot switch users; CI runs them as root.
    fn nobody_or_skip() -> Option<nix::unistd::User> {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: switching users needs root");
            return None;
        }
        let nobody = nix::unistd::User::from_name("nobody")
            .ok()
            .flatten()
            .expect("the nobody user");
        Some(nobody)
    }

    fn is_zombie(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true)
    }

    /// `user = "nobody"`: the program runs with nobody's uid and gid and no supplementary
    /// group of the daemon's (needs root, as the daemon does to switch).
    #[tokio::test]
    async fn a_check_with_a_user_runs_as_that_user() {
        let Some(nobody) = nobody_or_skip() else {
            return;
        };
        let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
        let check = |line: String| {
            ExecCheck::new(
                &ExecSpec {
                    command: ExecCommand::Shell(line),
                    shell: true,
                    run_as: Some(crate::config::RunAs {
                        user: "nobody".into(),
                        group: None,
                        uid,
                        gid,
                    }),
                },
                "svc",
            )
        };
        let out = check(format!(
            "test \"$(id -u)\" = {uid} && test \"$(id -g)\" = {gid} && test \"$(id -G)\" = {gid}"
        ))
        .run(Duration::from_secs(5))
        .await;
        assert!(out.passed(), "{}", out.detail);
        // And the same check without the switch sees root: the test above can fail.
        let out = shell(&format!("test \"$(id -u)\" = {uid}"))
            .run(Duration::from_secs(5))
            .await;
        assert!(!out.passed());
        // nobody cannot write where root can.
        let dir = tempfile::tempdir().unwrap();
        let out = check(format!("touch {}/x", dir.path().display()))
            .run(Duration::from_secs(5))
            .await;
        assert!(!out.passed(), "nobody wrote into root's 0700 directory");
    }

    /// `user` in `[defaults]` and `group` beside a service's `user` reach the process: the
    /// loaded configuration's checks run as what the nearest level names.
    #[tokio::test]
    async fn a_user_from_the_service_or_defaults_runs_the_check() {
        let Some(nobody) = nobody_or_skip() else {
            return;
        };
        let root_group = 0;
        let (uid, gid) = (nobody.uid.as_raw(), nobody.gid.as_raw());
        let config = crate::config::load_str(
            std::path::Path::new("w.toml"),
            &format!(
                "[defaults]\nuser = \"nobody\"\n\
                 [[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1/32\"]\n\
                 [[service.check]]\nkind = \"exec\"\nshell = true\n\
                 command = 'test \"$(id -u)\" = {uid} && test \"$(id -g)\" = {gid} && test \"$(id -G)\" = {gid}'\n\
                 [[service]]\nname = \"b\"\nprefixes = [\"203.0.113.2/32\"]\nuser = \"nobody\"\ngroup = \"0\"\n\
                 [[service.check]]\nkind = \"exec\"\nshell = true\n\
                 command = 'test \"$(id -u)\" = {uid} && test \"$(id -g)\" = {root_group} && test \"$(id -G)\" = {root_group}'\n"
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        for service in &config.services {
            let crate::config::CheckSpec::Exec(spec) = &service.checks[0].spec else {
                panic!("exec");
            };
            let out = ExecCheck::new(spec, &service.name)
                .run(Duration::from_secs(5))
                .await;
            assert!(out.passed(), "{}: {}", service.name, out.detail);
            // Without the inherited user the same command fails (it would run as root).
            let mut own = spec.clone();
            own.run_as = None;
            let out = ExecCheck::new(&own, &service.name)
                .run(Duration::from_secs(5))
                .await;
            assert!(
                !out.passed(),
                "{}: the check ran as nobody without a user",
                service.name
            );
        }
    }
}
