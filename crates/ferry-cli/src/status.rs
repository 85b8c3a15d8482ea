//! `ferry status`: what the service's [`Status`] says: the synced folders (files, pending,
//! failed with reasons, and, while a `ferry sync` runs, its watcher state, warnings and
//! uploads in progress), then unfinished one-shot uploads. Text, or the [`Status`] as JSON.

use ferry_engine::service::{FolderStatus, Service, Status};

use crate::render::{bytes, name, pretty};

pub(crate) async fn run(service: &Service, json: bool) -> anyhow::Result<()> {
    let status = service.status().await?;
    if json {
        println!("{}", pretty(&status)?);
        return Ok(());
    }
    let Status {
        sync,
        folders,
        uploads,
    } = &status;
    match sync {
        Some(run) => {
            println!(
                "ferry sync is running (pid {}): {}",
                run.pid, run.overview.message
            );
            if let Some(hold) = &run.overview.hold {
                println!("{}", hold.message);
            }
            if let Some(scheduled) = &run.overview.scheduled {
                println!("{}", scheduled.message);
            }
        }
        None if !folders.is_empty() => {
            println!("ferry sync is not running; start it with `ferry sync`.");
        }
        None => {}
    }
    print_folders(folders);
    if folders.is_empty() && uploads.is_empty() {
        println!("Everything is uploaded: no upload is waiting to be continued.");
        return Ok(());
    }
    for u in uploads {
        let percent = (u.confirmed * 100).checked_div(u.size).unwrap_or(100);
        let error = u
            .last_error
            .as_deref()
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default();
        println!(
            "{} -> {}: {percent}% confirmed ({} of {}){error}; run `ferry upload` again to continue",
            u.local_path,
            u.remote_path,
            bytes(u.confirmed),
            bytes(u.size)
        );
    }
    Ok(())
}

/// The folders part as text.
fn print_folders(folders: &[FolderStatus]) {
    for f in folders {
        println!(
            "{}{}: {} files, {} uploaded, {} pending, {} failed; watcher: {}",
            f.path,
            if f.paused { " (paused)" } else { "" },
            f.files,
            f.uploaded,
            f.pending,
            f.failed.len(),
            name(&f.watcher),
        );
        if let Some(warning) = &f.warning {
            println!("  warning: {warning}");
        }
        if let Some(hold) = &f.hold {
            println!("  {}", hold.message);
        }
        for u in &f.uploading {
            let state = if u.waiting_for_server {
                "waiting for the server".to_owned()
            } else if u.waiting_for_space {
                "waiting for space on the server".to_owned()
            } else {
                name(&u.state)
            };
            // Where the window's bar stands: bytes on their way or confirmed.
            let reached = u.sent.max(u.confirmed).min(u.size);
            println!(
                "  {state} {}: {}% ({} of {})",
                u.path,
                (reached * 100).checked_div(u.size).unwrap_or(100),
                bytes(reached),
                bytes(u.size)
            );
        }
        for (label, problems) in [("failed", &f.failed), ("retrying", &f.retrying)] {
            for e in problems {
                println!("  {label}: {}: {}", e.path, e.error);
            }
        }
    }
}
