#!/usr/bin/env bash
# package-deb.sh: builds the desktop app's .deb with the Tauri CLI (`tauri build --bundles
# deb`, release mode, ui/ built first by tauri.conf.json's beforeBuildCommand) and prints the
# .deb's path as the last line. Called by `make package`; needs scripts/setup-desktop.sh's
# packages and Node.js (the Tauri CLI comes from ui/'s npm dependencies, a prebuilt binary).
#
# No AppImage: bundling one downloads tools, and fails offline (DESIGN section 5).
# Depends: Tauri adds libwebkit2gtk-4.1-0 and libgtk-3-0 itself; tauri.conf.json adds
# libayatana-appindicator3-1 (the tray). scripts/check-deb.sh checks all three.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ui=$root/ui

die() {
    printf 'package-deb: %s\n' "$*" >&2
    exit 1
}

[[ -f $ui/package.json ]] || die "ui/package.json is missing: the window's front end is not in this checkout"
[[ -f $ui/package-lock.json ]] || die "ui/package-lock.json is missing (npm ci needs it)"
command -v npm >/dev/null 2>&1 || bash "$root/scripts/apt-ensure.sh" nodejs npm

# npm ci only when node_modules is missing or older than the lock file.
installed=$ui/node_modules/.package-lock.json
if [[ ! -f $installed || $ui/package-lock.json -nt $installed ]]; then
    printf 'package-deb: installing the ui dependencies (npm ci --prefix ui)\n' >&2
    npm ci --prefix "$ui" --no-audit --no-fund || die "npm ci failed in ui/ (see above)"
fi
tauri=$ui/node_modules/.bin/tauri
[[ -x $tauri ]] || die "$tauri is missing: ui/package.json must list @tauri-apps/cli 2"

# Tell the CLI where the Rust app and the front end are, whatever the current directory.
export TAURI_APP_PATH=$root/src-tauri
export TAURI_FRONTEND_PATH=$ui
(cd "$root/src-tauri" && "$tauri" build --bundles deb) || die "tauri build failed (see above)"

target=${CARGO_TARGET_DIR:-$root/target}
deb=$(ls -t "$target"/release/bundle/deb/*.deb 2>/dev/null | head -n 1 || true)
[[ -n $deb && -f $deb ]] || die "tauri build finished but left no .deb in $target/release/bundle/deb/"
printf '%s\n' "$deb"
