// History screen: a 100,000-row history served page by page (the window asks for one page,
// never all of it), search, filters, paging, the per-day chart, empty states.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { calls, folderView, SIGNED_IN, screenshot, startBrowser, waitText } from "./helpers.mjs";

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

/** @param {import("playwright-core").Page} page */
async function historyCalls(page) {
  // The History screen's own requests, not the idle Activity's few recent uploads.
  return (await calls(page))
    .filter((c) => c.cmd === "history" && c.args.query.limit !== 5)
    .map((c) => c.args.query);
}

/** @param {import("playwright-core").Page} page */
async function fileNames(page) {
  return page.getByTestId("history-file").allTextContents();
}

describe("history", () => {
  it("shows one page of 100,000 rows and asks for only that page", async () => {
    const page = await browser.open({ ...SIGNED_IN, historyTotal: 100_000, folders: [folderView("/home/demo/Pictures"), folderView("/home/demo/Work")] });
    await page.getByTestId("nav-history").click();
    await waitText(page.getByTestId("history-range"), "Showing 1–50 of 100,000");
    assert.equal(await page.getByTestId("history-row").count(), 50);
    const first = page.getByTestId("history-row").first();
    await waitText(first.getByTestId("history-file"), "photo-100000.jpg");
    await waitText(first.getByTestId("history-outcome-cell"), "Uploaded");
    await waitText(page.getByTestId("history-row").nth(1).getByTestId("history-outcome-cell"), "Failed");
    // Every uploaded row says how it was verified; failed ones say nothing of it.
    assert.deepEqual(await page.getByTestId("history-verified").evaluateAll((els) => els.slice(0, 3).map((e) => e.textContent)), [
      "verified: chunks checksummed",
      "unverified: the server offers no checksum",
      "verified: sha1 by server",
    ]);
    assert.equal(await page.getByTestId("history-row").nth(1).getByTestId("history-verified").count(), 0, "a failed upload claims no verification");
    assert.deepEqual(await historyCalls(page), [{ offset: 0, limit: 50 }], "exactly one page was requested");
    await page.getByTestId("chart").waitFor();
    assert.equal(await page.getByTestId("chart-bar").count(), 30);
    assert.match((await page.getByTestId("chart").getAttribute("aria-label")) ?? "", /^Bytes uploaded per day: .* over the last 30 days$/);
    const perDay = (await calls(page)).filter((c) => c.cmd === "history_per_day");
    assert.deepEqual(perDay.map((c) => c.args), [{ days: 30 }]);
    await screenshot(page, "history");

    await page.getByTestId("history-next").click();
    await waitText(page.getByTestId("history-range"), "Showing 51–100 of 100,000");
    await waitText(page.getByTestId("history-file").first(), "photo-99950.jpg");
    await page.getByTestId("history-prev").click();
    await waitText(page.getByTestId("history-range"), "Showing 1–50 of 100,000");
    assert.equal(await page.getByTestId("history-prev").isDisabled(), true);
    assert.deepEqual(await historyCalls(page), [
      { offset: 0, limit: 50 },
      { offset: 50, limit: 50 },
      { offset: 0, limit: 50 },
    ]);
    assert.ok((await historyCalls(page)).every((q) => q.limit <= 100), "never asks for more than a page");
    await page.close();
  });

  it("searches once the typing stops, and goes back to the first page", async () => {
    const page = await browser.open({ ...SIGNED_IN, historyTotal: 100_000 });
    await page.getByTestId("nav-history").click();
    await waitText(page.getByTestId("history-range"), "of 100,000");
    await page.getByTestId("history-next").click();
    await waitText(page.getByTestId("history-range"), "Showing 51–100");
    await page.getByTestId("history-search").pressSequentially("sunset", { delay: 20 });
    await waitText(page.getByTestId("history-range"), "Showing 1–3 of 3");
    assert.deepEqual(await fileNames(page), ["sunset-3.jpg", "sunset-2.jpg", "sunset-1.jpg"]);
    const searches = (await historyCalls(page)).filter((q) => q.search !== undefined);
    assert.deepEqual(searches, [{ offset: 0, limit: 50, search: "sunset" }], "one query for the whole word, from the first page");
    await page.close();
  });

  it("filters by outcome and folder", async () => {
    const page = await browser.open({ ...SIGNED_IN, historyTotal: 100_000, folders: [folderView("/home/demo/Pictures"), folderView("/home/demo/Work")] });
    await page.getByTestId("nav-history").click();
    await waitText(page.getByTestId("history-range"), "of 100,000");
    await page.getByTestId("history-outcome").selectOption("abandoned");
    await waitText(page.getByTestId("history-range"), "of 20,000");
    const outcomes = await page.getByTestId("history-outcome-cell").allTextContents();
    assert.ok(outcomes.length === 50 && outcomes.every((o) => o === "Given up"), `all rows given up: ${outcomes}`);
    await page.getByTestId("history-folder").selectOption("/home/demo/Work");
    await page.waitForFunction(() => document.querySelector('[data-testid="history-row"] td[title]')?.getAttribute("title")?.startsWith("/home/demo/Work/"));
    const last = (await historyCalls(page)).at(-1);
    assert.deepEqual(last, { offset: 0, limit: 50, outcome: "abandoned", folder: "/home/demo/Work" });
    await page.close();
  });

  it("has empty states for no history and for no match", async () => {
    const page = await browser.open({ ...SIGNED_IN, historyTotal: 0 });
    await page.getByTestId("nav-history").click();
    await waitText(page.getByTestId("history-empty"), "Nothing uploaded yet");
    await waitText(page.getByTestId("chart-empty"), "Nothing uploaded in the last 30 days");
    await screenshot(page, "history-empty");
    await page.getByTestId("history-search").fill("nothing");
    await waitText(page.getByTestId("history-empty"), "Nothing matches");
    await page.close();
  });

  it("shows a failed query in words", async () => {
    const page = await browser.open({ ...SIGNED_IN, errors: { history: { code: "io", message: "Ferry could not read its journal: the disk is full." } } });
    await page.getByTestId("nav-history").click();
    await waitText(page.getByTestId("history-error"), "the disk is full");
    await page.close();
  });

  it("logged no page errors", () => {
    assert.deepEqual(browser.problems, []);
  });
});

describe("history layout", () => {
  for (const [width, height] of [
    [1000, 700],
    [700, 500],
  ]) {
    it(`keeps one line per row at ${width}x${height}, with the details a click away`, async () => {
      const page = await browser.open({ ...SIGNED_IN, historyTotal: 200, folders: [folderView("/home/demo/Pictures")] });
      await page.setViewportSize({ width, height });
      await page.getByTestId("nav-history").click();
      await waitText(page.getByTestId("history-range"), "Showing 1–50 of 200");
      const heights = await page.getByTestId("history-line").evaluateAll((rows) => rows.slice(0, 20).map((r) => r.getBoundingClientRect().height));
      assert.ok(Math.max(...heights) <= 48, `rows should be one line tall, they are ${heights.join(", ")} px`);
      const chart = await page.getByTestId("chart-card").evaluate((c) => c.getBoundingClientRect().height);
      assert.ok(chart <= height * 0.3, `the chart takes ${chart} px of a ${height} px window`);
      const table = await page.getByTestId("history-table").evaluate((t) => t.getBoundingClientRect().width);
      assert.ok(table >= width * 0.8, `the table uses the window's width: ${table} px of ${width}`);
      assert.ok(await page.getByTestId("history-line").first().getByText("http://").count() === 0, "no upload URL in the row");
      await screenshot(page, `history-${width}x${height}`);

      const first = page.getByTestId("history-row").first();
      assert.equal(await first.getByTestId("history-detail").isVisible(), false);
      await first.getByTestId("history-details").click();
      await waitText(first.getByTestId("history-remote"), "Pictures/photo-200.jpg");
      assert.match((await first.getByTestId("history-sha1").textContent()) ?? "", /^[0-9a-f]{40}$/);
      await waitText(first.getByTestId("history-location"), "http://127.0.0.1:8080/files/");
      assert.equal(await first.getByTestId("history-details").getAttribute("aria-expanded"), "true");

      // The chart folds away, and stays folded on the next visit.
      await page.getByTestId("chart-card").locator("summary").click();
      await page.getByTestId("nav-activity").click();
      await page.getByTestId("nav-history").click();
      assert.equal(await page.getByTestId("chart-card").evaluate((d) => /** @type {HTMLDetailsElement} */ (d).open), false);
      await page.close();
    });
  }
});
