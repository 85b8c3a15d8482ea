// What the header says about the whole app, from the `Overview` the shell sends.
import type { Hold, Overview, ScheduledRate } from "../types";

export const SIGNED_OUT: Overview = { state: "signed_out", uploading: 0, queued: 0, failed: 0, message: "Signed out" };

/** A short label for the header; the shell's message when it has one. */
export function overviewLabel(o: Overview): string {
  if (o.message.trim() !== "") return o.message;
  switch (o.state) {
    case "up_to_date":
      return "Up to date";
    case "uploading":
      return o.uploading === 1 ? "Uploading 1 file" : `Uploading ${o.uploading} files`;
    case "paused":
      return "Paused";
    case "problem":
      return o.failed === 1 ? "1 file failed" : `${o.failed} files failed`;
    case "signed_out":
      return "Signed out";
    case "no_folders":
      return "No folders yet";
    case "offline":
      return "Can't reach the server";
  }
}

/** A hold or a scheduled rate as a sentence: "Paused: metered connection. Uploads go on by themselves." */
export function holdLine(h: Hold | ScheduledRate): string {
  const text = h.message.charAt(0).toUpperCase() + h.message.slice(1);
  return "reason" in h ? `${text}. Uploads go on by themselves, from where the server stands.` : `${text}.`;
}
