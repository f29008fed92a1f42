//! `dampening` in a service and in `[defaults]`: defaults, inheritance, and every mistake
//! with its place and the fix.

use crate::common::one_error;
use std::path::Path;
use std::time::Duration;

use anycast_warden::config::dampening::DEFAULT_DAMPENING;
use anycast_warden::config::{DampeningConfig, load_str};

fn service(extra: &str) -> String {
    format!(
        "[[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53/32\"]\n{extra}\n[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:53\"\n"
    )
}

fn dampening_of(text: &str) -> Option<DampeningConfig> {
    load_str(Path::new("w.toml"), text).expect("valid").services[0].dampening
}

#[test]
fn off_unless_written_and_rfc_values_by_default() {
    assert_eq!(dampening_of(&service("")), None);
    assert_eq!(
        dampening_of(&service("dampening = {}")),
        Some(DEFAULT_DAMPENING)
    );
    assert_eq!(
        DEFAULT_DAMPENING,
        DampeningConfig {
            half_life: Duration::from_secs(900),
            suppress: 2000,
            reuse: 750,
            max_suppress: Duration::from_secs(3600),
        }
    );
}

#[test]
fn a_service_overrides_defaults_key_by_key_and_can_turn_it_off() {
    let defaults = "[defaults]\ndampening = { half_life = \"1m\", suppress = 3000 }\n";
    let d = dampening_of(&format!("{defaults}{}", service(""))).expect("inherited");
    assert_eq!(d.half_life, Duration::from_secs(60));
    assert_eq!(d.suppress, 3000);
    assert_eq!(d.reuse, 750);
    let d = dampening_of(&format!(
        "{defaults}{}",
        service("dampening = { reuse = 1000, max_suppress = \"4m\" }")
    ))
    .expect("merged");
    assert_eq!(
        d,
        DampeningConfig {
            half_life: Duration::from_secs(60),
            suppress: 3000,
            reuse: 1000,
            max_suppress: Duration::from_secs(240),
        }
    );
    assert_eq!(
        dampening_of(&format!(
            "{defaults}{}",
            service("dampening = { enabled = false }")
        )),
        None
    );
    // The table form.
    let d = dampening_of(&service(
        "[service.dampening]\nhalf_life = \"30s\"\nsuppress = 2500\nreuse = 800\nmax_suppress = \"2m\"\n",
    ))
    .expect("table");
    assert_eq!(d.half_life, Duration::from_secs(30));
}

#[test]
fn print_config_loads_back() {
    let c = load_str(
        Path::new("w.toml"),
        &service("dampening = { half_life = \"1m\", max_suppress = \"4m\" }"),
    )
    .unwrap();
    let text = toml::to_string(&c).unwrap();
    assert!(text.contains("[service.dampening]"), "{text}");
    let again = load_str(Path::new("again.toml"), &text).expect("loads back");
    assert_eq!(again.services[0].dampening, c.services[0].dampening);
}

#[test]
fn mistakes_name_their_place_and_the_fix() {
    // line 4 of the service snippet holds the dampening table.
    let cases: &[(&str, &str, &str)] = &[
        (
            "dampening = { half_life = \"0s\" }",
            "w.toml:4:27: half_life must be longer than zero",
            "half_life = \"1s\"",
        ),
        (
            "dampening = { half_life = 60 }",
            "w.toml:4:27: half_life = 60 has no unit",
            "\"60s\"",
        ),
        (
            "dampening = { max_suppress = \"soon\" }",
            "w.toml:4:30: max_suppress: cannot read duration",
            "\"2m\"",
        ),
        (
            "dampening = { suppress = 0 }",
            "w.toml:4:26: suppress = 0 is out of range",
            "each change of health adds 1000",
        ),
        (
            "dampening = { reuse = -5 }",
            "w.toml:4:23: reuse = -5 is out of range",
            "from 1 to 1000000",
        ),
        (
            "dampening = { suppress = 2000, reuse = 2000 }",
            "w.toml:4:40: reuse (2000) is not below suppress (2000)",
            "make reuse lower than suppress",
        ),
        (
            "dampening = { suppress = 500 }",
            "w.toml:4:26: reuse (750) is not below suppress (500)",
            "make reuse lower than suppress",
        ),
        (
            "dampening = { half_life = \"1m\", max_suppress = \"1m\", suppress = 5000 }",
            "w.toml:4:48: this dampening can never suppress: the penalty is capped at 1500",
            "raise max_suppress",
        ),
        (
            "dampening = { half_life = \"1s\", max_suppress = \"1h\" }",
            "w.toml:4:48: max_suppress (1h) is more than 64 half-lives (1s)",
            "a few half-lives",
        ),
        (
            "dampening = { halflife = \"1m\" }",
            "w.toml:4:15: unknown field `halflife`",
            "half_life",
        ),
        (
            "dampening = { enabled = \"no\" }",
            "w.toml:4:25: invalid type",
            "",
        ),
    ];
    for (line, start, hint) in cases {
        let e = one_error(&service(line));
        assert!(e.starts_with(start), "{line}:\n{e}");
        assert!(e.contains(hint), "{line}:\n{e}");
    }
}

#[test]
fn a_mistake_in_defaults_points_into_defaults() {
    let e = one_error(&format!(
        "[defaults]\ndampening = {{ reuse = 0 }}\n{}",
        service("")
    ));
    assert!(
        e.starts_with("w.toml:2:23: reuse = 0 is out of range"),
        "{e}"
    );
}
