#!/usr/bin/env bash
# e2e-desktop.sh: the real desktop app under test (DESIGN section 5). Builds ferry-desktop in
# debug (with ui/dist; the front end is built first when ui/ has its sources), then runs
# tests/desktop/smoke.mjs inside a private D-Bus session with GNOME Keyring unlocked, under
# xvfb-run, with scratch HOME, XDG_RUNTIME_DIR and FERRY_HOME. Screenshots go to target/e2e/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

bash "$root/scripts/setup-e2e.sh"

if [[ -f $root/ui/package.json ]]; then
    [[ -d $root/ui/node_modules ]] || npm ci --prefix "$root/ui" --no-audit --no-fund
    npm --prefix "$root/ui" run build
fi
[[ -f $root/ui/dist/index.html ]] ||
    { printf 'e2e-desktop: ui/dist/index.html is missing: build the window (ui/) first\n' >&2; exit 1; }
cargo build -p ferry-desktop --locked
app=$target/debug/ferry-desktop
[[ -x $app ]] || { printf 'e2e-desktop: %s was not built\n' "$app" >&2; exit 1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/run" "$scratch/ferry"
chmod 700 "$scratch/run"
out=$root/target/e2e
mkdir -p "$out"

env -i PATH="$PATH" LANG=C.UTF-8 RUST_LOG="${RUST_LOG:-info}" \
    HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run" FERRY_HOME="$scratch/ferry" \
    FERRY_E2E_FULL="${FERRY_E2E_FULL:-0}" \
    dbus-run-session -- bash -c '
        echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        exec xvfb-run -a node "$@"
    ' e2e "$root/tests/desktop/smoke.mjs" "$app" "$root/target/tools/bin/tauri-driver" "$out"
