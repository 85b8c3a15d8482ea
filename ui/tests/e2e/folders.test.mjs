// Folders screen: empty state, adding (typed and picked), errors, pause, ignore rules, remove.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { calls, emit, folderView, SIGNED_IN, screenshot, startBrowser, waitCall, waitText, patchScenario } from "./helpers.mjs";

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

/** @param {import("playwright-core").Page} page */
async function toFolders(page) {
  await page.getByTestId("nav-folders").click();
  await page.getByTestId("add-folder-path").waitFor();
}

describe("folders", () => {
  it("shows an empty state, then adds a typed folder with a prefix and protocol", async () => {
    const page = await browser.open({ ...SIGNED_IN });
    await toFolders(page);
    await waitText(page.getByTestId("folders-empty"), "No folders yet");
    await screenshot(page, "folders-empty");
    await page.getByTestId("add-folder-path").fill("/home/demo/Pictures");
    // The place on the server starts as the folder's own name, and says where files land.
    assert.equal(await page.getByTestId("add-folder-prefix").inputValue(), "Pictures");
    await waitText(page.getByTestId("add-folder-destination"), "demo@127.0.0.1:8080:/Pictures/");
    await page.getByTestId("add-folder-prefix").fill("");
    await waitText(page.locator("#add-prefix-hint"), "demo@127.0.0.1:8080:/, the top of your account");
    await page.getByTestId("add-folder-prefix").fill("photos/2026");
    await waitText(page.getByTestId("add-folder-destination"), "demo@127.0.0.1:8080:/photos/2026/");
    // A place typed by the person stays when the path changes.
    await page.getByTestId("add-folder-path").fill("/home/demo/Pictures/");
    assert.equal(await page.getByTestId("add-folder-prefix").inputValue(), "photos/2026");
    await page.getByTestId("add-folder-path").fill("/home/demo/Pictures");
    await page.getByTestId("add-folder-protocol").selectOption("galileo");
    await page.getByTestId("add-folder-submit").click();
    await waitText(page.getByTestId("folder-path"), "/home/demo/Pictures");
    const [call] = await waitCall(page, "folder_add");
    assert.deepEqual(call.args, {
      path: "/home/demo/Pictures",
      server: "http://127.0.0.1:8080",
      user: "demo",
      remotePrefix: "photos/2026",
      protocol: "galileo",
    });
    await waitText(page.getByTestId("add-folder-added"), "Added /home/demo/Pictures");
    assert.equal(await page.getByTestId("folders-empty").count(), 0);
    await waitText(page.getByTestId("folder-destination"), "demo@127.0.0.1:8080:/photos/2026/");
    // Not "Not watching" while the engine takes it up; watching once the engine says so.
    await waitText(page.getByTestId("folder-watcher"), "Starting to watch…");
    await emit(page, "ferry://folders", [{ path: "/home/demo/Pictures", watcher: "watching", warning: null }]);
    await waitText(page.getByTestId("folder-watcher"), "Watching for changes");
    await page.close();
  });

  it("fills the path from the folder picker", async () => {
    const page = await browser.open({ ...SIGNED_IN, dialogPath: "/home/demo/Documents" });
    await toFolders(page);
    await page.getByTestId("add-folder-choose").click();
    await page.waitForFunction(
      () => /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="add-folder-path"]')).value === "/home/demo/Documents",
    );
    const [pick] = await waitCall(page, "plugin:dialog|open");
    assert.equal(pick.args.options.directory, true);
    await page.getByTestId("add-folder-submit").click();
    const [call] = await waitCall(page, "folder_add");
    assert.deepEqual(call.args, { path: "/home/demo/Documents", server: "http://127.0.0.1:8080", user: "demo", remotePrefix: "Documents" });
    await page.close();
  });

  it("shows why a folder cannot be added next to the path", async () => {
    const page = await browser.open({ ...SIGNED_IN, folders: [folderView("/home/demo/Pictures")] });
    await toFolders(page);
    await page.getByTestId("add-folder-path").fill("/home/demo/Pictures");
    await page.getByTestId("add-folder-submit").click();
    const error = page.getByTestId("add-folder-error");
    await waitText(error, "Ferry already syncs /home/demo/Pictures.");
    assert.equal(await error.getAttribute("data-code"), "already_exists");
    assert.equal(await page.getByTestId("add-folder-path").getAttribute("aria-invalid"), "true");

    await patchScenario(page, { errors: { folder_add: { code: "invalid_input", message: "/etc/passwd is not a folder." } } });
    await page.getByTestId("add-folder-path").fill("/etc/passwd");
    await page.getByTestId("add-folder-submit").click();
    await waitText(error, "/etc/passwd is not a folder.");

    await patchScenario(page, { errors: {} });
    await page.getByTestId("add-folder-path").fill("");
    await page.getByTestId("add-folder-submit").click();
    await waitText(error, "Choose a folder or type its path.");
    assert.equal((await calls(page)).filter((c) => c.cmd === "folder_add").length, 2, "an empty path is not sent");
    await page.close();
  });

  it("shows each folder's state and the watcher's warning, pauses and resumes one", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [
        folderView("/home/demo/Pictures", { remotePrefix: "photos", protocol: "tus" }),
        folderView("/home/demo/Big", { files: 0, uploaded: 0, pending: 0, uploading: 0, watcher: "stopped", warning: "Ferry cannot watch all subfolders: the system's watch limit was reached. Raise fs.inotify.max_user_watches." }),
      ],
    });
    await toFolders(page);
    const rows = page.getByTestId("folder-row");
    await waitText(rows.nth(0).getByTestId("folder-summary"), "9 of 12 uploaded, 1 uploading, 2 waiting");
    await waitText(rows.nth(1).getByTestId("folder-warning"), "watch limit was reached");
    await waitText(rows.nth(1).getByTestId("folder-watcher"), "Not watching");
    await screenshot(page, "folders");

    await rows.nth(0).getByTestId("folder-pause").click();
    await waitText(rows.nth(0).getByTestId("folder-watcher"), "Paused");
    await waitText(rows.nth(0).getByTestId("folder-pause"), "Resume");
    assert.deepEqual((await waitCall(page, "folder_pause"))[0].args, { path: "/home/demo/Pictures", paused: true });
    await rows.nth(0).getByTestId("folder-pause").click();
    await waitText(rows.nth(0).getByTestId("folder-watcher"), "Watching");
    assert.deepEqual((await waitCall(page, "folder_pause", (a) => a.paused === false))[0].args, { path: "/home/demo/Pictures", paused: false });

    await patchScenario(page, { errors: { folder_pause: { code: "not_found", message: "Ferry does not sync /home/demo/Big any more." } } });
    await rows.nth(1).getByTestId("folder-pause").click();
    await waitText(rows.nth(1).getByTestId("folder-error"), "Ferry does not sync /home/demo/Big any more.");
    await page.close();
  });

  it("edits the ignore rules", async () => {
    const page = await browser.open({ ...SIGNED_IN, folders: [folderView("/home/demo/Pictures")], ignore: { "/home/demo/Pictures": "*.tmp\n" } });
    await toFolders(page);
    await page.getByTestId("folder-ignore-toggle").click();
    const rules = page.getByTestId("ignore-rules");
    await page.waitForFunction(() => /** @type {HTMLTextAreaElement} */ (document.querySelector('[data-testid="ignore-rules"]')).value === "*.tmp\n");
    assert.equal(await page.getByTestId("folder-ignore-toggle").getAttribute("aria-expanded"), "true");
    await rules.fill("*.tmp\ncache/\n");
    await page.getByTestId("ignore-save").click();
    await waitText(page.getByTestId("ignore-saved"), "Saved.");
    assert.deepEqual((await waitCall(page, "folder_ignore_set"))[0].args, { path: "/home/demo/Pictures", rules: "*.tmp\ncache/\n" });
    await screenshot(page, "folders-ignore");

    await patchScenario(page, { errors: { folder_ignore_set: { code: "io", message: "Ferry could not write /home/demo/Pictures/.ferryignore: permission denied." } } });
    await page.getByTestId("ignore-save").click();
    await waitText(page.getByTestId("ignore-error"), "permission denied");
    await page.close();
  });

  it("removes a folder only after confirmation", async () => {
    const page = await browser.open({ ...SIGNED_IN, folders: [folderView("/home/demo/Pictures")] });
    await toFolders(page);
    await page.getByTestId("folder-remove").click();
    await waitText(page.getByTestId("folder-remove-confirm-text"), "Nothing is deleted");
    await page.getByTestId("folder-remove-cancel").click();
    assert.equal((await calls(page)).filter((c) => c.cmd === "folder_remove").length, 0, "cancel sends nothing");
    await page.getByTestId("folder-remove").click();
    await page.getByTestId("folder-remove-confirm").click();
    await waitText(page.getByTestId("folders-empty"), "No folders yet");
    assert.deepEqual((await waitCall(page, "folder_remove"))[0].args, { path: "/home/demo/Pictures" });
    await page.close();
  });

  it("shows a folder's own schedule and sets whether it pauses on metered connections", async () => {
    const DIR = "/home/demo/Videos";
    const own = [{ days: "daily", from: "08:00", to: "23:00", limit: "off" }];
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [folderView(DIR)],
      settings: {
        concurrency: 4,
        rateLimit: null,
        quietPeriodMs: 2000,
        autostart: false,
        notifyFailures: true,
        notifyFinished: false,
        schedule: [],
        pauseOnMetered: true,
        pauseOnBatteryBelow: null,
        folders: { [DIR]: { schedule: own } },
      },
    });
    await toFolders(page);
    await waitText(page.getByTestId("folder-schedule"), "Its own schedule: Every day 08:00–23:00: paused");
    const metered = page.getByTestId("folder-metered");
    await page.waitForFunction(() => !(/** @type {HTMLSelectElement} */ (document.querySelector('[data-testid="folder-metered"]'))).disabled);
    assert.equal(await metered.inputValue(), "default");
    await waitText(metered.locator('option[value="default"]'), "pause (as all folders)");
    await metered.selectOption("upload");
    const [call] = await waitCall(page, "settings_set");
    assert.deepEqual(call.args.settings.folders, { [DIR]: { schedule: own, pauseOnMetered: false } }, "its schedule is kept");
    await metered.selectOption("default");
    await waitCall(page, "settings_set", (a) => a.settings.folders[DIR] && a.settings.folders[DIR].pauseOnMetered === undefined);
    await page.close();
  });

  it("logged no page errors", () => {
    assert.deepEqual(browser.problems, []);
  });
});
