#!/usr/bin/env bash
# setup-ui.sh: make sure the window (ui/) can be checked, built and tested.
#
# Node.js and npm come through setup-node.sh (which also installs the test peers); the window
# needs Node 20.19 or later (Vite 8). Its packages are installed with `npm ci` from
# ui/package-lock.json, only when ui/node_modules is missing or older than the lock file, so a
# second run does not touch the network. The browser tests drive Debian's Chromium
# (/usr/bin/chromium), installed through apt-ensure.sh when missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ui=$root/ui

die() {
    printf 'setup-ui: %s\n' "$*" >&2
    exit 1
}

bash "$root/scripts/setup-node.sh"

version=$(node --version) || die "node is installed but does not run"
IFS=. read -r major minor _ <<<"${version#v}"
[[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || die "cannot read the node version from $(printf '%q' "$version")"
if ((major < 20 || (major == 20 && minor < 19))); then
    die "node $version is too old: the window's build (Vite 8) needs Node.js 20.19 or later (for example from https://nodejs.org or NodeSource)"
fi

[[ -f $ui/package-lock.json ]] || die "$ui/package-lock.json is missing"
installed=$ui/node_modules/.package-lock.json
if [[ ! -f $installed || $ui/package-lock.json -nt $installed ]]; then
    printf 'setup-ui: installing the window'\''s packages (npm ci --prefix ui)\n' >&2
    npm ci --prefix "$ui" --no-audit --no-fund ||
        die "npm ci failed in $ui (see above); it needs the npm registry once, then works offline"
fi

bash "$root/scripts/apt-ensure.sh" chromium
[[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is missing after installing the chromium package"
