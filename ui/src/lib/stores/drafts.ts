// Edits a person typed on a screen and has not saved yet, kept while they look at another
// tab (the screen's component is destroyed then). Knows nothing of how a form validates.
import type { RateUnit } from "../format";
import type { RuleRow } from "../schedule";

/** The Settings form's fields as typed (numbers may be empty or out of range). */
export interface SettingsDraft {
  concurrency: number;
  limited: boolean;
  rateValue: number | null;
  rateUnit: RateUnit;
  quietSecs: number;
  autostart: boolean;
  notifyFailures: boolean;
  notifyFinished: boolean;
  rules: RuleRow[];
  pauseOnMetered: boolean;
  batteryLimited: boolean;
  batteryBelow: number | null;
}

let settings: SettingsDraft | null = null;

/** The unsaved Settings edits, if any. */
export function settingsDraft(): SettingsDraft | null {
  return settings;
}

/** Keeps (or, with null, forgets) the unsaved Settings edits. */
export function keepSettingsDraft(draft: SettingsDraft | null): void {
  settings = draft === null ? null : { ...draft, rules: draft.rules.map((r) => ({ ...r })) };
}
