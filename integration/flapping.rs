//! A flapping service end to end against real BIRD 2 and a GoBGP router: thirty flaps, one
//! service without dampening (every change of health is a transition, and the router
//! ends with it announced), one with dampening (suppressed at its third change, withdrawn
//! at the router while its checks pass, `status` says so, and back after the penalty
//! decays).

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::lab::bird::BirdVariant;
use crate::lab::needs::Need;
use crate::lab::warden_config::{Check, Dampening, Defaults, Service, WardenConfig, ms, secs};
use crate::lab::{Lab, WARDEN_BIN, nets};

const FLAPS: usize = 30;
/// Each half of a flap lasts this long: several 100 ms rounds, so every change is seen.
const PHASE: Duration = Duration::from_millis(500);

fn cli_json(lab: &Lab) -> serde_json::Value {
    let out = lab
        .warden_cli()
        .args(["status", "--json"])
        .output()
        .expect("run the CLI");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "status --json: {e}: {}",
            crate::lab::process::output_text(&out)
        )
    })
}

fn service(lab: &Lab, name: &str, prefix: &str) -> Service {
    Service::new(name)
        .prefixes(&[prefix])
        .check(Check::exists(&lab.path("up")))
}

#[test]
fn thirty_flaps_follow_rise_and_fall_and_dampening_holds_the_flapper_down() {
    let Some(lab) = Lab::new_or_skip("flapping", &[Need::Bird2, Need::Gobgp]) else {
        return;
    };
    let plain = "203.0.113.21/32";
    let damped = "203.0.113.22/32";
    lab.add_lo_addresses(&nets(&[plain, damped]).into_iter().collect::<Vec<_>>())
        .unwrap_or_else(|e| panic!("{e}"));
    let (router, bird) = lab.start_router_and_bird(BirdVariant::Bird2);
    let flag = lab.path("up");
    fs::write(&flag, "").unwrap();
    // half_life 4 s, max_suppress 16 s: ceiling 750 × 2⁴ = 12000.
    let text = WardenConfig::new(&lab)
        .batch_window(ms(20))
        .defaults(
            Defaults::new()
                .timing(ms(100), secs(1), 1, 1)
                .ip_check(false),
        )
        .bird(bird.warden_section(true))
        .service(service(&lab, "plain", plain))
        .service(service(&lab, "damped", damped).dampening(Dampening {
            half_life: secs(4),
            suppress: 2000,
            reuse: 750,
            max_suppress: secs(16),
        }))
        .to_toml();
    let warden = lab.start_warden(&text);
    router
        .wait_for_rib(&nets(&[plain, damped]), Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let monitor = router.monitor();

    for _ in 0..FLAPS {
        let _ = fs::remove_file(&flag);
        std::thread::sleep(PHASE);
        fs::write(&flag, "").unwrap();
        std::thread::sleep(PHASE);
    }
    let last_flap = Instant::now();

    // Health followed every change: up at start, then a fall and a rise per flap.
    let status = cli_json(&lab);
    for name in ["plain", "damped"] {
        assert_eq!(
            status["services"][name]["transitions"].as_u64(),
            Some(1 + 2 * FLAPS as u64),
            "{name}: {}",
            status["services"][name]
        );
    }
    let d = &status["services"]["damped"]["dampening"];
    assert_eq!(d["suppressed"], serde_json::Value::Bool(true), "{d}");
    assert!(d["penalty"].as_f64().unwrap_or(0.0) > 2000.0, "{d}");
    assert!(d["reuse_at"].as_f64().is_some(), "{d}");
    assert_eq!(status["services"]["damped"]["state"], "up");
    assert!(status["services"]["plain"]["dampening"].is_null());

    // The router: the plain service is announced, the dampened one is not, though healthy.
    router
        .wait_for_rib(&nets(&[plain]), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    let plain_net = plain.parse().unwrap();
    let damped_net = damped.parse().unwrap();
    let announced = |net| {
        monitor
            .events_for(&net)
            .iter()
            .filter(|e| !e.withdrawal)
            .count()
    };
    // Each rise of the plain service reached the router (the batch window may merge a
    // withdrawal and announcement only if they fall within 20 ms: never at 500 ms phases).
    assert!(
        announced(plain_net) >= FLAPS * 3 / 4,
        "plain: {} announcements for {FLAPS} rises",
        announced(plain_net)
    );
    // The dampened one was announced once more (its first rise), then suppressed.
    assert!(
        announced(damped_net) <= 1,
        "damped: {:?}",
        monitor.events_for(&damped_net)
    );
    let rendered = Command::new(WARDEN_BIN)
        .arg("--config")
        .arg(lab.path("warden.toml"))
        .args(["status"])
        .output()
        .expect("status");
    let table = String::from_utf8_lossy(&rendered.stdout);
    assert!(table.contains("SUPPRESSED (flapping"), "{table}");

    // Reused at most max_suppress after the last change; the router gets it back.
    router
        .wait_for_rib(&nets(&[plain, damped]), Duration::from_secs(16 + 10))
        .unwrap_or_else(|e| panic!("{e}"));
    let back = last_flap.elapsed();
    eprintln!(
        "flapping: the dampened service was back at the router {back:?} after its last change"
    );
    assert!(back >= Duration::from_secs(4), "reused too soon: {back:?}");
    warden
        .wait_for_log("is no longer suppressed", 1, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(warden.log_count("is flapping: suppressed"), 1);
    assert!(warden.is_running());
}
