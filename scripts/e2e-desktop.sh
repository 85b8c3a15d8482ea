#!/usr/bin/env bash
# e2e-desktop.sh: the real desktop app under test (DESIGN section 5). Builds ferry-desktop in
# debug (with ui/dist; the front end is built first when ui/ has its sources), then runs
# tests/desktop/app.mjs inside a private D-Bus session with GNOME Keyring unlocked, under
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
cargo build -p ferry-desktop -p ferry-server --locked
app=$target/debug/ferry-desktop
[[ -x $app ]] || { printf 'e2e-desktop: %s was not built\n' "$app" >&2; exit 1; }

scratch=$(mktemp -d)
server_pid=
# The test kills this server itself (and starts another on its port): a failing kill here
# must not turn a passing run into a failure under set -e.
trap '[[ -z $server_pid ]] || kill "$server_pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/run" "$scratch/ferry" "$scratch/synced"
chmod 700 "$scratch/run"

# A real ferry-server on 127.0.0.1 with user ann, for the full flow, on HTTPS with a
# self-signed certificate (as a home server has one): the window shows its fingerprint and
# subject, and the person trusts it before signing in.
password="e2e password $$"
printf '%s\n' "$password" | "$target/debug/ferry-server" user add ann --password-stdin --data "$scratch/server" >/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=ferry e2e server" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$scratch/key.pem" -out "$scratch/cert.pem" 2>"$scratch/openssl.err" ||
    { printf 'e2e-desktop: openssl could not make the test certificate:\n' >&2; cat "$scratch/openssl.err" >&2; exit 1; }
fingerprint=$(openssl x509 -in "$scratch/cert.pem" -noout -fingerprint -sha256 | sed 's/^.*=//')
"$target/debug/ferry-server" serve --listen 127.0.0.1:0 --data "$scratch/server" \
    --tls-cert "$scratch/cert.pem" --tls-key "$scratch/key.pem" >"$scratch/server.out" 2>"$scratch/server.err" &
server_pid=$!
server_url=
for _ in $(seq 1 100); do
    server_url=$(sed -n 's/^listening on //p' "$scratch/server.out" | head -n 1)
    [[ -n $server_url ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
done
[[ -n $server_url ]] || { printf 'e2e-desktop: ferry-server did not start:\n' >&2; cat "$scratch/server.err" >&2; exit 1; }
out=$root/target/e2e
mkdir -p "$out"

env -i PATH="$PATH" LANG=C.UTF-8 RUST_LOG="${RUST_LOG:-info}" \
    HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run" FERRY_HOME="$scratch/ferry" \
    FERRY_E2E_SERVER="$server_url" FERRY_E2E_PASSWORD="$password" FERRY_E2E_FINGERPRINT="$fingerprint" \
    FERRY_E2E_FOLDER="$scratch/synced" FERRY_E2E_SERVER_FILES="$scratch/server/files" \
    FERRY_E2E_SERVER_PID="$server_pid" FERRY_E2E_SERVER_BIN="$target/debug/ferry-server" \
    FERRY_E2E_SERVER_DATA="$scratch/server" FERRY_E2E_TLS_CERT="$scratch/cert.pem" FERRY_E2E_TLS_KEY="$scratch/key.pem" \
    dbus-run-session -- bash -c '
        echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        exec xvfb-run -a node "$@"
    ' e2e "$root/tests/desktop/app.mjs" "$app" "$root/target/tools/bin/tauri-driver" "$out"
