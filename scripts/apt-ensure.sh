#!/usr/bin/env bash
# apt-ensure.sh PKG...: make sure the named Debian packages are installed.
#
# Only packages that are missing get installed: the package index is refreshed once, and only
# when something has to be installed, and recommends are left out. Needs root or sudo for that;
# when everything is already there it prints nothing and needs no privileges at all.
set -euo pipefail

die() {
    printf 'apt-ensure: %s\n' "$*" >&2
    exit 1
}

if [[ $# -eq 0 ]]; then
    printf 'usage: %s PKG...\n' "${0##*/}" >&2
    exit 2
fi

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    die "this machine has no dpkg/apt (Ferry's scripts support Debian and Ubuntu); install these by hand: $*"
fi

missing=()
for pkg in "$@"; do
    # "install ok installed" normally, "hold ok installed" for a held package; anything else
    # (not known, removed with config files left, half-installed) means it must be installed.
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != *" ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $EUID -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    # Without a terminal nobody can type a password: fail at once instead of hanging.
    if [[ -t 0 ]]; then
        as_root=(sudo)
    else
        as_root=(sudo -n)
    fi
else
    die "missing packages: ${missing[*]}. Installing them needs root, and sudo is not available. Run as root: apt-get install --no-install-recommends ${missing[*]}"
fi

printf 'apt-ensure: installing missing packages: %s\n' "${missing[*]}" >&2
apt_get=("${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
"${apt_get[@]}" -q update ||
    die "apt-get update failed (see above); the missing packages were: ${missing[*]}"
"${apt_get[@]}" -q install -y --no-install-recommends "${missing[@]}" ||
    die "could not install: ${missing[*]} (see the apt-get output above)"
