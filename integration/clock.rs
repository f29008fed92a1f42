//! The wall clock jumping a day back and a day forward neither stalls nor bursts the check
//! scheduler, which runs on the monotonic clock only.
//!
//! The machine's clock is never touched (it is shared): the warden runs under libfaketime
//! (`LD_PRELOAD`) with `FAKETIME_DONT_FAKE_MONOTONIC=1`, reading its offset from a file
//! that the test rewrites (`FAKETIME_NO_CACHE=1`). The check itself appends `date +%s`, so
//! each run is counted and says which clock it saw (the check inherits the offset).

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::lab::Lab;
use crate::lab::needs::{Need, libfaketime};
use crate::lab::warden_config::{Check, Service, WardenConfig, ms, secs};

const INTERVAL_MS: u64 = 200;
const PHASE: Duration = Duration::from_secs(4);
const DAY: i64 = 86_400;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[test]
fn wall_clock_jumps_neither_stall_nor_burst_the_checks() {
    let Some(lab) = Lab::new_or_skip("clock-jump", &[Need::Bird2, Need::Faketime]) else {
        return;
    };
    let Some(preload) = libfaketime() else {
        unreachable!("Need::Faketime checked it");
    };
    let bird = lab.start_bird2();
    let offset = lab.path("faketime");
    let runs = lab.path("runs");
    fs::write(&offset, "+0\n").unwrap();
    let text = WardenConfig::new(&lab)
        .bird(bird.warden_section(true))
        .service(
            Service::new("clock")
                .prefixes(&["203.0.113.31/32"])
                .timing(ms(INTERVAL_MS), secs(2), 1, 1)
                .ip_check(false)
                .check(Check::shell(&format!("date +%s >> {}", runs.display()))),
        )
        .to_toml();
    let preload = preload.display().to_string();
    let offset_file = offset.display().to_string();
    let warden = lab.start_warden_env(
        &text,
        &[
            ("LD_PRELOAD", &preload),
            ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
            ("FAKETIME_NO_CACHE", "1"),
            ("FAKETIME_TIMESTAMP_FILE", &offset_file),
            // A line per round ("checks passed"), each stamped with the warden's clock.
            ("RUST_LOG", "info,anycast_warden::service=debug"),
        ],
    );
    warden
        .wait_for_log("service clock is up", 1, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}"));

    // Normal, a day back, a day forward (two days at once), and back to normal.
    let phases: [(&str, i64); 4] = [("+0", 0), ("-1d", -DAY), ("+1d", DAY), ("+0", 0)];
    let start = unix_now();
    let mut seen = Vec::new();
    for (k, (spec, _)) in phases.iter().enumerate() {
        fs::write(&offset, format!("{spec}\n")).unwrap();
        std::thread::sleep(PHASE);
        // Runs per phase, told apart by the clock each run saw (the phases 0 and 3 share
        // an offset, so cut them by the number of lines instead).
        let lines = fs::read_to_string(&runs).unwrap_or_default();
        seen.push((k, lines.lines().count()));
    }
    fs::write(&offset, "+0\n").unwrap();
    assert!(warden.is_running(), "the warden died under the clock jumps");

    let lines = fs::read_to_string(&runs).unwrap_or_default();
    let stamps: Vec<i64> = lines
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let offset_of = |t: i64| {
        let d = t - start;
        if d < -DAY / 2 {
            -DAY
        } else if d > DAY / 2 {
            DAY
        } else {
            0
        }
    };
    let mut by_offset: BTreeMap<i64, usize> = BTreeMap::new();
    for &t in &stamps {
        *by_offset.entry(offset_of(t)).or_default() += 1;
    }
    let mut per_phase = Vec::new();
    let mut before = 0;
    for (k, total) in &seen {
        per_phase.push((phases[*k].0, total - before));
        before = *total;
    }
    eprintln!(
        "clock-jump: check runs per {PHASE:?} phase (interval {INTERVAL_MS} ms): {per_phase:?}; by the clock they saw: {by_offset:?}"
    );
    // Every phase ran at the interval: about PHASE / interval rounds, never none (a stall
    // after the clock went back) and never a burst (a catch-up after it went forward).
    let expected = (PHASE.as_millis() / u128::from(INTERVAL_MS)) as usize;
    for (spec, n) in &per_phase {
        assert!(
            *n >= expected / 2 && *n <= expected * 3 / 2 + 2,
            "{n} runs in the {spec} phase, expected about {expected}: {per_phase:?}"
        );
    }
    // The runs really saw the jumps.
    assert!(
        by_offset.get(&-DAY).copied().unwrap_or(0) > 0,
        "{by_offset:?}"
    );
    assert!(
        by_offset.get(&DAY).copied().unwrap_or(0) > 0,
        "{by_offset:?}"
    );
    // And so did the warden itself: its log lines carry yesterday's and tomorrow's dates.
    let log = warden.log();
    for days in [-1i64, 1] {
        let t = UNIX_EPOCH + Duration::from_secs((start + days * DAY) as u64);
        let date = humantime::format_rfc3339(t).to_string()[..10].to_string();
        assert!(
            log.contains(&date),
            "the warden's log has no line dated {date}: libfaketime did not reach it"
        );
    }
}
