// The dark theme follows the system, and the whole window works from the keyboard alone:
// tabs with Tab/Enter and the arrow keys, visible focus, forms without a mouse.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { folderView, SIGNED_IN, screenshot, startBrowser, waitCall, waitText } from "./helpers.mjs";

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

/** @param {import("playwright-core").Page} page */
const bodyColours = (page) =>
  page.evaluate(() => {
    const s = getComputedStyle(document.body);
    return { bg: s.backgroundColor, fg: s.color };
  });

/** @param {import("playwright-core").Page} page */
const focused = (page) => page.evaluate(() => document.activeElement?.getAttribute("data-testid") ?? document.activeElement?.tagName);

describe("theme and keyboard", () => {
  it("follows the system's dark preference", async () => {
    const light = await browser.open({ ...SIGNED_IN, folders: [folderView("/home/demo/Pictures")] });
    const dark = await browser.open({ ...SIGNED_IN, folders: [folderView("/home/demo/Pictures")], historyTotal: 500 }, { colorScheme: "dark" });
    const l = await bodyColours(light);
    const d = await bodyColours(dark);
    assert.equal(l.bg, "rgb(247, 247, 248)");
    assert.equal(d.bg, "rgb(22, 24, 28)");
    assert.equal(d.fg, "rgb(232, 234, 238)");
    await screenshot(dark, "activity-dark");
    await dark.getByTestId("nav-folders").click();
    await dark.getByTestId("folder-row").waitFor();
    await screenshot(dark, "folders-dark");
    await dark.getByTestId("nav-history").click();
    await dark.getByTestId("chart").waitFor();
    await screenshot(dark, "history-dark");
    await light.close();
    await dark.close();
  });

  it("moves through the tabs with the keyboard only", async () => {
    const page = await browser.open({ ...SIGNED_IN });
    await page.getByTestId("queue-empty").waitFor();
    // Tab from the top of the page: the skip link, then the tabs.
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "nav-activity");
    const outline = await page.evaluate(() => getComputedStyle(/** @type {Element} */ (document.activeElement)).outlineStyle);
    assert.equal(outline, "solid", "focus is visible");
    await page.keyboard.press("Tab");
    assert.equal(await focused(page), "nav-folders");
    await page.keyboard.press("Enter");
    await page.getByTestId("add-folder-path").waitFor();
    assert.equal(await page.getByTestId("nav-folders").getAttribute("aria-current"), "page");
    await page.keyboard.press("ArrowRight");
    assert.equal(await focused(page), "nav-history");
    await page.getByTestId("history-search").waitFor();
    await page.keyboard.press("End");
    assert.equal(await focused(page), "nav-settings");
    await page.getByTestId("settings-concurrency").waitFor();
    await page.keyboard.press("ArrowRight");
    assert.equal(await focused(page), "nav-activity", "the arrows wrap around");
    await page.getByTestId("queue").waitFor();
    await page.keyboard.press("ArrowLeft");
    assert.equal(await focused(page), "nav-settings");
    await page.keyboard.press("Home");
    assert.equal(await focused(page), "nav-activity");
    await page.close();
  });

  it("adds a folder without a mouse", async () => {
    const page = await browser.open({ ...SIGNED_IN });
    await page.getByTestId("nav-folders").focus();
    await page.keyboard.press("Enter");
    await page.getByTestId("add-folder-path").focus();
    await page.keyboard.type("/home/demo/Music");
    await page.keyboard.press("Enter");
    await waitText(page.getByTestId("folder-path"), "/home/demo/Music");
    await waitCall(page, "folder_add", (a) => a.path === "/home/demo/Music");
    await page.close();
  });

  it("labels every input", async () => {
    const page = await browser.open({ ...SIGNED_IN, folders: [folderView("/home/demo/Pictures")], historyTotal: 10 });
    /** @type {string[]} */
    const unlabeled = [];
    for (const [tab, shown] of [
      ["nav-folders", "folder-row"],
      ["nav-history", "history-row"],
      ["nav-settings", "settings-concurrency"],
    ]) {
      await page.getByTestId(tab).click();
      await page.getByTestId(shown).first().waitFor();
      unlabeled.push(
        ...(await page.evaluate(() =>
          [...document.querySelectorAll("input, select, textarea")]
            .filter((el) => !(/** @type {HTMLInputElement} */ (el).labels?.length) && !el.getAttribute("aria-label"))
            .map((el) => el.outerHTML),
        )),
      );
    }
    assert.deepEqual(unlabeled, []);
    await page.close();
  });

  it("logged no page errors", () => {
    assert.deepEqual(browser.problems, []);
  });
});
