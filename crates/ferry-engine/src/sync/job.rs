//! One synced file's turn in the queue: find its server (discovered once per server and
//! kept), its token (read once per account and kept), for a touched file hash it and ask the
//! planner again (it may only need its new facts recorded), and send it with the same
//! resumable upload `ferry upload` uses. Runs as its own task; the core decides what happens
//! after, from the [`JobEnd`] this reports.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use ferry_store::{AccountId, FileState, FolderId, HistoryEntry};

use crate::auth::Credentials;
use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::file::LocalFile;
use crate::journal::JournalDoor;
use crate::rate::RateLimit;
use crate::secret::Token;
use crate::target::{Protocol, Target};
use crate::upload::{FileJob, SendOptions, send_file};

use super::SyncOptions;
use super::core::{JobEnd, StartJob};
use super::driver::folders::FolderInfo;
use super::plan::{Known, Op, Seen, plan};

/// What one file's upload needs to know of its folder.
#[derive(Debug, Clone)]
pub(crate) struct JobSpec {
    /// The folder's row.
    pub(crate) folder: FolderId,
    /// The account's row.
    pub(crate) account: AccountId,
    /// The server URL as the user gave it.
    pub(crate) server: String,
    /// The user there (empty: none).
    pub(crate) user: String,
    /// The protocol the folder asks for (`None`: tus when offered).
    pub(crate) protocol: Option<Protocol>,
    /// The file's path relative to the folder, with `/` separators.
    pub(crate) rel: String,
    /// The file, absolute.
    pub(crate) path: PathBuf,
    /// Where it goes on the server.
    pub(crate) remote: String,
    /// Only the facts changed: hash it and ask the planner again before sending anything.
    pub(crate) hash_first: bool,
}

impl JobSpec {
    /// The job the core asked for, in `folder`.
    pub(crate) fn new(folder: &FolderInfo, start: &StartJob) -> Self {
        let rel = start.key.1.clone();
        Self {
            folder: start.key.0,
            account: folder.folder.account,
            server: folder.server.clone(),
            user: folder.user.clone(),
            protocol: folder.folder.protocol,
            path: folder.root.join(&rel),
            remote: folder.remote_path(&rel),
            rel,
            hash_first: start.hash_first,
        }
    }
}

/// How folder sync sends files (the options of one-shot uploads, with folder sync's own).
pub(crate) fn send_options(
    options: &SyncOptions,
    limit: &RateLimit,
    events: &EventSink,
    trust: &crate::tls::Trust,
) -> SendOptions {
    SendOptions {
        token: None,
        transfer: options.transfer,
        limit: limit.clone(),
        events: Arc::clone(events),
        // Folder sync waits for a changing file to be quiet instead.
        restarts_for_changes: 0,
        announce_queued: false,
        trust: trust.clone(),
    }
}

/// A file's status while its server is out of space.
pub(crate) const SERVER_FULL_WAITING: &str = "waiting: the server is out of space";

/// A job's error as the core takes it.
fn end_of(err: &EngineError) -> JobEnd {
    match err {
        EngineError::FileChanged { .. } => JobEnd::FileChanged,
        // What `ferry status` and the live status show while the file waits for space.
        err if err.is_server_full() => JobEnd::Failed {
            message: SERVER_FULL_WAITING.to_owned(),
            retryable: true,
            unauthorized: false,
            server_full: true,
            unreachable: false,
        },
        err => JobEnd::Failed {
            message: err.to_string(),
            retryable: !err.is_permanent(),
            unauthorized: matches!(err, EngineError::Unauthorized { .. }),
            server_full: false,
            unreachable: err.is_unreachable(),
        },
    }
}

/// What all jobs share: the HTTP client, the journal, and what is known of servers and
/// tokens.
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    /// What TLS trusts: `http` was built with it, the WebSockets connect with it.
    pub(crate) trust: crate::tls::Trust,
    pub(crate) door: JournalDoor,
    pub(crate) credentials: Credentials,
    pub(crate) targets: tokio::sync::Mutex<HashMap<String, Arc<Target>>>,
    pub(crate) tokens: tokio::sync::Mutex<HashMap<(String, String), Option<Token>>>,
}

impl Shared {
    /// Forgets what is known of `server` and its tokens (after it refused a token, or when
    /// folders change), so the next job asks again.
    pub(crate) async fn forget(&self, server: &str) {
        self.targets.lock().await.remove(server);
        self.tokens.lock().await.retain(|(s, _), _| s != server);
    }

    /// Forgets every server and token known.
    pub(crate) async fn forget_all(&self) {
        self.targets.lock().await.clear();
        self.tokens.lock().await.clear();
    }

    async fn token(&self, server: &str, user: &str) -> Result<Option<Token>, EngineError> {
        let key = (server.to_owned(), user.to_owned());
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(&key) {
            return Ok(token.clone());
        }
        let token = if user.is_empty() && !self.credentials.overridden() {
            // A server without sign-in: no keyring is asked (a headless machine may have none).
            None
        } else {
            let (credentials, server, user) =
                (self.credentials.clone(), key.0.clone(), key.1.clone());
            tokio::task::spawn_blocking(move || credentials.token(&server, &user))
                .await
                .map_err(|e| EngineError::Keyring(format!("the keyring lookup failed: {e}")))??
        };
        tokens.insert(key, token.clone());
        Ok(token)
    }

    async fn target(
        &self,
        server: &str,
        token: Option<&Token>,
    ) -> Result<Arc<Target>, EngineError> {
        let mut targets = self.targets.lock().await;
        if let Some(target) = targets.get(server) {
            return Ok(Arc::clone(target));
        }
        let target = Arc::new(Target::discover(&self.http, server, token).await?);
        targets.insert(server.to_owned(), Arc::clone(&target));
        Ok(target)
    }
}

/// Runs one file's upload and says how it ended. Errors found before the transport started
/// are reported as a `failed` event here (the transport reports its own).
pub(crate) async fn run(shared: Arc<Shared>, spec: JobSpec, options: SendOptions) -> JobEnd {
    let (target, token) = match prepare(&shared, &spec).await {
        Ok(Some(ready)) => ready,
        Ok(None) => return JobEnd::Unchanged,
        Err(err) => {
            (options.events)(Event::Failed {
                path: spec.path.display().to_string(),
                error: err.to_string(),
                permanent: err.is_permanent(),
            });
            return end_of(&err);
        }
    };
    match send(&shared, &spec, &target, token, options).await {
        Ok(entry) => JobEnd::Uploaded {
            bytes: entry.bytes_sent,
        },
        Err(err) => end_of(&err),
    }
}

async fn send(
    shared: &Shared,
    spec: &JobSpec,
    target: &Target,
    token: Option<Token>,
    options: SendOptions,
) -> Result<HistoryEntry, EngineError> {
    let protocol = target.choose(spec.protocol)?;
    let job = FileJob {
        folder: Some(spec.folder),
        key: spec.rel.clone(),
        path: spec.path.clone(),
        remote: spec.remote.clone(),
        account: spec.account,
    };
    let options = SendOptions { token, ..options };
    send_file(&shared.door, &shared.http, target, protocol, &job, &options).await
}

/// Finds the server and token, and for a touched file whether its content changed; `None`
/// when it did not (the planner, asked again with the file's hash, records its new facts
/// and nothing is sent).
async fn prepare(
    shared: &Shared,
    spec: &JobSpec,
) -> Result<Option<(Arc<Target>, Option<Token>)>, EngineError> {
    if spec.hash_first {
        let file = LocalFile::open_async(&spec.path).await?;
        let sha1 = file.sha1().await?.to_hex();
        let (folder, rel, facts) = (spec.folder, spec.rel.clone(), file.facts);
        let op = shared
            .door
            .call(move |journal| {
                let record = journal.file(Some(folder), &rel)?;
                let open = match &record {
                    Some(r) => journal.upload_for_file(r.id)?.is_some(),
                    None => false,
                };
                let known = record.as_ref().map(|r| Known {
                    facts: r.facts,
                    state: r.state,
                    sha1: r.sha1.as_deref(),
                    uploaded_sha1: r.uploaded_sha1.as_deref(),
                    upload_open: open,
                });
                let seen = Seen::Present {
                    facts,
                    sha1: Some(&sha1),
                };
                let op = plan(known.as_ref(), &seen);
                if op == Op::Record {
                    journal.upsert_file(
                        Some(folder),
                        &rel,
                        facts,
                        Some(&sha1),
                        FileState::Uploaded,
                    )?;
                }
                Ok(op)
            })
            .await?;
        if matches!(op, Op::Record | Op::Nothing) {
            return Ok(None);
        }
    }
    let token = shared.token(&spec.server, &spec.user).await?;
    let target = shared.target(&spec.server, token.as_ref()).await?;
    Ok(Some((target, token)))
}
