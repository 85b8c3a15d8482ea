//! How the client machine reads a server's refusal of a binary frame as too large: a close
//! with code 1009 (Message Too Big, RFC 6455 section 7.4.1) or a fatal `chunk_too_large`
//! signal, right after a chunk went out, means "send smaller frames", not "give up" and
//! not "send the same again". Knows nothing of sockets or of the session's other states.
//!
//! | the server, after a chunk of `len` bytes      | the machine                                 |
//! |-----------------------------------------------|---------------------------------------------|
//! | closes with 1009, or `chunk_too_large`        | fails with [`GalileoError::FrameRefused`]: reconnect, resume with frames of at most half of `len` ([`Recovery::SmallerFrames`]) |
//! | the same, `len` already at [`MIN_FRAME_SIZE`] | fails with [`GalileoError::FramesTooLarge`] (fatal, names the limit) |
//! | closes with any other code, or none           | [`GalileoError::ConnectionClosed`] (resume, same size) |
//!
//! Halving stops at [`MIN_FRAME_SIZE`], and the first step from a frame above
//! [`LARGEST_RETRIED_FRAME`] goes to at most that, so one upload halves at most
//! 1 + log2(8 MiB / 64 KiB) = 8 times before it ends with a clear error.
//!
//! [`Recovery::SmallerFrames`]: super::Recovery::SmallerFrames

use std::fmt;

use super::error::GalileoError;

/// The WebSocket close code for a message too big to process (RFC 6455, 7.4.1).
pub const CLOSE_MESSAGE_TOO_BIG: u16 = 1009;

/// The smallest frame Ferry sends after refusals: below it a limit is not a body limit
/// worth working around but a server that cannot take files.
pub const MIN_FRAME_SIZE: u64 = 64 * 1024;

/// The largest frame size a first halving goes to, whatever was refused.
pub const LARGEST_RETRIED_FRAME: u64 = 8 * 1024 * 1024;

/// How the server said a frame was too large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameRefusal {
    /// It closed the WebSocket with code 1009 (Message Too Big).
    MessageTooBig,
    /// It sent a fatal error signal with the code `chunk_too_large`, in these words.
    ChunkTooLarge {
        /// The signal's text.
        message: String,
    },
}

impl fmt::Display for FrameRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MessageTooBig => {
                f.write_str("it closed the connection with code 1009, Message Too Big")
            }
            Self::ChunkTooLarge { message } if message.is_empty() => {
                f.write_str("it answered chunk_too_large")
            }
            Self::ChunkTooLarge { message } => write!(f, "it answered chunk_too_large: {message}"),
        }
    }
}

/// The frame size to use after a frame of `refused` bytes was refused: `None` when it was
/// already at the floor (nothing smaller to try). Always smaller than `refused`.
pub fn smaller_frame(refused: u64) -> Option<u64> {
    if refused <= MIN_FRAME_SIZE {
        return None;
    }
    Some((refused / 2).clamp(MIN_FRAME_SIZE, LARGEST_RETRIED_FRAME))
}

/// The error that ends a session whose frame of `len` bytes the server refused as `by`
/// says, with `confirmed` bytes confirmed so far.
pub(super) fn refused(len: u64, by: FrameRefusal, confirmed: u64) -> GalileoError {
    match smaller_frame(len) {
        Some(retry_with) => GalileoError::FrameRefused {
            len,
            by,
            retry_with,
            confirmed,
        },
        None => GalileoError::FramesTooLarge { len, by },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;

    #[test]
    fn frames_halve_down_to_the_floor_and_no_further() {
        for (refused, expected) in [
            (8 * MIB, Some(4 * MIB)),
            (250_000, Some(125_000)),
            (125_000, Some(64 * KIB)),
            (128 * KIB, Some(64 * KIB)),
            (100 * KIB, Some(64 * KIB)),
            (64 * KIB + 1, Some(64 * KIB)),
            (64 * KIB, None),
            (10 * KIB, None),
            (1, None),
            (0, None),
            // A frame far above the largest retried size goes to it at once.
            (1024 * MIB, Some(8 * MIB)),
            (u64::MAX, Some(8 * MIB)),
        ] {
            assert_eq!(smaller_frame(refused), expected, "refused {refused}");
        }
    }

    #[test]
    fn halving_from_any_size_ends_within_eight_steps() {
        for start in [4 * KIB, 64 * KIB, 250_000, MIB, 8 * MIB, 16 * MIB, u64::MAX] {
            let mut frame = start;
            let mut steps = 0;
            while let Some(next) = smaller_frame(frame) {
                assert!(next < frame, "every step makes the frame smaller");
                frame = next;
                steps += 1;
            }
            assert!(steps <= 8, "{steps} halvings from {start}");
            assert!(frame >= MIN_FRAME_SIZE.min(start));
        }
    }

    #[test]
    fn a_refusal_at_the_floor_is_a_permanent_error_naming_the_limit() {
        let err = refused(64 * KIB, FrameRefusal::MessageTooBig, 0);
        assert_eq!(
            err,
            GalileoError::FramesTooLarge {
                len: 64 * KIB,
                by: FrameRefusal::MessageTooBig
            }
        );
        assert_eq!(err.recovery(), super::super::Recovery::Fatal);
        let text = err.to_string();
        for needle in ["65536 bytes", "1009", "Message Too Big", "smaller"] {
            assert!(text.contains(needle), "{needle:?} missing from: {text}");
        }
    }

    #[test]
    fn a_refusal_above_the_floor_resumes_with_half_the_frame() {
        let by = FrameRefusal::ChunkTooLarge {
            message: "too big".into(),
        };
        let err = refused(MIB, by, 3 * MIB);
        assert_eq!(
            err.recovery(),
            super::super::Recovery::SmallerFrames {
                max_frame: 512 * KIB
            }
        );
        assert!(err.is_retryable());
        assert!(
            err.to_string().contains("chunk_too_large: too big"),
            "{err}"
        );
    }

    /// What the client machine does with each way a session can end after a chunk of
    /// `MIB` bytes went out (or before / after), as a case table.
    #[test]
    fn the_client_reads_refusals_only_after_a_chunk_and_only_from_these_signals() {
        use crate::galileo::{Client, ClientOptions, Event};

        #[derive(Clone, Copy, Debug)]
        enum At {
            FirstReady,
            Chunk,
            Finished,
        }
        #[derive(Clone, Copy, Debug)]
        enum Input {
            Close(Option<u16>),
            Signal(&'static str),
        }
        let too_big = Some(4 * MIB / 2);
        let chunk_signal = r#"{"error":"frame too big","code":"chunk_too_large","fatal":true}"#;
        for (at, input, size, expected) in [
            (
                At::Chunk,
                Input::Close(Some(1009)),
                4 * MIB,
                too_big.map(Ok),
            ),
            (
                At::Chunk,
                Input::Signal(chunk_signal),
                4 * MIB,
                too_big.map(Ok),
            ),
            (At::Chunk, Input::Close(Some(1009)), 64 * KIB, Some(Err(()))),
            (
                At::Chunk,
                Input::Signal(chunk_signal),
                10 * KIB,
                Some(Err(())),
            ),
            // The last, short chunk of a file: half of what was sent.
            (
                At::Chunk,
                Input::Close(Some(1009)),
                3 * MIB,
                Some(Ok(3 * MIB / 2)),
            ),
            (At::Chunk, Input::Close(Some(1000)), 4 * MIB, None),
            (At::Chunk, Input::Close(Some(1011)), 4 * MIB, None),
            (At::Chunk, Input::Close(None), 4 * MIB, None),
            (
                At::Chunk,
                Input::Signal(r#"{"error":"x","code":"internal","fatal":true}"#),
                4 * MIB,
                None,
            ),
            (
                At::Chunk,
                Input::Signal(r#"{"error":"x","code":"chunk_too_large"}"#),
                4 * MIB,
                None,
            ),
            // No chunk is waiting for its ready: nothing says a frame was too large.
            (At::FirstReady, Input::Close(Some(1009)), 4 * MIB, None),
            (At::FirstReady, Input::Signal(chunk_signal), 4 * MIB, None),
            (At::Finished, Input::Close(Some(1009)), 0, None),
        ] {
            let case = format!("{at:?} {input:?} size {size}");
            let mut options = ClientOptions::new("a", size);
            options.default_chunk_size = 4 * MIB;
            let mut client = Client::new(options);
            let _ = client.poll_transmit();
            match at {
                At::FirstReady => {}
                At::Chunk | At::Finished => client.handle_text(r#"{"ready":true}"#).unwrap(),
            }
            while client.poll_transmit().is_some() {}
            match input {
                Input::Close(code) => client.handle_close(code),
                Input::Signal(text) => client.handle_text(text).unwrap(),
            }
            let failed = std::iter::from_fn(|| client.poll_event()).find_map(|e| match e {
                Event::Failed(err) => Some(err),
                _ => None,
            });
            let got = match failed {
                Some(GalileoError::FrameRefused {
                    retry_with, len, ..
                }) => {
                    assert_eq!(len, size.min(4 * MIB), "{case}: the refused length");
                    Some(Ok(retry_with))
                }
                Some(GalileoError::FramesTooLarge { .. }) => Some(Err(())),
                _ => None,
            };
            assert_eq!(got, expected, "{case}");
        }
    }
}
