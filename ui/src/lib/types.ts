// The types that cross between the window and the shell, copied from docs/desktop.md.
// Keep this file identical in meaning to that document: a change there changes this file.

export type Protocol = "tus" | "galileo";

export interface ServerProbe {
  url: string;
  kind: "ferry-server" | "tus" | "galileo";
  protocols: Protocol[];
  needsSignIn: boolean;
  notes: string[];
}

export interface Account {
  server: string;
  user: string;
  signedIn: boolean;
}

export type WatcherState = "watching" | "rescanning" | "paused" | "stopped" | "starting" | "missing";

/** Why uploads wait (a state, not an error): sleep, a metered connection, a low battery, the schedule. */
export interface Hold {
  reason: "sleep" | "metered" | "battery" | "schedule";
  /** Until when (unix ms), where it is known (the schedule's). */
  untilMs: number | null;
  /** In words, e.g. "paused: metered connection". */
  message: string;
}

/** The rate the bandwidth schedule sets now. */
export interface ScheduledRate {
  rate: number;
  untilMs: number | null;
  /** In words, e.g. "limited to 1 MB/s by the schedule until 18:00". */
  message: string;
}

/** A synced folder's live state in the running engine (`ferry://folders`). */
export interface FolderSync {
  path: string;
  watcher: WatcherState;
  warning: string | null;
  /** Why its uploads wait now, if they do. */
  hold?: Hold | null;
}

export interface FolderView {
  path: string;
  server: string;
  user: string;
  remotePrefix: string;
  protocol: Protocol | null;
  paused: boolean;
  files: number;
  uploaded: number;
  pending: number;
  uploading: number;
  failed: number;
  watcher: WatcherState;
  warning: string | null;
  /** Why its uploads wait now in the running engine (a metered connection, its schedule). */
  hold?: Hold | null;
}

export interface QueueItem {
  path: string;
  folder: string | null;
  size: number;
  confirmed: number;
  /** Bytes on their way or confirmed (at least `confirmed`): what bars show. */
  sent?: number;
  state: "queued" | "uploading" | "retrying" | "paused";
  speed: number;
  etaSecs: number | null;
  error: string | null;
  /** Its place among the files waiting for their turn (1 for the next), while queued. */
  position?: number | null;
  /** The server could not be reached: it waits for the server, not for a fix. */
  waitingForServer?: boolean;
  /** The server is out of space: it waits for space there. */
  waitingForSpace?: boolean;
  /** When it is tried again (unix ms), while retrying. */
  retryAtMs?: number | null;
}

export interface Failure {
  path: string;
  folder: string | null;
  error: string;
  permanent: boolean;
  atMs: number;
}

export interface Activity {
  paused: boolean;
  queue: QueueItem[];
  failed: Failure[];
  totalBytes: number;
  confirmedBytes: number;
}

export type Outcome = "uploaded" | "abandoned" | "failed" | "renamed" | "deleted";
export const OUTCOMES: readonly Outcome[] = ["uploaded", "abandoned", "failed", "renamed", "deleted"];

export interface HistoryQuery {
  search?: string;
  outcome?: Outcome;
  folder?: string;
  offset: number;
  limit: number;
}

export interface HistoryRow {
  id: number;
  localPath: string;
  folder: string | null;
  remotePath: string;
  server: string;
  /** null: a deletion or rename in a folder that leaves the protocol to the server. */
  protocol: Protocol | null;
  size: number;
  sha1: string | null;
  outcome: Outcome;
  location: string | null;
  bytesSent: number;
  startedAtMs: number;
  finishedAtMs: number;
  durationMs: number;
  speed: number;
  error: string | null;
  /** How an uploaded file was checked to be on the server (null: not uploaded, or older). */
  verification: Verification | null;
  /** The same for a person: "verified: sha1 by server", ... */
  verified: string | null;
}

export type Verification = 'sha1-by-server' | 'chunks-checksummed' | 'unverified';

export interface HistoryPage {
  rows: HistoryRow[];
  total: number;
}

export interface DayTotal {
  day: string;
  bytes: number;
  files: number;
}

/** One rule of the bandwidth schedule: on `days`, from `from` to `to` (past midnight when not after it). */
export interface ScheduleRule {
  /** "daily", "mon-fri", "sat,sun", "mon", ... */
  days: string;
  /** "HH:MM" */
  from: string;
  /** "HH:MM", "24:00" allowed */
  to: string;
  /** Bytes per second, or "off" (paused), or "unlimited". */
  limit: number | "off" | "unlimited";
}

/** A folder's own settings, on top of all folders'. */
export interface FolderSettings {
  schedule?: ScheduleRule[];
  pauseOnMetered?: boolean | null;
}

export interface Settings {
  concurrency: number;
  rateLimit: number | null;
  quietPeriodMs: number;
  autostart: boolean;
  notifyFailures: boolean;
  notifyFinished: boolean;
  schedule: ScheduleRule[];
  pauseOnMetered: boolean;
  pauseOnBatteryBelow: number | null;
  /** Folders' own settings by absolute path (kept as they are by the Settings screen). */
  folders?: Record<string, FolderSettings>;
}

export type OverviewState = "up_to_date" | "uploading" | "paused" | "problem" | "signed_out" | "no_folders" | "offline";

/** The trouble with one server's connection, shown once (header, tray, banner). */
export interface Connection {
  server: string;
  state: "unreachable" | "signed_out" | "out_of_space";
  /** When the next file is tried again (unix ms). */
  retryAtMs: number | null;
  /** The technical detail, behind a "Details" toggle. */
  detail: string | null;
  files: number;
}

export interface Overview {
  state: OverviewState;
  uploading: number;
  queued: number;
  failed: number;
  message: string;
  connection?: Connection | null;
  /** Why everything waits, if it does. */
  hold?: Hold | null;
  /** The rate the bandwidth schedule sets now. */
  scheduled?: ScheduledRate | null;
}

/** A `ferry_engine::Event` as the shell forwards it on `ferry://engine` (snake_case fields). */
export type EngineEvent =
  | { event: "queued"; path: string; size: number }
  | { event: "started"; path: string; protocol: Protocol; size: number; resumed_from: number }
  | { event: "progress"; path: string; confirmed: number; size: number }
  | { event: "sent"; path: string; sent: number; size: number }
  | { event: "retrying"; path: string; attempt: number; delay_ms: number; error: string; unreachable?: boolean; server_full?: boolean }
  | { event: "finished"; path: string; location: string; size: number; bytes_sent: number }
  | { event: "failed"; path: string; error: string; permanent: boolean }
  | { event: "paused"; folder: string | null }
  | { event: "resumed"; folder: string | null }
  | { event: "warning"; message: string };

export const ENGINE_EVENT = "ferry://engine";
export const OVERVIEW_EVENT = "ferry://overview";
export const FOLDERS_EVENT = "ferry://folders";
