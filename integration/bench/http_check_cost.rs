//! The cost of the http check itself, as a count that a loaded machine does not change:
//! run under `valgrind --tool=callgrind` (or `perf stat`) with two round counts, the
//! difference divided by the extra checks is instructions (or CPU time) per check.
//!
//! ```text
//! cargo build --release --example http_check_cost
//! http_check_cost serve 47112 &                 # a keep-alive server, in its own process
//! valgrind --tool=callgrind http_check_cost run 47112 100 10
//! valgrind --tool=callgrind http_check_cost run 47112 100 60
//! ```
//! `run PORT N ROUNDS`: N services' http checks (`GET /health`, `body_contains = "ok"`,
//! as the `native` scenario) built from configuration text, all run together ROUNDS times
//! on a current-thread runtime, as the daemon runs them.

use std::path::Path;
use std::time::Duration;

use anycast_warden::check::address::AddressBook;
use anycast_warden::check::{Check, CheckContext};

// The namespace server in it is the bench's; this example uses only its connection handler.
#[allow(dead_code)]
#[path = "http_server.rs"]
mod http_server;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> u64 {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| usage())
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args.first().map(String::as_str) {
        Some("serve") => runtime.block_on(serve(arg(1) as u16)),
        Some("run") => runtime.block_on(run(arg(1) as u16, arg(2) as usize, arg(3))),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: http_check_cost serve PORT | run PORT N ROUNDS");
    std::process::exit(2);
}

async fn run(port: u16, n: usize, rounds: u64) {
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "[[service]]\nname = \"s{i}\"\nprefixes = [\"203.0.113.{}/32\"]\nip_check = false\ntimeout = \"900ms\"\n[[service.check]]\nkind = \"http\"\nurl = \"http://127.0.0.1:{port}/health\"\nbody_contains = \"ok\"\n",
            i % 250 + 1
        ));
    }
    let config = anycast_warden::config::load_str(Path::new("cost.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}"));
    let addresses = AddressBook::uncached();
    let checks: Vec<Check> = config
        .services
        .iter()
        .map(|s| {
            let ctx = CheckContext {
                service: s.name.clone(),
                addresses: addresses.clone(),
            };
            Check::new(&s.checks[0], &ctx)
        })
        .collect();
    let mut failed = 0;
    for _ in 0..rounds {
        let outcomes = futures_util::future::join_all(
            checks.iter().map(|c| c.run(Duration::from_millis(900))),
        )
        .await;
        failed += outcomes.iter().filter(|o| !o.passed()).count();
    }
    println!("{} checks, {failed} failed", n as u64 * rounds);
}

/// Answers every request with 200 "ok" and keeps connections open, with the `native`
/// scenario's own connection handler.
async fn serve(port: u16) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(http_server::serve(stream));
    }
}
