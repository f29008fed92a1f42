//! The ip_check address cache follows real address changes (netlink), inside a network
//! namespace this test creates. Needs root; skipped (loudly) outside CI without it.

use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anycast_warden::check::address::AddressBook;

struct Netns(String);

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

fn prerequisites_missing() -> Option<String> {
    if !nix::unistd::Uid::effective().is_root() {
        return Some("needs root to create a network namespace".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("needs iproute2's ip".into());
    }
    None
}

#[test]
fn address_book_sees_addresses_come_and_go() {
    if let Some(why) = prerequisites_missing() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run this test: {why}"
        );
        eprintln!("SKIPPED address_book_sees_addresses_come_and_go: {why}");
        return;
    }
    let ns = Netns(format!("awab{}", std::process::id() % 100_000));
    ip(&["netns", "add", &ns.0]);
    ip(&["-n", &ns.0, "link", "set", "lo", "up"]);
    let name = ns.0.clone();
    // setns changes only the calling thread, so the runtime lives on a thread of its own.
    let handle = std::thread::spawn(move || {
        let file = std::fs::File::open(format!("/run/netns/{name}")).expect("open netns");
        nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let book = AddressBook::watch();
            let addr: IpAddr = "203.0.113.77".parse().unwrap();
            let v6: IpAddr = "2001:db8::77".parse().unwrap();
            assert!(!book.addresses("lo").unwrap().contains(&addr));
            ip(&["-n", &name, "addr", "add", "203.0.113.77/32", "dev", "lo"]);
            ip(&[
                "-n",
                &name,
                "-6",
                "addr",
                "add",
                "2001:db8::77/128",
                "dev",
                "lo",
                "nodad",
            ]);
            wait_until(&book, |set| set.contains(&addr) && set.contains(&v6)).await;
            ip(&["-n", &name, "addr", "del", "203.0.113.77/32", "dev", "lo"]);
            wait_until(&book, |set| !set.contains(&addr) && set.contains(&v6)).await;
        });
    });
    handle.join().expect("the namespace thread passed");
}

async fn wait_until(book: &AddressBook, ok: impl Fn(&std::collections::BTreeSet<IpAddr>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let set = book.addresses("lo").expect("list addresses");
        if ok(&set) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the address book never caught up: {set:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
