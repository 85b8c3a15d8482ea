// The schedule's rows as the Settings screen edits them: in words, to and from the settings'
// form, and what cannot be a rule refused with its number.
import { describe, expect, it } from "vitest";
import { fromRow, newRule, ruleText, toRow } from "../../src/lib/schedule";

describe("schedule rows", () => {
  it("say each rule in words", () => {
    expect(ruleText({ days: "mon-fri", from: "09:00", to: "18:00", limit: 1_000_000 })).toBe("Weekdays 09:00–18:00: at most 1 MB/s");
    expect(ruleText({ days: "daily", from: "22:00", to: "06:00", limit: "off" })).toBe("Every day 22:00–06:00 (past midnight): paused");
    expect(ruleText({ days: "sat,sun", from: "00:00", to: "24:00", limit: "unlimited" })).toBe("Weekends 00:00–24:00: no limit");
    expect(ruleText({ days: "mon,wed", from: "08:00", to: "09:00", limit: 512_000 })).toBe("mon,wed 08:00–09:00: at most 512 kB/s");
  });

  it("go to the form and back unchanged", () => {
    for (const rule of [newRule(), { days: "sun", from: "00:00", to: "24:00", limit: "off" as const }, { days: "fri", from: "10:30", to: "11:00", limit: 1_500_000 }]) {
      expect(fromRow(toRow(rule), 1)).toEqual(rule);
    }
    expect(fromRow({ ...toRow(newRule()), from: "9:00" }, 1).from).toBe("09:00");
  });

  it("refuse what cannot be a rule, naming it", () => {
    const row = toRow(newRule());
    expect(() => fromRow({ ...row, from: "9am" }, 2)).toThrow("Rule 2: the start must be a time like 09:00");
    expect(() => fromRow({ ...row, to: "25:00" }, 1)).toThrow("the end must be a time");
    expect(() => fromRow({ ...row, to: "09:00" }, 1)).toThrow("starts and ends at 09:00");
    expect(() => fromRow({ ...row, from: "24:00", to: "06:00" }, 1)).toThrow("cannot start at 24:00");
    expect(() => fromRow({ ...row, value: 0 }, 3)).toThrow("Rule 3: the speed must be a number above 0.");
    expect(() => fromRow({ ...row, value: null }, 3)).toThrow("the speed must be a number above 0");
  });
});
