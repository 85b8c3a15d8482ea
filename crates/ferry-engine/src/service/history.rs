//! The history as the CLI and the window read it: one page at a time, filtered and counted
//! in SQL (so 100,000 rows cost no more than 50), and the bytes uploaded per local day for
//! the chart. The query ([`HistoryQuery`]), the outcome, the verification and the day totals
//! are the journal's own types; [`HistoryRow`] is a journal entry as people see it (an
//! absolute path, its duration and speed).

use std::path::Path;

use ferry_store::HistoryEntry;
use serde::Serialize;

use crate::target::Protocol;

use super::{Service, ServiceError};

pub use ferry_store::{DayTotal, HistoryQuery, Outcome, Verification};

/// The most rows one page may hold.
pub const MAX_PAGE: u32 = 1000;

/// The most days the chart may span.
pub const MAX_DAYS: u32 = 3660;

/// One ended upload as the window shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    /// The row id.
    pub id: i64,
    /// The local file, absolute.
    pub local_path: String,
    /// The synced folder it belonged to, if any (and if it is still synced).
    pub folder: Option<String>,
    /// Where it went on the server.
    pub remote_path: String,
    /// The server.
    pub server: String,
    /// The protocol it went with (`None`: a deletion or rename in a folder that leaves the
    /// protocol to the server).
    pub protocol: Option<Protocol>,
    /// Its size in bytes.
    pub size: u64,
    /// The sha1 (hex) of what was sent.
    pub sha1: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The server's location of the finished upload.
    pub location: Option<String>,
    /// Bytes put on the wire for it.
    pub bytes_sent: u64,
    /// When it started (unix ms).
    pub started_at_ms: i64,
    /// When it ended (unix ms).
    pub finished_at_ms: i64,
    /// How long it took.
    pub duration_ms: u64,
    /// Its size over its duration, bytes per second (0 when too quick to tell).
    pub speed: u64,
    /// Why it failed or was abandoned.
    pub error: Option<String>,
    /// How an uploaded file was checked to be on the server: `sha1-by-server`,
    /// `chunks-checksummed` or `unverified` (`None`: not uploaded, or recorded before
    /// Ferry verified uploads).
    pub verification: Option<Verification>,
    /// The same for a person: "verified: sha1 by server", "verified: chunks checksummed",
    /// "unverified: the server offers no checksum".
    pub verified: Option<&'static str>,
}

/// One page of rows and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryPage {
    /// The rows, newest first.
    pub rows: Vec<HistoryRow>,
    /// Rows matching the filters, over all pages.
    pub total: u64,
}

impl From<HistoryEntry> for HistoryRow {
    fn from(e: HistoryEntry) -> Self {
        let local_path = match &e.folder {
            Some(folder) if !Path::new(&e.local_path).is_absolute() => Path::new(folder)
                .join(&e.local_path)
                .to_string_lossy()
                .into_owned(),
            _ => e.local_path,
        };
        let duration_ms =
            u64::try_from(e.finished_at_ms.saturating_sub(e.started_at_ms)).unwrap_or(0);
        let speed = if duration_ms == 0 {
            0
        } else {
            u64::try_from(u128::from(e.size) * 1000 / u128::from(duration_ms)).unwrap_or(u64::MAX)
        };
        Self {
            id: e.id,
            local_path,
            folder: e.folder,
            remote_path: e.remote_path,
            server: e.server_url,
            protocol: e.protocol,
            size: e.size,
            sha1: e.sha1,
            outcome: e.outcome,
            location: e.location,
            bytes_sent: e.bytes_sent,
            started_at_ms: e.started_at_ms,
            finished_at_ms: e.finished_at_ms,
            duration_ms,
            speed,
            error: e.error,
            verification: e.verification,
            verified: e.verification.map(Verification::describe),
        }
    }
}

impl Service {
    /// One page of the history matching `query`, newest first, and the count over all
    /// pages. A blank search is no search. Errors: invalid input (a limit outside 1 to
    /// [`MAX_PAGE`]).
    pub async fn history(&self, query: HistoryQuery) -> Result<HistoryPage, ServiceError> {
        if !(1..=MAX_PAGE).contains(&query.limit) {
            return Err(ServiceError::invalid(
                "limit",
                format!("A page holds 1 to {MAX_PAGE} rows, not {}.", query.limit),
            ));
        }
        let query = HistoryQuery {
            search: query.search.filter(|s| !s.trim().is_empty()),
            ..query
        };
        self.journal(move |journal| {
            let total = journal.history_count(&query)?;
            let rows = journal
                .history(&query)?
                .into_iter()
                .map(HistoryRow::from)
                .collect();
            Ok(HistoryPage { rows, total })
        })
        .await
    }

    /// Bytes and files uploaded on each of the last `days` local days (today last), days
    /// without uploads included with 0.
    pub async fn history_per_day(&self, days: u32) -> Result<Vec<DayTotal>, ServiceError> {
        self.history_per_day_at(days, now_ms()).await
    }

    /// [`Service::history_per_day`] as if now were `now_ms`. Errors: invalid input (`days`
    /// outside 1 to [`MAX_DAYS`]).
    pub async fn history_per_day_at(
        &self,
        days: u32,
        now_ms: i64,
    ) -> Result<Vec<DayTotal>, ServiceError> {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(ServiceError::invalid(
                "days",
                format!("The chart spans 1 to {MAX_DAYS} days, not {days}."),
            ));
        }
        self.journal(move |j| Ok(j.history_per_day(days, now_ms)?))
            .await
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(folder: Option<&str>, local: &str, started: i64, finished: i64) -> HistoryEntry {
        HistoryEntry {
            id: 7,
            local_path: local.into(),
            folder: folder.map(Into::into),
            remote_path: "docs/a.bin".into(),
            server_url: "http://127.0.0.1:8080/".into(),
            protocol: Some(Protocol::Galileo),
            size: 4000,
            sha1: Some("ab".into()),
            outcome: Outcome::Uploaded,
            location: Some("http://127.0.0.1:8080/files/x".into()),
            bytes_sent: 5000,
            started_at_ms: started,
            finished_at_ms: finished,
            error: None,
            verification: Some(Verification::ServerSha1),
        }
    }

    #[test]
    fn rows_carry_absolute_paths_duration_and_speed_in_camel_case() {
        let row = HistoryRow::from(entry(Some("/home/ann/Docs"), "sub/a.bin", 1000, 3000));
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "id": 7, "localPath": "/home/ann/Docs/sub/a.bin", "folder": "/home/ann/Docs",
                "remotePath": "docs/a.bin", "server": "http://127.0.0.1:8080/", "protocol": "galileo",
                "size": 4000, "sha1": "ab", "outcome": "uploaded",
                "location": "http://127.0.0.1:8080/files/x", "bytesSent": 5000,
                "startedAtMs": 1000, "finishedAtMs": 3000, "durationMs": 2000, "speed": 2000,
                "error": null, "verification": "sha1-by-server", "verified": "verified: sha1 by server"
            })
        );
        let instant = HistoryRow::from(entry(None, "/tmp/a.bin", 5, 5));
        assert_eq!(
            (instant.local_path.as_str(), instant.speed),
            ("/tmp/a.bin", 0)
        );
    }

    #[test]
    fn every_outcome_and_verification_serialises_as_stored() {
        for o in [
            Outcome::Uploaded,
            Outcome::Abandoned,
            Outcome::Failed,
            Outcome::Renamed,
            Outcome::Deleted,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        for v in [
            Verification::ServerSha1,
            Verification::ChunkChecksums,
            Verification::Unverified,
        ] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.as_str());
        }
    }

    #[test]
    fn a_query_reads_from_camel_case_with_optional_filters() {
        let q: HistoryQuery = serde_json::from_value(serde_json::json!({
            "search": "x", "outcome": "failed", "offset": 50, "limit": 25
        }))
        .unwrap();
        assert_eq!(q.outcome, Some(Outcome::Failed));
        assert_eq!((q.offset, q.limit, q.folder), (50, 25, None));
        let missing = serde_json::from_value::<HistoryQuery>(serde_json::json!({"search": "x"}));
        assert!(missing.is_err(), "offset and limit are required");
    }
}
