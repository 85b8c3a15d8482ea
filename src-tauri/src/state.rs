//! What every command shares: Ferry's home, where tokens are found, and the settings as last
//! saved (the event forwarder reads the notification choices from here).

use std::sync::{Mutex, PoisonError};

use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::settings::Settings;

/// The shell's shared state, managed by Tauri.
pub struct AppState {
    /// The home directory (`FERRY_HOME` or the platform's data directory).
    pub home: Home,
    /// Tokens: `FERRY_TOKEN`, else the OS keyring.
    pub credentials: Credentials,
    settings: Mutex<Settings>,
}

impl AppState {
    /// The state for `home`, with its saved settings.
    pub fn new(home: Home, credentials: Credentials, settings: Settings) -> Self {
        Self {
            home,
            credentials,
            settings: Mutex::new(settings),
        }
    }

    /// The settings as last saved.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Remembers newly saved settings.
    pub fn set_settings(&self, settings: Settings) {
        *self.settings.lock().unwrap_or_else(PoisonError::into_inner) = settings;
    }
}
