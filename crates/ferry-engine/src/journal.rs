//! The journal door: the one way async code reaches the journal. The [`Journal`] (SQLite)
//! lives on a thread of its own; callers hand it a closure with [`JournalDoor::call`] and
//! await the answer, so no tokio worker ever waits on SQLite or a disk flush.
//!
//! Calls that arrive together are run together in one transaction and made durable by one
//! flush (group commit): a job's per-chunk progress, the sync driver's planning of a batch of
//! files and a history row written at the same moment cost one fsync, not three. A call's
//! answer is sent only after that commit, so what a caller is told was written is on disk;
//! if the commit fails, every call of the group is told so (none of their writes is kept).
//!
//! Knows nothing of uploads, folders or sync: it only carries closures to the journal.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;

use ferry_store::{Journal, StoreError};
use tokio::sync::{mpsc, oneshot};

use crate::error::EngineError;

/// Calls waiting for the journal thread before callers wait to hand in more (backpressure,
/// not an unbounded queue).
const QUEUE: usize = 256;

/// At most this many calls are committed together (bounds how long the first waits).
const GROUP: usize = 64;

/// What the thread runs: a call's closure, which leaves behind what to answer once the
/// group's commit is known.
type Job = Box<dyn FnOnce(&mut Journal) -> Answer + Send>;
type Answer = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// The handle to the journal thread; cheap to clone. The thread ends when the last handle
/// is dropped, after the calls already handed in.
#[derive(Clone)]
pub struct JournalDoor {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for JournalDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalDoor").finish_non_exhaustive()
    }
}

impl JournalDoor {
    /// Opens (creating or migrating) the journal at `path` on a new thread.
    #[expect(
        clippy::disallowed_methods,
        reason = "the journal opens on its own thread, not on a tokio worker"
    )]
    pub async fn open(path: PathBuf) -> Result<Self, EngineError> {
        Self::spawn(move || Journal::open(&path)).await
    }

    /// A journal in memory, for tests.
    #[expect(
        clippy::disallowed_methods,
        reason = "the journal opens on its own thread, not on a tokio worker"
    )]
    pub async fn in_memory() -> Result<Self, EngineError> {
        Self::spawn(Journal::open_in_memory).await
    }

    async fn spawn(
        open: impl FnOnce() -> Result<Journal, StoreError> + Send + 'static,
    ) -> Result<Self, EngineError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let (opened, is_open) = oneshot::channel();
        std::thread::Builder::new()
            .name("ferry-journal".to_owned())
            .spawn(move || match open() {
                Ok(journal) => {
                    let _ = opened.send(Ok(()));
                    serve(journal, queue);
                }
                Err(err) => {
                    let _ = opened.send(Err(err));
                }
            })
            .map_err(|source| EngineError::File {
                path: PathBuf::from("journal thread"),
                source,
            })?;
        match is_open.await {
            Ok(Ok(())) => Ok(Self { jobs }),
            Ok(Err(err)) => Err(err.into()),
            Err(_) => Err(StoreError::Closed.into()),
        }
    }

    /// The certificates people trusted at sign-in, as the pins of [`crate::tls::Trust`]. A
    /// row that holds no fingerprint (only another program could have written it) is
    /// skipped with a warning: it trusts nothing.
    pub async fn pins(&self) -> Result<Vec<crate::tls::Pin>, EngineError> {
        let rows = self.call(|j| Ok(j.trusted_certificates()?)).await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| match row.sha256.parse() {
                Ok(fingerprint) => Some(crate::tls::Pin {
                    authority: row.authority,
                    fingerprint,
                }),
                Err(err) => {
                    tracing::warn!(authority = %row.authority, %err, "a trusted certificate in the journal is not a fingerprint; ignored");
                    None
                }
            })
            .collect())
    }

    /// Runs `f` on the journal thread, inside the transaction of its group, and returns what
    /// it returned once that transaction is durable. `f` must not start a batch of its own.
    pub async fn call<T, F>(&self, f: F) -> Result<T, EngineError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Journal) -> Result<T, EngineError> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |journal| {
            let out = f(journal);
            Box::new(move |commit| {
                let out = match commit {
                    Ok(()) => out,
                    Err(err) => Err(StoreError::NotCommitted(err.to_string()).into()),
                };
                let _ = answer.send(out);
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| EngineError::from(StoreError::Closed))?;
        // Dropped unanswered only if the closure panicked (or the thread ended).
        answered.await.unwrap_or(Err(StoreError::Closed.into()))
    }
}

/// The journal thread: takes what is waiting (up to [`GROUP`] calls), runs it in one
/// transaction, answers, and waits for more.
fn serve(mut journal: Journal, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut group = vec![first];
        while group.len() < GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(group.len());
        let committed = journal.batch(|journal| {
            for job in group {
                // A panicking call loses its own answer (its caller is told the journal is
                // closed), not the thread or the others' writes.
                if let Ok(answer) = std::panic::catch_unwind(AssertUnwindSafe(|| job(journal))) {
                    answers.push(answer);
                }
            }
        });
        for answer in answers {
            answer(committed.as_ref().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_run_in_order_and_their_writes_are_seen_by_later_calls() {
        let door = JournalDoor::in_memory().await.unwrap();
        let account = door
            .call(|j| Ok(j.account("https://s.example", "ann")?))
            .await
            .unwrap();
        let again = door
            .call(move |j| Ok(j.account_by_id(account.id)?))
            .await
            .unwrap();
        assert_eq!(again.map(|a| a.user), Some("ann".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_callers_at_once_are_all_answered() {
        let door = JournalDoor::in_memory().await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..500 {
            let door = door.clone();
            tasks.spawn(async move {
                door.call(move |j| Ok(j.account("https://s.example", &format!("u{i}"))?.id))
                    .await
            });
        }
        let mut ids = std::collections::HashSet::new();
        while let Some(done) = tasks.join_next().await {
            assert!(
                ids.insert(done.unwrap().unwrap()),
                "each call wrote its own row"
            );
        }
        assert_eq!(ids.len(), 500);
        let all = door.call(|j| Ok(j.accounts()?.len())).await.unwrap();
        assert_eq!(all, 500);
    }

    #[tokio::test]
    async fn a_failing_call_gets_its_error_and_the_door_stays_open() {
        let door = JournalDoor::in_memory().await.unwrap();
        let failed = door
            .call(|_| -> Result<(), EngineError> { Err(StoreError::Closed.into()) })
            .await;
        assert!(failed.is_err());
        let panicked = door
            .call(|_| -> Result<(), EngineError> { panic!("a bug") })
            .await;
        assert!(
            panicked.is_err(),
            "a panicking call is answered with an error"
        );
        let ok = door.call(|j| Ok(j.accounts()?.len())).await.unwrap();
        assert_eq!(ok, 0);
    }

    #[tokio::test]
    async fn a_journal_that_cannot_be_opened_says_so_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let err = JournalDoor::open(dir.path().join("missing/dir/journal.db"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot open the journal"), "{err}");
    }
}
