//! Configuration of DNS failover: `[dns]`, `[dns.agreement]`, services' `records`, and
//! every error a user can cause there, with its place and suggestion.

use crate::common::{errors, one_error};
use std::path::Path;
use std::time::Duration;

use anycast_warden::config::{DnsProtocol, load_str};
use anycast_warden::dns::tsig::Algorithm;

const CHECK: &str = "[[service.check]]\nkind = \"icmp\"\nhost = \"198.51.100.10\"\n";

fn key_file(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), text).unwrap();
    f
}

fn dns(key: &Path, extra: &str) -> String {
    format!(
        "[dns]\nserver = \"192.0.2.53:53\"\nzone = \"example.net.\"\ntsig_key_name = \"warden\"\ntsig_secret_file = \"{}\"\n{extra}\n",
        key.display()
    )
}

const RECORD: &str = "[[service]]\nname = \"edge-fra\"\nrecords = [{ name = \"www.example.net.\", type = \"A\", value = \"198.51.100.10\" }]\nrise = 2\nfall = 3\n";

#[test]
fn the_issue_example_is_valid_with_safe_defaults() {
    let key = key_file("c2VjcmV0\n");
    let text = format!("{}{RECORD}{CHECK}", dns(key.path(), "ttl = \"30s\""));
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let d = c.dns.as_ref().expect("[dns]");
    assert_eq!(d.server.to_string(), "192.0.2.53:53");
    assert_eq!(d.zone.as_str(), "example.net.");
    assert_eq!(d.key.name.as_str(), "warden.");
    assert_eq!(d.key.algorithm, Algorithm::HmacSha256);
    assert_eq!(d.key.secret, b"secret");
    assert_eq!(d.ttl, Duration::from_secs(30));
    assert!(d.dry_run, "dry_run is the default");
    assert_eq!(d.min_records, 1);
    assert_eq!(d.protocol, DnsProtocol::Udp);
    assert!(d.agreement.is_none());
    assert!(
        !c.routing.announces(),
        "a DNS-only file drives no routing daemon"
    );
    let r = &c.services[0].records;
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].to_string(), "www.example.net. A 198.51.100.10");
    assert!(c.services[0].prefixes.is_empty());
    // print-config writes what loads back.
    let printed = toml::to_string(&c).unwrap();
    assert!(printed.contains("[dns]"), "{printed}");
    assert!(!printed.contains("[bird]"), "{printed}");
    assert!(
        !printed.contains("c2VjcmV0"),
        "the secret is never printed: {printed}"
    );
    let again = load_str(Path::new("x"), &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    assert!(again.services[0].same_settings(&c.services[0]));
    assert_eq!(again.dns, c.dns);
}

#[test]
fn bind_key_files_give_name_and_algorithm() {
    let key = key_file("key \"warden\" {\n\talgorithm hmac-sha512;\n\tsecret \"c2VjcmV0\";\n};\n");
    let text = format!(
        "[dns]\nserver = \"192.0.2.53\"\nzone = \"example.net.\"\ntsig_secret_file = \"{}\"\nprotocol = \"tcp\"\ndry_run = false\nmin_records = 0\n{RECORD}{CHECK}",
        key.path().display()
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let d = c.dns.unwrap();
    assert_eq!(d.server.to_string(), "192.0.2.53:53");
    assert_eq!(d.key.name.as_str(), "warden.");
    assert_eq!(d.key.algorithm, Algorithm::HmacSha512);
    assert_eq!(
        (d.protocol, d.dry_run, d.min_records),
        (DnsProtocol::Tcp, false, 0)
    );
    // A disagreeing tsig_algorithm or key name is refused.
    let e = one_error(&format!(
        "[dns]\nserver = \"192.0.2.53\"\nzone = \"example.net.\"\ntsig_secret_file = \"{}\"\ntsig_algorithm = \"hmac-sha256\"\n{RECORD}{CHECK}",
        key.path().display()
    ));
    assert!(
        e.starts_with(
            "w.toml:5:18: tsig_algorithm \"hmac-sha256\" but the key file says hmac-sha512"
        ),
        "{e}"
    );
    let e = one_error(&format!(
        "{}{RECORD}{CHECK}",
        dns(key.path(), "").replace("\"warden\"", "\"other\"")
    ));
    assert!(
        e.contains("tsig_key_name \"other\" but the key file names key \"warden\""),
        "{e}"
    );
}

#[test]
fn agreement_settings() {
    let key = key_file("c2VjcmV0");
    let text = format!(
        "{}[dns.agreement]\netcd_endpoints = [\"http://127.0.0.1:2379\"]\nmonitor_id = \"fra1\"\nmin_agree = 2\nlease_ttl = \"5s\"\n{RECORD}{CHECK}",
        dns(key.path(), "")
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let a = c.dns.unwrap().agreement.unwrap();
    assert_eq!(a.etcd_endpoints, vec!["http://127.0.0.1:2379"]);
    assert_eq!((a.monitor_id.as_str(), a.min_agree), ("fra1", 2));
    assert_eq!(a.lease_ttl, Duration::from_secs(5));
    assert_eq!(a.key_prefix, "/anycast-warden/");
    let text = format!(
        "{}[dns.agreement]\netcd_endpoints = [\"http://127.0.0.1:2379\"]\n{RECORD}{CHECK}",
        dns(key.path(), "")
    );
    let a = load_str(Path::new("x"), &text)
        .unwrap()
        .dns
        .unwrap()
        .agreement
        .unwrap();
    assert!(
        !a.monitor_id.is_empty(),
        "the host name is the default monitor id"
    );
    let e = errors(&format!(
        "{}[dns.agreement]\netcd_endpoints = [\"etcd:2379\"]\nmin_agree = 0\nlease_ttl = \"1s\"\nmonitor_id = \"a/b\"\n{RECORD}{CHECK}",
        dns(key.path(), "")
    ));
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].contains(":8:19: \"etcd:2379\" is not an etcd endpoint URL"),
        "{e:#?}"
    );
    assert!(e.iter().any(|x| x.contains("monitor_id \"a/b\"")), "{e:#?}");
    assert!(
        e.iter()
            .any(|x| x.contains("min_agree = 0 is out of range")),
        "{e:#?}"
    );
    assert!(
        e.iter().any(|x| x.contains("lease_ttl is shorter than 2s")),
        "{e:#?}"
    );
}

#[test]
fn dns_table_errors_point_at_the_value() {
    let key = key_file("c2VjcmV0");
    let cases = [
        (
            "server = \"192.0.2.53:53\"",
            "server = \"dns.example\"",
            "2:10: server = \"dns.example\" is not an address",
        ),
        (
            "zone = \"example.net.\"",
            "zone = \"example.net\"",
            "3:8: zone: \"example.net\" is not fully qualified",
        ),
        (
            "tsig_key_name = \"warden\"",
            "tsig_key_name = \"warden\"\ntsig_algorithm = \"hmac-md5\"",
            "5:18: unknown tsig_algorithm \"hmac-md5\"",
        ),
    ];
    for (from, to, want) in cases {
        let text = format!("{}{RECORD}{CHECK}", dns(key.path(), "").replace(from, to));
        let e = one_error(&text);
        assert!(e.starts_with(&format!("w.toml:{want}")), "{e}");
        assert!(e.contains("help:"), "{e}");
    }
    let e = one_error(&format!(
        "{}{RECORD}{CHECK}",
        dns(key.path(), "protocol = \"quic\"")
    ));
    assert!(e.contains("unknown protocol \"quic\""), "{e}");
    let e = one_error(&format!(
        "{}{RECORD}{CHECK}",
        dns(key.path(), "min_records = -1")
    ));
    assert!(e.contains("min_records = -1 is out of range"), "{e}");
    let e = one_error(&format!(
        "{}{RECORD}{CHECK}",
        dns(Path::new("/nonexistent/tsig.key"), "")
    ));
    assert!(
        e.starts_with("w.toml:5:20: cannot read tsig_secret_file \"/nonexistent/tsig.key\""),
        "{e}"
    );
    let bad = key_file("not base64!");
    let e = one_error(&format!("{}{RECORD}{CHECK}", dns(bad.path(), "")));
    assert!(e.contains("is not base64"), "{e}");
    let e = one_error(&format!(
        "[dns]\nzone = \"example.net.\"\ntsig_key_name = \"k\"\ntsig_secret_file = \"{}\"\n{RECORD}{CHECK}",
        key.path().display()
    ));
    assert!(e.starts_with("w.toml:1:1: [dns] has no server"), "{e}");
    let e = one_error(&format!(
        "{}{RECORD}{CHECK}",
        dns(key.path(), "colour = \"blue\"")
    ));
    assert!(e.contains("unknown field `colour`"), "{e}");
}

#[test]
fn record_errors_point_at_the_record() {
    let key = key_file("c2VjcmV0");
    let head = dns(key.path(), "");
    let line = head.lines().count() + 3;
    let cases = [
        (
            "{ name = \"www.example.org.\", type = \"A\", value = \"198.51.100.10\" }",
            "www.example.org. is not in zone example.net.",
        ),
        (
            "{ name = \"www.example.net\", type = \"A\", value = \"198.51.100.10\" }",
            "is not fully qualified",
        ),
        (
            "{ name = \"www.example.net.\", type = \"AAAA\", value = \"198.51.100.10\" }",
            "198.51.100.10 does not fit type AAAA",
        ),
        (
            "{ name = \"www.example.net.\", type = \"A\", value = \"2001:db8::1\" }",
            "2001:db8::1 does not fit type A",
        ),
        (
            "{ name = \"www.example.net.\", type = \"MX\", value = \"198.51.100.10\" }",
            "unsupported record type \"MX\"",
        ),
        (
            "{ name = \"www.example.net.\", type = \"A\", value = \"www\" }",
            "\"www\" is not an IP address",
        ),
        (
            "{ name = \"www.example.net.\", type = \"A\" }",
            "record has no `value`",
        ),
    ];
    for (record, want) in cases {
        let text = format!("{head}[[service]]\nname = \"a\"\nrecords = [{record}]\n{CHECK}");
        let e = one_error(&text);
        assert!(e.starts_with(&format!("w.toml:{line}:")), "{e}");
        assert!(e.contains(want), "{e}");
        assert!(e.contains("help:"), "{e}");
    }
    // The same record in two services.
    let text = format!(
        "{head}{RECORD}{CHECK}{}{CHECK}",
        RECORD.replace("edge-fra", "edge-ams")
    );
    let e = one_error(&text);
    assert!(e.contains("record www.example.net. A 198.51.100.10 of service \"edge-ams\" is also a record of service \"edge-fra\""), "{e}");
    // Records without [dns]; prefixes with [dns] only.
    let e = one_error(&format!("{RECORD}{CHECK}"));
    assert!(e.contains("records need [dns] in the main file"), "{e}");
    let e = one_error(&format!(
        "{head}[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1/32\"]\n{CHECK}"
    ));
    assert!(
        e.contains("has prefixes, but no backend announces them"),
        "{e}"
    );
    // With [bird] too, both kinds of service live together.
    let text = format!(
        "[bird]\ninclude_file = \"/tmp/x.conf\"\n{head}{RECORD}{CHECK}[[service]]\nname = \"b\"\nprefixes = [\"203.0.113.1/32\"]\n{CHECK}"
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    assert!(c.routing.announces());
    // Neither prefixes nor records.
    let e = one_error(&format!("{head}[[service]]\nname = \"a\"\n{CHECK}"));
    assert!(
        e.contains("has no prefixes") && e.contains("records = "),
        "{e}"
    );
}
