#!/usr/bin/env bash
# demo-stop.sh [DIR]: stops what `make demo` left running (the app, ferry-server, Xvfb), by
# the pids it wrote to DIR/pids (default target/demo).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
demo=${1:-${FERRY_DEMO_DIR:-${CARGO_TARGET_DIR:-$root/target}/demo}}
[[ -f $demo/pids ]] || { echo "demo-stop: nothing to stop ($demo/pids is missing)"; exit 0; }
tac "$demo/pids" | while read -r pid; do
    kill "$pid" 2>/dev/null || true
done
rm -f "$demo/pids"
echo "demo-stop: stopped"
