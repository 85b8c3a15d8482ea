//! The Linux source of [`Conditions`]: NetworkManager (`Metered`, `Connectivity`), UPower
//! (`OnBattery`, the display device's `Percentage`) and systemd-logind (`PrepareForSleep`,
//! with a delay lock held while awake) on the system D-Bus. Each service is read once and
//! then on every `PropertiesChanged` (or signal) it sends; a service that is not there is
//! said in verbose logs and left unknown.
//!
//! Knows nothing of what the conditions are used for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};
use zbus::Connection;
use zbus::zvariant::{OwnedFd, OwnedValue};

use super::{Conditions, Connectivity, SystemSource};

const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const NM: &str = "org.freedesktop.NetworkManager";
const NM_PATH: &str = "/org/freedesktop/NetworkManager";
const UPOWER: &str = "org.freedesktop.UPower";
const UPOWER_PATH: &str = "/org/freedesktop/UPower";
const UPOWER_DEVICE: &str = "org.freedesktop.UPower.Device";
const DISPLAY_DEVICE: &str = "/org/freedesktop/UPower/devices/DisplayDevice";
const LOGIN: &str = "org.freedesktop.login1";
const LOGIN_PATH: &str = "/org/freedesktop/login1";
const LOGIN_MANAGER: &str = "org.freedesktop.login1.Manager";

/// The longest the engine is given to pause before sleep (logind's own default limit).
const SLEEP_GRACE: Duration = Duration::from_secs(5);

/// Connects and starts watching; `None` (said in verbose logs) without a bus.
pub(super) async fn start(
    source: &SystemSource,
    tx: watch::Sender<Conditions>,
    paused_for_sleep: Arc<Notify>,
) -> Option<tokio::task::JoinHandle<()>> {
    let connection = match connect(source).await {
        Ok(connection) => connection,
        Err(err) => {
            tracing::info!(
                %err,
                "no system D-Bus: metered connections, connectivity, battery and sleep are not \
                 known; Ferry keeps its timeouts"
            );
            return None;
        }
    };
    Some(tokio::spawn(async move {
        tokio::join!(
            said("NetworkManager", network(&connection, &tx)),
            said("UPower", power(&connection, &tx)),
            said("systemd-logind", sleep(&connection, &tx, &paused_for_sleep)),
        );
    }))
}

async fn connect(source: &SystemSource) -> zbus::Result<Connection> {
    let builder = match source {
        SystemSource::Address(address) => zbus::connection::Builder::address(address.as_str())?,
        _ => zbus::connection::Builder::system()?,
    };
    builder.build().await
}

/// Runs one service's watch and logs why it ended.
async fn said(service: &str, watch: impl Future<Output = zbus::Result<()>>) {
    if let Err(err) = watch.await {
        tracing::info!(
            %err,
            "{service} is not on the system bus or stopped answering: what it would say is not known"
        );
    }
}

async fn proxy<'a>(
    connection: &Connection,
    destination: &'a str,
    path: &'a str,
    interface: &'a str,
) -> zbus::Result<zbus::Proxy<'a>> {
    zbus::proxy::Builder::new(connection)
        .destination(destination)?
        .path(path)?
        .interface(interface)?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
}

async fn get(
    properties: &zbus::Proxy<'_>,
    interface: &str,
    name: &str,
) -> zbus::Result<OwnedValue> {
    properties.call("Get", &(interface, name)).await
}

/// What a `PropertiesChanged` signal says: the interface and its changed values.
type Changed = (String, HashMap<String, OwnedValue>, Vec<String>);

/// The changed values `message` carries for `interface` (none for another interface).
fn changed(message: &zbus::Message, interface: &str) -> HashMap<String, OwnedValue> {
    match message.body().deserialize::<Changed>() {
        Ok((of, values, _)) if of == interface => values,
        _ => HashMap::new(),
    }
}

fn metered(value: u32) -> Option<bool> {
    // NMMetered: 1 yes, 3 guessed yes; 2 no, 4 guessed no; 0 unknown.
    match value {
        1 | 3 => Some(true),
        2 | 4 => Some(false),
        _ => None,
    }
}

fn connectivity(value: u32) -> Option<Connectivity> {
    match value {
        1 => Some(Connectivity::None),
        2 => Some(Connectivity::Portal),
        3 => Some(Connectivity::Limited),
        4 => Some(Connectivity::Full),
        _ => None,
    }
}

/// NetworkManager's `Metered` and `Connectivity`: read once, then taken from each change
/// as the signal carries it (a quick loss and return is seen as both).
async fn network(connection: &Connection, tx: &watch::Sender<Conditions>) -> zbus::Result<()> {
    let properties = proxy(connection, NM, NM_PATH, PROPERTIES).await?;
    // Subscribed before the first read, so no change falls between them.
    let mut changes = properties.receive_signal("PropertiesChanged").await?;
    let now = u32::try_from(get(&properties, NM, "Connectivity").await?)?;
    let is_metered = get(&properties, NM, "Metered")
        .await
        .ok()
        .and_then(|v| u32::try_from(v).ok());
    tx.send_modify(|c| {
        c.metered = is_metered.and_then(metered);
        c.set_connectivity(connectivity(now));
    });
    tracing::debug!(?is_metered, connectivity = now, "NetworkManager's state");
    while let Some(message) = changes.next().await {
        let values = changed(&message, NM);
        let new_metered = values.get("Metered").and_then(|v| u32::try_from(v).ok());
        let new_connectivity = values
            .get("Connectivity")
            .and_then(|v| u32::try_from(v).ok());
        if new_metered.is_none() && new_connectivity.is_none() {
            continue;
        }
        tracing::debug!(?new_metered, ?new_connectivity, "NetworkManager changed");
        tx.send_if_modified(|c| {
            let before = *c;
            if let Some(value) = new_metered {
                c.metered = metered(value);
            }
            if let Some(value) = new_connectivity {
                c.set_connectivity(connectivity(value));
            }
            *c != before
        });
    }
    Ok(())
}

/// UPower's `OnBattery` and its display device's `Percentage`, the same way.
async fn power(connection: &Connection, tx: &watch::Sender<Conditions>) -> zbus::Result<()> {
    let main = proxy(connection, UPOWER, UPOWER_PATH, PROPERTIES).await?;
    let display = proxy(connection, UPOWER, DISPLAY_DEVICE, PROPERTIES).await?;
    let mut changes = futures_util::stream::select(
        main.receive_signal("PropertiesChanged").await?,
        display.receive_signal("PropertiesChanged").await?,
    );
    let on_battery = bool::try_from(get(&main, UPOWER, "OnBattery").await?)?;
    let percent = get(&display, UPOWER_DEVICE, "Percentage")
        .await
        .ok()
        .and_then(|v| f64::try_from(v).ok());
    tx.send_modify(|c| {
        c.on_battery = Some(on_battery);
        c.battery_percent = percent;
    });
    tracing::debug!(on_battery, ?percent, "UPower's state");
    while let Some(message) = changes.next().await {
        let battery = changed(&message, UPOWER)
            .get("OnBattery")
            .and_then(|v| bool::try_from(v).ok());
        let percent = changed(&message, UPOWER_DEVICE)
            .get("Percentage")
            .and_then(|v| f64::try_from(v).ok());
        tx.send_if_modified(|c| {
            let before = *c;
            if let Some(battery) = battery {
                c.on_battery = Some(battery);
            }
            if let Some(percent) = percent {
                c.battery_percent = Some(percent);
            }
            *c != before
        });
    }
    Ok(())
}

/// Takes logind's delay lock: sleep waits (up to its limit) until it is let go.
async fn inhibit(manager: &zbus::Proxy<'_>) -> Option<OwnedFd> {
    let taken = manager
        .call(
            "Inhibit",
            &(
                "sleep",
                "Ferry",
                "Pausing uploads so that they go on after sleep",
                "delay",
            ),
        )
        .await;
    match taken {
        Ok(fd) => Some(fd),
        Err(err) => {
            tracing::info!(%err, "logind's sleep delay lock was refused: uploads stop when the system sleeps");
            None
        }
    }
}

async fn sleep(
    connection: &Connection,
    tx: &watch::Sender<Conditions>,
    paused_for_sleep: &Notify,
) -> zbus::Result<()> {
    let manager = proxy(connection, LOGIN, LOGIN_PATH, LOGIN_MANAGER).await?;
    let mut signals = manager.receive_signal("PrepareForSleep").await?;
    let mut lock = inhibit(&manager).await;
    while let Some(message) = signals.next().await {
        let going: bool = message.body().deserialize()?;
        if going {
            tracing::info!("the system is about to sleep: pausing uploads");
            tx.send_modify(|c| c.sleeping = true);
            if tokio::time::timeout(SLEEP_GRACE, paused_for_sleep.notified())
                .await
                .is_err()
            {
                tracing::warn!(
                    "uploads did not pause within {SLEEP_GRACE:?}; letting the system sleep"
                );
            }
            drop(lock.take());
        } else {
            tracing::info!("the system woke: checking every upload with its server");
            lock = inhibit(&manager).await;
            tx.send_modify(|c| {
                c.sleeping = false;
                c.woke += 1;
            });
        }
    }
    Ok(())
}
