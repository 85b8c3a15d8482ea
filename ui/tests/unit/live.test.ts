// The rune store that holds the window's state: events go through the reducers into it, a
// finished upload asks the history to re-read, and start-up reads the whole picture.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { live } from "../../src/lib/stores/live.svelte";

beforeAll(() => {
  (globalThis as unknown as { window: unknown }).window = globalThis;
});
afterEach(() => clearMocks());

describe("live state", () => {
  it("applies engine events to the queue and counts finished uploads for the history", () => {
    const before = live.historyVersion;
    live.handleEngine({ event: "started", path: "/f/a", protocol: "tus", size: 10, resumed_from: 4 }, 0);
    expect(live.activity.queue.map((e) => [e.path, e.confirmed])).toEqual([["/f/a", 4]]);
    live.handleEngine({ event: "finished", path: "/f/a", location: "l", size: 10, bytes_sent: 6 }, 1);
    expect(live.activity.queue).toEqual([]);
    expect(live.historyVersion).toBe(before + 1);
  });

  it("takes the overview as the shell sends it", () => {
    live.handleOverview({ state: "problem", uploading: 0, queued: 0, failed: 2, message: "2 files failed" });
    expect(live.overview.message).toBe("2 files failed");
  });

  it("reads accounts, activity, folders and overview, and keeps a failure as a readable error", async () => {
    mockIPC((cmd) => {
      switch (cmd) {
        case "accounts":
          return [{ server: "s", user: "u", signedIn: false }, { server: "s", user: "v", signedIn: true }];
        case "activity":
          return { paused: true, queue: [], failed: [], totalBytes: 0, confirmedBytes: 0 };
        case "folders":
          return [];
        case "overview":
          return { state: "paused", uploading: 0, queued: 0, failed: 0, message: "Paused" };
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    await live.refreshAll();
    expect(live.error).toBeNull();
    expect(live.account?.user).toBe("v");
    expect(live.activity.paused).toBe(true);
    expect(live.foldersLoaded).toBe(true);

    mockIPC(() => {
      throw { code: "io", message: "The journal is locked." };
    });
    await live.refreshAll();
    expect(live.error).toEqual({ code: "io", message: "The journal is locked." });
  });
});
