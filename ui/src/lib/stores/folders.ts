// Folder views as a pure function of engine events (pause and resume of one folder or of all);
// the counts come from re-reading `folders`, which folders.svelte.ts does after uploads finish.
import type { EngineEvent, FolderView } from "../types";

export function applyFolderEvent(folders: FolderView[], ev: EngineEvent): FolderView[] {
  if (ev.event !== "paused" && ev.event !== "resumed") return folders;
  const paused = ev.event === "paused";
  return folders.map((f) =>
    ev.folder === null || ev.folder === f.path
      ? { ...f, paused, watcher: paused ? "paused" : f.watcher === "paused" ? "watching" : f.watcher }
      : f,
  );
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
    case "missing":
      return "Missing: moved, or on a drive that is not plugged in";
  }
}
