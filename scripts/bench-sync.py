#!/usr/bin/env python3
"""bench-sync.py: folder sync with many small files, against ferry-server on 127.0.0.1.

Measures, for tus and for GalileoSend (each row says which):
  (a) `ferry sync --once` of BENCH_SYNC_FILES (default 10,000) random files of 4 KiB in 100
      folders, fresh journal: wall time from start to exit -> files/s; then checks that the
      server holds every file with the right size;
  (b) a rescan of BENCH_SYNC_RESCAN_FILES (default 100,000) unchanged files: they are first
      uploaded by one `ferry sync --once` (timed too, over tus only: the rescan reads the
      folder and the journal and sends nothing, so it does not depend on the protocol), then
      `ferry sync --once` runs again with nothing changed, BENCH_SYNC_RUNS times (median);
  (d) a rename: BENCH_SYNC_RENAME_MB (default 1024) MiB in 100 files are uploaded by one
      `ferry sync --once` over tus, their folder is renamed, and the next `ferry sync --once`
      is timed with the bytes it sent (ferry-server copies content it holds; aim: under 2 s
      and under 1 MB on the wire);
  (e) the peer: tus-js-client (tests/peers/tus-many.mjs) uploading the same number of 4 KiB
      files BENCH_SYNC_PEER_PARALLEL (default 20, Uppy's default) at a time, to @tus/server
      and to ferry-server, timed from the start of the node process to its exit as Ferry's
      runs are;
  (f) a long, narrow link: the same `ferry sync --once` of the small files over tus through
      the fault proxy's shaped link (tests/src/bin/shaped-link.rs) with a
      BENCH_SYNC_LINK_RTT_MS (default 20) ms round trip and BENCH_SYNC_LINK_MBPS (default 100)
      MB/s upstream (aim: 300 files/s or more);
  (c) latency: `ferry --json sync --quiet-ms 1000` runs until it is idle; then, one at a
      time, BENCH_SYNC_LATENCY_FILES (default 10) small files are written, each measured
      from the end of its write + 1000 ms (the end of its quiet period) to the first
      `progress` event for it (the server confirmed its first bytes); median and max.

Every `ferry sync --once` row also gives the ferry process's peak RSS (wait4; the aim for the
100,000-file seeding is under 150 MiB).

The result is printed as a markdown section and appended, dated, to docs/benchmarks.md.
A row that cannot be measured is reported as FAILED with the reason; nothing is estimated.

Settings (environment):
  FERRY_BIN, FERRY_SERVER_BIN  already built binaries (else both are built in release)
  BENCH_SYNC_FILES             files of 4 KiB for (a) (default 10000)
  BENCH_SYNC_RESCAN_FILES      unchanged files for (b) (default 100000)
  BENCH_SYNC_LATENCY_FILES     files for (c) (default 10)
  BENCH_SYNC_RENAME_MB         MiB in the 100 files of the renamed folder for (d) (default 1024)
  BENCH_SYNC_RUNS              runs of (a) per protocol and of the rescan (default 1 and 3)
  BENCH_SYNC_PROTOCOLS         "tus galileo" (default both)
  BENCH_SYNC_CONCURRENCY       --concurrency for the sync runs (default: ferry's own)
  BENCH_DIR                    scratch directory (default target/bench-sync; removed after)
  BENCH_OUT                    markdown file to append to (default docs/benchmarks.md; "-": none)
  BENCH_LABEL                  a note for the section's title (e.g. "before the changes")
  BENCH_SYNC_PEER_PARALLEL     uploads at a time for the tus-js-client rows (default 20)
  BENCH_SYNC_LINK_RTT_MS       round trip of the shaped link (default 20)
  BENCH_SYNC_LINK_MBPS         upstream capacity of the shaped link in MB/s (default 100)
  SHAPED_LINK_BIN              an already built shaped-link (else built in release)
  BENCH_SYNC_RESCAN_ALSO       another ferry binary (e.g. an older build) whose rescan is timed
                               too, on the same seeded journal, as an extra row
"""

import json
import os
import queue
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN_USER = "bench"
QUIET_MS = 1000


def say(msg):
    print(f"bench-sync: {msg}", file=sys.stderr, flush=True)


def die(msg):
    say(msg)
    sys.exit(1)


def env_int(name, default, low=1):
    raw = os.environ.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        die(f"{name} must be a whole number, not {raw!r}")
    if value < low:
        die(f"{name} must be at least {low}, not {value}")
    return value


N_SMALL = env_int("BENCH_SYNC_FILES", 10_000)
N_RESCAN = env_int("BENCH_SYNC_RESCAN_FILES", 100_000)
N_LATENCY = env_int("BENCH_SYNC_LATENCY_FILES", 10)
RENAME_MB = env_int("BENCH_SYNC_RENAME_MB", 1024)
RUNS_SMALL = env_int("BENCH_SYNC_RUNS_SMALL", 1)
RUNS_RESCAN = env_int("BENCH_SYNC_RUNS", 3)
PROTOCOLS = os.environ.get("BENCH_SYNC_PROTOCOLS", "tus galileo").split()
for p in PROTOCOLS:
    if p not in ("tus", "galileo"):
        die(f"unknown protocol {p!r} in BENCH_SYNC_PROTOCOLS (known: tus galileo)")
CONCURRENCY = os.environ.get("BENCH_SYNC_CONCURRENCY", "")
WORK = Path(os.environ.get("BENCH_DIR", ROOT / "target" / "bench-sync")).resolve()
OUT = os.environ.get("BENCH_OUT", str(ROOT / "docs" / "benchmarks.md"))
LABEL = os.environ.get("BENCH_LABEL", "")
PROTO_NAME = {"tus": "tus", "galileo": "GalileoSend"}
RESCAN_ALSO = os.environ.get("BENCH_SYNC_RESCAN_ALSO", "")
PEER_PARALLEL = env_int("BENCH_SYNC_PEER_PARALLEL", 20)
LINK_RTT_MS = env_int("BENCH_SYNC_LINK_RTT_MS", 20)
LINK_MBPS = env_int("BENCH_SYNC_LINK_MBPS", 100)
PEERS = ROOT / "tests" / "peers"


def binaries():
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    ferry = os.environ.get("FERRY_BIN")
    server = os.environ.get("FERRY_SERVER_BIN")
    link = os.environ.get("SHAPED_LINK_BIN")
    if not ferry or not server or not link:
        say("building ferry-server, the ferry CLI and shaped-link (release)")
        cargo = os.environ.get("CARGO", "cargo")
        subprocess.run([cargo, "build", "--release", "--locked", "-p", "ferry-cli", "-p", "ferry-server",
                        "-p", "ferry-tests", "--bin", "ferry", "--bin", "ferry-server", "--bin", "shaped-link"],
                       cwd=ROOT, check=True)
        ferry = ferry or str(target / "release" / "ferry")
        server = server or str(target / "release" / "ferry-server")
        link = link or str(target / "release" / "shaped-link")
    for b in (ferry, server, link):
        if not os.access(b, os.X_OK):
            die(f"no executable at {b}")
    return ferry, server, link


FERRY, SERVER, LINK = binaries()
started = []


def stop_started():
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def await_listening(proc, log_path, what):
    for _ in range(200):
        for line in log_path.read_text().splitlines():
            if line.startswith("listening on http://"):
                return line[len("listening on "):].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    die(f"{what} did not start")


def start_peer_server():
    """@tus/server with @tus/file-store on 127.0.0.1; returns (store dir, base URL)."""
    store = WORK / "tus-node-store"
    log = open(WORK / "tus-node.log", "w")
    proc = subprocess.Popen(["node", str(PEERS / "tus-node-server.mjs"), "--dir", str(store)],
                            stdout=log, stderr=open(WORK / "tus-node.err", "w"))
    started.append(proc)
    return store, await_listening(proc, WORK / "tus-node.log", "@tus/server")


def start_link(target_url):
    """The shaped link to target_url's host and port; returns its base URL."""
    target = target_url.split("://", 1)[1].rstrip("/")
    log_path = WORK / "shaped-link.log"
    proc = subprocess.Popen([LINK, target, str(LINK_RTT_MS), str(LINK_MBPS)],
                            stdout=open(log_path, "w"), stderr=open(WORK / "shaped-link.err", "w"))
    started.append(proc)
    return await_listening(proc, log_path, "shaped-link")


def start_server():
    data = WORK / "server-data"
    data.mkdir(parents=True)
    subprocess.run([SERVER, "user", "add", TOKEN_USER, "--password-stdin", "--data", str(data)],
                   input=b"bench-password\n", check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([SERVER, "token", "issue", TOKEN_USER, "--data", str(data)],
                           check=True, capture_output=True, text=True).stdout.strip()
    log = open(WORK / "server.log", "w")
    err = open(WORK / "server.err", "w")
    proc = subprocess.Popen([SERVER, "serve", "--listen", "127.0.0.1:0", "--data", str(data)],
                            stdout=log, stderr=err)
    started.append(proc)
    for _ in range(200):
        text = (WORK / "server.log").read_text()
        for line in text.splitlines():
            if line.startswith("listening on http://"):
                return data, token, line[len("listening on "):].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    die("ferry-server did not start: " + (WORK / "server.err").read_text()[-300:])


DATA, TOKEN, URL = None, None, None


def ferry_env(home):
    env = dict(os.environ)
    env["FERRY_TOKEN"] = TOKEN
    env["FERRY_HOME"] = str(home)
    return env


def make_files(folder, count, size, per_dir=100):
    """count random files of size bytes in folders of per_dir; returns their relative paths."""
    rels = []
    for i in range(count):
        d = folder / f"d{i // per_dir:04}"
        if i % per_dir == 0:
            d.mkdir(parents=True, exist_ok=True)
        rel = f"d{i // per_dir:04}/f{i % per_dir:03}.bin"
        (folder / rel).write_bytes(os.urandom(size))
        rels.append(rel)
    return rels


def add_folder(home, folder, remote, protocol, url=None):
    subprocess.run([FERRY, "folder", "add", str(folder), "--server", url or URL, "--remote", remote,
                    "--protocol", protocol], env=ferry_env(home), check=True, stdout=subprocess.DEVNULL)


PEAK_RSS = {}


def sync_once(home, log_name, ferry=None):
    """Runs `ferry --json sync --once`; returns (seconds, summary dict) or raises. The
    process's peak RSS (KiB, from wait4) is kept in PEAK_RSS[log_name]."""
    args = [ferry or FERRY, "--json", "sync", "--once"]
    if CONCURRENCY:
        args += ["--concurrency", CONCURRENCY]
    out_path = WORK / f"{log_name}.out"
    with open(out_path, "w") as out, open(WORK / f"{log_name}.err", "w") as err:
        start = time.monotonic()
        proc = subprocess.Popen(args, env=ferry_env(home), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.monotonic() - start
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
        PEAK_RSS[log_name] = usage.ru_maxrss
    last = None
    with open(out_path) as f:
        for line in f:
            if '"uploaded"' in line and '"event"' not in line:
                last = line
    if rc != 0 or last is None:
        tail = (WORK / f"{log_name}.err").read_text()[-300:].replace("\n", " ")
        raise RuntimeError(f"ferry sync --once exited with {rc}: {tail}")
    return secs, json.loads(last)


def check_server(remote, rels, size):
    base = DATA / "files" / TOKEN_USER / remote
    bad = 0
    for rel in rels:
        try:
            if (base / rel).stat().st_size != size:
                bad += 1
        except FileNotFoundError:
            bad += 1
    if bad:
        raise RuntimeError(f"the server lacks or has a wrong size for {bad} of {len(rels)} files")


def small_files(protocol, run, url=None):
    home = WORK / f"home-small-{protocol}-{run}"
    folder = WORK / f"small-{protocol}-{run}"
    remote = f"small-{protocol}-{run}"
    say(f"{protocol}: writing {N_SMALL} files of 4 KiB")
    rels = make_files(folder, N_SMALL, 4096)
    add_folder(home, folder, remote, protocol, url)
    subprocess.run(["sync"], check=True)
    say(f"{protocol}: ferry sync --once of {N_SMALL} files (run {run}{', shaped link' if url else ''})")
    secs, summary = sync_once(home, f"small-{protocol}-{run}")
    if summary["uploaded"] != N_SMALL or summary["failed"]:
        raise RuntimeError(f"the summary says {summary['uploaded']} uploaded, {len(summary['failed'])} failed")
    check_server(remote, rels, 4096)
    shutil.rmtree(folder)
    shutil.rmtree(home)
    shutil.rmtree(DATA / "files" / TOKEN_USER / remote)
    say(f"{protocol}: {secs:.2f} s, {N_SMALL / secs:.0f} files/s")
    return secs


def peer_small_files(kind, endpoint, token, stored_under):
    """tus-js-client uploading N_SMALL files of 4 KiB, PEER_PARALLEL at a time; returns seconds."""
    folder = WORK / f"peer-{kind}"
    say(f"tus-js-client x{PEER_PARALLEL} -> {kind}: writing {N_SMALL} files of 4 KiB")
    rels = make_files(folder, N_SMALL, 4096)
    subprocess.run(["sync"], check=True)
    args = ["node", str(PEERS / "tus-many.mjs"), "--endpoint", endpoint, "--token", token,
            "--dir", str(folder), "--parallel", str(PEER_PARALLEL), "--prefix", f"peer-{kind}"]
    start = time.monotonic()
    done = subprocess.run(args, capture_output=True, text=True)
    secs = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(f"tus-many exited with {done.returncode}: {done.stderr[-300:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["files"] != N_SMALL:
        raise RuntimeError(f"tus-many uploaded {result['files']} files, not {N_SMALL}")
    stored_under(rels)
    shutil.rmtree(folder)
    say(f"tus-js-client x{PEER_PARALLEL} -> {kind}: {secs:.2f} s, {N_SMALL / secs:.0f} files/s")
    return secs


def rescan():
    home = WORK / "home-rescan"
    folder = WORK / "rescan"
    remote = "rescan"
    say(f"writing {N_RESCAN} tiny files for the rescan")
    rels = make_files(folder, N_RESCAN, 64)
    add_folder(home, folder, remote, "tus")
    subprocess.run(["sync"], check=True)
    say(f"seeding: ferry sync --once of {N_RESCAN} files of 64 bytes (tus)")
    seed, summary = sync_once(home, "rescan-seed")
    if summary["uploaded"] != N_RESCAN or summary["failed"]:
        raise RuntimeError(f"seeding: the summary says {summary['uploaded']} uploaded")
    check_server(remote, rels, 64)
    say(f"seeded in {seed:.2f} s; rescanning")
    times = []
    for run in range(RUNS_RESCAN):
        secs, summary = sync_once(home, f"rescan-{run}")
        if summary["uploaded"] or summary["unchanged"] or summary["failed"]:
            raise RuntimeError(f"the rescan sent something: {summary}")
        times.append(secs)
        say(f"rescan {run + 1}: {secs:.3f} s")
    also = []
    for run in range(RUNS_RESCAN if RESCAN_ALSO else 0):
        secs, summary = sync_once(home, f"rescan-also-{run}", RESCAN_ALSO)
        if summary["uploaded"] or summary["unchanged"] or summary["failed"]:
            raise RuntimeError(f"the rescan by {RESCAN_ALSO} sent something: {summary}")
        also.append(secs)
        say(f"rescan {run + 1} by {RESCAN_ALSO}: {secs:.3f} s")
    shutil.rmtree(folder)
    shutil.rmtree(home)
    shutil.rmtree(DATA / "files" / TOKEN_USER / remote)
    return seed, times, also


def rename():
    """Seeds a folder of 100 files (RENAME_MB MiB), renames it, times the next sync."""
    home = WORK / "home-rename"
    parent = WORK / "rename"
    folder = parent / "Holiday"
    say(f"writing {RENAME_MB} MiB in 100 files for the rename")
    rels = make_files(folder, 100, RENAME_MB * 1048576 // 100)
    add_folder(home, parent, "rename", "tus")
    subprocess.run(["sync"], check=True)
    seed, summary = sync_once(home, "rename-seed")
    if summary["uploaded"] != 100 or summary["failed"]:
        raise RuntimeError(f"seeding: the summary says {summary['uploaded']} uploaded")
    say(f"seeded in {seed:.2f} s; renaming the folder")
    folder.rename(parent / "Holiday 2026")
    subprocess.run(["sync"], check=True)
    secs, summary = sync_once(home, "rename")
    if summary["uploaded"] != 100 or summary["failed"]:
        raise RuntimeError(f"after the rename: {summary['uploaded']} uploaded, {len(summary['failed'])} failed")
    check_server("rename/Holiday 2026", rels, RENAME_MB * 1048576 // 100)
    say(f"rename: {secs:.2f} s, {summary['bytes_sent']} bytes sent")
    shutil.rmtree(parent)
    shutil.rmtree(home)
    shutil.rmtree(DATA / "files" / TOKEN_USER / "rename")
    return secs, summary["bytes_sent"]


def reader(stream, events):
    for line in stream:
        now = time.monotonic()
        try:
            events.put((now, json.loads(line)))
        except json.JSONDecodeError:
            pass
    events.put((time.monotonic(), None))


def wait_for(events, pred, timeout):
    """The time of the first event matching pred, within timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("timed out waiting for an event from ferry sync")
        try:
            at, event = events.get(timeout=left)
        except queue.Empty:
            continue
        if event is None:
            raise RuntimeError("ferry sync exited")
        if pred(event):
            return at


def latency(protocol):
    home = WORK / f"home-latency-{protocol}"
    folder = (WORK / f"latency-{protocol}").resolve()
    folder.mkdir()
    warm = folder / "warm-up.bin"
    warm.write_bytes(os.urandom(4096))
    add_folder(home, folder, f"latency-{protocol}", protocol)
    err = open(WORK / f"latency-{protocol}.err", "w")
    proc = subprocess.Popen([FERRY, "--json", "sync", "--quiet-ms", str(QUIET_MS)], env=ferry_env(home),
                            stdout=subprocess.PIPE, stderr=err, text=True, bufsize=1)
    started.append(proc)
    events = queue.Queue()
    threading.Thread(target=reader, args=(proc.stdout, events), daemon=True).start()
    try:
        # Idle: the warm-up file (server discovery, token) is uploaded and nothing happens for 1 s.
        wait_for(events, lambda e: e.get("event") == "finished" and e.get("path") == str(warm), 60)
        time.sleep(1.0)
        out = []
        for i in range(N_LATENCY):
            path = folder / f"new-{i:02}.bin"
            with open(path, "wb") as f:
                f.write(os.urandom(4096))
            written = time.monotonic()
            at = wait_for(events, lambda e, p=str(path): e.get("event") == "progress" and e.get("path") == p, 30)
            wait_for(events, lambda e, p=str(path): e.get("event") == "finished" and e.get("path") == p, 30)
            ms = (at - (written + QUIET_MS / 1000)) * 1000
            out.append(ms)
            say(f"{protocol}: file {i + 1}: {ms:.0f} ms after its quiet period")
            time.sleep(0.5)
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def measure(what, fn, *args):
    try:
        return fn(*args), None
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        say(f"{what}: FAILED: {e}")
        return None, str(e).replace("|", "/")


def version(binary):
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        return f"{Path(binary).name} (version unknown)"


def git_rev():
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT).returncode != 0
        return rev + (", uncommitted changes" if dirty else "")
    except (subprocess.CalledProcessError, OSError):
        return "unknown"


def main():
    global DATA, TOKEN, URL
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    subprocess.run(["bash", str(ROOT / "scripts" / "setup-node.sh")], check=True)
    DATA, TOKEN, URL = start_server()
    say(f"ferry-server at {URL}")
    store, peer_url = start_peer_server()
    say(f"@tus/server at {peer_url}")
    link_url = start_link(URL)
    say(f"shaped link ({LINK_RTT_MS} ms, {LINK_MBPS} MB/s) to ferry-server at {link_url}")
    small = {}
    for protocol in PROTOCOLS:
        runs, error = [], None
        for run in range(RUNS_SMALL):
            secs, error = measure(f"{protocol} small files", small_files, protocol, run)
            if error:
                break
            runs.append(secs)
        small[protocol] = (runs, error)

    def in_peer_store(rels):
        held = [f for f in store.iterdir() if not f.name.endswith(".json")]
        right = sum(1 for f in held if f.stat().st_size == 4096)
        if right != len(rels):
            raise RuntimeError(f"@tus/server holds {right} files of 4096 bytes, not {len(rels)}")
        shutil.rmtree(store)
        store.mkdir()

    def in_ferry_server(rels):
        check_server("peer-ferry-server", rels, 4096)
        shutil.rmtree(DATA / "files" / TOKEN_USER / "peer-ferry-server")

    peer = {
        "@tus/server": measure("tus-js-client -> @tus/server", peer_small_files, "tus-node",
                               peer_url + "/files/", "unused", in_peer_store),
        "ferry-server": measure("tus-js-client -> ferry-server", peer_small_files, "ferry-server",
                                URL + "/files/", TOKEN, in_ferry_server),
    }
    linked = measure("small files over the shaped link", small_files, "tus", "link", link_url)
    rescan_result, rescan_error = measure("rescan", rescan)
    rename_result, rename_error = measure("rename", rename)
    lat = {p: measure(f"{p} latency", latency, p) for p in PROTOCOLS}
    stop_started()

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1048576
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    conc = CONCURRENCY or "ferry's default"
    lines = [
        f"## {when}: folder sync, many small files{': ' + LABEL if LABEL else ''}",
        "",
        f"- Machine: {os.cpu_count()} CPUs ({cpu}), {mem:.1f} GiB memory, {os.uname().sysname} "
        f"{os.uname().release}; load average {load} at the start; ferry-server on 127.0.0.1, "
        "its data directory on the same disk as the files.",
        f"- Versions: {version(FERRY)}, {version(SERVER)} (git {git_rev()}).",
        f"- Method (scripts/bench-sync.py): `ferry --json sync --once` with a fresh journal, concurrency {conc}, "
        f"timed from start to exit; the server is then checked to hold every file with its size. "
        f"Rescan: the {N_RESCAN} files (64 bytes each) are first uploaded by one `ferry sync --once` over tus "
        "(the seeding row); the rescan itself reads the folder and the journal and sends nothing, so it does not "
        f"depend on the protocol; median of {RUNS_RESCAN} runs. Latency: `ferry --json sync --quiet-ms {QUIET_MS}` "
        f"is idle (a warm-up file uploaded, so the server is discovered); {N_LATENCY} files of 4 KiB are written one "
        f"at a time, each measured from the end of its write + {QUIET_MS} ms (the end of its quiet period) to the "
        "first `progress` event for it (the server confirmed its first bytes). "
        f"tus-js-client rows: tests/peers/tus-many.mjs, one upload per file, {PEER_PARALLEL} at a time, timed "
        "from the node process's start to its exit; @tus/server with @tus/file-store on the same disk. "
        f"Shaped link: the fault proxy's (tests/src/bin/shaped-link.rs), {LINK_RTT_MS} ms round trip, "
        f"{LINK_MBPS} MB/s upstream over all connections. Peak RSS: the ferry process's maximum RSS (wait4).",
        "",
        "| measurement | protocol | result | aim |",
        "|---|---|---|---|",
    ]
    def rss(name):
        return f"; peak RSS {PEAK_RSS[name] / 1024:.0f} MiB" if name in PEAK_RSS else ""

    for protocol in PROTOCOLS:
        runs, error = small[protocol]
        name = PROTO_NAME[protocol]
        if runs and not error:
            med = statistics.median(runs)
            per = ", ".join(f"{r:.1f} s" for r in runs)
            lines.append(f"| `sync --once`, {N_SMALL} files of 4 KiB | {name} | "
                         f"{N_SMALL / med:.0f} files/s ({per}{rss(f'small-{protocol}-0')}) | "
                         f"{'2x tus-js-client x20 -> @tus/server (aim 5)' if protocol == 'tus' else 'half of tus (aim 5)'} |")
        else:
            lines.append(f"| `sync --once`, {N_SMALL} files of 4 KiB | {name} | FAILED: {error} | |")
    for server, (secs, error) in peer.items():
        what = f"tus-js-client x{PEER_PARALLEL} (tests/peers/tus-many.mjs), {N_SMALL} files of 4 KiB"
        if error:
            lines.append(f"| {what} | tus -> {server} | FAILED: {error} | |")
        else:
            lines.append(f"| {what} | tus -> {server} | {N_SMALL / secs:.0f} files/s ({secs:.1f} s) | |")
    secs, error = linked
    what = f"`sync --once`, {N_SMALL} files of 4 KiB, over a {LINK_RTT_MS} ms round trip capped at {LINK_MBPS} MB/s"
    if error:
        lines.append(f"| {what} | tus | FAILED: {error} | 300+ files/s (aim 6) |")
    else:
        lines.append(f"| {what} | tus | {N_SMALL / secs:.0f} files/s ({secs:.1f} s{rss('small-tus-link')}) | 300+ files/s (aim 6) |")
    if rescan_result:
        seed, times, also = rescan_result
        lines.append(f"| seeding: `sync --once`, {N_RESCAN} files of 64 bytes | tus | "
                     f"{seed:.1f} s, {N_RESCAN / seed:.0f} files/s{rss('rescan-seed')} | peak RSS under 150 MiB (aim 7) |")
        per = ", ".join(f"{t:.2f}" for t in times)
        lines.append(f"| rescan of {N_RESCAN} unchanged files | any | {statistics.median(times):.2f} s "
                     f"(runs: {per} s) | under 1 s (aim 8) |")
        if also:
            per = ", ".join(f"{t:.2f}" for t in also)
            lines.append(f"| the same rescan by {version(RESCAN_ALSO)} at {RESCAN_ALSO} | any | "
                         f"{statistics.median(also):.2f} s (runs: {per} s) | under 2 s |")
    else:
        lines.append(f"| rescan of {N_RESCAN} unchanged files | any | FAILED: {rescan_error} | under 2 s |")
    what = f"`sync --once` after renaming a folder of {RENAME_MB} MiB in 100 files"
    if rename_result:
        secs, sent = rename_result
        lines.append(f"| {what} | tus | {secs:.2f} s, {sent} bytes sent | under 2 s, under 1 MB |")
    else:
        lines.append(f"| {what} | tus | FAILED: {rename_error} | under 2 s, under 1 MB |")
    for protocol in PROTOCOLS:
        values, error = lat[protocol]
        name = PROTO_NAME[protocol]
        if values and not error:
            lines.append(f"| end of quiet period to first confirmed bytes | {name} | median "
                         f"{statistics.median(values):.0f} ms, max {max(values):.0f} ms "
                         f"({len(values)} files) | under 200 ms |")
        else:
            lines.append(f"| end of quiet period to first confirmed bytes | {name} | FAILED: {error} | under 200 ms |")
    ferry_tus = small.get("tus", ([], "not run"))
    if ferry_tus[0] and not ferry_tus[1]:
        tus_rate = N_SMALL / statistics.median(ferry_tus[0])
        secs, error = peer["@tus/server"]
        if not error:
            lines += ["", f"- Ferry over tus / tus-js-client x{PEER_PARALLEL} -> @tus/server = "
                      f"{tus_rate / (N_SMALL / secs):.2f}x (aim 5: 2x or more)"]
        gal = small.get("galileo", ([], "not run"))
        if gal[0] and not gal[1]:
            lines.append(f"- Ferry over GalileoSend / Ferry over tus = "
                         f"{N_SMALL / statistics.median(gal[0]) / tus_rate:.2f} (aim 5: 0.5 or more)")
    section = "\n".join(lines)
    print("\n" + section)
    if OUT != "-":
        with open(OUT, "a") as f:
            f.write("\n" + section + "\n")
        say(f"appended to {OUT}")
    shutil.rmtree(WORK, ignore_errors=True)
    failed = (any(e for _, e in small.values()) or rescan_error or rename_error or linked[1]
              or any(e for _, e in peer.values())
              or any(e for _, e in lat.values()))
    return 1 if failed else 0


if __name__ == "__main__":
    # A SIGTERM (timeout, make killed) stops the processes started here too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    finally:
        stop_started()
