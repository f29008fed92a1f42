//! Configuration loading: defaults, conf.d merging, and every error a user can cause,
//! with its place in the file and its suggestion.

use crate::common::{errors, one_error};
use std::path::Path;
use std::time::Duration;

use anycast_warden::config::{
    BirdVariant, CheckSpec, ConfigPaths, ExecCommand, LogFormat, OnDisabled, load, load_str,
};

const SERVICE: &str = r#"
[[service]]
name = "dns"
prefixes = ["203.0.113.53/32", "2001:db8::53"]
[[service.check]]
kind = "tcp"
target = "127.0.0.1:53"
"#;

#[test]
fn the_issue_example_is_valid_and_defaults_are_filled_in() {
    let text = r#"
[daemon]
state_dir = "/var/lib/anycast-warden"
splay = "0s"
log_format = "text"

[defaults]
interval = "10s"
timeout = "2s"
rise = 2
fall = 2
interface = "lo"
ip_check = true
on_disabled = "withdraw"

[bird]
variant = "bird2"
include_file = "/var/lib/anycast-warden/bird/anycast-prefixes.conf"
set_name = "ANYCAST_PREFIXES"
set_name6 = "ANYCAST6_PREFIXES"
control_socket = "/run/bird/bird.ctl"
reconfigure = ["birdc", "configure"]

[[service]]
name = "dns"
prefixes = ["203.0.113.53/32", "2001:db8::53"]
interval = "1s"
[[service.check]]
kind = "exec"
command = ["/usr/bin/dig", "+short", "@127.0.0.1", "check.local"]
[[service.check]]
kind = "tcp"
target = "127.0.0.1:53"
"#;
    let c = load_str(Path::new("x.toml"), text).expect("valid");
    assert_eq!(c.daemon.log_format, LogFormat::Text);
    assert_eq!(c.daemon.batch_window, Duration::from_millis(25));
    assert!(c.daemon.adopt_on_start);
    assert_eq!(c.daemon.max_concurrent_exec, 256);
    assert_eq!(c.routing.bird().unwrap().variant, BirdVariant::Bird2);
    assert_eq!(c.routing.bird().unwrap().dummy_prefix, None);
    assert_eq!(
        c.routing.bird().unwrap().reconfigure_timeout,
        Duration::from_secs(5)
    );
    let s = &c.services[0];
    assert_eq!(s.interval, Duration::from_secs(1));
    assert_eq!(s.timeout, Duration::from_secs(2));
    assert_eq!((s.rise, s.fall), (2, 2));
    assert_eq!(s.prefixes[1].to_string(), "2001:db8::53/128");
    assert_eq!(s.checks.len(), 2);
    assert_eq!(
        s.checks[0].spec,
        CheckSpec::Exec(anycast_warden::config::ExecSpec {
            command: ExecCommand::Argv(vec![
                "/usr/bin/dig".into(),
                "+short".into(),
                "@127.0.0.1".into(),
                "check.local".into()
            ]),
            shell: false,
            run_as: None
        })
    );
}

#[test]
fn empty_file_gives_builtin_defaults() {
    let c = load_str(Path::new("x.toml"), "").expect("valid");
    assert!(c.services.is_empty());
    assert_eq!(
        c.routing.bird().unwrap().include_file,
        Path::new("/var/lib/anycast-warden/bird/anycast-prefixes.conf")
    );
    assert_eq!(
        c.routing.bird().unwrap().reconfigure,
        vec!["birdc", "configure"]
    );
    assert_eq!(c.daemon.state_dir, Path::new("/var/lib/anycast-warden"));
}

#[test]
fn service_keys_override_defaults_which_override_builtins() {
    let text = format!(
        "[defaults]\nrise = 5\ninterface = \"dummy0\"\nip_check = false\n{SERVICE}fall = 4\n"
    );
    // `fall` above lands in the check table: keys after [[service.check]] belong to it.
    assert!(one_error(&text).contains("unknown field `fall`"));
    let text = "[defaults]\nrise = 5\nfast_interval = \"500ms\"\ninterface = \"dummy0\"\nip_check = false\n[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\nfall = 4\non_disabled = \"advertise\"\ndisabled = true\n[[service.check]]\nkind = \"tcp\"\ntarget = \"localhost:80\"\n".to_string();
    let c = load_str(Path::new("x.toml"), &text).expect("valid");
    let s = &c.services[0];
    assert_eq!((s.rise, s.fall), (5, 4));
    assert_eq!(s.fast_interval, Some(Duration::from_millis(500)));
    assert_eq!(s.interface, "dummy0");
    assert!(!s.ip_check);
    assert!(s.disabled);
    assert_eq!(s.on_disabled, OnDisabled::Advertise);
}

#[test]
fn a_service_keeps_no_spare_room_for_checks_or_prefixes() {
    // The configuration lives as long as the daemon, once per service (10,000 services:
    // three spare checks each cost 3.6 MB).
    let c = load_str(Path::new("x.toml"), SERVICE).expect("valid");
    let s = &c.services[0];
    assert_eq!((s.checks.len(), s.checks.capacity()), (1, 1));
    assert_eq!((s.prefixes.len(), s.prefixes.capacity()), (2, 2));
}

#[test]
fn unknown_key_names_line_and_allowed_keys() {
    let e = one_error("[daemon]\nstatedir = \"/x\"\n");
    assert!(
        e.starts_with("w.toml:2:1: unknown field `statedir`, expected one of `state_dir`"),
        "{e}"
    );
    assert!(e.contains("help: did you mean `state_dir`?"), "{e}");
    let e = one_error(
        "[daemon]
foo = 1
",
    );
    assert!(e.contains("help: check the spelling"), "{e}");
}

#[test]
fn toml_syntax_error_has_a_place() {
    let e = one_error("[daemon\n");
    assert!(e.starts_with("w.toml:1:"), "{e}");
}

#[test]
fn zero_rise_and_huge_fall_are_refused() {
    let text = SERVICE
        .to_string()
        .replace("name = \"dns\"", "name = \"dns\"\nrise = 0\nfall = 100000");
    let all = errors(&text);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with("w.toml:4:8: rise = 0 is out of range"),
        "{}",
        all[0]
    );
    assert!(
        all[0].contains("help: write rise = 1 or more"),
        "{}",
        all[0]
    );
    assert!(
        all[1].starts_with("w.toml:5:8: fall = 100000 is out of range"),
        "{}",
        all[1]
    );
}

#[test]
fn durations_need_units_and_must_parse() {
    let e = one_error("[defaults]\ninterval = 10\n");
    assert_eq!(
        e,
        "w.toml:2:12: interval = 10 has no unit\n  help: durations are strings with a unit: write interval = \"10s\" or \"10ms\""
    );
    let e = one_error("[defaults]\ntimeout = \"2 fortnights\"\n");
    assert!(
        e.starts_with("w.toml:2:11: timeout: cannot read duration"),
        "{e}"
    );
    let e = one_error("[defaults]\ninterval = \"0s\"\n");
    assert!(
        e.starts_with("w.toml:2:12: interval must be longer than zero"),
        "{e}"
    );
    // Zero is fine where it means "off".
    assert!(
        load_str(
            Path::new("x"),
            "[daemon]\nsplay = \"0s\"\nbatch_window = \"0ms\"\n"
        )
        .is_ok()
    );
}

#[test]
fn fast_interval_must_be_shorter_than_interval() {
    let text = SERVICE.replace(
        "name = \"dns\"",
        "name = \"dns\"\ninterval = \"1s\"\nfast_interval = \"2s\"",
    );
    let e = one_error(&text);
    assert!(
        e.starts_with("w.toml:5:17: fast_interval (2s) is longer than interval (1s)"),
        "{e}"
    );
}

#[test]
fn prefixes_are_checked() {
    let text = SERVICE.replace(
        r#"["203.0.113.53/32", "2001:db8::53"]"#,
        r#"["203.0.113.53/24", "no", "2001:db8::53", "2001:db8::53/128"]"#,
    );
    let all = errors(&text);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_eq!(
        all[0],
        "w.toml:4:13: prefix 203.0.113.53/24 has host bits set\n  help: write \"203.0.113.0/24\" for the network, or \"203.0.113.53/32\" for the one address"
    );
    assert!(
        all[1].starts_with("w.toml:4:32: \"no\" is not an IP prefix"),
        "{}",
        all[1]
    );
    assert!(
        all[2].starts_with("w.toml:4:54: prefix 2001:db8::53/128 is listed twice"),
        "{}",
        all[2]
    );
}

#[test]
fn missing_or_empty_prefixes() {
    let e = one_error(
        "[[service]]\nname = \"a\"\n[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:1\"\n",
    );
    assert!(
        e.starts_with("w.toml:1:1: service \"a\" has no prefixes"),
        "{e}"
    );
    let e = one_error(&SERVICE.replace(r#"["203.0.113.53/32", "2001:db8::53"]"#, "[]"));
    assert!(e.contains("has an empty prefixes list"), "{e}");
}

#[test]
fn service_needs_a_good_name_and_a_check() {
    let e = one_error(
        "[[service]]\nname = \"bad name!\"\nprefixes = [\"203.0.113.1\"]\n[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:1\"\n",
    );
    assert!(
        e.starts_with("w.toml:2:8: \"bad name!\" is not a valid service name"),
        "{e}"
    );
    let e = one_error("[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\n");
    assert!(
        e.starts_with("w.toml:1:1: service \"a\" has no checks"),
        "{e}"
    );
    assert!(e.contains("[[service.check]]"), "{e}");
    // A disabled service needs no check.
    assert!(
        load_str(
            Path::new("x"),
            "[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\ndisabled = true\n"
        )
        .is_ok()
    );
    let e = one_error(
        "[[service]]\nprefixes = [\"203.0.113.1\"]\n[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:1\"\n",
    );
    assert!(e.contains("service has no name"), "{e}");
}

#[test]
fn duplicate_names_and_prefixes_point_at_both_places() {
    let text = format!(
        "{SERVICE}{}",
        SERVICE.replace("2001:db8::53", "2001:db8::54")
    );
    let e = one_error(&text);
    assert!(
        e.starts_with("w.toml:9:1: duplicate service name \"dns\""),
        "{e}"
    );
    assert!(e.contains("first defined at w.toml:2"), "{e}");
    let text = format!(
        "{SERVICE}{}",
        SERVICE.replace("name = \"dns\"", "name = \"dns2\"")
    );
    let all = errors(&text);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(all[0].contains("prefix 203.0.113.53/32 of service \"dns2\" is also a prefix of service \"dns\" (w.toml:2)"), "{}", all[0]);
}

#[test]
fn check_kind_rules() {
    let check = |body: &str| {
        format!(
            "[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\n[[service.check]]\n{body}"
        )
    };
    let e = one_error(&check("target = \"127.0.0.1:1\"\n"));
    assert!(e.starts_with("w.toml:4:1: check has no kind"), "{e}");
    let e = one_error(&check("kind = \"htp\"\n"));
    assert!(
        e.starts_with(
            "w.toml:5:8: unknown check kind \"htp\"\n  help: write one of \"exec\", \"tcp\", "
        ),
        "{e}"
    );
    let e = one_error(&check("kind = \"exec\"\n"));
    assert!(e.contains("exec check has no command"), "{e}");
    let e = one_error(&check("kind = \"exec\"\ncommand = []\n"));
    assert!(e.starts_with("w.toml:6:11: command is empty"), "{e}");
    let e = one_error(&check("kind = \"exec\"\ncommand = \"pgrep -x unbound\"\n"));
    assert!(
        e.contains("command = [\"pgrep\", \"-x\", \"unbound\"], or set shell = true"),
        "{e}"
    );
    let e = one_error(&check(
        "kind = \"exec\"\nshell = true\ncommand = [\"pgrep\", \"x\"]\n",
    ));
    assert!(e.contains("write command = \"pgrep x\""), "{e}");
    let e = one_error(&check(
        "kind = \"exec\"\ncommand = [\"/bin/true\"]\ntarget = \"127.0.0.1:1\"\n",
    ));
    assert!(
        e.starts_with("w.toml:7:10: `target` does not apply to kind = \"exec\""),
        "{e}"
    );
    let e = one_error(&check("kind = \"tcp\"\n"));
    assert!(e.contains("tcp check has no target"), "{e}");
    for bad in ["127.0.0.1", "127.0.0.1:0", ":53", "host:port", "a b:53"] {
        let e = one_error(&check(&format!("kind = \"tcp\"\ntarget = \"{bad}\"\n")));
        assert!(e.contains("is not a host:port target"), "{bad}: {e}");
    }
    for good in ["127.0.0.1:53", "[2001:db8::1]:53", "localhost:8080"] {
        assert!(
            load_str(
                Path::new("x"),
                &check(&format!("kind = \"tcp\"\ntarget = \"{good}\"\n"))
            )
            .is_ok(),
            "{good}"
        );
    }
    let c = load_str(
        Path::new("x"),
        &check("kind = \"exec\"\nshell = true\ncommand = \"pgrep -x unbound\"\n"),
    )
    .expect("valid");
    assert_eq!(
        c.services[0].checks[0].spec,
        CheckSpec::Exec(anycast_warden::config::ExecSpec {
            command: ExecCommand::Shell("pgrep -x unbound".into()),
            shell: true,
            run_as: None
        })
    );
}

#[test]
fn bird_settings_rules() {
    let e = one_error("[bird]\nvariant = \"bird3\"\n");
    assert!(
        e.starts_with("w.toml:2:11: unknown BIRD variant \"bird3\""),
        "{e}"
    );
    let e = one_error("[bird]\ninclude_file6 = \"/x\"\n");
    assert!(
        e.starts_with("w.toml:2:17: include_file6 is only for variant = \"bird1\""),
        "{e}"
    );
    let e = one_error("[bird]\nset_name = \"1bad\"\n");
    assert!(e.contains("is not a BIRD symbol name"), "{e}");
    let e = one_error("[bird]\nset_name = \"X\"\nset_name6 = \"X\"\n");
    assert!(e.contains("need different names"), "{e}");
    let e = one_error("[bird]\nreconfigure = []\n");
    assert!(e.contains("reconfigure is empty"), "{e}");
    let e = one_error("[bird]\nkeep_changes = -1\n");
    assert!(e.contains("keep_changes = -1 is out of range"), "{e}");
    let e = one_error("[bird]\ndummy_prefix = \"2001:db8::1\"\n");
    assert!(e.contains("dummy_prefix must be an IPv4 prefix"), "{e}");
    let e = one_error("[bird]\ndummy_prefix6 = \"192.0.2.1\"\n");
    assert!(e.contains("dummy_prefix6 must be an IPv6 prefix"), "{e}");
    let e =
        one_error("[bird]\nvariant = \"bird1\"\ninclude_file = \"/a\"\ninclude_file6 = \"/a\"\n");
    assert!(
        e.contains("include_file and include_file6 are the same file"),
        "{e}"
    );
    let e = one_error(&format!(
        "[bird]\ndummy_prefix = \"203.0.113.53/32\"\n{SERVICE}"
    ));
    assert!(
        e.contains("dummy prefix 203.0.113.53/32 is also a prefix of service \"dns\""),
        "{e}"
    );
}

#[test]
fn bird1_gets_dummy_prefixes_and_v6_commands() {
    let c = load_str(Path::new("x"), "[bird]\nvariant = \"bird1\"\n").expect("valid");
    assert_eq!(c.routing.bird().unwrap().variant, BirdVariant::Bird1);
    assert_eq!(
        c.routing
            .bird()
            .unwrap()
            .dummy_prefix
            .map(|p| p.to_string())
            .as_deref(),
        Some("192.0.2.255/32")
    );
    assert!(c.routing.bird().unwrap().dummy_prefix6.is_some());
    assert_eq!(
        c.routing.bird().unwrap().reconfigure6,
        Some(vec!["birdc6".to_string(), "configure".to_string()])
    );
    assert!(c.routing.bird().unwrap().include_file6.is_some());
}

#[test]
fn daemon_settings_rules() {
    let e = one_error("[daemon]\nlog_format = \"xml\"\n");
    assert!(
        e.contains("write log_format = \"text\" or log_format = \"json\""),
        "{e}"
    );
    let c = load_str(
        Path::new("x"),
        "[daemon]\nlog_format = \"json\"\nadopt_on_start = false\nsplay = \"3s\"\n",
    )
    .expect("valid");
    assert_eq!(c.daemon.log_format, LogFormat::Json);
    assert!(!c.daemon.adopt_on_start);
    assert_eq!(c.daemon.splay, Duration::from_secs(3));
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "[defaults]\nrise = 0\n[bird]\nvariant = \"x\"\n[daemon]\nlog_format = \"y\"\n";
    assert_eq!(errors(text).len(), 3);
}

#[test]
fn print_config_output_loads_back_to_the_same_configuration() {
    let text = format!(
        "[daemon]\nsplay = \"1s 500ms\"\n[bird]\nvariant = \"bird1\"\nkeep_changes = 3\n{SERVICE}\n[[service]]\nname = \"ntp\"\nprefixes = [\"198.51.100.123\"]\nfast_interval = \"250ms\"\n[[service.check]]\nkind = \"exec\"\nshell = true\ncommand = \"ntpq -p\"\n"
    );
    let c = load_str(Path::new("x"), &text).expect("valid");
    let printed = toml::to_string_pretty(&c).expect("serialises");
    let again = load_str(Path::new("printed"), &printed).expect("printed config is valid");
    assert_eq!(c.services.len(), again.services.len());
    for (a, b) in c.services.iter().zip(&again.services) {
        assert!(a.same_settings(b), "{a:?}\n{b:?}");
    }
    assert_eq!(c.daemon, again.daemon);
    assert_eq!(c.routing.bird(), again.routing.bird());
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

#[test]
fn conf_d_services_join_the_main_file_with_its_defaults() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("config.toml");
    let confd = dir.path().join("conf.d");
    std::fs::create_dir(&confd).expect("mkdir");
    write(&main, &format!("[defaults]\nrise = 7\n{SERVICE}"));
    write(
        &confd.join("b.toml"),
        &SERVICE
            .replace("dns", "b")
            .replace("203.0.113.53/32", "203.0.113.2")
            .replace("2001:db8::53", "2001:db8::2"),
    );
    write(
        &confd.join("a.toml"),
        &SERVICE
            .replace("dns", "a")
            .replace("203.0.113.53/32", "203.0.113.1")
            .replace("2001:db8::53", "2001:db8::1"),
    );
    write(&confd.join("ignored.conf"), "not toml");
    let paths = ConfigPaths {
        file: main.clone(),
        dir: confd.clone(),
        dir_required: true,
    };
    let c = load(&paths).expect("valid");
    let names: Vec<&str> = c.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dns", "a", "b"]);
    assert!(c.services.iter().all(|s| s.rise == 7));

    // A section that belongs in the main file, and a duplicate across files.
    write(&confd.join("c.toml"), "[bird]\nvariant = \"bird2\"\n");
    write(&confd.join("d.toml"), SERVICE);
    let all = load(&paths).expect_err("invalid").0;
    let text: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 2, "{text:#?}");
    assert!(
        text[0].contains("c.toml:1:2: unknown field `bird`"),
        "{}",
        text[0]
    );
    assert!(text[0].contains("go in the main file"), "{}", text[0]);
    assert!(
        text[1].contains("d.toml:2:1: duplicate service name \"dns\""),
        "{}",
        text[1]
    );
    assert!(text[1].contains("config.toml:4"), "{}", text[1]);
}

#[test]
fn missing_files_and_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("config.toml");
    let paths = ConfigPaths {
        file: main.clone(),
        dir: dir.path().join("conf.d"),
        dir_required: false,
    };
    let e = load(&paths).expect_err("missing main file").to_string();
    assert!(e.contains("config.toml: cannot read"), "{e}");
    assert!(e.contains("--config FILE"), "{e}");
    write(&main, SERVICE);
    assert!(load(&paths).is_ok(), "the default directory may be missing");
    let required = ConfigPaths {
        dir_required: true,
        ..paths
    };
    let e = load(&required)
        .expect_err("named directory missing")
        .to_string();
    assert!(e.contains("cannot read service directory"), "{e}");
}

#[test]
fn main_file_inside_the_service_directory_is_not_read_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = dir.path().join("config.toml");
    write(&main, SERVICE);
    let paths = ConfigPaths {
        file: main,
        dir: dir.path().to_path_buf(),
        dir_required: true,
    };
    assert_eq!(load(&paths).expect("valid").services.len(), 1);
}

#[test]
fn shipped_example_configuration_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/config");
    let paths = ConfigPaths {
        file: root.join("config.toml"),
        dir: root.join("conf.d"),
        dir_required: true,
    };
    let c = load(&paths).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.services.len(), 3);
}

#[test]
fn max_concurrent_exec_is_a_positive_count() {
    for bad in ["0", "-3", "100000"] {
        let e = one_error(&format!("[daemon]\nmax_concurrent_exec = {bad}\n"));
        assert!(
            e.contains(&format!(
                "2:23: max_concurrent_exec = {bad} is out of range"
            )),
            "{e}"
        );
        assert!(e.contains("max_concurrent_exec = 256"), "{e}");
    }
    let c = load_str(Path::new("x"), "[daemon]\nmax_concurrent_exec = 8\n").unwrap();
    assert_eq!(c.daemon.max_concurrent_exec, 8);
}
