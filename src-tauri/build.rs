//! Generates Tauri's context (config, capabilities, icons) at compile time, with a
//! permission for each of the app's own commands: a window may call only the commands its
//! capability names (`capabilities/`), so a webview without one (or with a narrower one)
//! cannot reach the engine at all.

/// The commands of `lib.rs`'s `invoke_handler`, each of which gets `allow-<command>` and
/// `deny-<command>` permissions.
const COMMANDS: &[&str] = &[
    "server_probe",
    "sign_in",
    "sign_out",
    "accounts",
    "folders",
    "folder_add",
    "folder_remove",
    "folder_pause",
    "folder_ignore_get",
    "folder_ignore_set",
    "history",
    "history_per_day",
    "settings",
    "settings_set",
    "activity",
    "overview",
    "pause_all",
    "resume_all",
    "retry",
];

fn main() {
    let manifest = tauri_build::AppManifest::new().commands(COMMANDS);
    if let Err(err) = tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest))
    {
        panic!("tauri-build failed: {err:#}");
    }
}
