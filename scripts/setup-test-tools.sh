#!/usr/bin/env bash
# setup-test-tools.sh: the system programs the tests start, installed through apt-ensure.sh.
#
# - dbus (dbus-run-session) and gnome-keyring (gnome-keyring-daemon): the keyring tests run the
#   real Secret Service in a private D-Bus session, as
#   `dbus-run-session -- bash -c 'echo -n pass | gnome-keyring-daemon --unlock --components=secrets; ...'`
#   (DESIGN section 5). Without them those tests fail and say to run this.
# - nginx (Debian's nginx-light is enough; `nginx` pulls the full default build): the
#   hostile-server tests put ferry-server behind a real nginx with Debian's default body limit
#   (client_max_body_size 1m), started by the test as a child process with its own config.
# - ca-certificates (update-ca-certificates): the TLS tests install a CA of their own into the
#   system's trust store and remove it afterwards (crates/ferry-cli/tests/cli/tls.rs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bash "$root/scripts/apt-ensure.sh" dbus gnome-keyring nginx ca-certificates

for tool in dbus-run-session gnome-keyring-daemon nginx update-ca-certificates; do
    command -v "$tool" >/dev/null 2>&1 ||
        { printf 'setup-test-tools: %s is still missing after installing its package\n' "$tool" >&2; exit 1; }
done
