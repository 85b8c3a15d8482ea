//! Folder sync: keeping the folders a person chose uploaded.
//!
//! # Layout
//! - [`watch`]: the OS watcher (notify), reporting changed paths; [`scan`]: full scans and
//!   their comparison with the journal; [`ignore`]: which files are never uploaded.
//! - [`plan`]: the pure planner, from what the journal knows and what the disk says to an
//!   operation.
//! - `core`: every sync decision as a sans-IO machine on virtual time (quiet periods, the
//!   queue, concurrency, retries, pauses, scans); `driver`: the thin async task around it
//!   that owns the watcher, the journal door, the clock and the `job`s that send one file
//!   each.
//! - [`engine`]: the handle ([`Engine`]) and `ferry sync --once` ([`sync_once`]);
//!   [`status`]: the live queue, failures and overview people see; [`report`]: the same,
//!   written to the home for `ferry status` in another process.
//! - [`holds`]: why uploads wait now (sleep, a metered connection, a low battery, the
//!   bandwidth schedule), a pure function of the settings, the system and the clock.
//! - [`lock`]: one engine per home.
//!
//! Uploads are one-way: nothing here ever deletes or renames anything on a server. Knows
//! nothing of terminals or windows; it reports through the event sink it is given.

mod core;
mod driver;
pub mod engine;
pub mod holds;
pub mod ignore;
mod job;
pub mod lock;
pub mod plan;
pub mod report;
pub mod scan;
pub mod status;
pub mod watch;

pub use engine::{Changes, Engine, FolderSync, Summary, SyncOptions, sync_once};

/// Now, in unix milliseconds (retry times are kept in the journal in these).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
