#!/usr/bin/env bash
# bench.sh: upload throughput of ferry-server against @tus/server, and of the ferry client, in
# one run on one machine.
#
# Builds ferry-server and the ferry CLI in release, makes one random file and uploads it over
# 127.0.0.1 to both servers with two clients: curl (creation, then the whole file in a single
# PATCH) and tus-js-client (a file stream in 8 MiB chunks); and to ferry-server with
# `ferry upload` three times: over tus (8 MiB chunks, each with an sha1 Upload-Checksum, since
# ferry-server offers it), over tus without per-chunk checksums (FERRY_CHUNK_CHECKSUMS=off, a
# diagnostic setting of the CLI; the whole-file sha1 is still sent and checked) and over
# GalileoSend. Every (client, server) pair runs BENCH_RUNS times, interleaved so that all see
# the same machine noise. Per pair it reports the median MB/s (1 MB = 10^6 bytes), the
# server's CPU seconds (user + system, from /proc/PID/stat) per GiB uploaded, and the server's
# peak resident memory (VmHWM from /proc/PID/status); for `ferry upload` also the client's CPU
# seconds per GiB and peak resident memory (user, system and maximum RSS of the ferry process
# as GNU time reports them from wait4). A `ferry upload` run is timed from its start to its
# exit: discovery, the whole-file sha1 and the upload. The result is printed as a markdown
# section and appended, dated, to docs/benchmarks.md (earlier sections are kept).
#
# With BENCH_RSS_MB (4096 by default), one more `ferry upload` (tus, sha1) of a file of that many MiB is
# made after the runs, for the client's peak RSS on a large file only (its speed is reported
# but is not part of the comparison); the aim is under 64 MiB for 4096 MiB.
#
# Then, once each: `ferry upload` of the test file through the fault proxy's shaped link (a
# 20 ms round trip capped at 100 MB/s by default), and BENCH_CONCURRENT (50) curl uploads of
# 32 MiB at once to ferry-server for its peak memory.
#
# A pair that cannot be measured (the server does not start, an upload fails, the stored size
# is wrong) is reported as FAILED with the reason; no number is ever made up for it.
#
# Settings (environment):
#   BENCH_SIZE_MB    size of the test file in MiB (default 1024)
#   BENCH_RUNS       runs per pair (default 3)
#   BENCH_RSS_MB     also measure the client's peak RSS on a file of this many MiB (default
#                    4096, the aim's size; empty: not measured)
#   BENCH_SERVERS    which servers, of "ferry-server tus-node" (default both); a server left
#                    out is reported as "not measured"
#   FERRY_SERVER_BIN an already built ferry-server to use instead of building one
#   FERRY_BIN        an already built ferry CLI to use instead of building one
#   BENCH_LINK_RTT_MS, BENCH_LINK_MBPS  the shaped link's round trip (default 20) and upstream
#                    capacity in MB/s (default 100)
#   BENCH_CONCURRENT uploads at once for the server's memory (default 50)
#   SHAPED_LINK_BIN  an already built shaped-link to use instead of building one
#   BENCH_DIR        scratch directory (default target/bench; the test file and uploads go there)
#   BENCH_OUT        the markdown file to append to (default docs/benchmarks.md; "-" for none)
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

die() {
    printf 'bench: %s\n' "$*" >&2
    exit 1
}
say() {
    printf 'bench: %s\n' "$*" >&2
}

size_mb=${BENCH_SIZE_MB:-1024}
rss_mb=${BENCH_RSS_MB-4096}
runs=${BENCH_RUNS:-3}
servers=${BENCH_SERVERS:-ferry-server tus-node}
work=${BENCH_DIR:-$root/target/bench}
out=${BENCH_OUT:-$root/docs/benchmarks.md}
[[ $size_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MB must be a positive whole number of MiB, not '$size_mb'"
[[ $runs =~ ^[1-9]$ ]] || die "BENCH_RUNS must be 1 to 9, not '$runs'"
[[ -z $rss_mb || $rss_mb =~ ^[1-9][0-9]*$ ]] || die "BENCH_RSS_MB must be a positive whole number of MiB, not '$rss_mb'"
for server in $servers; do
    [[ $server == ferry-server || $server == tus-node ]] ||
        die "unknown server '$server' in BENCH_SERVERS (known: ferry-server tus-node)"
done
wants() { [[ " $servers " == *" $1 "* ]]; }

size=$((size_mb * 1024 * 1024))
chunk=$((8 * 1024 * 1024))
# The slowest upload we wait for: 5 MB/s, and at least a minute.
max_secs=$((60 + size_mb / 5))
ticks_per_sec=$(getconf CLK_TCK)
peers=$root/tests/peers

# GNU time (the package "time") reports the ferry client's CPU seconds and peak RSS.
bash scripts/apt-ensure.sh curl time
bash scripts/setup-node.sh
if wants tus-node; then
    # @tus/server 2.4 declares node >= 20.19 (the interop tests need only 18).
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
        die "@tus/server needs Node.js 20.19 or later, this is $(node --version); or leave it out with BENCH_SERVERS=ferry-server"
fi

mkdir -p "$work"
free_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
need_mb=$((size_mb * 3 > ${rss_mb:-0} * 2 ? size_mb * 3 : ${rss_mb:-0} * 2))
((free_mb > need_mb)) ||
    die "$work has $free_mb MiB free; the benchmark needs about $need_mb MiB (the file and two uploads of it)"

# --- processes we start, stopped by their pid on exit ---------------------------------------
started_pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local pid
    for pid in "${started_pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    stop_client
    rm -rf "$work/data.bin" "$work/big.bin" "$work/ferry-data" "$work/tus-node-store" "$work/ferry-home"
}
trap cleanup EXIT

# --- per-server state: pid, base URL, endpoint, token, why it is unusable -------------------
declare -A server_pid=() base=() token=() broken=() label=()
label[ferry-server]=ferry-server
label[tus-node]=@tus/server

# Waits for the "listening on http://ADDR" line in LOG from PID; prints the base URL.
await_listening() {
    local pid=$1 log=$2 i line
    for ((i = 0; i < 200; i++)); do
        line=$(grep -m1 '^listening on http://' "$log" 2>/dev/null || true)
        if [[ -n $line ]]; then
            printf '%s\n' "${line#listening on }"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

ferry_bin=
ferry_version="ferry-server not measured"
ferry_cli=
ferry_cli_broken=
# The ferry CLI for the `ferry upload` rows (only against ferry-server); sets ferry_cli_broken
# when there is none.
find_ferry_cli() {
    if [[ -n ${FERRY_BIN:-} ]]; then
        ferry_cli=$FERRY_BIN
    else
        say "building the ferry CLI (release)"
        if ! ${CARGO:-cargo} build --release --locked -p ferry-cli; then
            ferry_cli_broken="the release build of the ferry CLI failed"
            return
        fi
        ferry_cli=${CARGO_TARGET_DIR:-$root/target}/release/ferry
    fi
    [[ -x $ferry_cli ]] || ferry_cli_broken="no ferry binary at $ferry_cli"
}

start_ferry_server() {
    if [[ -n ${FERRY_SERVER_BIN:-} ]]; then
        ferry_bin=$FERRY_SERVER_BIN
    else
        say "building ferry-server (release)"
        if ! ${CARGO:-cargo} build --release --locked -p ferry-server; then
            broken[ferry-server]="the release build failed"
            return
        fi
        ferry_bin=${CARGO_TARGET_DIR:-$root/target}/release/ferry-server
    fi
    [[ -x $ferry_bin ]] || {
        broken[ferry-server]="no ferry-server binary at $ferry_bin"
        return
    }
    ferry_version="$("$ferry_bin" --version 2>/dev/null || echo 'ferry-server (version unknown)')"
    ferry_version+=" (git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ', uncommitted changes'))"
    local data=$work/ferry-data
    rm -rf "$data"
    mkdir -p "$data"
    if ! printf 'bench-password\n' | "$ferry_bin" user add bench --password-stdin --data "$data" >/dev/null; then
        broken[ferry-server]="'ferry-server user add' failed"
        return
    fi
    if ! token[ferry-server]=$("$ferry_bin" token issue bench --data "$data"); then
        broken[ferry-server]="'ferry-server token issue' failed"
        return
    fi
    "$ferry_bin" serve --listen 127.0.0.1:0 --data "$data" >"$work/ferry-server.log" 2>"$work/ferry-server.err" &
    server_pid[ferry-server]=$!
    started_pids+=("$!")
    if ! base[ferry-server]=$(await_listening "${server_pid[ferry-server]}" "$work/ferry-server.log"); then
        broken[ferry-server]="ferry-server did not start: $(tail -n 3 "$work/ferry-server.err" | tr '\n' ' ')"
    fi
}

start_tus_node() {
    local store=$work/tus-node-store
    rm -rf "$store"
    node "$peers/tus-node-server.mjs" --port 0 --dir "$store" >"$work/tus-node.log" 2>"$work/tus-node.err" &
    server_pid[tus-node]=$!
    started_pids+=("$!")
    # @tus/server checks no credentials; the header is sent anyway, as to ferry-server.
    token[tus-node]=unused
    if ! base[tus-node]=$(await_listening "${server_pid[tus-node]}" "$work/tus-node.log"); then
        broken[tus-node]="@tus/server did not start: $(tail -n 3 "$work/tus-node.err" | tr '\n' ' ')"
    fi
}

# Where SERVER keeps the finished upload NAME with URL; prints the path.
stored_path() {
    local server=$1 name=$2 url=$3
    case $server in
    ferry-server) printf '%s\n' "$work/ferry-data/files/bench/$name" ;;
    tus-node) printf '%s\n' "$work/tus-node-store/${url##*/}" ;;
    esac
}
remove_stored() {
    local server=$1 path=$2
    rm -f "$path"
    [[ $server == tus-node ]] && rm -f "$path.json"
    return 0
}

# user + system CPU ticks of PID so far.
cpu_ticks() {
    local stat fields
    stat=$(<"/proc/$1/stat") || return 1
    # The command name (field 2) may hold spaces; the fields after it are plain numbers.
    read -r -a fields <<<"${stat##*) }"
    printf '%s\n' $((fields[11] + fields[12]))
}
peak_rss_kib() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

b64() { printf '%s' "$1" | base64 -w0; }

# The GNU time process wrapping a `ferry upload` run, while it runs (stopped on exit).
client_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
stop_client() {
    [[ -n $client_pid ]] && kill "$client_pid" 2>/dev/null
    return 0
}

# `ferry upload` of FILE as NAME to SERVER over PROTO (tus, tus-nock: tus without per-chunk
# checksums, or galileo), with a fresh home (nothing to resume). Sets secs, client_rss_kib and
# client_cpu_secs (maximum RSS, user + system seconds of the ferry process, from GNU time);
# on failure sets run_error and returns 1.
client_rss_kib=
client_cpu_secs=
ferry_upload() {
    local server=$1 name=$2 proto=$3 file=$4 home=$work/ferry-home start end checksums=on rc=0
    client_rss_kib=0
    client_cpu_secs=
    rm -rf "$home"
    if [[ $proto == tus-nock ]]; then
        proto=tus
        checksums=off
    fi
    start=$(date +%s.%N)
    FERRY_TOKEN=${token[$server]} FERRY_CHUNK_CHECKSUMS=$checksums \
        /usr/bin/time -f '%U %S %M' -o "$work/ferry-upload.time" \
        "$ferry_cli" upload --home "$home" --quiet --server "${base[$server]}" \
        --protocol "$proto" --remote "$name" "$file" >"$work/ferry-upload.out" 2>"$work/ferry-upload.err" &
    client_pid=$!
    wait "$client_pid" || rc=$?
    end=$(date +%s.%N)
    client_pid=
    rm -rf "$home"
    if ((rc != 0)); then
        run_error="ferry upload --protocol $proto (checksums $checksums) exited with $rc: $(tail -n 2 "$work/ferry-upload.err" | tr '\n' ' ')"
        return 1
    fi
    local user sys maxrss
    read -r user sys maxrss < <(tail -n 1 "$work/ferry-upload.time")
    if [[ ! $maxrss =~ ^[0-9]+$ ]] || ((maxrss == 0)); then
        run_error="GNU time reported no peak RSS for the ferry process"
        return 1
    fi
    client_rss_kib=$maxrss
    client_cpu_secs=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
}

# One upload with CLIENT to SERVER. Sets run_secs on success; run_error on failure.
run_secs=
run_error=
upload_once() {
    local client=$1 server=$2 name=$3 endpoint url code secs result
    endpoint=${base[$server]}/files/
    run_secs=
    run_error=
    case $client in
    ferry-tus | ferry-tus-nock | ferry-galileo)
        ferry_upload "$server" "$name" "${client#ferry-}" "$work/data.bin" || return 1
        url= # ferry-server keeps it under the remote path
        ;;
    curl)
        code=$(curl -sS --max-time 30 -X POST -o /dev/null -D "$work/create.headers" -w '%{http_code}' \
            -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $size" \
            -H "Authorization: Bearer ${token[$server]}" \
            -H "Upload-Metadata: filename $(b64 "$name"),relativePath $(b64 "$name")" \
            "$endpoint" 2>"$work/curl.err") || code="curl: $(tr '\n' ' ' <"$work/curl.err")"
        if [[ $code != 201 ]]; then
            run_error="creation answered $code, not 201"
            return 1
        fi
        url=$(tr -d '\r' <"$work/create.headers" | awk 'tolower($1) == "location:" { print $2 }' | tail -n 1)
        case $url in
        http://* | https://*) ;;
        /*) url=${base[$server]}$url ;;
        '')
            run_error="creation answered no Location"
            return 1
            ;;
        *) url=$endpoint$url ;;
        esac
        # -T streams the file from disk with its length (curl's --data-binary @FILE would first
        # read all of it into memory); `Expect:` leaves out the 100-continue round trip.
        result=$(curl -sS --max-time "$max_secs" -X PATCH -T "$work/data.bin" -o "$work/patch.body" \
            -w '%{http_code} %{time_total}' \
            -H 'Tus-Resumable: 1.0.0' -H 'Upload-Offset: 0' \
            -H 'Content-Type: application/offset+octet-stream' -H 'Expect:' \
            -H "Authorization: Bearer ${token[$server]}" \
            "$url" 2>"$work/curl.err") || result="curl: $(tr '\n' ' ' <"$work/curl.err")"
        code=${result%% *}
        secs=${result#* }
        if [[ $code != 204 ]]; then
            run_error="PATCH answered $result: $(head -c 200 "$work/patch.body" 2>/dev/null | tr '\n' ' ')"
            return 1
        fi
        ;;
    tus-js-client)
        if ! result=$(node "$peers/tus-upload.mjs" --endpoint "$endpoint" --token "${token[$server]}" \
            --file "$work/data.bin" --name "$name" --chunk-size "$chunk" --timeout "$max_secs" \
            2>"$work/tus-upload.err"); then
            run_error=$(tail -n 1 "$work/tus-upload.err")
            return 1
        fi
        url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' <<<"$result")
        secs=$(sed -n 's/.*"seconds":\([0-9.eE+-]*\).*/\1/p' <<<"$result")
        ;;
    esac
    local stored stored_size
    stored=$(stored_path "$server" "$name" "$url")
    stored_size=$(stat -c %s "$stored" 2>/dev/null || echo none)
    remove_stored "$server" "$stored"
    if [[ $stored_size != "$size" ]]; then
        run_error="the stored file $stored has size $stored_size, not $size"
        return 1
    fi
    [[ $secs =~ ^[0-9.eE+-]+$ ]] || {
        run_error="no duration measured ('$secs')"
        return 1
    }
    run_secs=$secs
}

median() {
    tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2]; else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
median1() {
    tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) exit 1
        if (NR % 2) printf "%.2f\n", v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# --- run --------------------------------------------------------------------------------------
clients=(curl tus-js-client ferry-tus ferry-tus-nock ferry-galileo)
all_servers=(ferry-server tus-node)
# Which pairs are measured: `ferry upload` only against ferry-server (its GalileoSend rows
# need a GalileoSend server, and the tus-js-client rows already compare the servers).
pair() { [[ $1 != ferry-* || $2 == ferry-server ]]; }
for server in "${all_servers[@]}"; do
    if ! wants "$server"; then
        broken[$server]="not measured (left out by BENCH_SERVERS)"
    elif [[ $server == ferry-server ]]; then
        start_ferry_server
    else
        start_tus_node
    fi
    [[ -n ${broken[$server]:-} ]] && say "${label[$server]}: ${broken[$server]}"
done
if wants ferry-server; then
    find_ferry_cli
    [[ -n $ferry_cli_broken ]] && say "ferry CLI: $ferry_cli_broken"
fi

say "writing a $size_mb MiB random test file"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
head -c "$size" /dev/urandom >"$work/data.bin"

declare -A mbps=() cpu=() rss=() crss=() ccpu=() failed=()
for ((i = 1; i <= runs; i++)); do
    for client in "${clients[@]}"; do
        for server in "${all_servers[@]}"; do
            key="$client $server"
            pair "$client" "$server" || continue
            [[ -n ${broken[$server]:-} || -n ${failed[$key]:-} ]] && continue
            if [[ $client == ferry-* && -n $ferry_cli_broken ]]; then
                failed[$key]=$ferry_cli_broken
                continue
            fi
            p=${server_pid[$server]}
            # Reset the peak RSS (5 = VmHWM) so that it is this pair's peak; if the kernel
            # refuses, the peak since the server started is reported (and said so).
            echo 5 >"/proc/$p/clear_refs" 2>/dev/null || rss_since_start=1
            before=$(cpu_ticks "$p") || {
                failed[$key]="the server exited"
                continue
            }
            if upload_once "$client" "$server" "bench-$client-$i.bin"; then
                after=$(cpu_ticks "$p")
                mbps[$key]+="$(awk -v b="$size" -v s="$run_secs" 'BEGIN { printf "%.0f", b / 1e6 / s }') "
                cpu[$key]+="$(awk -v t=$((after - before)) -v hz="$ticks_per_sec" -v b="$size" 'BEGIN { printf "%.2f", t / hz / (b / 1073741824) }') "
                peak=$(peak_rss_kib "$p")
                ((peak > ${rss[$key]:-0})) && rss[$key]=$peak
                if [[ $client == ferry-* ]]; then
                    ((client_rss_kib > ${crss[$key]:-0})) && crss[$key]=$client_rss_kib
                    ccpu[$key]+="$(awk -v c="$client_cpu_secs" -v b="$size" 'BEGIN { printf "%.2f", c / (b / 1073741824) }') "
                fi
                say "run $i: $client -> ${label[$server]}: ${run_secs}s"
            else
                failed[$key]="run $i: $run_error"
                say "run $i: $client -> ${label[$server]}: FAILED: $run_error"
            fi
        done
    done
done

# --- a long, narrow link (aim 6) --------------------------------------------------------------
# `ferry upload` (tus, sha1) of the test file through the fault proxy's shaped link
# (tests/src/bin/shaped-link.rs): BENCH_LINK_RTT_MS round trip, BENCH_LINK_MBPS upstream.
link_rtt=${BENCH_LINK_RTT_MS:-20}
link_mbps=${BENCH_LINK_MBPS:-100}
link_result=
if [[ -n ${broken[ferry-server]:-} || -n $ferry_cli_broken ]]; then
    link_result="not measured: ${broken[ferry-server]:-$ferry_cli_broken}"
else
    link_bin=${SHAPED_LINK_BIN:-}
    if [[ -z $link_bin ]]; then
        say "building shaped-link (release)"
        ${CARGO:-cargo} build --release --locked -p ferry-tests --bin shaped-link &&
            link_bin=${CARGO_TARGET_DIR:-$root/target}/release/shaped-link
    fi
    if [[ -z $link_bin || ! -x $link_bin ]]; then
        link_result="FAILED: no shaped-link binary"
        failed[link]=$link_result
    else
        "$link_bin" "${base[ferry-server]#http://}" "$link_rtt" "$link_mbps" >"$work/link.log" 2>"$work/link.err" &
        link_pid=$!
        started_pids+=("$link_pid")
        if link_base=$(await_listening "$link_pid" "$work/link.log"); then
            direct=${base[ferry-server]}
            base[ferry-server]=$link_base
            if ferry_upload ferry-server bench-link.bin tus "$work/data.bin"; then
                link_rate=$(awk -v b="$size" -v s="$secs" 'BEGIN { printf "%.0f", b / 1e6 / s }')
                link_result="$link_rate MB/s = $((link_rate * 100 / link_mbps))% of the cap, one run"
                link_result+=" (aim 6: 90% or more)"
            else
                link_result="FAILED: $run_error"
                failed[link]=$run_error
            fi
            base[ferry-server]=$direct
            rm -f "$(stored_path ferry-server bench-link.bin '')"
        else
            link_result="FAILED: shaped-link did not start: $(tr '\n' ' ' <"$work/link.err")"
            failed[link]=$link_result
        fi
        kill "$link_pid" 2>/dev/null || true
    fi
fi
say "shaped link: $link_result"

# --- the server's memory with many uploads at once (aim 7) -----------------------------------
# BENCH_CONCURRENT (default 50) curl uploads of 32 MiB each at once, each held to 10 MB/s so
# that all of them are in flight together; the server's VmHWM over them.
concurrent=${BENCH_CONCURRENT:-50}
concurrent_result=
if [[ -n ${broken[ferry-server]:-} ]]; then
    concurrent_result="not measured: ${broken[ferry-server]}"
else
    head -c $((32 * 1048576)) "$work/data.bin" >"$work/slice.bin"
    p=${server_pid[ferry-server]}
    echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true
    urls=()
    for ((n = 0; n < concurrent; n++)); do
        name="bench-concurrent-$n.bin"
        code=$(curl -sS --max-time 30 -X POST -o /dev/null -D "$work/create-$n.headers" -w '%{http_code}' \
            -H 'Tus-Resumable: 1.0.0' -H "Upload-Length: $((32 * 1048576))" \
            -H "Authorization: Bearer ${token[ferry-server]}" \
            -H "Upload-Metadata: filename $(b64 "$name"),relativePath $(b64 "$name")" \
            "${base[ferry-server]}/files/" 2>/dev/null) || code=none
        [[ $code == 201 ]] || break
        urls+=("$(tr -d '\r' <"$work/create-$n.headers" | awk 'tolower($1) == "location:" { print $2 }' | tail -n 1)")
    done
    if ((${#urls[@]} != concurrent)); then
        concurrent_result="FAILED: creating upload ${#urls[@]} answered ${code:-nothing}"
        failed[concurrent]=$concurrent_result
    else
        curl_pids=()
        for ((n = 0; n < concurrent; n++)); do
            curl -sS --max-time 120 --limit-rate 10M -X PATCH -T "$work/slice.bin" -o /dev/null \
                -w '%{http_code}\n' -H 'Tus-Resumable: 1.0.0' -H 'Upload-Offset: 0' \
                -H 'Content-Type: application/offset+octet-stream' -H 'Expect:' \
                -H "Authorization: Bearer ${token[ferry-server]}" \
                "${base[ferry-server]}${urls[n]}" >"$work/patch-$n.code" 2>/dev/null &
            curl_pids+=("$!")
        done
        wait "${curl_pids[@]}" || true
        ok=$(cat "$work"/patch-*.code | grep -c '^204$' || true)
        peak=$(peak_rss_kib "$p")
        if ((ok == concurrent)); then
            concurrent_result="$concurrent uploads of 32 MiB at once: server peak RSS $((peak / 1024)) MiB (aim 7: under 64 MiB)"
        else
            concurrent_result="FAILED: $ok of $concurrent PATCHes answered 204"
            failed[concurrent]=$concurrent_result
        fi
    fi
    rm -f "$work/slice.bin" "$work"/create-*.headers "$work"/patch-*.code
    for ((n = 0; n < concurrent; n++)); do
        rm -f "$(stored_path ferry-server "bench-concurrent-$n.bin" '')"
    done
fi
say "concurrent uploads: $concurrent_result"

# --- the client's memory on a large file (optional) ------------------------------------------
rss_result=
if [[ -n $rss_mb ]]; then
    if [[ -n ${broken[ferry-server]:-} || -n $ferry_cli_broken ]]; then
        rss_result="not measured: ${broken[ferry-server]:-$ferry_cli_broken}"
    else
        rm -f "$work/data.bin"
        say "writing a $rss_mb MiB random test file"
        head -c $((rss_mb * 1024 * 1024)) /dev/urandom >"$work/big.bin"
        if ferry_upload ferry-server bench-big.bin tus "$work/big.bin"; then
            rss_result="ferry upload, tus, 8 MiB chunks with sha1 -> ferry-server: client peak RSS $((client_rss_kib / 1024)) MiB (aim: under 64 MiB for 4096 MiB),"
            rss_result+=" $(awk -v b=$((rss_mb * 1048576)) -v s="$secs" 'BEGIN { printf "%.0f", b / 1e6 / s }') MB/s, client CPU"
            rss_result+=" $(awk -v c="$client_cpu_secs" -v m="$rss_mb" 'BEGIN { printf "%.2f", c / (m / 1024) }') s/GiB, one run"
        else
            rss_result="FAILED: $run_error"
            failed[big]=$run_error
        fi
        rm -f "$work/big.bin" "$(stored_path ferry-server bench-big.bin '')"
        say "large file: $rss_result"
    fi
fi

# --- report -----------------------------------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem_gib=$(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo)
peer_version() { node -p "require('$peers/node_modules/$1/package.json').version" 2>/dev/null || echo unknown; }
client_label() {
    case $1 in
    curl) echo "curl, one PATCH" ;;
    tus-js-client) echo "tus-js-client, 8 MiB chunks" ;;
    ferry-tus) echo "ferry upload, tus, 8 MiB chunks with sha1" ;;
    ferry-tus-nock) echo "ferry upload, tus, 8 MiB chunks, no checksums" ;;
    ferry-galileo) echo "ferry upload, GalileoSend" ;;
    esac
}
# The client's CPU and peak RSS cells: measured for `ferry upload` only.
client_cells() {
    if [[ $1 == ferry-* ]]; then
        printf '%s | %s' "$(median1 <<<"${ccpu[$1 $2]}")" "$((${crss[$1 $2]:-0} / 1024))"
    else
        printf 'not measured | not measured'
    fi
}

section=$(
    printf '## %s: upload of a %s MiB random file, ferry-server and @tus/server, and ferry upload\n\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$size_mb"
    printf -- '- Machine: %s CPUs (%s), %s GiB memory, %s; load average %s at the start; uploads over 127.0.0.1.\n' \
        "$(nproc)" "${cpu_model:-unknown CPU}" "$mem_gib" "$(uname -sr)" "$load_at_start"
    printf -- '- Versions: %s; node %s, @tus/server %s, @tus/file-store %s, tus-js-client %s; %s.\n' \
        "$ferry_version" "$(node --version)" "$(peer_version @tus/server)" \
        "$(peer_version @tus/file-store)" "$(peer_version tus-js-client)" "$(curl --version | head -n 1 | cut -d' ' -f1-2)"
    printf -- '- Method: %s runs per pair, interleaved; MB/s is the median (1 MB = 10^6 bytes) over the upload alone' "$runs"
    printf ' (curl: the PATCH; tus-js-client: creation and all PATCHes). Server CPU: user + system seconds of the'
    printf ' server process per GiB uploaded (median). Peak RSS: VmHWM of the server process during the pair'"'"'s runs%s.' \
        "$([[ -n ${rss_since_start:-} ]] && echo ' (could not be reset: peak since the server started)')"
    # shellcheck disable=SC2016 # the backquotes are markdown
    printf ' `ferry upload` (%s): timed from start to exit (discovery, whole-file sha1, upload), fresh journal each run;' \
        "$([[ -n $ferry_cli ]] && "$ferry_cli" --version 2>/dev/null || echo 'ferry CLI not measured')"
    printf ' client CPU: user + system seconds of the ferry process per GiB (median), whole-file sha1 included;'
    printf ' client peak RSS: largest maximum RSS of the ferry process over the runs (GNU time).\n\n'
    printf '| client | server | MB/s (median) | MB/s per run | server CPU s/GiB | server peak RSS MiB | client CPU s/GiB | client peak RSS MiB |\n'
    printf '|---|---|---|---|---|---|---|---|\n'
    for client in "${clients[@]}"; do
        for server in "${all_servers[@]}"; do
            key="$client $server"
            pair "$client" "$server" || continue
            if [[ -n ${broken[$server]:-} ]]; then
                printf '| %s | %s | %s | | | | | |\n' "$(client_label "$client")" "${label[$server]}" \
                    "$([[ ${broken[$server]} == not\ measured* ]] && echo "${broken[$server]}" || echo "FAILED: ${broken[$server]}")"
            elif [[ -n ${failed[$key]:-} ]]; then
                printf '| %s | %s | FAILED: %s | | | | | |\n' "$(client_label "$client")" "${label[$server]}" \
                    "$(tr '|' '/' <<<"${failed[$key]}")"
            else
                printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(client_label "$client")" "${label[$server]}" \
                    "$(median <<<"${mbps[$key]}")" "$(sed 's/ $//; s/ /, /g' <<<"${mbps[$key]}")" \
                    "$(median1 <<<"${cpu[$key]}")" "$((${rss[$key]:-0} / 1024))" "$(client_cells "$client" "$server")"
            fi
        done
    done
    printf '\n'
    for client in curl tus-js-client; do
        a="$client ferry-server" b="$client tus-node"
        if [[ -n ${mbps[$a]:-} && -z ${failed[$a]:-} && -z ${broken[ferry-server]:-} &&
            -n ${mbps[$b]:-} && -z ${failed[$b]:-} && -z ${broken[tus-node]:-} ]]; then
            printf -- '- %s: ferry-server / @tus/server = %sx%s\n' "$(client_label "$client")" \
                "$(awk -v x="$(median <<<"${mbps[$a]}")" -v y="$(median <<<"${mbps[$b]}")" 'BEGIN { printf "%.2f", x / y }')" \
                "$([[ $client == tus-js-client ]] && echo ' (aim 2: 1.3x or more)')"
        else
            printf -- '- %s: no ratio, a row was not measured\n' "$(client_label "$client")"
        fi
    done
    b="tus-js-client tus-node"
    for client in ferry-tus ferry-tus-nock ferry-galileo; do
        a="$client ferry-server"
        if [[ -n ${mbps[$a]:-} && -z ${failed[$a]:-} && -z ${broken[ferry-server]:-} &&
            -n ${mbps[$b]:-} && -z ${failed[$b]:-} && -z ${broken[tus-node]:-} ]]; then
            printf -- '- %s -> ferry-server / tus-js-client -> @tus/server = %sx%s\n' "$(client_label "$client")" \
                "$(awk -v x="$(median <<<"${mbps[$a]}")" -v y="$(median <<<"${mbps[$b]}")" 'BEGIN { printf "%.2f", x / y }')" \
                "$(case $client in ferry-tus) echo ' (aim 1: 1.6x or more)' ;; ferry-tus-nock) echo ' (aim 1: 2.2x or more)' ;; esac)"
        else
            printf -- '- %s -> ferry-server / tus-js-client -> @tus/server: no ratio, a row was not measured\n' \
                "$(client_label "$client")"
        fi
    done
    a="ferry-galileo ferry-server" b="ferry-tus ferry-server"
    if [[ -n ${mbps[$a]:-} && -z ${failed[$a]:-} && -n ${mbps[$b]:-} && -z ${failed[$b]:-} ]]; then
        printf -- '- ferry upload, GalileoSend / ferry upload, tus with sha1 = %s%% (aim 3: 80%% or more)\n' \
            "$(awk -v x="$(median <<<"${mbps[$a]}")" -v y="$(median <<<"${mbps[$b]}")" 'BEGIN { printf "%.0f", 100 * x / y }')"
    fi
    if [[ -z ${failed[$b]:-} && -n ${ccpu[$b]:-} ]]; then
        printf -- '- CPU per GiB with every checksum (ferry upload, tus with sha1): client %s s, server %s s (aim 4: 1.4 s or less each)\n' \
            "$(median1 <<<"${ccpu[$b]}")" "$(median1 <<<"${cpu[$b]}")"
    fi
    printf -- '- Over a shaped link (%s ms round trip, %s MB/s upstream), ferry upload, tus with sha1: %s\n' \
        "$link_rtt" "$link_mbps" "$link_result"
    printf -- '- Server memory: %s\n' "$concurrent_result"
    if [[ -n $rss_mb ]]; then
        printf -- '- Large file (BENCH_RSS_MB=%s): %s\n' "$rss_mb" "$rss_result"
    fi
)

printf '\n%s\n' "$section"
if [[ $out != - ]]; then
    if [[ ! -f $out ]]; then
        # shellcheck disable=SC2016 # the backquotes are markdown
        printf '%s\n' '# Benchmarks' '' \
            'Written by `make bench` (scripts/bench.sh). Each section is one run on one machine; compare' \
            'numbers within a section, not across sections or machines. Rows that could not be measured' \
            'say so; nothing here is estimated.' >"$out"
    fi
    printf '\n%s\n' "$section" >>"$out"
    say "appended to $out"
fi

# A benchmark whose rows failed is a failed benchmark (rows left out on purpose are not).
status=0
for server in "${all_servers[@]}"; do
    [[ -n ${broken[$server]:-} && ${broken[$server]} != not\ measured* ]] && status=1
done
for key in "${!failed[@]}"; do status=1; done
exit "$status"
