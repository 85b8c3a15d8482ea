//! The tray icon: its menu shows the overview's message (a disabled item), Pause all or
//! Resume all (whichever applies), Open Ferry and Quit; a left click opens the window
//! (where the platform reports clicks: Linux's app indicators only open the menu).

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

/// The menu items that follow the state, kept to change them.
pub struct StatusItem {
    status: MenuItem<Wry>,
    pause: MenuItem<Wry>,
    resume: MenuItem<Wry>,
}

/// Builds the tray icon and its menu.
pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Starting…", false, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause all", true, None::<&str>)?;
    let resume = MenuItem::with_id(app, "resume", "Resume all", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Ferry", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let menu = Menu::with_items(
        app,
        &[
            &status,
            &PredefinedMenuItem::separator(app)?,
            &pause,
            &resume,
            &open,
            &PredefinedMenuItem::separator(app)?,
            &quit,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id("ferry")
        .tooltip("Ferry")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "pause" => crate::sync::set_paused(app, true),
            "resume" => crate::sync::set_paused(app, false),
            "open" => show_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    app.manage(StatusItem {
        status,
        pause,
        resume,
    });
    Ok(())
}

/// Shows the overview's message in the menu and the tooltip, and offers Pause all or
/// Resume all as `paused` (everything paused) says.
pub fn show_status(app: &AppHandle, message: &str, paused: bool) {
    if let Some(items) = app.try_state::<StatusItem>() {
        let set = items
            .status
            .set_text(message)
            .and_then(|()| items.pause.set_enabled(!paused))
            .and_then(|()| items.resume.set_enabled(paused));
        if let Err(err) = set {
            tracing::warn!(%err, "cannot update the tray menu");
        }
    }
    if let Some(tray) = app.tray_by_id("ferry") {
        let _ = tray.set_tooltip(Some(format!("Ferry: {message}")));
    }
}

/// Shows, unminimises and focuses the main window.
pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}
