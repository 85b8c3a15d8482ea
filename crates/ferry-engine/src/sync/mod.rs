//! Folder sync: keeping watched folders uploaded.
//!
//! - [`watch`]: the OS watcher (notify), turning file system notifications into
//!   [`watch::WatchEvent`]s per watched folder; it decides nothing about quiet periods.
//! - [`lock`]: one engine per home, so two never write the same journal.
//!
//! This layer knows nothing of terminals, Tauri or how its events are shown.

pub mod lock;
pub mod watch;
