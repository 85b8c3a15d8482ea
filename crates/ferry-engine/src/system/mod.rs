//! What the system says about the network, power and sleep, as [`Conditions`]: whether the
//! connection is metered, whether there is connectivity, the battery, and sleep. On Linux
//! they come from NetworkManager, UPower and systemd-logind over the system D-Bus
//! ([`dbus`]); before sleep the monitor holds logind's delay lock until the engine has
//! paused. Where a service (or the bus) is missing, what it would say stays unknown and
//! nothing fails: Ferry keeps its timeouts, and says so in verbose logs. Other platforms
//! have no source yet; [`Monitor`] is where one plugs in.
//!
//! Knows nothing of uploads, folders or settings: the sync driver decides what the
//! conditions mean.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

#[cfg(target_os = "linux")]
mod dbus;

/// Where the conditions come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SystemSource {
    /// The system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket).
    #[default]
    SystemBus,
    /// The bus at this D-Bus address (tests: a private bus with python-dbusmock).
    Address(String),
    /// Nowhere: every condition stays unknown.
    Off,
}

/// How far the connection reaches, as NetworkManager says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Connectivity {
    /// No network.
    None,
    /// Behind a captive portal.
    Portal,
    /// A network, but not the internet (a server on the LAN may still be reachable).
    Limited,
    /// The internet.
    Full,
}

/// What the system says now; `None` where it says nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Conditions {
    /// The connection is metered (a phone's hotspot, a mobile plan).
    pub metered: Option<bool>,
    /// How far the connection reaches.
    pub connectivity: Option<Connectivity>,
    /// Running on battery.
    pub on_battery: Option<bool>,
    /// The battery's charge, 0 to 100.
    pub battery_percent: Option<f64>,
    /// The system is about to sleep.
    pub sleeping: bool,
    /// Counts wake-ups from sleep.
    pub woke: u64,
    /// Counts returns of connectivity (from none or a portal to a network).
    pub reconnected: u64,
}

impl Conditions {
    /// Takes NetworkManager's connectivity, counting a return.
    pub(crate) fn set_connectivity(&mut self, now: Option<Connectivity>) {
        let was_down = self.connectivity.is_some_and(|c| c < Connectivity::Limited);
        if was_down && now.is_some_and(|c| c >= Connectivity::Limited) {
            self.reconnected += 1;
        }
        self.connectivity = now;
    }
}

/// The running source of [`Conditions`].
pub struct Monitor {
    conditions: watch::Receiver<Conditions>,
    /// The engine says it has paused for sleep (the monitor then lets the system sleep).
    paused_for_sleep: Arc<Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Monitor {
    /// Starts watching `source` (on the current tokio runtime); never fails.
    pub async fn start(source: &SystemSource) -> Self {
        let (tx, rx) = watch::channel(Conditions::default());
        let paused_for_sleep = Arc::new(Notify::new());
        let task = match source {
            SystemSource::Off => None,
            #[cfg(target_os = "linux")]
            source => dbus::start(source, tx, Arc::clone(&paused_for_sleep)).await,
            #[cfg(not(target_os = "linux"))]
            _ => {
                drop(tx);
                tracing::debug!(
                    "no source of network, power and sleep states on this platform: \
                     Ferry keeps its timeouts"
                );
                None
            }
        };
        Self {
            conditions: rx,
            paused_for_sleep,
            task,
        }
    }

    /// A monitor that says nothing.
    pub fn off() -> Self {
        let (_, rx) = watch::channel(Conditions::default());
        Self {
            conditions: rx,
            paused_for_sleep: Arc::new(Notify::new()),
            task: None,
        }
    }

    /// The conditions now.
    pub fn conditions(&self) -> Conditions {
        *self.conditions.borrow()
    }

    /// Waits until the conditions changed (forever once the source has stopped).
    pub async fn changed(&mut self) {
        if self.conditions.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Says that everything has paused for the sleep the conditions announced.
    pub fn paused_for_sleep(&self) {
        self.paused_for_sleep.notify_one();
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
