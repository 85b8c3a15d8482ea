//! The driver's part in holds: it reads the system's conditions and the clock, asks the
//! pure [`holds::decide`] what waits and at which rates, and hands the changes to the core
//! (holds) and to the rate limits (rates, for jobs under way too). After a wake-up or when
//! connectivity returns, everything waiting on the network goes at once; before sleep, it
//! tells the monitor once every job has stopped.
//!
//! Knows nothing of D-Bus: the monitor's conditions are all it sees.

use std::path::Path;
use std::time::Duration;

use crate::sync::core::Key;
use crate::sync::engine::guard;
use crate::sync::holds::{self, Policy};

use super::{Driver, now};

/// How often holds and rates are evaluated again while a schedule exists (a change takes
/// effect within this).
pub(super) const SCHEDULE_TICK: Duration = Duration::from_secs(1);

impl Driver {
    /// Whether anything depends on the clock (a schedule, all folders' or one's).
    pub(super) fn has_schedule(&self) -> bool {
        !self.options.schedule.is_empty()
            || self
                .options
                .folders
                .values()
                .any(|f| !f.schedule.is_empty())
    }

    /// Evaluates the holds now and carries out what changed.
    pub(super) fn apply_holds(&mut self) {
        let conditions = self.monitor.conditions();
        let roots: Vec<&Path> = self
            .folders
            .values()
            .map(|f| f.info.root.as_path())
            .collect();
        let policy = Policy {
            rate_limit: self.options.rate_limit,
            schedule: &self.options.schedule,
            pause_on_metered: self.options.pause_on_metered,
            pause_on_battery_below: self.options.pause_on_battery_below,
            folders: &self.options.folders,
        };
        let zone = jiff::tz::TimeZone::system();
        let decided = holds::decide(
            &policy,
            &conditions,
            jiff::Timestamp::now(),
            &zone,
            &roots,
            self.mode_once,
        );
        self.limit.set(decided.rate);
        let ids: Vec<_> = self.folders.keys().copied().collect();
        for id in ids {
            let Some(folder) = self.folders.get_mut(&id) else {
                continue;
            };
            let hold = decided.folders.get(&folder.info.root).cloned();
            folder
                .limit
                .set(decided.folder_rates.get(&folder.info.root).copied());
            if hold.is_some() != folder.hold.is_some() {
                tracing::info!(folder = %folder.info.root.display(), ?hold, "holding a folder back, or no longer");
                self.core.handle_held(now(), Some(id), hold.is_some());
            }
            folder.hold = hold;
        }
        // After the folders' own holds, so that ending a hold of everything starts nothing
        // in a folder that is held on its own.
        if decided.all.is_some() != self.holds.all.is_some() {
            tracing::info!(hold = ?decided.all, "holding uploads back, or no longer");
            self.core.handle_held(now(), None, decided.all.is_some());
        }
        {
            let mut tracker = guard(&self.views.tracker);
            tracker.hold.clone_from(&decided.all);
            tracker.scheduled.clone_from(&decided.scheduled);
        }
        self.holds = decided;
        // A wake-up or connectivity's return: what waits on the network goes now.
        if conditions.woke != self.seen.woke || conditions.reconnected != self.seen.reconnected {
            tracing::info!(
                woke = conditions.woke != self.seen.woke,
                "the network may be back: trying waiting uploads now"
            );
            self.network_back();
        }
        self.seen = conditions;
    }

    /// Everything waiting for a retry goes now, and uploads waiting out their own
    /// backoff start again (asking their server where it stands).
    fn network_back(&mut self) {
        self.core.handle_network_back(now());
        let stalled: Vec<Key> = {
            let tracker = guard(&self.views.tracker);
            self.jobs
                .keys()
                .filter(|key| tracker.is_retrying(&self.display(key)))
                .cloned()
                .collect()
        };
        if !stalled.is_empty() {
            self.core.handle_restart(now(), stalled);
        }
    }

    /// Once the jobs stopped for sleep have stopped, the system may sleep (said once per
    /// sleep).
    pub(super) fn settle_for_sleep(&mut self) {
        if !self.seen.sleeping {
            self.sleep_told = false;
        } else if !self.sleep_told && self.jobs.is_empty() {
            tracing::info!("every upload has paused: the system may sleep");
            self.monitor.paused_for_sleep();
            self.sleep_told = true;
        }
    }
}
