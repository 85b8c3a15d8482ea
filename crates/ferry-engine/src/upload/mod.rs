//! One file to one server: the resumable one-shot upload that `ferry upload` runs.
//!
//! Run it again after any interruption (a network loss, a crash, a reboot) and it goes on
//! from what the server confirmed: the journal remembers the upload, keyed by the file and
//! its content, and the transport asks the server where it stands before sending a byte. A
//! file that changes while it is sent is given up and sent again with its new content.
//! Knows nothing of terminals: it reports through the event sink.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use ferry_store::{
    AccountId, FileRecord, FileState, FolderId, HistoryEntry, NewUpload, Verification,
};

use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::file::LocalFile;
use crate::home::Home;
use crate::journal::JournalDoor;
use crate::rate::RateLimit;
use crate::secret::Token;
use crate::target::{Protocol, Target};
use crate::transport::{Transfer, TransferOptions};
use crate::verify::Sent;

mod attempt;
mod copy;
mod opening;
use attempt::{endpoint_and_chunk, send_and_verify, settle};
use opening::{Opened, open_or_start, terminate_stale};

/// How many times a file that keeps changing under the upload is started again.
const MAX_RESTARTS_FOR_CHANGES: u32 = 3;

/// The largest GalileoSend frame sent when the user set no chunk size, whatever the server
/// asks (a frame is held in memory whole).
const GALILEO_MAX_CHUNK: u64 = 16 * 1024 * 1024;

/// What to upload, where and how.
#[derive(Clone)]
pub struct UploadRequest {
    /// The local file.
    pub file: PathBuf,
    /// The server URL as the user gave it (any of the forms in [`Target`]).
    pub server: String,
    /// The user it signs in as there (empty: no sign-in, or a pasted token).
    pub user: String,
    /// The token, if the server wants one.
    pub token: Option<Token>,
    /// Where the file goes on the server (default: its name).
    pub remote: Option<String>,
    /// The protocol wanted (default: tus when offered).
    pub protocol: Option<Protocol>,
    /// How it is sent.
    pub transfer: TransferOptions,
    /// The shared rate limit.
    pub limit: RateLimit,
    /// Where events go.
    pub events: EventSink,
    /// What TLS trusts: the same as the HTTP client given with the request was built with
    /// ([`crate::service::Service::trust`]).
    pub trust: crate::tls::Trust,
}

impl std::fmt::Debug for UploadRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadRequest")
            .field("file", &self.file)
            .field("server", &self.server)
            .field("user", &self.user)
            .field("token", &self.token)
            .field("remote", &self.remote)
            .finish_non_exhaustive()
    }
}

/// The remote path: as asked, else the file's name.
fn remote_path(request: &UploadRequest, path: &Path) -> String {
    request.remote.clone().unwrap_or_else(|| {
        path.file_name()
            .map_or_else(|| "upload".to_owned(), |n| n.to_string_lossy().into_owned())
    })
}

/// Uploads `request.file` to `request.server`, continuing an earlier attempt when the
/// journal has one; returns the history entry of the finished upload.
pub async fn upload_file(
    home: &Home,
    http: &reqwest::Client,
    request: &UploadRequest,
) -> Result<HistoryEntry, EngineError> {
    let file = request.file.clone();
    let path = tokio::fs::canonicalize(file)
        .await
        .map_err(|source| EngineError::File {
            path: request.file.clone(),
            source,
        })?;
    let target = Target::discover(http, &request.server, request.token.as_ref()).await?;
    for note in &target.notes {
        (request.events)(Event::Warning {
            message: format!("{}: {note}", request.server),
        });
    }
    let protocol = target.choose(request.protocol)?;
    let door = home.open_journal().await?;
    let (server, user) = (request.server.clone(), request.user.clone());
    let account = door.call(move |j| Ok(j.account(&server, &user)?)).await?;
    let job = FileJob {
        folder: None,
        key: path.to_string_lossy().into_owned(),
        remote: remote_path(request, &path),
        path,
        account: account.id,
    };
    let options = SendOptions {
        token: request.token.clone(),
        transfer: request.transfer,
        limit: request.limit.clone(),
        events: request.events.clone(),
        restarts_for_changes: MAX_RESTARTS_FOR_CHANGES,
        announce_queued: true,
        trust: request.trust.clone(),
    };
    send_file(&door, http, &target, protocol, &job, &options).await
}

/// How files are sent; shared by one-shot uploads and folder sync.
#[derive(Clone)]
pub(crate) struct SendOptions {
    /// The token, if the server wants one.
    pub(crate) token: Option<Token>,
    /// How files are sent.
    pub(crate) transfer: TransferOptions,
    /// The shared rate limit.
    pub(crate) limit: RateLimit,
    /// Where events go.
    pub(crate) events: EventSink,
    /// How many times a file that changes under its upload is started again at once (folder
    /// sync waits for the file to be quiet instead: 0).
    pub(crate) restarts_for_changes: u32,
    /// Whether to report each file as queued when its attempt starts (folder sync reports
    /// it when the file enters its queue instead).
    pub(crate) announce_queued: bool,
    /// What TLS trusts, for the WebSocket (the HTTP client has it already).
    pub(crate) trust: crate::tls::Trust,
}

/// One file to send.
#[derive(Debug, Clone)]
pub(crate) struct FileJob {
    /// Its synced folder, or `None` for a one-shot upload.
    pub(crate) folder: Option<FolderId>,
    /// Its path in the journal: relative to the folder, or absolute for a one-shot upload.
    pub(crate) key: String,
    /// Its absolute path on disk.
    pub(crate) path: PathBuf,
    /// Where it goes on the server.
    pub(crate) remote: String,
    /// The account it goes to.
    pub(crate) account: AccountId,
}

/// Sends `job` to `target` with `protocol`, continuing the journal's upload of the same
/// content when there is one; returns the history entry of the finished upload. A file that
/// changes while it is sent is abandoned and (up to `restarts_for_changes` times) sent again.
pub(crate) async fn send_file(
    door: &JournalDoor,
    http: &reqwest::Client,
    target: &Target,
    protocol: Protocol,
    job: &FileJob,
    options: &SendOptions,
) -> Result<HistoryEntry, EngineError> {
    let path = &job.path;
    let display = path.display().to_string();
    for _ in 0..=options.restarts_for_changes {
        let file = LocalFile::open_async(path.clone()).await?;
        if options.announce_queued {
            (options.events)(Event::Queued {
                path: display.clone(),
                size: file.facts.size,
            });
        }
        let (folder, key) = (job.folder, job.key.clone());
        let known = door.call(move |j| Ok(j.file(folder, &key)?)).await?;
        let (sha1, hashed_now) = sha1_of(known.as_ref(), &file).await?;
        let record = file_record(door, job, &file, known, &sha1.to_hex()).await?;
        let (endpoint, wanted_chunk) =
            endpoint_and_chunk(target, protocol, options.transfer.chunk_size);
        let chunk_size = learnt_chunk(door, &endpoint, protocol, wanted_chunk).await?;
        let wanted = NewUpload {
            file: record.id,
            account: job.account,
            protocol,
            endpoint: endpoint.clone(),
            remote_path: job.remote.clone(),
            facts: file.facts,
            sha1: sha1.to_hex(),
            chunk_size,
            concatenated: false,
            parts: Vec::new(),
            final_upload: ferry_store::FinalUpload::default(),
        };
        let Opened {
            row,
            resume,
            earlier,
            stale,
        } = open_or_start(door, wanted, record).await?;
        if let Some(stale) = stale {
            terminate_stale(http, target, options.token.as_ref(), &stale).await;
        }
        let sent_content = Sent {
            remote: &job.remote,
            size: file.facts.size,
            sha1: &sha1,
        };
        let asked = copy::Asked {
            earlier,
            hashed_now,
        };
        if copy::held_already(http, target, options.token.as_ref(), sent_content, asked).await {
            return record_already_stored(door, &row, &file, options).await;
        }
        let transfer = Transfer {
            file,
            sha1,
            remote_path: job.remote.clone(),
            chunk_size,
            options: TransferOptions {
                parallel: options.transfer.parallel.max(1),
                ..options.transfer
            },
            reduced_chunk: Arc::default(),
            token: options.token.clone(),
            limit: options.limit.clone(),
            events: options.events.clone(),
            trust: options.trust.clone(),
        };
        let sent = send_and_verify(
            http,
            target,
            protocol,
            &transfer,
            resume.as_ref(),
            door,
            &row,
        )
        .await;
        let reduced = transfer.reduced_chunk.load(Ordering::Relaxed);
        if reduced > 0 {
            let endpoint = endpoint.clone();
            door.call(move |j| Ok(j.set_chunk_limit(&endpoint, protocol, reduced)?))
                .await?;
        }
        if let Some(entry) = settle(
            door,
            &row,
            sent,
            &options.events,
            &display,
            transfer.file.facts.size,
        )
        .await?
        {
            return Ok(entry);
        }
    }
    Err(EngineError::FileChanged { path: path.clone() })
}

/// The chunk size to start with at `endpoint`: the one wanted, or the smaller one an earlier
/// upload learnt there from the server's 413 answers (the journal remembers it).
async fn learnt_chunk(
    door: &JournalDoor,
    endpoint: &str,
    protocol: Protocol,
    wanted: u64,
) -> Result<u64, EngineError> {
    let key = endpoint.to_owned();
    let learnt = door
        .call(move |j| Ok(j.chunk_limit(&key, protocol)?))
        .await?;
    Ok(match learnt {
        Some(limit) if limit < wanted => {
            tracing::info!(
                "{endpoint}: the server refused larger requests before; sending {} chunks",
                crate::transport::tus::human_bytes(limit)
            );
            limit
        }
        _ => wanted,
    })
}

/// A crash came after the server stored the file and before the journal said so: it is
/// recorded now, not sent again.
async fn record_already_stored(
    door: &JournalDoor,
    row: &ferry_store::UploadRecord,
    file: &LocalFile,
    options: &SendOptions,
) -> Result<HistoryEntry, EngineError> {
    tracing::info!(path = %file.path.display(), "the server already holds this content");
    let id = row.id;
    let entry = door
        .call(move |j| Ok(j.finish_upload(id, None, 0, Verification::ServerSha1)?))
        .await?;
    (options.events)(Event::Finished {
        path: file.path.display().to_string(),
        location: None,
        size: file.facts.size,
        bytes_sent: 0,
    });
    Ok(entry)
}

/// The journal's record of the file with these facts and sha1 (`hex`): the one folder sync
/// planned with these very facts (the upload's start records the sha1: one write less per
/// file), else a new or updated one.
async fn file_record(
    door: &JournalDoor,
    job: &FileJob,
    file: &LocalFile,
    known: Option<FileRecord>,
    hex: &str,
) -> Result<FileRecord, EngineError> {
    let planned = known.filter(|r| {
        r.facts == file.facts
            && r.state == FileState::Pending
            && r.sha1.as_deref().is_none_or(|s| s == hex)
    });
    if let Some(record) = planned {
        return Ok(record);
    }
    let (folder, key, facts, hex) = (job.folder, job.key.clone(), file.facts, hex.to_owned());
    door.call(move |j| Ok(j.upsert_file(folder, &key, facts, Some(&hex), FileState::Pending)?))
        .await
}

/// The whole-file sha1 the journal recorded for this file with exactly these facts (size,
/// modification time to the nanosecond, inode), so that a run that continues an upload does
/// not read the whole file again first. The same facts are what tells a changed file during
/// an upload; content rewritten with all three unchanged (which takes a deliberate reset of
/// the modification time) is caught by ferry-server's whole-file check at the end.
/// The file's sha1: the one the journal kept for these very facts, else hashed now (and
/// whether it was).
async fn sha1_of(
    record: Option<&FileRecord>,
    file: &LocalFile,
) -> Result<(Checksum, bool), EngineError> {
    Ok(match known_sha1(record, file) {
        Some(sha1) => (sha1, false),
        None => (file.sha1().await?, true),
    })
}

fn known_sha1(record: Option<&FileRecord>, file: &LocalFile) -> Option<Checksum> {
    record
        .filter(|r| r.facts == file.facts)
        .and_then(|r| r.sha1.as_deref())
        .and_then(|hex| Checksum::from_hex(ChecksumAlgorithm::Sha1, hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_store::FileFacts;

    #[tokio::test]
    async fn a_recorded_sha1_is_reused_only_for_the_very_same_facts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let file = LocalFile::open(&path).unwrap();
        let local = path.to_string_lossy().into_owned();
        let job = FileJob {
            folder: None,
            key: local.clone(),
            path: path.clone(),
            remote: "f".into(),
            account: ferry_store::AccountId(1),
        };
        let journal = ferry_store::Journal::open_in_memory().unwrap();
        let row = |j: &ferry_store::Journal| j.file(job.folder, &job.key).unwrap();
        assert_eq!(known_sha1(row(&journal).as_ref(), &file), None);
        let sha1 = file.sha1().await.unwrap();
        journal
            .upsert_file(
                None,
                &local,
                file.facts,
                Some(&sha1.to_hex()),
                FileState::Pending,
            )
            .unwrap();
        assert_eq!(known_sha1(row(&journal).as_ref(), &file), Some(sha1));
        for facts in [
            FileFacts {
                size: file.facts.size + 1,
                ..file.facts
            },
            FileFacts {
                mtime_ns: file.facts.mtime_ns + 1,
                ..file.facts
            },
            FileFacts {
                inode: file.facts.inode + 1,
                ..file.facts
            },
        ] {
            let other = LocalFile {
                path: path.clone(),
                facts,
            };
            assert_eq!(known_sha1(row(&journal).as_ref(), &other), None);
        }
    }
}
