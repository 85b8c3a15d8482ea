import { describe, expect, it } from "vitest";
import {
  baseName,
  formatBytes,
  formatDuration,
  formatEta,
  formatSpeed,
  formatWhen,
  localDay,
  convertRate,
  partsToRate,
  percent,
  plural,
  rateToParts,
} from "../../src/lib/format";

describe("formatBytes", () => {
  it.each([
    [0, "0 B"],
    [999, "999 B"],
    [1000, "1 kB"],
    [1234, "1.23 kB"],
    [12_345, "12.3 kB"],
    [123_456, "123 kB"],
    [750_000, "750 kB"],
    [100_000, "100 kB"],
    [20_000_000, "20 MB"],
    [10_500_000, "10.5 MB"],
    [1_500_000, "1.5 MB"],
    [10_000_000_000, "10 GB"],
    [2e15, "2 PB"],
  ])("shows %d bytes as %s", (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
  it("shows a dash for nonsense", () => {
    expect(formatBytes(-1)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
  });
});

describe("formatSpeed", () => {
  it("adds per second", () => expect(formatSpeed(2_500_000)).toBe("2.5 MB/s"));
  it("shows a dash when nothing moves", () => expect(formatSpeed(0)).toBe("—"));
});

describe("formatEta", () => {
  it.each([
    [null, "—"],
    [0, "0 s"],
    [44.2, "45 s"],
    [60, "1 min"],
    [185, "3 min 5 s"],
    [7200, "2 h"],
    [7800, "2 h 10 min"],
    [90_000, "1 d 1 h"],
  ] as const)("shows %s seconds as %s", (s, text) => {
    expect(formatEta(s)).toBe(text);
  });
});

describe("formatDuration", () => {
  it.each([
    [350, "350 ms"],
    [2500, "2.5 s"],
    [3000, "3 s"],
    [65_000, "1 min 5 s"],
  ])("shows %d ms as %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("formatWhen (TZ=UTC)", () => {
  const now = Date.UTC(2026, 10, 23, 15, 0);
  it("says today for the same day", () => expect(formatWhen(Date.UTC(2026, 10, 23, 9, 5), now)).toBe("today 09:05"));
  it("says yesterday for the day before", () =>
    expect(formatWhen(Date.UTC(2026, 10, 22, 23, 59), now)).toBe("yesterday 23:59"));
  it("gives the date otherwise", () => expect(formatWhen(Date.UTC(2026, 0, 2, 7, 0), now)).toBe("2026-01-02 07:00"));
  it("gives local days as YYYY-MM-DD", () => expect(localDay(Date.UTC(2026, 1, 3))).toBe("2026-02-03"));
});

describe("percent", () => {
  it("rounds down so 100% means done", () => expect(percent(999, 1000)).toBe(99));
  it("is 100 at the end", () => expect(percent(1000, 1000)).toBe(100));
  it("is 0 for an empty size", () => expect(percent(0, 0)).toBe(0));
  it("never passes 100", () => expect(percent(2000, 1000)).toBe(100));
});

describe("words", () => {
  it("plural", () => {
    expect(plural(1, "file")).toBe("1 file");
    expect(plural(100000, "file")).toBe("100,000 files");
  });
  it("baseName", () => {
    expect(baseName("/home/a/photos/cat.jpg")).toBe("cat.jpg");
    expect(baseName("/home/a/photos/")).toBe("photos");
  });
});

describe("rate limit units", () => {
  it("shows whole megabytes as MB/s", () => expect(rateToParts(2_000_000)).toEqual({ value: 2, unit: "MB/s" }));
  it("keeps the speed when the unit changes", () => {
    expect(convertRate(5, "MB/s", "kB/s")).toBe(5000);
    expect(convertRate(1500, "kB/s", "MB/s")).toBe(1.5);
    expect(convertRate(0.5, "kB/s", "kB/s")).toBe(0.5);
    expect(convertRate(null, "MB/s", "kB/s")).toBe(null);
  });
  it("shows tenths of megabytes as MB/s", () => expect(rateToParts(1_500_000)).toEqual({ value: 1.5, unit: "MB/s" }));
  it("shows small limits as kB/s", () => expect(rateToParts(250_000)).toEqual({ value: 250, unit: "kB/s" }));
  it("shows no limit as empty", () => expect(rateToParts(null)).toEqual({ value: null, unit: "MB/s" }));
  it("turns units back into bytes per second", () => {
    expect(partsToRate(1.5, "MB/s")).toBe(1_500_000);
    expect(partsToRate(300, "kB/s")).toBe(300_000);
    expect(partsToRate(null, "kB/s")).toBeNull();
  });
  it("refuses zero and negative limits", () => {
    expect(() => partsToRate(0, "MB/s")).toThrow(RangeError);
    expect(() => partsToRate(-3, "kB/s")).toThrow(RangeError);
  });
  it("round-trips what it shows", () => {
    for (const rate of [1000, 250_000, 1_500_000, 40_000_000, 123_456]) {
      const { value, unit } = rateToParts(rate);
      expect(partsToRate(value, unit)).toBe(rate);
    }
  });
});
