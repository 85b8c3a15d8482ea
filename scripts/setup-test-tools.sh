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
# - python-dbusmock (PyPI, pinned in tests/python/requirements.txt): NetworkManager, logind
#   and UPower for the tests of metered networks, sleep and battery (DESIGN section 5), in a
#   virtual environment at target/test-tools/dbusmock over Debian's python3 with its
#   python3-dbus and python3-gi (python3-venv makes the environment).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bash "$root/scripts/apt-ensure.sh" dbus gnome-keyring nginx ca-certificates \
    python3 python3-venv python3-dbus python3-gi

for tool in dbus-run-session gnome-keyring-daemon nginx update-ca-certificates; do
    command -v "$tool" >/dev/null 2>&1 ||
        { printf 'setup-test-tools: %s is still missing after installing its package\n' "$tool" >&2; exit 1; }
done

venv="$root/target/test-tools/dbusmock"
requirements="$root/tests/python/requirements.txt"
stamp="$venv/.requirements"
if ! cmp -s "$requirements" "$stamp" 2>/dev/null || ! [ -x "$venv/bin/python3" ]; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi
"$venv/bin/python3" -c 'import dbusmock, dbus, gi' ||
    { echo 'setup-test-tools: python-dbusmock does not import in its environment' >&2; exit 1; }
