//! The one-line overview from the queue's counts: which state is the most pressing and how
//! it is said. A pure function; knows nothing of where the counts come from.

use super::{Connection, ConnectionState, OverallState, Overview};

/// The queue as the overview counts it (paused files counted as paused, not by what they
/// were doing).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    /// Synced folders.
    pub(super) folders: usize,
    /// Files in the queue.
    pub(super) total: usize,
    /// Files being sent.
    pub(super) uploading: usize,
    /// Files waiting for a retry (the server's, or another error's).
    pub(super) retrying: usize,
    /// Files of paused folders (or all, when everything is paused).
    pub(super) paused: usize,
    /// Files parked after failing.
    pub(super) failed: usize,
}

fn files(n: usize) -> String {
    format!("{n} {}", if n == 1 { "file" } else { "files" })
}

/// The overview: signed out, paused, a server that cannot be reached, uploads, missing
/// folders, failures, up to date, in that order.
pub(super) fn overview(
    counts: &Counts,
    paused: bool,
    signed_out: bool,
    connection: Option<Connection>,
    missing: &[&str],
) -> Overview {
    let Counts {
        folders,
        total,
        uploading,
        retrying,
        paused: paused_files,
        failed,
    } = *counts;
    let active = total - paused_files;
    let queued = total - uploading;
    let (state, message) = if folders == 0 {
        (
            OverallState::NoFolders,
            "No folders are synced yet".to_owned(),
        )
    } else if signed_out {
        (
            OverallState::SignedOut,
            "Signed out: sign in again to go on uploading".to_owned(),
        )
    } else if paused {
        let message = match total {
            0 => "Paused".to_owned(),
            n => format!("Paused: {} waiting", files(n)),
        };
        (OverallState::Paused, message)
    } else if let Some(trouble) = connection.as_ref().filter(|_| uploading == 0) {
        let server = host_of(&trouble.server);
        match trouble.state {
            ConnectionState::OutOfSpace => (
                OverallState::Problem,
                format!(
                    "{server} is out of space: {} waiting, tried again every few minutes",
                    files(active)
                ),
            ),
            _ => (
                OverallState::Offline,
                format!(
                    "Can't reach {server}: {} waiting, tried again by themselves",
                    files(active)
                ),
            ),
        }
    } else if active > 0 {
        // Only what is being sent counts as uploading; the rest waits (its turn, a retry,
        // or its folder's resume), and is said so.
        let mut parts = vec![match (uploading, retrying) {
            (0, 0) => format!("{} waiting", files(active)),
            (0, r) => format!("Retrying {}", files(r)),
            (u, _) => format!("Uploading {u} of {}", files(active)),
        }];
        if uploading == 0 && retrying > 0 && active > retrying {
            parts.push(format!("{} waiting", active - retrying));
        }
        if paused_files > 0 {
            parts.push(format!("{paused_files} paused"));
        }
        (OverallState::Uploading, parts.join(", "))
    } else if paused_files > 0 {
        (
            OverallState::Paused,
            format!("Paused: {} waiting in paused folders", files(paused_files)),
        )
    } else if let [one] = missing {
        (
            OverallState::Problem,
            format!("{one} is missing (moved, or on a drive that is not plugged in)"),
        )
    } else if !missing.is_empty() {
        (
            OverallState::Problem,
            format!(
                "{} synced folders are missing (moved, or on a drive that is not plugged in)",
                missing.len()
            ),
        )
    } else if failed > 0 {
        (OverallState::Problem, format!("{} failed", files(failed)))
    } else {
        (OverallState::UpToDate, "Everything is uploaded".to_owned())
    };
    Overview {
        state,
        uploading,
        queued,
        failed,
        message,
        connection,
        hold: None,
        scheduled: None,
    }
}

/// `host:port` of a server URL, for a short message (the URL itself when it has no host).
fn host_of(server: &str) -> String {
    match url::Url::parse(server) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => server.to_owned(),
        },
        Err(_) if server.is_empty() => "the server".to_owned(),
        Err(_) => server.to_owned(),
    }
}
