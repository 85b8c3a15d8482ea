// Sign-in screen: the live server check, success, and every error in plain words.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { calls, patchScenario, screenshot, startBrowser, waitCall, waitText } from "./helpers.mjs";

const FERRY = { kind: "ferry-server", protocols: ["tus", "galileo"], needsSignIn: true, notes: [] };

/** @type {Awaited<ReturnType<typeof startBrowser>>} */
let browser;
before(async () => {
  browser = await startBrowser();
});
after(async () => {
  await browser?.close();
});

describe("sign in", () => {
  it("starts on sign-in when nobody is signed in, checks the server and shows its protocols and notes", async () => {
    const page = await browser.open({
      probes: {
        "http://127.0.0.1:8080": FERRY,
        "http://127.0.0.1:1080/files/": { kind: "tus", protocols: ["tus"], needsSignIn: false, notes: ["This tus server has no checksum extension."] },
      },
    });
    await page.getByTestId("signin-server").waitFor();
    assert.equal(await page.getByTestId("nav-activity").count(), 0, "no app tabs before signing in");
    await waitText(page.getByTestId("overview-state"), "Signed out");
    // Typed key by key: the check waits until the typing pauses instead of probing every prefix.
    await page.getByTestId("signin-server").pressSequentially("http://127.0.0.1:8080", { delay: 15 });
    await waitText(page.getByTestId("signin-probe-protocols"), "tus (resumable uploads), GalileoSend");
    await waitText(page.getByTestId("signin-probe-kind"), "Ferry server");
    const probes = (await calls(page)).filter((c) => c.cmd === "server_probe").map((c) => c.args.url);
    assert.equal(probes.at(-1), "http://127.0.0.1:8080");
    assert.ok(probes.length <= 3, `21 keys typed, probed only after pauses, not per key: ${JSON.stringify(probes)}`);
    await screenshot(page, "signin");

    await page.getByTestId("signin-server").fill("http://127.0.0.1:1080/files/");
    await waitText(page.getByTestId("signin-probe-note"), "no checksum extension");
    await waitText(page.getByTestId("signin-probe-kind"), "tus server");
    assert.equal(await page.getByTestId("signin-password").count(), 0, "a server without accounts asks for no password");
    await page.close();
  });

  it("says it checks the server only once the check starts, not at every key", async () => {
    const page = await browser.open({ probes: { "http://127.0.0.1:8080": FERRY } });
    await page.getByTestId("signin-server").waitFor();
    // The page's timers stand still until the test moves them.
    await page.clock.install();
    await page.getByTestId("signin-server").fill("http://127.0.0.1:8080");
    assert.equal((await page.getByTestId("signin-probe").innerText()).trim(), "", "nothing said while the typing may go on");
    assert.equal((await calls(page)).filter((c) => c.cmd === "server_probe").length, 0);
    await page.clock.runFor(500);
    await waitText(page.getByTestId("signin-probe-kind"), "Ferry server");
    await page.close();
  });

  it("signs in with a password and lands on Activity", async () => {
    const page = await browser.open({ probes: { "*": FERRY } });
    await page.getByTestId("signin-server").fill("http://127.0.0.1:8080");
    await page.getByTestId("signin-user").fill("demo");
    await page.getByTestId("signin-password").fill("secret");
    await page.getByTestId("signin-submit").click();
    await page.getByTestId("nav-activity").waitFor();
    const [call] = await waitCall(page, "sign_in");
    assert.deepEqual(call.args, { server: "http://127.0.0.1:8080", user: "demo", password: "secret" });
    assert.equal(await page.getByTestId("nav-activity").getAttribute("aria-current"), "page");
    await page.getByTestId("activity-no-folders").waitFor();
    await page.close();
  });

  it("signs in with a token", async () => {
    const page = await browser.open({ probes: { "*": FERRY } });
    await page.getByTestId("signin-server").fill("http://127.0.0.1:8080");
    await page.getByTestId("signin-method-token").check();
    await page.getByTestId("signin-token").fill("tok-123");
    await page.getByTestId("signin-submit").click();
    await page.getByTestId("nav-activity").waitFor();
    const [call] = await waitCall(page, "sign_in");
    assert.deepEqual(call.args, { server: "http://127.0.0.1:8080", token: "tok-123" });
    await page.close();
  });

  const cases = [
    ["wrong_password", "The user name or password is wrong."],
    ["unreachable", "Cannot reach 127.0.0.1:8080. Check the address and your connection."],
    ["certificate", "security certificate is not trusted"],
    ["no_keyring", "Install and unlock a keyring such as GNOME Keyring or KWallet"],
    ["signed_out", "Please sign in again."],
    ["not_a_server", "The shell says: not a server."],
    ["invalid_input", "The shell says: invalid input."],
    ["io", "The shell says: io."],
    ["internal", "The shell says: internal."],
  ];
  for (const [code, text] of cases) {
    it(`says what went wrong for ${code}`, async () => {
      const page = await browser.open({ probes: { "*": FERRY } });
      await patchScenario(page, { errors: { sign_in: { code, message: `The shell says: ${code.replaceAll("_", " ")}.` } } });
      await page.getByTestId("signin-server").fill("http://127.0.0.1:8080");
      await page.getByTestId("signin-user").fill("demo");
      await page.getByTestId("signin-password").fill("wrong");
      await page.getByTestId("signin-submit").click();
      const error = page.getByTestId("signin-error");
      await waitText(error, text);
      assert.equal(await error.getAttribute("data-code"), code);
      assert.equal(await error.getAttribute("role"), "alert");
      if (code === "no_keyring") {
        await waitText(error, "FERRY_TOKEN");
        await screenshot(page, "signin-no-keyring");
      }
      assert.equal(await page.getByTestId("nav-activity").count(), 0, "still signed out");
      await page.close();
    });
  }

  it("shows a failed server check in words", async () => {
    const page = await browser.open({ errors: { server_probe: { code: "certificate", message: "x" } } });
    await page.getByTestId("signin-server").fill("https://self-signed.example");
    await waitText(page.getByTestId("signin-probe-error"), "security certificate is not trusted");
    await page.close();
  });

  it("says to start an address with https:// or http:// and does not check it without", async () => {
    const page = await browser.open({});
    await page.getByTestId("signin-server").fill("files.example.org");
    await waitText(page.getByTestId("signin-scheme-hint"), "https://files.example.org");
    await page.getByTestId("signin-submit").click();
    await waitText(page.getByTestId("signin-error"), "Start the address with https://");
    const sent = (await calls(page)).filter((c) => c.cmd === "server_probe" || c.cmd === "sign_in");
    assert.deepEqual(sent, [], "nothing is sent for an address without a scheme");
    // The error is about what was sent: typing again clears it.
    await page.getByTestId("signin-server").fill("https://files.example.org");
    await page.getByTestId("signin-error").waitFor({ state: "detached" });
    assert.equal(await page.getByTestId("signin-scheme-hint").count(), 0);
    await page.close();
  });

  it("asks for an address before sending anything", async () => {
    const page = await browser.open({});
    await page.getByTestId("signin-submit").click();
    await waitText(page.getByTestId("signin-error"), "Type the address of your server.");
    assert.equal((await calls(page)).filter((c) => c.cmd === "sign_in").length, 0);
    await page.close();
  });

  it("logged no page errors", () => {
    assert.deepEqual(browser.problems, []);
  });
});
