#!/usr/bin/env bash
# setup-rust.sh: make sure this machine can build the workspace.
#
# Checks that cargo and rustc are installed and at least the workspace's `rust-version`, and that
# rustfmt and clippy are there (added through rustup when it manages the toolchain). It never
# installs Rust itself: when cargo is missing it says how to get it and stops. The system packages
# the crates need to compile and link come through apt-ensure.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
cargo=${CARGO:-cargo}

die() {
    printf 'setup-rust: %s\n' "$*" >&2
    exit 1
}

# What the crates need from the system today: a C toolchain and linker (build-essential),
# pkg-config, and libdbus-1-dev (the keyring crate's Secret Service backend links libdbus on
# Linux). Later crates add their libraries here.
bash "$root/scripts/apt-ensure.sh" build-essential pkg-config libdbus-1-dev

# The rust-version under [workspace.package] in Cargo.toml, e.g. "1.85".
required=$(awk '
    /^[[:space:]]*\[/ { in_section = ($0 ~ /^[[:space:]]*\[workspace\.package\][[:space:]]*$/) }
    in_section && /^[[:space:]]*rust-version[[:space:]]*=/ {
        if (match($0, /"[0-9]+(\.[0-9]+)*"/)) { print substr($0, RSTART + 1, RLENGTH - 2); exit }
    }
' Cargo.toml)
[[ -n $required ]] || die "could not read rust-version under [workspace.package] in $root/Cargo.toml"

if ! command -v "$cargo" >/dev/null 2>&1; then
    hint=""
    if [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
        hint="
Rust seems to be installed in ${CARGO_HOME:-$HOME/.cargo}/bin but that is not on PATH: run
    . \"${CARGO_HOME:-$HOME/.cargo}/env\"
and try again."
    fi
    die "cargo was not found. Ferry needs Rust $required or newer, installed with rustup
(https://rustup.rs; Debian 12's own rustc package is too old). With curl installed:
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy
    . \"\$HOME/.cargo/env\"
then run make again.$hint"
fi
command -v rustc >/dev/null 2>&1 || die "cargo is installed but rustc is not on PATH; reinstall Rust with rustup (https://rustup.rs)"

# True when version $1 (x.y or x.y.z) is at least version $2.
version_at_least() {
    local -a have want
    IFS=. read -r -a have <<<"$1"
    IFS=. read -r -a want <<<"$2"
    local i
    for i in 0 1 2; do
        local h=${have[i]:-0} w=${want[i]:-0}
        if ((10#$h != 10#$w)); then
            ((10#$h > 10#$w))
            return
        fi
    done
    return 0
}

# "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"; a nightly's "1.97.0-nightly" -> "1.97.0".
version_of() {
    local out
    out=$("$@" 2>/dev/null) || return 1
    out=${out#* }
    out=${out%% *}
    printf '%s\n' "${out%%-*}"
}

update_hint="install a newer toolchain"
if command -v rustup >/dev/null 2>&1; then
    update_hint="run: rustup update stable"
fi
for tool in "$cargo" rustc; do
    tool_version=$(version_of "$tool" --version) || die "'$tool --version' failed; reinstall Rust with rustup (https://rustup.rs)"
    [[ $tool_version =~ ^[0-9]+(\.[0-9]+)*$ ]] || die "could not read the version of $tool ('$tool_version')"
    version_at_least "$tool_version" "$required" ||
        die "$tool is $tool_version but Ferry needs $required or newer (rust-version in Cargo.toml); $update_hint"
done

missing=()
"$cargo" fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
"$cargo" clippy --version >/dev/null 2>&1 || missing+=(clippy)
if [[ ${#missing[@]} -gt 0 ]]; then
    if command -v rustup >/dev/null 2>&1; then
        printf 'setup-rust: adding toolchain components: %s\n' "${missing[*]}" >&2
        rustup component add "${missing[@]}" || die "rustup could not add: ${missing[*]}"
        "$cargo" fmt --version >/dev/null 2>&1 || die "rustfmt still does not run after rustup added it"
        "$cargo" clippy --version >/dev/null 2>&1 || die "clippy still does not run after rustup added it"
    else
        die "the toolchain lacks ${missing[*]} and rustup is not installed to add them; install Rust with rustup (https://rustup.rs) or add the components your way"
    fi
fi

printf 'setup-rust: %s, %s (needs %s), rustfmt and clippy: ok\n' \
    "$("$cargo" --version)" "$(rustc --version)" "$required"
