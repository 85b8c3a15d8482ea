//! What the engine tells the outside world: typed events on a sink the caller injects
//! (the CLI prints them, the desktop shell forwards them to its window). Knows nothing of
//! terminals or windows.

use std::sync::Arc;

use serde::Serialize;

/// Something that happened to an upload, or to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A file waits to be uploaded.
    Queued {
        /// The local file.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// An upload started (or resumed from `resumed_from` bytes the server holds).
    Started {
        /// The local file.
        path: String,
        /// The protocol (`tus` or `galileo` in JSON).
        protocol: crate::target::Protocol,
        /// Its size in bytes.
        size: u64,
        /// Bytes the server already held.
        resumed_from: u64,
    },
    /// The server confirmed more bytes.
    Progress {
        /// The local file.
        path: String,
        /// Bytes the server confirmed.
        confirmed: u64,
        /// The file's size.
        size: u64,
    },
    /// How far the file's bytes have got: what the server confirmed plus what was handed to
    /// the network since (at most four times a second while bytes go out). Bars move with
    /// this between confirmations; only [`Event::Progress`] is what the server holds.
    Sent {
        /// The local file.
        path: String,
        /// Bytes on their way or confirmed (at least what is confirmed).
        sent: u64,
        /// The file's size.
        size: u64,
    },
    /// An attempt failed in a way that retrying can fix; the next one starts after a pause.
    Retrying {
        /// The local file.
        path: String,
        /// The attempt that failed (1 for the first).
        attempt: u32,
        /// The pause before the next attempt, in milliseconds.
        delay_ms: u64,
        /// What went wrong, for people.
        error: String,
        /// The server could not be reached (the connection, not this file): front ends
        /// say "waiting for the server" rather than the error.
        #[serde(default)]
        unreachable: bool,
        /// The server is out of space (the server, not this file): tried again after
        /// minutes; front ends say "waiting for space on the server".
        #[serde(default)]
        server_full: bool,
    },
    /// The upload is complete on the server.
    Finished {
        /// The local file.
        path: String,
        /// Where the server keeps it, if it said.
        location: Option<String>,
        /// Its size in bytes.
        size: u64,
        /// Bytes put on the wire for it (more than `size` after cuts and retries).
        bytes_sent: u64,
    },
    /// The upload failed.
    Failed {
        /// The local file.
        path: String,
        /// What went wrong and what to do, for people.
        error: String,
        /// Whether retrying cannot help (the user must act).
        permanent: bool,
    },
    /// Syncing was paused: of one folder, or of everything (`folder` is `None`).
    Paused {
        /// The folder, absolute.
        folder: Option<String>,
    },
    /// Syncing goes on again: of one folder, or of everything (`folder` is `None`).
    Resumed {
        /// The folder, absolute.
        folder: Option<String>,
    },
    /// Something the user should know that is not an upload's failure.
    Warning {
        /// The message.
        message: String,
    },
}

/// Where events go; cheap to clone and share between tasks.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A sink that drops every event.
pub fn discard() -> EventSink {
    Arc::new(|_| {})
}
