import { describe, expect, it } from "vitest";
import {
  applyFolderEvent,
  applyFolderStates,
  changesCounts,
  defaultPrefix,
  destination,
  folderSummary,
  watcherText,
} from "../../src/lib/stores/folders";
import { overviewLabel, SIGNED_OUT } from "../../src/lib/stores/overview";
import type { FolderView } from "../../src/lib/types";

function folder(path: string, over: Partial<FolderView> = {}): FolderView {
  return {
    path,
    server: "https://s",
    user: "u",
    remotePrefix: "",
    protocol: null,
    paused: false,
    files: 10,
    uploaded: 7,
    pending: 2,
    uploading: 1,
    failed: 0,
    watcher: "watching",
    warning: null,
    ...over,
  };
}

describe("folder events", () => {
  const list = [folder("/a"), folder("/b")];
  it("pause only the named folder", () => {
    const out = applyFolderEvent(list, { event: "paused", folder: "/b" });
    expect(out.map((f) => [f.path, f.paused, f.watcher])).toEqual([
      ["/a", false, "watching"],
      ["/b", true, "paused"],
    ]);
  });
  it("pause every folder when none is named, and resume them", () => {
    const paused = applyFolderEvent(list, { event: "paused", folder: null });
    expect(paused.every((f) => f.paused)).toBe(true);
    const resumed = applyFolderEvent(paused, { event: "resumed", folder: null });
    expect(resumed.map((f) => [f.paused, f.watcher])).toEqual([
      [false, "watching"],
      [false, "watching"],
    ]);
  });
  it("leave folders alone for other events", () => {
    expect(applyFolderEvent(list, { event: "queued", path: "/a/x", size: 1 })).toBe(list);
  });
  it("take the engine's live states, and ask for a re-read when it has a folder not listed", () => {
    const starting = [folder("/a", { watcher: "starting" }), folder("/b")];
    const known = applyFolderStates(starting, [{ path: "/a", watcher: "watching", warning: null }]);
    expect(known.folders.map((f) => f.watcher)).toEqual(["watching", "watching"]);
    expect(known.unknown).toBe(false);
    const gone = applyFolderStates(starting, [{ path: "/b", watcher: "missing", warning: "not there" }, { path: "/c", watcher: "watching", warning: null }]);
    expect(gone.folders.map((f) => [f.watcher, f.warning])).toEqual([
      ["starting", null],
      ["missing", "not there"],
    ]);
    expect(gone.unknown).toBe(true);
  });
  it("re-read counts after uploads end or files arrive, not on progress", () => {
    expect(changesCounts({ event: "finished", path: "/a/x", location: "l", size: 1, bytes_sent: 1 })).toBe(true);
    expect(changesCounts({ event: "progress", path: "/a/x", confirmed: 1, size: 2 })).toBe(false);
  });
});

describe("folder words", () => {
  it("summarise counts", () => expect(folderSummary(folder("/a"))).toBe("7 of 10 uploaded, 1 uploading, 2 waiting"));
  it("mention failures", () =>
    expect(folderSummary(folder("/a", { failed: 3, pending: 0, uploading: 0 }))).toBe("7 of 10 uploaded, 3 failed"));
  it("say when a folder is empty", () => expect(folderSummary(folder("/a", { files: 0 }))).toBe("No files yet"));
  it("say paused before the watcher state", () =>
    expect(watcherText(folder("/a", { paused: true, watcher: "watching" }))).toBe("Paused"));
  it("say when the watcher stopped", () => expect(watcherText(folder("/a", { watcher: "stopped" }))).toBe("Not watching"));
  it("say a folder just added is being taken up", () =>
    expect(watcherText(folder("/a", { watcher: "starting" }))).toBe("Starting to watch…"));
  it("say when the folder is missing", () =>
    expect(watcherText(folder("/a", { watcher: "missing" }))).toBe("Missing: moved, or on a drive that is not plugged in"));
});

describe("overview label", () => {
  it("uses the shell's message", () =>
    expect(overviewLabel({ state: "uploading", uploading: 3, queued: 0, failed: 0, message: "Uploading 3 files" })).toBe(
      "Uploading 3 files",
    ));
  it("falls back to words of its own", () => {
    expect(overviewLabel({ state: "problem", uploading: 0, queued: 0, failed: 2, message: "" })).toBe("2 files failed");
    expect(overviewLabel({ state: "uploading", uploading: 1, queued: 0, failed: 0, message: " " })).toBe("Uploading 1 file");
    expect(overviewLabel({ ...SIGNED_OUT, message: "" })).toBe("Signed out");
  });
});

describe("folder destinations", () => {
  it("say user, host and the place, with slashes as people write them", () => {
    expect(destination("ann", "https://files.example.org", "Photos-2024")).toBe("ann@files.example.org:/Photos-2024/");
    expect(destination("ann", "http://127.0.0.1:8080", "/photos/2026/")).toBe("ann@127.0.0.1:8080:/photos/2026/");
    expect(destination("ann", "http://127.0.0.1:8080", "")).toBe("ann@127.0.0.1:8080:/");
  });
  it("default the place to the folder's own name", () => {
    expect(defaultPrefix("/home/ann/Photos-2024")).toBe("Photos-2024");
    expect(defaultPrefix("/media/ann/USB STICK/")).toBe("USB STICK");
    expect(defaultPrefix("/")).toBe("");
    expect(defaultPrefix("  ")).toBe("");
  });
});
