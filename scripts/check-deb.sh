#!/usr/bin/env bash
# check-deb.sh [DEB]: checks the desktop app's .deb (default: the newest one `make package`
# built). It lists the package, checks its Depends, installs it with `dpkg -i` into this
# system (needs root), checks that the binary, the .desktop entry and the icons are in
# place, and starts the installed app under Xvfb in a private D-Bus session with a scratch
# HOME: it must still be running after a few seconds (then it is stopped). Fails loudly,
# naming the step, if anything is missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
binary=ferry-desktop
alive_secs=${CHECK_DEB_ALIVE_SECS:-5}

die() {
    printf 'check-deb: FAILED: %s\n' "$*" >&2
    exit 1
}
step() {
    printf 'check-deb: %s\n' "$*" >&2
}

deb=${1:-}
if [[ -z $deb ]]; then
    target=${CARGO_TARGET_DIR:-$root/target}
    deb=$(ls -t "$target"/release/bundle/deb/*.deb 2>/dev/null | head -n 1 || true)
    [[ -n $deb ]] || die "no .deb given and none in $target/release/bundle/deb/ (run make package)"
fi
[[ -f $deb ]] || die "$deb does not exist"

step "contents of $deb"
contents=$(dpkg-deb -c "$deb") || die "dpkg-deb cannot read $deb"
# dpkg-deb lists paths with or without a leading "./", depending on how the package was built.
for want in "usr/bin/$binary" "usr/share/applications/.*\\.desktop" "usr/share/icons/hicolor/.*/apps/.*\\.png"; do
    grep -Eq " (\./)?$want\$" <<<"$contents" || die "the package has no $want; it holds:
$contents"
done

depends=$(dpkg-deb -f "$deb" Depends)
step "Depends: $depends"
for lib in libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1; do
    grep -q "$lib" <<<"$depends" || die "Depends lacks $lib"
done

[[ $EUID -eq 0 ]] || die "installing with dpkg -i needs root (run as root, or in a container)"
bash "$root/scripts/apt-ensure.sh" libwebkit2gtk-4.1-0 libgtk-3-0 libayatana-appindicator3-1 \
    xvfb xauth dbus gnome-keyring
step "installing with dpkg -i"
dpkg -i "$deb" || die "dpkg -i $deb failed (see above)"
package=$(dpkg-deb -f "$deb" Package)

installed=$(command -v "$binary") || die "$binary is not on PATH after installing"
[[ -x $installed ]] || die "$installed is not executable"
desktop=$(dpkg -L "$package" | grep -E '^/usr/share/applications/.*\.desktop$' | head -n 1)
[[ -f $desktop ]] || die "no .desktop file installed"
grep -q "^Exec=.*$binary" "$desktop" || die "$desktop does not start $binary:
$(cat "$desktop")"
if command -v desktop-file-validate >/dev/null 2>&1; then
    desktop-file-validate "$desktop" || die "$desktop is not a valid desktop entry"
fi
icons=$(dpkg -L "$package" | grep -E '^/usr/share/icons/hicolor/.*\.png$' || true)
[[ -n $icons ]] || die "no icons installed under /usr/share/icons/hicolor"
while read -r icon; do
    [[ -s $icon ]] || die "icon $icon is missing or empty"
done <<<"$icons"
step "installed: $installed, $desktop, $(wc -l <<<"$icons") icons"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/home" "$scratch/run" "$scratch/ferry"
chmod 700 "$scratch/run"
step "starting $binary under xvfb-run for ${alive_secs} s"
set +e
env -i PATH="$PATH" HOME="$scratch/home" XDG_RUNTIME_DIR="$scratch/run" FERRY_HOME="$scratch/ferry" \
    LANG=C.UTF-8 RUST_LOG=info \
    dbus-run-session -- xvfb-run -a bash -c '
        echo -n pass | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        "$1" &
        app=$!
        sleep "$2"
        if kill -0 "$app" 2>/dev/null; then
            echo "check-deb: still running after $2 s" >&2
            kill "$app"
            wait "$app" 2>/dev/null
            exit 0
        fi
        wait "$app"
        echo "check-deb: the app exited with status $? within $2 s" >&2
        exit 1
    ' check-deb "$installed" "$alive_secs" >"$scratch/app.log" 2>&1
status=$?
set -e
cat "$scratch/app.log" >&2
((status == 0)) || die "the installed app did not stay up under Xvfb (log above)"
step "OK: $deb installs and starts"
