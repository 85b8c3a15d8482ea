//! STUB (replaced by the watcher branch).
#![allow(missing_docs, dead_code)]
use crate::EngineError;
use std::path::Path;
pub struct HomeLock;
impl HomeLock {
    pub fn acquire(_home_dir: &Path) -> Result<HomeLock, EngineError> {
        Ok(HomeLock)
    }
}
