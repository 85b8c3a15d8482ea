//! How the client machine reads a 413 Payload Too Large: a request body that was too large
//! (a proxy's or server's body limit, such as nginx's default `client_max_body_size 1m`)
//! makes the chunks smaller; only a 413 to a request without a body says the file itself is
//! too large. Knows nothing of sockets or of how the other answers are judged.
//!
//! | request                       | 413 means                   | the machine                     |
//! |-------------------------------|-----------------------------|---------------------------------|
//! | PATCH with bytes              | the body was too large      | halves the chunk, HEAD, PATCH   |
//! | POST with its first bytes     | the body was too large      | halves the chunk, POST without  |
//! | either, body at the floor     | the limit is below 64 KiB   | fails: [`TusError::RequestTooLarge`] |
//! | POST without a body, final POST, PATCH without bytes | the file is too large | fails: [`TusError::TooLarge`] |
//!
//! Halving stops at [`MIN_CHUNK_SIZE`], and the first step from a chunk above
//! [`DEFAULT_CHUNK_SIZE`] goes to at most that, so one upload halves at most
//! 1 + log2(8 MiB / 64 KiB) = 8 times.

use super::part::Stage;
use super::{DEFAULT_CHUNK_SIZE, Event, MIN_CHUNK_SIZE, Pending, Upload};
use crate::tus::error::TusError;
use crate::tus::message::{RequestKind, Response};

/// The chunk size to use after a body of `body_len` bytes was refused while the chunk size
/// was `current`: `None` when the body was already at the floor (nothing smaller to try).
/// The result is never larger than `current`, so answers to requests sent before an earlier
/// reduction do not raise it again.
pub(super) fn smaller_chunk(current: u64, body_len: u64) -> Option<u64> {
    let refused = current.min(body_len);
    if refused <= MIN_CHUNK_SIZE {
        return None;
    }
    Some(
        (refused / 2)
            .clamp(MIN_CHUNK_SIZE, DEFAULT_CHUNK_SIZE)
            .min(current),
    )
}

impl Upload {
    /// Takes in a 413 to `pending`: `Ok` when the machine will try again with smaller
    /// requests (it has already moved to the stage that does), otherwise the error.
    pub(super) fn on_too_large(
        &mut self,
        pending: &Pending,
        response: &Response,
    ) -> Result<(), TusError> {
        let with_body = pending.body_len > 0;
        match pending.kind {
            RequestKind::Append | RequestKind::Create if with_body => {}
            RequestKind::Create | RequestKind::Append | RequestKind::Concatenate => {
                return Err(TusError::TooLarge {
                    length: self.opts.length.unwrap_or(0),
                    max_size: None,
                });
            }
            request => {
                return Err(TusError::UnexpectedStatus {
                    request,
                    status: response.status,
                    message: response.message(),
                });
            }
        }
        let from = self.opts.chunk_size;
        let Some(to) = smaller_chunk(from, pending.body_len) else {
            return Err(TusError::RequestTooLarge {
                request: pending.kind,
                sent: pending.body_len,
                message: response.message(),
            });
        };
        if to < from {
            self.opts.chunk_size = to;
            self.events.push_back(Event::ChunkSizeReduced { from, to });
        }
        let part = &mut self.parts[pending.part];
        if pending.kind == RequestKind::Create {
            // A proxy refused the body before the server saw the POST: nothing was created.
            // The next POST goes without bytes, the PATCHes after it in smaller chunks.
            self.opts.creation_with_upload = false;
            part.stage = if part.url.is_some() {
                Stage::Sync
            } else {
                Stage::Create
            };
        } else {
            // Ask where the server stands before sending the smaller chunk.
            part.stage = Stage::Sync;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;

    #[test]
    fn chunks_halve_down_to_the_floor_and_no_further() {
        for (current, body, expected) in [
            (8 * MIB, 8 * MIB, Some(4 * MIB)),
            // The last chunk of a file is smaller than the chunk size: halve what was sent.
            (8 * MIB, 3 * MIB, Some(3 * MIB / 2)),
            (128 * KIB, 128 * KIB, Some(64 * KIB)),
            (100 * KIB, 100 * KIB, Some(64 * KIB)),
            (64 * KIB, 64 * KIB, None),
            (8 * MIB, 10 * KIB, None),
            (4, 4, None),
            // A chunk far above the default goes to the default at once.
            (1024 * MIB, 1024 * MIB, Some(8 * MIB)),
            // An answer to a request sent before an earlier halving keeps the smaller size.
            (MIB, 4 * MIB, Some(512 * KIB)),
            (512 * KIB, 8 * MIB, Some(256 * KIB)),
        ] {
            assert_eq!(
                smaller_chunk(current, body),
                expected,
                "chunk {current}, body {body}"
            );
        }
    }

    #[test]
    fn halving_from_any_size_ends_within_the_bound() {
        for start in [4 * KIB, 64 * KIB, MIB, 8 * MIB, 16 * MIB, 1 << 40] {
            let mut chunk = start;
            let mut steps = 0;
            while let Some(next) = smaller_chunk(chunk, chunk) {
                assert!(next < chunk, "every step makes the chunk smaller");
                chunk = next;
                steps += 1;
            }
            assert!(steps <= 8, "{steps} halvings from {start}");
            assert!(chunk >= MIN_CHUNK_SIZE.min(start));
        }
    }
}
