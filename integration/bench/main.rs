//! The benchmark harness: reaction time, burst convergence, footprint and cost per check,
//! measured against real BIRD and a real GoBGP router in the namespace lab.
//!
//! ```text
//!  integration/bench/run.sh [scenario] [backend]
//!      └─ cargo bench --bench warden -- <scenario> <backend>
//!           ├─ builds a Lab (host ns: BIRD or FRR + warden, router ns: gobgpd + monitor)
//!           ├─ runs the scenario, times what the router receives (monotonic clock)
//!           ├─ writes integration/bench/results/<scenario>-<backend>.json
//!           └─ rewrites BENCHMARKS.md and the SVG plots from every results file
//! ```
//! Scenarios: `reaction`, `confirm` (fast_interval), `burst`, `footprint`, `native` (tcp and
//! http checks at up to 1,000 services), `report`
//! (only rewrite the report), `all`. Backends: `bird2`, `bird1`, `frr-network` (FRR,
//! `network` statements for addresses on `lo`), `frr-static` (FRR, tagged static routes for
//! prefixes not on the host), `bgp` (the built-in speaker: the warden itself peers with the
//! router; no routing daemon on the host). Scenario `fresh` (bgp only): 10,000 prefixes to a
//! router that starts while the warden already announces them. Scenario `order` (not in
//! `all`) regenerates link/symbol-order.txt under valgrind (see symbol_order.rs).
//! `AW_BENCH_SECONDS` sets the footprint window (default 60 s), `AW_BENCH_EVENTS` the
//! reaction cycles (default 50: 100 events), `AW_BENCH_MAX_N` the largest burst/footprint N.
//! Needs root; never run in CI (numbers on a shared machine are for the record, not gates).

mod http_server;
#[path = "../lab/mod.rs"]
#[allow(
    dead_code,
    reason = "the benchmarks use the lab's start-up and measuring parts only"
)]
mod lab;
mod report;
mod stats;
mod svg;
mod symbol_order;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use lab::Lab;
use lab::bird::{Bird, BirdVariant};
use lab::frr::{FRR_CHANGE_LOG_LINE, Frr, FrrConf, FrrMode};
use lab::gobgp::Router;
use lab::needs::Need;
use lab::process::poll;
use lab::warden::Warden;
use lab::warden_config::WardenConfig;
use nix::sys::signal::Signal;
use serde_json::{Value, json};

use stats::Summary;

const PORT: u16 = 47_111;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let scenario = args.first().map_or("all", String::as_str).to_string();
    let backends: Vec<Backend> = match args.get(1) {
        Some(name) => match Backend::parse(name) {
            Some(b) => vec![b],
            None => {
                eprintln!("unknown backend {name}: use {}", Backend::NAMES.join(", "));
                std::process::exit(2);
            }
        },
        None => Backend::ALL.to_vec(),
    };
    if scenario == "order" {
        order_scenario();
        return;
    }
    let needs: Vec<Need> = backends.iter().flat_map(|b| b.needs()).collect();
    if scenario != "report"
        && let Some(why) = lab::needs::missing(&needs)
    {
        eprintln!("cannot run the benchmarks: {why}");
        std::process::exit(2);
    }
    let scenarios: Vec<&str> = match scenario.as_str() {
        "all" => vec![
            "reaction",
            "confirm",
            "burst",
            "footprint",
            "native",
            "fresh",
        ],
        "report" => vec![],
        s => vec![s],
    };
    for s in &scenarios {
        for &backend in &backends {
            // Backend-independent scenarios run once, on BIRD 2.
            if matches!(*s, "confirm" | "footprint" | "native")
                && backend != Backend::Bird(BirdVariant::Bird2)
            {
                continue;
            }
            if *s == "fresh" && backend != Backend::Builtin {
                continue;
            }
            let backend_name = backend.name();
            eprintln!("== {s} on {backend_name}");
            let result = match *s {
                "reaction" => reaction(backend),
                "confirm" => confirm(),
                "burst" => burst(backend),
                "footprint" => footprint(),
                "native" => native(),
                "fresh" => fresh(),
                other => {
                    eprintln!(
                        "unknown scenario {other}: use reaction, confirm, burst, footprint, native, fresh, report or all"
                    );
                    std::process::exit(2);
                }
            };
            let result = json!({"scenario": s, "backend": backend_name, "machine": report::machine(), "result": result});
            let path = results_dir().join(format!("{s}-{backend_name}.json"));
            std::fs::create_dir_all(results_dir()).expect("results dir");
            std::fs::write(&path, serde_json::to_string_pretty(&result).expect("json"))
                .expect("write results");
            eprintln!("   wrote {}", path.display());
        }
    }
    report::write(&results_dir(), &repo_root().join("BENCHMARKS.md"));
    eprintln!("wrote BENCHMARKS.md");
}

/// Scenario `order` (never part of `all`: it rewrites a build input, link/symbol-order.txt).
fn order_scenario() {
    let needs: Vec<Need> = [
        Backend::Bird(BirdVariant::Bird2),
        Backend::Frr(FrrMode::Network),
        Backend::Builtin,
    ]
    .iter()
    .flat_map(|b| b.needs())
    .collect();
    if let Some(why) = lab::needs::missing(&needs) {
        eprintln!("cannot record the symbol order: {why}");
        std::process::exit(2);
    }
    if lab::process::run("valgrind", &["--version"]).is_err() {
        eprintln!("cannot record the symbol order: valgrind is missing (apt-get install valgrind)");
        std::process::exit(2);
    }
    eprintln!("== order (callgrind, BIRD 2, FRR, built-in speaker)");
    let result = symbol_order::run();
    let result = json!({"scenario": "order", "machine": report::machine(), "result": result});
    std::fs::create_dir_all(results_dir()).expect("results dir");
    std::fs::write(
        results_dir().join("order.json"),
        serde_json::to_string_pretty(&result).expect("json"),
    )
    .expect("write results");
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn results_dir() -> PathBuf {
    repo_root().join("integration/bench/results")
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `n` distinct documentation prefixes: up to 500 IPv4 /32, the rest IPv6 /128.
fn prefixes(n: usize) -> Vec<IpNet> {
    (0..n)
        .map(|i| {
            let addr = if i < 250 {
                IpAddr::V4(Ipv4Addr::new(198, 51, 100, i as u8))
            } else if i < 500 {
                IpAddr::V4(Ipv4Addr::new(203, 0, 113, (i - 250) as u8))
            } else {
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0x100,
                    0,
                    0,
                    0,
                    (i >> 16) as u16,
                    i as u16,
                ))
            };
            IpNet::from(addr)
        })
        .collect()
}

/// What announces the prefixes on the host side, and how the warden drives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// BIRD through its control socket.
    Bird(BirdVariant),
    /// FRR over its vty sockets, with FRR's default timers.
    Frr(FrrMode),
    /// FRR's static mode with `zebra work-queue 0` (README, FRR setup): zebra's RIB queue
    /// does not hold a route for 10 ms before bgpd sees it.
    FrrStaticNoZebraHold,
    /// The built-in BGP speaker.
    Builtin,
}

impl Backend {
    /// Every backend, in the report's order.
    const ALL: [Backend; 6] = [
        Backend::Bird(BirdVariant::Bird2),
        Backend::Bird(BirdVariant::Bird1),
        Backend::Frr(FrrMode::Network),
        Backend::Frr(FrrMode::Static),
        Backend::FrrStaticNoZebraHold,
        Backend::Builtin,
    ];
    const NAMES: [&str; 6] = [
        "bird2",
        "bird1",
        "frr-network",
        "frr-static",
        "frr-static-wq0",
        "bgp",
    ];

    fn name(self) -> &'static str {
        let i = Backend::ALL
            .iter()
            .position(|b| *b == self)
            .expect("listed");
        Backend::NAMES[i]
    }

    fn parse(name: &str) -> Option<Backend> {
        let i = Backend::NAMES.iter().position(|n| *n == name)?;
        Some(Backend::ALL[i])
    }

    fn needs(self) -> [Need; 2] {
        match self {
            Backend::Bird(BirdVariant::Bird2) => [Need::Bird2, Need::Gobgp],
            Backend::Bird(BirdVariant::Bird1) => [Need::Bird1, Need::Gobgp],
            Backend::Frr(_) | Backend::FrrStaticNoZebraHold => [Need::Frr, Need::Gobgp],
            Backend::Builtin => [Need::Gobgp, Need::Gobgp],
        }
    }

    /// The warden's FRR mode, for the FRR backends.
    fn frr_mode(self) -> Option<FrrMode> {
        match self {
            Backend::Frr(mode) => Some(mode),
            Backend::FrrStaticNoZebraHold => Some(FrrMode::Static),
            Backend::Bird(_) | Backend::Builtin => None,
        }
    }

    /// Whether the service prefixes are addresses on the host's `lo` (and checked there by
    /// `ip_check`). FRR's static mode is for prefixes not on the host: a connected route on
    /// `lo` would win over the static one, and `redistribute static` would not announce it.
    fn prefixes_on_lo(self) -> bool {
        self.frr_mode() != Some(FrrMode::Static)
    }
}

/// The routing daemon on the host side.
enum Speaker<'a> {
    Bird(Bird<'a>),
    Frr(Frr<'a>),
    /// No routing daemon: the warden speaks BGP itself.
    Builtin,
}

/// The warden's `[bgp]` for the lab's router (no drain at exit: the lab stops it).
fn bgp_section() -> String {
    format!(
        "[bgp]\nasn = {}\nrouter_id = \"{}\"\nconnect_retry = \"500ms\"\ndrain_time = \"0s\"\n[[bgp.peer]]\naddress = \"{}\"\nasn = {}\nnext_hop = [\"{}\"]\n",
        lab::HOST_AS,
        lab::HOST_V4,
        lab::ROUTER_V4,
        lab::ROUTER_AS,
        lab::HOST_V6
    )
}

impl Speaker<'_> {
    fn warden_section(&self, backend: Backend) -> String {
        match (self, backend) {
            (Speaker::Bird(bird), _) => WardenConfig::conf_d()
                .bird(bird.warden_section(true))
                .to_toml(),
            (Speaker::Frr(frr), _) => WardenConfig::conf_d()
                .frr(
                    frr.warden_section(
                        backend
                            .frr_mode()
                            .expect("FRR runs for the FRR backends only"),
                    ),
                )
                .to_toml(),
            (Speaker::Builtin, _) => bgp_section(),
        }
    }

    /// How many configuration changes the daemon took: the reconfigurations BIRD logged,
    /// or the vtysh runs that changed FRR's configuration (logged by the warden).
    fn reconfigure_count(&self, warden: &Warden) -> usize {
        match self {
            Speaker::Bird(bird) => bird.reconfigure_count(),
            Speaker::Frr(_) => warden.log_count(FRR_CHANGE_LOG_LINE),
            // Each apply is one round of UPDATEs to the peer.
            Speaker::Builtin => warden.log_count("applied prefix set"),
        }
    }
}

struct Setup<'a> {
    router: Router<'a>,
    speaker: Speaker<'a>,
    backend: Backend,
}

/// Starts the router and the routing daemon, with `prefixes` already where the backend
/// wants them: on `lo` before the daemon starts, because BIRD drops netlink messages when
/// thousands of addresses arrive at once and then only learns them at its next device
/// scan, 10 s later.
fn setup<'a>(lab: &'a Lab, backend: Backend, prefixes: &[IpNet]) -> Setup<'a> {
    if backend.prefixes_on_lo() {
        lab.add_lo_addresses(prefixes).expect("lo addresses");
    }
    let router = lab.start_router(backend == Backend::Bird(BirdVariant::Bird1));
    let speaker = match backend {
        Backend::Bird(BirdVariant::Bird2) => Speaker::Bird(lab.start_bird2()),
        Backend::Bird(BirdVariant::Bird1) => Speaker::Bird(lab.start_bird1()),
        // Without import checking: FRR 8.4's check walks every tracked next hop for each
        // withdrawn `network` (bnc_existing_for_prefix), so 10,000 withdrawals cost bgpd
        // O(N²), 49.5 s against 2.5 s without it (README, FRR backend).
        Backend::Frr(_) | Backend::FrrStaticNoZebraHold => Speaker::Frr(lab.start_frr(&FrrConf {
            bgp_more: "router bgp 65001\n no bgp network import-check\nexit\n",
            zebra: if backend == Backend::FrrStaticNoZebraHold {
                "zebra work-queue 0"
            } else {
                ""
            },
            ..FrrConf::default()
        })),
        Backend::Builtin => Speaker::Builtin,
    };
    Setup {
        router,
        speaker,
        backend,
    }
}

impl Setup<'_> {
    /// A warden configuration for one service per prefix with the given check and timing.
    fn config(&self, lab: &Lab, prefixes: &[IpNet], check: &str, timing: &str) -> String {
        let services: Vec<(IpNet, &str)> = prefixes.iter().map(|&p| (p, check)).collect();
        let section = self.speaker.warden_section(self.backend);
        self.config_with_checks(lab, &section, &services, timing)
    }

    /// A warden configuration with `section` for the backend, the given timing as
    /// `[defaults]`, and a service `s<i>` for each (prefix, check).
    fn config_with_checks(
        &self,
        lab: &Lab,
        section: &str,
        services: &[(IpNet, &str)],
        timing: &str,
    ) -> String {
        let ip_check = if self.backend.prefixes_on_lo() {
            ""
        } else {
            "ip_check = false\n"
        };
        let mut c = format!(
            "[daemon]\nstate_dir = {:?}\n[defaults]\n{timing}\n{ip_check}\n{section}\n",
            lab.path("state").display().to_string(),
        );
        for (i, (p, check)) in services.iter().enumerate() {
            c.push_str(&format!(
                "[[service]]\nname = \"s{i}\"\nprefixes = [\"{p}\"]\n[[service.check]]\n{check}\n"
            ));
        }
        c
    }
}

/// Makes the services' tcp check pass (a listener on PORT in the host namespace) or fail
/// (no listener: connections are refused from the moment this returns).
fn set_service(lab: &Lab, listener: &mut Option<lab::netns::NsListener>, up: bool) {
    if up {
        if listener.is_none() {
            *listener = Some(lab.host_tcp_listener(PORT));
        }
    } else if let Some(l) = listener.take() {
        l.close();
    }
}

fn tcp_check() -> String {
    format!("kind = \"tcp\"\ntarget = \"127.0.0.1:{PORT}\"")
}

/// Maps monotonic instants to wall-clock time (the warden logs wall-clock timestamps).
struct Clock {
    instant: Instant,
    wall: SystemTime,
}

impl Clock {
    fn now() -> Clock {
        Clock {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    fn wall_secs(&self, at: Instant) -> f64 {
        let base = self
            .wall
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        if at >= self.instant {
            base + (at - self.instant).as_secs_f64()
        } else {
            base - (self.instant - at).as_secs_f64()
        }
    }
}

/// Seconds since the epoch of a log line's leading RFC 3339 UTC timestamp
/// (`2026-11-22T03:55:05.808360Z`).
fn log_time(line: &str) -> Option<f64> {
    let ts = line.split_whitespace().next()?;
    let (date, time) = ts.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':');
    let (h, min) = (
        t.next()?.parse::<f64>().ok()?,
        t.next()?.parse::<f64>().ok()?,
    );
    let s = t.next()?.parse::<f64>().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s)
}

/// Scenario 1: a check flips at a known instant (SIGURG runs it at once); time until the
/// router sees the change, and the warden's own share from its verdict (logged) onwards.
fn reaction(backend: Backend) -> Value {
    let cycles = env_usize("AW_BENCH_EVENTS", 50);
    let lab = Lab::new("benchreact");
    let prefix: IpNet = "203.0.113.53/32".parse().expect("prefix");
    let setup = setup(&lab, backend, &[prefix]);
    let router = &setup.router;
    let mut listener = Some(lab.host_tcp_listener(PORT));
    let timing = "interval = \"1h\"\ntimeout = \"500ms\"\nrise = 1\nfall = 1";
    let warden = lab.start_warden(&setup.config(&lab, &[prefix], &tcp_check(), timing));
    router
        .wait_for_rib(&[prefix].into_iter().collect(), Duration::from_secs(60))
        .expect("first announcement");
    let monitor = router.monitor();
    let wire = router.wire();
    std::thread::sleep(Duration::from_millis(500));
    let clock = Clock::now();
    let (mut withdraw, mut announce) = (Vec::new(), Vec::new());
    let mut events = Vec::new();
    let mut on_wire = Vec::new();
    for _ in 0..cycles {
        for withdrawal in [true, false] {
            set_service(&lab, &mut listener, !withdrawal);
            let t0 = Instant::now();
            warden.signal(Signal::SIGURG).expect("SIGURG");
            let ev = monitor
                .wait_for(Duration::from_secs(10), |e| {
                    e.prefix == prefix && e.withdrawal == withdrawal && e.at > t0
                })
                .unwrap_or_else(|e| panic!("{e}"));
            let took = ev.at - t0;
            if withdrawal {
                withdraw.push(took)
            } else {
                announce.push(took)
            }
            events.push((withdrawal, clock.wall_secs(ev.at)));
            // The UPDATE's arrival at the router, which the monitor's event trails.
            let arrived = wire
                .wait_first_update(t0, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("{e}"));
            on_wire.push(clock.wall_secs(arrived));
            // Longer than the batch window, so events do not share an apply.
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    // The warden's verdicts, in order, after the initial "is up".
    let log = warden.log();
    let verdicts: Vec<f64> = log
        .lines()
        .filter(|l| l.contains("service s0 is "))
        .filter_map(log_time)
        .skip(1)
        .collect();
    let own: Vec<Duration> = events
        .iter()
        .zip(&verdicts)
        .map(|((_, seen), verdict)| Duration::from_secs_f64((seen - verdict).max(0.0)))
        .collect();
    let own_wire: Vec<Duration> = on_wire
        .iter()
        .zip(&verdicts)
        .map(|(arrived, verdict)| Duration::from_secs_f64((arrived - verdict).max(0.0)))
        .collect();
    let all: Vec<Duration> = withdraw.iter().chain(&announce).copied().collect();
    json!({
        "events": all.len(),
        "own_overhead_wire": Summary::of(&own_wire).map(Summary::to_json),
        "own_wire_samples_ms": own_wire.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        "trigger_to_router": Summary::of(&all).map(Summary::to_json),
        "withdraw": Summary::of(&withdraw).map(Summary::to_json),
        "announce": Summary::of(&announce).map(Summary::to_json),
        "own_overhead": Summary::of(&own).map(Summary::to_json),
        "own_samples_ms": own.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        "check": "tcp, SIGURG-triggered round, rise = fall = 1",
    })
}

/// Natural timing: interval 1 s, fall 2, rise 2, with and without fast_interval 100 ms;
/// the service fails at a random moment; time until the router withdraws it.
fn confirm() -> Value {
    // 50 per direction: the median of fewer uniform waits swings by ±0.1 s between runs.
    let cycles = env_usize("AW_BENCH_CONFIRM_EVENTS", 50);
    let mut out = serde_json::Map::new();
    for (label, fast) in [
        ("fast_interval_100ms", "fast_interval = \"100ms\"\n"),
        ("no_fast_interval", ""),
    ] {
        let lab = Lab::new("benchconf");
        let prefix: IpNet = "203.0.113.53/32".parse().expect("prefix");
        let setup = setup(&lab, Backend::Bird(BirdVariant::Bird2), &[prefix]);
        let router = &setup.router;
        let mut listener = Some(lab.host_tcp_listener(PORT));
        let timing = format!("interval = \"1s\"\n{fast}timeout = \"500ms\"\nrise = 2\nfall = 2");
        let _warden = lab.start_warden(&setup.config(&lab, &[prefix], &tcp_check(), &timing));
        router
            .wait_for_rib(&[prefix].into_iter().collect(), Duration::from_secs(60))
            .expect("first announcement");
        let monitor = router.monitor();
        let wire = router.wire();
        let (mut down, mut up) = (Vec::new(), Vec::new());
        let (mut down_wire, mut up_wire) = (Vec::new(), Vec::new());
        for cycle in 0..cycles {
            for failing in [true, false] {
                // The failure lands at a moment spread evenly over the warden's one-second
                // grid: each event follows the last one (which sits at a fixed offset from
                // a grid point) after a wait from an even stratification of 0..1 s, and the
                // two directions walk it half a turn apart. With random waits the median
                // of 50 events moved by about ±70 ms from run to run (one run: 719 ms);
                // stratified, it is the median of a uniformly timed failure.
                let stratum = if failing {
                    cycle
                } else {
                    (cycle + cycles / 2) % cycles
                };
                std::thread::sleep(stratified_wait(stratum, cycles));
                set_service(&lab, &mut listener, !failing);
                let t0 = Instant::now();
                let ev = monitor
                    .wait_for(Duration::from_secs(10), |e| {
                        e.prefix == prefix && e.withdrawal == failing && e.at > t0
                    })
                    .unwrap_or_else(|e| panic!("{e}"));
                // The UPDATE carrying it reached the router before the monitor printed it,
                // but tcpdump's line may still be on its way to the reader: wait for it.
                let on_wire = wire
                    .wait_first_update(t0, Duration::from_secs(2))
                    .ok()
                    .filter(|at| *at <= ev.at)
                    .map(|at| at - t0);
                if failing {
                    down.push(ev.at - t0);
                    down_wire.extend(on_wire);
                } else {
                    up.push(ev.at - t0);
                    up_wire.extend(on_wire);
                }
            }
        }
        out.insert(
            label.into(),
            json!({"failure_to_withdrawal": Summary::of(&down).map(Summary::to_json),
                   "recovery_to_announcement": Summary::of(&up).map(Summary::to_json),
                   "failure_to_withdrawal_wire": Summary::of(&down_wire).map(Summary::to_json),
                   "recovery_to_announcement_wire": Summary::of(&up_wire).map(Summary::to_json)}),
        );
    }
    Value::Object(out)
}

/// The `stratum`-th of `count` waits spread evenly over one second, each in the middle of
/// its slice, visited in a scrambled order (a stride coprime to `count`) so neighbouring
/// events do not fall at neighbouring phases.
fn stratified_wait(stratum: usize, count: usize) -> Duration {
    let count = count.max(1);
    let stride = (1..count)
        .rev()
        .find(|s| gcd(*s, count) == 1 && *s <= count * 3 / 8 + 1)
        .unwrap_or(1);
    let slice = (stratum * stride) % count;
    Duration::from_secs_f64((slice as f64 + 0.5) / count as f64)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Scenario 2: N services fail (and recover) at the same instant; time until the router
/// has all N changes, and how many applies/reconfigures that took.
fn burst(backend: Backend) -> Value {
    let max_n = env_usize("AW_BENCH_MAX_N", 10_000);
    let mut rows = Vec::new();
    for n in [1usize, 100, 1_000, 10_000]
        .into_iter()
        .filter(|n| *n <= max_n)
    {
        let lab = Lab::new("benchburst");
        let list = prefixes(n);
        let setup = setup(&lab, backend, &list);
        let router = &setup.router;
        let mut listener = Some(lab.host_tcp_listener(PORT));
        let timing = "interval = \"1h\"\ntimeout = \"2s\"\nrise = 1\nfall = 1";
        let monitor = router.monitor();
        let wire = router.wire();
        let started = Instant::now();
        let warden = lab.start_warden(&setup.config(&lab, &list, &tcp_check(), timing));
        let all: BTreeSet<IpNet> = list.iter().copied().collect();
        let startup = router
            .wait_for_rib(&all, Duration::from_secs(180))
            .expect("all announced");
        let _ = started;
        std::thread::sleep(Duration::from_millis(500));
        let mut phases = serde_json::Map::new();
        for failing in [true, false] {
            let reconfigures = setup.speaker.reconfigure_count(&warden);
            let applies = warden.log_count("applied prefix set");
            set_service(&lab, &mut listener, !failing);
            let t0 = Instant::now();
            warden.signal(Signal::SIGURG).expect("SIGURG");
            // Two views of "the router has all N changes": polling its RIB (exact state,
            // coarse in time: one `gobgp global rib` dump per poll) and the time-stamped
            // route events (fine in time, but gobgp's monitor can lag in big bursts).
            router
                .wait_for_rib_where("burst", Duration::from_secs(120), |rib| {
                    if failing {
                        rib.is_disjoint(&all)
                    } else {
                        all.is_subset(rib)
                    }
                })
                .unwrap_or_else(|e| panic!("{e}"));
            let rib_at = Instant::now();
            let rib_ms = (rib_at - t0).as_secs_f64() * 1e3;
            // tcpdump's lines reach us a little after the packets: let them catch up.
            std::thread::sleep(Duration::from_millis(300));
            // The last UPDATE segment to reach the router before its RIB showed all N
            // changes: when the router had them all, whatever its monitor says later.
            let wire_last_ms = wire
                .updates_between(t0, rib_at)
                .last()
                .map(|at| (*at - t0).as_secs_f64() * 1e3);
            let deadline = t0 + Duration::from_secs(120);
            let (first, last) = loop {
                let seen: Vec<Instant> = monitor
                    .events()
                    .into_iter()
                    .filter(|e| e.at > t0 && e.withdrawal == failing && all.contains(&e.prefix))
                    .map(|e| e.at)
                    .collect();
                let distinct = monitor
                    .events()
                    .into_iter()
                    .filter(|e| e.at > t0 && e.withdrawal == failing && all.contains(&e.prefix))
                    .map(|e| e.prefix)
                    .collect::<BTreeSet<_>>()
                    .len();
                if distinct == n {
                    let first = seen.iter().min().copied().unwrap_or(t0);
                    let last = seen.iter().max().copied().unwrap_or(t0);
                    break (first, last);
                }
                assert!(
                    Instant::now() < deadline,
                    "burst of {n}: only {distinct} changes reached the router"
                );
                std::thread::sleep(Duration::from_millis(5));
            };
            let reconfigured = lab::process::settled_count(
                || setup.speaker.reconfigure_count(&warden),
                Duration::from_millis(700),
                Duration::from_secs(20),
            ) - reconfigures;
            let applied = warden.log_count("applied prefix set") - applies;
            // How long the warden's applies of this phase took (its own log): the routing
            // daemon's part of the convergence is the rest.
            let apply_ms: f64 = warden
                .log()
                .lines()
                .filter(|l| l.contains("applied prefix set"))
                .skip(applies)
                .filter_map(|l| {
                    l.split(" took=")
                        .nth(1)?
                        .split_whitespace()
                        .next()
                        .map(str::to_string)
                })
                .filter_map(|t| parse_ms(&t))
                .sum();
            phases.insert(
                if failing { "fail" } else { "recover" }.into(),
                json!({"first_ms": (first - t0).as_secs_f64() * 1e3, "all_ms": (last - t0).as_secs_f64() * 1e3, "rib_ms": rib_ms, "wire_last_ms": wire_last_ms,
                       "reconfigures": reconfigured, "warden_applies": applied, "apply_ms": apply_ms}),
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        eprintln!("   N = {n}: {phases:?}");
        rows.push(json!({"n": n, "startup_to_all_announced_ms": startup.as_secs_f64() * 1e3, "phases": phases}));
    }
    json!({"rows": rows, "check": "tcp, SIGURG-triggered round for all N at once, rise = fall = 1"})
}

/// "53.3ms" or "1.2s" (as the warden logs `took=`) in milliseconds.
fn parse_ms(text: &str) -> Option<f64> {
    match text.strip_suffix("ms") {
        Some(ms) => ms.parse().ok(),
        None => text.strip_suffix('s')?.parse::<f64>().ok().map(|s| s * 1e3),
    }
}

/// Scenario `fresh` (built-in speaker): the warden announces N prefixes; the router
/// restarts and has to learn them all from a new session. Time from starting gobgpd to the
/// session, to the first and last UPDATE on the wire, and to gobgpd counting all N.
fn fresh() -> Value {
    let n = env_usize("AW_BENCH_MAX_N", 10_000);
    let cycles = env_usize("AW_BENCH_FRESH_RUNS", 5);
    let lab = Lab::new("benchfresh");
    let list = prefixes(n);
    let all: BTreeSet<IpNet> = list.iter().copied().collect();
    let setup = setup(&lab, Backend::Builtin, &list);
    let _listener = Some(lab.host_tcp_listener(PORT));
    let timing = "interval = \"1h\"\ntimeout = \"2s\"\nrise = 1\nfall = 1";
    let _warden = lab.start_warden(&setup.config(&lab, &list, &tcp_check(), timing));
    setup
        .router
        .wait_for_rib(&all, Duration::from_secs(120))
        .expect("all announced");
    // The capture is on the router's interface, not gobgpd's: it outlives the restarts,
    // and is listening before the new session exists.
    let wire = setup.router.wire();
    lab.stop(setup.router.pid, Duration::from_secs(5));
    let mut runs = Vec::new();
    for _ in 0..cycles {
        // From the moment gobgpd is started: the session can be up before its API answers.
        let t0 = Instant::now();
        let router = lab.start_router(false);
        router
            .wait_established(Duration::from_secs(60))
            .expect("session");
        let est = t0.elapsed();
        // gobgpd's own count of received routes: far cheaper to poll than its RIB.
        let counted = poll(Duration::from_secs(120), Duration::from_millis(5), || {
            (received(&router) >= n).then(|| t0.elapsed())
        })
        .expect("all received");
        // tcpdump's lines reach the reader a little after the packets.
        std::thread::sleep(Duration::from_millis(500));
        let updates = wire.updates_between(t0, t0 + counted);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let row = json!({
            "session_ms": ms(est),
            "first_update_ms": updates.first().map(|at| ms(*at - t0)),
            "last_update_ms": updates.last().map(|at| ms(*at - t0)),
            "table_on_wire_ms": updates.first().zip(updates.last()).map(|(a, b)| ms(*b - *a)),
            "received_ms": ms(counted),
        });
        eprintln!("   fresh router, N = {n}: {row}");
        runs.push(row);
        lab.stop(router.pid, Duration::from_secs(5));
    }
    json!({"n": n, "runs": runs})
}

/// How many routes gobgpd has received from its neighbors (all families).
fn received(router: &Router) -> usize {
    let Ok(out) = router.gobgp(&["neighbor", "-j"]) else {
        return 0;
    };
    let json: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
    json.as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["afi_safis"].as_array().into_iter().flatten())
        .filter_map(|a| a["state"]["received"].as_u64())
        .sum::<u64>() as usize
}

/// /proc figures of one process.
struct ProcSample {
    self_ticks: u64,
    child_ticks: u64,
    rss_kib: u64,
}

fn proc_sample(pid: i32) -> Option<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17.
    let f = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())?;
    Some(ProcSample {
        self_ticks: f(14)? + f(15)?,
        child_ticks: f(16)? + f(17)?,
        rss_kib,
    })
}

/// Scenarios 3 and 4: RSS and CPU at N services (tcp and exec at 1 s), start-up time to
/// the first and to all announcements, and CPU per check execution.
fn footprint() -> Value {
    let seconds = env_usize("AW_BENCH_SECONDS", 60) as u64;
    let max_n = env_usize("AW_BENCH_MAX_N", 10_000);
    let mut rows = Vec::new();
    for kind in ["tcp", "exec"] {
        for n in [1usize, 100, 1_000, 10_000]
            .into_iter()
            .filter(|n| *n <= max_n)
        {
            if kind == "exec" && n > 1_000 {
                // 10,000 forks a second is more than this 2-core machine can do at all.
                rows.push(json!({"kind": kind, "n": n, "skipped": "10,000 process starts per second exceed a 2-core machine"}));
                continue;
            }
            let check = if kind == "tcp" {
                tcp_check()
            } else {
                "kind = \"exec\"\ncommand = [\"/bin/true\"]".to_string()
            };
            if kind == "tcp" && n == 1 {
                // How much of the binary a fault maps depends on how its pages sit in the
                // page cache: just written (by the build, or a package install) they are
                // large folios, and the kernel maps a whole folio on a fault; read back
                // from disk (after a reboot) they are smaller. Measure both, fresh first.
                let lab = Lab::new("benchfoot");
                let _listener = lab.host_tcp_listener(PORT);
                let mut row = measure(&lab, kind, n, &check, seconds);
                row["binary_pages"] = json!("as written by the build");
                rows.push(row);
                drop_binary_from_page_cache();
            }
            let lab = Lab::new("benchfoot");
            let _listener = lab.host_tcp_listener(PORT);
            let mut row = measure(&lab, kind, n, &check, seconds);
            row["binary_pages"] = json!("read back from disk");
            rows.push(row);
        }
    }
    json!({"rows": rows, "interval": "1s", "splay": "1s", "symbol_order": symbol_order::coverage()})
}

/// Evicts the daemon binary's pages from the page cache (as a reboot would), so the next
/// start reads it from disk.
fn drop_binary_from_page_cache() {
    use nix::fcntl::{PosixFadviseAdvice, posix_fadvise};
    let file = std::fs::File::open(lab::WARDEN_BIN).expect("open the warden binary");
    posix_fadvise(&file, 0, 0, PosixFadviseAdvice::POSIX_FADV_DONTNEED)
        .expect("drop the warden binary from the page cache");
}

/// Scenario 5 (issue 3): the native tcp and http checks at N services, each against a
/// local listener at 1 s, as the footprint scenario measures them.
fn native() -> Value {
    let seconds = env_usize("AW_BENCH_SECONDS", 60) as u64;
    let max_n = env_usize("AW_BENCH_MAX_N", 10_000).min(1_000);
    let mut rows = Vec::new();
    for kind in ["tcp", "http"] {
        for n in [1usize, 100, 1_000].into_iter().filter(|n| *n <= max_n) {
            let lab = Lab::new("benchnative");
            let (check, _tcp, _http) = if kind == "tcp" {
                (tcp_check(), Some(lab.host_tcp_listener(PORT)), None)
            } else {
                (
                    format!(
                        "kind = \"http\"\nurl = \"http://127.0.0.1:{PORT}/health\"\nbody_contains = \"ok\""
                    ),
                    None,
                    Some(http_server::NsHttpServer::open(&lab.host_ns, PORT)),
                )
            };
            rows.push(measure(&lab, kind, n, &check, seconds));
        }
    }
    json!({"rows": rows, "interval": "1s", "splay": "1s"})
}

/// Starts BIRD 2, the router and a warden with N services of one check each (1 s interval,
/// spread by a 1 s splay), waits until all are announced, then samples /proc for `seconds`.
fn measure(lab: &Lab, kind: &str, n: usize, check: &str, seconds: u64) -> Value {
    let ticks_per_sec = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let list = prefixes(n);
    let setup = setup(lab, Backend::Bird(BirdVariant::Bird2), &list);
    let router = &setup.router;
    let timing = "interval = \"1s\"\ntimeout = \"900ms\"\nrise = 2\nfall = 2";
    let mut cfg = setup.config(lab, &list, check, timing);
    // Spread the checks over the second, as a real fleet of services would be.
    cfg = cfg.replacen("[defaults]", "splay = \"1s\"\n[defaults]", 1);
    let monitor = router.monitor();
    router
        .wait_established(Duration::from_secs(60))
        .expect("session");
    let spawned = Instant::now();
    let warden = lab.start_warden(&cfg);
    let all: BTreeSet<IpNet> = list.iter().copied().collect();
    router
        .wait_for_rib(&all, Duration::from_secs(300))
        .expect("all announced");
    let all_in_rib = spawned.elapsed();
    let announced = |pick: fn(Duration, Duration) -> Duration| {
        monitor
            .events()
            .iter()
            .filter(|e| !e.withdrawal && e.at > spawned)
            .map(|e| e.at - spawned)
            .reduce(pick)
            .unwrap_or_default()
    };
    let first = announced(Duration::min);
    let last = announced(Duration::max);
    std::thread::sleep(Duration::from_secs(5));
    let before = proc_sample(warden.pid).expect("proc sample");
    let window_start = Instant::now();
    let mut rss = Vec::new();
    while window_start.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_secs(1));
        if let Some(s) = proc_sample(warden.pid) {
            rss.push(s.rss_kib);
        }
    }
    let after = proc_sample(warden.pid).expect("proc sample");
    let window = window_start.elapsed().as_secs_f64();
    let self_cpu = (after.self_ticks - before.self_ticks) as f64 / ticks_per_sec;
    let child_cpu = (after.child_ticks - before.child_ticks) as f64 / ticks_per_sec;
    let checks = n as f64 * window;
    let rss_avg = rss.iter().sum::<u64>() as f64 / rss.len().max(1) as f64;
    // Every service must still be announced: a check that failed under load would show.
    let still = router.rib().map(|rib| rib.len()).unwrap_or(0);
    let row = json!({
        "kind": kind, "n": n, "window_s": window,
        "rss_avg_mib": rss_avg / 1024.0,
        "rss_max_mib": rss.iter().max().copied().unwrap_or(0) as f64 / 1024.0,
        "cpu_pct_of_one_core": self_cpu / window * 100.0,
        "cpu_pct_with_check_processes": (self_cpu + child_cpu) / window * 100.0,
        "cpu_us_per_check": (self_cpu + child_cpu) / checks * 1e6,
        "startup_first_announcement_ms": first.as_secs_f64() * 1e3,
        "startup_all_announced_ms": last.as_secs_f64() * 1e3,
        "startup_all_in_rib_ms": all_in_rib.as_secs_f64() * 1e3,
        "announced_at_end": still,
    });
    eprintln!("   {row}");
    row
}
