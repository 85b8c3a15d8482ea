//! The planner: a pure function from what the journal knows of a path and what the disk says
//! now to the one operation the engine should carry out. No I/O, no clock; the engine hashes,
//! uploads and records, and calls [`plan`] again when it has learnt more (after [`Op::Hash`]).
//!
//! The rules, in the order they are applied:
//!
//! | journal | disk | op | why |
//! |---|---|---|---|
//! | unknown | gone | `Nothing` | never seen, nothing to record |
//! | unknown | present | `Upload` | a new file (also the new half of a rename) |
//! | upload open | gone | `Abandon` | deleted during upload: the half-sent upload is dropped |
//! | `Deleted` | gone | `Nothing` | already recorded as deleted |
//! | any other | gone | `Delete` | deleted (or the old half of a rename): marked deleted in the journal, never on the server |
//! | upload open | other content | `Restart` | modified during upload: the open upload holds content that no longer exists |
//! | `Pending`/`Uploading` | present | `Upload` | resume the open upload, or send a queued file (also when it grew while queued) |
//! | `Failed`/`Uploaded` | same content | `Nothing` | parked until the user retries or the file changes / already on the server |
//! | `Failed`/`Uploaded`/`Deleted` | other facts | by content | see below |
//!
//! "Other content" means other facts, or a content hash that differs from the journal's hash
//! for the same facts. "By content" (the hash decides, so that a `touch` costs nothing on the
//! network): hash equal to `uploaded_sha1` → `Record`; a different hash → `Upload`; no hash yet
//! but an uploaded version to compare with → `Hash`; nothing ever uploaded → `Upload`. A file
//! that reappears with the facts the journal last saw is judged by the journal's hash for them.

use ferry_store::{FileFacts, FileState};

/// What the journal knows of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known<'a> {
    /// The facts last recorded.
    pub facts: FileFacts,
    /// Where the file stands.
    pub state: FileState,
    /// The content hash taken for `facts`, if one was.
    pub sha1: Option<&'a str>,
    /// The hash of the content last uploaded, if any.
    pub uploaded_sha1: Option<&'a str>,
    /// An unfinished upload row exists.
    pub upload_open: bool,
}

/// What the disk says now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// No regular file at the path.
    Gone,
    /// A regular file.
    Present {
        /// Its facts now.
        facts: FileFacts,
        /// The hash of the content with these facts, if computed.
        sha1: Option<&'a str>,
    },
}

/// What to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Nothing to do.
    Nothing,
    /// The facts changed but the content equals what is uploaded (a touch): store the new
    /// facts (and hash), no upload.
    Record,
    /// The facts changed and the content hash decides (there is an uploaded version to compare
    /// with): hash the file, then plan again with the hash.
    Hash,
    /// New, modified, grown while queued, or an unfinished upload to continue: send it.
    Upload,
    /// An open upload holds other content (modified during upload): abandon it, then upload
    /// the new content.
    Restart,
    /// Gone while an upload is open: abandon the upload (history: abandoned) and mark the file
    /// deleted.
    Abandon,
    /// Gone with no upload open: mark it deleted in the journal (never deleted on the server;
    /// history records it if it had been uploaded).
    Delete,
}

/// The operation for one path; see the module's table for the rules.
pub fn plan(known: Option<&Known<'_>>, seen: &Seen<'_>) -> Op {
    let (known, facts, seen_sha1) = match (known, *seen) {
        (None, Seen::Gone) => return Op::Nothing,
        (None, Seen::Present { .. }) => return Op::Upload,
        (Some(k), Seen::Gone) => {
            return if k.upload_open {
                Op::Abandon
            } else if k.state == FileState::Deleted {
                Op::Nothing
            } else {
                Op::Delete
            };
        }
        (Some(k), Seen::Present { facts, sha1 }) => (k, facts, sha1),
    };
    let same_facts = facts == known.facts;
    let hash_differs = matches!((seen_sha1, known.sha1), (Some(now), Some(then)) if now != then);
    let same = same_facts && !hash_differs;
    // The hash of the content now: the one computed, or the journal's when the facts held.
    let sha1 = seen_sha1.or(if same_facts { known.sha1 } else { None });
    if known.upload_open && !same {
        return Op::Restart;
    }
    match known.state {
        FileState::Pending | FileState::Uploading => Op::Upload,
        FileState::Failed | FileState::Uploaded if same => Op::Nothing,
        FileState::Failed | FileState::Uploaded | FileState::Deleted => {
            by_content(sha1, known.uploaded_sha1)
        }
    }
}

/// The hash decides whether the server already has this content.
fn by_content(sha1: Option<&str>, uploaded_sha1: Option<&str>) -> Op {
    match (sha1, uploaded_sha1) {
        (Some(now), Some(uploaded)) if now == uploaded => Op::Record,
        (Some(_), _) | (None, None) => Op::Upload,
        (None, Some(_)) => Op::Hash,
    }
}

#[cfg(test)]
mod tests;
