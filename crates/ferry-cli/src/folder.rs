//! `ferry folder add|list|remove`: the folders Ferry keeps uploaded. Only the journal
//! changes here; a running `ferry sync` takes the change at its next start.

use anyhow::{Context, bail};
use ferry_engine::home::Home;
use ferry_store::{Journal, Protocol};

use crate::cli::{FolderAddArgs, FolderCommand, ProtocolArg};

pub(crate) fn run(home: &Home, command: &FolderCommand, json: bool) -> anyhow::Result<()> {
    let journal = home.journal()?;
    match command {
        FolderCommand::Add(args) => add(&journal, args, json),
        FolderCommand::List => list(&journal, json),
        FolderCommand::Remove(args) => {
            let dir = std::fs::canonicalize(&args.dir).unwrap_or_else(|_| args.dir.clone());
            let path = dir.to_string_lossy();
            if !journal.remove_folder(&path)? {
                bail!("{path} is not a synced folder (see `ferry folder list`)");
            }
            if !json {
                println!("{path} is no longer synced; nothing was deleted here or on the server.");
            }
            Ok(())
        }
    }
}

fn add(journal: &Journal, args: &FolderAddArgs, json: bool) -> anyhow::Result<()> {
    let dir = std::fs::canonicalize(&args.dir)
        .with_context(|| format!("cannot use {} as a synced folder", args.dir.display()))?;
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let path = dir
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8; Ferry cannot sync it", dir.display()))?;
    if let Some(clash) = journal.folders()?.into_iter().find(|f| {
        let other = std::path::Path::new(&f.path);
        other != dir && (dir.starts_with(other) || other.starts_with(&dir))
    }) {
        bail!(
            "{path} overlaps the synced folder {}; a file must belong to one folder only",
            clash.path
        );
    }
    // The account signed in at that server, or a new one without a user (a server that
    // needs no sign-in, or FERRY_TOKEN).
    let user = journal
        .accounts()?
        .into_iter()
        .find(|a| a.server_url == args.server)
        .map(|a| a.user)
        .unwrap_or_default();
    let account = journal.account(&args.server, &user)?;
    let protocol = args.protocol.map(|p| match p {
        ProtocolArg::Tus => Protocol::Tus,
        ProtocolArg::Galileo => Protocol::Galileo,
    });
    let remote = args.remote.as_deref().unwrap_or("").trim_matches('/');
    let folder = journal.add_folder(path, account.id, remote, protocol)?;
    if json {
        println!(
            "{}",
            serde_json::json!({"path": folder.path, "server": args.server, "remote": remote})
        );
    } else {
        println!(
            "{} is synced to {}{}; run `ferry sync` to upload it.",
            folder.path,
            args.server,
            if remote.is_empty() {
                String::new()
            } else {
                format!(" under {remote}/")
            }
        );
    }
    Ok(())
}

fn list(journal: &Journal, json: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for folder in journal.folders()? {
        let account = journal.account_by_id(folder.account)?;
        let counts = journal.file_counts(folder.id)?;
        rows.push(serde_json::json!({
            "path": folder.path,
            "server": account.as_ref().map(|a| a.server_url.clone()),
            "user": account.as_ref().map(|a| a.user.clone()),
            "remote": folder.remote_prefix,
            "protocol": folder.protocol.map(Protocol::as_str),
            "paused": folder.paused,
            "uploaded": counts.uploaded,
            "pending": counts.pending + counts.uploading,
            "failed": counts.failed,
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("No folders are synced; add one with `ferry folder add DIR --server URL`.");
    }
    for row in &rows {
        println!(
            "{} -> {}{}{}: {} uploaded, {} pending, {} failed",
            row["path"].as_str().unwrap_or(""),
            row["server"].as_str().unwrap_or("?"),
            match row["remote"].as_str() {
                Some(r) if !r.is_empty() => format!(" under {r}/"),
                _ => String::new(),
            },
            if row["paused"] == true {
                " (paused)"
            } else {
                ""
            },
            row["uploaded"],
            row["pending"],
            row["failed"],
        );
    }
    Ok(())
}
