//! A local file as the engine sees it: its facts (size, modification time, inode), its
//! whole-file sha1, ranges of it, and whether it changed. Nothing is ever read whole into
//! memory.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use ferry_store::FileFacts;

use crate::error::EngineError;

/// The size of one read.
const PIECE: usize = 256 * 1024;

/// A local file and the facts it had when the engine looked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    /// Its path.
    pub path: PathBuf,
    /// Its facts then.
    pub facts: FileFacts,
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |source| EngineError::File {
        path: path.to_path_buf(),
        source,
    }
}

/// The facts of the file at `path` now.
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: callers run it on the blocking pool or the journal thread"
)]
pub fn facts_of(path: &Path) -> Result<FileFacts, EngineError> {
    // Not `metadata`: a symbolic link is not followed, here or when the file is read.
    let meta = std::fs::symlink_metadata(path).map_err(read_error(path))?;
    if meta.file_type().is_symlink() {
        return Err(EngineError::File {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a symbolic link: Ferry uploads files, not links (name the file itself)",
            ),
        });
    }
    if !meta.is_file() {
        return Err(EngineError::File {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    Ok(facts_from(&meta))
}

/// The facts recorded in `meta` (from `metadata` or `symlink_metadata`).
pub fn facts_from(meta: &std::fs::Metadata) -> FileFacts {
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    FileFacts {
        size: meta.len(),
        mtime_ns,
        inode,
    }
}

impl LocalFile {
    /// Looks at the file at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, EngineError> {
        let path = path.into();
        let facts = facts_of(&path)?;
        Ok(Self { path, facts })
    }

    /// Looks at the file at `path` on the blocking pool (what async code uses).
    pub async fn open_async(path: impl Into<PathBuf>) -> Result<Self, EngineError> {
        let path = path.into();
        let at = path.clone();
        tokio::task::spawn_blocking(move || Self::open(at))
            .await
            .map_err(|e| EngineError::File {
                path,
                source: std::io::Error::other(e),
            })?
    }

    /// Fails with [`EngineError::FileChanged`] if the file is not as it was when looked at.
    pub fn check_unchanged(&self) -> Result<(), EngineError> {
        match facts_of(&self.path) {
            Ok(now) if now == self.facts => Ok(()),
            Ok(_) => Err(EngineError::FileChanged {
                path: self.path.clone(),
            }),
            Err(EngineError::File { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(EngineError::FileChanged {
                    path: self.path.clone(),
                })
            }
            Err(other) => Err(other),
        }
    }

    /// [`LocalFile::check_unchanged`] on the blocking pool (what async code uses).
    pub async fn check_unchanged_async(&self) -> Result<(), EngineError> {
        let file = self.clone();
        tokio::task::spawn_blocking(move || file.check_unchanged())
            .await
            .map_err(|e| EngineError::File {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            })?
    }

    /// The whole file's sha1, read in pieces on a blocking thread; fails if the file changes
    /// meanwhile.
    pub async fn sha1(&self) -> Result<Checksum, EngineError> {
        let file = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut handle = file.open_checked()?;
            let mut hasher = ChecksumAlgorithm::Sha1.hasher();
            let mut buf = vec![0u8; PIECE];
            loop {
                match handle.read(&mut buf).map_err(read_error(&file.path))? {
                    0 => break,
                    n => hasher.update(&buf[..n]),
                }
            }
            file.check_unchanged()?;
            Ok(hasher.finish())
        })
        .await
        .map_err(|e| EngineError::File {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?
    }

    /// Opens the file for reading (blocking) without following a symbolic link, and checks
    /// that what was opened is the file looked at (same inode, size and modification time):
    /// the bytes read from the handle are the scanned file's, whatever is swapped in at its
    /// path later. A link, another file or nothing at the path is
    /// [`EngineError::FileChanged`].
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: readers call it on a blocking thread"
    )]
    pub fn open_checked(&self) -> Result<std::fs::File, EngineError> {
        let changed = || EngineError::FileChanged {
            path: self.path.clone(),
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
        let handle = match options.open(&self.path) {
            Ok(handle) => handle,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(changed()),
            #[cfg(unix)]
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(changed()),
            Err(e) => return Err(read_error(&self.path)(e)),
        };
        let meta = handle.metadata().map_err(read_error(&self.path))?;
        if !meta.is_file() || facts_from(&meta) != self.facts {
            return Err(changed());
        }
        Ok(handle)
    }

    /// Reads bytes `start..start + buf.len()` into `buf` (blocking; for drivers that read a
    /// chunk at a time on a blocking thread).
    pub fn read_at(&self, start: u64, buf: &mut [u8]) -> Result<(), EngineError> {
        let mut handle = self.open_checked()?;
        handle
            .seek(SeekFrom::Start(start))
            .map_err(read_error(&self.path))?;
        handle.read_exact(buf).map_err(|source| {
            if source.kind() == std::io::ErrorKind::UnexpectedEof {
                EngineError::FileChanged {
                    path: self.path.clone(),
                }
            } else {
                EngineError::File {
                    path: self.path.clone(),
                    source,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_reads_ranges_and_notices_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"hello world").unwrap();
        let file = LocalFile::open(&path).unwrap();
        assert_eq!(file.facts.size, 11);
        assert_eq!(
            file.sha1().await.unwrap(),
            ChecksumAlgorithm::Sha1.digest(b"hello world")
        );
        let mut buf = [0u8; 5];
        file.read_at(6, &mut buf).unwrap();
        assert_eq!(&buf, b"world");
        file.check_unchanged().unwrap();
        std::fs::write(&path, b"hello world, again").unwrap();
        assert!(matches!(
            file.check_unchanged(),
            Err(EngineError::FileChanged { .. })
        ));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            file.check_unchanged(),
            Err(EngineError::FileChanged { .. })
        ));
        assert!(
            matches!(LocalFile::open(dir.path()), Err(EngineError::File { .. })),
            "a folder is not a file"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_symlink_swapped_in_is_never_read_through() {
        let dir = tempfile::tempdir().unwrap();
        let (path, secret) = (dir.path().join("f"), dir.path().join("secret"));
        std::fs::write(&path, b"public bytes").unwrap();
        std::fs::write(&secret, b"secret bytes").unwrap();
        let file = LocalFile::open(&path).unwrap();
        // The scanned file is swapped for a link to another file of the same size.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&secret, &path).unwrap();
        let mut buf = [0u8; 6];
        assert!(matches!(
            file.read_at(0, &mut buf),
            Err(EngineError::FileChanged { .. })
        ));
        assert!(matches!(
            file.sha1().await,
            Err(EngineError::FileChanged { .. })
        ));
        assert!(matches!(
            file.open_checked(),
            Err(EngineError::FileChanged { .. })
        ));
        let refused = LocalFile::open(&path).unwrap_err().to_string();
        assert!(refused.contains("symbolic link"), "{refused}");
    }
}
