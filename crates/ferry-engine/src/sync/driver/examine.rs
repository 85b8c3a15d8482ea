//! Examining paths: what the disk says of each, what the journal knows, the planner's
//! operation for them, and the journal rows it writes. Runs on the journal thread, inside
//! one door call for a whole batch (one transaction, one flush), so it may stat files and
//! use the journal directly; it never touches the network. Reports each path to the core as
//! an [`Examined`].

use std::path::Path;

use ferry_store::{FileFacts, FileRecord, FileState, Journal, Outcome};

use crate::error::EngineError;
use crate::sync::core::{Examined, Key};
use crate::sync::plan::{Known, Op, Seen, plan};
use crate::sync::scan::facts_of;

use super::folders::FolderInfo;

/// One path to examine: its folder, its key, and where the watcher saw it renamed to.
pub(super) struct Item {
    pub(super) folder: std::sync::Arc<FolderInfo>,
    pub(super) key: Key,
    pub(super) renamed_to: Option<String>,
}

/// Examines every item; a path that cannot be looked at is reported as
/// [`Examined::Failed`], the others are not held up by it.
pub(super) fn examine_all(journal: &mut Journal, items: Vec<Item>) -> Vec<(Key, Examined)> {
    items
        .into_iter()
        .map(|item| {
            let examined = examine(journal, &item).unwrap_or_else(|err| {
                let path = item.folder.root.join(&item.key.1);
                Examined::Failed(format!("could not look at {}: {err}", path.display()))
            });
            (item.key, examined)
        })
        .collect()
}

fn examine(journal: &mut Journal, item: &Item) -> Result<Examined, EngineError> {
    let (folder, key) = (&item.folder, &item.key);
    let path = folder.root.join(&key.1);
    if folder.rules.is_ignored(Path::new(&key.1), false) {
        // Ignored now: left alone here and on the server.
        return Ok(Examined::Settled);
    }
    let seen_facts = facts_of(&path).map_err(|source| EngineError::File {
        path: path.clone(),
        source,
    })?;
    let record = journal.file(Some(key.0), &key.1)?;
    let open = match &record {
        Some(r) => journal.upload_for_file(r.id)?,
        None => None,
    };
    let known = record.as_ref().map(|r| Known {
        facts: r.facts,
        state: r.state,
        sha1: r.sha1.as_deref(),
        uploaded_sha1: r.uploaded_sha1.as_deref(),
        upload_open: open.is_some(),
    });
    let seen = match seen_facts {
        Some(facts) => Seen::Present { facts, sha1: None },
        None => Seen::Gone,
    };
    let op = plan(known.as_ref(), &seen);
    let Some(facts) = seen_facts else {
        #[expect(
            clippy::disallowed_methods,
            reason = "examining runs on the journal thread, which looks at the disk"
        )]
        let folder_there = folder.root.is_dir();
        if !folder_there {
            // The whole folder is not there (moved away, a drive unplugged): its files are
            // not deleted, and an unfinished upload is kept to go on when it is back.
            return Ok(Examined::Settled);
        }
        // Gone: the planner says nothing, abandon or delete.
        if let (Some(open), Op::Abandon) = (&open, op) {
            journal.end_upload(
                open.id,
                Outcome::Abandoned,
                0,
                "the file was deleted or moved before its upload finished",
            )?;
        }
        if let (Some(record), Op::Abandon | Op::Delete) = (&record, op) {
            record_removal(journal, item, record)?;
        }
        return Ok(Examined::Settled);
    };
    match op {
        Op::Nothing | Op::Abandon | Op::Delete => Ok(Examined::Settled),
        Op::Record => {
            let sha1 = record.as_ref().and_then(|r| r.sha1.clone());
            journal.upsert_file(
                Some(key.0),
                &key.1,
                facts,
                sha1.as_deref(),
                FileState::Uploaded,
            )?;
            Ok(Examined::Settled)
        }
        Op::Hash => Ok(Examined::Send {
            size: facts.size,
            hash_first: true,
            changed: true,
            attempts: record.as_ref().map_or(0, |r| r.attempts),
        }),
        Op::Upload | Op::Restart => {
            if let Some(open) = open.filter(|_| op == Op::Restart) {
                journal.end_upload(
                    open.id,
                    Outcome::Abandoned,
                    0,
                    "the file changed before its upload finished; its new content is uploaded instead",
                )?;
            }
            queue_upload(journal, key, record.as_ref(), facts)
        }
    }
}

/// Notes the new facts of a file to upload (its failures forgotten if its content changed).
fn queue_upload(
    journal: &mut Journal,
    key: &Key,
    record: Option<&FileRecord>,
    facts: FileFacts,
) -> Result<Examined, EngineError> {
    let changed = record.is_none_or(|r| r.facts != facts);
    let sha1 = record.filter(|_| !changed).and_then(|r| r.sha1.as_deref());
    let failures = record
        .is_some_and(|r| r.attempts > 0 || r.last_error.is_some() || r.next_retry_at_ms.is_some());
    let file = journal.upsert_file(Some(key.0), &key.1, facts, sha1, FileState::Pending)?;
    // A new row has no failures to forget: one write less per new file.
    if changed && failures {
        journal.clear_file_failure(file.id)?;
    }
    Ok(Examined::Send {
        size: facts.size,
        hash_first: false,
        changed,
        attempts: if changed { 0 } else { file.attempts },
    })
}

/// Records that a synced file was deleted, or renamed if the watcher said so (nothing
/// changes on the server).
fn record_removal(
    journal: &mut Journal,
    item: &Item,
    record: &FileRecord,
) -> Result<(), EngineError> {
    let remote = item.folder.remote_path(&item.key.1);
    let (outcome, note) = match &item.renamed_to {
        Some(to) => (Outcome::Renamed, Some(format!("renamed to {to}"))),
        None => (Outcome::Deleted, None),
    };
    if record.state != FileState::Deleted {
        journal.record_removal(record.id, outcome, &remote, note.as_deref())?;
    }
    Ok(())
}
