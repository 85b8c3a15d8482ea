// The real desktop app, driven through tauri-driver + WebKitWebDriver (DESIGN section 5).
//
// Usage: node tests/desktop/app.mjs APP_BINARY TAURI_DRIVER OUT_DIR
// Run it through scripts/e2e-desktop.sh, which provides Xvfb, a private D-Bus session with an
// unlocked GNOME Keyring, and scratch HOME, XDG_RUNTIME_DIR and FERRY_HOME.
//
// Start tauri-driver, open a session on the app, check the window's title, call two commands
// through the window's IPC (a result and a `{code, message}` error), then the full flow
// against a real ferry-server (see `fullFlow`), and end the session. Every step that fails
// stops the run with its name and the driver's answer; nothing is skipped silently.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [app, driverBinary, outDir] = process.argv.slice(2);
if (!app || !driverBinary || !outDir) {
  console.error("usage: app.mjs APP_BINARY TAURI_DRIVER OUT_DIR");
  process.exit(2);
}
const DRIVER = "http://127.0.0.1:4444";
const STARTUP_LIMIT_MS = 30_000;

/** Steps that passed and failed, for the cargo-style summary line `make test` adds up. */
const counts = { passed: 0, failed: 0 };

/** Runs `what`, naming the step if it throws. */
async function step(name, what) {
  process.stderr.write(`e2e: ${name}\n`);
  try {
    const value = await what();
    counts.passed += 1;
    return value;
  } catch (err) {
    counts.failed += 1;
    throw new Error(`step "${name}" failed: ${err.message}`, { cause: err });
  }
}

/** One WebDriver call; throws with the driver's answer on any error. */
async function wd(method, path, body) {
  const reply = await fetch(DRIVER + path, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path}: ${reply.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (!reply.ok || (json.value && json.value.error)) {
    throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(json).slice(0, 1000)}`);
  }
  return json.value;
}

async function waitForDriver(driver) {
  const started = Date.now();
  let last = "no answer yet";
  while (Date.now() - started < STARTUP_LIMIT_MS) {
    if (driver.exitCode !== null) {
      throw new Error(`tauri-driver exited with status ${driver.exitCode}`);
    }
    try {
      const reply = await fetch(`${DRIVER}/status`);
      if (reply.ok) return;
      last = `status ${reply.status}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${DRIVER}/status did not answer within ${STARTUP_LIMIT_MS} ms (${last})`);
}

/** Calls a Tauri command from inside the window; `{ok}` or `{err}` as the window sees it. */
async function invoke(session, command, args = {}) {
  return wd("POST", `/session/${session}/execute/async`, {
    script: `const done = arguments[arguments.length - 1];
      window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]).then(
        (ok) => done({ ok }), (err) => done({ err }));`,
    args: [command, args],
  });
}

async function screenshot(session, name) {
  const png = await wd("GET", `/session/${session}/screenshot`);
  const file = join(outDir, `${name}.png`);
  writeFileSync(file, Buffer.from(png, "base64"));
  process.stderr.write(`e2e: screenshot ${file}\n`);
  return file;
}

const SERVER = process.env.FERRY_E2E_SERVER;
const PASSWORD = process.env.FERRY_E2E_PASSWORD;
const FOLDER = process.env.FERRY_E2E_FOLDER;
const SERVER_FILES = process.env.FERRY_E2E_SERVER_FILES;
const FINGERPRINT = process.env.FERRY_E2E_FINGERPRINT;

/** The element matching `css`, or null. */
async function find(session, css) {
  try {
    const el = await wd("POST", `/session/${session}/element`, { using: "css selector", value: css });
    return Object.values(el)[0];
  } catch {
    return null;
  }
}

/** Waits (at most `ms`) for `css` to exist and `ok(element)` to hold; returns the element. */
async function waitFor(session, css, ms = 20_000, ok = async () => true) {
  const started = Date.now();
  while (Date.now() - started < ms) {
    const el = await find(session, css);
    if (el && (await ok(el))) return el;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${css} did not appear (or not as expected) within ${ms} ms`);
}

const text = (session, el) => wd("GET", `/session/${session}/element/${el}/text`);
const attr = (session, el, name) => wd("GET", `/session/${session}/element/${el}/attribute/${name}`);
const click = (session, el) => wd("POST", `/session/${session}/element/${el}/click`, {});
async function type(session, css, value) {
  const el = await waitFor(session, css);
  await wd("POST", `/session/${session}/element/${el}/clear`, {});
  await wd("POST", `/session/${session}/element/${el}/value`, { text: value });
}
const testid = (id, extra = "") => `[data-testid="${id}"]${extra}`;

/**
 * The full flow against a real ferry-server on 127.0.0.1 (started by the wrapper, on HTTPS
 * with a self-signed certificate): see its fingerprint and trust it, sign in
 * with a password (the token goes to the real Secret Service), limit the speed in Settings so
 * progress can be watched, add a folder, drop a file into it, see it climb in Activity and
 * reach 100%, find it in History as uploaded, and byte-identical on the server. Screenshots
 * of every screen go to OUT_DIR. Then ferry-server is killed mid-upload and restarted
 * (`serverGoesAway`), and an upload is paused and resumed (`pauseAll`).
 */
async function fullFlow(session) {
  if (!SERVER || !PASSWORD || !FOLDER || !SERVER_FILES || !FINGERPRINT) {
    throw new Error("the wrapper must set FERRY_E2E_SERVER, FERRY_E2E_PASSWORD, FERRY_E2E_FOLDER, FERRY_E2E_SERVER_FILES and FERRY_E2E_FINGERPRINT");
  }
  await step("see the self-signed certificate's fingerprint and subject, and trust it", async () => {
    await type(session, testid("signin-server"), SERVER);
    const shown = await waitFor(session, testid("signin-untrusted-fingerprint"));
    const fingerprint = await text(session, shown);
    if (fingerprint !== FINGERPRINT) {
      throw new Error(`the window shows fingerprint ${fingerprint}, the server's certificate has ${FINGERPRINT}`);
    }
    const subject = await text(session, await find(session, testid("signin-untrusted-subject")));
    if (!subject.includes("ferry e2e server")) throw new Error(`the subject shown is ${JSON.stringify(subject)}`);
    if (await find(session, testid("signin-probe-kind"))) throw new Error("an untrusted server was probed as if trusted");
    const trust = await waitFor(session, testid("signin-trust"));
    await screenshot(session, "signin-certificate");
    await click(session, trust);
    await waitFor(session, testid("signin-trusted"), 20_000, async (el) => (await text(session, el)).includes(FINGERPRINT));
  });
  await step("sign in with a password", async () => {
    await waitFor(session, testid("signin-probe-kind"));
    await type(session, testid("signin-user"), "ann");
    await type(session, testid("signin-password"), PASSWORD);
    await screenshot(session, "signin");
    await click(session, await waitFor(session, testid("signin-submit")));
    await waitFor(session, testid("nav-activity"), 30_000);
  });
  await step("limit the upload speed in Settings", async () => {
    await click(session, await waitFor(session, testid("nav-settings")));
    const limited = await waitFor(session, testid("settings-rate-limited"));
    if ((await attr(session, limited, "checked")) === null) await click(session, limited);
    await type(session, testid("settings-rate"), "4");
    await click(session, await waitFor(session, testid("settings-save")));
    await waitFor(session, testid("settings-saved"));
    await screenshot(session, "settings");
  });
  await step("set a bandwidth schedule and the pause on metered connections in Settings", async () => {
    // Every day at 4 MB/s (as the limit just set, so the flow below is the same), as a row.
    await click(session, await waitFor(session, testid("schedule-add")));
    const rule = testid("schedule-rule");
    await click(session, await waitFor(session, `${rule} ${testid("schedule-days")} option[value="daily"]`));
    await type(session, `${rule} ${testid("schedule-from")}`, "00:00");
    await type(session, `${rule} ${testid("schedule-to")}`, "24:00");
    await type(session, `${rule} ${testid("schedule-rate")}`, "4");
    await waitFor(session, `${rule} ${testid("schedule-rule-text")}`, 10_000, async (el) =>
      (await text(session, el)) === "Every day 00:00–24:00: at most 4 MB/s",
    );
    const metered = await waitFor(session, testid("settings-pause-metered"));
    if ((await attr(session, metered, "checked")) === null) await click(session, metered);
    await click(session, await waitFor(session, testid("settings-save")));
    await waitFor(session, testid("settings-saved"));
    await screenshot(session, "settings-schedule");
    const reply = await invoke(session, "settings");
    const rules = reply.ok?.schedule ?? [];
    const [first] = rules;
    const same = rules.length === 1 && first.days === "daily" && first.from === "00:00" && first.to === "24:00" && first.limit === 4_000_000;
    if (!same || reply.ok?.pauseOnMetered !== true) {
      throw new Error(`the shell saved ${JSON.stringify(reply)}, not every day at 4 MB/s with the metered pause`);
    }
  });
  await step("add the folder", async () => {
    await click(session, await waitFor(session, testid("nav-folders")));
    await type(session, testid("add-folder-path"), FOLDER);
    await type(session, testid("add-folder-prefix"), "e2e");
    await click(session, await waitFor(session, testid("add-folder-submit")));
    await waitFor(session, testid("add-folder-added"));
    await waitFor(session, testid("folder-row", `[data-path="${FOLDER}"]`));
    await new Promise((r) => setTimeout(r, 1000)); // let the list settle for the screenshot
    await screenshot(session, "folders");
  });
  const name = "dropped.bin";
  // Larger than one 8 MiB request, so the server confirms it in steps the queue can show.
  const bytes = Buffer.alloc(20 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + (i >> 13)) & 0xff;
  await step("drop a file into the folder and watch it go up", async () => {
    await click(session, await waitFor(session, testid("nav-activity")));
    writeFileSync(join(FOLDER, name), bytes);
    const row = testid("queue-row", `[data-path="${join(FOLDER, name)}"]`);
    let best = -1;
    let shot = false;
    const started = Date.now();
    // Until the row is gone after it was seen climbing: progress, then finished.
    while (Date.now() - started < 60_000) {
      const el = await find(session, row);
      if (!el) {
        if (best >= 0) break;
      } else {
        const percent = await find(session, `${row} ${testid("queue-percent")}`);
        const value = percent ? parseInt(await text(session, percent), 10) : NaN;
        if (!Number.isNaN(value)) best = Math.max(best, value);
        if (!shot && value > 0 && value < 100) {
          await screenshot(session, "activity");
          shot = true;
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (best <= 0) throw new Error(`the file never showed progress in Activity (best ${best}%)`);
    process.stderr.write(`e2e: the queue row climbed to ${best}% before the upload finished\n`);
    await waitFor(session, testid("overview-state"), 30_000, async (el) => (await attr(session, el, "data-state")) === "up_to_date");
  });
  await step("find it in History as uploaded", async () => {
    await click(session, await waitFor(session, testid("nav-history")));
    const row = await waitFor(session, testid("history-row"), 20_000, async (el) => {
      const file = await find(session, `${testid("history-row")} ${testid("history-file")}`);
      return file !== null && (await text(session, file)).includes(name);
    });
    const outcome = await find(session, `${testid("history-row")} ${testid("history-outcome-cell")}`);
    const said = (await text(session, outcome)).toLowerCase();
    if (!said.includes("uploaded")) throw new Error(`the history says "${said}", not uploaded`);
    await screenshot(session, "history");
    return row;
  });
  await step("check the file on the server, byte for byte", async () => {
    const stored = readFileSync(join(SERVER_FILES, "ann", "e2e", name));
    if (!stored.equals(bytes)) throw new Error(`the server holds ${stored.length} bytes that differ from the ${bytes.length} sent`);
  });
  await serverGoesAway(session);
  await pauseAll(session);
}

/** Bytes of a test file: `mib` MiB, patterned by `seed`. */
function patterned(mib, seed) {
  const bytes = Buffer.alloc(mib * 1024 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * seed + (i >> 11)) & 0xff;
  return bytes;
}

/** Waits until the queue row of `path` shows progress above 0% while uploading. */
async function uploading(session, path) {
  const row = testid("queue-row", `[data-path="${path}"]`);
  await waitFor(session, row, 30_000, async (el) => {
    if ((await attr(session, el, "data-state")) !== "uploading") return false;
    const percent = await find(session, `${row} ${testid("queue-percent")}`);
    return percent !== null && parseInt(await text(session, percent), 10) > 0;
  });
  return row;
}

/** Waits until everything is uploaded (the header says so). */
const upToDate = async (session, ms = 90_000) =>
  waitFor(session, testid("overview-state"), ms, async (el) => (await attr(session, el, "data-state")) === "up_to_date");

/**
 * ferry-server killed mid-upload: one banner within 2 s and a header that no longer says
 * "Uploading"; restarted on the same port and data: the banner goes, the upload resumes by
 * itself, and the file is byte-identical on the server.
 */
async function serverGoesAway(session) {
  const pid = Number(process.env.FERRY_E2E_SERVER_PID);
  const bin = process.env.FERRY_E2E_SERVER_BIN;
  const data = process.env.FERRY_E2E_SERVER_DATA;
  if (!pid || !bin || !data || !process.env.FERRY_E2E_TLS_CERT || !process.env.FERRY_E2E_TLS_KEY) {
    throw new Error("the wrapper must set FERRY_E2E_SERVER_PID, _BIN, _DATA, FERRY_E2E_TLS_CERT and FERRY_E2E_TLS_KEY");
  }
  const name = "interrupted.bin";
  const bytes = patterned(40, 104729);
  const path = join(FOLDER, name);
  await step("kill ferry-server mid-upload: the banner appears within 2 s, the header stops saying Uploading", async () => {
    await click(session, await waitFor(session, testid("nav-activity")));
    writeFileSync(path, bytes);
    await uploading(session, path);
    process.kill(pid, "SIGKILL");
    const killed = Date.now();
    await waitFor(session, testid("connection-banner"), 2_000).catch(async (err) => {
      const header = await find(session, testid("overview-state"));
      const row = await find(session, testid("queue-row", `[data-path="${path}"]`));
      await screenshot(session, "connection-missing");
      throw new Error(`${err.message}; the header says ${JSON.stringify(header && (await text(session, header)))}, the row ${JSON.stringify(row && (await text(session, row)))}`);
    });
    process.stderr.write(`e2e: the banner appeared ${Date.now() - killed} ms after the server was killed\n`);
    const header = await waitFor(session, testid("overview-state"), 5_000, async (el) => (await attr(session, el, "data-state")) !== "uploading");
    const said = await text(session, header);
    if (said.includes("Uploading")) throw new Error(`the header still says ${JSON.stringify(said)}`);
    const row = testid("queue-row", `[data-path="${path}"]`);
    const state = await text(session, await waitFor(session, `${row} ${testid("queue-state")}`));
    if (!/waiting for the server|retrying/i.test(state)) throw new Error(`the row says ${JSON.stringify(state)}`);
    await screenshot(session, "connection-unreachable");
  });
  await step("restart ferry-server: the banner goes, the upload resumes by itself, the file is byte-identical", async () => {
    const listen = new URL(SERVER).host;
    const restarted = spawn(
      bin,
      ["serve", "--listen", listen, "--data", data, "--tls-cert", process.env.FERRY_E2E_TLS_CERT, "--tls-key", process.env.FERRY_E2E_TLS_KEY],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    cleanups.push(() => restarted.kill("SIGKILL"));
    const gone = Date.now() + 60_000;
    while ((await find(session, testid("connection-banner"))) !== null) {
      if (Date.now() > gone) throw new Error("the banner stayed for 60 s after the server came back");
      await new Promise((r) => setTimeout(r, 200));
    }
    await upToDate(session);
    const stored = readFileSync(join(SERVER_FILES, "ann", "e2e", name));
    if (!stored.equals(bytes)) throw new Error(`the server holds ${stored.length} bytes that differ from the ${bytes.length} sent`);
  });
}

/** Pause all mid-upload: the header and the row say paused; Resume all finishes it. */
async function pauseAll(session) {
  const path = join(FOLDER, "paused.bin");
  const bytes = patterned(24, 7907);
  await step("Pause all mid-upload: the header and the row say Paused", async () => {
    writeFileSync(path, bytes);
    const row = await uploading(session, path);
    await click(session, await waitFor(session, testid("queue-pause-all")));
    await waitFor(session, testid("overview-state"), 10_000, async (el) => (await attr(session, el, "data-state")) === "paused");
    await waitFor(session, `${row} ${testid("queue-state")}`, 10_000, async (el) => (await text(session, el)) === "Paused");
    if (await find(session, `${row} ${testid("queue-speed")}`)) throw new Error("a paused row shows a speed");
    await screenshot(session, "paused");
    await click(session, await waitFor(session, testid("queue-pause-all")));
    await upToDate(session);
    const stored = readFileSync(join(SERVER_FILES, "ann", "e2e", "paused.bin"));
    if (!stored.equals(bytes)) throw new Error("the paused and resumed file differs on the server");
  });
}

/** What to stop when the run ends (a ferry-server this script started). */
const cleanups = [];

mkdirSync(outDir, { recursive: true });
const driver = spawn(driverBinary, [], { stdio: ["ignore", "inherit", "inherit"] });
let session;
try {
  await step("wait for tauri-driver", () => waitForDriver(driver));
  session = await step("open a session on the app", async () => {
    const value = await wd("POST", "/session", {
      capabilities: {
        alwaysMatch: { browserName: "wry", "tauri:options": { application: app } },
      },
    });
    return value.sessionId;
  });
  await step("check the window's title", async () => {
    const title = await wd("GET", `/session/${session}/title`);
    if (title !== "Ferry") throw new Error(`the title is ${JSON.stringify(title)}, not "Ferry"`);
  });
  await step("read the settings through a command", async () => {
    const reply = await invoke(session, "settings");
    if (reply.ok?.concurrency !== 4 || reply.ok?.notifyFailures !== true) {
      throw new Error(`expected the default settings, got ${JSON.stringify(reply)}`);
    }
  });
  await step("get a {code, message} error from a command", async () => {
    const reply = await invoke(session, "folder_remove", { path: "/not/a/synced/folder" });
    if (reply.err?.code !== "not_found" || typeof reply.err?.message !== "string") {
      throw new Error(`expected a not_found error, got ${JSON.stringify(reply)}`);
    }
  });
  await step("the window cannot open another window or webview (not in its capability)", async () => {
    const tries = [
      ["plugin:window|create", { options: { label: "second", url: "index.html" } }],
      ["plugin:webview|create_webview_window", { options: { label: "second", url: "index.html" } }],
    ];
    for (const [command, args] of tries) {
      const reply = await invoke(session, command, args);
      if (reply.ok !== undefined || !/not allowed/i.test(String(reply.err))) {
        throw new Error(`${command} should be refused as not allowed, got ${JSON.stringify(reply)}`);
      }
    }
    const handles = await wd("GET", `/session/${session}/window/handles`);
    if (handles.length !== 1) throw new Error(`expected the one main window, got ${JSON.stringify(handles)}`);
  });
  await step("full flow", () => fullFlow(session));
  await step("end the session", async () => {
    await wd("DELETE", `/session/${session}`);
    session = undefined;
  });
  process.stderr.write("e2e: OK\n");
} catch (err) {
  console.error(`e2e: FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  for (const stop of cleanups) stop();
  driver.kill("SIGTERM");
  // Counted by scripts/test-summary.sh with cargo's own lines (one per step of the flow).
  const verdict = counts.failed === 0 && process.exitCode !== 1 ? "ok" : "FAILED";
  console.log(`test result: ${verdict}. ${counts.passed} passed; ${counts.failed} failed; 0 ignored; 0 measured; 0 filtered out (real app, end to end)`);
}
