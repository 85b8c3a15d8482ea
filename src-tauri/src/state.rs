//! What every command shares: the engine's front door (a [`Service`] on Ferry's home, with
//! where tokens are found) and the settings as last saved (the event forwarder reads the
//! notification choices from here).

use std::sync::{Mutex, PoisonError};

use ferry_engine::service::Service;
use ferry_engine::settings::Settings;

/// The shell's shared state, managed by Tauri.
pub struct AppState {
    /// The one way to folders, accounts, history and status; it holds the home directory
    /// (`FERRY_HOME` or the platform's data directory) and the credentials (`FERRY_TOKEN`,
    /// else the OS keyring).
    pub service: Service,
    settings: Mutex<Settings>,
}

impl AppState {
    /// The state around `service`, with the saved settings.
    pub fn new(service: Service, settings: Settings) -> Self {
        Self {
            service,
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
