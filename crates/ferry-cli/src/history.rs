//! `ferry history`: the journal's history, newest first, as a table or JSON.

use ferry_engine::home::Home;
use ferry_store::{HistoryEntry, HistoryQuery};
use serde::Serialize;

use crate::cli::HistoryArgs;
use crate::render::{bytes, when};

#[derive(Serialize)]
struct Row<'a> {
    local_path: &'a str,
    folder: Option<&'a str>,
    remote_path: &'a str,
    server: &'a str,
    protocol: &'a str,
    size: u64,
    sha1: Option<&'a str>,
    outcome: &'a str,
    location: Option<&'a str>,
    bytes_sent: u64,
    started_at_ms: i64,
    finished_at_ms: i64,
    duration_ms: i64,
    error: Option<&'a str>,
    /// `sha1-by-server`, `chunks-checksummed` or `unverified` (null when not uploaded).
    verification: Option<&'a str>,
    /// The same for a person, e.g. "verified: sha1 by server".
    verified: Option<&'a str>,
}

impl<'a> From<&'a HistoryEntry> for Row<'a> {
    fn from(e: &'a HistoryEntry) -> Self {
        Self {
            local_path: &e.local_path,
            folder: e.folder.as_deref(),
            remote_path: &e.remote_path,
            server: &e.server_url,
            protocol: &e.protocol,
            size: e.size,
            sha1: e.sha1.as_deref(),
            outcome: e.outcome.as_str(),
            location: e.location.as_deref(),
            bytes_sent: e.bytes_sent,
            started_at_ms: e.started_at_ms,
            finished_at_ms: e.finished_at_ms,
            duration_ms: e.finished_at_ms - e.started_at_ms,
            error: e.error.as_deref(),
            verification: e.verification.map(ferry_store::Verification::as_str),
            verified: e.verification.map(ferry_store::Verification::describe),
        }
    }
}

pub(crate) fn run(home: &Home, args: &HistoryArgs, json: bool) -> anyhow::Result<()> {
    let journal = home.journal()?;
    let query = HistoryQuery {
        search: args.search.clone(),
        limit: args.limit,
        offset: 0,
    };
    let entries = journal.history(&query)?;
    if json {
        let rows: Vec<Row<'_>> = entries.iter().map(Row::from).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("No uploads yet.");
        return Ok(());
    }
    for e in &entries {
        let outcome = match e.error.as_deref() {
            Some(error) => format!("{} ({error})", e.outcome.as_str()),
            None => e.outcome.as_str().to_owned(),
        };
        let verified = e
            .verification
            .map(|v| format!("  ({})", v.describe()))
            .unwrap_or_default();
        println!(
            "{}  {:<9} {:>10}  {} -> {} [{}]{verified}",
            when(e.finished_at_ms),
            outcome,
            bytes(e.size),
            e.local_path,
            e.remote_path,
            e.server_url
        );
    }
    Ok(())
}
