// Browser-test harness: the real App with the Tauri IPC mocked by @tauri-apps/api/mocks.
// A test sets `window.__FERRY_SCENARIO__` (an init script) before this runs; the fake shell
// below answers every command of docs/desktop.md from that scenario, records each call in
// `window.__ferry.calls`, and rejects a command with `scenario.errors[cmd]` when set.
// `window.__ferry.emit(name, payload)` sends a shell event to the window.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { mount } from "svelte";
import App from "../src/App.svelte";
import "../src/app.css";
import type { FerryError } from "../src/lib/errors";
import { applyEngineEvent, fromSnapshot, type ActivityState } from "../src/lib/stores/activity";
import type {
  Account,
  Activity,
  DayTotal,
  EngineEvent,
  FolderView,
  HistoryQuery,
  HistoryRow,
  Outcome,
  Overview,
  Protocol,
  ServerProbe,
  Settings,
  Verification,
} from "../src/lib/types";
import { OUTCOMES } from "../src/lib/types";

export interface Scenario {
  accounts: Account[];
  folders: FolderView[];
  activity: Activity;
  overview: Overview;
  settings: Settings;
  /** What server_probe answers, by URL; `*` for any other URL. */
  probes: Record<string, ServerProbe>;
  ignore: Record<string, string>;
  /** How many rows the history has; rows are made up page by page when asked for. */
  historyTotal: number;
  perDay: DayTotal[] | null;
  /** Rejections by command name, e.g. { sign_in: { code: "wrong_password", message: "..." } }. */
  errors: Record<string, FerryError>;
  /** What the folder picker returns (null: the user cancelled). */
  dialogPath: string | null;
}

interface Call {
  cmd: string;
  args: Record<string, unknown> | undefined;
}

const DAY_MS = 86_400_000;

function defaults(): Scenario {
  return {
    accounts: [],
    folders: [],
    activity: { paused: false, queue: [], failed: [], totalBytes: 0, confirmedBytes: 0 },
    overview: { state: "signed_out", uploading: 0, queued: 0, failed: 0, message: "Signed out" },
    settings: {
      concurrency: 4,
      rateLimit: null,
      quietPeriodMs: 2000,
      autostart: false,
      notifyFailures: true,
      notifyFinished: false,
      schedule: [],
      pauseOnMetered: false,
      pauseOnBatteryBelow: null,
    },
    probes: {},
    ignore: {},
    historyTotal: 0,
    perDay: null,
    errors: {},
    dialogPath: null,
  };
}

declare global {
  interface Window {
    __FERRY_SCENARIO__?: Partial<Scenario>;
    __ferry: { calls: Call[]; scenario: Scenario; emit: (name: string, payload: unknown) => Promise<void> };
  }
}

const scenario: Scenario = { ...defaults(), ...(window.__FERRY_SCENARIO__ ?? {}) };
const calls: Call[] = [];
let activity: ActivityState = fromSnapshot(scenario.activity);

function snapshot(): Activity {
  const queue = activity.queue.map(({ samples: _samples, ...item }) => item);
  return {
    paused: activity.paused,
    queue,
    failed: activity.failed,
    totalBytes: queue.reduce((s, e) => s + e.size, 0),
    confirmedBytes: queue.reduce((s, e) => s + e.confirmed, 0),
  };
}

function historyRow(id: number, outcome: Outcome, search: string | undefined, folder: string | undefined): HistoryRow {
  const name = search ? `${search}-${id}.jpg` : `photo-${id}.jpg`;
  const dir = folder ?? "/home/demo/Pictures";
  const size = 1_000_000 + id * 1000;
  const finished = Date.UTC(2026, 10, 20, 12, 0) - id * 60_000;
  return {
    id,
    localPath: `${dir}/${name}`,
    folder: dir,
    remotePath: `Pictures/${name}`,
    server: "http://127.0.0.1:8080",
    protocol: "tus",
    size,
    sha1: id.toString(16).padStart(40, "a"),
    outcome,
    // As opaque and long as a real tus upload URL.
    location: `http://127.0.0.1:8080/files/${id.toString(16).padStart(8, "0")}3f9a0c1e7b2d4a6f8e0c2b4d6f8a0c1e`,
    bytesSent: outcome === "uploaded" ? size : 0,
    startedAtMs: finished - 2000,
    finishedAtMs: finished,
    durationMs: 2000,
    speed: size / 2,
    error: outcome === "failed" ? "The server refused the file." : null,
    verification: outcome === "uploaded" ? VERIFICATIONS[id % 3][0] : null,
    verified: outcome === "uploaded" ? VERIFICATIONS[id % 3][1] : null,
  };
}

/** Every verification level, so the history shows each of them. */
const VERIFICATIONS: [Verification, string][] = [
  ["sha1-by-server", "verified: sha1 by server"],
  ["chunks-checksummed", "verified: chunks checksummed"],
  ["unverified", "unverified: the server offers no checksum"],
];

function history(q: HistoryQuery) {
  // A search matches few rows, a filter on the outcome a fifth: enough to tell pages apart.
  const total = q.search ? Math.min(3, scenario.historyTotal) : q.outcome ? Math.floor(scenario.historyTotal / 5) : scenario.historyTotal;
  const rows: HistoryRow[] = [];
  for (let i = q.offset; i < Math.min(total, q.offset + q.limit); i++) {
    const id = total - i;
    rows.push(historyRow(id, q.outcome ?? OUTCOMES[id % 2 === 0 ? 0 : 2], q.search, q.folder));
  }
  return { rows, total };
}

function perDay(days: number): DayTotal[] {
  if (scenario.perDay) return scenario.perDay;
  const end = Date.UTC(2026, 10, 23);
  return Array.from({ length: days }, (_, i) => {
    const day = new Date(end - (days - 1 - i) * DAY_MS).toISOString().slice(0, 10);
    const files = scenario.historyTotal === 0 ? 0 : (i * 7) % 11;
    return { day, bytes: files * 3_500_000, files };
  });
}

function folder(path: string, f: FolderView | undefined): FolderView {
  if (!f) throw { code: "not_found", message: `Ferry does not sync ${path}.` } satisfies FerryError;
  return f;
}

function handle(cmd: string, args: Record<string, unknown>): unknown {
  const a = args as Record<string, never>;
  switch (cmd) {
    case "server_probe": {
      const url = String(a.url);
      const probe = scenario.probes[url] ?? scenario.probes["*"];
      if (!probe) throw { code: "unreachable", message: `Cannot reach ${url}.` } satisfies FerryError;
      return { ...probe, url };
    }
    case "sign_in": {
      const account: Account = { server: a.server, user: a.user ?? "token", signedIn: true };
      scenario.accounts = [...scenario.accounts.filter((x) => x.server !== account.server || x.user !== account.user), account];
      scenario.overview = { state: "no_folders", uploading: 0, queued: 0, failed: 0, message: "No folders yet" };
      return account;
    }
    case "sign_out":
      scenario.accounts = scenario.accounts.map((x) => (x.server === a.server && x.user === a.user ? { ...x, signedIn: false } : x));
      scenario.overview = { state: "signed_out", uploading: 0, queued: 0, failed: 0, message: "Signed out" };
      return null;
    case "accounts":
      return scenario.accounts;
    case "folders":
      return scenario.folders;
    case "folder_add": {
      if (scenario.folders.some((f) => f.path === a.path)) {
        throw { code: "already_exists", message: `Ferry already syncs ${a.path}.` } satisfies FerryError;
      }
      const view: FolderView = {
        path: a.path,
        server: a.server,
        user: a.user,
        remotePrefix: a.remotePrefix ?? "",
        protocol: (a.protocol as Protocol | undefined) ?? null,
        paused: false,
        files: 0,
        uploaded: 0,
        pending: 0,
        uploading: 0,
        failed: 0,
        // As the shell says until the running engine takes the folder up (ferry://folders).
        watcher: "starting",
        warning: null,
      };
      scenario.folders = [...scenario.folders, view];
      return view;
    }
    case "folder_remove":
      folder(a.path, scenario.folders.find((f) => f.path === a.path));
      scenario.folders = scenario.folders.filter((f) => f.path !== a.path);
      return null;
    case "folder_pause": {
      const f = folder(a.path, scenario.folders.find((x) => x.path === a.path));
      const view: FolderView = { ...f, paused: a.paused, watcher: a.paused ? "paused" : "watching" };
      scenario.folders = scenario.folders.map((x) => (x.path === view.path ? view : x));
      return view;
    }
    case "folder_ignore_get":
      return scenario.ignore[a.path] ?? "";
    case "folder_ignore_set":
      scenario.ignore[a.path] = a.rules;
      return null;
    case "activity":
      return snapshot();
    case "pause_all":
      // As the engine does: every row paused, no speed.
      activity = applyEngineEvent(activity, { event: "paused", folder: null }, Date.now());
      return null;
    case "resume_all":
      activity = applyEngineEvent(activity, { event: "resumed", folder: null }, Date.now());
      return null;
    case "retry":
      activity = { ...activity, failed: a.path === undefined ? [] : activity.failed.filter((f) => f.path !== a.path) };
      return null;
    case "history":
      return history(a.query as HistoryQuery);
    case "history_per_day":
      return perDay(a.days);
    case "settings":
      return scenario.settings;
    case "settings_set": {
      // As the real shell answers: the same settings, an object's keys in another order.
      const saved = a.settings as Settings;
      scenario.settings = { ...saved, schedule: (saved.schedule ?? []).map((r) => ({ limit: r.limit, to: r.to, from: r.from, days: r.days })) };
      return scenario.settings;
    }
    case "overview":
      return scenario.overview;
    case "plugin:dialog|open":
      return scenario.dialogPath;
    default:
      throw `harness: no fake for command ${cmd}`;
  }
}

mockWindows("main");
mockIPC(
  (cmd, args) => {
    const plain = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: JSON.parse(JSON.stringify(plain)) as Record<string, unknown> });
    const error = scenario.errors[cmd];
    if (error) throw error;
    return handle(cmd, plain);
  },
  { shouldMockEvents: true },
);

window.__ferry = {
  calls,
  scenario,
  async emit(name, payload) {
    if (name === "ferry://engine") activity = applyEngineEvent(activity, payload as EngineEvent, Date.now());
    if (name === "ferry://overview") scenario.overview = payload as Overview;
    await emit(name, payload);
  },
};

const target = document.getElementById("app");
if (!target) throw new Error("harness/index.html has no #app element");
mount(App, { target });
