#!/usr/bin/env bash
# Quick start: build anycast-warden and watch it at work against a throwaway lab.
#
#   sudo bash integration/demo.sh        (as root, on Debian 12; needs cargo)
#
# It installs the lab's daemons (integration/setup.sh), builds the release binary, then
# makes two network namespaces joined by a veth pair:
#
#   awdemo-host: BIRD 2 (AS 65001) + anycast-warden     awdemo-rtr: GoBGP (AS 65000)
#     lo: 203.0.113.53/32, 2001:db8::53/128   ── eBGP ──   shows what the host announces
#     awdemo-h0 192.0.2.1/30                 ◀═ veth ═▶    awdemo-r0 192.0.2.2/30
#
# The warden runs one service, "demo", whose health check tests for a flag file. The
# script stops and starts that "service" (removes and creates the file) a few times and
# prints the router's routing table every second, so you see the prefixes come and go.
# On exit (also Ctrl-C) it stops only the processes it started and deletes the namespaces.
set -euo pipefail

HOST=awdemo-host
RTR=awdemo-rtr
ROUNDS=${DEMO_ROUNDS:-2}

cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "demo.sh: run me as root (network namespaces and packages need it)" >&2
    exit 1
fi
for ns in "$HOST" "$RTR"; do
    if [ -e "/run/netns/$ns" ]; then
        echo "demo.sh: namespace $ns already exists (an earlier demo still running?)." >&2
        echo "         If not, remove it with: ip netns del $ns" >&2
        exit 1
    fi
done

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Installing iproute2, bird2, gobgpd (integration/setup.sh)"
bash integration/setup.sh

say "Building anycast-warden (release)"
cargo build --release --locked
BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/anycast-warden"

D=$(mktemp -d /tmp/awdemo.XXXXXX)
PIDS=()           # every process this script started, in start order
NAMESPACES=()     # every namespace it created

cleanup() {
    set +e
    say "Cleaning up"
    local i pid
    # Newest first: the warden withdraws through BIRD, so BIRD must still be there.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns"; done
    rm -rf "$D"
    echo "done."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Making the lab: namespaces $HOST and $RTR, veth, addresses"
ip netns add "$HOST"; NAMESPACES+=("$HOST")
ip netns add "$RTR"; NAMESPACES+=("$RTR")
ip link add awdemo-h0 type veth peer name awdemo-r0
ip link set awdemo-h0 netns "$HOST"
ip link set awdemo-r0 netns "$RTR"
ip -n "$HOST" addr add 192.0.2.1/30 dev awdemo-h0
ip -n "$RTR" addr add 192.0.2.2/30 dev awdemo-r0
ip -n "$HOST" -6 addr add 2001:db8:1::1/64 dev awdemo-h0 nodad
ip -n "$RTR" -6 addr add 2001:db8:1::2/64 dev awdemo-r0 nodad
for ns in "$HOST" "$RTR"; do ip -n "$ns" link set lo up; done
ip -n "$HOST" link set awdemo-h0 up
ip -n "$RTR" link set awdemo-r0 up
# The anycast service addresses live on the host's loopback.
ip -n "$HOST" addr add 203.0.113.53/32 dev lo
ip -n "$HOST" addr add 2001:db8::53/128 dev lo

say "Starting GoBGP (the router) and BIRD 2 (the host)"
cat > "$D/gobgpd.toml" <<'EOF'
[global.config]
  as = 65000
  router-id = "192.0.2.2"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.1"
    peer-as = 65001
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
EOF
GOBGP=(gobgp --target "unix://$D/gobgp.sock")
ip netns exec "$RTR" gobgpd -f "$D/gobgpd.toml" -t toml --api-hosts "unix://$D/gobgp.sock" \
    --pprof-disable -p > "$D/gobgpd.log" 2>&1 &
PIDS+=($!)

# The include file that anycast-warden rewrites; it must exist before BIRD starts.
printf 'define ANYCAST_PREFIXES = [ ];\ndefine ANYCAST6_PREFIXES = [ ];\n' > "$D/anycast-prefixes.conf"
cat > "$D/bird.conf" <<EOF
log "$D/bird.log" all;
router id 192.0.2.1;
include "$D/anycast-prefixes.conf";
protocol device { scan time 10; }
protocol direct { ipv4; ipv6; interface "lo"; }
protocol bgp rtr {
  local 192.0.2.1 as 65001; neighbor 192.0.2.2 as 65000;
  connect delay time 1; connect retry time 1;
  ipv4 { import none; export where net ~ ANYCAST_PREFIXES; };
  ipv6 { import none; export where net ~ ANYCAST6_PREFIXES; next hop address 2001:db8:1::1; };
}
EOF
ip netns exec "$HOST" bird -f -c "$D/bird.conf" -s "$D/bird.ctl" -P "$D/bird.pid" \
    > "$D/bird.out" 2>&1 &
PIDS+=($!)

rib() {
    local all
    all=$( { "${GOBGP[@]}" global rib -a ipv4; "${GOBGP[@]}" global rib -a ipv6; } 2>/dev/null \
        | awk '$1 ~ /^\*/ { print $2 }' | tr '\n' ' ')
    echo "${all:-(empty)}"
}

printf 'waiting for the BGP session'
for i in $(seq 300); do
    if "${GOBGP[@]}" neighbor 2>/dev/null | grep -q Establ; then break; fi
    [ "$i" -eq 300 ] && { echo; echo "demo.sh: the BGP session did not come up; see $D" >&2; exit 1; }
    printf '.'; sleep 0.1
done
echo " established."

say "Starting anycast-warden in $HOST with one service, \"demo\""
mkdir -p "$D/conf.d"
cat > "$D/config.toml" <<EOF
[daemon]
state_dir = "$D/state"

[defaults]
interval = "1s"
timeout = "1s"
rise = 2
fall = 2
interface = "lo"

[bird]
variant = "bird2"
include_file = "$D/anycast-prefixes.conf"
control_socket = "$D/bird.ctl"

[[service]]
name = "demo"
prefixes = ["203.0.113.53/32", "2001:db8::53"]
[[service.check]]
kind = "exec"
command = ["/bin/test", "-e", "$D/demo-service-is-up"]
EOF
sed 's/^/    /' "$D/config.toml"
# Its log goes to the terminal as it happens, beside the router's view.
ip netns exec "$HOST" "$BIN" run --config "$D/config.toml" --config-dir "$D/conf.d" \
    > >(sed -u 's/^/    warden| /' >&2) 2>&1 &
WARDEN=$!
PIDS+=("$WARDEN")

# Prints the router's RIB every second until it is (or is not) announcing 203.0.113.53/32.
watch_router() {
    local want=$1 t
    for t in $(seq 0 20); do
        local now
        now=$(rib)
        printf '    t=%2ss  router RIB: %s\n' "$t" "$now"
        case "$want:$now" in
            up:*203.0.113.53/32*) return 0 ;;
            down:*203.0.113.53/32*) ;;
            down:*) return 0 ;;
        esac
        sleep 1
    done
    echo "demo.sh: the router did not follow within 20 s; see the warden log above" >&2
    return 1
}

for round in $(seq "$ROUNDS"); do
    say "Round $round: starting the demo service (its check passes from now on)"
    touch "$D/demo-service-is-up"
    watch_router up
    say "Round $round: stopping the demo service (its check fails from now on)"
    rm -f "$D/demo-service-is-up"
    watch_router down
done

say "Starting the service once more, then stopping anycast-warden (SIGTERM withdraws all)"
touch "$D/demo-service-is-up"
watch_router up
kill -TERM "$WARDEN"
wait "$WARDEN" && echo "    anycast-warden exited with status 0"
printf '    router RIB after exit: %s\n' "$(rib)"
say "BIRD reconfigured $(grep -c '<INFO> Reconfiguring$' "$D/bird.log") times during the demo"
