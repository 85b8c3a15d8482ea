// Settings screen: values shown from the shell, saved with units converted, bad input refused
// before it is sent, the shell's refusal shown, and signing out (asked once more) back to the sign-in screen.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { calls, emit, patchScenario, SIGNED_IN, screenshot, startBrowser, waitCall, waitText } from "./helpers.mjs";

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

const SETTINGS = {
  concurrency: 3,
  rateLimit: 2_000_000,
  quietPeriodMs: 1500,
  autostart: false,
  notifyFailures: true,
  notifyFinished: false,
  schedule: [],
  pauseOnMetered: false,
  pauseOnBatteryBelow: null,
};

/** @param {import("playwright-core").Page} page */
async function toSettings(page) {
  await page.getByTestId("nav-settings").click();
  await page.waitForFunction(() => /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="settings-concurrency"]'))?.value === "3");
}

describe("settings", () => {
  it("shows the current settings and saves changes with the rate limit in bytes per second", async () => {
    const page = await browser.open({ ...SIGNED_IN, settings: SETTINGS });
    await toSettings(page);
    assert.equal(await page.getByTestId("settings-rate").inputValue(), "2");
    assert.equal(await page.getByTestId("settings-rate-unit").inputValue(), "MB/s");
    assert.equal(await page.getByTestId("settings-quiet").inputValue(), "1.5");
    assert.equal(await page.getByTestId("settings-notify-failures").isChecked(), true);
    await waitText(page.getByTestId("settings-account"), "Signed in as demo on http://127.0.0.1:8080");
    await waitText(page.getByTestId("header-account"), "demo on 127.0.0.1:8080");
    await screenshot(page, "settings");

    await page.getByTestId("settings-concurrency").fill("8");
    // The number follows the unit: 2 MB/s is 2000 kB/s, not 2 kB/s.
    await page.getByTestId("settings-rate-unit").selectOption("kB/s");
    assert.equal(await page.getByTestId("settings-rate").inputValue(), "2000");
    await page.getByTestId("settings-rate").fill("500");
    await page.getByTestId("settings-quiet").fill("3");
    await page.getByTestId("settings-autostart").check();
    await page.getByTestId("settings-notify-finished").check();
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-saved"), "Settings saved.");
    assert.deepEqual((await waitCall(page, "settings_set"))[0].args, {
      settings: {
        concurrency: 8,
        rateLimit: 500_000,
        quietPeriodMs: 3000,
        autostart: true,
        notifyFailures: true,
        notifyFinished: true,
        schedule: [],
        pauseOnMetered: false,
        pauseOnBatteryBelow: null,
      },
    });

    await page.getByTestId("settings-rate-limited").uncheck();
    await page.getByTestId("settings-save").click();
    await waitCall(page, "settings_set", (a) => a.settings.rateLimit === null);
    await page.close();
  });

  it("keeps unsaved changes across a tab change, says so, and discards them when asked", async () => {
    const page = await browser.open({ ...SIGNED_IN, settings: SETTINGS });
    await toSettings(page);
    assert.equal(await page.getByTestId("settings-unsaved").count(), 0, "nothing typed yet");
    // The same limit in other units is no change.
    await page.getByTestId("settings-rate-unit").selectOption("kB/s");
    assert.equal(await page.getByTestId("settings-rate").inputValue(), "2000");
    assert.equal(await page.getByTestId("settings-unsaved").count(), 0, "2 MB/s is 2000 kB/s: nothing to save");
    await page.getByTestId("settings-rate-unit").selectOption("MB/s");
    await page.getByTestId("settings-concurrency").fill("7");
    await page.getByTestId("settings-rate").fill("3");
    await page.getByTestId("settings-autostart").check();
    await waitText(page.getByTestId("settings-unsaved"), "You have unsaved changes.");

    await page.getByTestId("nav-activity").click();
    await page.getByTestId("queue").waitFor();
    await page.getByTestId("nav-settings").click();
    await page.waitForFunction(() => /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="settings-concurrency"]'))?.value === "7");
    assert.equal(await page.getByTestId("settings-rate").inputValue(), "3");
    assert.equal(await page.getByTestId("settings-autostart").isChecked(), true);
    await waitText(page.getByTestId("settings-unsaved"), "You have unsaved changes.");
    assert.equal((await calls(page)).filter((c) => c.cmd === "settings_set").length, 0, "nothing was saved behind the person's back");

    await page.getByTestId("settings-discard").click();
    assert.equal(await page.getByTestId("settings-concurrency").inputValue(), "3");
    assert.equal(await page.getByTestId("settings-rate").inputValue(), "2");
    assert.equal(await page.getByTestId("settings-autostart").isChecked(), false);
    await page.getByTestId("settings-unsaved").waitFor({ state: "detached" });

    // Discarded edits do not come back after another tab change; saved ones are just saved.
    await page.getByTestId("nav-activity").click();
    await toSettings(page);
    assert.equal(await page.getByTestId("settings-unsaved").count(), 0);
    await page.getByTestId("settings-concurrency").fill("5");
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-saved"), "Settings saved.");
    await waitCall(page, "settings_set", (a) => a.settings.concurrency === 5);
    await page.close();
  });

  it("refuses numbers out of range before sending them", async () => {
    const page = await browser.open({ ...SIGNED_IN, settings: SETTINGS });
    await toSettings(page);
    await page.getByTestId("settings-concurrency").fill("40");
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-error"), "from 1 to 16");
    await page.getByTestId("settings-concurrency").fill("4");
    await page.getByTestId("settings-rate").fill("0");
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-error"), "The rate limit must be a number above 0.");
    assert.equal((await calls(page)).filter((c) => c.cmd === "settings_set").length, 0);

    await page.getByTestId("settings-rate").fill("1");
    await patchScenario(page, { errors: { settings_set: { code: "invalid_input", message: "Ferry could not turn on autostart: the autostart folder is read-only." } } });
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-error"), "autostart folder is read-only");
    await page.close();
  });

  it("edits the bandwidth schedule as rows a person can read, and the pauses on metered connections and battery", async () => {
    const VIDEOS = { "/home/demo/Videos": { pauseOnMetered: false } };
    const office = { days: "mon-fri", from: "09:00", to: "18:00", limit: 1_000_000 };
    const page = await browser.open({ ...SIGNED_IN, settings: { ...SETTINGS, schedule: [office], folders: VIDEOS } });
    await toSettings(page);
    const rules = page.getByTestId("schedule-rule");
    await waitText(rules.nth(0).getByTestId("schedule-rule-text"), "Weekdays 09:00–18:00: at most 1 MB/s");
    assert.equal(await rules.nth(0).getByTestId("schedule-days").inputValue(), "mon-fri");

    await page.getByTestId("schedule-add").click();
    const weekend = rules.nth(1);
    await weekend.getByTestId("schedule-days").selectOption("sat,sun");
    await weekend.getByTestId("schedule-from").fill("00:00");
    await weekend.getByTestId("schedule-to").fill("24:00");
    await weekend.getByTestId("schedule-kind").selectOption("off");
    await waitText(weekend.getByTestId("schedule-rule-text"), "Weekends 00:00–24:00: paused");
    await page.getByTestId("schedule-add").click();
    const nights = rules.nth(2);
    await nights.getByTestId("schedule-days").selectOption("daily");
    await nights.getByTestId("schedule-from").fill("23:00");
    await nights.getByTestId("schedule-to").fill("6:00");
    await nights.getByTestId("schedule-kind").selectOption("unlimited");
    await waitText(nights.getByTestId("schedule-rule-text"), "Every day 23:00–06:00 (past midnight): no limit");
    await page.getByTestId("settings-pause-metered").check();
    await page.getByTestId("settings-pause-battery").check();
    await page.getByTestId("settings-battery-below").fill("15");
    await waitText(page.getByTestId("settings-unsaved"), "You have unsaved changes.");
    await screenshot(page, "settings-schedule");

    // A time that is no time is refused before anything is sent.
    await nights.getByTestId("schedule-from").fill("11pm");
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-error"), "Rule 3: the start must be a time like 09:00");
    assert.equal((await calls(page)).filter((c) => c.cmd === "settings_set").length, 0);
    await nights.getByTestId("schedule-from").fill("23:00");

    // The harness answers with the rules' keys in another order, as the real shell does.
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-saved"), "Settings saved.");
    assert.equal(await page.getByTestId("settings-unsaved").count(), 0, "saved is not unsaved");
    const [saved] = await waitCall(page, "settings_set");
    assert.deepEqual(saved.args.settings.schedule, [
      office,
      { days: "sat,sun", from: "00:00", to: "24:00", limit: "off" },
      { days: "daily", from: "23:00", to: "06:00", limit: "unlimited" },
    ]);
    assert.equal(saved.args.settings.pauseOnMetered, true);
    assert.equal(saved.args.settings.pauseOnBatteryBelow, 15);
    assert.deepEqual(saved.args.settings.folders, VIDEOS, "a folder's own settings are kept");

    // The shell's refusal (rules that overlap) is shown as it says it.
    const overlap = "the bandwidth schedule cannot be used: rules 1 (\"mon-fri 09:00-18:00 1MB/s\") and 2 (\"mon 17:00-19:00 off\") overlap on monday at 17:00";
    await patchScenario(page, { errors: { settings_set: { code: "invalid_input", message: overlap } } });
    await rules.nth(1).getByTestId("schedule-days").selectOption("mon");
    await rules.nth(1).getByTestId("schedule-from").fill("17:00");
    await rules.nth(1).getByTestId("schedule-to").fill("19:00");
    await page.getByTestId("settings-save").click();
    await waitText(page.getByTestId("settings-error"), "overlap on monday at 17:00");
    await patchScenario(page, { errors: {} });

    // Removing rules, and the battery pause off again.
    await rules.nth(2).getByTestId("schedule-remove").click();
    await rules.nth(1).getByTestId("schedule-remove").click();
    await page.getByTestId("settings-pause-battery").uncheck();
    await page.getByTestId("settings-save").click();
    await waitCall(page, "settings_set", (a) => a.settings.schedule.length === 1 && a.settings.pauseOnBatteryBelow === null);
    await page.close();
  });

  it("asks before signing out, and Cancel keeps the account", async () => {
    const page = await browser.open({ ...SIGNED_IN, settings: SETTINGS });
    await toSettings(page);
    await page.getByTestId("settings-sign-out").click();
    await waitText(page.getByTestId("settings-sign-out-confirmation"), "Sign out of http://127.0.0.1:8080?");
    await page.getByTestId("settings-sign-out-cancel").click();
    await page.getByTestId("settings-sign-out").waitFor();
    await waitText(page.getByTestId("settings-account"), "Signed in as demo");
    assert.equal((await calls(page)).filter((c) => c.cmd === "sign_out").length, 0, "Cancel signs nothing out");
    await page.close();
  });

  it("signs out and goes back to the sign-in screen", async () => {
    const page = await browser.open({ ...SIGNED_IN, settings: SETTINGS });
    await toSettings(page);
    await page.getByTestId("settings-sign-out").click();
    await page.getByTestId("settings-sign-out-confirm").click();
    await page.getByTestId("signin-server").waitFor();
    assert.deepEqual((await waitCall(page, "sign_out"))[0].args, { server: "http://127.0.0.1:8080", user: "demo" });
    await waitText(page.getByTestId("overview-state"), "Signed out");
    assert.equal(await page.getByTestId("nav-settings").count(), 0);
    await page.close();
  });

  it("goes to sign-in when the server signs Ferry out", async () => {
    const page = await browser.open({ ...SIGNED_IN });
    await page.getByTestId("queue").waitFor();
    await patchScenario(page, { accounts: [{ server: "http://127.0.0.1:8080", user: "demo", signedIn: false }] });
    await emit(page, "ferry://overview", { state: "signed_out", uploading: 0, queued: 0, failed: 0, message: "Signed out: sign in again" });
    await page.getByTestId("signin-server").waitFor();
    await waitText(page.getByTestId("overview-state"), "Signed out");
    assert.equal(await page.getByTestId("nav-activity").count(), 0);
    await page.close();
  });

  it("logged no page errors", () => {
    assert.deepEqual(browser.problems, []);
  });
});
