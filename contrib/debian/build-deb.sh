#!/usr/bin/env bash
# Builds the Debian package from this repository with dpkg-deb alone (no debhelper, no
# cargo-deb): stages the tree, writes the control files, and prints the .deb's path.
#
#   bash contrib/debian/build-deb.sh            # target/debian/anycast-warden_<version>_<arch>.deb
#   bash contrib/debian/build-deb.sh --binary PATH   # package this binary instead of building
#   bash contrib/debian/build-deb.sh --out DIR       # write the .deb into DIR
#
# Without --binary it builds the release profile (`cargo build --release --locked`, fat
# LTO; respects CARGO_TARGET_DIR). Needs dpkg-dev (dpkg-shlibdeps), binutils (strip) and
# gzip. SOURCE_DATE_EPOCH (default: the last commit's time) dates the files, the man
# pages and changelog.Debian, so the same commit gives the same package.
set -euo pipefail
umask 022

repo=$(cd "$(dirname "$0")/../.." && pwd)
here="$repo/contrib/debian"
binary=""
out="$repo/target/debian"
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "build-deb.sh: unknown argument $1 (--binary PATH, --out DIR)" >&2; exit 2 ;;
    esac
done

for tool in dpkg-deb dpkg-shlibdeps strip readelf gzip; do
    if ! command -v "$tool" > /dev/null; then
        echo "build-deb.sh: $tool is missing (apt-get install dpkg-dev binutils gzip)" >&2
        exit 1
    fi
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
if [ -z "$version" ]; then
    echo "build-deb.sh: no version in $repo/Cargo.toml" >&2
    exit 1
fi
deb_version="$version-${DEB_REVISION:-1}"
arch=$(dpkg --print-architecture)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct 2> /dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

if [ -z "$binary" ]; then
    (cd "$repo" && cargo build --release --locked)
    binary="${CARGO_TARGET_DIR:-$repo/target}/release/anycast-warden"
fi
if [ ! -x "$binary" ]; then
    echo "build-deb.sh: $binary is not an executable" >&2
    exit 1
fi

mkdir -p "$out"
work=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$work"' EXIT
# debian/PACKAGE: where dpkg-shlibdeps expects the binaries it reads.
root="$work/debian/anycast-warden"
doc="$root/usr/share/doc/anycast-warden"

install -d "$root/DEBIAN" "$root/usr/bin" "$root/lib/systemd/system" "$root/usr/lib/sysusers.d" \
    "$root/usr/lib/tmpfiles.d" "$root/usr/share/man/man5" "$root/usr/share/man/man8" \
    "$root/usr/share/bash-completion/completions" "$root/usr/share/zsh/vendor-completions" \
    "$root/usr/share/fish/vendor_completions.d" "$root/etc/anycast-warden/conf.d" \
    "$root/usr/share/lintian/overrides" "$doc"

# Stripped as dh_strip does (Debian policy 10.1); the symbols are not loaded at run time.
install -m 0755 "$binary" "$root/usr/bin/anycast-warden"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/anycast-warden"
bin="$root/usr/bin/anycast-warden"

install -m 0644 "$repo/contrib/systemd/anycast-warden.service" "$root/lib/systemd/system/"
install -m 0644 "$here/anycast-warden.sysusers" "$root/usr/lib/sysusers.d/anycast-warden.conf"
install -m 0644 "$here/anycast-warden.tmpfiles" "$root/usr/lib/tmpfiles.d/anycast-warden.conf"

"$bin" man --dir "$work/man"
install -m 0644 "$work/man/anycast-warden.8" "$root/usr/share/man/man8/"
install -m 0644 "$work/man/anycast-warden.toml.5" "$root/usr/share/man/man5/"
gzip -9n "$root/usr/share/man/man8/anycast-warden.8" "$root/usr/share/man/man5/anycast-warden.toml.5"

"$bin" completions bash > "$root/usr/share/bash-completion/completions/anycast-warden"
"$bin" completions zsh > "$root/usr/share/zsh/vendor-completions/_anycast-warden"
"$bin" completions fish > "$root/usr/share/fish/vendor_completions.d/anycast-warden.fish"

install -m 0644 "$repo/contrib/config/config.toml" "$root/etc/anycast-warden/config.toml"
install -m 0644 "$repo"/contrib/config/conf.d/*.toml "$root/etc/anycast-warden/conf.d/"

install -m 0644 "$here/copyright" "$doc/copyright"
gzip -9n < "$repo/CHANGELOG.md" > "$doc/changelog.gz"
{
    printf 'anycast-warden (%s) unstable; urgency=medium\n\n' "$deb_version"
    printf '  * Built from the repository with contrib/debian/build-deb.sh; the changes\n'
    printf '    are in /usr/share/doc/anycast-warden/changelog.gz.\n\n'
    printf ' -- anycast-warden developers <anycast-warden@example.org>  %s\n' \
        "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$doc/changelog.Debian.gz"
install -m 0644 "$here/lintian-overrides" "$root/usr/share/lintian/overrides/anycast-warden"

# Depends: what the binary's shared libraries need (dpkg-shlibdeps wants a debian/control).
printf 'Source: anycast-warden\n\nPackage: anycast-warden\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e debian/anycast-warden/usr/bin/anycast-warden |
    sed -n 's/^shlibs:Depends=//p')
# dpkg-shlibdeps does not count the version node GLIBC_ABI_DT_RELR (packed relative
# relocations, build.rs): glibc refuses such a binary before 2.36.
if readelf -V "$bin" | grep -q GLIBC_ABI_DT_RELR; then
    shlibs=$(printf '%s' "$shlibs" | sed 's/libc6 (>= [0-9.]*)/libc6 (>= 2.36)/')
fi
# passwd: usermod/useradd in postinst.
depends="$shlibs, passwd"

find "$root/etc" -type f -printf '/etc/%P\n' | sort > "$root/DEBIAN/conffiles"
install -m 0755 "$here/postinst" "$here/prerm" "$here/postrm" "$root/DEBIAN/"
size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@DEPENDS@/$depends/" "$here/control.in" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

find "$root" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +
deb="$out/anycast-warden_${deb_version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" > /dev/null
echo "$deb"
