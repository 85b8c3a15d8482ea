//! The disk layout under the data directory, and the rules for what a client may name.
//!
//! - `DIR/uploads/ID`: the bytes of an unfinished upload, appended as they arrive.
//! - `DIR/files/USER/PATH`: finished, verified uploads, put in place by one rename.
//!
//! Remote paths come from clients and are hostile until [`RemotePath::parse`] accepts them.
//! Knows nothing of protocols, accounts or the database.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::ServerError;

/// The longest remote path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// The longest path component accepted, in bytes (what common filesystems store).
pub const MAX_NAME_BYTES: usize = 255;

/// A relative path that is safe to store under a user's directory.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemotePath(String);

impl RemotePath {
    /// Accepts `path` if it is relative, non-empty, has no `.`/`..`/empty components, no
    /// NUL, control characters or backslashes, and fits the length limits.
    pub fn parse(path: &str) -> Result<Self, ServerError> {
        let refuse = |reason| ServerError::BadPath {
            path: path.chars().take(300).collect(),
            reason,
        };
        if path.is_empty() {
            return Err(refuse("the path is empty"));
        }
        if path.len() > MAX_PATH_BYTES {
            return Err(refuse("the path is longer than 4096 bytes"));
        }
        if path.starts_with('/') {
            return Err(refuse("absolute paths are not accepted"));
        }
        if path.chars().any(|c| c == '\0') {
            return Err(refuse("the path contains a NUL byte"));
        }
        if path.chars().any(char::is_control) {
            return Err(refuse("the path contains control characters"));
        }
        if path.contains('\\') {
            return Err(refuse(
                "backslashes are not accepted; separate folders with /",
            ));
        }
        for name in path.split('/') {
            match name {
                "" => return Err(refuse("the path has an empty component")),
                "." | ".." => return Err(refuse("`.` and `..` are not accepted in paths")),
                n if n.len() > MAX_NAME_BYTES => {
                    return Err(refuse("a name is longer than 255 bytes"));
                }
                _ => {}
            }
        }
        Ok(Self(path.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The data directory's layout.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    /// One publisher per stored path at a time (see [`Storage::lock_path`]).
    publishing: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Exclusive right to publish one stored path, until dropped.
#[derive(Debug)]
pub struct PathGuard {
    key: PathBuf,
    map: Arc<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>>,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for PathGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        // Nobody else holds or waits for it: forget it, so the map stays as small as the
        // number of paths being published right now.
        if map
            .get(&self.key)
            .is_some_and(|lock| Arc::strong_count(lock) == 1)
        {
            map.remove(&self.key);
        }
    }
}

impl Storage {
    /// Creates the directories under `root` if they are missing.
    pub fn open(root: &Path) -> Result<Self, ServerError> {
        for dir in [root.to_path_buf(), root.join("uploads"), root.join("files")] {
            fs::create_dir_all(&dir)
                .map_err(|e| ServerError::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(Self {
            root: root.to_path_buf(),
            publishing: Arc::default(),
        })
    }

    /// Waits for the right to publish user `user`'s `path`: moving a file into place and
    /// listing it happen under it, so two uploads finishing to one path at once leave the
    /// disk and the listing agreeing (the last one wins both).
    pub async fn lock_path(&self, user: &str, path: &RemotePath) -> PathGuard {
        let key = self.file_path(user, path);
        let lock = {
            let mut map = self
                .publishing
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key.clone()).or_default())
        };
        let guard = lock.lock_owned().await;
        PathGuard {
            key,
            map: Arc::clone(&self.publishing),
            guard: Some(guard),
        }
    }

    /// The data directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the bytes of unfinished upload `id` are kept. Ids are server-made hex.
    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// Where user `user`'s finished file `path` lives.
    pub fn file_path(&self, user: &str, path: &RemotePath) -> PathBuf {
        self.root.join("files").join(user).join(path.as_str())
    }

    /// Refuses a path that cannot be stored now because something is in the way: a file
    /// where one of its folders must be, or a folder of its name.
    pub fn check_storable(&self, user: &str, path: &RemotePath) -> Result<(), ServerError> {
        let files = self.root.join("files");
        let to = self.file_path(user, path);
        if let Some(blocking) = to
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&files))
            .find(|a| a.is_file())
        {
            return Err(ServerError::CannotStore(format!(
                "cannot store {}: {} is a file, not a folder; move it away on the server, then try again",
                path.as_str(),
                blocking
                    .strip_prefix(files.join(user))
                    .unwrap_or(blocking)
                    .display()
            )));
        }
        if to.is_dir() {
            return Err(ServerError::CannotStore(format!(
                "cannot store {}: a folder of that name is in the way on the server; move it away, then try again",
                path.as_str()
            )));
        }
        Ok(())
    }

    /// Puts a finished upload in place: flushes it, renames it over `DIR/files/USER/PATH`
    /// (replacing an older version in one step) and flushes the directory.
    pub fn publish(
        &self,
        upload_id: &str,
        user: &str,
        path: &RemotePath,
    ) -> Result<PathBuf, ServerError> {
        let from = self.upload_path(upload_id);
        let to = self.file_path(user, path);
        let parent = to
            .parent()
            .ok_or_else(|| ServerError::Internal("a file path has no parent".into()))?;
        self.check_storable(user, path)?;
        fs::create_dir_all(parent)
            .map_err(|e| ServerError::io(format!("creating the folder of {}", path.as_str()), e))?;
        fs::File::open(&from)
            .and_then(|f| f.sync_all())
            .map_err(|e| ServerError::io(format!("flushing upload {upload_id}"), e))?;
        fs::rename(&from, &to)
            .map_err(|e| ServerError::io(format!("moving upload {upload_id} into place"), e))?;
        // The rename is durable only once the directory itself is flushed.
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| ServerError::io(format!("flushing the folder of {}", path.as_str()), e))?;
        Ok(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_relative_paths() {
        for ok in [
            "a.txt",
            "photos/2024/IMG 0001.jpg",
            "ünïcødé/名前.txt",
            ".hidden",
            "a..b",
            "x/...y",
        ] {
            assert_eq!(RemotePath::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_hostile_paths() {
        let long_name = "n".repeat(256);
        let long_path = "d/".repeat(2100) + "f";
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            ".",
            "a//b",
            "a/",
            "a\0b",
            "a\\..\\b",
            "a\nb",
            &long_name,
            &long_path,
        ] {
            assert!(
                matches!(RemotePath::parse(bad), Err(ServerError::BadPath { .. })),
                "{bad:?} must be refused"
            );
        }
    }

    #[test]
    fn publish_replaces_an_older_version_and_refuses_file_folder_clashes() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let path = RemotePath::parse("docs/a.txt").unwrap();
        for (id, content) in [("u1", "first"), ("u2", "second")] {
            fs::write(storage.upload_path(id), content).unwrap();
            storage.publish(id, "ann", &path).unwrap();
        }
        assert_eq!(
            fs::read_to_string(storage.file_path("ann", &path)).unwrap(),
            "second"
        );
        assert!(
            !storage.upload_path("u2").exists(),
            "the upload's bytes moved, not copied"
        );

        fs::write(storage.upload_path("u3"), "x").unwrap();
        let below_file = RemotePath::parse("docs/a.txt/b").unwrap();
        assert!(matches!(
            storage.publish("u3", "ann", &below_file),
            Err(ServerError::CannotStore(_))
        ));
        let over_dir = RemotePath::parse("docs").unwrap();
        assert!(matches!(
            storage.publish("u3", "ann", &over_dir),
            Err(ServerError::CannotStore(_))
        ));
        assert!(
            storage.upload_path("u3").exists(),
            "a refused upload keeps its bytes"
        );
    }
}
