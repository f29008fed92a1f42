//! Configuration of the native check kinds: every option's place in error messages, the
//! keys shared by every kind (`tries`, `retry_interval`), and print-config round trips.

use std::path::Path;
use std::time::Duration;

use crate::common::{errors, one_error};
use anycast_warden::config::{CheckConfig, CheckSpec, load_str};

/// A service whose one check has `body` (the check starts on line 5).
fn check(body: &str) -> String {
    format!("[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\n[[service.check]]\n{body}")
}

fn the_check(body: &str) -> CheckConfig {
    match load_str(Path::new("w.toml"), &check(body)) {
        Ok(mut c) => c.services.remove(0).checks.remove(0),
        Err(e) => panic!("{body}\n{e}"),
    }
}

/// Loads, prints and loads again: the same check.
fn round_trip(body: &str) {
    let c = load_str(Path::new("x"), &check(body)).expect("valid");
    let printed = toml::to_string_pretty(&c).expect("serialises");
    let again = load_str(Path::new("printed"), &printed)
        .unwrap_or_else(|e| panic!("printed config is invalid:\n{printed}\n{e}"));
    assert_eq!(c.services[0].checks, again.services[0].checks, "{printed}");
}

#[test]
fn tries_and_retry_interval_apply_to_every_kind() {
    let c = the_check("kind = \"tcp\"\ntarget = \"127.0.0.1:53\"\n");
    assert_eq!((c.tries, c.retry_interval), (1, Duration::from_millis(100)));
    let c = the_check(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:53\"\ntries = 3\nretry_interval = \"200ms\"\n",
    );
    assert_eq!((c.tries, c.retry_interval), (3, Duration::from_millis(200)));
    let c = the_check("kind = \"file\"\npath = \"/x\"\ntries = 2\n");
    assert_eq!(c.tries, 2);
    for bad in ["0", "-1", "101"] {
        let e = one_error(&check(&format!(
            "kind = \"tcp\"\ntarget = \"127.0.0.1:53\"\ntries = {bad}\n"
        )));
        assert!(
            e.starts_with(&format!("w.toml:7:9: tries = {bad} is out of range")),
            "{e}"
        );
    }
    let e = one_error(&check(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:53\"\nretry_interval = 5\n",
    ));
    assert!(
        e.starts_with("w.toml:7:18: retry_interval = 5 has no unit"),
        "{e}"
    );
    // Two pauses of 1 s do not fit in the default 2 s timeout.
    let e = one_error(&check(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:53\"\ntries = 3\nretry_interval = \"1s\"\n",
    ));
    assert!(
        e.starts_with(
            "w.toml:8:18: tries = 3 with retry_interval = \"1s\" does not fit in the timeout (2s)"
        ),
        "{e}"
    );
    round_trip(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:53\"\ntries = 3\nretry_interval = \"250ms\"\n",
    );
}

#[test]
fn a_key_of_another_kind_names_the_kinds_that_take_it() {
    let e = one_error(&check(
        "kind = \"file\"\npath = \"/x\"\ntarget = \"127.0.0.1:1\"\n",
    ));
    assert_eq!(
        e,
        "w.toml:7:10: `target` does not apply to kind = \"file\"\n  help: `target` belongs to kind = \"tcp\", \"udp\", \"tftp\" or \"tls\"; remove it or change the kind"
    );
    let e = one_error(&check(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:1\"\nabsent = true\n",
    ));
    assert!(e.contains("`absent` belongs to kind = \"file\""), "{e}");
    let e = one_error(&check(
        "kind = \"tcp\"\ntarget = \"127.0.0.1:1\"\nbogus = 1\n",
    ));
    assert!(e.contains("unknown field `bogus`"), "{e}");
}

#[test]
fn file_check() {
    let c =
        the_check("kind = \"file\"\npath = \"/etc/anycast-warden/maintenance\"\nabsent = true\n");
    match c.spec {
        CheckSpec::File(f) => {
            assert_eq!(f.path, Path::new("/etc/anycast-warden/maintenance"));
            assert!(f.absent);
        }
        other => panic!("{other:?}"),
    }
    let e = one_error(&check("kind = \"file\"\n"));
    assert!(e.starts_with("w.toml:4:1: file check has no path"), "{e}");
    let e = one_error(&check("kind = \"file\"\npath = \"maintenance\"\n"));
    assert!(
        e.starts_with("w.toml:6:8: path \"maintenance\" is relative"),
        "{e}"
    );
    let e = one_error(&check("kind = \"file\"\npath = \"\"\n"));
    assert!(e.starts_with("w.toml:6:8: path is empty"), "{e}");
    round_trip("kind = \"file\"\npath = \"/run/x\"\nabsent = true\n");
    round_trip("kind = \"file\"\npath = \"/run/x\"\n");
}

#[test]
fn udp_check() {
    let c = the_check(
        "kind = \"udp\"\ntarget = \"127.0.0.1:7\"\npayload = \"ping\"\nexpect = \"pong\"\n",
    );
    match c.spec {
        CheckSpec::Udp(u) => {
            assert_eq!(u.target, "127.0.0.1:7");
            assert_eq!(u.payload, "ping");
            assert_eq!(u.expect.as_deref(), Some("pong"));
        }
        other => panic!("{other:?}"),
    }
    let e = one_error(&check("kind = \"udp\"\ntarget = \"127.0.0.1:7\"\n"));
    assert!(e.contains("udp check has no payload"), "{e}");
    let e = one_error(&check(
        "kind = \"udp\"\ntarget = \"127.0.0.1\"\npayload = \"x\"\n",
    ));
    assert!(
        e.starts_with("w.toml:6:10: \"127.0.0.1\" is not a host:port target"),
        "{e}"
    );
    let e = one_error(&check(
        "kind = \"udp\"\ntarget = \"127.0.0.1:7\"\npayload = \"x\"\nexpect = [\"a\"]\n",
    ));
    assert!(
        e.starts_with("w.toml:8:10: a udp check expects one string"),
        "{e}"
    );
    let e = one_error(&check(
        "kind = \"udp\"\ntarget = \"127.0.0.1:7\"\npayload = \"x\"\nexpect = \"\"\n",
    ));
    assert!(e.starts_with("w.toml:8:10: expect is empty"), "{e}");
    round_trip("kind = \"udp\"\ntarget = \"[::1]:7\"\npayload = \"x\"\nexpect = \"y\"\n");
    round_trip("kind = \"udp\"\ntarget = \"[::1]:7\"\npayload = \"x\"\n");
}

#[test]
fn tftp_check() {
    let c = the_check("kind = \"tftp\"\ntarget = \"127.0.0.1:69\"\nfile = \"pxelinux.0\"\n");
    assert!(matches!(c.spec, CheckSpec::Tftp(ref t) if t.file == "pxelinux.0"));
    let e = one_error(&check("kind = \"tftp\"\ntarget = \"127.0.0.1:69\"\n"));
    assert!(e.contains("tftp check has no file"), "{e}");
    let e = one_error(&check("kind = \"tftp\"\nfile = \"x\"\n"));
    assert!(e.contains("tftp check has no target"), "{e}");
    let e = one_error(&check(
        "kind = \"tftp\"\ntarget = \"127.0.0.1:69\"\nfile = \"é\"\n",
    ));
    assert!(
        e.starts_with("w.toml:7:8: a TFTP file name is ASCII"),
        "{e}"
    );
    round_trip("kind = \"tftp\"\ntarget = \"127.0.0.1:69\"\nfile = \"a/b\"\n");
}

#[test]
fn address_check() {
    let c = the_check("kind = \"address\"\naddress = \"2001:db8::53\"\n");
    match c.spec {
        CheckSpec::Address(a) => {
            assert_eq!(a.address.to_string(), "2001:db8::53");
            // The service's interface when not written.
            assert_eq!(a.interface, "lo");
        }
        other => panic!("{other:?}"),
    }
    let c = the_check("kind = \"address\"\naddress = \"198.51.100.1\"\ninterface = \"dummy0\"\n");
    assert!(matches!(c.spec, CheckSpec::Address(ref a) if a.interface == "dummy0"));
    let e = one_error(&check(
        "kind = \"address\"\naddress = \"198.51.100.1/24\"\n",
    ));
    assert!(
        e.starts_with("w.toml:6:11: \"198.51.100.1/24\" is not an IP address"),
        "{e}"
    );
    let e = one_error(&check("kind = \"address\"\n"));
    assert!(e.contains("address check has no address"), "{e}");
    let e = one_error(&check(
        "kind = \"address\"\naddress = \"198.51.100.1\"\ninterface = \"a/b\"\n",
    ));
    assert!(
        e.starts_with("w.toml:7:13: \"a/b\" is not an interface name"),
        "{e}"
    );
    round_trip("kind = \"address\"\naddress = \"198.51.100.1\"\ninterface = \"eth0\"\n");
}

#[test]
fn every_problem_of_a_check_is_reported_at_once() {
    let all = errors(&check(
        "kind = \"udp\"\ntarget = \"x\"\npayload = \"\"\ntries = 0\npath = \"/x\"\n",
    ));
    assert_eq!(all.len(), 4, "{all:#?}");
}

#[test]
fn http_check() {
    let c = the_check("kind = \"http\"\nurl = \"http://127.0.0.1:8080/health\"\n");
    match c.spec {
        CheckSpec::Http(h) => {
            assert_eq!(h.url, "http://127.0.0.1:8080/health");
            assert_eq!(h.method, "GET");
            assert_eq!(h.status.len(), 1);
            assert_eq!(h.status[0].to_string(), "200-299");
            assert!(!h.insecure);
        }
        other => panic!("{other:?}"),
    }
    let bad = |body: &str, start: &str| {
        let e = one_error(&check(&format!("kind = \"http\"\n{body}")));
        assert!(e.starts_with(start), "{body}\n{e}");
        e
    };
    let u = "url = \"http://127.0.0.1/\"\n";
    bad("", "w.toml:4:1: http check has no url");
    bad(
        "url = \"127.0.0.1:80\"\n",
        "w.toml:6:7: \"127.0.0.1:80\" is not a URL",
    );
    bad(
        "url = \"http://\"\n",
        "w.toml:6:7: \"http://\" is not a URL",
    );
    bad(
        "url = \"ftp://h/\"\n",
        "w.toml:6:7: \"ftp://h/\" is not an http or https URL",
    );
    let e = bad(
        &format!("{u}method = \"get\"\n"),
        "w.toml:7:10: \"get\" is not an HTTP method",
    );
    assert!(e.contains("method = \"GET\""), "{e}");
    bad(
        &format!("{u}headers = {{ \"Bad Name\" = \"x\" }}\n"),
        "w.toml:7:26: \"Bad Name\" is not an HTTP header name",
    );
    bad(
        &format!("{u}headers = {{ \"X-A\" = \"a\\nb\" }}\n"),
        "w.toml:7:21: the value of header X-A is not valid",
    );
    bad(
        &format!("{u}status = 99\n"),
        "w.toml:7:10: status 99 is not an HTTP status",
    );
    bad(
        &format!("{u}status = [\"300-200\"]\n"),
        "w.toml:7:10: status \"300-200\" is not",
    );
    bad(
        &format!("{u}status = []\n"),
        "w.toml:7:10: status is an empty list",
    );
    bad(
        &format!("{u}body_regex = \"(\"\n"),
        "w.toml:7:14: body_regex is not a regular expression",
    );
    bad(
        "url = \"http://localhost/\"\nhost = \"www.example.com\"\n",
        "w.toml:6:7: with host, the URL must name the address to connect to",
    );
    bad(
        &format!("{u}host = \"http://x\"\n"),
        "w.toml:7:8: \"http://x\" is not a host name",
    );
    bad(
        "url = \"https://127.0.0.1/\"\nca_file = \"/no/such/ca.pem\"\n",
        "w.toml:7:11: ca_file: cannot read /no/such/ca.pem",
    );
    bad(
        "url = \"https://127.0.0.1/\"\nca_file = \"ca.pem\"\n",
        "w.toml:7:11: ca_file \"ca.pem\" is relative",
    );
    bad(
        &format!("{u}insecure = true\n"),
        "w.toml:7:12: insecure needs an https URL",
    );
    bad(
        &format!("{u}source = \"x\"\n"),
        "w.toml:7:10: \"x\" is not an IP address",
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not pem").unwrap();
    bad(
        &format!(
            "url = \"https://127.0.0.1/\"\nca_file = \"{}\"\n",
            junk.display()
        ),
        &format!(
            "w.toml:7:11: ca_file: {} holds no certificate",
            junk.display()
        ),
    );
    let all = errors(&check(&format!(
        "kind = \"http\"\nurl = \"https://127.0.0.1/\"\nclient_key = \"{}\"\n",
        junk.display()
    )));
    assert!(all[0].starts_with("w.toml:7:14: client_key: "), "{all:#?}");
    assert!(
        all[1].contains("client_key without client_cert"),
        "{all:#?}"
    );
    let all = errors(&check(&format!(
        "kind = \"http\"\nurl = \"https://127.0.0.1/\"\ninsecure = true\nclient_cert = \"{}\"\n",
        junk.display()
    )));
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[1].contains("client_cert without client_key"),
        "{all:#?}"
    );
    round_trip(
        "kind = \"http\"\nurl = \"https://127.0.0.1:8443/h?x=1\"\nmethod = \"POST\"\nheaders = { \"X-A\" = \"1\" }\nbody = \"b\"\nstatus = [200, \"301-302\", \"5xx\"]\nbody_contains = \"ok\"\nbody_regex = \"o.\"\nhost = \"www.example.com\"\ninsecure = true\nsource = \"127.0.0.1\"\n",
    );
}

#[test]
fn tls_check() {
    use anycast_warden::config::CertificateSource;
    let c = the_check(
        "kind = \"tls\"\ntarget = \"127.0.0.1:443\"\nserver_name = \"www.example.com\"\nmin_validity = \"7d\"\ndns_names = [\"www.example.com\", \"*.example.net\"]\nip_addresses = [\"192.0.2.1\"]\ncommon_name = \"www\"\nissuer = \"CA\"\n",
    );
    match c.spec {
        CheckSpec::Tls(t) => {
            assert_eq!(
                t.source,
                CertificateSource::Server {
                    target: "127.0.0.1:443".into(),
                    server_name: Some("www.example.com".into())
                }
            );
            assert_eq!(t.min_validity, Duration::from_secs(7 * 86_400));
            assert_eq!(t.dns_names.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    let bad = |body: &str, start: &str| {
        let e = one_error(&check(&format!("kind = \"tls\"\n{body}")));
        assert!(e.starts_with(start), "{body}\n{e}");
    };
    let t = "target = \"127.0.0.1:443\"\n";
    bad("", "w.toml:4:1: tls check has neither file nor target");
    bad(
        "file = \"/x.pem\"\ntarget = \"127.0.0.1:443\"\n",
        "w.toml:6:8: a tls check has both file and target",
    );
    bad(
        "file = \"/no/such.pem\"\n",
        "w.toml:6:8: file: cannot read /no/such.pem",
    );
    bad(
        "target = \"127.0.0.1:443\"\nserver_name = \"a b\"\n",
        "w.toml:7:15: \"a b\" is not a host name",
    );
    bad(
        &format!("{t}min_validity = 7\n"),
        "w.toml:7:16: min_validity = 7 has no unit",
    );
    bad(
        &format!("{t}min_validity = \"a week\"\n"),
        "w.toml:7:16: min_validity: cannot read duration",
    );
    bad(
        &format!("{t}dns_names = [\"a b\"]\n"),
        "w.toml:7:13: \"a b\" is not a DNS name",
    );
    bad(
        &format!("{t}ip_addresses = [\"192.0.2.1/32\"]\n"),
        "w.toml:7:16: \"192.0.2.1/32\" is not an IP address",
    );
    bad(
        &format!("{t}issuer = \"\"\n"),
        "w.toml:7:10: issuer is empty",
    );
    bad(
        &format!("{t}common_name = \" \"\n"),
        "w.toml:7:15: common_name is empty",
    );
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("c.pem");
    std::fs::write(&pem, "x").unwrap();
    let all = errors(&check(&format!(
        "kind = \"tls\"\nfile = \"{}\"\nserver_name = \"a\"\n",
        pem.display()
    )));
    assert!(
        all[0].starts_with("w.toml:7:15: server_name needs target"),
        "{all:#?}"
    );
    assert!(all[1].contains("holds no certificate"), "{all:#?}");
    round_trip(&format!(
        "kind = \"tls\"\n{t}server_name = \"a.example\"\nmin_validity = \"14days\"\ndns_names = [\"a.example\"]\nip_addresses = [\"2001:db8::1\"]\ncommon_name = \"a\"\nissuer = \"CA\"\n"
    ));
    round_trip("kind = \"tls\"\ntarget = \"localhost:443\"\n");
}

#[test]
fn dns_check() {
    use anycast_warden::config::DnsProtocol;
    let c = the_check("kind = \"dns\"\nquery = \"health.example.net\"\nserver = \"127.0.0.1\"\n");
    match c.spec {
        CheckSpec::Dns(d) => {
            assert_eq!(d.record, "A");
            assert_eq!(d.rcode, "NOERROR");
            assert_eq!(d.protocol, DnsProtocol::Udp);
            // A bare address means port 53.
            assert_eq!(d.server.to_string(), "127.0.0.1:53");
        }
        other => panic!("{other:?}"),
    }
    let c = the_check(
        "kind = \"dns\"\nquery = \"h.example\"\nserver = \"[::1]:5353\"\nrecord = \"aaaa\"\nrcode = \"nxdomain\"\nprotocol = \"tcp\"\n",
    );
    match c.spec {
        CheckSpec::Dns(d) => {
            assert_eq!((d.record.as_str(), d.rcode.as_str()), ("AAAA", "NXDOMAIN"));
            assert_eq!(d.protocol, DnsProtocol::Tcp);
        }
        other => panic!("{other:?}"),
    }
    let bad = |body: &str, start: &str| {
        let e = one_error(&check(&format!("kind = \"dns\"\n{body}")));
        assert!(e.starts_with(start), "{body}\n{e}");
    };
    let s = "server = \"127.0.0.1:53\"\n";
    let q = "query = \"h.example\"\n";
    bad(s, "w.toml:4:1: dns check has no query");
    bad(q, "w.toml:4:1: dns check has no server");
    bad(
        &format!("{s}query = \"a..b\"\n"),
        "w.toml:7:9: \"a..b\" is not a DNS name",
    );
    bad(
        &format!("{s}{q}record = \"AAA\"\n"),
        "w.toml:8:10: \"AAA\" is not a DNS record type",
    );
    bad(
        &format!("{q}server = \"ns1.example.net:53\"\n"),
        "w.toml:7:10: \"ns1.example.net:53\" is not a server address",
    );
    bad(
        &format!("{q}server = \"127.0.0.1:0\"\n"),
        "w.toml:7:10: \"127.0.0.1:0\" is not a server",
    );
    bad(
        &format!("{s}{q}protocol = \"dot\"\n"),
        "w.toml:8:12: unknown protocol \"dot\"",
    );
    bad(
        &format!("{s}{q}rcode = \"OK\"\n"),
        "w.toml:8:9: \"OK\" is not a DNS response code",
    );
    bad(
        &format!("{s}{q}expect = [\"2001:db8::1\"]\n"),
        "w.toml:8:10: \"2001:db8::1\" is not an answer to an A query",
    );
    bad(
        &format!("{s}{q}expect = []\n"),
        "w.toml:8:10: expect has an empty answer",
    );
    round_trip(&format!(
        "kind = \"dns\"\n{s}{q}record = \"TXT\"\nprotocol = \"tcp\"\nexpect = [\"v=up\"]\nrcode = \"NOERROR\"\n"
    ));
}

#[test]
fn icmp_check() {
    let c = the_check("kind = \"icmp\"\nhost = \"198.51.100.1\"\n");
    match c.spec {
        CheckSpec::Icmp(i) => {
            assert_eq!((i.count, i.max_loss, i.max_rtt), (3, 0, None));
        }
        other => panic!("{other:?}"),
    }
    let bad = |body: &str, start: &str| {
        let e = one_error(&check(&format!("kind = \"icmp\"\n{body}")));
        assert!(e.starts_with(start), "{body}\n{e}");
    };
    let h = "host = \"gw.example.net\"\n";
    bad("", "w.toml:4:1: icmp check has no host");
    bad(
        "host = \"a b\"\n",
        "w.toml:6:8: \"a b\" is not an address or host name",
    );
    bad(
        &format!("{h}count = -1\n"),
        "w.toml:7:9: count = -1 is out of range",
    );
    bad(
        &format!("{h}count = 0\n"),
        "w.toml:7:9: count = 0 is out of range",
    );
    bad(
        &format!("{h}max_loss = 101\n"),
        "w.toml:7:12: max_loss = 101 is out of range",
    );
    bad(
        &format!("{h}max_rtt = \"0s\"\n"),
        "w.toml:7:11: max_rtt must be longer than zero",
    );
    bad(
        &format!("{h}max_rtt = 10\n"),
        "w.toml:7:11: max_rtt = 10 has no unit",
    );
    round_trip(&format!(
        "kind = \"icmp\"\n{h}count = 5\nmax_loss = 20\nmax_rtt = \"50ms\"\n"
    ));
}

#[test]
fn cabourotte_check() {
    let c = the_check("kind = \"cabourotte\"\nname = \"dns\"\n");
    match c.spec {
        CheckSpec::Cabourotte(s) => {
            assert_eq!(
                (s.url.as_str(), s.name.as_str()),
                ("http://127.0.0.1:9013", "dns")
            );
        }
        other => panic!("{other:?}"),
    }
    let e = one_error(&check("kind = \"cabourotte\"\n"));
    assert!(
        e.starts_with("w.toml:4:1: cabourotte check has no name"),
        "{e}"
    );
    let e = one_error(&check(
        "kind = \"cabourotte\"\nname = \"dns\"\nurl = \"tcp://h:1\"\n",
    ));
    assert!(
        e.starts_with("w.toml:7:7: \"tcp://h:1\" is not an http or https URL"),
        "{e}"
    );
    let e = one_error(&check(
        "kind = \"cabourotte\"\nname = \"dns\"\nstatus = 200\n",
    ));
    assert!(e.contains("`status` belongs to kind = \"http\""), "{e}");
    round_trip(
        "kind = \"cabourotte\"\nname = \"ntp_v4\"\nurl = \"https://healthz.example:9013/\"\n",
    );
}

#[test]
fn exec_checks_may_run_as_another_user_who_must_exist() {
    let text = |keys: &str| {
        format!(
            "[[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53/32\"]\n[[service.check]]\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n{keys}\n"
        )
    };
    let c = anycast_warden::config::load_str(
        std::path::Path::new("w.toml"),
        &text("user = \"nobody\""),
    )
    .expect("valid");
    let anycast_warden::config::CheckSpec::Exec(spec) = &c.services[0].checks[0].spec else {
        panic!("exec");
    };
    let run_as = spec.run_as.as_ref().expect("run_as");
    assert_eq!(run_as.user, "nobody");
    assert_eq!(run_as.uid, 65534);
    let printed = toml::to_string(&c).unwrap();
    assert!(printed.contains("user = \"nobody\""), "{printed}");

    let cases = [
        (
            "user = \"no-such-user-aw\"",
            "w.toml:7:8: user \"no-such-user-aw\" does not exist on this host",
        ),
        (
            "user = \"nobody\"\ngroup = \"no-such-group-aw\"",
            "w.toml:8:9: group \"no-such-group-aw\" does not exist on this host",
        ),
        ("group = \"nogroup\"", "w.toml:7:9: group without user"),
    ];
    for (keys, want) in cases {
        let e = crate::common::one_error(&text(keys));
        assert!(e.starts_with(want), "{keys}:\n{e}");
    }
    let e = crate::common::one_error(
        "[[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53/32\"]\n[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:53\"\nuser = \"nobody\"\n",
    );
    assert!(e.contains("user"), "{e}");
}

/// Who an exec check runs as: user, group as written, gid; `None` for the daemon's user.
type Who = Option<(String, Option<String>, u32)>;

/// Who each exec check of a loaded configuration runs as, by service and check index.
fn run_as_of(c: &anycast_warden::config::Config) -> Vec<Vec<Who>> {
    c.services
        .iter()
        .map(|s| {
            s.checks
                .iter()
                .filter_map(|check| match &check.spec {
                    anycast_warden::config::CheckSpec::Exec(spec) => Some(
                        spec.run_as
                            .as_ref()
                            .map(|r| (r.user.clone(), r.group.clone(), r.gid)),
                    ),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[test]
fn exec_user_and_group_come_from_the_check_then_the_service_then_defaults() {
    let exec = |keys: &str| {
        format!("[[service.check]]\nkind = \"exec\"\ncommand = [\"/bin/true\"]\n{keys}\n")
    };
    let service = |name: &str, keys: &str, checks: &str| {
        format!(
            "[[service]]\nname = \"{name}\"\nprefixes = [\"203.0.113.{}/32\"]\n{keys}\n{checks}",
            name.len()
        )
    };
    let nogroup = nix::unistd::Group::from_name("nogroup")
        .unwrap()
        .expect("group nogroup")
        .gid
        .as_raw();
    let daemon = nix::unistd::User::from_name("daemon")
        .unwrap()
        .expect("user daemon");
    let root_gid = 0;
    let text = format!(
        "[defaults]\nuser = \"daemon\"\n{}{}{}",
        // Only [defaults]: daemon with its own group.
        service("a", "", &exec("")),
        // The service's pair; a check's own user brings its own group, not the service's.
        service(
            "bb",
            "user = \"nobody\"\ngroup = \"nogroup\"",
            &format!(
                "{}{}[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:53\"\n",
                exec(""),
                exec("user = \"root\"")
            ),
        ),
        // A check's own pair wins over [defaults].
        service("ccc", "", &exec("user = \"nobody\"\ngroup = \"root\"")),
    );
    let c = anycast_warden::config::load_str(std::path::Path::new("w.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let some = |user: &str, group: Option<&str>, gid: u32| {
        Some((user.to_string(), group.map(String::from), gid))
    };
    assert_eq!(
        run_as_of(&c),
        vec![
            vec![some("daemon", None, daemon.gid.as_raw())],
            vec![
                some("nobody", Some("nogroup"), nogroup),
                some("root", None, root_gid)
            ],
            vec![some("nobody", Some("root"), root_gid)],
        ]
    );
    // print-config writes each check's effective user.
    let printed = toml::to_string(&c).unwrap();
    assert_eq!(printed.matches("user = \"nobody\"").count(), 2, "{printed}");

    // Without any user: the daemon's own.
    let c = anycast_warden::config::load_str(
        std::path::Path::new("w.toml"),
        &service("a", "", &exec("")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run_as_of(&c), vec![vec![None]]);

    // Each level's mistakes are refused at their place.
    let cases = [
        (
            format!(
                "[defaults]\nuser = \"no-such-user-aw\"\n{}",
                service("a", "", &exec(""))
            ),
            "w.toml:2:8: user \"no-such-user-aw\" does not exist on this host",
        ),
        (
            format!(
                "[defaults]\nuser = \"nobody\"\ngroup = \"no-such-group-aw\"\n{}",
                service("a", "", &exec(""))
            ),
            "w.toml:3:9: group \"no-such-group-aw\" does not exist on this host",
        ),
        (
            format!(
                "[defaults]\ngroup = \"nogroup\"\n{}",
                service("a", "", &exec(""))
            ),
            "w.toml:2:9: group without user",
        ),
        (
            service("a", "user = \"no-such-user-aw\"", &exec("")),
            "w.toml:4:8: user \"no-such-user-aw\" does not exist on this host",
        ),
        (
            service("a", "group = \"nogroup\"", &exec("")),
            "w.toml:4:9: group without user",
        ),
    ];
    for (text, want) in cases {
        let e = crate::common::one_error(&text);
        assert!(e.starts_with(want), "{text}\n{e}");
    }
}
