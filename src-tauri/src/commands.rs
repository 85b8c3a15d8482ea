//! The window's commands (docs/desktop.md): each one calls the engine's front door, the
//! [`Service`](ferry_engine::service::Service) in [`AppState`] (which reaches the journal
//! through its door and does keyring and file work on the blocking pool), and converts its
//! error; after a change the running engine is told ([`crate::sync`]). No upload, journal
//! or protocol logic lives here.

// Tauri deserialises each argument into an owned value, and runs async commands off the
// main thread even when they have nothing to await.
#![allow(clippy::needless_pass_by_value, clippy::unused_async)]

use ferry_engine::Token;
use ferry_engine::service::{
    self, AccountView, DayTotal, FolderView, HistoryPage, HistoryQuery, NewFolder, Secret,
    ServerProbe, ServiceError,
};
use ferry_engine::settings::Settings;
use ferry_engine::target::Protocol;
use ferry_engine::tls::Fingerprint;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt;

use crate::error::{CommandError, ErrorCode};
use crate::state::AppState;
use crate::sync;

/// What a command returns to the window.
type Reply<T> = Result<T, CommandError>;

/// Runs blocking `work` (saving the settings) on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Reply<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| CommandError::new(ErrorCode::Internal, format!("The work stopped: {e}.")))?
        .map_err(CommandError::from)
}

/// `trust_fingerprint` as given by the window, parsed.
fn fingerprint(given: Option<String>) -> Reply<Option<Fingerprint>> {
    given
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            f.parse().map_err(|e: ferry_engine::tls::BadFingerprint| {
                ServiceError::invalid("trustFingerprint", e.to_string()).into()
            })
        })
        .transpose()
}

/// What the server at `url` is and offers; `trust_fingerprint`: the certificate the person
/// chose to trust for it (shown to them after a `certificate` error).
#[tauri::command]
pub async fn server_probe(
    state: State<'_, AppState>,
    url: String,
    trust_fingerprint: Option<String>,
) -> Reply<ServerProbe> {
    let trusted = fingerprint(trust_fingerprint)?;
    Ok(state.service.probe(&url, trusted).await?)
}

/// Signs in with a password, a pasted token, or nothing (servers without accounts).
#[tauri::command]
pub async fn sign_in(
    state: State<'_, AppState>,
    app: AppHandle,
    server: String,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    trust_fingerprint: Option<String>,
) -> Reply<AccountView> {
    let trusted = fingerprint(trust_fingerprint)?;
    let password = password.filter(|p| !p.is_empty());
    let token = token.filter(|t| !t.trim().is_empty());
    let secret = match (&password, token) {
        (Some(_), Some(_)) => {
            return Err(
                ServiceError::invalid("token", "Enter a password or a token, not both.").into(),
            );
        }
        (Some(password), None) => Secret::Password(password),
        (None, Some(token)) => Secret::Token(Token::new(token.trim().to_owned())),
        (None, None) => Secret::Nothing,
    };
    let device = service::device_name("Ferry desktop").await;
    let account = state
        .service
        .sign_in_trusting(
            &server,
            user.as_deref().unwrap_or(""),
            secret,
            &device,
            trusted,
        )
        .await?;
    sync::reload(&app);
    // What failed while signed out (or over the refused sign-in) goes again now.
    sync::retry_everything(&app);
    Ok(account)
}

/// Signs out: the token is revoked on the server and deleted from the keyring.
#[tauri::command]
pub async fn sign_out(
    state: State<'_, AppState>,
    app: AppHandle,
    server: String,
    user: String,
) -> Reply<()> {
    state.service.sign_out(&server, &user).await?;
    sync::reload(&app);
    Ok(())
}

/// Every account and whether it is signed in.
#[tauri::command]
pub async fn accounts(state: State<'_, AppState>) -> Reply<Vec<AccountView>> {
    Ok(state.service.accounts().await?)
}

/// Every synced folder with its counts.
#[tauri::command]
pub async fn folders(state: State<'_, AppState>, app: AppHandle) -> Reply<Vec<FolderView>> {
    let mut folders = state.service.folders().await?;
    sync::decorate_folders(&app, &mut folders);
    Ok(folders)
}

/// Starts syncing a folder.
#[tauri::command]
pub async fn folder_add(
    state: State<'_, AppState>,
    app: AppHandle,
    path: String,
    server: String,
    user: String,
    remote_prefix: Option<String>,
    protocol: Option<Protocol>,
) -> Reply<FolderView> {
    let new = NewFolder {
        path,
        server,
        user: Some(user),
        remote_prefix,
        protocol,
    };
    let folder = state.service.add_folder(new).await?;
    sync::reload(&app);
    Ok(folder)
}

/// Stops syncing a folder.
#[tauri::command]
pub async fn folder_remove(state: State<'_, AppState>, app: AppHandle, path: String) -> Reply<()> {
    state.service.remove_folder(&path).await?;
    sync::reload(&app);
    Ok(())
}

/// Pauses or resumes a folder.
#[tauri::command]
pub async fn folder_pause(
    state: State<'_, AppState>,
    app: AppHandle,
    path: String,
    paused: bool,
) -> Reply<FolderView> {
    let folder = state.service.pause_folder(&path, paused).await?;
    sync::pause_folder(&app, &folder.path, paused);
    Ok(folder)
}

/// The folder's `.ferryignore`.
#[tauri::command]
pub async fn folder_ignore_get(state: State<'_, AppState>, path: String) -> Reply<String> {
    Ok(state.service.ignore_rules(&path).await?)
}

/// Replaces the folder's `.ferryignore`.
#[tauri::command]
pub async fn folder_ignore_set(
    state: State<'_, AppState>,
    app: AppHandle,
    path: String,
    rules: String,
) -> Reply<()> {
    state.service.set_ignore_rules(&path, &rules).await?;
    sync::reload(&app);
    Ok(())
}

/// One page of the history.
#[tauri::command]
pub async fn history(state: State<'_, AppState>, query: HistoryQuery) -> Reply<HistoryPage> {
    Ok(state.service.history(query).await?)
}

/// Bytes and files uploaded per day over the last `days` days.
#[tauri::command]
pub async fn history_per_day(state: State<'_, AppState>, days: u32) -> Reply<Vec<DayTotal>> {
    Ok(state.service.history_per_day(days).await?)
}

/// The settings.
#[tauri::command]
pub async fn settings(state: State<'_, AppState>) -> Reply<Settings> {
    Ok(state.settings())
}

/// Checks and saves the settings, turns starting with the session on or off, and tells the
/// engine; returns them as saved.
#[tauri::command]
pub async fn settings_set(
    state: State<'_, AppState>,
    app: AppHandle,
    settings: Settings,
) -> Reply<Settings> {
    settings.validate()?;
    let autostart = app.autolaunch();
    let switched = if settings.autostart {
        autostart.enable()
    } else {
        autostart.disable()
    };
    // Turning it off when it was never on is not a failure.
    if let Err(err) = switched
        && (settings.autostart || autostart.is_enabled().unwrap_or(false))
    {
        return Err(CommandError::new(
            ErrorCode::Io,
            format!("Cannot change whether Ferry starts with the session: {err}."),
        ));
    }
    let (home, saved) = (state.service.home().clone(), settings.clone());
    blocking(move || saved.save(&home).map_err(ServiceError::from)).await?;
    state.set_settings(settings.clone());
    sync::reload(&app);
    Ok(settings)
}
