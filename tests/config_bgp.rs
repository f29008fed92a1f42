//! Configuration of the built-in BGP speaker: `[bgp]`, `[[bgp.peer]]`,
//! `[service.announce]`, choosing the backend, and the errors a user can make there.

use crate::common::{errors, one_error};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anycast_warden::config::{BgpFamily, load_str};

const CHECK: &str = "[[service.check]]\nkind = \"tcp\"\ntarget = \"127.0.0.1:53\"\n";
const PEER: &str = "[[bgp.peer]]\naddress = \"192.0.2.2\"\nasn = 65000\n";

#[test]
fn the_issue_example_is_valid_and_prints_back() {
    let text = format!(
        r#"[bgp]
asn = 65001
router_id = "192.0.2.1"
hold_time = "90s"
[[bgp.peer]]
address = "192.0.2.2"
asn = 65000
source = "192.0.2.1"
port = 179
passive = false
md5_password = "secret"
multihop = 1
families = ["ipv4", "ipv6"]
next_hop = "self"
[[bgp.peer]]
address = "2001:db8:1::2"
asn = 4200000000
next_hop = ["192.0.2.1", "2001:db8:1::1"]

[[service]]
name = "dns"
prefixes = ["203.0.113.53/32", "2001:db8::53"]
{CHECK}
[service.announce]
communities = ["65000:100"]
large_communities = ["65000:1:1"]
med = 100
prepend = 2
"#
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let bgp = c.routing.bgp().cloned().expect("[bgp] chooses the speaker");
    assert_eq!(bgp.asn, 65001);
    assert_eq!(bgp.hold_time, Duration::from_secs(90));
    assert_eq!(bgp.drain_time, Duration::from_secs(5));
    assert!(bgp.listen);
    let p = &bgp.peers[0];
    assert_eq!(
        p.source,
        Some(anycast_warden::config::BgpSource::Address(
            "192.0.2.1".parse().unwrap()
        ))
    );
    assert_eq!(p.md5_password.as_deref(), Some("secret"));
    assert_eq!(p.families, vec![BgpFamily::Ipv4, BgpFamily::Ipv6]);
    assert!(p.next_hop.is_empty());
    assert_eq!(bgp.peers[1].asn, 4_200_000_000);
    assert_eq!(bgp.peers[1].next_hop.len(), 2);
    let a = &c.services[0].announce;
    assert_eq!(a.communities[0].to_string(), "65000:100");
    assert_eq!(a.large_communities[0].to_string(), "65000:1:1");
    assert_eq!((a.med, a.prepend), (Some(100), 2));
    // print-config loads back unchanged.
    let printed = toml::to_string_pretty(&c).unwrap();
    assert!(printed.contains("[bgp]"), "{printed}");
    assert!(!printed.contains("[bird]"), "{printed}");
    let mut again = load_str(Path::new("x"), &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    // Only where the service was written differs.
    again.services[0].origin.clone_from(&c.services[0].origin);
    assert_eq!(again, c);
    assert_eq!(
        bgp.peers[1].address,
        "2001:db8:1::2".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn more_than_one_backend_is_refused_at_the_table() {
    let e = one_error(&format!(
        "[bird]\n[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n{PEER}"
    ));
    assert!(
        e.starts_with("w.toml:2:1: the file has [bgp] and [bird]"),
        "{e}"
    );
    assert!(e.contains("help: one backend"), "{e}");
    let e = one_error(&format!(
        "[frr]\n[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n{PEER}"
    ));
    assert!(
        e.starts_with("w.toml:2:1: the file has [bgp] and [frr]"),
        "{e}"
    );
}

#[test]
fn missing_and_bad_keys_point_at_their_place() {
    let e = errors(
        "[bgp]\nrouter_id = \"0.0.0.0\"\nhold_time = \"2s\"\ngraceful_restart = \"5000s\"\n",
    );
    assert!(
        e.iter().any(|e| e
            .starts_with("w.toml:4:20: graceful_restart must be whole seconds, at most 4095 s")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("w.toml:1:1: [bgp] has no asn")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("w.toml:2:13: router_id = \"0.0.0.0\" is not a BGP identifier")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("w.toml:3:13: hold_time must be 0 or 3 s")),
        "{e:#?}"
    );
    assert!(
        e.iter()
            .any(|e| e.starts_with("w.toml:1:1: [bgp] has no peers")),
        "{e:#?}"
    );

    let base = "[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n[[bgp.peer]]\n";
    let e = one_error(&format!("{base}address = \"192.0.2.300\"\nasn = 65000\n"));
    assert!(
        e.starts_with("w.toml:5:11: address = \"192.0.2.300\" is not an IP address"),
        "{e}"
    );
    let e = one_error(&format!("{base}address = \"192.0.2.2\"\n"));
    assert!(e.starts_with("w.toml:4:1: [[bgp.peer]] has no asn"), "{e}");
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\nsource = \"2001:db8::1\"\n"
    ));
    assert!(e.contains("different IP versions"), "{e}");
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\nsource = \"eth0/1\"\n"
    ));
    assert!(
        e.contains("is neither an IP address nor an interface name"),
        "{e}"
    );
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\nfamilies = [\"ipv4\", \"vpnv4\"]\n"
    ));
    assert!(
        e.starts_with("w.toml:7:21: unknown family \"vpnv4\""),
        "{e}"
    );
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\nmultihop = 0\n"
    ));
    assert!(
        e.starts_with("w.toml:7:12: multihop = 0 is out of range"),
        "{e}"
    );
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\nnext_hop = \"me\"\n"
    ));
    assert!(
        e.contains("next_hop \"me\" is not \"self\" or an IP address"),
        "{e}"
    );
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\nmd5_password = \"{}\"\n",
        "x".repeat(81)
    ));
    assert!(e.contains("md5_password must be 1 to 80 bytes"), "{e}");
    let e = one_error(&format!(
        "{base}address = \"192.0.2.2\"\nasn = 65000\ncolour = \"red\"\n"
    ));
    assert!(e.contains("unknown field `colour`"), "{e}");
}

#[test]
fn announce_attributes_are_checked_and_need_the_speaker() {
    let bgp = format!("[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n{PEER}");
    let svc = format!("[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\n{CHECK}");
    let e = errors(&format!(
        "{bgp}{svc}[service.announce]\ncommunities = [\"65000:70000\"]\nlarge_communities = [\"1:2\"]\nmed = -1\nprepend = 99\n"
    ));
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].starts_with("w.toml:14:16: \"65000:70000\" is not a community"),
        "{e:#?}"
    );
    assert!(e[1].contains("\"1:2\" is not a large community"), "{e:#?}");
    assert!(e[2].contains("med = -1 is out of range"), "{e:#?}");
    assert!(e[3].contains("prepend = 99 is out of range"), "{e:#?}");
    let e = one_error(&format!("{svc}[service.announce]\nmed = 10\n"));
    assert!(
        e.starts_with("w.toml:7:1: [service.announce] needs the built-in BGP speaker"),
        "{e}"
    );
}

#[test]
fn drain_attributes_read_as_written_and_print_back() {
    let text = format!(
        "[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n{PEER}\
         [[service]]\nname = \"dns\"\nprefixes = [\"203.0.113.53/32\"]\n{CHECK}\
         [service.announce]\ncommunities = [\"65000:100\"]\nmed = 100\n\
         [service.announce.drain]\ncommunities = [\"65000:666\"]\nlarge_communities = [\"65000:9:9\"]\nmed = 1000\nprepend = 3\n"
    );
    let c = load_str(Path::new("x"), &text).unwrap_or_else(|e| panic!("{e}"));
    let a = &c.services[0].announce;
    assert_eq!(a.med, Some(100));
    let d = a.drain.as_ref().expect("[service.announce.drain]");
    assert_eq!(d.communities[0].to_string(), "65000:666");
    assert_eq!(d.large_communities[0].to_string(), "65000:9:9");
    assert_eq!((d.med, d.prepend), (Some(1000), Some(3)));
    let printed = toml::to_string_pretty(&c).unwrap();
    assert!(printed.contains("[service.announce.drain]"), "{printed}");
    let mut again = load_str(Path::new("x"), &printed).unwrap_or_else(|e| panic!("{e}\n{printed}"));
    again.services[0].origin.clone_from(&c.services[0].origin);
    assert_eq!(again, c);
    // An empty drain table is fine: the routes still get 65535:0 while draining.
    let empty = text
        .split("[service.announce.drain]")
        .next()
        .unwrap()
        .to_string()
        + "[service.announce.drain]\n";
    let c = load_str(Path::new("x"), &empty).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.services[0].announce.drain,
        Some(anycast_warden::config::DrainAttrs::default())
    );
}

#[test]
fn drain_attribute_errors_point_at_their_place() {
    let bgp = format!("[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n{PEER}");
    let svc = format!("[[service]]\nname = \"a\"\nprefixes = [\"203.0.113.1\"]\n{CHECK}");
    let e = errors(&format!(
        "{bgp}{svc}[service.announce]\nmed = 10\n[service.announce.drain]\ncommunities = [\"65535\"]\nlarge_communities = [\"1:2:x\"]\nmed = 4294967296\nprepend = 17\n"
    ));
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].starts_with("w.toml:16:16: \"65535\" is not a community"),
        "{e:#?}"
    );
    assert!(
        e[1].starts_with("w.toml:17:22: \"1:2:x\" is not a large community"),
        "{e:#?}"
    );
    assert!(
        e[2].starts_with("w.toml:18:7: med = 4294967296 is out of range")
            && e[2].contains("higher is less preferred"),
        "{e:#?}"
    );
    assert!(
        e[3].starts_with("w.toml:19:11: prepend = 17 is out of range")
            && e[3].contains("while draining"),
        "{e:#?}"
    );
    // A key of [service.announce] that the drain table does not have.
    let e = one_error(&format!(
        "{bgp}{svc}[service.announce.drain]\nlocal_pref = 50\n"
    ));
    assert!(
        e.starts_with("w.toml:14:1: unknown field `local_pref`"),
        "{e}"
    );
    assert!(e.contains("local_pref"), "{e}");
    // And none of it without the speaker.
    let e = one_error(&format!("{svc}[service.announce.drain]\nmed = 10\n"));
    assert!(
        e.contains("[service.announce] needs the built-in BGP speaker"),
        "{e}"
    );
}

#[test]
fn extended_next_hop_needs_ipv4_routes() {
    let base = "[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n[[bgp.peer]]\naddress = \"2001:db8:1::2\"\nasn = 65000\n";
    let c = load_str(Path::new("x"), &format!("{base}extended_next_hop = true\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let bgp = c.routing.bgp().cloned().unwrap();
    assert!(bgp.peers[0].extended_next_hop);
    let printed = toml::to_string_pretty(&c).unwrap();
    assert!(printed.contains("extended_next_hop = true"), "{printed}");
    assert_eq!(load_str(Path::new("x"), &printed).unwrap(), c);
    // Off by default, and then not printed.
    let c = load_str(Path::new("x"), base).unwrap();
    assert!(!c.routing.bgp().unwrap().peers[0].extended_next_hop);
    assert!(
        !toml::to_string_pretty(&c)
            .unwrap()
            .contains("extended_next_hop")
    );
    let e = one_error(&format!(
        "{base}families = [\"ipv6\"]\nextended_next_hop = true\n"
    ));
    assert!(
        e.starts_with(
            "w.toml:8:21: extended_next_hop carries IPv4 routes, and this peer gets none"
        ),
        "{e}"
    );
    assert!(e.contains("add \"ipv4\" to families"), "{e}");
}

#[test]
fn a_link_local_next_hop_may_join_the_global_one() {
    let base = "[bgp]\nasn = 65001\nrouter_id = \"192.0.2.1\"\n[[bgp.peer]]\naddress = \"2001:db8:1::2\"\nasn = 65000\n";
    let c = load_str(
        Path::new("x"),
        &format!("{base}next_hop = [\"2001:db8:1::1\", \"fe80::1\"]\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.routing.bgp().cloned().unwrap().peers[0].next_hop.len(), 2);
    let e = one_error(&format!("{base}next_hop = [\"fe80::1\", \"fe80::2\"]\n"));
    assert!(
        e.starts_with("w.toml:7:12: two next hops of the same family"),
        "{e}"
    );
}

#[test]
fn shipped_bgp_example_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/config");
    let paths = anycast_warden::config::ConfigPaths {
        file: root.join("bgp.toml"),
        dir: root.join("conf.d"),
        dir_required: true,
    };
    let c = anycast_warden::config::load(&paths).unwrap_or_else(|e| panic!("{e}"));
    let bgp = c.routing.bgp().cloned().expect("[bgp]");
    assert_eq!(bgp.peers.len(), 2);
    assert!(c.services.iter().any(|s| !s.announce.is_empty()));
}
