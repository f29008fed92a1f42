//! Whether an address is assigned to an interface (the service-level `ip_check`), read with
//! getifaddrs: no `ip` binary, no shell.

use std::collections::BTreeSet;
use std::net::IpAddr;

use nix::ifaddrs::getifaddrs;

/// Addresses currently assigned to `interface`.
pub fn assigned_addresses(interface: &str) -> Result<BTreeSet<IpAddr>, nix::Error> {
    let mut found = BTreeSet::new();
    for ifaddr in getifaddrs()? {
        if ifaddr.interface_name != interface {
            continue;
        }
        let Some(address) = ifaddr.address else {
            continue;
        };
        if let Some(v4) = address.as_sockaddr_in() {
            found.insert(IpAddr::V4(v4.ip()));
        } else if let Some(v6) = address.as_sockaddr_in6() {
            found.insert(IpAddr::V6(v6.ip()));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_has_127_0_0_1() {
        let addrs = assigned_addresses("lo").expect("getifaddrs");
        assert!(
            addrs.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()),
            "{addrs:?}"
        );
    }

    #[test]
    fn unknown_interface_has_nothing() {
        assert!(
            assigned_addresses("no-such-if0")
                .expect("getifaddrs")
                .is_empty()
        );
    }
}
