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

const SETTINGS = { concurrency: 3, rateLimit: 2_000_000, quietPeriodMs: 1500, autostart: false, notifyFailures: true, notifyFinished: false };

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
      settings: { concurrency: 8, rateLimit: 500_000, quietPeriodMs: 3000, autostart: true, notifyFailures: true, notifyFinished: true },
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
