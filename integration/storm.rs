//! A check storm: 10,000 services whose exec checks all hang past their timeout, round
//! after round, with `max_concurrent_exec` queueing them. The warden's memory and thread
//! count stay flat from round to round, at most `max_concurrent_exec` check processes run
//! at once, and every service is down (announced nowhere: BIRD 2 gets an empty set).

use std::fs;
use std::time::{Duration, Instant};

use crate::lab::Lab;
use crate::lab::needs::Need;
use crate::lab::warden_config::{Check, Defaults, Service, WardenConfig, ms, secs};

const SERVICES: usize = 10_000;
const MAX_EXEC: usize = 32;

/// `VmRSS`, `VmHWM` (KiB) and `Threads` from /proc/PID/status.
fn proc_status(pid: i32) -> Option<(u64, u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?, field("Threads:")?))
}

/// The warden's live child processes (zombies not counted), from every /proc/PID/stat.
fn children(pid: i32) -> usize {
    let Ok(procs) = fs::read_dir("/proc") else {
        return 0;
    };
    procs
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|e| fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            // "PID (comm) STATE PPID ...": comm may hold spaces, so split after ") ".
            let Some((_, rest)) = stat.rsplit_once(") ") else {
                return false;
            };
            let mut fields = rest.split(' ');
            let state = fields.next().unwrap_or("Z");
            let ppid = fields.next().and_then(|p| p.parse::<i32>().ok());
            state != "Z" && ppid == Some(pid)
        })
        .count()
}

#[test]
fn ten_thousand_hanging_checks_keep_memory_threads_and_processes_bounded() {
    let Some(lab) = Lab::new_alone_or_skip("check-storm", &[Need::Bird2]) else {
        return;
    };
    let bird = lab.start_bird2();
    let services = (0..SERVICES).map(|i| {
        let prefix = format!(
            "2001:db8:5:{hi:x}::{lo:x}/128",
            hi = i / 4096,
            lo = i % 4096 + 1
        );
        Service::new(&format!("s{i}"))
            .prefixes(&[prefix])
            .check(Check::exec(&["/bin/sleep", "30"]))
    });
    let text = WardenConfig::new(&lab)
        .max_concurrent_exec(MAX_EXEC as u32)
        .bird(bird.warden_section(true))
        .defaults(
            Defaults::new()
                .timing(secs(4), ms(300), 1, 1)
                .ip_check(false),
        )
        .services(services)
        .to_toml();
    let warden = lab.start_warden(&text);
    let pid = warden.pid;
    let start = Instant::now();
    // (seconds since start, rss KiB, hwm KiB, threads, children)
    let mut samples: Vec<(f64, u64, u64, u64, usize)> = Vec::new();
    let sample = |samples: &mut Vec<_>| {
        assert!(warden.is_running(), "the warden died in the storm");
        if let Some((rss, hwm, threads)) = proc_status(pid) {
            samples.push((
                start.elapsed().as_secs_f64(),
                rss,
                hwm,
                threads,
                children(pid),
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Until every service has its verdict, down (its check timed out, or waited for a
    // slot past its timeout): the log says so once per service. How long that takes
    // depends on the machine's load; `status` is not asked, as it waits its turn on the
    // daemon's one thread, which spends the storm starting processes.
    let down_count = || {
        let log = warden.log();
        log.lines()
            .filter_map(|l| {
                // A service going down is a warning.
                let (name, _) = l.split("WARN service ").nth(1)?.split_once(" is down ")?;
                Some(name.to_string())
            })
            .collect::<std::collections::BTreeSet<String>>()
            .len()
    };
    let mut last_count = Instant::now();
    let mut down = 0;
    while down < SERVICES && start.elapsed() < Duration::from_secs(300) {
        sample(&mut samples);
        if last_count.elapsed() > Duration::from_secs(2) {
            down = down_count();
            last_count = Instant::now();
        }
    }
    assert_eq!(down_count(), SERVICES, "every service is down");
    let verdicts = start.elapsed();
    let settled = samples.len();
    // Then five more rounds: everything from here on is steady state.
    while start.elapsed() < verdicts + Duration::from_secs(20) {
        sample(&mut samples);
    }
    let include = fs::read_to_string(lab.path("anycast-prefixes.conf")).unwrap_or_default();
    assert!(
        !include.contains("2001:db8:5:"),
        "nothing is announced: {include}"
    );

    let peak_children = samples.iter().map(|s| s.4).max().unwrap_or(0);
    let peak_threads = samples.iter().map(|s| s.3).max().unwrap_or(0);
    let hwm = samples.last().map_or(0, |s| s.2);
    // Memory once every service had its verdict (and its status entries) against five
    // rounds later: no growth per round.
    let early = samples.get(settled.saturating_sub(1)).map_or(0, |s| s.1);
    let late = samples.last().map_or(0, |s| s.1);
    let threads_late = samples.last().map_or(0, |s| s.3);
    eprintln!(
        "check-storm: {SERVICES} services, max_concurrent_exec {MAX_EXEC}: peak children {peak_children}, \
         every service down after {verdicts:?}; peak threads {peak_threads} (end {threads_late}), \
         VmRSS {early} KiB then, {late} KiB five rounds later, VmHWM {hwm} KiB"
    );
    assert!(
        peak_children <= MAX_EXEC,
        "{peak_children} check processes at once, more than max_concurrent_exec = {MAX_EXEC}"
    );
    assert!(
        peak_children >= MAX_EXEC / 2,
        "the storm never filled the exec slots ({peak_children})"
    );
    assert!(peak_threads <= 64, "{peak_threads} threads");
    assert!(
        late <= early + early / 10 + 8 * 1024,
        "VmRSS grew from {early} KiB to {late} KiB over the rounds"
    );
    assert!(hwm <= 1024 * 1024, "VmHWM {hwm} KiB");
}
