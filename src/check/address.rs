//! Whether an address is assigned to an interface (the service-level `ip_check`), read with
//! getifaddrs: no `ip` binary, no shell.
//!
//! A thousand services each checking their address every second would list every address
//! of the host a thousand times a second. `AddressBook` keeps one snapshot instead and
//! refreshes it only after the kernel announces an address change (a netlink multicast
//! subscription to RTMGRP_IPV4_IFADDR/RTMGRP_IPV6_IFADDR), so answers are never stale and
//! the cost is one listing per change. Without netlink it lists on every lookup.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use nix::ifaddrs::getifaddrs;
use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, bind, recv, socket,
};
use tokio::io::unix::AsyncFd;
use tracing::warn;

/// Addresses currently assigned to `interface`.
pub fn assigned_addresses(interface: &str) -> Result<BTreeSet<IpAddr>, nix::Error> {
    Ok(all_addresses()?.remove(interface).unwrap_or_default())
}

/// Every interface's addresses.
fn all_addresses() -> Result<HashMap<String, BTreeSet<IpAddr>>, nix::Error> {
    let mut found: HashMap<String, BTreeSet<IpAddr>> = HashMap::new();
    for ifaddr in getifaddrs()? {
        let Some(address) = ifaddr.address else {
            continue;
        };
        let ip = if let Some(v4) = address.as_sockaddr_in() {
            IpAddr::V4(v4.ip())
        } else if let Some(v6) = address.as_sockaddr_in6() {
            IpAddr::V6(v6.ip())
        } else {
            continue;
        };
        found.entry(ifaddr.interface_name).or_default().insert(ip);
    }
    Ok(found)
}

type Snapshot = Arc<HashMap<String, BTreeSet<IpAddr>>>;

/// Shared, change-driven cache of the host's addresses.
#[derive(Debug)]
pub struct AddressBook {
    /// Bumped by the netlink listener on every address change.
    generation: Arc<AtomicU64>,
    /// Whether the listener runs; if not, every lookup lists afresh.
    watching: bool,
    /// The generation a snapshot was taken at, and the snapshot.
    cached: Mutex<Option<(u64, Snapshot)>>,
}

impl AddressBook {
    /// Starts the netlink listener on the current tokio runtime.
    pub fn watch() -> Arc<AddressBook> {
        let generation = Arc::new(AtomicU64::new(0));
        let watching = match subscribe() {
            Ok(fd) => {
                tokio::spawn(listen(fd, generation.clone()));
                true
            }
            Err(e) => {
                warn!(error = %e, "cannot follow address changes over netlink; listing addresses on every ip_check");
                false
            }
        };
        Arc::new(AddressBook {
            generation,
            watching,
            cached: Mutex::new(None),
        })
    }

    /// A book that lists afresh on every lookup (tests, tools).
    pub fn uncached() -> Arc<AddressBook> {
        Arc::new(AddressBook {
            generation: Arc::new(AtomicU64::new(0)),
            watching: false,
            cached: Mutex::new(None),
        })
    }

    /// Addresses currently assigned to `interface` (a copy: for tests and tools).
    pub fn addresses(&self, interface: &str) -> Result<BTreeSet<IpAddr>, nix::Error> {
        Ok(self.snapshot()?.get(interface).cloned().unwrap_or_default())
    }

    /// Which of `wanted` are not assigned to `interface`. Reads the shared snapshot in
    /// place: the hot path of every ip_check, so nothing is copied.
    pub fn missing(
        &self,
        interface: &str,
        wanted: impl IntoIterator<Item = IpAddr>,
    ) -> Result<Vec<IpAddr>, nix::Error> {
        let snapshot = self.snapshot()?;
        let assigned = snapshot.get(interface);
        Ok(wanted
            .into_iter()
            .filter(|a| !assigned.is_some_and(|set| set.contains(a)))
            .collect())
    }

    fn snapshot(&self) -> Result<Snapshot, nix::Error> {
        if !self.watching {
            return Ok(Arc::new(all_addresses()?));
        }
        // Read the generation before listing: a change during the listing bumps it, and
        // the next lookup lists again.
        let generation = self.generation.load(Ordering::Acquire);
        {
            let cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((g, snapshot)) = cached.as_ref()
                && *g == generation
            {
                return Ok(snapshot.clone());
            }
        }
        let fresh: Snapshot = Arc::new(all_addresses()?);
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, fresh.clone()));
        Ok(fresh)
    }
}

/// `kind = "address"`: passes while `address` is assigned to `interface`, answered from
/// the shared `AddressBook` (the same snapshot `ip_check` reads).
#[derive(Debug, Clone)]
pub struct AddressCheck {
    address: IpAddr,
    interface: String,
    book: Arc<AddressBook>,
}

impl AddressCheck {
    pub fn new(spec: &crate::config::AddressSpec, book: Arc<AddressBook>) -> Self {
        AddressCheck {
            address: spec.address,
            interface: spec.interface.clone(),
            book,
        }
    }

    pub fn run(&self) -> super::CheckOutcome {
        match self.book.missing(&self.interface, [self.address]) {
            Ok(missing) if missing.is_empty() => {
                super::CheckOutcome::pass(format!("{} on {}", self.address, self.interface))
            }
            Ok(_) => super::CheckOutcome::fail(
                super::Failure::AddressMissing,
                format!("{} not assigned to {}", self.address, self.interface),
            ),
            Err(e) => super::CheckOutcome::fail(
                super::Failure::Other,
                format!("cannot list the addresses of {}: {e}", self.interface),
            ),
        }
    }
}

const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;

fn subscribe() -> Result<OwnedFd, nix::Error> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &NetlinkAddr::new(0, RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR),
    )?;
    Ok(fd)
}

/// Any message (or an overrun) means "something changed": bump the generation.
async fn listen(fd: OwnedFd, generation: Arc<AtomicU64>) {
    // SAFETY: `fd` is an OwnedFd moved into the AsyncFd, which owns it (and so keeps it
    // open and unique) until the AsyncFd is dropped.
    let registered = unsafe { AsyncFd::register(fd) };
    let fd = match registered {
        Ok(fd) => fd,
        Err(e) => {
            warn!(error = %e, "cannot watch the netlink socket");
            // Never trust the cache again.
            loop {
                generation.fetch_add(1, Ordering::AcqRel);
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(mut ready) = fd.readable().await else {
            return;
        };
        loop {
            match recv(
                std::os::fd::AsRawFd::as_raw_fd(fd.get_ref()),
                &mut buf,
                MsgFlags::empty(),
            ) {
                Ok(_) | Err(nix::Error::ENOBUFS) => {
                    generation.fetch_add(1, Ordering::AcqRel);
                }
                Err(nix::Error::EAGAIN) => {
                    ready.clear_ready();
                    break;
                }
                Err(_) => {
                    generation.fetch_add(1, Ordering::AcqRel);
                    ready.clear_ready();
                    break;
                }
            }
        }
    }
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

    #[tokio::test]
    async fn book_answers_like_a_fresh_listing() {
        let book = AddressBook::watch();
        assert_eq!(
            book.addresses("lo").unwrap(),
            assigned_addresses("lo").unwrap()
        );
        // Second lookup is served from the snapshot and agrees.
        assert_eq!(
            book.addresses("lo").unwrap(),
            assigned_addresses("lo").unwrap()
        );
        assert!(book.addresses("no-such-if0").unwrap().is_empty());
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let absent: IpAddr = "203.0.113.254".parse().unwrap();
        assert_eq!(book.missing("lo", [lo, absent]).unwrap(), vec![absent]);
        assert_eq!(book.missing("no-such-if0", [lo]).unwrap(), vec![lo]);
        let plain = AddressBook::uncached();
        assert_eq!(plain.missing("lo", [lo, absent]).unwrap(), vec![absent]);
        assert_eq!(
            plain.addresses("lo").unwrap(),
            assigned_addresses("lo").unwrap()
        );
    }

    #[tokio::test]
    async fn address_check_passes_only_for_an_assigned_address() {
        let book = AddressBook::watch();
        let spec = |address: &str, interface: &str| crate::config::AddressSpec {
            address: address.parse().unwrap(),
            interface: interface.into(),
        };
        assert!(
            AddressCheck::new(&spec("127.0.0.1", "lo"), book.clone())
                .run()
                .passed()
        );
        let out = AddressCheck::new(&spec("203.0.113.254", "lo"), book.clone()).run();
        assert!(!out.passed());
        assert_eq!(out.detail, "203.0.113.254 not assigned to lo");
        assert!(
            !AddressCheck::new(&spec("127.0.0.1", "no-such-if0"), book)
                .run()
                .passed()
        );
    }
}
