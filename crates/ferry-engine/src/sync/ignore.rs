//! STUB (replaced by the planner branch).
#![allow(missing_docs, dead_code)]
use crate::EngineError;
use std::path::Path;
pub const IGNORE_FILE: &str = ".ferryignore";
pub struct Rules;
impl Rules {
    pub fn load(_root: &Path) -> Result<Rules, EngineError> {
        Ok(Rules)
    }
    pub fn is_ignored(&self, _rel: &Path, _is_dir: bool) -> bool {
        false
    }
    pub fn warnings(&self) -> &[String] {
        &[]
    }
}
impl Default for Rules {
    fn default() -> Self {
        Rules
    }
}
