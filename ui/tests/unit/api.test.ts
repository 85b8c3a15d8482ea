// The command wrappers against Tauri's own IPC mock: the right command names and argument
// shapes (docs/desktop.md), and rejections turned into { code, message }.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { api } from "../../src/lib/api";
import type { Settings } from "../../src/lib/types";

const SETTINGS: Settings = {
  concurrency: 2,
  rateLimit: null,
  quietPeriodMs: 2000,
  autostart: false,
  notifyFailures: true,
  notifyFinished: false,
  schedule: [{ days: "mon-fri", from: "09:00", to: "18:00", limit: 1_000_000 }],
  pauseOnMetered: true,
  pauseOnBatteryBelow: 20,
};

beforeAll(() => {
  // mockIPC installs itself on `window`; node has none, so the global object stands in.
  (globalThis as unknown as { window: unknown }).window = globalThis;
});
afterEach(() => clearMocks());

function record(): { cmd: string; args: unknown }[] {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC((cmd, args) => {
    calls.push({ cmd, args });
    return null;
  });
  return calls;
}

describe("commands", () => {
  it.each([
    [() => api.serverProbe("https://s"), "server_probe", { url: "https://s" }],
    [() => api.signIn({ server: "https://s", user: "u", password: "p" }), "sign_in", { server: "https://s", user: "u", password: "p" }],
    [() => api.signOut("https://s", "u"), "sign_out", { server: "https://s", user: "u" }],
    [() => api.folderAdd({ path: "/p", server: "https://s", user: "u", remotePrefix: "x", protocol: "tus" }), "folder_add",
      { path: "/p", server: "https://s", user: "u", remotePrefix: "x", protocol: "tus" }],
    [() => api.folderRemove("/p"), "folder_remove", { path: "/p" }],
    [() => api.folderPause("/p", true), "folder_pause", { path: "/p", paused: true }],
    [() => api.folderIgnoreGet("/p"), "folder_ignore_get", { path: "/p" }],
    [() => api.folderIgnoreSet("/p", "*.tmp\n"), "folder_ignore_set", { path: "/p", rules: "*.tmp\n" }],
    [() => api.retry("/p/a"), "retry", { path: "/p/a" }],
    [() => api.retry(), "retry", {}],
    [() => api.history({ offset: 50, limit: 50, search: "cat" }), "history", { query: { offset: 50, limit: 50, search: "cat" } }],
    [() => api.historyPerDay(30), "history_per_day", { days: 30 }],
    [() => api.settingsSet(SETTINGS), "settings_set", { settings: SETTINGS }],
  ] as const)("%#: sends %s with camelCase arguments", async (f, cmd, args) => {
    const calls = record();
    await f();
    expect(calls).toHaveLength(1);
    expect(calls[0].cmd).toBe(cmd);
    expect(calls[0].args).toEqual(args);
  });

  it.each([
    [() => api.accounts(), "accounts"],
    [() => api.folders(), "folders"],
    [() => api.activity(), "activity"],
    [() => api.pauseAll(), "pause_all"],
    [() => api.resumeAll(), "resume_all"],
    [() => api.settings(), "settings"],
    [() => api.overview(), "overview"],
  ] as const)("%#: sends %s", async (f, cmd) => {
    const calls = record();
    await f();
    expect(calls.map((c) => c.cmd)).toEqual([cmd]);
  });
});

describe("rejections", () => {
  it("pass the shell's { code, message } through", async () => {
    mockIPC(() => {
      throw { code: "no_keyring", message: "No keyring." };
    });
    await expect(api.signIn({ server: "https://s", token: "t" })).rejects.toEqual({ code: "no_keyring", message: "No keyring." });
  });
  it("turn anything else into internal", async () => {
    mockIPC(() => {
      throw "command sign_in not found";
    });
    await expect(api.accounts()).rejects.toEqual({ code: "internal", message: "command sign_in not found" });
  });
});
