// Shared pieces of the browser tests: a static server for ui/dist-harness on 127.0.0.1 (port 0),
// Debian's Chromium driven by playwright-core, and small waits that fail with what they saw.
// The harness (harness/main.ts) is the real App with the Tauri IPC mocked; see its header.
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, normalize, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const UI = resolve(here, "../..");
const ROOT = join(UI, "dist-harness");
export const OUT = join(UI, "test-output");
const CHROMIUM = process.env.FERRY_CHROMIUM ?? "/usr/bin/chromium";
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml" };

/** Serves ui/dist-harness on 127.0.0.1 at a free port. */
function serve() {
  if (!existsSync(join(ROOT, "index.html"))) {
    throw new Error(`${ROOT}/index.html is missing: run \`npm run build:harness\` first`);
  }
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const file = normalize(join(ROOT, url.pathname === "/" ? "index.html" : decodeURIComponent(url.pathname)));
    if (!file.startsWith(ROOT) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": TYPES[/** @type {keyof typeof TYPES} */ (extname(file))] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const addr = server.address();
      if (addr === null || typeof addr === "string") return fail(new Error("no port"));
      ok({ url: `http://127.0.0.1:${addr.port}/`, close: () => new Promise((done) => server.close(() => done(undefined))) });
    });
  });
}

/**
 * Starts the static server and Chromium (a fresh profile); `open(scenario)` gives a new page
 * with the app started on that scenario. Call `close()` in `after`.
 */
export async function startBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run \`bash scripts/apt-ensure.sh chromium\``);
  const server = /** @type {{url: string, close: () => Promise<void>}} */ (await serve());
  const profile = mkdtempSync(join(tmpdir(), "ferry-ui-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 800 },
    timezoneId: "UTC",
    locale: "en-US",
  });
  mkdirSync(OUT, { recursive: true });
  /** @type {string[]} */
  const problems = [];
  return {
    /**
     * @param {Record<string, unknown>} scenario the harness scenario (see harness/main.ts)
     * @param {{ colorScheme?: "light" | "dark" }} [opts]
     */
    async open(scenario, opts = {}) {
      const page = await context.newPage();
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console error: ${m.text()}`);
      });
      await page.emulateMedia({ colorScheme: opts.colorScheme ?? "light" });
      await page.addInitScript((s) => {
        // @ts-ignore: the harness reads it
        window.__FERRY_SCENARIO__ = s;
      }, scenario);
      await page.goto(server.url);
      await page.getByTestId("overview-state").waitFor();
      return page;
    },
    /** Errors the pages logged; a test asserts there were none. */
    problems,
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the element's text contains `text` (or matches a RegExp); fails with the text it had.
 * @param {import("playwright-core").Locator} locator
 * @param {string | RegExp} text
 */
export async function waitText(locator, text, timeout = 10_000) {
  const matches = (/** @type {string} */ t) => (typeof text === "string" ? t.includes(text) : text.test(t));
  let last = "";
  const until = Date.now() + timeout;
  for (;;) {
    last = (await locator.first().textContent({ timeout }).catch(() => "")) ?? "";
    if (matches(last)) return last;
    if (Date.now() > until) throw new Error(`expected ${locator} to contain ${text}, it had: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The commands the app sent so far, from the harness.
 * @param {import("playwright-core").Page} page
 * @returns {Promise<{cmd: string, args: any}[]>}
 */
export function calls(page) {
  // @ts-ignore: set by the harness
  return page.evaluate(() => window.__ferry.calls.map((c) => ({ ...c })));
}

/**
 * Waits until the app sent `cmd` (matching `pred`) more than `after` times, returns the matching calls.
 * @param {import("playwright-core").Page} page
 * @param {string} cmd
 * @param {(args: any) => boolean} [pred]
 * @param {{ after?: number, timeout?: number }} [opts]
 */
export async function waitCall(page, cmd, pred = () => true, { after = 0, timeout = 10_000 } = {}) {
  const until = Date.now() + timeout;
  for (;;) {
    const found = (await calls(page)).filter((c) => c.cmd === cmd && pred(c.args));
    if (found.length > after) return found;
    if (Date.now() > until) {
      throw new Error(`the app never sent ${cmd} as expected; it sent: ${JSON.stringify(await calls(page))}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Sends a shell event to the window through the mocked event system.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 * @param {unknown} payload
 */
export function emit(page, name, payload) {
  // @ts-ignore: set by the harness
  return page.evaluate(([n, p]) => window.__ferry.emit(n, p), /** @type {const} */ ([name, payload]));
}

/**
 * Changes the fake shell's scenario in the running page (e.g. to make a command fail).
 * @param {import("playwright-core").Page} page
 * @param {Record<string, unknown>} patch
 */
export function patchScenario(page, patch) {
  // @ts-ignore: set by the harness
  return page.evaluate((p) => Object.assign(window.__ferry.scenario, p), patch);
}

/** @param {import("playwright-core").Page} page @param {string} name */
export function screenshot(page, name) {
  return page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
}

export const SIGNED_IN = {
  accounts: [{ server: "http://127.0.0.1:8080", user: "demo", signedIn: true }],
  overview: { state: "up_to_date", uploading: 0, queued: 0, failed: 0, message: "Up to date" },
};

/** @param {string} path @param {Record<string, unknown>} [over] */
export function folderView(path, over = {}) {
  return {
    path,
    server: "http://127.0.0.1:8080",
    user: "demo",
    remotePrefix: "",
    protocol: null,
    paused: false,
    files: 12,
    uploaded: 9,
    pending: 2,
    uploading: 1,
    failed: 0,
    watcher: "watching",
    warning: null,
    ...over,
  };
}
