// The bandwidth schedule as the Settings screen edits it: rules as rows a person can read
// ("Weekdays 09:00–18:00: at most 1 MB/s") and the day choices offered. Whether the rules
// stand together (no two overlapping) is the shell's to say, with the rule numbers.
import type { ScheduleRule } from "./types";
import { formatSpeed, partsToRate, rateToParts, type RateUnit } from "./format";

/** The day choices, in the form the settings file keeps them. */
export const DAY_CHOICES: readonly { value: string; label: string }[] = [
  { value: "daily", label: "Every day" },
  { value: "mon-fri", label: "Weekdays" },
  { value: "sat,sun", label: "Weekends" },
  { value: "mon", label: "Monday" },
  { value: "tue", label: "Tuesday" },
  { value: "wed", label: "Wednesday" },
  { value: "thu", label: "Thursday" },
  { value: "fri", label: "Friday" },
  { value: "sat", label: "Saturday" },
  { value: "sun", label: "Sunday" },
];

/** What a rule allows, as the form's select has it. */
export type LimitKind = "off" | "rate" | "unlimited";

export function limitKind(rule: ScheduleRule): LimitKind {
  return typeof rule.limit === "number" ? "rate" : rule.limit;
}

/** The days of a rule in words ("Weekdays"; the file's own form when it is not a choice). */
export function daysText(days: string): string {
  return DAY_CHOICES.find((c) => c.value === days)?.label ?? days;
}

/** A rule in words: "Weekdays 09:00–18:00: at most 1 MB/s", "Every day 23:00–06:00 (past midnight): paused". */
export function ruleText(rule: ScheduleRule): string {
  const overnight = rule.to <= rule.from ? " (past midnight)" : "";
  const what =
    rule.limit === "off" ? "paused" : rule.limit === "unlimited" ? "no limit" : `at most ${formatSpeed(rule.limit)}`;
  return `${daysText(rule.days)} ${rule.from}–${rule.to}${overnight}: ${what}`;
}

/** A new rule: weekdays in office hours at 1 MB/s. */
export function newRule(): ScheduleRule {
  return { days: "mon-fri", from: "09:00", to: "18:00", limit: 1_000_000 };
}

/** A rule as the form's row holds it (the rate as a number and a unit). */
export interface RuleRow {
  days: string;
  from: string;
  to: string;
  kind: LimitKind;
  value: number | null;
  unit: RateUnit;
}

export function toRow(rule: ScheduleRule): RuleRow {
  const parts = rateToParts(typeof rule.limit === "number" ? rule.limit : 1_000_000);
  return { days: rule.days, from: rule.from, to: rule.to, kind: limitKind(rule), value: parts.value, unit: parts.unit };
}

const CLOCK = /^([01]?\d|2[0-3]):[0-5]\d$|^24:00$/;

/** The rule a row stands for; throws a message for people when it cannot be one (rule `n`, from 1). */
export function fromRow(row: RuleRow, n: number): ScheduleRule {
  for (const [what, time] of [["start", row.from], ["end", row.to]] as const) {
    if (!CLOCK.test(time.trim())) throw new RangeError(`Rule ${n}: the ${what} must be a time like 09:00 (24:00 for midnight at the end).`);
  }
  const pad = (t: string) => (t.trim().length === 4 ? `0${t.trim()}` : t.trim());
  const [from, to] = [pad(row.from), pad(row.to)];
  if (from === to) throw new RangeError(`Rule ${n}: it starts and ends at ${from}; write 00:00 to 24:00 for a whole day.`);
  if (from === "24:00") throw new RangeError(`Rule ${n}: a rule cannot start at 24:00; write 00:00.`);
  if (row.kind !== "rate") return { days: row.days, from, to, limit: row.kind };
  let rate: number | null;
  try {
    rate = partsToRate(row.value, row.unit);
  } catch {
    rate = null;
  }
  if (rate === null || rate < 1) throw new RangeError(`Rule ${n}: the speed must be a number above 0.`);
  return { days: row.days, from, to, limit: rate };
}
