// Activity screen: live progress from engine events (per file and overall, speed and time
// left over a fixed clock), pause/resume all, failures with Retry and Retry all, overview.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { calls, emit, folderView, SIGNED_IN, screenshot, startBrowser, waitCall, waitText } from "./helpers.mjs";

const DIR = "/home/demo/Pictures";
const A = `${DIR}/beach.jpg`;
const B = `${DIR}/mountains.raw`;
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

/** @param {import("playwright-core").Page} page @param {string} path */
const row = (page, path) => page.locator(`[data-testid="queue-row"][data-path="${path}"]`);

describe("activity", () => {
  it("says there is nothing to upload, and offers to add a folder when there is none", async () => {
    const page = await browser.open({ ...SIGNED_IN });
    await waitText(page.getByTestId("queue-empty"), "Nothing to upload right now");
    await page.getByTestId("activity-no-folders").waitFor();
    await page.getByRole("button", { name: "Add a folder" }).click();
    await page.getByTestId("add-folder-path").waitFor();
    await page.close();
  });

  it("follows live progress events: percent, speed, time left, overall, then finished", async () => {
    const page = await browser.open({ ...SIGNED_IN, folders: [folderView(DIR)] });
    await page.clock.setFixedTime(T0);
    await page.getByTestId("queue-empty").waitFor();

    await emit(page, "ferry://engine", { event: "queued", path: A, size: 10_000_000 });
    await emit(page, "ferry://engine", { event: "queued", path: B, size: 30_000_000 });
    await emit(page, "ferry://engine", { event: "started", path: B, protocol: "tus", size: 30_000_000, resumed_from: 0 });
    await emit(page, "ferry://overview", { state: "uploading", uploading: 1, queued: 1, failed: 0, message: "Uploading 2 files" });
    await waitText(page.getByTestId("overview-state"), "Uploading 2 files");
    assert.equal(await page.getByTestId("overview-state").getAttribute("data-state"), "uploading");
    assert.deepEqual(
      await page.getByTestId("queue-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-path"))),
      [B, A],
      "the uploading file comes first",
    );

    await page.clock.setFixedTime(T0 + 1000);
    await emit(page, "ferry://engine", { event: "progress", path: B, confirmed: 2_000_000, size: 30_000_000 });
    await page.clock.setFixedTime(T0 + 2000);
    await emit(page, "ferry://engine", { event: "progress", path: B, confirmed: 6_000_000, size: 30_000_000 });
    await waitText(row(page, B).getByTestId("queue-percent"), "20%");
    // 6 MB over 2 s = 3 MB/s; 24 MB left = 8 s.
    await waitText(row(page, B).getByTestId("queue-speed"), "3 MB/s");
    await waitText(row(page, B).getByTestId("queue-eta"), "8 s left");
    await waitText(row(page, A).getByTestId("queue-percent"), "0%");
    await waitText(page.getByTestId("queue-overall-percent"), "15%");
    await waitText(page.getByTestId("queue-overall"), "2 files: 6 MB of 40 MB");
    assert.equal(await row(page, B).getByRole("progressbar").getAttribute("aria-valuenow"), "20");
    // Bytes on their way move the bar before the server confirms them.
    await page.clock.setFixedTime(T0 + 2500);
    await emit(page, "ferry://engine", { event: "sent", path: B, sent: 7_500_000, size: 30_000_000 });
    await waitText(row(page, B).getByTestId("queue-percent"), "25%");
    await waitText(row(page, B), "7.5 MB of 30 MB");
    await screenshot(page, "activity");

    await emit(page, "ferry://engine", { event: "retrying", path: B, attempt: 1, delay_ms: 2000, error: "The connection to the server was cut." });
    await waitText(row(page, B).getByTestId("queue-retry-reason"), "The connection to the server was cut.");
    await emit(page, "ferry://engine", { event: "progress", path: B, confirmed: 30_000_000, size: 30_000_000 });
    await waitText(row(page, B).getByTestId("queue-percent"), "100%");
    const foldersBefore = (await calls(page)).filter((c) => c.cmd === "folders").length;
    await emit(page, "ferry://engine", { event: "finished", path: B, location: "http://127.0.0.1:8080/files/9", size: 30_000_000, bytes_sent: 30_000_000 });
    await page.waitForFunction((p) => !document.querySelector(`[data-testid="queue-row"][data-path="${p}"]`), B);
    // A finished upload changes the folder counts: the window re-reads them.
    await waitCall(page, "folders", () => true, { after: foldersBefore });
    await page.close();
  });

  it("pauses and resumes everything", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      activity: {
        paused: false,
        queue: [{ path: A, folder: DIR, size: 100, confirmed: 50, state: "uploading", speed: 10, etaSecs: 5, error: null }],
        failed: [],
        totalBytes: 100,
        confirmedBytes: 50,
      },
    });
    await waitText(row(page, A).getByTestId("queue-percent"), "50%");
    await page.getByTestId("queue-pause-all").click();
    await waitText(page.getByTestId("queue-pause-all"), "Resume all");
    await page.getByTestId("queue-paused").waitFor();
    await waitCall(page, "pause_all");
    await page.getByTestId("queue-pause-all").click();
    await waitText(page.getByTestId("queue-pause-all"), "Pause all");
    await waitCall(page, "resume_all");
    // The engine reports a pause from elsewhere (the tray): the window follows.
    await emit(page, "ferry://engine", { event: "paused", folder: null });
    await waitText(page.getByTestId("queue-pause-all"), "Resume all");
    await emit(page, "ferry://overview", { state: "paused", uploading: 0, queued: 1, failed: 0, message: "Paused" });
    await waitText(page.getByTestId("overview-state"), "Paused");
    await page.close();
  });

  it("says why nothing moves when the system or the schedule holds uploads back, as a state and not a failure", async () => {
    const metered = { reason: "metered", untilMs: null, message: "paused: metered connection" };
    const page = await browser.open({
      ...SIGNED_IN,
      overview: { state: "paused", uploading: 0, queued: 2, failed: 0, message: "Paused: metered connection: 2 files waiting", hold: metered },
      folders: [folderView(DIR), folderView("/home/demo/Videos")],
      activity: {
        paused: false,
        hold: metered,
        queue: [
          { path: A, folder: DIR, size: 4_000_000, confirmed: 1_500_000, state: "paused", speed: 0, etaSecs: null, error: null },
          { path: B, folder: DIR, size: 30_000_000, confirmed: 0, state: "paused", speed: 0, etaSecs: null, error: null },
        ],
        failed: [],
        totalBytes: 34_000_000,
        confirmedBytes: 1_500_000,
      },
    });
    await waitText(page.getByTestId("overview-state"), "Paused: metered connection: 2 files waiting");
    await waitText(page.getByTestId("activity-hold"), "Paused: metered connection. Uploads go on by themselves, from where the server stands.");
    assert.equal(await page.getByTestId("failed-row").count(), 0, "a hold is not a failure");
    await waitText(row(page, A).getByTestId("queue-state"), "Paused");
    await screenshot(page, "paused-metered");

    // The metered connection is gone; the schedule holds one folder and limits the rest.
    const schedule = { reason: "schedule", untilMs: T0 + 3_600_000, message: "paused by the schedule until 18:00" };
    await emit(page, "ferry://overview", {
      state: "uploading",
      uploading: 1,
      queued: 1,
      failed: 0,
      message: "Uploading 1 of 2 files, 1 paused",
      hold: null,
      scheduled: { rate: 1_000_000, untilMs: T0 + 3_600_000, message: "limited to 1 MB/s by the schedule until 18:00" },
    });
    await emit(page, "ferry://folders", [
      { path: DIR, watcher: "watching", warning: null, hold: null },
      { path: "/home/demo/Videos", watcher: "watching", warning: null, hold: schedule },
    ]);
    await page.getByTestId("activity-hold").waitFor({ state: "detached" });
    await waitText(page.getByTestId("activity-scheduled"), "Limited to 1 MB/s by the schedule until 18:00.");
    await waitText(page.locator('[data-testid="activity-folder-hold"][data-path="/home/demo/Videos"]'), "paused by the schedule until 18:00");
    await page.getByTestId("nav-folders").click();
    await waitText(page.locator('[data-testid="folder-row"][data-path="/home/demo/Videos"]').getByTestId("folder-hold"), "Paused by the schedule until 18:00");
    await page.close();
  });

  it("lists failures with the reason, retries one and then all", async () => {
    const failed = [
      { path: A, folder: DIR, error: "The server refused the file: it is larger than the server allows.", permanent: true, atMs: T0 },
      { path: B, folder: DIR, error: "The server did not answer in time.", permanent: false, atMs: T0 },
      { path: `${DIR}/c.txt`, folder: DIR, error: "The file could not be read.", permanent: false, atMs: T0 },
    ];
    const page = await browser.open({
      ...SIGNED_IN,
      overview: { state: "problem", uploading: 0, queued: 0, failed: 3, message: "3 files failed" },
      folders: [folderView(DIR, { uploaded: 9, pending: 0, uploading: 0, failed: 3 })],
      activity: { paused: false, queue: [], failed, totalBytes: 0, confirmedBytes: 0 },
    });
    await waitText(page.getByTestId("overview-state"), "3 files failed");
    const rows = page.getByTestId("failed-row");
    await waitText(rows.nth(0).getByTestId("failed-reason"), "larger than the server allows");
    await waitText(rows.nth(0), "Trying again will not help");
    await screenshot(page, "activity-failed");
    await page.locator(`[data-testid="failed-row"][data-path="${B}"]`).getByTestId("failed-retry").click();
    assert.deepEqual((await waitCall(page, "retry"))[0].args, { path: B });
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="failed-row"]').length === 2);
    await page.getByTestId("failed-retry-all").click();
    await waitCall(page, "retry", (a) => a.path === undefined);
    await page.getByTestId("failed").waitFor({ state: "detached" });
    await page.close();
  });

  it("adds a failure from an event, with its reason", async () => {
    const page = await browser.open({ ...SIGNED_IN });
    await emit(page, "ferry://engine", { event: "started", path: A, protocol: "galileo", size: 100, resumed_from: 0 });
    await emit(page, "ferry://engine", { event: "failed", path: A, error: "The server ran out of space.", permanent: false });
    await waitText(page.getByTestId("failed-reason"), "The server ran out of space.");
    assert.equal(await page.getByTestId("queue-row").count(), 0);
    await emit(page, "ferry://engine", { event: "warning", message: "Ferry cannot watch every folder: raise the watch limit." });
    await waitText(page.getByTestId("activity-warning"), "raise the watch limit");
    await page.close();
  });

  it("shows a failed retry in words", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      errors: { retry: { code: "signed_out", message: "x" } },
      activity: { paused: false, queue: [], failed: [{ path: A, folder: DIR, error: "e", permanent: false, atMs: T0 }], totalBytes: 0, confirmedBytes: 0 },
    });
    await page.getByTestId("failed-retry").click();
    await waitText(page.getByTestId("failed-error"), "Please sign in again.");
    await page.close();
  });

  it("logged no page errors", () => {
    assert.deepEqual(browser.problems, []);
  });
});
