//! The processes a lab owns: started as its children (`ip netns exec` execs, so the PID is
//! the daemon's own), signalled only while they run, stopped newest first when the lab is
//! dropped. Also the small helpers for running a command and waiting for a condition.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Lab;

/// Runs `program args`, returning stdout, or an error with the command and its stderr.
pub fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Result<String, String> {
    let program = program.as_ref();
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", program.to_string_lossy()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} {} failed ({}): {}{}",
            program.to_string_lossy(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Polls `probe` every `every` until it returns `Some` or `timeout` passes.
pub fn poll<T>(
    timeout: Duration,
    every: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(every);
    }
}

/// Waits until `count` stays the same for `quiet` (or `timeout` passes); returns it.
pub fn settled_count(count: impl Fn() -> usize, quiet: Duration, timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    let mut last = count();
    let mut since = Instant::now();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let now = count();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= quiet {
            break;
        }
    }
    last
}

/// Whether a process is gone or a zombie (killed, not yet reaped by its parent).
pub fn gone_or_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// One process the lab started.
pub(super) struct Owned {
    what: String,
    child: Child,
    /// Set once reaped, so that the PID is never signalled again.
    status: Option<ExitStatus>,
}

impl Lab {
    /// Starts `argv` inside `ns` (or in the root namespace when `None`) as a child the lab
    /// owns, stdout and stderr to `<label>.out` / `<label>.err` in the tempdir (or piped
    /// stdout, see [`Lab::spawn_piped`]). Returns the PID.
    pub fn spawn(&self, label: &str, ns: Option<&str>, argv: &[&str]) -> Result<i32, String> {
        self.spawn_env(label, ns, argv, &[])
    }

    /// Like [`Lab::spawn`] with extra environment variables.
    pub fn spawn_env(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
        env: &[(&str, &str)],
    ) -> Result<i32, String> {
        let out = self.path(&format!("{label}.out"));
        let err = self.path(&format!("{label}.err"));
        let stdout = fs::File::create(&out).map_err(|e| e.to_string())?;
        let stderr = fs::File::create(&err).map_err(|e| e.to_string())?;
        self.add_log(&format!("{label} stdout"), &out);
        self.add_log(&format!("{label} stderr"), &err);
        let (pid, _) = self.spawn_with(label, ns, argv, stdout.into(), stderr.into(), env)?;
        Ok(pid)
    }

    /// Starts a child whose stdout the caller reads (stderr to `<label>.err`).
    pub fn spawn_piped(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
    ) -> Result<(i32, std::process::ChildStdout), String> {
        let err = self.path(&format!("{label}.err"));
        let stderr = fs::File::create(&err).map_err(|e| e.to_string())?;
        self.add_log(&format!("{label} stderr"), &err);
        let (pid, stdout) = self.spawn_with(label, ns, argv, Stdio::piped(), stderr.into(), &[])?;
        Ok((pid, stdout.expect("stdout was piped")))
    }

    /// Starts a child (as [`Lab::spawn_piped`]) and reads its stdout line by line on a
    /// thread of its own: `parse` turns each line, with the instant it was read, into
    /// records for the returned list. Returns the list and the thread; the process is the
    /// lab's, stopped when it is dropped.
    pub fn spawn_reader<T: Send + 'static>(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
        mut parse: impl FnMut(&str, Instant, &mut Vec<T>) + Send + 'static,
    ) -> (Arc<Mutex<Vec<T>>>, JoinHandle<()>) {
        let (_, stdout) = self
            .spawn_piped(label, ns, argv)
            .unwrap_or_else(|e| panic!("{e}"));
        let records = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&records);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                parse(&line, at, &mut sink.lock().unwrap());
            }
        });
        (records, reader)
    }

    fn spawn_with(
        &self,
        label: &str,
        ns: Option<&str>,
        argv: &[&str],
        stdout: Stdio,
        stderr: Stdio,
        env: &[(&str, &str)],
    ) -> Result<(i32, Option<std::process::ChildStdout>), String> {
        let mut command = match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).args(argv);
                c
            }
            None => {
                let mut c = Command::new(argv[0]);
                c.args(&argv[1..]);
                c
            }
        };
        command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .current_dir(self.dir());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {label} ({}): {e}", argv.join(" ")))?;
        let pid = child.id() as i32;
        let stdout = child.stdout.take();
        self.procs.lock().unwrap().push(Owned {
            what: label.to_string(),
            child,
            status: None,
        });
        Ok((pid, stdout))
    }

    /// The exit status if the child has exited (reaping it), `None` while it runs.
    pub fn try_wait(&self, pid: i32) -> Option<ExitStatus> {
        let mut procs = self.procs.lock().unwrap();
        let owned = procs
            .iter_mut()
            .find(|o| o.child.id() as i32 == pid)
            .unwrap_or_else(|| panic!("pid {pid} is not a child of lab {}", self.name));
        if owned.status.is_none() {
            owned.status = owned.child.try_wait().ok().flatten();
        }
        owned.status
    }

    /// Whether the child still runs.
    pub fn is_running(&self, pid: i32) -> bool {
        self.try_wait(pid).is_none()
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&self, pid: i32, timeout: Duration) -> Result<ExitStatus, String> {
        poll(timeout, Duration::from_millis(20), || self.try_wait(pid))
            .ok_or_else(|| format!("pid {pid} still runs after {timeout:?}"))
    }

    /// Sends a signal to a running child (never to a reaped PID).
    pub fn signal(&self, pid: i32, signal: Signal) -> Result<(), String> {
        if !self.is_running(pid) {
            return Err(format!("pid {pid} has already exited"));
        }
        kill(Pid::from_raw(pid), signal).map_err(|e| format!("kill({pid}, {signal}): {e}"))
    }

    /// Terminates one child: SIGTERM, then SIGKILL after `grace`; waits for it.
    pub fn stop(&self, pid: i32, grace: Duration) {
        if self.signal(pid, Signal::SIGTERM).is_ok() && self.wait_exit(pid, grace).is_err() {
            let _ = self.signal(pid, Signal::SIGKILL);
            let _ = self.wait_exit(pid, Duration::from_secs(5));
        }
    }

    /// Asks the lab to SIGKILL a process that is not its child (a check's grandchild, say)
    /// at drop, if it still runs then and still is `comm`.
    pub fn adopt(&self, pid: i32) {
        self.adopted.lock().unwrap().push(pid);
    }

    /// Stops every child still running, newest first: SIGTERM, then SIGKILL after 5 s; and
    /// SIGKILLs the adopted processes.
    pub(super) fn stop_every_process(&self) {
        // Newest first: the warden (started last) still reaches BIRD for its final
        // withdrawal, and BIRD still has its session while the warden exits.
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for owned in procs.iter_mut().rev() {
            if owned.status.is_some() || owned.child.try_wait().ok().flatten().is_some() {
                continue;
            }
            let _ = kill(Pid::from_raw(owned.child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while owned.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if owned.child.try_wait().ok().flatten().is_none() {
                eprintln!(
                    "lab {}: {} ignored SIGTERM for 5 s; killing it",
                    self.name, owned.what
                );
                let _ = owned.child.kill();
                let _ = owned.child.wait();
            }
        }
        drop(procs);
        for pid in self
            .adopted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if !gone_or_zombie(*pid) {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
            }
        }
    }
}

/// A finished command's stdout and stderr, one after the other, for assertions and panics.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
