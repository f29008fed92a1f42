//! The agreement between monitors (src/agreement) against a real etcd: Debian's etcd-server
//! (3.4), started by each test as a single node on free loopback ports with its data in a
//! tempdir. Three monitors run in this process, each on its own current-thread runtime and
//! thread, as in the daemon; "killing" one shuts its runtime down, so its lease is never
//! revoked and has to expire, as after a crash.
//!
//! Without `etcd` (PATH, or `AW_ETCD=/path/to/etcd`) the tests print SKIPPED and pass,
//! unless `CI=true`, where they fail.

use std::fs;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use anycast_warden::agreement::{
    Agreement, AgreementSettings, AgreementView, DeleteDecision, decide_delete,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::sync::{oneshot, watch};

use crate::lab::machine::Claim;
use crate::lab::needs::skip_outside_ci;
use crate::lab::process::poll;

/// An endpoint with every character the key encoding has to protect.
const EP: &str = "www.example.net./AAAA/2001:db8::10";
const EP2: &str = "www.example.net./A/198.51.100.10";
const PREFIX: &str = "/aw-test";
/// Short, so an expiry shows within seconds (etcd's minimum with default timing is 1.5 s).
const LEASE_TTL: Duration = Duration::from_secs(2);
/// Generous bound for anything to show up; never a timing assertion.
const WAIT: Duration = Duration::from_secs(30);

fn etcd_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("AW_ETCD") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("etcd"))
        .find(|p| p.is_file())
}

/// Two free loopback ports (both held while the second is picked, so they differ).
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let ports = (
        a.local_addr().expect("local addr").port(),
        b.local_addr().expect("local addr").port(),
    );
    drop((a, b));
    ports
}

/// A single-node etcd this test started. Drop kills it (by PID) and removes its data dir.
struct Etcd {
    binary: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    child: Option<Child>,
    /// Beside the other tests ([`crate::lab::machine`]).
    _claim: Claim,
}

impl Etcd {
    /// A running etcd, or `None` after printing SKIPPED (a failure with `CI=true`).
    fn start_or_skip(test: &str) -> Option<Etcd> {
        let Some(binary) = etcd_binary() else {
            let why = "etcd not found (apt-get install etcd-server, or run integration/setup.sh; AW_ETCD=path overrides)";
            skip_outside_ci(test, why);
            return None;
        };
        let (client_port, peer_port) = free_ports();
        let mut etcd = Etcd {
            binary,
            dir: tempfile::Builder::new()
                .prefix("aw-etcd-")
                .tempdir()
                .expect("tempdir for etcd"),
            client_port,
            peer_port,
            child: None,
            _claim: Claim::shared(),
        };
        etcd.start();
        Some(etcd)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// Starts etcd (again, with the same data and ports) and waits until it serves.
    fn start(&mut self) {
        assert!(self.child.is_none(), "etcd already running");
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("etcd log file");
        let log_start = fs::metadata(self.log_path()).map_or(0, |m| m.len());
        let child = Command::new(&self.binary)
            .args(["--name", "aw-test"])
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &self.url()])
            .args(["--advertise-client-urls", &self.url()])
            .args(["--listen-peer-urls", &peer])
            .args(["--initial-advertise-peer-urls", &peer])
            .args(["--initial-cluster", &format!("aw-test={peer}")])
            .env_remove("ETCD_DATA_DIR")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.child = Some(child);
        let ready = wait_for(WAIT, || {
            let text = fs::read(self.log_path()).unwrap_or_default();
            let text = String::from_utf8_lossy(text.get(log_start as usize..).unwrap_or(&[]));
            text.contains("ready to serve client requests")
                .then_some(())
        });
        if ready.is_none() {
            panic!(
                "etcd did not become ready within {WAIT:?}; its log:\n{}",
                fs::read_to_string(self.log_path()).unwrap_or_default()
            );
        }
    }

    /// Sends `signal` to etcd (SIGSTOP: hung but connected; SIGCONT: back).
    fn signal(&self, signal: Signal) {
        let child = self.child.as_ref().expect("etcd is running");
        kill(Pid::from_raw(child.id() as i32), signal).expect("signal etcd");
    }

    /// Kills etcd at once (SIGKILL, by PID) and reaps it.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = Pid::from_raw(child.id() as i32);
            // A stopped process dies of SIGKILL too; SIGCONT first keeps `wait` simple.
            let _ = kill(pid, Signal::SIGCONT);
            let _ = kill(pid, Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- etcd log ({}):\n{}",
                self.log_path().display(),
                fs::read_to_string(self.log_path()).unwrap_or_default()
            );
        }
    }
}

/// Polls `probe` every 50 ms until it returns `Some` or `timeout` passes.
fn wait_for<T>(timeout: Duration, probe: impl FnMut() -> Option<T>) -> Option<T> {
    poll(timeout, Duration::from_millis(50), probe)
}

/// One monitor: an [`Agreement`] on its own current-thread runtime, as in the daemon.
struct Monitor {
    id: String,
    /// `None` once [`Monitor::stop_cleanly`] dropped it.
    agreement: Option<Agreement>,
    view: watch::Receiver<AgreementView>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Monitor {
    fn start(etcd: &Etcd, id: &str) -> Monitor {
        Monitor::start_with_ttl(etcd, id, LEASE_TTL)
    }

    fn start_with_ttl(etcd: &Etcd, id: &str, lease_ttl: Duration) -> Monitor {
        let settings = AgreementSettings {
            endpoints: vec![etcd.url()],
            monitor_id: id.to_string(),
            min_agree: 2,
            lease_ttl,
            key_prefix: PREFIX.to_string(),
        };
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let _ = handle_tx.send(Agreement::start(settings));
                let _ = stopped.await;
            });
            // Dropping the runtime drops the task mid-flight: no revoke, like a crash.
        });
        let agreement = handle_rx.recv().expect("the monitor's thread started");
        Monitor {
            id: id.to_string(),
            view: agreement.subscribe(),
            agreement: Some(agreement),
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn agreement(&self) -> &Agreement {
        self.agreement.as_ref().expect("the monitor is running")
    }

    /// Drops the last handle, as the daemon does when it stops: the task revokes its lease
    /// and ends, while the runtime goes on.
    fn stop_cleanly(&mut self) {
        self.agreement = None;
    }

    /// Stops the monitor as a crash would: its lease is left to expire.
    fn kill(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// Waits until the view satisfies `ok`; panics with the last view otherwise.
    fn wait(&self, what: &str, ok: impl Fn(&AgreementView) -> bool) -> AgreementView {
        let found = wait_for(WAIT, || {
            let view = self.view.borrow().clone();
            ok(&view).then_some(view)
        });
        match found {
            Some(view) => view,
            None => panic!(
                "{}: not within {WAIT:?}: {what}; last view: {:?}",
                self.id,
                *self.view.borrow()
            ),
        }
    }

    fn connected(&self) -> AgreementView {
        self.wait("connected to etcd", |v| v.etcd.is_ok())
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.kill();
    }
}

fn vote(view: &AgreementView, endpoint: &str, monitor: &str) -> Option<bool> {
    view.votes.get(endpoint)?.get(monitor).copied()
}

/// Waits until all `monitors` agree on one leader among `candidates` and exactly one of
/// them says it leads; returns its index in `monitors`.
fn one_leader(monitors: &[&Monitor]) -> usize {
    let found = wait_for(WAIT, || {
        let views: Vec<AgreementView> = monitors.iter().map(|m| m.view.borrow().clone()).collect();
        let leader_id = views.first()?.leader_id.clone()?;
        if views
            .iter()
            .any(|v| v.leader_id.as_ref() != Some(&leader_id))
        {
            return None;
        }
        let leaders: Vec<usize> = (0..views.len()).filter(|i| views[*i].leader).collect();
        match leaders.as_slice() {
            [one] if monitors[*one].id == leader_id => Some(*one),
            _ => None,
        }
    });
    found.unwrap_or_else(|| {
        let views: Vec<String> = monitors
            .iter()
            .map(|m| format!("{}: {:?}", m.id, *m.view.borrow()))
            .collect();
        panic!(
            "no single agreed leader within {WAIT:?}:\n{}",
            views.join("\n")
        )
    })
}

/// What etcd itself holds under the test prefix: (key, value, lease) triples.
fn etcd_keys(etcd: &Etcd) -> Vec<(String, String, i64)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut client = etcd_client::Client::connect([etcd.url()], None)
            .await
            .expect("connect to etcd");
        let response = client
            .get(PREFIX, Some(etcd_client::GetOptions::new().with_prefix()))
            .await
            .expect("read the test prefix");
        response
            .kvs()
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    String::from_utf8_lossy(kv.value()).into_owned(),
                    kv.lease(),
                )
            })
            .collect()
    })
}

#[test]
fn votes_reach_every_monitor_and_two_of_three_are_needed_to_delete() {
    let Some(etcd) = Etcd::start_or_skip("votes_reach_every_monitor") else {
        return;
    };
    let monitors = [
        Monitor::start(&etcd, "ams-1"),
        Monitor::start(&etcd, "fra-1"),
        Monitor::start(&etcd, "lon-1"),
    ];
    for m in &monitors {
        m.connected();
    }
    let [ams, fra, lon] = &monitors;

    // One monitor alone: everyone sees its vote, nobody may delete.
    fra.agreement().publish(EP, true);
    for m in &monitors {
        let view = m.wait("fra-1's down vote", |v| vote(v, EP, "fra-1") == Some(true));
        assert_eq!(
            decide_delete(&view, EP, 2),
            DeleteDecision::Hold(
                "1 of 2 required monitors see it down (fra-1); waiting for 1 more".into()
            ),
            "{}",
            m.id
        );
    }
    // The vote is a real key, percent-encoded, bound to a lease.
    let stored = etcd_keys(&etcd);
    let key = format!("{PREFIX}/votes/www.example.net.%2FAAAA%2F2001%3Adb8%3A%3A10/fra-1");
    assert!(
        stored
            .iter()
            .any(|(k, v, lease)| *k == key && v == "down" && *lease != 0),
        "{key} = down with a lease, in {stored:?}"
    );

    // An up vote does not count; a second down vote does.
    lon.agreement().publish(EP, false);
    ams.agreement().publish(EP, true);
    for m in &monitors {
        let view = m.wait("ams-1 down, lon-1 up", |v| {
            vote(v, EP, "ams-1") == Some(true) && vote(v, EP, "lon-1") == Some(false)
        });
        assert_eq!(
            decide_delete(&view, EP, 2),
            DeleteDecision::Delete,
            "{}",
            m.id
        );
        assert!(
            matches!(decide_delete(&view, EP, 3), DeleteDecision::Hold(_)),
            "{}",
            m.id
        );
        assert!(
            matches!(decide_delete(&view, EP2, 1), DeleteDecision::Hold(_)),
            "no votes on another endpoint: {}",
            m.id
        );
    }

    // Exactly one leader, and every monitor names the same one.
    one_leader(&[ams, fra, lon]);

    // A verdict withdrawn is gone for everyone.
    ams.agreement().forget(EP);
    for m in &monitors {
        let view = m.wait("ams-1's vote withdrawn", |v| vote(v, EP, "ams-1").is_none());
        assert!(matches!(
            decide_delete(&view, EP, 2),
            DeleteDecision::Hold(_)
        ));
    }
}

#[test]
fn a_dead_monitors_vote_expires_and_leadership_moves() {
    let Some(etcd) = Etcd::start_or_skip("a_dead_monitors_vote_expires") else {
        return;
    };
    let mut monitors = vec![
        Monitor::start(&etcd, "ams-1"),
        Monitor::start(&etcd, "fra-1"),
        Monitor::start(&etcd, "lon-1"),
    ];
    for m in &monitors {
        m.connected();
        m.agreement().publish(EP, true);
    }
    for m in &monitors {
        let view = m.wait("three down votes", |v| {
            v.votes.get(EP).is_some_and(|votes| votes.len() == 3)
        });
        assert_eq!(decide_delete(&view, EP, 3), DeleteDecision::Delete);
    }
    let leader = one_leader(&monitors.iter().collect::<Vec<_>>());
    let mut dead = monitors.remove(leader);
    let dead_id = dead.id.clone();
    dead.kill();

    // Its lease expires: its vote leaves every view and another monitor leads.
    for m in &monitors {
        let view = m.wait("the dead monitor's vote expired", |v| {
            vote(v, EP, &dead_id).is_none() && v.leader_id.as_deref() != Some(dead_id.as_str())
        });
        assert_eq!(
            decide_delete(&view, EP, 3),
            DeleteDecision::Hold(format!(
                "2 of 3 required monitors see it down ({}); waiting for 1 more",
                monitors
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        );
        assert_eq!(decide_delete(&view, EP, 2), DeleteDecision::Delete);
    }
    let new_leader = one_leader(&monitors.iter().collect::<Vec<_>>());
    assert_ne!(monitors[new_leader].id, dead_id);
    let stored = etcd_keys(&etcd);
    assert_eq!(
        stored
            .iter()
            .filter(|(k, _, _)| k.contains("/leader/"))
            .count(),
        2,
        "one candidate key per live monitor: {stored:?}"
    );
}

#[test]
fn without_etcd_nothing_is_deleted_and_a_restart_brings_every_vote_back() {
    let Some(mut etcd) = Etcd::start_or_skip("without_etcd_nothing_is_deleted") else {
        return;
    };
    // A lease that outlives the whole test: etcd renews surviving leases when it restarts,
    // so only revoking them makes the previous session's keys go (checked at the end).
    let ttl = Duration::from_secs(120);
    let monitors = [
        Monitor::start_with_ttl(&etcd, "ams-1", ttl),
        Monitor::start_with_ttl(&etcd, "fra-1", ttl),
        Monitor::start_with_ttl(&etcd, "lon-1", ttl),
    ];
    for m in &monitors {
        m.connected();
    }
    let [ams, fra, lon] = &monitors;
    ams.agreement().publish(EP, true);
    fra.agreement().publish(EP, true);
    for m in &monitors {
        let view = m.wait("two down votes", |v| {
            vote(v, EP, "ams-1") == Some(true) && vote(v, EP, "fra-1") == Some(true)
        });
        assert_eq!(decide_delete(&view, EP, 2), DeleteDecision::Delete);
    }
    one_leader(&[ams, fra, lon]);

    etcd.kill();
    for m in &monitors {
        let view = m.wait("etcd unreachable", |v| v.etcd.is_err());
        assert!(!view.leader, "{}: no leader without etcd", m.id);
        match decide_delete(&view, EP, 2) {
            DeleteDecision::Hold(why) => {
                assert!(why.starts_with("etcd unreachable: "), "{}: {why}", m.id)
            }
            DeleteDecision::Delete => panic!("{}: deletes without etcd", m.id),
        }
    }

    // Verdicts given while etcd is away are kept and written once it is back.
    lon.agreement().publish(EP, true);
    lon.agreement().publish(EP2, true);
    ams.agreement().forget(EP);

    etcd.start();
    for m in &monitors {
        let view = m.wait("reconnected with every vote", |v| {
            v.etcd.is_ok()
                && vote(v, EP, "ams-1").is_none()
                && vote(v, EP, "fra-1") == Some(true)
                && vote(v, EP, "lon-1") == Some(true)
                && vote(v, EP2, "lon-1") == Some(true)
        });
        assert_eq!(decide_delete(&view, EP, 2), DeleteDecision::Delete);
        assert_eq!(
            decide_delete(&view, EP2, 2),
            DeleteDecision::Hold(
                "1 of 2 required monitors see it down (lon-1); waiting for 1 more".into()
            )
        );
    }
    // The old leases were revoked, not left to expire: no second candidate per monitor
    // (whose stale key would hold the leadership for nobody).
    let stored = etcd_keys(&etcd);
    assert_eq!(
        stored
            .iter()
            .filter(|(k, _, _)| k.contains("/leader/"))
            .count(),
        3,
        "one candidate key per monitor: {stored:?}"
    );
    one_leader(&[ams, fra, lon]);
}

#[test]
fn a_hung_etcd_ends_leadership_when_the_lease_runs_out() {
    let Some(etcd) = Etcd::start_or_skip("a_hung_etcd_ends_leadership") else {
        return;
    };
    let monitors = [
        Monitor::start(&etcd, "ams-1"),
        Monitor::start(&etcd, "fra-1"),
    ];
    for m in &monitors {
        m.connected();
        m.agreement().publish(EP, true);
    }
    for m in &monitors {
        let view = m.wait("two down votes", |v| {
            v.votes.get(EP).is_some_and(|votes| votes.len() == 2)
        });
        assert_eq!(decide_delete(&view, EP, 2), DeleteDecision::Delete);
    }
    let [ams, fra] = &monitors;
    one_leader(&[ams, fra]);

    // Stopped, not killed: the TCP connections stay open and simply go quiet, so only the
    // lease's own deadline (and the RPC time limits) can tell.
    etcd.signal(Signal::SIGSTOP);
    for m in &monitors {
        let view = m.wait("etcd declared unreachable", |v| v.etcd.is_err());
        assert!(!view.leader, "{}", m.id);
        assert!(
            view.votes.is_empty(),
            "{}: stale votes {:?}",
            m.id,
            view.votes
        );
        assert!(matches!(
            decide_delete(&view, EP, 2),
            DeleteDecision::Hold(_)
        ));
    }
    etcd.signal(Signal::SIGCONT);
    for m in &monitors {
        m.wait("back with both votes", |v| {
            v.etcd.is_ok() && v.votes.get(EP).is_some_and(|votes| votes.len() == 2)
        });
    }
    one_leader(&[ams, fra]);
}

#[test]
fn a_monitor_that_stops_cleanly_takes_its_votes_along_at_once() {
    let Some(etcd) = Etcd::start_or_skip("a_monitor_that_stops_cleanly") else {
        return;
    };
    // A lease far longer than the wait below: only the revoke can make the vote go.
    let ttl = Duration::from_secs(120);
    let mut ams = Monitor::start_with_ttl(&etcd, "ams-1", ttl);
    let fra = Monitor::start_with_ttl(&etcd, "fra-1", ttl);
    ams.connected();
    fra.connected();
    ams.agreement().publish(EP, true);
    fra.wait("ams-1's vote", |v| vote(v, EP, "ams-1") == Some(true));
    ams.stop_cleanly();
    let view = fra.wait("ams-1's vote and candidacy gone", |v| {
        vote(v, EP, "ams-1").is_none() && v.leader_id.as_deref() == Some("fra-1")
    });
    assert!(view.leader);
    ams.wait("its own view says stopped", |v| {
        v.etcd == Err("agreement stopped".to_string())
    });
}
