#!/usr/bin/env bash
# setup-desktop.sh: the Debian packages that building the desktop app (src-tauri, Tauri 2 on
# WebKitGTK) needs, installed through apt-ensure.sh (only what is missing, no recommends).
#
# libayatana-appindicator3-dev is for the tray icon; libappindicator3-dev does not exist on
# Debian 12 (DESIGN section 5).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

bash "$root/scripts/apt-ensure.sh" \
    libwebkit2gtk-4.1-dev libdbus-1-dev build-essential pkg-config libssl-dev \
    libayatana-appindicator3-dev

for lib in webkit2gtk-4.1 javascriptcoregtk-4.1 ayatana-appindicator3-0.1; do
    pkg-config --exists "$lib" ||
        { printf 'setup-desktop: pkg-config cannot find %s after installing its package\n' "$lib" >&2; exit 1; }
done
