import { describe, expect, it } from "vitest";
import {
  applyEngineEvent,
  emptyActivity,
  fromSnapshot,
  reached,
  SPEED_WINDOW_MS,
  speedOf,
  totals,
  type ActivityState,
} from "../../src/lib/stores/activity";
import type { EngineEvent } from "../../src/lib/types";

const A = "/home/u/photos/a.jpg";
const B = "/home/u/photos/b.jpg";

function run(events: [EngineEvent, number][], start: ActivityState = emptyActivity()): ActivityState {
  return events.reduce((s, [ev, t]) => applyEngineEvent(s, ev, t), start);
}

describe("the queue", () => {
  it("adds a queued file once, waiting", () => {
    const s = run([
      [{ event: "queued", path: A, size: 100 }, 0],
      [{ event: "queued", path: A, size: 100 }, 1],
    ]);
    expect(s.queue).toHaveLength(1);
    expect(s.queue[0]).toMatchObject({ path: A, size: 100, confirmed: 0, state: "queued" });
  });

  it("puts uploading files before waiting ones", () => {
    const s = run([
      [{ event: "queued", path: A, size: 100 }, 0],
      [{ event: "queued", path: B, size: 100 }, 0],
      [{ event: "started", path: B, protocol: "tus", size: 100, resumed_from: 0 }, 1],
    ]);
    expect(s.queue.map((e) => [e.path, e.state])).toEqual([
      [B, "uploading"],
      [A, "queued"],
    ]);
  });

  it("starts a resumed upload from the offset the server had", () => {
    const s = run([[{ event: "started", path: A, protocol: "tus", size: 1000, resumed_from: 400 }, 0]]);
    expect(s.queue[0].confirmed).toBe(400);
  });

  it("keeps the confirmed bytes from progress and never goes backwards", () => {
    const s = run([
      [{ event: "started", path: A, protocol: "tus", size: 1000, resumed_from: 0 }, 0],
      [{ event: "progress", path: A, confirmed: 600, size: 1000 }, 1000],
      [{ event: "progress", path: A, confirmed: 500, size: 1000 }, 1100],
    ]);
    expect(s.queue[0].confirmed).toBe(600);
  });

  it("moves with bytes sent between confirmations, and falls back to the server's count on a retry", () => {
    const between = run([
      [{ event: "started", path: A, protocol: "tus", size: 1000, resumed_from: 0 }, 0],
      [{ event: "sent", path: A, sent: 100, size: 1000 }, 250],
      [{ event: "sent", path: A, sent: 250, size: 1000 }, 500],
    ]);
    expect([between.queue[0].confirmed, reached(between.queue[0])]).toEqual([0, 250]);
    expect(between.queue[0].speed).toBe(500);
    expect(between.queue[0].etaSecs).toBe(1.5);
    expect(totals(between)).toMatchObject({ confirmedBytes: 0, sentBytes: 250 });
    // The confirmation of part of it does not take the bar back.
    const confirmed = run([[{ event: "progress", path: A, confirmed: 200, size: 1000 }, 600]], between);
    expect(reached(confirmed.queue[0])).toBe(250);
    // Lost on the way: the bar shows what the server holds, and speed starts afresh.
    const lost = run(
      [
        [{ event: "retrying", path: A, attempt: 1, delay_ms: 1000, error: "cut" }, 700],
        [{ event: "sent", path: A, sent: 200, size: 1000 }, 1700],
      ],
      confirmed,
    );
    expect([lost.queue[0].state, reached(lost.queue[0]), lost.queue[0].speed]).toEqual(["uploading", 200, 0]);
  });

  it("removes a finished file", () => {
    const s = run([
      [{ event: "started", path: A, protocol: "tus", size: 10, resumed_from: 0 }, 0],
      [{ event: "finished", path: A, location: "http://s/files/1", size: 10, bytes_sent: 10 }, 5],
    ]);
    expect(s.queue).toEqual([]);
  });

  it("shows a retrying file with the reason and no speed", () => {
    const s = run([
      [{ event: "started", path: A, protocol: "tus", size: 1000, resumed_from: 0 }, 0],
      [{ event: "progress", path: A, confirmed: 500, size: 1000 }, 1000],
      [{ event: "retrying", path: A, attempt: 2, delay_ms: 4000, error: "The connection was cut." }, 1500],
    ]);
    expect(s.queue[0]).toMatchObject({ state: "retrying", error: "The connection was cut.", speed: 0, etaSecs: null });
  });
});

describe("failures", () => {
  it("move a file from the queue to the failed list, keeping its folder", () => {
    const start = fromSnapshot({
      paused: false,
      queue: [
        { path: A, folder: "/home/u/photos", size: 10, confirmed: 0, state: "uploading", speed: 0, etaSecs: null, error: null },
      ],
      failed: [],
      totalBytes: 10,
      confirmedBytes: 0,
    });
    const s = run([[{ event: "failed", path: A, error: "The server is full.", permanent: true }, 777]], start);
    expect(s.queue).toEqual([]);
    expect(s.failed).toEqual([{ path: A, folder: "/home/u/photos", error: "The server is full.", permanent: true, atMs: 777 }]);
  });

  it("replace an older failure of the same file", () => {
    const s = run([
      [{ event: "failed", path: A, error: "first", permanent: false }, 1],
      [{ event: "failed", path: A, error: "second", permanent: false }, 2],
    ]);
    expect(s.failed.map((f) => f.error)).toEqual(["second"]);
  });

  it("leave the failed list when the file is queued again (retry)", () => {
    const s = run([
      [{ event: "failed", path: A, error: "x", permanent: false }, 1],
      [{ event: "queued", path: A, size: 10 }, 2],
    ]);
    expect(s.failed).toEqual([]);
    expect(s.queue.map((e) => e.path)).toEqual([A]);
  });
});

describe("speed and time left", () => {
  it("is zero with one sample", () => expect(speedOf([{ t: 0, bytes: 100 }])).toBe(0));

  it("is bytes over the time between the samples", () => {
    const s = run([
      [{ event: "started", path: A, protocol: "tus", size: 10_000, resumed_from: 0 }, 0],
      [{ event: "progress", path: A, confirmed: 1000, size: 10_000 }, 1000],
      [{ event: "progress", path: A, confirmed: 2000, size: 10_000 }, 2000],
    ]);
    expect(s.queue[0].speed).toBe(1000);
    expect(s.queue[0].etaSecs).toBe(8);
  });

  it("forgets samples older than the window, so a new pace shows", () => {
    const events: [EngineEvent, number][] = [[{ event: "started", path: A, protocol: "tus", size: 1e9, resumed_from: 0 }, 0]];
    // 10 s at 1000 B/s, then 10 s at 5000 B/s.
    let confirmed = 0;
    for (let t = 1000; t <= 10_000; t += 1000) events.push([{ event: "progress", path: A, confirmed: (confirmed += 1000), size: 1e9 }, t]);
    for (let t = 11_000; t <= 20_000; t += 1000) events.push([{ event: "progress", path: A, confirmed: (confirmed += 5000), size: 1e9 }, t]);
    const s = run(events);
    expect(s.queue[0].speed).toBe(5000);
    const span = s.queue[0].samples[s.queue[0].samples.length - 1].t - s.queue[0].samples[0].t;
    expect(span).toBe(SPEED_WINDOW_MS);
  });

  it("adds up over the queue", () => {
    const s = run([
      [{ event: "started", path: A, protocol: "tus", size: 1000, resumed_from: 0 }, 0],
      [{ event: "progress", path: A, confirmed: 500, size: 1000 }, 1000],
      [{ event: "queued", path: B, size: 3000 }, 1000],
    ]);
    expect(totals(s)).toEqual({ files: 2, totalBytes: 4000, confirmedBytes: 500, sentBytes: 500, speed: 500, etaSecs: 7 });
  });

  it("has no time left estimate when nothing moves", () => {
    const s = run([[{ event: "queued", path: B, size: 3000 }, 0]]);
    expect(totals(s).etaSecs).toBeNull();
  });
});

describe("pause and warnings", () => {
  it("pauses and resumes everything when no folder is named", () => {
    const paused = run([[{ event: "paused", folder: null }, 0]]);
    expect(paused.paused).toBe(true);
    expect(run([[{ event: "resumed", folder: null }, 1]], paused).paused).toBe(false);
  });
  it("does not pause everything for one folder", () => {
    expect(run([[{ event: "paused", folder: "/home/u/photos" }, 0]]).paused).toBe(false);
  });
  it("keeps the last warning", () => {
    expect(run([[{ event: "warning", message: "The watch limit was reached." }, 0]]).warning).toBe("The watch limit was reached.");
  });
});

describe("snapshots", () => {
  it("order uploading first and keep the shell's speed until events come", () => {
    const s = fromSnapshot({
      paused: true,
      queue: [
        { path: A, folder: null, size: 10, confirmed: 0, state: "queued", speed: 0, etaSecs: null, error: null },
        { path: B, folder: null, size: 10, confirmed: 5, state: "uploading", speed: 42, etaSecs: 1, error: null },
      ],
      failed: [],
      totalBytes: 20,
      confirmedBytes: 5,
    });
    expect(s.paused).toBe(true);
    expect(s.queue.map((e) => e.path)).toEqual([B, A]);
    expect(s.queue[0].speed).toBe(42);
  });
});
