//! The status: each synced folder (its files, what is pending, what failed and why, and,
//! while a sync engine runs on this home, its watcher state, warnings and uploads in
//! progress), the running engine itself, and the one-shot uploads left unfinished.
//!
//! The journal says what is where; a running engine (in this process or another, such as
//! a `ferry sync` in a terminal) says what it is doing through its report file
//! (`sync::report`). A missing or stale report says no engine runs.

use ferry_store::{FileRecord, FileState, Journal};
use serde::Serialize;

use crate::sync::report::Report;
use crate::sync::status::{Overview, QueueItem};
use crate::target::Protocol;

use super::folders::WatcherState;
use super::{Service, ServiceError, blocking_io};

/// Everything at once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The sync engine running on this home, if one does.
    pub sync: Option<SyncRun>,
    /// Every synced folder, by path.
    pub folders: Vec<FolderStatus>,
    /// One-shot uploads (`ferry upload`) that have not finished, oldest first.
    pub uploads: Vec<OpenUpload>,
}

/// The running sync engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncRun {
    /// Its process.
    pub pid: u32,
    /// Its state in one line.
    pub overview: Overview,
}

/// A synced folder's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderStatus {
    /// The folder, absolute.
    pub path: String,
    /// Whether syncing it is paused.
    pub paused: bool,
    /// Files known in it (not ignored, not deleted).
    pub files: u64,
    /// Files on the server.
    pub uploaded: u64,
    /// Files waiting or going up now.
    pub pending: u64,
    /// Files that failed for good, with why.
    pub failed: Vec<FileProblem>,
    /// Files waiting to be tried again after an error, with the error.
    pub retrying: Vec<FileProblem>,
    /// What its watcher is doing (`stopped` when no engine runs).
    pub watcher: WatcherState,
    /// Something the user should know (the watch limit was reached, ...).
    pub warning: Option<String>,
    /// Why its uploads wait now in the running engine (a metered connection, its
    /// schedule); what holds every folder back is the overview's.
    pub hold: Option<crate::sync::holds::Hold>,
    /// Its files in the running engine's queue, uploading first.
    pub uploading: Vec<QueueItem>,
}

/// A file that failed, or is waiting to be tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileProblem {
    /// The file, relative to its folder.
    pub path: String,
    /// What went wrong.
    pub error: String,
    /// When it is tried again (unix ms; `None`: not by itself).
    pub next_retry_at_ms: Option<i64>,
}

/// A one-shot upload that has not finished: run `ferry upload` again to continue it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenUpload {
    /// The local file.
    pub local_path: String,
    /// Where it goes on the server.
    pub remote_path: String,
    /// The protocol it goes with.
    pub protocol: Protocol,
    /// Its size in bytes.
    pub size: u64,
    /// Bytes the server confirmed.
    pub confirmed: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// The last attempt's error.
    pub last_error: Option<String>,
}

/// The problems of `files` (folder path, record) that are in `folder` and have an error.
fn problems(files: &[(String, FileRecord)], folder: &str) -> Vec<FileProblem> {
    files
        .iter()
        .filter(|(f, _)| f == folder)
        .filter_map(|(_, r)| {
            Some(FileProblem {
                path: r.local_path.clone(),
                error: r.last_error.clone()?,
                next_retry_at_ms: r.next_retry_at_ms,
            })
        })
        .collect()
}

fn folders(journal: &Journal, report: Option<&Report>) -> Result<Vec<FolderStatus>, ServiceError> {
    let failed = journal.synced_files_in_state(FileState::Failed)?;
    let pending = journal.synced_files_in_state(FileState::Pending)?;
    let mut rows = Vec::new();
    for folder in journal.folders()? {
        let counts = journal.file_counts(folder.id)?;
        let live = report.and_then(|r| r.folders.iter().find(|f| f.path == folder.path));
        let uploading = report
            .map(|r| {
                r.activity
                    .queue
                    .iter()
                    .filter(|q| q.folder.as_deref() == Some(folder.path.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        rows.push(FolderStatus {
            failed: problems(&failed, &folder.path),
            retrying: problems(&pending, &folder.path),
            paused: folder.paused,
            files: counts.known(),
            uploaded: counts.uploaded,
            pending: counts.pending + counts.uploading,
            watcher: live.map_or(WatcherState::Stopped, |l| l.watcher),
            warning: live.and_then(|l| l.warning.clone()),
            hold: live.and_then(|l| l.hold.clone()),
            uploading,
            path: folder.path,
        });
    }
    Ok(rows)
}

/// The unfinished uploads of files outside synced folders.
fn one_shot_uploads(journal: &Journal) -> Result<Vec<OpenUpload>, ServiceError> {
    let mut open = Vec::new();
    for (path, u) in journal.open_uploads()? {
        let one_shot = journal
            .file_by_id(u.upload.file)?
            .is_some_and(|f| f.folder.is_none());
        if one_shot {
            open.push(OpenUpload {
                local_path: path,
                remote_path: u.upload.remote_path,
                protocol: u.upload.protocol,
                size: u.upload.facts.size,
                confirmed: u.confirmed,
                attempts: u.attempts,
                last_error: u.last_error,
            });
        }
    }
    Ok(open)
}

impl Service {
    /// The status of this home: the running engine (from its report), each folder, the
    /// unfinished one-shot uploads.
    pub async fn status(&self) -> Result<Status, ServiceError> {
        let dir = self.home.dir().to_path_buf();
        let report = blocking_io("read", &dir.clone(), move || Ok(Report::read(&dir))).await?;
        self.journal(move |journal| {
            Ok(Status {
                folders: folders(journal, report.as_ref())?,
                uploads: one_shot_uploads(journal)?,
                sync: report.map(|r| SyncRun {
                    pid: r.pid,
                    overview: r.overview,
                }),
            })
        })
        .await
    }
}
