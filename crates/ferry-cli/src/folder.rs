//! `ferry folder add|list|remove`: the folders Ferry keeps uploaded, through the service
//! (which holds the rules: no overlapping folders, a clean remote prefix, which account).
//! Only the journal changes here; a running `ferry sync` takes the change at its next
//! start.

use std::path::Path;

use anyhow::bail;
use ferry_engine::service::{FolderView, NewFolder, Service, ServiceError};

use crate::cli::{FolderAddArgs, FolderCommand};
use crate::render::{json, pretty};

/// `dir` as an absolute path (relative to where ferry runs), as text.
fn absolute(dir: &Path) -> anyhow::Result<String> {
    let dir = std::path::absolute(dir)?;
    match dir.to_str() {
        Some(path) => Ok(path.to_owned()),
        None => bail!("{} is not valid UTF-8; Ferry cannot sync it", dir.display()),
    }
}

pub(crate) async fn run(
    service: &Service,
    command: &FolderCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        FolderCommand::Add(args) => add(service, args, json).await,
        FolderCommand::List => list(service, json).await,
        FolderCommand::Remove(args) => {
            let path = absolute(&args.dir)?;
            let removed = match service.remove_folder(&path).await {
                Ok(removed) => removed,
                Err(ServiceError::NotFound(_)) => {
                    bail!("{path} is not a synced folder (see `ferry folder list`)")
                }
                Err(err) => return Err(err.into()),
            };
            if !json {
                println!(
                    "{removed} is no longer synced; nothing was deleted here or on the server."
                );
            }
            Ok(())
        }
    }
}

async fn add(service: &Service, args: &FolderAddArgs, as_json: bool) -> anyhow::Result<()> {
    let new = NewFolder {
        path: absolute(&args.dir)?,
        server: args.server.clone(),
        user: args.user.clone(),
        remote_prefix: args.remote.clone(),
        protocol: args.protocol,
    };
    let folder = match service.add_folder(new).await {
        Ok(folder) => folder,
        Err(ServiceError::InvalidInput {
            field: "user",
            message,
        }) => {
            bail!("{message} Name it with --user.")
        }
        Err(err) => return Err(err.into()),
    };
    if as_json {
        println!("{}", json(&folder)?);
    } else {
        println!(
            "{} is synced to {}{}; run `ferry sync` to upload it.",
            folder.path,
            folder.server,
            under(&folder)
        );
    }
    Ok(())
}

/// ` under PREFIX/`, or nothing for a folder at the top of the server.
fn under(folder: &FolderView) -> String {
    if folder.remote_prefix.is_empty() {
        String::new()
    } else {
        format!(" under {}/", folder.remote_prefix)
    }
}

async fn list(service: &Service, as_json: bool) -> anyhow::Result<()> {
    let folders = service.folders().await?;
    if as_json {
        println!("{}", pretty(&folders)?);
        return Ok(());
    }
    if folders.is_empty() {
        println!("No folders are synced; add one with `ferry folder add DIR --server URL`.");
    }
    for f in &folders {
        println!(
            "{} -> {}{}{}: {} uploaded, {} pending, {} failed",
            f.path,
            f.server,
            under(f),
            if f.paused { " (paused)" } else { "" },
            f.uploaded,
            f.pending + f.uploading,
            f.failed,
        );
    }
    Ok(())
}
