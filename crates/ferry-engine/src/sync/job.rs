//! One synced file's turn in the queue: find its server (discovered once per server and
//! kept), its token (read once per account and kept), check whether a touched file really
//! changed, and send it with the same resumable upload `ferry upload` uses. Runs as its own
//! task; the coordinator decides what happens after.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferry_store::{AccountId, FileState, FolderId, HistoryEntry, Journal};

use crate::auth::Credentials;
use crate::error::EngineError;
use crate::events::Event;
use crate::file::LocalFile;
use crate::secret::Token;
use crate::target::{Protocol, Target};
use crate::upload::{FileJob, SendOptions, send_file};

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
    /// Set when only the facts changed: the sha1 uploaded last, to compare the content with
    /// before sending anything.
    pub(crate) verify_against: Option<String>,
}

/// How a job ended well.
#[derive(Debug)]
pub(crate) enum Done {
    /// The file is on the server.
    Uploaded(Box<HistoryEntry>),
    /// Its content had not changed since its last upload (a touch): nothing was sent.
    Unchanged,
}

/// What all jobs share: the HTTP client, the journal, and what is known of servers and
/// tokens.
pub(crate) struct Shared {
    pub(crate) http: reqwest::Client,
    pub(crate) journal: Arc<Mutex<Journal>>,
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

fn lock(journal: &Mutex<Journal>) -> std::sync::MutexGuard<'_, Journal> {
    journal
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs one file's upload. Errors found before the transport started are reported as a
/// `failed` event here (the transport reports its own).
pub(crate) async fn run(
    shared: Arc<Shared>,
    spec: JobSpec,
    options: SendOptions,
) -> Result<Done, EngineError> {
    let prepared = prepare(&shared, &spec).await;
    let (target, token) = match prepared {
        Ok(Some(ready)) => ready,
        Ok(None) => return Ok(Done::Unchanged),
        Err(err) => {
            (options.events)(Event::Failed {
                path: spec.path.display().to_string(),
                error: err.to_string(),
                permanent: err.is_permanent(),
            });
            return Err(err);
        }
    };
    let protocol = target.choose(spec.protocol)?;
    let job = FileJob {
        folder: Some(spec.folder),
        key: spec.rel.clone(),
        path: spec.path.clone(),
        remote: spec.remote.clone(),
        account: spec.account,
    };
    let options = SendOptions { token, ..options };
    let entry = send_file(
        &shared.journal,
        &shared.http,
        &target,
        protocol,
        &job,
        &options,
    )
    .await?;
    Ok(Done::Uploaded(Box::new(entry)))
}

/// Finds the server and token, and for a touched file whether its content changed; `None`
/// when it did not (the new facts are recorded and nothing is sent).
async fn prepare(
    shared: &Shared,
    spec: &JobSpec,
) -> Result<Option<(Arc<Target>, Option<Token>)>, EngineError> {
    if let Some(uploaded) = &spec.verify_against {
        let file = LocalFile::open(&spec.path)?;
        let sha1 = file.sha1().await?.to_hex();
        if &sha1 == uploaded {
            lock(&shared.journal).upsert_file(
                Some(spec.folder),
                &spec.rel,
                file.facts,
                Some(&sha1),
                FileState::Uploaded,
            )?;
            return Ok(None);
        }
    }
    let token = shared.token(&spec.server, &spec.user).await?;
    let target = shared.target(&spec.server, token.as_ref()).await?;
    Ok(Some((target, token)))
}
