//! STUB (replaced by the watcher branch).
#![allow(missing_docs, dead_code)]
use crate::EngineError;
use std::path::{Path, PathBuf};
use std::time::Duration;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    Changed {
        root: PathBuf,
        path: PathBuf,
    },
    Renamed {
        root: PathBuf,
        from: PathBuf,
        to: PathBuf,
    },
    Rescan {
        root: PathBuf,
        reason: String,
    },
    Failed {
        root: PathBuf,
        message: String,
    },
}
pub struct WatchOptions {
    pub debounce: Duration,
    pub simulate_limit: bool,
}
pub struct Watcher;
impl Watcher {
    pub fn start(
        _options: WatchOptions,
        _tx: tokio::sync::mpsc::UnboundedSender<WatchEvent>,
    ) -> Result<Watcher, EngineError> {
        todo!()
    }
    pub fn watch(&mut self, _root: &Path) -> Result<(), EngineError> {
        todo!()
    }
    pub fn unwatch(&mut self, _root: &Path) {}
}
