#!/usr/bin/env bash
# demo.sh: `make demo`. Builds everything, starts ferry-server on 127.0.0.1 with a demo user
# and a fresh data directory, makes a demo folder with a few sample files, and launches the
# desktop app signed in and syncing that folder. It ends with the app and the server running
# in the background (`make demo-stop` stops them) once the sample files are uploaded.
#
# With a display ($DISPLAY or $WAYLAND_DISPLAY) the window opens there. Without one, the app
# runs under a private Xvfb and a screenshot of its window is saved; the script prints where.
# The token goes to the OS keyring when one is reachable (`ferry login`); otherwise (a
# headless machine has none) the app gets it through FERRY_TOKEN, and the script says so.
#
# Settings (environment): FERRY_DEMO_DIR (default target/demo; emptied first).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
demo=${FERRY_DEMO_DIR:-$target/demo}
bin=$target/debug

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
die() {
    printf 'demo: %s\n' "$*" >&2
    exit 1
}

bash scripts/demo-stop.sh "$demo" >/dev/null 2>&1 || true
rm -rf "$demo"
mkdir -p "$demo/home" "$demo/logs"
pids=$demo/pids

say "Installing what is missing and building (the first build takes several minutes)"
bash scripts/setup-desktop.sh
bash scripts/apt-ensure.sh curl xvfb xauth imagemagick
bash scripts/setup-ui.sh
npm --prefix ui run build
"${CARGO:-cargo}" build --locked -p ferry-server -p ferry-cli -p ferry-desktop

say "Starting ferry-server on 127.0.0.1 with a demo user"
data=$demo/server-data
printf 'demo password\n' | "$bin/ferry-server" user add demo --password-stdin --data "$data" >/dev/null
nohup "$bin/ferry-server" serve --listen 127.0.0.1:0 --data "$data" >"$demo/logs/server.out" 2>"$demo/logs/server.err" &
echo $! >>"$pids"
url=
for _ in $(seq 1 100); do
    url=$(sed -n 's/^listening on //p' "$demo/logs/server.out" | head -n 1)
    [[ -n $url ]] && break
    sleep 0.1
done
[[ -n $url ]] || die "ferry-server did not start; see $demo/logs/server.err"

say "Making the demo folder"
folder=$demo/Ferry\ Demo
mkdir -p "$folder/Photos/2026" "$folder/Notes"
printf 'Welcome to Ferry.\nEvery file in this folder is kept uploaded to %s.\n' "$url" >"$folder/Welcome.txt"
printf '# Shopping\n- bread\n- coffee\n' >"$folder/Notes/shopping.md"
printf 'Ideas: a ferry that never loses a byte.\n' >"$folder/Notes/ideas.txt"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$folder/Photos/2026/beach.raw"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$folder/Photos/2026/holiday-video.raw"
expected=$(find "$folder" -type f | wc -l)

export FERRY_HOME=$demo/home
token_env=()
if printf 'demo password\n' | "$bin/ferry" login "$url" --user demo --password-stdin >"$demo/logs/login.out" 2>&1; then
    say "Signed in as demo; the token is in the OS keyring"
else
    token=$("$bin/ferry-server" token issue demo --data "$data")
    token_env=(FERRY_TOKEN="$token")
    say "No OS keyring is reachable here ($(tail -n 1 "$demo/logs/login.out")); the app gets its token through FERRY_TOKEN instead"
fi
"$bin/ferry" folder add "$folder" --server "$url" --remote "Ferry Demo" >/dev/null

screenshot=
if [[ -n ${DISPLAY:-} || -n ${WAYLAND_DISPLAY:-} ]]; then
    say "Launching the desktop app"
    env "${token_env[@]}" nohup "$bin/ferry-desktop" >"$demo/logs/app.out" 2>"$demo/logs/app.err" &
    echo $! >>"$pids"
else
    say "No display: launching the desktop app under Xvfb"
    exec 3< <(Xvfb -displayfd 1 -screen 0 1280x800x24 -nolisten tcp 2>"$demo/logs/xvfb.err")
    read -r -t 20 display <&3 || die "Xvfb did not start; see $demo/logs/xvfb.err"
    pgrep -n Xvfb >>"$pids" || true
    env "${token_env[@]}" DISPLAY=":$display" nohup "$bin/ferry-desktop" >"$demo/logs/app.out" 2>"$demo/logs/app.err" &
    echo $! >>"$pids"
    screenshot=$demo/screenshot.png
fi

say "Waiting for the $expected sample files to be uploaded"
for _ in $(seq 1 600); do
    done_count=$("$bin/ferry" --json history --limit 1000 2>/dev/null | grep -c '"outcome": "uploaded"' || true)
    ((done_count >= expected)) && break
    sleep 0.5
done
((done_count >= expected)) || die "only $done_count of $expected files were uploaded after 5 minutes; see $demo/logs/app.err"
if [[ -n $screenshot ]]; then
    sleep 2
    import -display ":$display" -window root "$screenshot" 2>/dev/null || screenshot="(the screenshot failed)"
fi

"$bin/ferry" history --limit "$expected"
cat <<TEXT

Ferry is running, signed in to $url as demo (password: demo password), and keeps
"$folder" uploaded (under "Ferry Demo/" on the server, in $data/files/demo/).
Drop files into that folder and watch them go up in the app; its History tab lists the ones above.
${screenshot:+No display here: a screenshot of the window is at $screenshot
}Stop the app and the server with: make demo-stop
TEXT
