//! `ferry status`: the synced folders (files, pending, failed with reasons, and, while a
//! `ferry sync` runs, its watcher state, warnings and uploads in progress), then unfinished
//! one-shot uploads.

use ferry_engine::home::Home;
use ferry_engine::sync::report::Report;
use ferry_store::{FileState, Journal};

/// The folders part: one JSON object per folder.
fn folders(journal: &Journal, report: Option<&Report>) -> anyhow::Result<Vec<serde_json::Value>> {
    let failed = journal.synced_files_in_state(FileState::Failed)?;
    let pending = journal.synced_files_in_state(FileState::Pending)?;
    let mut rows = Vec::new();
    for folder in journal.folders()? {
        let counts = journal.file_counts(folder.id)?;
        let live = report.and_then(|r| r.folders.iter().find(|f| f.path == folder.path));
        let uploading: Vec<serde_json::Value> = report
            .map(|r| {
                r.activity
                    .queue
                    .iter()
                    .filter(|q| q.folder.as_deref() == Some(folder.path.as_str()))
                    .map(|q| serde_json::json!({"path": q.path, "size": q.size, "confirmed": q.confirmed, "state": q.state, "error": q.error}))
                    .collect()
            })
            .unwrap_or_default();
        let reasons = |files: &[(String, ferry_store::FileRecord)]| -> Vec<serde_json::Value> {
            files
                .iter()
                .filter(|(f, r)| *f == folder.path && r.last_error.is_some())
                .map(|(_, r)| serde_json::json!({"path": r.local_path, "error": r.last_error, "next_retry_at_ms": r.next_retry_at_ms}))
                .collect()
        };
        rows.push(serde_json::json!({
            "path": folder.path,
            "paused": folder.paused,
            "files": counts.known(),
            "uploaded": counts.uploaded,
            "pending": counts.pending + counts.uploading,
            "failed": reasons(&failed),
            "retrying": reasons(&pending),
            "watcher": live.map_or_else(|| serde_json::json!("stopped"), |l| serde_json::json!(l.watcher)),
            "warning": live.and_then(|l| l.warning.clone()),
            "uploading": uploading,
        }));
    }
    Ok(rows)
}

pub(crate) fn run(home: &Home, json: bool) -> anyhow::Result<()> {
    let journal = home.journal()?;
    let report = Report::read(home.dir());
    let folders = folders(&journal, report.as_ref())?;
    let open: Vec<_> = journal
        .open_uploads()?
        .into_iter()
        .filter(|(_, u)| {
            journal
                .file_by_id(u.upload.file)
                .ok()
                .flatten()
                .is_some_and(|f| f.folder.is_none())
        })
        .collect();
    if json {
        let uploads: Vec<serde_json::Value> = open
            .iter()
            .map(|(path, u)| {
                serde_json::json!({
                    "local_path": path,
                    "remote_path": u.upload.remote_path,
                    "protocol": u.upload.protocol.as_str(),
                    "size": u.upload.facts.size,
                    "confirmed": u.confirmed,
                    "attempts": u.attempts,
                    "last_error": u.last_error,
                })
            })
            .collect();
        let value = serde_json::json!({
            "sync": report.as_ref().map(|r| serde_json::json!({"pid": r.pid, "overview": r.overview})),
            "folders": folders,
            "uploads": uploads,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    match &report {
        Some(r) => println!(
            "ferry sync is running (pid {}): {}",
            r.pid, r.overview.message
        ),
        None if !folders.is_empty() => {
            println!("ferry sync is not running; start it with `ferry sync`.");
        }
        None => {}
    }
    print_folders(&folders);
    if folders.is_empty() && open.is_empty() {
        println!("Everything is uploaded: no upload is waiting to be continued.");
        return Ok(());
    }
    for (path, u) in &open {
        let size = u.upload.facts.size;
        let percent = (u.confirmed * 100).checked_div(size).unwrap_or(100);
        let error = u
            .last_error
            .as_deref()
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default();
        println!(
            "{path} -> {}: {percent}% confirmed ({} of {}){error}; run `ferry upload` again to continue",
            u.upload.remote_path,
            crate::render::bytes(u.confirmed),
            crate::render::bytes(size)
        );
    }
    Ok(())
}

/// The folders part as text.
fn print_folders(folders: &[serde_json::Value]) {
    for f in folders {
        println!(
            "{}{}: {} files, {} uploaded, {} pending, {} failed; watcher: {}",
            f["path"].as_str().unwrap_or(""),
            if f["paused"] == true { " (paused)" } else { "" },
            f["files"],
            f["uploaded"],
            f["pending"],
            f["failed"].as_array().map_or(0, Vec::len),
            f["watcher"].as_str().unwrap_or("stopped"),
        );
        if let Some(warning) = f["warning"].as_str() {
            println!("  warning: {warning}");
        }
        for u in f["uploading"].as_array().into_iter().flatten() {
            let (size, confirmed) = (
                u["size"].as_u64().unwrap_or(0),
                u["confirmed"].as_u64().unwrap_or(0),
            );
            println!(
                "  {} {}: {}% ({} of {})",
                u["state"].as_str().unwrap_or(""),
                u["path"].as_str().unwrap_or(""),
                (confirmed * 100).checked_div(size).unwrap_or(100),
                crate::render::bytes(confirmed),
                crate::render::bytes(size)
            );
        }
        for (label, key) in [("failed", "failed"), ("retrying", "retrying")] {
            for e in f[key].as_array().into_iter().flatten() {
                println!(
                    "  {label}: {}: {}",
                    e["path"].as_str().unwrap_or(""),
                    e["error"].as_str().unwrap_or("")
                );
            }
        }
    }
}
