//! The server side of one GalileoSend session (one connection, one file), as a sans-IO machine.
//!
//! The machine checks what the client may send when, keeps the size accounting and writes
//! every signal; the driver (ferry-server over axum WebSockets, or a test) owns storage and
//! decisions: it looks up or creates the upload when the metadata arrives
//! ([`ServerSession::accept`] or [`ServerSession::reject`]), writes each chunk where the
//! [`ChunkPlan`] says ([`ServerSession::chunk_stored`]), and verifies the hash at the end
//! ([`ServerSession::finish_ok`] or [`ServerSession::fail`]). This module must not know
//! about sockets, files, databases, accounts or paths on disk.

use std::collections::VecDeque;

use super::DEFAULT_CHUNK_SIZE;
use super::error::{ErrorCode, GalileoError};
use super::message::{ClientMessage, ErrorSignal, Hash, Meta, Ready, ServerMessage};

/// How a [`ServerSession`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// The `chunksize` sent in every ready; 0 leaves it out, so clients use their default
    /// (250000 bytes for the original client).
    pub chunksize: u64,
    /// The largest file accepted (`too_large` above it); `None` for no limit.
    pub max_size: Option<u64>,
    /// The largest binary frame accepted (`chunk_too_large` above it). It is raised to
    /// `chunksize` (or to [`DEFAULT_CHUNK_SIZE`] when `chunksize` is 0) if lower, so the
    /// session never refuses a chunk of the size it asked for.
    pub max_chunk: u64,
}

impl Default for ServerOptions {
    /// `chunksize` [`DEFAULT_CHUNK_SIZE`], no size limit, frames up to 16 MiB.
    fn default() -> Self {
        Self {
            chunksize: DEFAULT_CHUNK_SIZE,
            max_size: None,
            max_chunk: 16 << 20,
        }
    }
}

/// What a text frame asks of the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerInput {
    /// The metadata: prepare storage (resolve the path, look up `upload` to resume, check
    /// permissions), then call [`ServerSession::accept`] or [`ServerSession::reject`].
    Meta(Meta),
    /// All data arrived and adds up to the size: verify the hash if there is one (a
    /// missing hash is not a failure), then call [`ServerSession::finish_ok`] or
    /// [`ServerSession::fail`] (with [`ErrorCode::HashMismatch`] after discarding the data).
    Finished(Option<Hash>),
}

/// Where the bytes of one binary frame go: the driver writes them at `offset` of the
/// upload, then calls [`ServerSession::chunk_stored`]. A plan with `len` 0 needs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    /// The byte of the file the frame's first byte belongs at.
    pub offset: u64,
    /// The frame's length.
    pub len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingMeta,
    AwaitingAccept,
    ReadySent,
    Storing(ChunkPlan),
    Verifying,
    Closed,
}

impl Phase {
    fn describe(self) -> &'static str {
        match self {
            Self::AwaitingMeta => "waiting for the file's metadata",
            Self::AwaitingAccept => "preparing storage, before the first ready",
            Self::ReadySent => "waiting for a chunk or `finished`",
            Self::Storing(_) => "storing a chunk, before the next ready",
            Self::Verifying => "verifying the upload after `finished`",
            Self::Closed => "the session was closed",
        }
    }
}

/// The server machine of one GalileoSend session.
///
/// Call order: for each frame, [`ServerSession::handle_text`] or
/// [`ServerSession::handle_binary`], then the driver's action the result asks for, then
/// drain [`ServerSession::poll_transmit`]; close the connection once
/// [`ServerSession::should_close`]. Every error returned by a `handle_*` method has
/// already queued a fatal error signal with its code (except input after the session
/// was closed, which queues nothing).
#[derive(Debug)]
pub struct ServerSession {
    options: ServerOptions,
    phase: Phase,
    meta: Option<Meta>,
    extension: bool,
    upload: Option<String>,
    received: u64,
    transmit: VecDeque<String>,
}

impl ServerSession {
    /// A session waiting for the client's metadata.
    pub fn new(mut options: ServerOptions) -> Self {
        let asked = match options.chunksize {
            0 => DEFAULT_CHUNK_SIZE,
            n => n,
        };
        options.max_chunk = options.max_chunk.max(asked);
        Self {
            options,
            phase: Phase::AwaitingMeta,
            meta: None,
            extension: false,
            upload: None,
            received: 0,
            transmit: VecDeque::new(),
        }
    }

    /// Feeds a text frame from the client.
    pub fn handle_text(&mut self, text: &str) -> Result<ServerInput, GalileoError> {
        if self.phase == Phase::Closed {
            return Err(self.late("a text frame"));
        }
        let message = ClientMessage::parse(text).map_err(|err| self.fatal(err))?;
        match (message, self.phase) {
            (ClientMessage::Meta(meta), Phase::AwaitingMeta) => {
                if let Some(max) = self.options.max_size.filter(|max| meta.size > *max) {
                    return Err(self.fatal(GalileoError::TooLarge {
                        size: meta.size,
                        max,
                    }));
                }
                self.extension = meta.asks_for_extension();
                self.meta = Some(meta.clone());
                self.phase = Phase::AwaitingAccept;
                Ok(ServerInput::Meta(meta))
            }
            (ClientMessage::Finished(finished), Phase::ReadySent) => {
                let expected = self.size();
                if self.received != expected {
                    return Err(self.fatal(GalileoError::SizeMismatch {
                        expected,
                        received: self.received,
                    }));
                }
                self.phase = Phase::Verifying;
                Ok(ServerInput::Finished(finished.hash))
            }
            (message, phase) => {
                let received = match message {
                    ClientMessage::Meta(_) => "a second metadata message",
                    ClientMessage::Finished(_) => "`finished`",
                };
                Err(self.fatal(GalileoError::Protocol {
                    received: received.into(),
                    state: phase.describe(),
                }))
            }
        }
    }

    /// Feeds a binary frame of `len` bytes from the client and says where it goes.
    ///
    /// A frame is valid after a ready; it must fit in the file (`size_mismatch`) and in
    /// `max_chunk` (`chunk_too_large`). An empty frame (the original client sends one for
    /// an empty file) is tolerated anywhere after the metadata: right after a ready it is
    /// answered with the next ready at once, elsewhere it is ignored; either way its plan
    /// has `len` 0 and needs no [`ServerSession::chunk_stored`].
    pub fn handle_binary(&mut self, len: u64) -> Result<ChunkPlan, GalileoError> {
        let offset = self.received;
        match self.phase {
            Phase::Closed => Err(self.late("a binary frame")),
            Phase::ReadySent if len == 0 => {
                self.queue_ready(false);
                Ok(ChunkPlan { offset, len })
            }
            Phase::AwaitingAccept | Phase::Storing(_) | Phase::Verifying if len == 0 => {
                Ok(ChunkPlan { offset, len })
            }
            Phase::ReadySent => {
                let max = self.options.max_chunk;
                if len > max {
                    return Err(self.fatal(GalileoError::ChunkTooLarge { len, max }));
                }
                let expected = self.size();
                if len > expected - offset {
                    return Err(self.fatal(GalileoError::SizeMismatch {
                        expected,
                        received: offset.saturating_add(len),
                    }));
                }
                let plan = ChunkPlan { offset, len };
                self.phase = Phase::Storing(plan);
                Ok(plan)
            }
            phase => Err(self.fatal(GalileoError::Protocol {
                received: format!("a binary frame of {len} bytes"),
                state: phase.describe(),
            })),
        }
    }

    /// The driver stored the chunk of the last non-empty [`ChunkPlan`]: count it and queue
    /// the next ready. Does nothing when no chunk is being stored.
    pub fn chunk_stored(&mut self) {
        if let Phase::Storing(plan) = self.phase {
            self.received = plan.offset + plan.len;
            self.queue_ready(false);
        }
    }

    /// Accepts the metadata: the upload is `upload_id` and the server already holds its
    /// first `offset` bytes. Queues the first ready, which carries `upload` and `offset`
    /// only if the client asked for the extension.
    ///
    /// Errors (and changes nothing) unless the session is waiting for exactly this call,
    /// if `offset` is past the size, or if it is not 0 for a client without the
    /// extension (it could not know where to continue).
    pub fn accept(
        &mut self,
        upload_id: impl Into<String>,
        offset: u64,
    ) -> Result<(), GalileoError> {
        let misuse = |reason: String| GalileoError::Misuse {
            call: "accept()",
            reason,
        };
        if self.phase != Phase::AwaitingAccept {
            return Err(misuse(format!("while {}", self.phase.describe())));
        }
        let size = self.size();
        if offset > size {
            return Err(misuse(format!("with offset {offset} past the size {size}")));
        }
        if offset != 0 && !self.extension {
            return Err(misuse(format!(
                "with offset {offset} for a client without the resume extension"
            )));
        }
        self.upload = Some(upload_id.into());
        self.received = offset;
        self.queue_ready(true);
        Ok(())
    }

    /// Refuses the metadata (`bad_path`, `unauthorized`, `unknown_upload`, ...): queues a
    /// fatal error signal and closes. The same as [`ServerSession::fail`].
    pub fn reject(&mut self, code: ErrorCode, message: impl Into<String>) {
        self.fail(code, message);
    }

    /// Ends the session with a fatal error signal (`hash_mismatch` after the driver
    /// discarded the upload, `disk_full` when a write failed, ...). Does nothing once closed.
    pub fn fail(&mut self, code: ErrorCode, message: impl Into<String>) {
        if self.phase != Phase::Closed {
            self.queue(&ServerMessage::Error(ErrorSignal::fatal(code, message)));
            self.phase = Phase::Closed;
        }
    }

    /// Queues a non-fatal error signal: the client reports it and goes on waiting for
    /// signals. Does nothing once closed.
    pub fn report(&mut self, code: ErrorCode, message: impl Into<String>) {
        if self.phase != Phase::Closed {
            self.queue(&ServerMessage::Error(ErrorSignal::non_fatal(code, message)));
        }
    }

    /// The driver verified the finished upload: queues the close signal.
    pub fn finish_ok(&mut self) -> Result<(), GalileoError> {
        if self.phase != Phase::Verifying {
            return Err(GalileoError::Misuse {
                call: "finish_ok()",
                reason: format!("while {}", self.phase.describe()),
            });
        }
        self.queue(&ServerMessage::Close);
        self.phase = Phase::Closed;
        Ok(())
    }

    /// The transport closed: the session is over and nothing more is sent.
    pub fn handle_closed(&mut self) {
        self.phase = Phase::Closed;
        self.transmit.clear();
    }

    /// The next text frame to send, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<String> {
        self.transmit.pop_front()
    }

    /// Whether the session is over (after close, a fatal error or the transport closing):
    /// no more input is accepted.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Whether the driver should close the connection now: the session is over and
    /// everything queued has been taken by [`ServerSession::poll_transmit`].
    pub fn should_close(&self) -> bool {
        self.is_closed() && self.transmit.is_empty()
    }

    /// Bytes of the file the server holds: the accepted offset plus every stored chunk.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The client's metadata, once it arrived.
    pub fn meta(&self) -> Option<&Meta> {
        self.meta.as_ref()
    }

    /// The id given to [`ServerSession::accept`].
    pub fn upload_id(&self) -> Option<&str> {
        self.upload.as_deref()
    }

    /// Whether the client asked for the resume extension.
    pub fn uses_extension(&self) -> bool {
        self.extension
    }

    fn size(&self) -> u64 {
        self.meta.as_ref().map_or(0, |meta| meta.size)
    }

    fn queue_ready(&mut self, first: bool) {
        let extension = first && self.extension;
        let ready = Ready {
            chunksize: (self.options.chunksize > 0).then_some(self.options.chunksize),
            upload: self.upload.clone().filter(|_| extension),
            offset: extension.then_some(self.received),
        };
        self.queue(&ServerMessage::Ready(ready));
        self.phase = Phase::ReadySent;
    }

    fn queue(&mut self, message: &ServerMessage) {
        self.transmit.push_back(message.to_json());
    }

    /// Queues `err` as a fatal error signal, closes, and returns it.
    fn fatal(&mut self, err: GalileoError) -> GalileoError {
        let code = err.code().unwrap_or(ErrorCode::Internal);
        self.fail(code, err.to_string());
        err
    }

    fn late(&self, received: &str) -> GalileoError {
        GalileoError::Protocol {
            received: received.into(),
            state: self.phase.describe(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> ServerSession {
        ServerSession::new(ServerOptions {
            chunksize: 4,
            max_size: Some(100),
            max_chunk: 8,
        })
    }

    fn drain(session: &mut ServerSession) -> Vec<String> {
        std::iter::from_fn(|| session.poll_transmit()).collect()
    }

    #[test]
    fn a_plain_session_never_mentions_upload_or_offset() {
        let mut s = session();
        assert_eq!(
            s.handle_text(r#"{"name":"a","size":5}"#),
            Ok(ServerInput::Meta(Meta::new("a", 5)))
        );
        s.accept("id-1", 0).unwrap();
        assert_eq!(drain(&mut s), [r#"{"ready":true,"chunksize":4}"#]);
        assert_eq!(s.handle_binary(4), Ok(ChunkPlan { offset: 0, len: 4 }));
        assert!(
            drain(&mut s).is_empty(),
            "no ready before the chunk is stored"
        );
        s.chunk_stored();
        assert_eq!(s.handle_binary(1), Ok(ChunkPlan { offset: 4, len: 1 }));
        s.chunk_stored();
        assert_eq!(
            s.handle_text(r#"{"finished":true}"#),
            Ok(ServerInput::Finished(None))
        );
        s.finish_ok().unwrap();
        assert_eq!(
            drain(&mut s),
            [
                r#"{"ready":true,"chunksize":4}"#,
                r#"{"ready":true,"chunksize":4}"#,
                r#"{"close":true}"#
            ]
        );
        assert!(s.should_close());
    }

    #[test]
    fn the_first_ready_of_an_extension_client_carries_upload_and_offset() {
        let mut s = session();
        s.handle_text(r#"{"name":"a","size":10,"upload":"u1"}"#)
            .unwrap();
        s.accept("u1", 6).unwrap();
        assert_eq!(
            drain(&mut s),
            [r#"{"ready":true,"chunksize":4,"upload":"u1","offset":6}"#]
        );
        assert_eq!(s.handle_binary(4), Ok(ChunkPlan { offset: 6, len: 4 }));
        s.chunk_stored();
        assert_eq!(drain(&mut s), [r#"{"ready":true,"chunksize":4}"#]);
    }

    #[test]
    fn accept_refuses_offsets_a_client_could_not_follow_and_changes_nothing() {
        let mut s = session();
        s.handle_text(r#"{"name":"a","size":10}"#).unwrap();
        assert!(matches!(s.accept("u", 3), Err(GalileoError::Misuse { .. })));
        assert!(matches!(
            s.accept("u", 11),
            Err(GalileoError::Misuse { .. })
        ));
        assert!(drain(&mut s).is_empty());
        s.accept("u", 0).unwrap();
        assert!(s.accept("u", 0).is_err(), "accept twice");
    }

    #[test]
    fn frames_out_of_order_are_fatal_protocol_errors() {
        type Case = fn(&mut ServerSession) -> Result<(), GalileoError>;
        let cases: [(&str, Case); 3] = [
            ("binary before meta", |s| s.handle_binary(1).map(drop)),
            ("finished before meta", |s| {
                s.handle_text(r#"{"finished":true}"#).map(drop)
            }),
            ("meta twice", |s| {
                s.handle_text(r#"{"name":"a","size":1}"#)?;
                s.handle_text(r#"{"name":"a","size":1}"#).map(drop)
            }),
        ];
        for (name, case) in cases {
            let mut s = session();
            let err = case(&mut s).expect_err(name);
            assert_eq!(err.code(), Some(ErrorCode::Protocol), "{name}");
            let sent = drain(&mut s);
            assert_eq!(sent.len(), 1, "{name}: {sent:?}");
            assert!(
                sent[0].starts_with(r#"{"error":"#)
                    && sent[0].ends_with(r#","fatal":true,"code":"protocol"}"#),
                "{name}: {sent:?}"
            );
            assert!(s.should_close(), "{name}");
        }
    }

    #[test]
    fn size_and_chunk_limits_are_fatal_with_their_codes() {
        let mut s = session();
        assert_eq!(
            s.handle_text(r#"{"name":"a","size":101}"#),
            Err(GalileoError::TooLarge {
                size: 101,
                max: 100
            })
        );
        let mut s = session();
        s.handle_text(r#"{"name":"a","size":20}"#).unwrap();
        s.accept("u", 0).unwrap();
        assert_eq!(
            s.handle_binary(9),
            Err(GalileoError::ChunkTooLarge { len: 9, max: 8 })
        );
        let mut s = session();
        s.handle_text(r#"{"name":"a","size":3}"#).unwrap();
        s.accept("u", 0).unwrap();
        assert_eq!(
            s.handle_binary(4),
            Err(GalileoError::SizeMismatch {
                expected: 3,
                received: 4
            })
        );
        let mut s = session();
        s.handle_text(r#"{"name":"a","size":3}"#).unwrap();
        s.accept("u", 0).unwrap();
        assert_eq!(
            s.handle_text(r#"{"finished":true}"#),
            Err(GalileoError::SizeMismatch {
                expected: 3,
                received: 0
            })
        );
        assert!(
            drain(&mut s)
                .last()
                .unwrap()
                .contains(r#""code":"size_mismatch""#)
        );
    }

    #[test]
    fn an_empty_frame_is_answered_with_a_ready_even_when_all_data_is_there() {
        let mut s = session();
        s.handle_text(r#"{"name":"e","size":0}"#).unwrap();
        assert_eq!(
            s.handle_binary(0),
            Ok(ChunkPlan { offset: 0, len: 0 }),
            "before accept"
        );
        s.accept("u", 0).unwrap();
        assert_eq!(s.handle_binary(0), Ok(ChunkPlan { offset: 0, len: 0 }));
        s.chunk_stored();
        assert_eq!(
            drain(&mut s).len(),
            2,
            "the first ready and the one for the empty frame"
        );
        assert_eq!(
            s.handle_text(r#"{"finished":true}"#),
            Ok(ServerInput::Finished(None))
        );
    }

    #[test]
    fn a_bad_message_is_a_fatal_bad_message_signal() {
        let mut s = session();
        assert!(matches!(
            s.handle_text("{nope"),
            Err(GalileoError::BadMessage { .. })
        ));
        assert!(drain(&mut s)[0].ends_with(r#""fatal":true,"code":"bad_message"}"#));
        assert!(s.handle_text(r#"{"name":"a","size":1}"#).is_err(), "closed");
        assert!(drain(&mut s).is_empty(), "nothing is sent after closing");
    }
}
