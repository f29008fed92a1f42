//! The operating sections of the configuration: `[control]`, `[metrics]`, `[api]` and the
//! log keys of `[daemon]`: defaults, errors with their place and fix, print-config.

use crate::common::one_error;
use std::path::Path;
use std::time::Duration;

use anycast_warden::config::load_str;

#[test]
fn defaults_put_the_socket_in_the_state_dir_and_leave_exports_off() {
    let c = load_str(Path::new("x"), "[daemon]\nstate_dir = \"/srv/aw\"\n").unwrap();
    assert_eq!(c.control.socket, Path::new("/srv/aw/control.sock"));
    assert_eq!(c.control.group, None);
    assert_eq!(c.metrics.listen, None);
    assert_eq!(c.metrics.textfile, None);
    assert_eq!(c.metrics.textfile_interval, Duration::from_secs(10));
    assert_eq!(c.api.listen, None);
    assert_eq!(c.daemon.log_file, None);
    assert_eq!(c.daemon.log_max_bytes, 104_857_600);
    assert_eq!(c.daemon.log_backups, 8);
    assert_eq!(c.daemon.log_server, None);
}

#[test]
fn bad_values_name_their_place_and_the_fix() {
    let e = one_error("[metrics]\nlisten = \"localhost\"\n");
    assert!(
        e.starts_with("w.toml:2:10: listen = \"localhost\" is not an address and port"),
        "{e}"
    );
    assert!(e.contains("127.0.0.1:9311"), "{e}");
    let e = one_error("[metrics]\ntextfile_interval = \"0s\"\n");
    assert!(
        e.contains("textfile_interval must be longer than zero"),
        "{e}"
    );
    let e = one_error("[daemon]\nlog_max_bytes = 0\n");
    assert!(e.contains("log_max_bytes = 0 must be above zero"), "{e}");
    let e = one_error("[daemon]\nlog_backups = -1\n");
    assert!(e.contains("log_backups = -1 is out of range"), "{e}");
    let e = one_error("[daemon]\nlog_server = \"syslog.example.net\"\n");
    assert!(e.contains("is not host:port"), "{e}");
    let e = one_error("[control]\ngroup = \"\"\n");
    assert!(e.contains("group is empty"), "{e}");
    let e = one_error("[control]\nmode = \"0666\"\n");
    assert!(e.contains("unknown field `mode`"), "{e}");
    let e = one_error("[api]\nlisten = \"[2001:db8::1]:9312\"\n");
    assert!(e.contains("(not loopback) needs a token"), "{e}");
    assert!(e.contains("token_file"), "{e}");
}

#[test]
fn print_config_keeps_the_operating_sections() {
    // The token file is opened at load, so it must exist.
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "0123456789abcdef0123").expect("token");
    let text = "[daemon]\nlog_file = \"/var/log/aw.log\"\nlog_max_bytes = 1000\nlog_backups = 2\nlog_server = \"192.0.2.10:514\"\n\
        [control]\nsocket = \"/run/aw.sock\"\ngroup = \"adm\"\n\
        [metrics]\nlisten = \"127.0.0.1:9311\"\ntextfile = \"/var/lib/node_exporter/aw.prom\"\ntextfile_interval = \"30s\"\n\
        [api]\nlisten = \"192.0.2.1:9312\"\ntoken_file = \"TOKEN\"\n"
        .replace("TOKEN", &token.display().to_string());
    let c = load_str(Path::new("x"), &text).expect("valid");
    let printed = toml::to_string_pretty(&c).expect("serialises");
    let again =
        load_str(Path::new("printed"), &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert_eq!(c, again, "{printed}");
    assert_eq!(again.control.group.as_deref(), Some("adm"));
    assert_eq!(again.daemon.log_backups, 2);
}
