//! The scanner: one walk of a synced folder, collecting the facts (size, mtime, inode) of every
//! regular file that is not ignored, and the comparison of such a walk with the journal. It
//! stats each file once and reads no content; symbolic links are never followed. It knows
//! nothing of the journal's storage, uploads or the watcher.

use std::collections::{HashMap, HashSet};
use std::fs::ReadDir;
use std::hash::BuildHasher;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use ferry_store::FileFacts;

use super::ignore::Rules;
use crate::error::EngineError;
use crate::file::facts_from;

/// What one walk of a folder found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scanned {
    /// Every regular file not ignored: its path relative to the root ('/' separators, UTF-8),
    /// sorted by path, and its facts.
    pub files: Vec<(String, FileFacts)>,
    /// What was skipped and why (unreadable folders, names that are not UTF-8, symbolic
    /// links, pipes and devices): each a sentence with the path.
    pub problems: Vec<String>,
}

/// Walks the folder `root`, leaving out what `rules` ignore. Fails only if `root` itself is
/// missing or unreadable; anything below it that cannot be read becomes a problem, and a file
/// that vanishes during the walk is simply not there.
pub fn scan(root: &Path, rules: &Rules) -> Result<Scanned, EngineError> {
    scan_with(root, "", rules, &mut |_| {})
}

/// [`scan`] of the directory `rel` (relative to `root`, not ignored) only: what a new
/// directory brought, without walking the rest of the folder. Paths stay relative to `root`.
pub fn scan_under(root: &Path, rel: &str, rules: &Rules) -> Result<Scanned, EngineError> {
    scan_with(root, rel, rules, &mut |_| {})
}

/// [`scan`] from `start` (relative to `root`; empty: all of it), calling `before_stat` with
/// each file's relative path just before its facts are read (tests use it to change the
/// folder under the walk).
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: scans run on the blocking pool"
)]
fn scan_with(
    root: &Path,
    start: &str,
    rules: &Rules,
    before_stat: &mut dyn FnMut(&str),
) -> Result<Scanned, EngineError> {
    let top = if start.is_empty() {
        root.to_path_buf()
    } else {
        root.join(start)
    };
    let first = std::fs::read_dir(&top).map_err(|source| EngineError::File {
        path: top.clone(),
        source,
    })?;
    let mut out = Scanned::default();
    let mut folders: Vec<(PathBuf, String, Option<ReadDir>)> =
        vec![(top, start.to_owned(), Some(first))];
    while let Some((dir, rel, entries)) = folders.pop() {
        let entries = match entries.map_or_else(|| std::fs::read_dir(&dir), Ok) {
            Ok(entries) => entries,
            // Removed since its parent was read.
            Err(e) if is_gone(&e) => continue,
            Err(e) => {
                out.problems.push(format!(
                    "cannot read the folder {}: {e}; its files are skipped",
                    dir.display()
                ));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    out.problems.push(format!(
                        "cannot read all of the folder {}: {e}; some of its files may be skipped",
                        dir.display()
                    ));
                    break;
                }
            };
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                out.problems.push(format!(
                    "{} has a name that is not valid UTF-8, so it is skipped; rename it to sync it",
                    entry.path().display()
                ));
                continue;
            };
            let child = if rel.is_empty() {
                name.to_owned()
            } else {
                format!("{rel}/{name}")
            };
            let Ok(kind) = entry.file_type() else {
                continue; // Gone since the folder was read.
            };
            let is_dir = kind.is_dir();
            if rules.is_ignored_here(Path::new(&child), is_dir) {
                continue;
            }
            if is_dir {
                folders.push((entry.path(), child, None));
            } else if kind.is_symlink() {
                out.problems.push(format!(
                    "{} is a symbolic link; Ferry does not follow links, so it is skipped",
                    entry.path().display()
                ));
            } else if !kind.is_file() {
                out.problems.push(format!(
                    "{} is not a regular file (a pipe, socket or device), so it is skipped",
                    entry.path().display()
                ));
            } else {
                before_stat(&child);
                match entry.metadata() {
                    // A file replaced by something else since the folder was read is left
                    // to the next scan.
                    Ok(meta) if meta.is_file() => out.files.push((child, facts_from(&meta))),
                    Ok(_) => {}
                    Err(e) if is_gone(&e) => {}
                    Err(e) => out.problems.push(format!(
                        "cannot read the facts of {}: {e}; it is skipped",
                        entry.path().display()
                    )),
                }
            }
        }
    }
    out.files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn is_gone(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// The facts of the regular file at `path` (not following a symbolic link); `None` if it is
/// gone or not a regular file.
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: scans run on the blocking pool"
)]
pub fn facts_of(path: &Path) -> std::io::Result<Option<FileFacts>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => Ok(Some(facts_from(&meta))),
        Ok(_) => Ok(None),
        Err(e) if is_gone(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A scan compared with the journal's rows for the folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Paths on disk that are new or whose facts differ from the journal's, sorted.
    pub changed: Vec<String>,
    /// Paths the journal knows that the scan did not find, sorted.
    pub gone: Vec<String>,
    /// How many paths on disk have the journal's facts.
    pub unchanged: usize,
}

/// Compares `scanned` with `known` (the journal's facts by relative path). Pass the rows that
/// are not marked deleted; a deleted row passed here comes back in `gone`, which the planner
/// turns into nothing.
pub fn diff<S: BuildHasher>(scanned: &Scanned, known: &HashMap<String, FileFacts, S>) -> Diff {
    let mut out = Diff::default();
    let mut seen = HashSet::with_capacity(scanned.files.len());
    for (path, facts) in &scanned.files {
        seen.insert(path.as_str());
        if known.get(path) == Some(facts) {
            out.unchanged += 1;
        } else {
            out.changed.push(path.clone());
        }
    }
    out.gone = known
        .keys()
        .filter(|path| !seen.contains(path.as_str()))
        .cloned()
        .collect();
    out.gone.sort_unstable();
    out
}

#[cfg(test)]
mod tests;
