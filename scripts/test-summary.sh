#!/usr/bin/env bash
# test-summary.sh LOG: adds up the "test result:" lines cargo test wrote to LOG and prints one
# closing line, "tests: N passed, N failed, N ignored", so that the last word of `make test`
# is the count for the whole workspace rather than that of the last (possibly empty) doc-test
# binary. Fails if nothing ran at all: a test run that ran no test is a broken run.
set -euo pipefail

log=${1:?usage: test-summary.sh LOG}
read -r passed failed ignored binaries < <(awk '
    /^test result: / {
        for (i = 1; i <= NF; i++) {
            if ($(i + 1) ~ /^passed;?$/) p += $i
            if ($(i + 1) ~ /^failed;?$/) f += $i
            if ($(i + 1) ~ /^ignored;?$/) g += $i
        }
        b++
    }
    END { printf "%d %d %d %d\n", p, f, g, b }
' "$log")

echo
echo "== $binaries test binaries"
echo "tests: $passed passed, $failed failed, $ignored ignored"
if ((binaries == 0 || passed == 0)); then
    echo "test-summary: no test ran; something is wrong with the test run" >&2
    exit 1
fi
((failed == 0))
