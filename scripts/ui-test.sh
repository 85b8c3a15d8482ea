#!/usr/bin/env bash
# ui-test.sh: type-check, unit-test, build and browser-test the window (ui/). Run setup-ui.sh
# first (`make ui-test` does).
#
# Steps: `npm run check` (svelte-check and tsc, no errors or warnings), Vitest, the production
# build (ui/dist, what the shell serves) and the test harness build (ui/dist-harness), then
# the Playwright tests (playwright-core driving Debian's Chromium, node:test as the runner).
# Every step runs even when an earlier one failed, and each prints its count as a
# "test result:" line in cargo's format, so that scripts/test-summary.sh adds the window's
# tests to the workspace's total. Exits non-zero when anything failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ui=$root/ui
out=$ui/test-output
mkdir -p "$out"
cd "$ui" || exit 1

failed_steps=()

# result NAME PASSED FAILED: one line in cargo's format.
result() {
    local word=ok
    (($3 == 0)) || word=FAILED
    printf 'test result: %s. %d passed; %d failed; 0 ignored; 0 measured; 0 filtered out (ui: %s)\n' "$word" "$2" "$3" "$1"
    (($3 == 0)) || failed_steps+=("$1")
}

# step NAME CMD...: a command that counts as one test.
step() {
    local name=$1
    shift
    printf '\n== ui: %s: %s\n' "$name" "$*"
    if "$@"; then result "$name" 1 0; else result "$name" 0 1; fi
}

step check npm run --silent check

printf '\n== ui: vitest\n'
rm -f "$out/vitest.json"
TZ=UTC npx --no-install vitest run --reporter=default --reporter=json --outputFile.json="$out/vitest.json"
vitest_status=$?
read -r passed failed < <(node -e '
    try {
        const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        console.log(r.numPassedTests, r.numFailedTests + (r.numFailedTestSuites || 0));
    } catch { console.log("0 1"); }
' "$out/vitest.json")
if ((vitest_status != 0 && failed == 0)); then failed=1; fi
if ((passed == 0 && failed == 0)); then failed=1; fi # no test ran: broken
result vitest "$passed" "$failed"

step build npm run --silent build
step build-harness npm run --silent build:harness

printf '\n== ui: browser tests (playwright-core + %s)\n' "${FERRY_CHROMIUM:-/usr/bin/chromium}"
rm -f "$out/e2e.tap"
node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$out/e2e.tap" \
    tests/e2e/
e2e_status=$?
passed=$(sed -n 's/^# pass \([0-9][0-9]*\)$/\1/p' "$out/e2e.tap" 2>/dev/null | tail -1)
failed=$(sed -n 's/^# fail \([0-9][0-9]*\)$/\1/p' "$out/e2e.tap" 2>/dev/null | tail -1)
cancelled=$(sed -n 's/^# cancelled \([0-9][0-9]*\)$/\1/p' "$out/e2e.tap" 2>/dev/null | tail -1)
passed=${passed:-0}
failed=$((${failed:-0} + ${cancelled:-0}))
if ((e2e_status != 0 && failed == 0)); then failed=1; fi
if ((passed == 0 && failed == 0)); then failed=1; fi
result browser "$passed" "$failed"
printf 'ui: screenshots in %s\n' "$out"

if ((${#failed_steps[@]} > 0)); then
    printf 'ui-test: failed: %s\n' "${failed_steps[*]}" >&2
    exit 1
fi
