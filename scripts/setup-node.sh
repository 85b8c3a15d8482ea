#!/usr/bin/env bash
# setup-node.sh: make sure the Node.js test peers in tests/peers/ can run.
#
# Checks that node (18 or later) and npm are installed, installing Debian's `nodejs npm`
# through apt-ensure.sh when either command is missing (an older node is reported, not
# replaced: that is the owner's choice). Then installs the pinned peers with `npm ci`, but only
# when tests/peers/node_modules is missing or older than package-lock.json, so a second
# `make test` does not touch the network. `npm ci` installs exactly what the lock file says.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers=$root/tests/peers
min_major=18

die() {
    printf 'setup-node: %s\n' "$*" >&2
    exit 1
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    bash "$root/scripts/apt-ensure.sh" nodejs npm
fi
command -v node >/dev/null 2>&1 || die "node is still missing after installing nodejs; install Node.js $min_major or later"
command -v npm >/dev/null 2>&1 || die "npm is still missing after installing npm; install npm (it comes with Node.js from nodejs.org)"

version=$(node --version) || die "node is installed but does not run"
major=${version#v}
major=${major%%.*}
[[ $major =~ ^[0-9]+$ ]] || die "cannot read the node version from $(printf '%q' "$version")"
((major >= min_major)) ||
    die "node $version is too old: the test peers need Node.js $min_major or later (for example from https://nodejs.org or NodeSource)"

[[ -f $peers/package-lock.json ]] || die "$peers/package-lock.json is missing"
installed=$peers/node_modules/.package-lock.json
if [[ ! -f $installed || $peers/package-lock.json -nt $installed ]]; then
    printf 'setup-node: installing the test peers (npm ci --prefix tests/peers)\n' >&2
    npm ci --prefix "$peers" --no-audit --no-fund ||
        die "npm ci failed in $peers (see above); it needs the npm registry once, then works offline"
fi
