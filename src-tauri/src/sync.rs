//! The running sync engine ([`ferry_engine::sync::Engine`]), held in Tauri state, and the
//! commands that need it: `activity`, `overview`, `pause_all`, `resume_all`, `retry`. The
//! other commands call [`reload`] and [`pause_folder`] after they changed folders, accounts
//! or settings. Everything here hands over to the engine; nothing is decided here.

// Tauri runs async commands off the main thread even when they have nothing to await.
#![allow(clippy::needless_pass_by_value, clippy::unused_async)]

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ferry_engine::EventSink;
use ferry_engine::service::FolderView;
use ferry_engine::settings::Settings;
use ferry_engine::sync::status::{Activity, OverallState, Overview, WatcherState};
use ferry_engine::sync::{Changes, Engine, FolderSync};
use tauri::{AppHandle, Emitter, Manager, State};

use crate::error::CommandError;
use crate::state::AppState;

/// The event carrying [`Overview`] to the window whenever it changes.
pub const OVERVIEW_EVENT: &str = "ferry://overview";

/// The event carrying the running engine's folder states ([`FolderSync`]) whenever they
/// change: a folder taken up, watched, missing, back, or given a warning.
pub const FOLDERS_EVENT: &str = "ferry://folders";

/// How long the views settle before they are read again after a change: the window hears
/// of the engine's own changes at most five times a second.
const SETTLE: Duration = Duration::from_millis(200);

/// The engine's handle in Tauri state.
#[derive(Default)]
pub struct SyncState {
    engine: Mutex<Option<Engine>>,
    /// Why the engine is not running, when it is not.
    stopped: Mutex<Option<String>>,
    overview: Mutex<Option<Overview>>,
}

fn held<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the engine on the app's home with the saved settings. If it cannot start (another
/// Ferry syncs this home, the journal cannot be opened), the window says why.
pub fn start(app: &AppHandle, events: EventSink) {
    let state = app.state::<AppState>();
    let (home, options, credentials) = (
        state.service.home().clone(),
        state.settings().sync_options(),
        state.service.credentials().clone(),
    );
    let started = tauri::async_runtime::block_on(async move {
        Engine::start(&home, options, credentials, events).await
    });
    let sync = app.state::<SyncState>();
    match started {
        Ok(engine) => {
            follow(app.clone(), engine.changes());
            follow_settings(app.clone());
            *held(&sync.engine) = Some(engine);
        }
        Err(err) => {
            tracing::warn!(%err, "the sync engine did not start");
            *held(&sync.stopped) = Some(err.to_string());
        }
    }
}

/// Follows the engine's own changes (not only its events): a folder it took up or lost, a
/// watcher that failed, a server that answered again. Sends the overview and the folders'
/// states on when they changed; ends when the engine stops.
fn follow(app: AppHandle, mut changes: Changes) {
    tauri::async_runtime::spawn(async move {
        let mut last: Option<Vec<FolderSync>> = None;
        while changes.changed().await {
            publish_overview(&app);
            let folders = with_engine(&app, Engine::folders).unwrap_or_default();
            if last.as_ref() != Some(&folders) {
                if let Err(err) = app.emit(FOLDERS_EVENT, &folders) {
                    tracing::warn!(%err, "cannot send the folders' states to the window");
                }
                last = Some(folders);
            }
            tokio::time::sleep(SETTLE).await;
        }
    });
}

/// How often the settings file is looked at for changes made elsewhere.
const SETTINGS_POLL: Duration = Duration::from_secs(1);

/// Takes settings changed outside the window (`ferry config set`) within a second: the
/// engine gets them and the window reads them the next time it shows Settings.
fn follow_settings(app: AppHandle) {
    tauri::async_runtime::spawn(async move {
        let home = app.state::<AppState>().service.home().clone();
        let mut seen = Settings::stamp(&home).await;
        loop {
            tokio::time::sleep(SETTINGS_POLL).await;
            let now = Settings::stamp(&home).await;
            if now == seen {
                continue;
            }
            seen = now;
            let read = {
                let home = home.clone();
                tokio::task::spawn_blocking(move || Settings::load(&home)).await
            };
            match read {
                Ok(Ok(settings)) if settings != app.state::<AppState>().settings() => {
                    tracing::info!("the settings file changed: taking it");
                    app.state::<AppState>().set_settings(settings);
                    reload(&app);
                }
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    tracing::warn!(%err, "the settings file changed but cannot be used; keeping the settings in use");
                }
                Err(err) => tracing::warn!(%err, "the settings file could not be read"),
            }
        }
    });
}

/// Runs `f` with the engine, if it runs.
fn with_engine<T>(app: &AppHandle, f: impl FnOnce(&Engine) -> T) -> Option<T> {
    let sync = app.try_state::<SyncState>()?;
    let engine = held(&sync.engine);
    engine.as_ref().map(f)
}

fn current_overview(app: &AppHandle) -> Overview {
    with_engine(app, Engine::overview).unwrap_or_else(|| {
        let why = app
            .try_state::<SyncState>()
            .and_then(|s| held(&s.stopped).clone())
            .unwrap_or_else(|| "starting".to_owned());
        Overview {
            state: OverallState::Problem,
            uploading: 0,
            queued: 0,
            failed: 0,
            message: format!("Syncing is not running: {why}"),
            connection: None,
            hold: None,
            scheduled: None,
        }
    })
}

/// Sends the overview to the window and the tray if it changed; notifies when a batch of
/// uploads finished and the user asked for that.
pub fn publish_overview(app: &AppHandle) {
    let Some(sync) = app.try_state::<SyncState>() else {
        return;
    };
    let next = current_overview(app);
    let previous = {
        let mut last = held(&sync.overview);
        if last.as_ref() == Some(&next) {
            return;
        }
        last.replace(next.clone())
    };
    if previous.is_some_and(|p| p.state == OverallState::Uploading)
        && next.state == OverallState::UpToDate
    {
        crate::events::notify_batch_finished(app);
    }
    let paused = with_engine(app, Engine::is_paused).unwrap_or(false);
    crate::tray::show_status(app, &next.message, paused);
    if let Err(err) = app.emit(OVERVIEW_EVENT, &next) {
        tracing::warn!(%err, "cannot send the overview to the window");
    }
}

/// Tries every failed or waiting file again now (after a sign-in fixed what stopped them).
pub fn retry_everything(app: &AppHandle) {
    with_engine(app, |engine| engine.retry(None));
}

/// Tells the engine that folders, accounts or settings changed.
pub fn reload(app: &AppHandle) {
    let options = app.state::<AppState>().settings().sync_options();
    with_engine(app, |engine| {
        engine.set_options(options);
        engine.reload();
    });
    publish_overview(app);
}

/// Tells the engine that a folder was paused or resumed.
pub fn pause_folder(app: &AppHandle, path: &str, paused: bool) {
    with_engine(app, |engine| {
        engine.pause_folder(PathBuf::from(path), paused);
    });
    publish_overview(app);
}

/// Fills in what the running engine knows of each folder (its watcher's state, warnings); a
/// folder the running engine has not taken up yet is starting, not "not watching".
pub fn decorate_folders(app: &AppHandle, folders: &mut [FolderView]) {
    let Some(live) = with_engine(app, Engine::folders) else {
        return;
    };
    for folder in folders {
        if let Some(sync) = live.iter().find(|l| l.path == folder.path) {
            folder.watcher = sync.watcher;
            folder.warning.clone_from(&sync.warning);
        } else if folder.watcher == WatcherState::Stopped {
            folder.watcher = WatcherState::Starting;
        }
    }
}

/// Stops the engine before the app exits (uploads stop at a confirmed offset).
pub fn shutdown(app: &AppHandle) {
    let Some(sync) = app.try_state::<SyncState>() else {
        return;
    };
    let engine = held(&sync.engine).take();
    if let Some(engine) = engine {
        tauri::async_runtime::block_on(engine.shutdown());
    }
}

/// The live queue.
#[tauri::command]
pub async fn activity(app: AppHandle) -> Result<Activity, CommandError> {
    Ok(with_engine(&app, Engine::activity).unwrap_or(Activity {
        paused: false,
        hold: None,
        scheduled: None,
        queue: Vec::new(),
        failed: Vec::new(),
        total_bytes: 0,
        confirmed_bytes: 0,
    }))
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
    with_engine(app, |engine| {
        if paused {
            engine.pause_all();
        } else {
            engine.resume_all();
        }
    });
    publish_overview(app);
}

/// Retries the failed file at `path`, or every failed file.
#[tauri::command]
pub async fn retry(
    app: AppHandle,
    _sync: State<'_, SyncState>,
    path: Option<String>,
) -> Result<(), CommandError> {
    with_engine(&app, |engine| engine.retry(path.map(PathBuf::from)));
    Ok(())
}
