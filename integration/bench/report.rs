//! Turns every results file into BENCHMARKS.md and the SVG plots beside the results.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::stats::Summary;
use crate::svg::{self, Series};

/// The machine, the versions and the date, recorded with every result.
pub fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let first_line = |program: &str, args: &[&str]| -> String {
        Command::new(program)
            .args(args)
            .output()
            .map(|o| {
                let text = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&text)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .unwrap_or_else(|_| "not found".into())
    };
    json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "kernel": first_line("uname", &["-r"]),
        "bird": first_line("bird", &["--version"]),
        "frr": first_line("/usr/lib/frr/zebra", &["--version"]),
        "gobgpd": first_line("gobgpd", &["--version"]),
        "warden": env!("CARGO_PKG_VERSION"),
        "date": first_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
    })
}

fn load(dir: &Path) -> BTreeMap<(String, String), Value> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let key = (
            v["scenario"].as_str().unwrap_or("").to_string(),
            v["backend"].as_str().unwrap_or("").to_string(),
        );
        out.insert(key, v);
    }
    out
}

fn ms(v: &Value) -> String {
    v.as_f64().map_or("–".into(), |x| {
        if x >= 100.0 {
            format!("{x:.0}")
        } else {
            format!("{x:.1}")
        }
    })
}

fn summary_row(label: &str, s: Option<Summary>) -> String {
    match s {
        Some(s) => format!(
            "| {label} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |\n",
            s.count, s.min, s.median, s.p90, s.p99, s.max
        ),
        None => format!("| {label} | 0 | – | – | – | – | – |\n"),
    }
}

/// Rewrites `out` from every results file in `dir`.
pub fn write(dir: &Path, out: &Path) {
    let results = load(dir);
    let mut md = String::from(
        "# Benchmarks\n\nWritten by `integration/bench/run.sh` from the files in `integration/bench/results/`;\n\
         every number below comes from a run, none is typed in. The lab: two network namespaces joined by a\n\
         veth pair, BIRD or FRR (and the warden) on the host side, GoBGP as the router on the other side,\n\
         time-stamping every route event it receives with a monotonic clock. Backends: `bird2` and `bird1`\n\
         (through the control socket); `frr-network` (FRR, `network` statements for addresses on `lo`),\n\
         `frr-static` (FRR, tagged static routes to Null0 for prefixes not on the host) and `frr-static-wq0`\n\
         (static mode with `zebra work-queue 0` in zebra.conf, as README's FRR section suggests), all three\n\
         over FRR's vty sockets; `bgp` (the built-in BGP speaker, no routing daemon). A tcpdump on the\n\
         router's end of the veth time-stamps each BGP segment from the host as it arrives (*wire*). The\n\
         machine is shared, so treat single numbers with care; the runs are records, not CI gates. Runs\n\
         may come from different machines (the table below names each one's CPU): compare backends\n\
         within runs on the same machine.\n\n",
    );
    let mut machines: Vec<String> = results
        .iter()
        .map(|((s, b), v)| {
            let m = &v["machine"];
            // The routing daemon that ran: FRR for the frr-* backends, else BIRD.
            let daemon = if b.starts_with("frr") { "frr" } else { "bird" };
            // The built-in speaker runs no routing daemon on the host.
            let daemon_text = if b == "bgp" {
                "none (built-in speaker)"
            } else {
                m[daemon].as_str().unwrap_or("")
            };
            format!(
                "| {s} | {b} | {} | {} cores, {} | {} | {} | {} | {} |",
                m["date"].as_str().unwrap_or(""),
                m["cores"],
                m["cpu"].as_str().unwrap_or(""),
                m["kernel"].as_str().unwrap_or(""),
                daemon_text,
                m["gobgpd"].as_str().unwrap_or(""),
                m["warden"].as_str().unwrap_or("")
            )
        })
        .collect();
    machines.sort();
    md.push_str("## Runs\n\n| scenario | backend | date | machine | kernel | BIRD or FRR | GoBGP | warden |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for m in machines {
        md.push_str(&m);
        md.push('\n');
    }

    // 1. Reaction.
    md.push_str(
        "\n## 1. Reaction: a check flips, the router sees it\n\n\
         The check is a tcp check with rise = fall = 1. The test closes (or opens) the listener, and SIGURG\n\
         makes the warden check at once. *Trigger to router* runs from the signal to the router's route event.\n\
         *Own overhead* runs from the warden's logged verdict onwards: the warden, BIRD's reconfigure (or FRR's\n\
         configuration change) and the BGP UPDATE; this is the detection window (interval × fall) taken away. It is\n\
         given up to the UPDATE's arrival at the router's interface (*wire*; the plot) and up to the route event\n\
         that gobgp's monitor prints, which trails the arrival by gobgpd's own processing.\n\
         Times are in milliseconds.\n\n",
    );
    let mut cdf = Vec::new();
    for ((s, backend), v) in &results {
        if s != "reaction" {
            continue;
        }
        let r = &v["result"];
        let _ = writeln!(
            md,
            "### {backend}\n\n| measure | events | min | median | p90 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |"
        );
        md.push_str(&summary_row(
            "trigger to router",
            Summary::from_json(&r["trigger_to_router"]),
        ));
        md.push_str(&summary_row(
            "  withdrawals",
            Summary::from_json(&r["withdraw"]),
        ));
        md.push_str(&summary_row(
            "  announcements",
            Summary::from_json(&r["announce"]),
        ));
        md.push_str(&summary_row(
            "own overhead (verdict to wire)",
            Summary::from_json(&r["own_overhead_wire"]),
        ));
        md.push_str(&summary_row(
            "own overhead (verdict to monitor event)",
            Summary::from_json(&r["own_overhead"]),
        ));
        md.push('\n');
        // The wire samples where the run has them (runs before the wire existed do not).
        let samples: Vec<f64> = r["own_wire_samples_ms"]
            .as_array()
            .or_else(|| r["own_samples_ms"].as_array())
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default();
        cdf.push((backend.clone(), samples));
    }
    if !cdf.is_empty() {
        let chart = svg::cdf_chart(
            "Own overhead: warden verdict to the UPDATE at the router (ms)",
            "milliseconds",
            &cdf,
        );
        let _ = std::fs::write(dir.join("reaction.svg"), chart);
        md.push_str("![own overhead CDF](integration/bench/results/reaction.svg)\n\n");
    }
    md.push_str(
        "Targets (issue 6): own overhead median ≤ 2 ms for BIRD (control socket), ≤ 60 ms for FRR, p99 within\n\
         3× the median. Reference, same lab: anycast-healthchecker + BIRD 2 ≈ 4 ms median; anycastd + FRR ≈ 100 ms.\n\n",
    );

    // Confirmation pace.
    if let Some(v) = results.get(&("confirm".to_string(), "bird2".to_string())) {
        md.push_str(
            "## Failure to withdrawal at interval 1 s, fall 2 (BIRD 2)\n\n\
             Here the failure happens at moments spread evenly over the one-second grid (a stratified sample\n\
             of a uniformly timed failure, so the expectation is half an interval plus `fast_interval` plus the\n\
             warden's and BIRD's overhead). The time runs from the\n\
             failure to the withdrawal's UPDATE reaching the router (*wire*, tcpdump on the router's link) and\n\
             to gobgp's monitor printing it (*monitor*), in milliseconds. Target: a median of 0.7 s or less with\n\
             `fast_interval = \"100ms\"`. Reference: anycast-healthchecker needs about 1.5 s without it.\n\n\
             | variant | measure | events | min | median | p90 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
        );
        for (label, r) in v["result"].as_object().into_iter().flatten() {
            for (m, key) in [
                ("failure → withdrawal (wire)", "failure_to_withdrawal_wire"),
                ("failure → withdrawal (monitor)", "failure_to_withdrawal"),
                (
                    "recovery → announcement (wire)",
                    "recovery_to_announcement_wire",
                ),
                (
                    "recovery → announcement (monitor)",
                    "recovery_to_announcement",
                ),
            ] {
                if r.get(key).is_none_or(Value::is_null) {
                    continue;
                }
                let row = summary_row(m, Summary::from_json(&r[key]));
                md.push_str(&format!("| {label} {}", row.trim_start_matches('|')));
            }
        }
        md.push('\n');
    }

    // 2. Burst.
    md.push_str(
        "## 2. Burst: N services fail (and recover) at the same instant\n\n\
         The N tcp checks fail together: the listener closes and SIGURG fires. Times run from the signal to\n\
         the arrival at the router of the last UPDATE segment it got before its RIB showed all N changes\n\
         (*wire: last UPDATE*, the convergence time), to the router's first and last route event (gobgp's\n\
         monitor, which lags by hundreds of ms in big bursts), and until a poll of the router's RIB shows all N\n\
         changes (one poll of a 10,000-route RIB takes a few hundred ms), in milliseconds. *Applies* counts the warden's whole-set\n\
         applies and *reconfigures* the daemon's configuration changes: the reconfigurations BIRD logged, or\n\
         the batches that changed FRR's configuration (logged by the warden). Reference: anycast-healthchecker\n\
         needs 35–58 s and 1,000 reconfigures for N = 1,000. Targets: 1,000 in ≤ 200 ms (BIRD) and ≤ 300 ms (FRR),\n\
         10,000 in ≤ 1 s (BIRD) and ≤ 2 s (FRR).\n\n\
         *Apply time* sums how long the warden's applies took (its log), the routing daemon's own work included\n\
         (BIRD's reconfigure, FRR's processing of the commands); the rest of the wire time is the daemon sending.\n\n\
         | backend | N | phase | wire: last UPDATE | apply time | first event | last event | RIB poll: all | applies | reconfigures | start-up to all announced |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut burst_series = Vec::new();
    for ((s, backend), v) in &results {
        if s != "burst" {
            continue;
        }
        let mut fail_points = Vec::new();
        for row in v["result"]["rows"].as_array().into_iter().flatten() {
            let n = row["n"].as_u64().unwrap_or(0);
            for phase in ["fail", "recover"] {
                let p = &row["phases"][phase];
                let _ = writeln!(
                    md,
                    "| {backend} | {n} | {phase} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    ms(&p["wire_last_ms"]),
                    ms(&p["apply_ms"]),
                    ms(&p["first_ms"]),
                    ms(&p["all_ms"]),
                    ms(&p["rib_ms"]),
                    p["warden_applies"],
                    p["reconfigures"],
                    if phase == "fail" {
                        ms(&row["startup_to_all_announced_ms"])
                    } else {
                        String::new()
                    }
                );
                if phase == "fail"
                    && let Some(all) = p["wire_last_ms"].as_f64().or(p["all_ms"].as_f64())
                {
                    fail_points.push((n as f64, all));
                }
            }
        }
        burst_series.push(Series {
            label: format!("{backend}: all N withdrawn"),
            points: fail_points,
        });
    }
    if !burst_series.is_empty() {
        let chart = svg::line_chart(
            "Burst convergence at the router",
            "N services (log scale)",
            "milliseconds",
            &burst_series,
            true,
        );
        let _ = std::fs::write(dir.join("burst.svg"), chart);
        md.push_str("\n![burst convergence](integration/bench/results/burst.svg)\n\n");
    }

    // 3 and 4. Footprint and cost per check.
    if let Some(v) = results.get(&("footprint".to_string(), "bird2".to_string())) {
        let _ = write!(
            md,
            "## 3. Footprint, and 4. cost per check (BIRD 2)\n\n\
             The N services check every 1 s, spread by `splay = \"1s\"`, over a window of about {} s measured from\n\
             /proc. The CPU figure is the share of one core. *With checks* adds the CPU time of the processes\n\
             that exec checks start. *µs per check* is all CPU divided by the checks run. Start-up times run\n\
             from the process start to the router's first and last announcement event, and to a RIB poll that
             shows them all. Targets: 1 service ≤ 8 MB RSS;\n\
             1,000 tcp services ≤ 30 MB RSS and ≤ 5 % of one core. Reference: anycast-healthchecker idles at\n\
             about 25 MB with one service. http checks: section 5.\n\n\
             Most of the RSS of one service is the binary's code, mapped from the page cache, and how much a\n\
             page fault maps depends on how the file sits there: just written (by the build or a package\n\
             install) it is held in large folios, and the kernel maps a whole folio per fault; read back from\n\
             disk (after a reboot) it is not. One service is measured both ways (*binary pages*), fresh first;\n\
             the other rows run after the binary was dropped from the page cache.\n\n\
             | check | N | binary pages | RSS avg (MiB) | RSS max (MiB) | CPU % | CPU % with checks | µs per check | first announcement (ms) | last announcement (ms) | all in RIB (ms) |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
            v["result"]["rows"][0]["window_s"]
                .as_f64()
                .map_or("–".into(), |w| format!("{w:.0}"))
        );
        for row in v["result"]["rows"].as_array().into_iter().flatten() {
            if let Some(why) = row["skipped"].as_str() {
                let _ = writeln!(
                    md,
                    "| {} | {} | | not run: {why} | | | | | | | |",
                    row["kind"].as_str().unwrap_or(""),
                    row["n"]
                );
                continue;
            }
            let f = |k: &str| row[k].as_f64().map_or("–".into(), |x| format!("{x:.2}"));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row["kind"].as_str().unwrap_or(""),
                row["n"],
                row["binary_pages"].as_str().unwrap_or("–"),
                f("rss_avg_mib"),
                f("rss_max_mib"),
                f("cpu_pct_of_one_core"),
                f("cpu_pct_with_check_processes"),
                f("cpu_us_per_check"),
                ms(&row["startup_first_announcement_ms"]),
                ms(&row["startup_all_announced_ms"]),
                ms(&row["startup_all_in_rib_ms"])
            );
        }
        md.push('\n');
        let order = &v["result"]["symbol_order"];
        if let (Some(listed), Some(found)) = (order["listed"].as_u64(), order["in_binary"].as_u64())
        {
            let _ = writeln!(
                md,
                "The binary measured was linked with `link/symbol-order.txt` (`build.rs`): the functions the daemon\n\
                 runs come first in its code, so they share few pages. {found} of the file's {listed} functions were\n\
                 in this binary (the rest went stale as the code changed; `integration/bench/run.sh order` renews it).\n"
            );
        }
    }

    // 5. Native checks.
    if let Some(v) = results.get(&("native".to_string(), "bird2".to_string())) {
        let _ = write!(
            md,
            "## 5. Native tcp and http checks (BIRD 2)\n\n\
             The same method as section 3, with N services each checking a local listener in the host namespace\n\
             every 1 s (window about {} s): `tcp` connects to a listener that accepts and closes; `http` asks\n\
             `GET /health` with `body_contains = \"ok\"` of a keep-alive HTTP/1.1 server. *Announced at end*\n\
             counts the router's routes after the window: every check kept passing under load.\n\
             Target (issue 3): 1,000 services under 5 % of one core and under 40 MB resident.\n\n\
             | check | N | RSS avg (MiB) | RSS max (MiB) | CPU % of one core | µs per check | all in RIB (ms) | announced at end |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- |\n",
            v["result"]["rows"][0]["window_s"]
                .as_f64()
                .map_or("–".into(), |w| format!("{w:.0}"))
        );
        for row in v["result"]["rows"].as_array().into_iter().flatten() {
            let f = |k: &str| row[k].as_f64().map_or("–".into(), |x| format!("{x:.2}"));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                row["kind"].as_str().unwrap_or(""),
                row["n"],
                f("rss_avg_mib"),
                f("rss_max_mib"),
                f("cpu_pct_of_one_core"),
                f("cpu_us_per_check"),
                ms(&row["startup_all_in_rib_ms"]),
                row["announced_at_end"]
            );
        }
        md.push('\n');
    }

    // The built-in speaker: a fresh router learns N prefixes.
    for ((s, backend), v) in &results {
        if s != "fresh" {
            continue;
        }
        let r = &v["result"];
        let _ = writeln!(
            md,
            "\n## Fresh peer ({backend}): N = {} prefixes to a router that just started\n\n\
             The warden announces N prefixes; gobgpd restarts and learns them all from a new session.\n\
             Times from starting gobgpd (its own start-up is most of it): the session seen Established\n\
             (polled every 100 ms), the table's first and last UPDATE segment on the wire, and gobgpd counting\n\
             all N received (polled). Target (issue 4): under 1 s from the session to the peer having them all;\n\
             the warden's part is first to last UPDATE.\n\n\
             | run | session (ms) | first UPDATE (ms) | last UPDATE (ms) | all received (ms) |\n| --- | --- | --- | --- | --- |",
            r["n"]
        );
        for (i, run) in r["runs"].as_array().into_iter().flatten().enumerate() {
            let f = |k: &str| run[k].as_f64().map_or("–".into(), |x| format!("{x:.1}"));
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                i + 1,
                f("session_ms"),
                f("first_update_ms"),
                f("last_update_ms"),
                f("received_ms")
            );
        }
    }
    let _ = std::fs::write(out, md);
}
