//! One engine per home: an exclusive advisory lock on `HOME/engine.lock`, so a second
//! `ferry sync` on the same home is refused instead of writing the same journal.
//!
//! The lock is the OS's (std's `File::try_lock`: `flock` on Unix, `LockFileEx` on
//! Windows), so it goes away with the process even if it is killed. The holder's pid is
//! written into the file only to name it in the refusal; it decides nothing. This module
//! knows nothing of the journal or of what the engine does while it holds the lock.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::EngineError;

/// The name of the lock file in the home directory.
pub const LOCK_FILE: &str = "engine.lock";

/// The engine lock of a home; released when dropped (and by the OS if the process dies).
#[derive(Debug)]
pub struct HomeLock {
    // Held open for the lock's lifetime: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl HomeLock {
    /// Takes the lock of the home at `home_dir` (which must exist), without waiting.
    ///
    /// Fails with [`EngineError::Busy`] (naming the holder's pid when it can be read) if
    /// another engine holds it, or [`EngineError::File`] if the lock file cannot be opened.
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: taken once at start-up on the blocking pool"
    )]
    pub fn acquire(home_dir: &Path) -> Result<HomeLock, EngineError> {
        let path = home_dir.join(LOCK_FILE);
        let file_error = |source| EngineError::File {
            path: path.clone(),
            source,
        };
        // Not `truncate`: until we hold the lock, the pid in the file is the holder's.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(file_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(EngineError::Busy {
                    home: home_dir.to_path_buf(),
                    pid: holder_pid(&path),
                });
            }
            Err(TryLockError::Error(source)) => return Err(file_error(source)),
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(file_error)?;
        Ok(HomeLock { _file: file, path })
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The pid the holder wrote, if it can be read (on Windows the locked file cannot be).
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: part of acquire"
)]
fn holder_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_acquire_is_refused_naming_the_holders_pid() {
        let home = tempfile::tempdir().unwrap();
        let _held = HomeLock::acquire(home.path()).unwrap();
        let err = HomeLock::acquire(home.path()).expect_err("the home is already locked");
        match &err {
            EngineError::Busy { home: h, pid } => {
                assert_eq!(h, home.path());
                assert_eq!(*pid, Some(std::process::id()), "the holder is this process");
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.contains(&format!("pid {}", std::process::id()))
                && message.contains(&home.path().display().to_string())
                && message.contains("--home"),
            "the message names the pid, the home and the way out: {message}"
        );
        assert!(
            !err.is_retryable(),
            "only the person can stop the other Ferry"
        );
    }

    #[test]
    fn dropping_the_lock_lets_the_next_engine_take_it() {
        let home = tempfile::tempdir().unwrap();
        let first = HomeLock::acquire(home.path()).unwrap();
        assert_eq!(first.path(), home.path().join(LOCK_FILE));
        drop(first);
        let _second = HomeLock::acquire(home.path()).expect("the lock was released on drop");
    }

    #[test]
    fn the_lock_excludes_any_other_open_of_the_file() {
        // flock belongs to the open file description, so an independent open in this same
        // process competes exactly as another process would.
        let home = tempfile::tempdir().unwrap();
        let held = HomeLock::acquire(home.path()).unwrap();
        let other = File::open(held.path()).unwrap();
        assert!(
            matches!(other.try_lock(), Err(TryLockError::WouldBlock)),
            "another open of engine.lock must not get the lock while it is held"
        );
        drop(held);
        other.try_lock().expect("free once the holder is dropped");
        // And now the engine is the one refused.
        assert!(matches!(
            HomeLock::acquire(home.path()),
            Err(EngineError::Busy { .. })
        ));
    }

    #[test]
    fn a_stale_pid_left_by_a_dead_holder_does_not_block() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(LOCK_FILE), "4242\n").unwrap();
        let held = HomeLock::acquire(home.path()).expect("no process holds the lock");
        let written = std::fs::read_to_string(held.path()).unwrap();
        assert_eq!(
            written.trim(),
            std::process::id().to_string(),
            "the pid is replaced"
        );
    }
}
