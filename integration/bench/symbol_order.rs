//! Scenario `order`: regenerates `link/symbol-order.txt`, the list of functions the
//! daemon runs, which `build.rs` hands to the linker so they sit together at the start of
//! `.text`.
//!
//! Why: most of the resident memory of a small warden is its own code, mapped from the page
//! cache. The kernel maps at least 64 KB around every page fault ("fault-around"), and the
//! few hundred functions that start-up, the checks and an apply run are otherwise spread
//! over the whole 8 MB of code: with one service about 5 MB of it became resident. Listed
//! first, they share a few hundred KB of pages.
//!
//! How: the release warden runs under `valgrind --tool=callgrind` (which records every
//! function executed, however briefly) in the lab, once per backend (BIRD 2 over its control
//! socket and through birdc, FRR in network mode over its vty sockets, the built-in speaker),
//! with tcp, http, exec and file checks, one service always down, a failure and a recovery,
//! `status`, a reload and SIGTERM. The
//! functions of the warden's own binary are written in the order they first ran.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use crate::lab::bird::BirdVariant;
use crate::lab::frr::FrrMode;
use crate::lab::{self, Lab};
use crate::{Backend, PORT, http_server, prefixes, set_service, setup};

const HTTP_PORT: u16 = PORT + 1;

/// The file `build.rs` passes to the linker.
pub fn order_file() -> PathBuf {
    crate::repo_root().join("link/symbol-order.txt")
}

pub fn run() -> Value {
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    let mut per_backend = serde_json::Map::new();
    for (backend, via, label) in [
        (
            Backend::Bird(BirdVariant::Bird2),
            Via::ControlSocket,
            "bird2",
        ),
        (
            Backend::Bird(BirdVariant::Bird2),
            Via::Command,
            "bird2-birdc",
        ),
        (Backend::Frr(FrrMode::Network), Via::ControlSocket, "frr"),
        (Backend::Builtin, Via::ControlSocket, "bgp"),
    ] {
        let functions = trace(backend, via);
        let new = functions
            .into_iter()
            .filter(|f| seen.insert(f.clone()))
            .collect::<Vec<_>>();
        eprintln!("   {label}: {} functions not seen before", new.len());
        per_backend.insert(label.into(), json!(new.len()));
        order.extend(new);
    }
    let header = format!(
        "# Functions anycast-warden runs, in the order they first ran: build.rs passes this file\n\
         # to the linker (lld --symbol-ordering-file), which puts them first in .text, so the\n\
         # code a running daemon touches shares few pages. Regenerate with\n\
         # `integration/bench/run.sh order` after changing the code, the dependencies or the\n\
         # compiler: names that no longer exist are skipped, and the rest lose their place.\n\
         # Generated {} with {}; {} functions.\n",
        crate::report::machine()["date"].as_str().unwrap_or("?"),
        rustc_version(),
        order.len()
    );
    let path = order_file();
    let body = header + &order.join("\n") + "\n";
    // Written whole, then renamed: a half-written order file would silently cost memory.
    let tmp = path.with_extension("tmp");
    std::fs::create_dir_all(path.parent().expect("link/")).expect("create link/");
    std::fs::write(&tmp, body).expect("write the order file");
    std::fs::rename(&tmp, &path).expect("rename the order file");
    eprintln!("   wrote {} ({} functions)", path.display(), order.len());
    json!({"functions": order.len(), "new_per_backend": per_backend})
}

/// How the warden reaches BIRD.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    ControlSocket,
    /// `reconfigure = [birdc, ...]`.
    Command,
}

/// Runs the warden under callgrind against `backend` and returns the mangled names of its
/// own functions that ran, in first-run order.
fn trace(backend: Backend, via: Via) -> Vec<String> {
    let lab = Lab::new("benchorder");
    let list: Vec<IpNet> = prefixes(5);
    let setup = setup(&lab, backend, &list);
    let router = &setup.router;
    let mut listener = Some(lab.host_tcp_listener(PORT));
    let _http = http_server::NsHttpServer::open(&lab.host_ns, HTTP_PORT);
    let switch = lab.path("in-service");
    std::fs::write(&switch, "").expect("maintenance file");
    let checks = [
        format!("kind = \"tcp\"\ntarget = \"127.0.0.1:{PORT}\""),
        format!(
            "kind = \"http\"\nurl = \"http://127.0.0.1:{HTTP_PORT}/health\"\nbody_contains = \"ok\""
        ),
        "kind = \"exec\"\ncommand = [\"/bin/true\"]".to_string(),
        format!("kind = \"file\"\npath = {:?}", switch.display().to_string()),
        // Always down: the failure paths of a check, and a service that never announces.
        "kind = \"tcp\"\ntarget = \"127.0.0.1:1\"".to_string(),
    ];
    // Valgrind runs the daemon some 50 times slower: generous timeouts, one-round rise/fall.
    let section = match (&setup.speaker, via) {
        (crate::Speaker::Bird(bird), Via::Command) => {
            crate::lab::warden_config::WardenConfig::conf_d()
                .bird(bird.warden_section(false))
                .to_toml()
        }
        (speaker, _) => speaker.warden_section(backend),
    };
    let services: Vec<(IpNet, &str)> = list
        .iter()
        .copied()
        .zip(checks.iter().map(String::as_str))
        .collect();
    let config = setup.config_with_checks(
        &lab,
        &section,
        &services,
        "interval = \"1s\"\ntimeout = \"10s\"\nrise = 1\nfall = 1",
    );
    let config_file = lab.path("warden.toml");
    let config_dir = lab.path("conf.d");
    std::fs::create_dir_all(&config_dir).expect("conf.d");
    std::fs::write(&config_file, &config).expect("warden.toml");
    let out = lab.path("callgrind.out");
    let pid = lab
        .spawn_env(
            "warden",
            Some(&lab.host_ns),
            &[
                "valgrind",
                "--tool=callgrind",
                "--demangle=no",
                &format!("--callgrind-out-file={}", out.display()),
                lab::WARDEN_BIN,
                "run",
                "--config",
                &config_file.to_string_lossy(),
                "--config-dir",
                &config_dir.to_string_lossy(),
            ],
            &[("RUST_LOG", "info")],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let healthy = &list[..4];
    let all = healthy.iter().copied().collect();
    router
        .wait_for_rib(&all, Duration::from_secs(300))
        .expect("all announced under callgrind");
    // A failure and a recovery: the withdrawal and announcement paths.
    set_service(&lab, &mut listener, false);
    let without_first = healthy.iter().skip(1).copied().collect();
    router
        .wait_for_rib(&without_first, Duration::from_secs(120))
        .expect("withdrawn under callgrind");
    set_service(&lab, &mut listener, true);
    router
        .wait_for_rib(&all, Duration::from_secs(120))
        .expect("announced again under callgrind");
    // The control socket's server side, then a reload.
    let status = lab.warden_cli().arg("status").output().expect("status");
    assert!(status.status.success(), "status failed: {status:?}");
    lab.signal(pid, Signal::SIGHUP).expect("SIGHUP");
    std::thread::sleep(Duration::from_secs(5));
    lab.signal(pid, Signal::SIGTERM).expect("SIGTERM");
    lab.wait_exit(pid, Duration::from_secs(120))
        .expect("the warden exits under callgrind");
    functions_of(&out, Path::new(lab::WARDEN_BIN))
}

/// The functions of `object` in a callgrind output file, in first-seen order. Callgrind
/// names each object (`ob=`, `cob=`) and function (`fn=`, `cfn=`) once in full, then by a
/// `(id)` alone.
fn functions_of(callgrind_out: &Path, object: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(callgrind_out).expect("read callgrind output");
    let object = std::fs::canonicalize(object).unwrap_or_else(|_| object.to_path_buf());
    let mut objects = std::collections::HashMap::<String, PathBuf>::new();
    let mut functions = std::collections::HashMap::new();
    let (mut ob, mut cob) = (PathBuf::new(), None::<PathBuf>);
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    for line in text.lines() {
        let Some((key, rest)) = line.split_once('=') else {
            continue;
        };
        let (id, name) = match rest.split_once(')') {
            Some((id, name)) if id.starts_with('(') => (id.to_string(), name.trim()),
            _ => continue,
        };
        match key {
            "ob" | "cob" => {
                if !name.is_empty() {
                    let path = std::fs::canonicalize(name).unwrap_or_else(|_| name.into());
                    objects.insert(id.clone(), path);
                }
                let path = objects.get(&id).cloned().unwrap_or_default();
                if key == "ob" {
                    ob = path;
                    cob = None;
                } else {
                    cob = Some(path);
                }
            }
            "fn" | "cfn" => {
                if !name.is_empty() {
                    functions.insert(id.clone(), name.to_string());
                }
                let owner = if key == "cfn" {
                    cob.take().unwrap_or_else(|| ob.clone())
                } else {
                    ob.clone()
                };
                if owner != object {
                    continue;
                }
                if let Some(f) = functions.get(&id)
                    && seen.insert(f.clone())
                {
                    order.push(f.clone());
                }
            }
            _ => {}
        }
    }
    order
}

fn rustc_version() -> String {
    crate::lab::process::run("rustc", &["--version"])
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|_| "an unknown rustc".into())
}

/// How many of the order file's functions the built warden has: the file goes stale as
/// the code, the dependencies or the compiler change.
pub fn coverage() -> Value {
    let Ok(text) = std::fs::read_to_string(order_file()) else {
        return json!(null);
    };
    let listed: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let symbols: HashSet<String> = crate::lab::process::run("nm", &[lab::WARDEN_BIN])
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    let found = listed.iter().filter(|s| symbols.contains(**s)).count();
    json!({"listed": listed.len(), "in_binary": found})
}
