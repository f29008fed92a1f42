//! The tests that need no lab, one test binary with a module per area: the configuration
//! and its documentation, the checks against servers on loopback, the BIRD backend and the
//! BGP speaker against local peers, the operator's CLI against a running daemon, the
//! architecture, the fuzz corpus and the supply chain. `cargo test --test tests config::`
//! runs one area. `exec_robustness` counts this process's file descriptors and children,
//! so it has a binary of its own (see Cargo.toml).

mod common;
mod support;

mod address_book;
mod architecture;
mod bgp_speaker;
mod bird_backend;
mod broken_configs;
mod check_cabourotte;
mod check_dns;
mod check_http;
mod check_tls;
mod check_udp_tftp;
mod config;
mod config_bgp;
mod config_checks;
mod config_dampening;
mod config_dns;
mod config_docs;
mod config_frr;
mod config_ops;
mod contrib_frr;
mod fuzz_corpus;
mod glibc;
mod metrics_consumers;
mod metrics_docs;
mod operations;
mod supply_chain;
