// Numbers and times as people read them: sizes, speeds, time left, durations, dates.
// Sizes use decimal units (1 kB = 1000 bytes), as GNOME's file manager does.

const UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  if (bytes < 1000) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  // 3 significant digits at most: 1.23 MB, 12.3 MB, 123 MB.
  const text = value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  // Trailing zeros after the point only: "1.50" -> "1.5", "2.00" -> "2", but "750" stays.
  const trimmed = text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
  return `${trimmed} ${UNITS[unit]}`;
}

export function formatSpeed(bytesPerSec: number): string {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec <= 0) return "—";
  return `${formatBytes(bytesPerSec)}/s`;
}

/** Time left in words: "45 s", "3 min 5 s", "2 h 10 min"; unknown is "—". */
export function formatEta(secs: number | null): string {
  if (secs === null || !Number.isFinite(secs) || secs < 0) return "—";
  const s = Math.ceil(secs);
  if (s < 60) return `${s} s`;
  if (s < 3600) {
    const rest = s % 60;
    return rest === 0 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${rest} s`;
  }
  if (s < 86400) {
    const min = Math.floor((s % 3600) / 60);
    return min === 0 ? `${Math.floor(s / 3600)} h` : `${Math.floor(s / 3600)} h ${min} min`;
  }
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** A duration in milliseconds: "350 ms", "2.5 s", "1 min 5 s". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1).replace(/\.0$/, "")} s`;
  return formatEta(ms / 1000);
}

function pad(n: number): string {
  return n.toString().padStart(2, "0");
}

/** The local calendar day of a time, as YYYY-MM-DD. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** When something happened, relative to `now`: "today 14:03", "yesterday 09:12", "2026-11-02 17:40". */
export function formatWhen(ms: number, now: number = Date.now()): string {
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const day = localDay(ms);
  if (day === localDay(now)) return `today ${time}`;
  const yesterday = new Date(now);
  yesterday.setDate(yesterday.getDate() - 1);
  if (day === localDay(yesterday.getTime())) return `yesterday ${time}`;
  return `${day} ${time}`;
}

/** A percentage for a progress bar, 0..100, whole numbers; an empty file is 100% when done. */
export function percent(confirmed: number, size: number): number {
  if (size <= 0) return 0;
  return Math.min(100, Math.max(0, Math.floor((confirmed / size) * 100)));
}

export function plural(n: number, one: string, many: string = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** The last part of a path, for lists where the folder is shown elsewhere. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  return i < 0 ? trimmed : trimmed.slice(i + 1);
}

export type RateUnit = "kB/s" | "MB/s";
const RATE_FACTOR: Record<RateUnit, number> = { "kB/s": 1000, "MB/s": 1_000_000 };

/** A rate limit in bytes/s as a number and a unit for the settings form. */
export function rateToParts(rate: number | null): { value: number | null; unit: RateUnit } {
  if (rate === null) return { value: null, unit: "MB/s" };
  if (rate >= RATE_FACTOR["MB/s"] && rate % 100_000 === 0) return { value: rate / RATE_FACTOR["MB/s"], unit: "MB/s" };
  return { value: Math.round((rate / RATE_FACTOR["kB/s"]) * 1000) / 1000, unit: "kB/s" };
}

/** The same speed in another unit (5 MB/s is 5000 kB/s), so that changing the unit never
 * changes the limit; an empty or unreadable value stays as it is. */
export function convertRate(value: number | null, from: RateUnit, to: RateUnit): number | null {
  if (value === null || !Number.isFinite(value)) return value;
  return Math.round(((value * RATE_FACTOR[from]) / RATE_FACTOR[to]) * 1000) / 1000;
}

/** Back to bytes/s; null (unlimited) for an empty value. Throws on negative or non-numbers. */
export function partsToRate(value: number | null, unit: RateUnit): number | null {
  if (value === null) return null;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError("The rate limit must be a number above 0.");
  return Math.round(value * RATE_FACTOR[unit]);
}
