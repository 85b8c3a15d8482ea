//! Ignore rules: which paths of a synced folder are never uploaded. Built-in defaults
//! ([`DEFAULT_RULES`]) plus `.ferryignore` files in gitignore syntax, one per folder level
//! (a nested file applies below its folder, and a deeper file wins over a shallower one, the
//! user's files over the defaults, so `!*.tmp` in a `.ferryignore` uploads `.tmp` files again).
//!
//! `.ferryignore` itself is not uploaded: it is local configuration, like the defaults. A
//! malformed line is skipped and reported in [`Rules::warnings`]; it never stops a folder.
//! This module knows nothing of the journal, the watcher or the network.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::error::EngineError;

/// The name of the per-folder ignore file.
pub const IGNORE_FILE: &str = ".ferryignore";

/// Paths never uploaded unless a `.ferryignore` whitelists them (gitignore syntax).
pub const DEFAULT_RULES: &[&str] = &[
    // Editors' swap, backup, lock and safe-write files.
    "*.swp",
    "*.swo",
    "*.swx",
    "\\#*#",
    ".#*",
    "*~",
    "*___jb_*___",
    ".*.kate-swp",
    ".goutputstream-*",
    "*.tmp",
    // Office suites' lock files.
    ".~lock.*#",
    "~$*",
    // What file managers and operating systems leave behind.
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    ".Trash-*",
    // Downloads still under way.
    "*.part",
    "*.crdownload",
    "*.partial",
    "*.download",
    "*.!qB",
    // Ferry's own files, and its local configuration.
    ".ferry-*",
    IGNORE_FILE,
];

/// The ignore rules of one synced folder.
#[derive(Debug, Clone)]
pub struct Rules {
    /// The defaults and the root's `.ferryignore` (its lines after the defaults, so they win).
    root: Gitignore,
    /// The nested `.ferryignore` files, by folder relative to the root, shallowest first.
    nested: Vec<(PathBuf, Gitignore)>,
    warnings: Vec<String>,
}

impl Rules {
    /// Defaults plus ROOT/.ferryignore and any .ferryignore in subfolders (gitignore
    /// semantics: a nested file applies below its folder). Fails only if the root cannot be
    /// read, or an ignore file exists but cannot be read (uploading what the user meant to
    /// keep local would be worse than not syncing).
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: rules load on the blocking pool"
    )]
    pub fn load(root: &Path) -> Result<Rules, EngineError> {
        std::fs::read_dir(root).map_err(|source| EngineError::File {
            path: root.to_path_buf(),
            source,
        })?;
        let mut warnings = Vec::new();
        let mut builder = default_builder();
        let file = root.join(IGNORE_FILE);
        add_file(&mut builder, &file, &mut warnings)?;
        let mut rules = Rules {
            root: build(&builder, &file, &mut warnings).unwrap_or_else(|| Rules::defaults().root),
            nested: Vec::new(),
            warnings,
        };
        rules.find_nested(root, Path::new(""))?;
        Ok(rules)
    }

    /// Rules with the defaults only (for folders whose ignore files do not matter, and tests).
    ///
    /// # Panics
    /// Never: the defaults are constants, all valid (the tests build them).
    pub fn defaults() -> Rules {
        Rules {
            root: default_builder()
                .build()
                .expect("the default ignore rules build"),
            nested: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The problems found in ignore files (each a sentence naming the file and line).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// `rel` is relative to the root. A path under an ignored directory is ignored.
    pub fn is_ignored(&self, rel: &Path, is_dir: bool) -> bool {
        let mut prefix = PathBuf::new();
        let mut parts = rel.components().peekable();
        while let Some(part) = parts.next() {
            prefix.push(part);
            let last = parts.peek().is_none();
            if self.is_ignored_here(&prefix, if last { is_dir } else { true }) {
                return true;
            }
        }
        false
    }

    /// Whether `rel` itself matches, assuming its parent folders are not ignored (the
    /// scanner checks folders before it enters them).
    pub(crate) fn is_ignored_here(&self, rel: &Path, is_dir: bool) -> bool {
        for (dir, rules) in self.nested.iter().rev() {
            let Ok(below) = rel.strip_prefix(dir) else {
                continue;
            };
            match rules.matched(below, is_dir) {
                Match::None => {}
                Match::Ignore(_) => return true,
                Match::Whitelist(_) => return false,
            }
        }
        self.root.matched(rel, is_dir).is_ignore()
    }

    /// Walks the folders below `dir` (relative `rel`), skipping ignored ones, and loads their
    /// ignore files. Folders that cannot be read are left to the scanner to report.
    #[expect(
        clippy::disallowed_methods,
        reason = "blocking by design: rules load on the blocking pool"
    )]
    fn find_nested(&mut self, dir: &Path, rel: &Path) -> Result<(), EngineError> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut subdirs = Vec::new();
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let child = rel.join(entry.file_name());
                if !self.is_ignored_here(&child, true) {
                    subdirs.push((entry.path(), child));
                }
            }
        }
        for (path, child) in subdirs {
            let file = path.join(IGNORE_FILE);
            let mut builder = GitignoreBuilder::new(".");
            if add_file(&mut builder, &file, &mut self.warnings)?
                && let Some(rules) = build(&builder, &file, &mut self.warnings)
            {
                self.nested.push((child.clone(), rules));
            }
            self.find_nested(&path, &child)?;
        }
        Ok(())
    }
}

fn default_builder() -> GitignoreBuilder {
    let mut builder = GitignoreBuilder::new(".");
    for line in DEFAULT_RULES {
        builder
            .add_line(None, line)
            .expect("the default ignore rules are valid");
    }
    builder
}

/// Adds the lines of the ignore file at `path`, skipping (and reporting) malformed ones.
/// Returns whether the file exists.
#[expect(
    clippy::disallowed_methods,
    reason = "blocking by design: rules load on the blocking pool"
)]
fn add_file(
    builder: &mut GitignoreBuilder,
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<bool, EngineError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(EngineError::File {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    for (n, line) in text.lines().enumerate() {
        if let Err(e) = builder.add_line(Some(path.to_path_buf()), line) {
            warnings.push(format!(
                "{} line {}: {line:?} is not a valid ignore rule ({e}); it is skipped",
                path.display(),
                n + 1
            ));
        }
    }
    Ok(true)
}

/// Builds the matcher; if that fails as a whole, the file's rules are dropped with a warning
/// (each line was checked alone, so this should not happen).
fn build(builder: &GitignoreBuilder, path: &Path, warnings: &mut Vec<String>) -> Option<Gitignore> {
    builder
        .build()
        .map_err(|e| {
            warnings.push(format!(
                "{}: its rules cannot be used ({e}); they are skipped",
                path.display()
            ));
        })
        .ok()
}

#[cfg(test)]
mod tests;
