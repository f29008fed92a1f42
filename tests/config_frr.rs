//! Configuration of the FRR backend: `[frr]`, per-prefix VRFs, choosing the backend, and
//! every error a user can cause there, with its place and suggestion.

use crate::common::one_error;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anycast_warden::config::{FrrMode, FrrTransport, load_str};

const CHECK: &str = "[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:123\"\n";

#[test]
fn the_issue_example_is_valid() {
    let text = format!(
        r#"
[frr]
vtysh = "/usr/bin/vtysh"
mode = "network"
asn = 65001
tag = 4711

[[service]]
name = "ntp"
prefixes = [{{ prefix = "203.0.113.123/32", vrf = "123" }}, "2001:db8::123"]
{CHECK}"#
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let frr = c.routing.frr().cloned().expect("[frr] chooses FRR");
    assert_eq!(frr.mode, FrrMode::Network);
    assert_eq!(frr.asn, Some(65001));
    assert_eq!(frr.tag, 4711);
    assert_eq!(frr.vtysh, PathBuf::from("/usr/bin/vtysh"));
    assert_eq!(frr.transport, FrrTransport::Vty);
    assert_eq!(frr.vty_dir(), PathBuf::from("/var/run/frr"));
    assert_eq!(frr.timeout, Duration::from_secs(5));
    assert_eq!(frr.verify_interval, Duration::from_secs(10));
    let p = &c.services[0].prefixes;
    assert_eq!(p[0].to_string(), "203.0.113.123/32 vrf 123");
    assert_eq!(p[1].to_string(), "2001:db8::123/128");
    assert_eq!(p[1].vrf, None);
}

#[test]
fn defaults_and_vty_socket_or_pathspace() {
    let c = load_str(
        Path::new("x"),
        &format!("[frr]\nvty_socket = \"/run/frr-lab\"\nmode = \"static\"\nverify_interval = \"0s\"\n[[service]]\nname = \"a\"\nprefixes = [{{ prefix = \"198.51.100.1\", vrf = \"default\" }}]\n{CHECK}"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let frr = c.routing.frr().cloned().unwrap();
    assert_eq!(frr.mode, FrrMode::Static);
    assert_eq!(frr.asn, None);
    assert_eq!(frr.tag, 4711);
    assert_eq!(frr.verify_interval, Duration::ZERO);
    assert_eq!(
        frr.vtysh_target_args(),
        vec!["--vty_socket", "/run/frr-lab"]
    );
    assert_eq!(frr.vty_dir(), PathBuf::from("/run/frr-lab"));
    // vrf = "default" is the default VRF.
    assert_eq!(c.services[0].prefixes[0].vrf, None);

    let c = load_str(
        Path::new("x"),
        "[frr]\npathspace = \"blue-host\"\ntransport = \"vtysh\"\n",
    )
    .unwrap();
    let frr = c.routing.frr().cloned().unwrap();
    assert_eq!(frr.vtysh_target_args(), vec!["-N", "blue-host"]);
    assert_eq!(frr.transport, FrrTransport::Vtysh);
    // Where vtysh -N looks for the sockets.
    assert_eq!(frr.vty_dir(), PathBuf::from("/var/run/frr/blue-host"));
}

#[test]
fn no_backend_table_means_bird_and_both_are_refused() {
    let c = load_str(Path::new("x"), "").unwrap();
    assert!(c.routing.frr().is_none());
    let e = one_error("[bird]\nvariant = \"bird2\"\n[frr]\nmode = \"static\"\n");
    assert!(
        e.starts_with("w.toml:3:1: the file has both [bird] and [frr]"),
        "{e}"
    );
    assert!(e.contains("help: one routing daemon"), "{e}");
}

#[test]
fn frr_settings_are_checked() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "mode = \"bgp\"",
            "2:8: unknown FRR mode \"bgp\"",
            "mode = \"static\"",
        ),
        ("asn = 0", "2:7: asn = 0 is not an AS number", "asn = 65001"),
        ("asn = 4294967296", "is not an AS number", "1 to 4294967295"),
        ("tag = -1", "2:7: tag = -1 is out of range", "tag = 4711"),
        (
            "pathspace = \"../x\"",
            "is not an FRR path space name",
            "-N NAME",
        ),
        (
            "pathspace = \"-c\"",
            "is not an FRR path space name",
            "-N NAME",
        ),
        ("vtysh = \"\"", "vtysh is empty", "/usr/bin/vtysh"),
        (
            "transport = \"telnet\"",
            "2:13: unknown FRR transport \"telnet\"",
            "transport = \"vty\"",
        ),
        ("timeout = \"0s\"", "timeout must be longer than zero", "1s"),
        (
            "verify_interval = 10",
            "verify_interval = 10 has no unit",
            "\"10s\"",
        ),
        ("colour = 1", "unknown field `colour`", "vty_socket"),
    ];
    for (line, message, hint) in cases {
        let e = one_error(&format!("[frr]\n{line}\n"));
        assert!(e.contains(message), "{line}: {e}");
        assert!(e.contains(hint), "{line}: {e}");
    }
    let e = one_error("[frr]\nvty_socket = \"/run/x\"\npathspace = \"x\"\n");
    assert!(
        e.contains("3:13: pathspace and vty_socket are both set"),
        "{e}"
    );
}

#[test]
fn vrf_prefixes_are_checked() {
    let service = |prefixes: &str| {
        format!("[frr]\n[[service]]\nname = \"a\"\nprefixes = [{prefixes}]\n{CHECK}")
    };
    let cases: &[(&str, &str)] = &[
        (
            "{ prefix = \"203.0.113.1\", vrf = \"bad name\" }",
            "\"bad name\" is not a VRF name",
        ),
        (
            "{ prefix = \"203.0.113.1\", vrf = \"a-very-long-vrf-name\" }",
            "is not a VRF name",
        ),
        (
            "{ prefix = \"203.0.113.1\", vrf = \"x;reload\" }",
            "is not a VRF name",
        ),
        ("{ vrf = \"blue\" }", "prefix table has no `prefix`"),
        (
            "{ prefix = \"203.0.113.1\", vfr = \"blue\" }",
            "unknown key `vfr` in a prefix table",
        ),
        ("{ prefix = 1 }", "`prefix` must be a string"),
        (
            "{ prefix = \"203.0.113.1\", vrf = 5 }",
            "`vrf` must be a string",
        ),
        (
            "{ prefix = \"203.0.113.1/24\", vrf = \"blue\" }",
            "prefix 203.0.113.1/24 has host bits set",
        ),
        (
            "{ prefix = \"203.0.113.1\", vrf = \"blue\" }, \"203.0.113.1\"",
            "prefix 203.0.113.1/32 is listed twice",
        ),
    ];
    for (prefixes, message) in cases {
        let e = one_error(&service(prefixes));
        assert!(e.starts_with("w.toml:4:"), "{prefixes}: {e}");
        assert!(e.contains(message), "{prefixes}: {e}");
    }
}

#[test]
fn a_vrf_prefix_with_bird_is_an_error_and_plain_prefixes_still_work() {
    let e = one_error(&format!(
        "[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.2\", {{ prefix = \"203.0.113.1\", vrf = \"blue\" }}]\n{CHECK}"
    ));
    assert!(
        e.starts_with("w.toml:3:28: prefix in VRF \"blue\", but BIRD's include file has no VRFs"),
        "{e}"
    );
    assert!(e.contains("help: VRFs need the FRR backend"), "{e}");
    // A table without a VRF is fine with BIRD too.
    let c = load_str(
        Path::new("x"),
        &format!("[[service]]\nname = \"a\"\nprefixes = [{{ prefix = \"203.0.113.1\" }}]\n{CHECK}"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(c.routing.frr().is_none());
    assert_eq!(
        c.services[0].nets(),
        vec!["203.0.113.1/32".parse().unwrap()]
    );
}

#[test]
fn one_prefix_cannot_be_in_two_vrfs_of_two_services() {
    let text = format!(
        "[frr]\n[[service]]\nname = \"a\"\nprefixes = [{{ prefix = \"203.0.113.1\", vrf = \"blue\" }}]\n{CHECK}[[service]]\nname = \"b\"\nprefixes = [{{ prefix = \"203.0.113.1\", vrf = \"red\" }}]\n{CHECK}"
    );
    let e = one_error(&text);
    assert!(
        e.contains("prefix 203.0.113.1/32 of service \"b\" is also a prefix of service \"a\""),
        "{e}"
    );
}

#[test]
fn print_config_shows_only_frr_and_loads_back() {
    let text = format!(
        "[frr]\nvty_socket = \"/run/x\"\nmode = \"static\"\nasn = 65001\n[[service]]\nname = \"ntp\"\nprefixes = [{{ prefix = \"203.0.113.123/32\", vrf = \"blue\" }}, \"2001:db8::123\"]\n{CHECK}"
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let printed = toml::to_string_pretty(&c).expect("serialises");
    assert!(!printed.contains("[bird]"), "{printed}");
    assert!(printed.contains("[frr]"), "{printed}");
    let again =
        load_str(Path::new("printed"), &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert_eq!(c.routing.frr(), again.routing.frr());
    assert!(c.services[0].same_settings(&again.services[0]));
}
