//! `ferry history`: the history, newest first, as a table or JSON (the service's
//! [`HistoryRow`]s), read from the service page by page.

use ferry_engine::service::history::MAX_PAGE;
use ferry_engine::service::{HistoryQuery, HistoryRow, Service};

use crate::cli::HistoryArgs;
use crate::render::{bytes, pretty, when};

/// The newest `limit` rows whose path contains `search`, in pages the service allows.
async fn newest(
    service: &Service,
    search: Option<&str>,
    limit: u32,
) -> anyhow::Result<Vec<HistoryRow>> {
    let mut rows: Vec<HistoryRow> = Vec::new();
    while let Some(left) = limit
        .checked_sub(u32::try_from(rows.len())?)
        .filter(|&left| left > 0)
    {
        let page = service
            .history(HistoryQuery {
                search: search.map(str::to_owned),
                limit: left.min(MAX_PAGE),
                offset: u32::try_from(rows.len())?,
                ..HistoryQuery::default()
            })
            .await?;
        let full = page.rows.len() == left.min(MAX_PAGE) as usize;
        rows.extend(page.rows);
        if !full {
            break;
        }
    }
    Ok(rows)
}

pub(crate) async fn run(service: &Service, args: &HistoryArgs, json: bool) -> anyhow::Result<()> {
    let rows = newest(service, args.search.as_deref(), args.limit).await?;
    if json {
        println!("{}", pretty(&rows)?);
        return Ok(());
    }
    if rows.is_empty() {
        println!("No uploads yet.");
        return Ok(());
    }
    for e in &rows {
        let outcome = match e.error.as_deref() {
            Some(error) => format!("{} ({error})", e.outcome.as_str()),
            None => e.outcome.as_str().to_owned(),
        };
        let verified = e.verified.map(|v| format!("  ({v})")).unwrap_or_default();
        println!(
            "{}  {:<9} {:>10}  {} -> {} [{}]{verified}",
            when(e.finished_at_ms),
            outcome,
            bytes(e.size),
            e.local_path,
            e.remote_path,
            e.server
        );
    }
    Ok(())
}
