// One status for connection trouble, rows that say where each file stands, pause shown
// everywhere, failures in plain words with the detail behind a toggle.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { folderView, SIGNED_IN, screenshot, startBrowser, waitCall, waitText } from "./helpers.mjs";

const DIR = "/home/demo/Pictures";
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const REFUSED =
  "tus upload of /home/demo/Pictures/a.raw to http://127.0.0.1:8080: error sending request for url (http://127.0.0.1:8080/files/x): client error (Connect): tcp connect error: Connection refused (os error 111)";

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

/** A queue row of the activity snapshot. @param {string} name @param {Record<string, unknown>} over */
function item(name, over) {
  return {
    path: `${DIR}/${name}`,
    folder: DIR,
    size: 80_000_000,
    confirmed: 20_000_000,
    state: "queued",
    speed: 0,
    etaSecs: null,
    error: null,
    position: null,
    waitingForServer: false,
    retryAtMs: null,
    ...over,
  };
}

/** @param {import("playwright-core").Page} page @param {string} name */
const row = (page, name) => page.locator(`[data-testid="queue-row"][data-path="${DIR}/${name}"]`);

/** @param {object[]} queue */
function activity(queue, paused = false) {
  return { paused, queue, failed: [], totalBytes: 0, confirmedBytes: 0 };
}

describe("connection and queue states", () => {
  it("an unreachable server is one banner with a countdown and Retry now; rows wait for it without raw errors", async () => {
    const scenario = {
      ...SIGNED_IN,
      folders: [folderView(DIR)],
      activity: activity([
        item("a.raw", { state: "retrying", waitingForServer: true, retryAtMs: T0 + 12_000, error: REFUSED }),
        item("b.raw", { state: "queued", position: 1 }),
      ]),
      overview: {
        state: "offline",
        uploading: 0,
        queued: 2,
        failed: 0,
        message: "Can't reach 127.0.0.1:8080: 2 files waiting, tried again by themselves",
        connection: { server: "http://127.0.0.1:8080", state: "unreachable", retryAtMs: T0 + 12_000, detail: REFUSED, files: 1 },
      },
    };
    const page = await browser.open(scenario);
    await page.clock.setFixedTime(T0);
    const banner = page.getByTestId("connection-banner");
    await waitText(banner, "Can't reach 127.0.0.1:8080.");
    await waitText(page.getByTestId("connection-countdown"), "Trying again in 12 s.");
    const header = await waitText(page.getByTestId("overview-state"), "Can't reach");
    assert.ok(!header.includes("Uploading"), `the header says: ${header}`);
    assert.equal(await page.getByTestId("overview-state").getAttribute("data-state"), "offline");
    await waitText(row(page, "a.raw").getByTestId("queue-state"), "Waiting for the server");
    await waitText(row(page, "b.raw").getByTestId("queue-state"), "Queued (1st)");
    await waitText(page.getByTestId("queue-title"), "Waiting");
    assert.equal(await page.getByTestId("queue-overall-speed").count(), 0, "nothing is sent, so no speed");
    const body = (await page.locator("main").textContent()) ?? "";
    assert.ok(!/os error 111/.test(await page.locator("main").innerText()), "the raw error is not shown until asked for");
    assert.ok(body.includes("Connection refused"), "but it is there, behind Details");
    await page.getByTestId("connection-details").click();
    await waitText(page.getByTestId("connection-detail"), "Connection refused");
    await screenshot(page, "connection-unreachable");
    await page.getByTestId("connection-retry-now").click();
    await waitCall(page, "retry", (a) => a === undefined || a.path === undefined);

    // The server answers again: the banner goes.
    await page.evaluate(() =>
      // @ts-ignore: set by the harness
      window.__ferry.emit("ferry://overview", { state: "uploading", uploading: 1, queued: 1, failed: 0, message: "Uploading 1 of 2 files", connection: null }),
    );
    await waitText(page.getByTestId("overview-state"), "Uploading 1 of 2 files");
    await page.getByTestId("connection-banner").waitFor({ state: "detached" });
    await page.close();
  });

  it("a server out of space is one banner too, with what to do; its rows wait for space", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [folderView(DIR)],
      activity: activity([item("a.raw", { state: "retrying", waitingForSpace: true, retryAtMs: T0 + 300_000, error: "the server is out of space" })]),
      overview: {
        state: "problem",
        uploading: 0,
        queued: 1,
        failed: 0,
        message: "127.0.0.1:8080 is out of space: 1 file waiting, tried again every few minutes",
        connection: { server: "http://127.0.0.1:8080", state: "out_of_space", retryAtMs: T0 + 300_000, detail: "the server is out of space", files: 1 },
      },
    });
    await page.clock.setFixedTime(T0);
    await waitText(page.getByTestId("connection-banner"), "127.0.0.1:8080 is out of space.");
    await waitText(page.getByTestId("connection-countdown"), "Trying again in 5 min.");
    await waitText(page.getByTestId("connection-hint"), "Free some space on the server");
    await waitText(row(page, "a.raw").getByTestId("queue-state"), "Waiting for space on the server");
    assert.equal(await row(page, "a.raw").getByTestId("queue-retry-reason").count(), 0, "said once, in the banner");
    await page.close();
  });

  it("only running files say Uploading, with speed; queued ones say their place; the header counts of how many", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [folderView(DIR)],
      activity: activity([
        item("a.raw", { state: "uploading", speed: 5_000_000, etaSecs: 12 }),
        item("b.raw", { state: "queued", position: 1 }),
        item("c.raw", { state: "queued", position: 2 }),
        item("d.raw", { state: "retrying", retryAtMs: T0 + 30_000, error: "the server could not handle PATCH (503 Service Unavailable); trying again later" }),
      ]),
      overview: { state: "uploading", uploading: 1, queued: 3, failed: 0, message: "Uploading 1 of 4 files", connection: null },
    });
    await page.clock.setFixedTime(T0);
    await waitText(page.getByTestId("overview-state"), "Uploading 1 of 4 files");
    await waitText(row(page, "a.raw").getByTestId("queue-state"), "Uploading");
    await waitText(row(page, "a.raw").getByTestId("queue-speed"), "5 MB/s");
    await waitText(row(page, "b.raw").getByTestId("queue-state"), "Queued (1st)");
    await waitText(row(page, "c.raw").getByTestId("queue-state"), "Queued (2nd)");
    await waitText(row(page, "d.raw").getByTestId("queue-state"), "Retrying in 30 s");
    await waitText(page.getByTestId("queue-title"), "Uploading");
    await waitText(page.getByTestId("queue-overall-speed"), "5 MB/s");
    assert.equal(await row(page, "b.raw").getByTestId("queue-speed").count(), 0, "no speed on a queued file");
    assert.equal(await page.getByTestId("connection-banner").count(), 0, "a 503 is not connection trouble");
    await page.close();
  });

  it("Pause all shows paused in the header and on every row, with no speed or time left", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [folderView(DIR)],
      activity: activity([item("a.raw", { state: "uploading", speed: 5_000_000, etaSecs: 12 }), item("b.raw", { state: "queued", position: 1 })]),
      overview: { state: "uploading", uploading: 1, queued: 1, failed: 0, message: "Uploading 1 of 2 files" },
    });
    await waitText(row(page, "a.raw").getByTestId("queue-speed"), "5 MB/s");
    // What the engine says once paused.
    await page.evaluate(() => {
      // @ts-ignore: set by the harness
      window.__ferry.scenario.overview = { state: "paused", uploading: 0, queued: 2, failed: 0, message: "Paused: 2 files waiting" };
    });
    await page.getByTestId("queue-pause-all").click();
    await waitCall(page, "pause_all");
    await waitText(page.getByTestId("overview-state"), "Paused: 2 files waiting");
    await waitText(row(page, "a.raw").getByTestId("queue-state"), "Paused");
    await waitText(row(page, "b.raw").getByTestId("queue-state"), "Paused");
    assert.equal(await page.getByTestId("queue-speed").count(), 0, "no speed on paused rows");
    assert.equal(await page.getByTestId("queue-eta").count(), 0, "no time left on paused rows");
    await screenshot(page, "paused-all");
    await page.close();
  });

  it("the files of one paused folder say Paused while the others upload", async () => {
    const other = "/home/demo/Music";
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [folderView(DIR, { paused: true, watcher: "paused" }), folderView(other)],
      activity: activity([
        { ...item("song.flac", { state: "uploading", speed: 1_000_000, etaSecs: 3 }), path: `${other}/song.flac`, folder: other },
        item("a.raw", { state: "paused" }),
      ]),
      overview: { state: "uploading", uploading: 1, queued: 1, failed: 0, message: "Uploading 1 of 1 file, 1 paused" },
    });
    await waitText(page.getByTestId("overview-state"), "1 paused");
    await waitText(row(page, "a.raw").getByTestId("queue-state"), "Paused");
    assert.equal(await row(page, "a.raw").getByTestId("queue-speed").count(), 0);
    await waitText(page.locator(`[data-testid="queue-row"][data-path="${other}/song.flac"]`).getByTestId("queue-state"), "Uploading");
    await page.close();
  });

  it("a failure reads in plain words, with no command line advice, its detail behind a toggle, and the day it failed", async () => {
    const page = await browser.open({
      ...SIGNED_IN,
      folders: [folderView(DIR)],
      activity: {
        ...activity([]),
        failed: [
          {
            path: `${DIR}/x.raw`,
            folder: DIR,
            error: "http://127.0.0.1:8080 refused the sign-in (401 Unauthorized); run `ferry login http://127.0.0.1:8080` again",
            permanent: true,
            atMs: T0 - 3_600_000,
          },
          { path: `${DIR}/y.raw`, folder: DIR, error: "gave up after 20 attempts: the server found a checksum mismatch", permanent: true, atMs: T0 },
        ],
      },
    });
    await page.clock.setFixedTime(T0);
    const x = page.locator(`[data-testid="failed-row"][data-path="${DIR}/x.raw"]`);
    await waitText(x.getByTestId("reason-summary"), "Sign in again in Settings");
    assert.ok(!(await x.innerText()).includes("ferry login"), "no CLI advice in the window");
    assert.equal(await x.locator(".hint").count(), 0, "signing in fixes it: not 'trying again will not help'");
    assert.ok(!(await x.getByTestId("failed-when").innerText()).includes("1970"));
    await x.getByTestId("reason-details").click();
    await waitText(x.getByTestId("reason-detail"), "ferry login");
    const y = page.locator(`[data-testid="failed-row"][data-path="${DIR}/y.raw"]`);
    await waitText(y.getByTestId("reason-summary"), "did not store exactly these bytes");
    // A give-up is a state of its own, not a row that looks alive.
    await waitText(y.getByTestId("failed-state"), "Gave up after 20 tries");
    await waitText(x.getByTestId("failed-state"), "Not uploaded");
    await y.getByTestId("failed-retry").click();
    await waitCall(page, "retry", (a) => a?.path === `${DIR}/y.raw`);
    await page.close();
  });
});

describe("an idle Activity", () => {
  it("shows the files uploaded recently", async () => {
    const page = await browser.open({ ...SIGNED_IN, folders: [folderView(DIR)], historyTotal: 12 });
    await page.getByTestId("queue-empty").waitFor();
    await page.getByTestId("recent-uploads").waitFor();
    assert.ok((await page.getByTestId("recent-row").count()) > 0);
    await waitCall(page, "history", (a) => a.query.limit === 5 && a.query.outcome === "uploaded");
    await page.close();
  });
});
