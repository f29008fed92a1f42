//! The warden under test: `anycast-warden run` in the host namespace (optionally under a
//! wrapper such as `setpriv`, or with extra environment), its CLI against the same files,
//! signals, and its log.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::process::poll;
use super::{Lab, WARDEN_BIN};

impl Lab {
    /// `anycast-warden` with the files [`Lab::start_warden`] wrote (`--config`,
    /// `--config-dir`): add a subcommand such as `status --json` or `drain SERVICE`.
    pub fn warden_cli(&self) -> std::process::Command {
        let mut command = std::process::Command::new(WARDEN_BIN);
        command
            .arg("--config")
            .arg(self.path("warden.toml"))
            .arg("--config-dir")
            .arg(self.path("conf.d"));
        command
    }

    /// Writes `config` to `warden.toml` (and an empty `conf.d/`) and starts
    /// `anycast-warden run` inside the host namespace.
    pub fn start_warden(&self, config: &str) -> Warden<'_> {
        let config_file = self.path("warden.toml");
        let config_dir = self.path("conf.d");
        fs::create_dir_all(&config_dir).expect("create conf.d");
        fs::write(&config_file, config).expect("write warden.toml");
        self.start_warden_files(&config_file, &config_dir)
    }

    /// Starts the warden on files the test wrote itself.
    pub fn start_warden_files(&self, config_file: &Path, config_dir: &Path) -> Warden<'_> {
        self.start_warden_files_env(config_file, config_dir, &[])
    }

    /// [`Lab::start_warden`] with extra environment variables (e.g. libfaketime's).
    pub fn start_warden_env(&self, config: &str, env: &[(&str, &str)]) -> Warden<'_> {
        let config_file = self.path("warden.toml");
        let config_dir = self.path("conf.d");
        fs::create_dir_all(&config_dir).expect("create conf.d");
        fs::write(&config_file, config).expect("write warden.toml");
        self.start_warden_files_env(&config_file, &config_dir, env)
    }

    /// [`Lab::start_warden`] with the warden's command line after `wrapper` (e.g. util-linux
    /// `setpriv ... --` to run it as another user with chosen capabilities) and run from
    /// `binary` (a copy other users may execute).
    pub fn start_warden_wrapped(
        &self,
        config: &str,
        wrapper: &[&str],
        binary: &Path,
    ) -> Warden<'_> {
        let config_file = self.path("warden.toml");
        let config_dir = self.path("conf.d");
        fs::create_dir_all(&config_dir).expect("create conf.d");
        fs::write(&config_file, config).expect("write warden.toml");
        self.start_warden_argv(&config_file, &config_dir, &[], wrapper, binary)
    }

    fn start_warden_files_env(
        &self,
        config_file: &Path,
        config_dir: &Path,
        env: &[(&str, &str)],
    ) -> Warden<'_> {
        self.start_warden_argv(config_file, config_dir, env, &[], Path::new(WARDEN_BIN))
    }

    fn start_warden_argv(
        &self,
        config_file: &Path,
        config_dir: &Path,
        env: &[(&str, &str)],
        wrapper: &[&str],
        binary: &Path,
    ) -> Warden<'_> {
        let rust_log = std::env::var("AW_WARDEN_LOG").unwrap_or_else(|_| "info".into());
        let mut env: Vec<(&str, &str)> = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "RUST_LOG") {
            env.push(("RUST_LOG", &rust_log));
        }
        let (config_file_text, config_dir_text, binary_text) = (
            config_file.to_string_lossy(),
            config_dir.to_string_lossy(),
            binary.to_string_lossy(),
        );
        let mut argv: Vec<&str> = wrapper.to_vec();
        argv.extend([
            &*binary_text,
            "run",
            "--config",
            &config_file_text,
            "--config-dir",
            &config_dir_text,
        ]);
        let pid = self
            .spawn_env("warden", Some(&self.host_ns), &argv, &env)
            .unwrap_or_else(|e| panic!("{e}"));
        Warden {
            lab: self,
            pid,
            config_file: config_file.to_path_buf(),
            config_dir: config_dir.to_path_buf(),
            stderr: self.path("warden.err"),
        }
    }
}

/// anycast-warden running in the host namespace.
pub struct Warden<'a> {
    lab: &'a Lab,
    /// The warden's own PID (`ip netns exec` execs).
    pub pid: i32,
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    stderr: PathBuf,
}

impl Warden<'_> {
    pub fn signal(&self, signal: Signal) -> Result<(), String> {
        self.lab.signal(self.pid, signal)
    }

    pub fn is_running(&self) -> bool {
        self.lab.is_running(self.pid)
    }

    pub fn wait_exit(&self, timeout: Duration) -> Result<ExitStatus, String> {
        self.lab.wait_exit(self.pid, timeout)
    }

    /// What the warden logged so far: its log lines go to stdout, early errors (an
    /// invalid configuration) to stderr.
    pub fn log(&self) -> String {
        let mut text = fs::read_to_string(self.stderr.with_extension("out")).unwrap_or_default();
        text.push_str(&fs::read_to_string(&self.stderr).unwrap_or_default());
        text
    }

    /// How many times `needle` occurs in the log.
    pub fn log_count(&self, needle: &str) -> usize {
        self.log().matches(needle).count()
    }

    /// Waits until the log holds `needle` at least `times` times.
    pub fn wait_for_log(
        &self,
        needle: &str,
        times: usize,
        timeout: Duration,
    ) -> Result<(), String> {
        poll(timeout, Duration::from_millis(20), || {
            (self.log_count(needle) >= times).then_some(())
        })
        .ok_or_else(|| format!("the warden did not log {needle:?} ×{times} within {timeout:?}"))
    }

    /// Replaces the main configuration file (then send SIGHUP).
    /// Replaces warden.toml atomically (a file beside it, then rename), as an editor or
    /// configuration management does: a SIGHUP handled while the test writes the next
    /// file must never read a truncated one (an empty file is a valid configuration with
    /// no services).
    pub fn write_config(&self, text: &str) {
        let next = self.config_file.with_extension("toml.next");
        fs::write(&next, text).expect("write warden.toml.next");
        fs::rename(&next, &self.config_file).expect("rename warden.toml.next");
    }

    /// Writes a file in the configuration directory.
    pub fn write_service_file(&self, name: &str, text: &str) {
        fs::write(self.config_dir.join(name), text).expect("write conf.d file");
    }
}
