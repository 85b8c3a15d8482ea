//! STUB (replaced by the planner branch).
#![allow(missing_docs, dead_code)]
use super::ignore::Rules;
use crate::EngineError;
use ferry_store::FileFacts;
use std::collections::HashMap;
use std::path::Path;
pub struct Scanned {
    pub files: Vec<(String, FileFacts)>,
    pub problems: Vec<String>,
}
pub fn scan(_root: &Path, _rules: &Rules) -> Result<Scanned, EngineError> {
    todo!()
}
pub fn facts_of(_path: &Path) -> std::io::Result<Option<FileFacts>> {
    todo!()
}
pub struct Diff {
    pub changed: Vec<String>,
    pub gone: Vec<String>,
    pub unchanged: usize,
}
pub fn diff(_scanned: &Scanned, _known: &HashMap<String, FileFacts>) -> Diff {
    todo!()
}
