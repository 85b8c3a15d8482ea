// Typed wrappers for every command of docs/desktop.md. Each one rejects with a `FerryError`
// (see errors.ts), never with whatever the IPC layer happened to throw.
import { invoke } from "@tauri-apps/api/core";
import { toFerryError } from "./errors";
import type {
  Account,
  Activity,
  DayTotal,
  FolderView,
  HistoryPage,
  HistoryQuery,
  Overview,
  Protocol,
  ServerProbe,
  Settings,
} from "./types";

async function call<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toFerryError(e);
  }
}

export interface SignInArgs {
  server: string;
  user?: string;
  password?: string;
  token?: string;
  /** The certificate fingerprint the person chose to trust for this server. */
  trustFingerprint?: string;
}

export interface FolderAddArgs {
  path: string;
  server: string;
  user: string;
  remotePrefix?: string;
  protocol?: Protocol;
}

export const api = {
  serverProbe: (url: string, trustFingerprint?: string) =>
    call<ServerProbe>("server_probe", { url, trustFingerprint }),
  signIn: (args: SignInArgs) => call<Account>("sign_in", { ...args }),
  signOut: (server: string, user: string) => call<null>("sign_out", { server, user }),
  accounts: () => call<Account[]>("accounts"),
  folders: () => call<FolderView[]>("folders"),
  folderAdd: (args: FolderAddArgs) => call<FolderView>("folder_add", { ...args }),
  folderRemove: (path: string) => call<null>("folder_remove", { path }),
  folderPause: (path: string, paused: boolean) => call<FolderView>("folder_pause", { path, paused }),
  folderIgnoreGet: (path: string) => call<string>("folder_ignore_get", { path }),
  folderIgnoreSet: (path: string, rules: string) => call<null>("folder_ignore_set", { path, rules }),
  activity: () => call<Activity>("activity"),
  pauseAll: () => call<null>("pause_all"),
  resumeAll: () => call<null>("resume_all"),
  retry: (path?: string) => call<null>("retry", path === undefined ? {} : { path }),
  history: (query: HistoryQuery) => call<HistoryPage>("history", { query }),
  historyPerDay: (days: number) => call<DayTotal[]>("history_per_day", { days }),
  settings: () => call<Settings>("settings"),
  settingsSet: (settings: Settings) => call<Settings>("settings_set", { settings }),
  overview: () => call<Overview>("overview"),
};
