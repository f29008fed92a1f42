#!/usr/bin/env bash
# Runs the benchmarks against real BIRD or FRR and GoBGP in network namespaces and rewrites
# BENCHMARKS.md and the plots in integration/bench/results/.
#   integration/bench/run.sh [reaction|confirm|burst|footprint|native|fresh|order|report|all] \
#                            [bird2|bird1|frr-network|frr-static|frr-static-wq0|bgp]
# As root. Knobs: AW_BENCH_EVENTS (reaction cycles, default 50), AW_BENCH_SECONDS
# (footprint window, default 60), AW_BENCH_MAX_N (largest N, default 10000).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "run.sh: needs root (network namespaces)" >&2
  exit 2
fi
if ! command -v bird >/dev/null || ! command -v gobgpd >/dev/null || ! command -v vtysh >/dev/null || ! command -v tcpdump >/dev/null; then
  bash integration/setup.sh
fi
# `order` runs the daemon under callgrind to regenerate link/symbol-order.txt.
if [ "${1:-}" = order ] && ! command -v valgrind >/dev/null; then
  apt-get install -y valgrind
fi
# `cargo bench` builds the warden and the harness with optimisations.
exec cargo bench --locked --bench warden -- "${1:-all}" ${2:+"$2"}
