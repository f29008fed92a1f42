#!/usr/bin/env bash
# Installs what the end-to-end tests and the demo need, on a fresh Debian 12 machine, as
# root. Safe to run again: every step checks before it acts.
#
#   iproute2   ip netns / veth for the lab
#   gcc        only when no C compiler is there: cargo links through `cc`
#   bird2      BIRD 2 (the host's routing daemon for variant = "bird2")
#   gobgpd     GoBGP (gobgpd + gobgp), the observing router
#   frr        FRR (zebra, staticd, bgpd, vtysh) for the FRR backend's tests
#   knot       Knot DNS (knotd, knotc): the authoritative primary of the DNS failover tests
#   knot-dnsutils  kdig: the tests' real queries of that zone
#   util-linux setpriv: integration/privilege.rs runs the warden as nobody with chosen
#              capabilities (essential in Debian, listed for minimal images)
#   procps     sysctl: the lab turns off IPv6 duplicate address detection in its
#              namespaces (a minimal Debian 12 has no sysctl)
#   etcd-server  etcd 3.4 (/usr/bin/etcd) for the agreement tests (integration/agreement.rs,
#              and the three-warden DNS test in integration/dns.rs)
#   protobuf-compiler, libprotobuf-dev
#              protoc and the well-known .proto files (google/protobuf/descriptor.proto):
#              the etcd-client crate compiles etcd's API definitions when it is built, so
#              even `cargo build` needs them
#   dpkg-dev, binutils, lintian
#              contrib/debian/build-deb.sh (dpkg-shlibdeps, strip) and the lintian check
#              of its package (integration/package.rs)
#   debootstrap, systemd
#              the clean Debian 12 root the package is installed into, and systemd-tmpfiles
#              for its tmpfiles.d entry
#   mandoc, groff-base
#              the lint of both manual pages
#   prometheus, prometheus-node-exporter
#              promtool (`promtool check metrics`) and node_exporter's textfile collector
#              read the warden's metrics in tests/metrics_consumers.rs (the test starts its
#              own node_exporter on a loopback port; the packaged service is not needed)
#   /opt/bird1 BIRD 1.6's bird, bird6, birdc, birdc6 (variant = "bird1"): Debian's `bird`
#              package conflicts with bird2, so its binaries are unpacked into a folder.
#
# AW_BIRD1_ROOT=DIR unpacks BIRD 1.6 elsewhere; then point the tests at it with
# AW_BIRD1_SBIN=DIR/usr/sbin.
set -euo pipefail

BIRD1_ROOT=${AW_BIRD1_ROOT:-/opt/bird1}

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run me as root (it installs packages)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# No init system runs here, but a package's maintainer script may still try to start its
# service through invoke-rc.d. policy-rc.d exit 101 = "do not start anything"; it only
# lives while this script installs packages, and an existing one is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT

need=()
# libfaketime: integration/clock.rs moves the warden's wall clock (LD_PRELOAD), never the machine's.
for pkg in iproute2 util-linux bird2 gobgpd frr procps tcpdump knot knot-dnsutils etcd-server protobuf-compiler libprotobuf-dev libfaketime \
           dpkg-dev binutils lintian debootstrap systemd mandoc groff-base \
           prometheus prometheus-node-exporter; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
# cargo links through the system C compiler; a machine with rustup but no compiler cannot
# build the tests.
if ! command -v cc > /dev/null; then
    need+=(gcc libc6-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
fi

# The bird2 and frr packages ship services that, on a machine with an init system, would
# start a BIRD or FRR in the root namespace. The tests start their own daemons inside
# their own namespaces, with sockets and files in their own tempdirs, and never touch
# /run/bird or /run/frr, so a system BIRD or FRR does no harm; nothing to undo.
# Likewise etcd-server: a system etcd (where an init system starts it) listens on
# 127.0.0.1:2379/2380, while the agreement tests start their own etcd on free loopback
# ports with a data dir in a tempdir, so the two never meet.

if [ ! -x "$BIRD1_ROOT/usr/sbin/bird6" ]; then
    work=$(mktemp -d)
    chown _apt "$work" 2>/dev/null || true   # apt-get download fetches as the _apt user
    (
        cd "$work"
        # apt-get download needs the package lists; refresh them if this is a fresh box.
        apt-get download bird || { apt-get update && apt-get download bird; }
        mkdir -p "$BIRD1_ROOT"
        dpkg -x bird_*.deb "$BIRD1_ROOT"
    )
    rm -rf "$work"
fi

# BIRD 1.6 was built against the same Debian release, so its libraries are usually there
# already (bird2 pulls in the same ones). Install whatever ldd still reports missing.
missing_libs() {
    local bin
    for bin in "$BIRD1_ROOT"/usr/sbin/bird "$BIRD1_ROOT"/usr/sbin/bird6 \
               "$BIRD1_ROOT"/usr/sbin/birdc "$BIRD1_ROOT"/usr/sbin/birdc6; do
        ldd "$bin" | awk '/not found/ { print $1 }'
    done | sort -u
}
libs=$(missing_libs)
if [ -n "$libs" ]; then
    pkgs=()
    for lib in $libs; do
        case "$lib" in
            libreadline.so.8) pkgs+=(libreadline8) ;;
            libncurses.so.6 | libncursesw.so.6 | libtinfo.so.6) pkgs+=(libncurses6 libtinfo6) ;;
            libssh.so.4) pkgs+=(libssh-4) ;;
            *) echo "setup.sh: BIRD 1.6 needs $lib and I do not know its package" >&2; exit 1 ;;
        esac
    done
    apt-get install -y --no-install-recommends "${pkgs[@]}"
    libs=$(missing_libs)
    if [ -n "$libs" ]; then
        echo "setup.sh: BIRD 1.6 still misses: $libs" >&2
        exit 1
    fi
fi

"$BIRD1_ROOT/usr/sbin/bird" --version 2>&1 | sed 's/^/setup.sh: BIRD 1.6 in place: /'
bird --version 2>&1 | sed 's/^/setup.sh: /'
gobgpd --version | sed 's/^/setup.sh: /'
dpkg-query -W -f='setup.sh: FRR ${Version}\n' frr
etcd --version | sed -n 1p | sed 's/^/setup.sh: /'
protoc --version | sed 's/^/setup.sh: /'
