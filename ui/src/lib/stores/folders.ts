// Folder views as a pure function of engine events (pause and resume of one folder or of all);
// the counts come from re-reading `folders`, which folders.svelte.ts does after uploads finish.
import { serverName } from "../errors";
import type { EngineEvent, FolderSync, FolderView } from "../types";

export function applyFolderEvent(folders: FolderView[], ev: EngineEvent): FolderView[] {
  if (ev.event !== "paused" && ev.event !== "resumed") return folders;
  const paused = ev.event === "paused";
  return folders.map((f) =>
    ev.folder === null || ev.folder === f.path
      ? { ...f, paused, watcher: paused ? "paused" : f.watcher === "paused" ? "watching" : f.watcher }
      : f,
  );
}

/**
 * The engine's live folder states put on the folder views; `unknown` is true when the engine
 * has a folder the views lack (added elsewhere), so the list should be re-read.
 */
export function applyFolderStates(folders: FolderView[], states: FolderSync[]): { folders: FolderView[]; unknown: boolean } {
  const byPath = new Map(states.map((s) => [s.path, s]));
  const next = folders.map((f) => {
    const s = byPath.get(f.path);
    return s ? { ...f, watcher: s.watcher, warning: s.warning, hold: s.hold ?? null } : f;
  });
  return { folders: next, unknown: states.some((s) => !folders.some((f) => f.path === s.path)) };
}

/** Whether an event changes a folder's counts, so the list should be re-read. */
export function changesCounts(ev: EngineEvent): boolean {
  return ev.event === "finished" || ev.event === "failed" || ev.event === "queued";
}

/** One line about a folder's state, in words. */
export function folderSummary(f: FolderView): string {
  if (f.files === 0) return "No files yet";
  const parts = [`${f.uploaded.toLocaleString("en-US")} of ${f.files.toLocaleString("en-US")} uploaded`];
  if (f.uploading > 0) parts.push(`${f.uploading.toLocaleString("en-US")} uploading`);
  if (f.pending > 0) parts.push(`${f.pending.toLocaleString("en-US")} waiting`);
  if (f.failed > 0) parts.push(`${f.failed.toLocaleString("en-US")} failed`);
  return parts.join(", ");
}

export function watcherText(f: FolderView): string {
  if (f.paused) return "Paused";
  switch (f.watcher) {
    case "watching":
      return "Watching for changes";
    case "rescanning":
      return "Looking for changes";
    case "paused":
      return "Paused";
    case "stopped":
      return "Not watching";
    case "starting":
      return "Starting to watch…";
    case "missing":
      return "Missing: moved, or on a drive that is not plugged in";
  }
}

/** Where a folder's files land, as people write it: "ann@files.example.org:/Photos-2024/". */
export function destination(user: string, server: string, prefix: string): string {
  const path = prefix.replace(/^\/+|\/+$/g, "");
  return `${user ? `${user}@` : ""}${serverName(server)}:/${path === "" ? "" : `${path}/`}`;
}

/**
 * The place on the server a folder gets unless the person types another: its own name, as on
 * the person's disk ("" for a path with no name, such as "/").
 */
export function defaultPrefix(path: string): string {
  const parts = path.trim().split("/").filter((p) => p !== "" && p !== "." && p !== "..");
  return parts.at(-1) ?? "";
}
