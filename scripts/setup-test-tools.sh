#!/usr/bin/env bash
# setup-test-tools.sh: the system programs the tests start, installed through apt-ensure.sh.
#
# - dbus (dbus-run-session) and gnome-keyring (gnome-keyring-daemon): the keyring tests run the
#   real Secret Service in a private D-Bus session, as
#   `dbus-run-session -- bash -c 'echo -n pass | gnome-keyring-daemon --unlock --components=secrets; ...'`
#   (DESIGN section 5). Without them those tests fail and say to run this.
# - ca-certificates (update-ca-certificates): the TLS tests install a CA of their own into the
#   system's trust store and remove it afterwards (crates/ferry-cli/tests/cli/tls.rs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bash "$root/scripts/apt-ensure.sh" dbus gnome-keyring ca-certificates

for tool in dbus-run-session gnome-keyring-daemon update-ca-certificates; do
    command -v "$tool" >/dev/null 2>&1 ||
        { printf 'setup-test-tools: %s is still missing after installing its package\n' "$tool" >&2; exit 1; }
done
