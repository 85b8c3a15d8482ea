//! STUB (replaced by the planner branch).
#![allow(missing_docs, dead_code)]
use ferry_store::{FileFacts, FileState};
pub struct Known<'a> {
    pub facts: FileFacts,
    pub state: FileState,
    pub sha1: Option<&'a str>,
    pub uploaded_sha1: Option<&'a str>,
    pub upload_open: bool,
}
pub enum Seen<'a> {
    Gone,
    Present {
        facts: FileFacts,
        sha1: Option<&'a str>,
    },
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Nothing,
    Record,
    Hash,
    Upload,
    Restart,
    Abandon,
    Delete,
}
pub fn plan(_known: Option<&Known<'_>>, _seen: &Seen<'_>) -> Op {
    Op::Nothing
}
