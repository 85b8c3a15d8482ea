#!/usr/bin/env bash
# setup-e2e.sh: what the real-app end-to-end test needs (DESIGN section 5): a virtual X server,
# the WebKitGTK WebDriver, a private D-Bus session with GNOME Keyring, and tauri-driver, which
# is installed into the project (target/tools/bin) rather than into ~/.cargo.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bash "$root/scripts/setup-desktop.sh"
bash "$root/scripts/apt-ensure.sh" \
    xvfb xauth webkit2gtk-driver gnome-keyring dbus at-spi2-core imagemagick openssl

tools="$root/target/tools"
if [[ ! -x $tools/bin/tauri-driver ]]; then
    printf 'setup-e2e: installing tauri-driver into %s\n' "$tools" >&2
    cargo install tauri-driver --locked --root "$tools"
fi

for tool in openssl xvfb-run dbus-run-session gnome-keyring-daemon WebKitWebDriver "$tools/bin/tauri-driver"; do
    command -v "$tool" >/dev/null 2>&1 ||
        { printf 'setup-e2e: %s is still missing after installing it\n' "$tool" >&2; exit 1; }
done
