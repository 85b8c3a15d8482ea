//! One server-side upload of the client machine: the whole file, or one partial upload of
//! a concatenation. Also how a file is split into parts, and the serialisable
//! [`ResumeState`] that a journal keeps between runs. Knows nothing of HTTP messages.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use url::Url;

/// Where a part stands in its own little protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// No upload exists on the server yet: POST next.
    Create,
    /// An upload exists but its offset is not trusted: HEAD next.
    Sync,
    /// The offset is trusted: PATCH next.
    Transfer,
    /// Every byte of the part is confirmed (and its length is known to the server).
    Done,
}

/// One upload on the server and how far it got.
#[derive(Debug, Clone)]
pub(super) struct Part {
    /// Offset in the file where this part begins.
    pub(super) start: u64,
    /// Length of the part; `None` while the file's length is deferred.
    pub(super) len: Option<u64>,
    /// The upload's URL, resolved against the endpoint.
    pub(super) url: Option<Url>,
    /// The `Location` exactly as the server wrote it (used in `Upload-Concat: final`).
    pub(super) location: Option<String>,
    /// Bytes of this part the server has confirmed.
    pub(super) offset: u64,
    /// When the server will drop the unfinished upload, if it said.
    pub(super) expires: Option<SystemTime>,
    /// Whether the server knows `len` (false only with a deferred length not yet sent).
    pub(super) length_announced: bool,
    pub(super) stage: Stage,
    /// A request for this part is in flight.
    pub(super) busy: bool,
}

impl Part {
    pub(super) fn new(start: u64, len: Option<u64>) -> Self {
        Self {
            start,
            len,
            url: None,
            location: None,
            offset: 0,
            expires: None,
            length_announced: false,
            stage: Stage::Create,
            busy: false,
        }
    }

    /// Forgets the server-side upload: the part starts again from byte 0.
    pub(super) fn reset(&mut self) {
        *self = Self::new(self.start, self.len);
    }

    /// Moves to `Transfer`, or to `Done` when nothing is left to send or announce.
    pub(super) fn settle(&mut self) {
        self.stage = match self.len {
            Some(len) if self.offset >= len && self.length_announced => Stage::Done,
            _ => Stage::Transfer,
        };
    }

    pub(super) fn is_expired(&self, now: SystemTime) -> bool {
        self.url.is_some() && self.expires.is_some_and(|at| now >= at)
    }

    pub(super) fn snapshot(&self) -> PartState {
        PartState {
            start: self.start,
            len: self.len,
            location: self.location.clone(),
            offset: self.offset,
            expires_at: self
                .expires
                .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        }
    }

    /// Restores a part from a snapshot; its offset is re-checked with HEAD before use.
    pub(super) fn restore(state: &PartState, endpoint: &Url) -> Self {
        let mut part = Self::new(state.start, state.len);
        if let Some(url) = state
            .location
            .as_deref()
            .and_then(|l| endpoint.join(l).ok())
        {
            part.url = Some(url);
            part.location.clone_from(&state.location);
            part.offset = state.offset;
            part.expires = state
                .expires_at
                .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
            part.stage = Stage::Sync;
        }
        part
    }
}

/// What a journal keeps of an unfinished upload so that a later run can resume it.
///
/// Offsets in it are the ones the server confirmed; the machine checks them again with
/// HEAD before sending anything, so a stale state costs one request, never a wrong byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeState {
    /// The uploads on the server: one, or the partial uploads of a concatenation in order.
    pub parts: Vec<PartState>,
    /// Whether the parts are partial uploads to be joined by a final upload.
    pub concatenated: bool,
    /// The final upload's creating POST was sent: a final may exist on the server even
    /// without a `final_location` (the answer was lost).
    #[serde(default)]
    pub final_requested: bool,
    /// The final upload's `Location` as the server gave it, once it answered.
    #[serde(default)]
    pub final_location: Option<String>,
}

/// One upload within a [`ResumeState`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    /// Offset in the file where this upload's bytes begin.
    pub start: u64,
    /// Its length, `None` while deferred.
    pub len: Option<u64>,
    /// Its URL as the server gave it in `Location`, once created.
    pub location: Option<String>,
    /// Bytes the server confirmed.
    pub offset: u64,
    /// When the server said it would expire, in seconds since the Unix epoch.
    pub expires_at: Option<u64>,
}

/// Splits `length` bytes into at most `parts` contiguous, non-empty ranges of nearly equal
/// size, as `(start, len)` pairs. An empty file gets one empty part.
pub fn plan_parts(length: u64, parts: usize) -> Vec<(u64, u64)> {
    let count = u64::try_from(parts.max(1))
        .unwrap_or(u64::MAX)
        .min(length.max(1));
    let base = length / count;
    let extra = length % count;
    let mut start = 0;
    (0..count)
        .map(|i| {
            let len = base + u64::from(i < extra);
            let range = (start, len);
            start += len;
            range
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_contiguous_non_empty_parts() {
        assert_eq!(plan_parts(10, 3), [(0, 4), (4, 3), (7, 3)]);
        assert_eq!(plan_parts(2, 5), [(0, 1), (1, 1)]);
        assert_eq!(plan_parts(0, 4), [(0, 0)]);
        assert_eq!(plan_parts(7, 0), [(0, 7)]);
    }
}
