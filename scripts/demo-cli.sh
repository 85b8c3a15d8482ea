#!/usr/bin/env bash
# demo-cli.sh: the protocols and the command line, shown with real peers (`make demo-cli`).
#
# Without a window, what runs here for real:
#   1. ferry-proto's client machines uploading to in-memory servers, every message printed;
#   2. ferry-server on 127.0.0.1 with a demo user and a fresh data directory, receiving
#      uploads from real third-party clients: tus-js-client (npm) plain, in parallel parts
#      (concatenation) and resumed after an interruption, and a GalileoSend client that
#      behaves exactly like the protocol's original 2013 JavaScript client;
#   3. Ferry's own `ferry upload` over tus and over GalileoSend, killed mid-upload and run
#      again (it continues where the server stands), then `ferry history`.
# At the end the server's file list is printed and every file's sha1 compared with the
# original. The server is stopped on exit; its data directory is left for you to look at.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=${CARGO_TARGET_DIR:-$root/target}
server_bin="$target/debug/ferry-server"
ferry_bin="$target/debug/ferry"
peers="$root/tests/peers"

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

bash "$root/scripts/apt-ensure.sh" curl

say "Part 1: the protocol core (ferry-proto), against in-memory servers"
"${CARGO:-cargo}" run --quiet --locked -p ferry-proto --example demo

say "Part 2: ferry-server on 127.0.0.1 with real third-party clients"
demo=$(mktemp -d -t ferry-demo.XXXXXX)
data="$demo/server-data"
folder="$demo/sample-folder"
mkdir -p "$folder/notes"
printf 'ferry-server accounts: %s\n' "$data/server.db" >"$folder/notes/readme.txt"
printf 'Hello from the Ferry demo.\n' >"$folder/hello.txt"
head -c $((5 * 1024 * 1024)) /dev/urandom >"$folder/photo.raw"
head -c $((12 * 1024 * 1024)) /dev/urandom >"$folder/video.raw"
head -c $((3 * 1024 * 1024)) /dev/urandom >"$folder/galileo.bin"

printf 'demo\n' | "$server_bin" user add demo --password-stdin --data "$data" 2>/dev/null
token=$("$server_bin" token issue demo --data "$data")
"$server_bin" serve --listen 127.0.0.1:0 --data "$data" >"$demo/server.out" 2>"$demo/server.log" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 1 100); do
    addr=$(sed -n 's|^listening on http://||p' "$demo/server.out")
    [[ -n $addr ]] && break
    sleep 0.1
done
[[ -n $addr ]] || { echo "demo: ferry-server did not start; see $demo/server.log" >&2; exit 1; }
echo "ferry-server listening on http://$addr (data: $data, user demo)"

upload() {
    node "$peers/tus-upload.mjs" --endpoint "http://$addr/files/" --token "$token" "$@"
}
echo "- tus-js-client, 1 MiB chunks: hello.txt, notes/readme.txt, photo.raw"
upload --file "$folder/hello.txt" --name hello.txt --metadata-sha1 >/dev/null
upload --file "$folder/notes/readme.txt" --name notes/readme.txt --metadata-sha1 >/dev/null
upload --file "$folder/photo.raw" --name photo.raw --chunk-size 1048576 --metadata-sha1 >/dev/null
echo "- tus-js-client, 3 parallel partial uploads joined by concatenation: video.raw"
upload --file "$folder/video.raw" --name video.raw --parallel 3 >/dev/null
echo "- tus-js-client interrupted after 4 MiB, then resumed from the stored URL: video.raw again"
first=$(upload --file "$folder/video.raw" --name video-resumed.raw --chunk-size 1048576 --interrupt-after 4194304)
url=$(printf '%s' "$first" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
upload --file "$folder/video.raw" --name video-resumed.raw --chunk-size 1048576 --resume-url "$url" >/dev/null
echo "- the original 2013 GalileoSend client logic: galileo.bin"
node "$peers/galileo-original.mjs" --url "ws://$addr/galileo?access_token=$token" --file "$folder/galileo.bin" >/dev/null

say "Part 3: Ferry's own client, ferry upload"
head -c $((24 * 1024 * 1024)) /dev/urandom >"$folder/backup.tar"
export FERRY_HOME="$demo/ferry-home" FERRY_TOKEN="$token"
echo "- ferry upload over tus, limited to 8 MB/s, killed after 1.5 s:"
"$ferry_bin" upload "$folder/backup.tar" --server "http://$addr" --limit-rate 8000000 --chunk-size 1048576 &
ferry_pid=$!
sleep 1.5
kill -9 "$ferry_pid" 2>/dev/null || true
wait "$ferry_pid" 2>/dev/null || true
"$ferry_bin" status
echo "- the same command again: it continues from what the server confirmed"
"$ferry_bin" upload "$folder/backup.tar" --server "http://$addr" --chunk-size 1048576
echo "- ferry upload over GalileoSend:"
"$ferry_bin" upload "$folder/photo.raw" --server "http://$addr" --protocol galileo --remote galileo/photo.raw
"$ferry_bin" history
unset FERRY_TOKEN

say "What the server holds (GET /api/v1/files)"
curl -fsS -H "Authorization: Bearer $token" "http://$addr/api/v1/files" | sed 's/},{/},\n {/g'
echo
say "Byte-for-byte check (sha1 of the original vs the server's copy)"
check() {
    local local_file=$1 remote=$2 a b
    a=$(sha1sum <"$local_file" | cut -c1-40)
    b=$(sha1sum <"$data/files/demo/$remote" | cut -c1-40)
    if [[ $a == "$b" ]]; then echo "  same  $a  $remote"; else echo "  DIFFERENT  $remote"; exit 1; fi
}
check "$folder/hello.txt" hello.txt
check "$folder/notes/readme.txt" notes/readme.txt
check "$folder/photo.raw" photo.raw
check "$folder/video.raw" video.raw
check "$folder/video.raw" video-resumed.raw
check "$folder/galileo.bin" galileo.bin
check "$folder/backup.tar" backup.tar
check "$folder/photo.raw" galileo/photo.raw
say "Done. The server's data directory is $data; Ferry's journal is in $demo/ferry-home. The desktop app comes with its own issue."
