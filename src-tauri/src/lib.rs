//! Ferry's desktop shell (package `ferry-desktop`): a Tauri 2 window around the sync engine.
//!
//! # Layout
//! - [`commands`]: the window's commands (docs/desktop.md), each a call to the engine's
//!   front door, `ferry_engine::service::Service`.
//! - [`sync`]: the running engine in Tauri state and the commands that need it.
//! - [`events`]: the sink the engine emits into: forwarded to the window, notifications.
//! - [`tray`]: the tray icon and its menu.
//! - [`error`]: `{code, message}`, the errors as the window receives them.
//! - [`state`]: the [`Service`] and the settings the commands share.
//!
//! The shell is thin: no upload, journal or protocol logic lives here (STYLE.md, the
//! gitbutler model). Closing the window hides it; syncing goes on until Quit.

pub mod commands;
pub mod error;
pub mod events;
pub mod state;
pub mod sync;
pub mod tray;

use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::service::Service;
use ferry_engine::settings::Settings;
use tauri::{Manager, RunEvent, WindowEvent};

/// The argument autostart launches Ferry with: start in the tray, window hidden.
pub const MINIMIZED_ARG: &str = "--minimized";

/// Runs the app until Quit. Errors: the home or the window system could not be set up.
pub fn run() -> anyhow::Result<()> {
    let home = Home::locate(None)?;
    let settings = match Settings::load(&home) {
        Ok(settings) => settings,
        Err(err) => {
            // The window shows the defaults; saving writes a good file again.
            tracing::warn!(%err, "using the default settings");
            Settings::default()
        }
    };
    let service = tauri::async_runtime::block_on(Service::open(home, Credentials::from_env()))?;
    let state = state::AppState::new(service, settings);
    let app = tauri::Builder::default()
        // First, so that a second launch hands over before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            tray::show_window(app);
        }))
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            Some(vec![MINIMIZED_ARG]),
        ))
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_opener::init())
        .manage(state)
        .setup(|app| {
            let handle = app.handle();
            app.manage(sync::SyncState::default());
            sync::start(handle, events::sink(handle));
            tray::build(handle)?;
            if std::env::args().any(|a| a == MINIMIZED_ARG)
                && let Some(window) = app.get_webview_window("main")
            {
                window.hide()?;
            }
            sync::publish_overview(handle);
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                // Keep syncing in the tray; Quit ends the app.
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::server_probe,
            commands::sign_in,
            commands::sign_out,
            commands::accounts,
            commands::folders,
            commands::folder_add,
            commands::folder_remove,
            commands::folder_pause,
            commands::folder_ignore_get,
            commands::folder_ignore_set,
            commands::history,
            commands::history_per_day,
            commands::settings,
            commands::settings_set,
            sync::activity,
            sync::overview,
            sync::pause_all,
            sync::resume_all,
            sync::retry,
        ])
        .build(tauri::generate_context!())?;
    app.run(|app, event| {
        if let RunEvent::Exit = event {
            sync::shutdown(app);
        }
    });
    Ok(())
}
