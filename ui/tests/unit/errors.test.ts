import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeError, ERROR_CODES, isErrorCode, serverName, toFerryError, type ErrorCode } from "../../src/lib/errors";

describe("error codes", () => {
  it("are exactly the codes of docs/desktop.md's table", () => {
    const doc = readFileSync(new URL("../../../docs/desktop.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## Errors"), doc.indexOf("## Commands"));
    const codes = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThan(5);
    expect([...ERROR_CODES].sort()).toEqual([...codes].sort());
  });
  it("recognises only those codes", () => {
    expect(isErrorCode("no_keyring")).toBe(true);
    expect(isErrorCode("NoKeyring")).toBe(false);
    expect(isErrorCode(3)).toBe(false);
  });
});

describe("toFerryError", () => {
  it("keeps the refused certificate a certificate error carries, for the window to show", () => {
    const certificate = { fingerprint: "AB:CD", subject: "CN=files", trusted: null };
    expect(toFerryError({ code: "certificate", message: "Not trusted.", certificate })).toEqual({
      code: "certificate",
      message: "Not trusted.",
      certificate,
    });
    expect(toFerryError({ code: "certificate", message: "m", certificate: { fingerprint: 1 } })).toEqual({
      code: "certificate",
      message: "m",
    });
  });

  it("keeps an error from the shell as it is", () => {
    expect(toFerryError({ code: "unreachable", message: "Cannot reach x." })).toEqual({
      code: "unreachable",
      message: "Cannot reach x.",
    });
  });
  it("turns an unknown code into internal, keeping the message", () => {
    expect(toFerryError({ code: "boom", message: "It broke." })).toEqual({ code: "internal", message: "It broke." });
  });
  it("turns a plain string (Tauri's own errors) into internal", () => {
    expect(toFerryError("command foo not found")).toEqual({ code: "internal", message: "command foo not found" });
  });
  it("turns an Error into internal with its message", () => {
    expect(toFerryError(new Error("bad"))).toEqual({ code: "internal", message: "bad" });
  });
  it.each([undefined, null, 42, "", {}])("turns %s into internal with a readable message", (value) => {
    const e = toFerryError(value);
    expect(e.code).toBe("internal");
    expect(e.message.length).toBeGreaterThan(10);
  });
  it("gives a missing message as empty, so describeError falls back", () => {
    expect(toFerryError({ code: "io" })).toEqual({ code: "io", message: "" });
  });
});

describe("describeError", () => {
  const say = (code: ErrorCode, message = "from the shell", server?: string) => describeError({ code, message }, server);

  it("has fixed words for wrong passwords", () => expect(say("wrong_password")).toBe("The user name or password is wrong."));
  it("names the server that cannot be reached", () =>
    expect(say("unreachable", "x", "https://files.example.org:8443/base")).toBe(
      "Cannot reach files.example.org:8443. Check the address and your connection.",
    ));
  it("names the keyring fix", () => {
    const text = say("no_keyring");
    expect(text).toContain("GNOME Keyring");
    expect(text).toContain("KWallet");
    expect(text).toContain("FERRY_TOKEN");
  });
  it("explains certificates", () => expect(say("certificate")).toMatch(/certificate is not trusted/));
  it("asks to sign in again when signed out", () => expect(say("signed_out")).toMatch(/sign in again/));
  it.each(["not_a_server", "not_found", "already_exists", "invalid_input", "io", "internal"] as const)(
    "shows the shell's message for %s",
    (code) => expect(say(code, "The shell's sentence.")).toBe("The shell's sentence."),
  );
  it.each(ERROR_CODES)("never says nothing for %s", (code) => expect(say(code, "").length).toBeGreaterThan(10));
  it("keeps a server name it cannot parse", () => expect(serverName("not a url")).toBe("not a url"));
});
