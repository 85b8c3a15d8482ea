//! The engine's events, forwarded: the sink handed to the engine emits each event to the
//! window as `ferry://engine` and turns permanent failures (those that wait on the user,
//! not the ones Ferry retries by itself) into desktop notifications when the user wants
//! them. The engine knows nothing of this (it only calls the sink).

use std::path::Path;
use std::sync::Arc;

use ferry_engine::{Event, EventSink};
use tauri::{AppHandle, Emitter, Manager};
use tauri_plugin_notification::NotificationExt;

use crate::state::AppState;

/// The event carrying each engine event to the window.
pub const ENGINE_EVENT: &str = "ferry://engine";

/// The sink for the engine: forwards to the window, notifies, and refreshes the overview
/// (sent on only when it changed).
pub fn sink(app: &AppHandle) -> EventSink {
    let app = app.clone();
    Arc::new(move |event: Event| {
        if let Err(err) = app.emit(ENGINE_EVENT, &event) {
            tracing::warn!(%err, "cannot send an engine event to the window");
        }
        match &event {
            Event::Failed {
                path,
                error,
                permanent,
            } => {
                // A file Ferry will try again by itself is no failure to alert about yet:
                // only one that waits on the person (EngineError::is_permanent).
                if *permanent && app.state::<AppState>().settings().notify_failures {
                    let name = Path::new(path)
                        .file_name()
                        .map_or_else(|| path.clone(), |n| n.to_string_lossy().into_owned());
                    notify(&app, &format!("{name} was not uploaded"), error);
                }
                crate::sync::publish_overview(&app);
            }
            // Any other event may change what the header says (a file starts, waits for a
            // server that went away, or reaches it again); publishing sends only a change.
            _ => crate::sync::publish_overview(&app),
        }
    })
}

/// Tells the user that everything queued went up, if they asked to be told.
pub fn notify_batch_finished(app: &AppHandle) {
    if app.state::<AppState>().settings().notify_finished {
        notify(app, "Ferry is up to date", "Every file is uploaded.");
    }
}

fn notify(app: &AppHandle, title: &str, body: &str) {
    if let Err(err) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(%err, "cannot show a notification");
    }
}
