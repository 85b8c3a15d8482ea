#!/usr/bin/env bash
# check-proto-purity.sh: keep crates/ferry-proto sans-IO.
#
# ferry-proto is driven by every transport, test and fuzzer, so it must not pull in a runtime
# or an I/O stack, and its code must not reach the filesystem, the network, threads, processes
# or the clock (time comes in as a parameter). Two checks:
#   1. its normal (non-dev) dependency graph, for every target platform, holds none of the
#      crates below; for each one found, the chain that brings it in is printed;
#   2. its sources name none of the std I/O modules or clock reads below. Comment lines are
#      skipped (saying what the crate must not do is fine); code, tests included, is not.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}
crate=ferry-proto
src=crates/ferry-proto/src

forbidden_crates=(tokio reqwest hyper mio async-std smol tungstenite)
# Extended regular expressions, matched per line.
forbidden_code=(
    'std::fs'
    'std::net'
    'std::thread'
    'std::process'
    'std::\{[^}]*\b(fs|net|thread|process)\b' # use std::{fs, io};
    'SystemTime::now'
    'Instant::now'
)

failed=0
fail() {
    printf 'check-proto-purity: %s\n' "$*" >&2
    failed=1
}

tree_args=(-p "$crate" -e normal --target all --locked)

# 1. Dependencies. Lines look like "tokio v1.47.1" or "ferry-proto v0.1.0 (/path) (*)".
deps=$("$cargo" tree "${tree_args[@]}" --prefix none) ||
    { echo "check-proto-purity: 'cargo tree -p $crate' failed (see above)" >&2; exit 1; }
for bad in "${forbidden_crates[@]}"; do
    while read -r name version _; do
        [[ $name == "$bad" ]] || continue
        spec="$name@${version#v}"
        fail "$crate depends on $spec, which does I/O or brings a runtime; it comes in through:"
        "$cargo" tree "${tree_args[@]}" -i "$spec" >&2 || true
    done < <(printf '%s\n' "$deps" | sort -u)
done

# 2. Sources.
[[ -d $src ]] || { echo "check-proto-purity: $src does not exist" >&2; exit 1; }
pattern=$(IFS='|'; printf '%s' "${forbidden_code[*]}")
if hits=$(grep -rnE --include='*.rs' "$pattern" "$src" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//'); then
    fail "$src must not do I/O or read the clock (take time as a parameter); found:"
    printf '%s\n' "$hits" >&2
fi

if ((failed)); then
    exit 1
fi
echo "check-proto-purity: $crate is sans-IO (no ${forbidden_crates[*]}; no std fs/net/thread/process or clock reads)"
