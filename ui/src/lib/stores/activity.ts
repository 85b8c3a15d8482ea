// The activity queue as a pure function of engine events: no IPC, no clock reads (the caller
// passes `now`), so Vitest can drive it with literal events. activity.svelte.ts holds it in a rune.
import type { Activity, EngineEvent, Failure, QueueItem } from "../types";

/** How far back the speed of a file looks. */
export const SPEED_WINDOW_MS = 5000;

interface Sample {
  t: number;
  /** How far the bytes had got (sent or confirmed). */
  bytes: number;
}

export interface QueueEntry extends QueueItem {
  /** Positions seen over the last SPEED_WINDOW_MS (plus one before it, as the baseline). */
  samples: Sample[];
}

/** How far a file's bytes have got: sent or confirmed, whichever is further. */
export function reached(e: QueueItem): number {
  return Math.min(e.size, Math.max(e.sent ?? 0, e.confirmed));
}

export interface ActivityState {
  paused: boolean;
  queue: QueueEntry[];
  failed: Failure[];
  /** The last warning the engine sent (e.g. the watch limit), until the next snapshot. */
  warning: string | null;
}

export function emptyActivity(): ActivityState {
  return { paused: false, queue: [], failed: [], warning: null };
}

/** The state from an `activity` snapshot: the shell's speeds stand until progress events arrive. */
export function fromSnapshot(snapshot: Activity): ActivityState {
  return {
    paused: snapshot.paused,
    queue: order(snapshot.queue.map((item) => ({ ...item, samples: [] }))),
    failed: [...snapshot.failed],
    warning: null,
  };
}

/** Uploading and retrying first, then queued; otherwise the order they came in. */
function order(queue: QueueEntry[]): QueueEntry[] {
  const active = queue.filter((e) => e.state !== "queued");
  const waiting = queue.filter((e) => e.state === "queued");
  return [...active, ...waiting];
}

/** Speed in bytes/s over the samples, 0 when fewer than two samples or no time passed. */
export function speedOf(samples: readonly Sample[]): number {
  if (samples.length < 2) return 0;
  const first = samples[0];
  const last = samples[samples.length - 1];
  const dt = last.t - first.t;
  if (dt <= 0) return 0;
  return Math.max(0, ((last.bytes - first.bytes) * 1000) / dt);
}

function addSample(samples: readonly Sample[], sample: Sample): Sample[] {
  const all = [...samples, sample];
  const from = sample.t - SPEED_WINDOW_MS;
  // Keep the newest sample at or before the window's start as a baseline, drop older ones.
  let start = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i].t <= from) start = i;
  }
  return all.slice(start);
}

function withSpeed(entry: QueueEntry): QueueEntry {
  const speed = speedOf(entry.samples);
  const left = Math.max(0, entry.size - reached(entry));
  const etaSecs = speed > 0 ? left / speed : null;
  return { ...entry, speed, etaSecs };
}

function update(state: ActivityState, path: string, f: (e: QueueEntry) => QueueEntry): ActivityState {
  return { ...state, queue: order(state.queue.map((e) => (e.path === path ? f(e) : e))) };
}

function ensure(state: ActivityState, path: string, size: number): ActivityState {
  if (state.queue.some((e) => e.path === path)) return state;
  const entry: QueueEntry = {
    path,
    folder: folderOf(state, path),
    size,
    confirmed: 0,
    sent: 0,
    state: "queued",
    speed: 0,
    etaSecs: null,
    error: null,
    samples: [],
  };
  return { ...state, queue: order([...state.queue, entry]) };
}

/** The folder a path belongs to, from what the queue or the failures already know. */
function folderOf(state: ActivityState, path: string): string | null {
  const failure = state.failed.find((f) => f.path === path);
  if (failure) return failure.folder;
  const sibling = [...state.queue, ...state.failed].find((e) => e.folder !== null && path.startsWith(`${e.folder}/`));
  return sibling ? sibling.folder : null;
}

/** `e` is being sent and its bytes got to `bytes` at `now`: a sample for its speed. */
function moved(e: QueueEntry, bytes: number, now: number): QueueEntry {
  const last = e.samples.at(-1);
  // After a retry, or bytes lost on the way, the measuring starts afresh (no negative speed).
  const fresh = e.state === "retrying" || (last !== undefined && bytes < last.bytes);
  return withSpeed({
    ...e,
    sent: bytes,
    state: "uploading",
    error: null,
    samples: addSample(fresh ? [] : e.samples, { t: now, bytes }),
  });
}

/** The next state after one engine event at time `now` (unix ms). */
export function applyEngineEvent(state: ActivityState, ev: EngineEvent, now: number): ActivityState {
  switch (ev.event) {
    case "queued":
      return ensure({ ...state, failed: state.failed.filter((f) => f.path !== ev.path) }, ev.path, ev.size);
    case "started": {
      const s = ensure({ ...state, failed: state.failed.filter((f) => f.path !== ev.path) }, ev.path, ev.size);
      return update(s, ev.path, (e) =>
        withSpeed({
          ...e,
          size: ev.size,
          confirmed: ev.resumed_from,
          sent: ev.resumed_from,
          state: "uploading",
          error: null,
          samples: [{ t: now, bytes: ev.resumed_from }],
        }),
      );
    }
    case "progress": {
      const s = ensure(state, ev.path, ev.size);
      return update(s, ev.path, (e) => {
        const confirmed = Math.max(e.confirmed, ev.confirmed);
        return moved({ ...e, size: ev.size, confirmed }, Math.max(e.sent ?? 0, confirmed), now);
      });
    }
    case "sent": {
      const s = ensure(state, ev.path, ev.size);
      return update(s, ev.path, (e) => moved({ ...e, size: ev.size }, Math.max(ev.sent, e.confirmed), now));
    }
    case "retrying":
      return update(state, ev.path, (e) => ({
        ...e,
        state: "retrying",
        // What was on its way is lost; the server's count stands.
        sent: e.confirmed,
        error: ev.error,
        waitingForServer: ev.unreachable === true,
        waitingForSpace: ev.server_full === true && ev.unreachable !== true,
        retryAtMs: now + ev.delay_ms,
        speed: 0,
        etaSecs: null,
        samples: [],
      }));
    case "finished":
      return { ...state, queue: state.queue.filter((e) => e.path !== ev.path) };
    case "failed": {
      const entry = state.queue.find((e) => e.path === ev.path);
      const failure: Failure = {
        path: ev.path,
        folder: entry ? entry.folder : folderOf(state, ev.path),
        error: ev.error,
        permanent: ev.permanent,
        atMs: now,
      };
      return {
        ...state,
        queue: state.queue.filter((e) => e.path !== ev.path),
        failed: [failure, ...state.failed.filter((f) => f.path !== ev.path)],
      };
    }
    case "paused":
      return ev.folder === null
        ? { ...state, paused: true, queue: state.queue.map((e) => ({ ...e, state: "paused", speed: 0, etaSecs: null, samples: [] })) }
        : state;
    case "resumed":
      return ev.folder === null
        ? { ...state, paused: false, queue: state.queue.map((e) => (e.state === "paused" ? { ...e, state: "queued" } : e)) }
        : state;
    case "warning":
      return { ...state, warning: ev.message };
  }
}

export interface Totals {
  files: number;
  totalBytes: number;
  confirmedBytes: number;
  /** Bytes on their way or confirmed, over the queue: what the overall bar shows. */
  sentBytes: number;
  speed: number;
  etaSecs: number | null;
}

/** Overall progress over the queue: bytes, the summed speed of the files moving, time left. */
export function totals(state: ActivityState): Totals {
  let totalBytes = 0;
  let confirmedBytes = 0;
  let sentBytes = 0;
  let speed = 0;
  for (const e of state.queue) {
    totalBytes += e.size;
    confirmedBytes += Math.min(e.confirmed, e.size);
    sentBytes += reached(e);
    speed += e.speed;
  }
  const left = totalBytes - sentBytes;
  return { files: state.queue.length, totalBytes, confirmedBytes, sentBytes, speed, etaSecs: speed > 0 ? left / speed : null };
}
