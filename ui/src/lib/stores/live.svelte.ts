// The window's live state in Svelte 5 runes, fed by `ferry://engine`, `ferry://overview` and
// `ferry://folders`, and re-read from the shell on start, on focus and after uploads finish.
// The logic is in the pure reducers next to this file; this module only holds their results
// and does the IPC.
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import { api } from "../api";
import { toFerryError, type FerryError } from "../errors";
import type { Account, EngineEvent, FolderSync, FolderView, Overview } from "../types";
import { ENGINE_EVENT, FOLDERS_EVENT, OVERVIEW_EVENT } from "../types";
import { applyEngineEvent, emptyActivity, fromSnapshot, type ActivityState } from "./activity";
import { applyFolderEvent, applyFolderStates, changesCounts } from "./folders";
import { SIGNED_OUT } from "./overview";

class Live {
  activity = $state<ActivityState>(emptyActivity());
  folders = $state<FolderView[]>([]);
  foldersLoaded = $state(false);
  overview = $state<Overview>(SIGNED_OUT);
  accounts = $state<Account[]>([]);
  /** Goes up after every finished upload, so the history can re-read its page. */
  historyVersion = $state(0);
  /** A problem reading the state from the shell, shown in the header. */
  error = $state<FerryError | null>(null);

  /** The account the window works with: the first one signed in. */
  get account(): Account | null {
    return this.accounts.find((a) => a.signedIn) ?? null;
  }

  async refreshAccounts(): Promise<void> {
    this.accounts = await api.accounts();
  }

  async refreshActivity(): Promise<void> {
    const snapshot = await api.activity();
    this.activity = fromSnapshot(snapshot);
  }

  async refreshFolders(): Promise<void> {
    this.folders = await api.folders();
    this.foldersLoaded = true;
  }

  async refreshOverview(): Promise<void> {
    this.overview = await api.overview();
  }

  /** Re-reads everything; a failure is kept in `error` rather than thrown. */
  async refreshAll(): Promise<void> {
    try {
      await this.refreshAccounts();
      await Promise.all([this.refreshActivity(), this.refreshFolders(), this.refreshOverview()]);
      this.error = null;
    } catch (e) {
      this.error = toFerryError(e);
    }
  }

  handleEngine(ev: EngineEvent, now: number): void {
    this.activity = applyEngineEvent(this.activity, ev, now);
    // The engine's own view is the truth (the same `ferry status` shows): the reducer above
    // answers at once, the snapshot a moment later settles it.
    this.scheduleActivityRefresh();
    this.folders = applyFolderEvent(this.folders, ev);
    if (ev.event === "finished") this.historyVersion += 1;
    if (changesCounts(ev)) this.scheduleFolderRefresh();
  }

  handleOverview(o: Overview): void {
    const wasSignedOut = this.overview.state === "signed_out";
    this.overview = o;
    this.scheduleActivityRefresh();
    // Signed out from elsewhere (token revoked, sign-in expired): the account list changed.
    if (o.state === "signed_out" && !wasSignedOut) {
      this.refreshAccounts().catch((e: unknown) => {
        this.error = toFerryError(e);
      });
    }
  }

  /** The running engine's folder states: watched, missing, back, warned about. */
  handleFolderStates(states: FolderSync[]): void {
    const { folders, unknown } = applyFolderStates(this.folders, states);
    this.folders = folders;
    if (unknown) this.scheduleFolderRefresh();
  }

  private folderTimer: ReturnType<typeof setTimeout> | null = null;
  private activityTimer: ReturnType<typeof setTimeout> | null = null;

  /** Re-reads the engine's queue at most four times a second while events arrive. */
  private scheduleActivityRefresh(): void {
    if (this.activityTimer !== null) return;
    this.activityTimer = setTimeout(() => {
      this.activityTimer = null;
      this.refreshActivity().catch((e: unknown) => {
        this.error = toFerryError(e);
      });
    }, 250);
  }

  /** Re-reads the folder counts at most twice a second while uploads finish. */
  private scheduleFolderRefresh(): void {
    if (this.folderTimer !== null) return;
    this.folderTimer = setTimeout(() => {
      this.folderTimer = null;
      this.refreshFolders().catch((e: unknown) => {
        this.error = toFerryError(e);
      });
    }, 500);
  }

  /** Subscribes to the shell's events and to window focus; returns the way to stop. */
  async start(): Promise<() => void> {
    const stops: UnlistenFn[] = [];
    stops.push(await listen<EngineEvent>(ENGINE_EVENT, (e) => this.handleEngine(e.payload, Date.now())));
    stops.push(await listen<Overview>(OVERVIEW_EVENT, (e) => this.handleOverview(e.payload)));
    stops.push(await listen<FolderSync[]>(FOLDERS_EVENT, (e) => this.handleFolderStates(e.payload)));
    const onFocus = () => void this.refreshAll();
    window.addEventListener("focus", onFocus);
    return () => {
      for (const stop of stops) stop();
      window.removeEventListener("focus", onFocus);
    };
  }
}

export const live = new Live();
