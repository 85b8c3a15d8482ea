//! The running sync engine, held in Tauri state, and the commands that need it: `activity`,
//! `overview`, `pause_all`, `resume_all`, `retry`. The other commands call [`reload`] and
//! [`pause_folder`] after they changed folders or settings.
//!
//! // wired to ferry_engine::sync::Engine by the lead: until then `SyncState` is a small
//! // placeholder that holds the pause flag and the event sink, reports an empty queue and
//! // derives the overview from the journal's folders. The lead replaces `SyncState` by
//! // `Engine::start(home, settings, credentials, events)` and these functions by calls to
//! // `activity()`, `overview()`, `pause_all()`, `resume_all()`, `pause_folder(path, bool)`,
//! // `retry(Option<PathBuf>)`, `reload()` and `shutdown().await`; the types below by the
//! // engine's.

// Tauri runs async commands off the main thread even when they have nothing to await.
#![allow(clippy::needless_pass_by_value, clippy::unused_async)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use ferry_engine::EventSink;
use ferry_engine::service::FolderView;
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, State};

use crate::error::CommandError;
use crate::state::AppState;

/// The event carrying [`Overview`] to the window whenever it changes.
pub const OVERVIEW_EVENT: &str = "ferry://overview";

/// A file in the queue (docs/desktop.md `QueueItem`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    path: String,
    folder: Option<String>,
    size: u64,
    confirmed: u64,
    state: &'static str,
    speed: u64,
    eta_secs: Option<u64>,
    error: Option<String>,
}

/// A failed file (docs/desktop.md `Failure`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    path: String,
    folder: Option<String>,
    error: String,
    permanent: bool,
    at_ms: i64,
}

/// The live queue (docs/desktop.md `Activity`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    paused: bool,
    queue: Vec<QueueItem>,
    failed: Vec<Failure>,
    total_bytes: u64,
    confirmed_bytes: u64,
}

/// Everything at a glance (docs/desktop.md `Overview`), for the tray and the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// `up_to_date`, `uploading`, `paused`, `problem`, `signed_out` or `no_folders`.
    pub state: &'static str,
    /// Files going up now.
    pub uploading: u64,
    /// Files waiting.
    pub queued: u64,
    /// Files that failed.
    pub failed: u64,
    /// One line for people.
    pub message: String,
}

/// The engine's handle in Tauri state (a placeholder: see the module's header).
pub struct SyncState {
    paused: AtomicBool,
    /// Handed to `Engine::start` once the engine exists.
    #[allow(dead_code)]
    events: EventSink,
    overview: Mutex<Option<Overview>>,
}

impl SyncState {
    /// Starts syncing (the placeholder only keeps the sink).
    pub fn start(events: EventSink) -> Self {
        Self {
            paused: AtomicBool::new(false),
            events,
            overview: Mutex::new(None),
        }
    }
}

fn plural(n: u64, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

fn current_overview(app: &AppHandle) -> Overview {
    let sync = app.state::<SyncState>();
    let folders =
        ferry_engine::service::folders::folders(&app.state::<AppState>().home).unwrap_or_default();
    let failed: u64 = folders.iter().map(|f| f.failed).sum();
    let (state, message) = if folders.is_empty() {
        ("no_folders", "No folders yet".to_owned())
    } else if sync.paused.load(Ordering::SeqCst) {
        ("paused", "Paused".to_owned())
    } else if failed > 0 {
        ("problem", format!("{} failed", plural(failed, "file")))
    } else {
        ("up_to_date", "Up to date".to_owned())
    };
    Overview {
        state,
        uploading: 0,
        queued: 0,
        failed,
        message,
    }
}

/// Sends the overview to the window and the tray if it changed; notifies when a batch of
/// uploads finished and the user asked for that.
pub fn publish_overview(app: &AppHandle) {
    let next = current_overview(app);
    let sync = app.state::<SyncState>();
    let previous = {
        let mut held = sync.overview.lock().unwrap_or_else(PoisonError::into_inner);
        if held.as_ref() == Some(&next) {
            return;
        }
        held.replace(next.clone())
    };
    if previous.is_some_and(|p| p.state == "uploading") && next.state == "up_to_date" {
        crate::events::notify_batch_finished(app);
    }
    crate::tray::show_status(app, &next.message);
    if let Err(err) = app.emit(OVERVIEW_EVENT, &next) {
        tracing::warn!(%err, "cannot send the overview to the window");
    }
}

/// Tells the engine that folders, accounts or settings changed.
pub fn reload(app: &AppHandle) {
    publish_overview(app);
}

/// Tells the engine that a folder was paused or resumed.
pub fn pause_folder(app: &AppHandle, _path: &str, _paused: bool) {
    publish_overview(app);
}

/// Fills in what the running engine knows of each folder (its watcher's state, warnings).
pub fn decorate_folders(_folders: &mut [FolderView]) {}

/// Stops the engine before the app exits (uploads stop at a confirmed offset).
pub fn shutdown(_app: &AppHandle) {}

/// The live queue.
#[tauri::command]
pub async fn activity(sync: State<'_, SyncState>) -> Result<Activity, CommandError> {
    Ok(Activity {
        paused: sync.paused.load(Ordering::SeqCst),
        queue: Vec::new(),
        failed: Vec::new(),
        total_bytes: 0,
        confirmed_bytes: 0,
    })
}

/// Everything at a glance.
#[tauri::command]
pub async fn overview(app: AppHandle) -> Result<Overview, CommandError> {
    Ok(current_overview(&app))
}

/// Pauses every upload.
#[tauri::command]
pub async fn pause_all(app: AppHandle) -> Result<(), CommandError> {
    set_paused(&app, true);
    Ok(())
}

/// Resumes every upload.
#[tauri::command]
pub async fn resume_all(app: AppHandle) -> Result<(), CommandError> {
    set_paused(&app, false);
    Ok(())
}

/// Pauses or resumes everything (the tray's menu calls this too).
pub fn set_paused(app: &AppHandle, paused: bool) {
    app.state::<SyncState>()
        .paused
        .store(paused, Ordering::SeqCst);
    publish_overview(app);
}

/// Retries the failed file at `path`, or every failed file.
#[tauri::command]
pub async fn retry(_sync: State<'_, SyncState>, path: Option<String>) -> Result<(), CommandError> {
    tracing::info!(?path, "retry asked for");
    Ok(())
}
