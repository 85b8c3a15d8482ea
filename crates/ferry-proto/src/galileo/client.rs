//! The client side of one GalileoSend session (one connection, one file), as a sans-IO machine.
//!
//! The driver opens the WebSocket, then loops: send what [`Client::poll_transmit`] hands out
//! (a text frame, or a byte range of the file it reads and sends as one binary frame), feed
//! what arrives to [`Client::handle_text`] / [`Client::handle_binary`] /
//! [`Client::handle_closed`], and act on [`Client::poll_event`] (record the upload id and
//! confirmed offset, show progress, close on [`Event::Finished`] or [`Event::Failed`]).
//! This module must not know about sockets, files, clocks or the journal.

use std::collections::VecDeque;
use std::ops::Range;

use super::DEFAULT_CHUNK_SIZE;
use super::error::{ErrorCode, GalileoError};
use super::frames::{self, FrameRefusal};
use super::message::{ClientMessage, ErrorSignal, Finished, Hash, Meta, Ready, ServerMessage};
use crate::checksum::Checksum;

/// What a [`Client`] uploads and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// The file's name, sent as `name`.
    pub name: String,
    /// The file's size in bytes, sent as `size`.
    pub size: u64,
    /// Extension: the relative remote path (`path`).
    pub path: Option<String>,
    /// Extension: the modification time in unix seconds (`mtime`).
    pub mtime: Option<i64>,
    /// Extension: the id of an upload to resume (`upload`), from an earlier [`Event::Accepted`].
    pub resume_upload: Option<String>,
    /// The whole-file hash (sha1), computed by the driver beforehand. Sent in `finished`
    /// always, and in the metadata when the extension is used.
    pub hash: Option<Checksum>,
    /// Whether to send the extension keys (`path`, `mtime`, `upload`, `hash`) that are
    /// present. Without it, or when none of them is present, the session is exactly the
    /// original protocol and `resume_upload` is ignored.
    pub use_extension: bool,
    /// The chunk size when the server names none (or 0); 0 here means [`DEFAULT_CHUNK_SIZE`].
    pub default_chunk_size: u64,
    /// The largest chunk this client sends, whatever the server asks for (0: no cap). A
    /// ready's `chunksize` is the most the next chunk *may* have, so a client may send less;
    /// the driver holds one chunk in memory, and this keeps a server asking for huge chunks
    /// from making it hold huge buffers.
    pub max_chunk_size: u64,
}

impl ClientOptions {
    /// Options for a plain upload of `name` with `size` bytes: the extension on (but with
    /// no keys yet, so nothing is sent until one is set) and the default chunk size.
    pub fn new(name: impl Into<String>, size: u64) -> Self {
        Self {
            name: name.into(),
            size,
            path: None,
            mtime: None,
            resume_upload: None,
            hash: None,
            use_extension: true,
            default_chunk_size: DEFAULT_CHUNK_SIZE,
            max_chunk_size: 0,
        }
    }
}

/// A frame the driver sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// A text frame with this JSON.
    Text(String),
    /// A binary frame with these bytes of the file, read by the driver.
    Binary(Range<u64>),
}

/// What happened in a [`Client`] session.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The server answered the metadata with its first ready. `upload` is the id to
    /// resume with later (`None` when the extension is not in use: an old server, or a
    /// plain session); the upload continues from `offset`.
    Accepted {
        /// The upload's id on the server, when the extension is in use.
        upload: Option<String>,
        /// The byte the upload continues from (the server already holds the bytes before it).
        offset: u64,
    },
    /// The server acknowledged data up to `confirmed` bytes.
    Progress {
        /// Bytes the server has confirmed.
        confirmed: u64,
        /// The file's size.
        size: u64,
    },
    /// The server sent a non-fatal error signal; the session goes on.
    ServerError(ErrorSignal),
    /// The server closed the session after receiving all data: the upload succeeded.
    Finished,
    /// The session failed; the driver closes the connection. See [`GalileoError::recovery`].
    Failed(GalileoError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// The metadata is out; waiting for the first ready.
    AwaitingFirstReady,
    /// A chunk is out; the next ready acknowledges it.
    AwaitingAck(Range<u64>),
    /// `finished` is out; waiting for close or an error.
    FinishSent,
    Succeeded,
    Failed,
}

impl Phase {
    fn describe(&self) -> &'static str {
        match self {
            Self::AwaitingFirstReady => "waiting for the server's first ready",
            Self::AwaitingAck(_) => "waiting for the server to acknowledge a chunk",
            Self::FinishSent => "waiting for the server to close after `finished`",
            Self::Succeeded | Self::Failed => "the session was over",
        }
    }
}

/// The client machine of one GalileoSend session.
///
/// Call order: create it, drain [`Client::poll_transmit`] (the metadata), then for every
/// frame that arrives call a `handle_*` method and drain both `poll_*` methods again. When
/// the transport closes, call [`Client::handle_closed`]. Input after the session ended
/// (finished or failed) is ignored.
#[derive(Debug)]
pub struct Client {
    options: ClientOptions,
    extension: bool,
    phase: Phase,
    /// Bytes handed out for sending so far (the next chunk starts here).
    sent: u64,
    confirmed: u64,
    upload: Option<String>,
    errors: Vec<ErrorSignal>,
    transmit: VecDeque<ClientFrame>,
    events: VecDeque<Event>,
}

impl Client {
    /// A session for `options`; the metadata is queued for [`Client::poll_transmit`].
    pub fn new(options: ClientOptions) -> Self {
        let mut meta = Meta::new(options.name.clone(), options.size);
        if options.use_extension {
            meta.path.clone_from(&options.path);
            meta.mtime = options.mtime;
            meta.upload.clone_from(&options.resume_upload);
            meta.hash = options.hash.as_ref().map(Hash::from_checksum);
        }
        let extension = meta.asks_for_extension();
        let mut transmit = VecDeque::new();
        transmit.push_back(ClientFrame::Text(ClientMessage::Meta(meta).to_json()));
        Self {
            options,
            extension,
            phase: Phase::AwaitingFirstReady,
            sent: 0,
            confirmed: 0,
            upload: None,
            errors: Vec::new(),
            transmit,
            events: VecDeque::new(),
        }
    }

    /// The next frame to send, if any.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<ClientFrame> {
        self.transmit.pop_front()
    }

    /// The next thing that happened, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Feeds a text frame from the server.
    ///
    /// Returns an error (and fails the session, see [`Event::Failed`]) when the frame is
    /// not a GalileoSend signal or not valid now: a ready after `finished`, or a first
    /// ready whose `offset` is past the end of the file. A fatal error signal from the
    /// server is not an error of this call: it is reported as [`Event::Failed`].
    pub fn handle_text(&mut self, text: &str) -> Result<(), GalileoError> {
        if self.is_over() {
            return Ok(());
        }
        let message = match ServerMessage::parse(text) {
            Ok(message) => message,
            Err(err) => return Err(self.fail(err)),
        };
        match message {
            ServerMessage::Ready(ready) => self.on_ready(&ready),
            ServerMessage::Error(signal) => {
                self.errors.push(signal.clone());
                if signal.fatal {
                    let confirmed = self.confirmed;
                    let err = match (&self.phase, &signal.code) {
                        // The chunk just sent was too large for the server: smaller ones.
                        (Phase::AwaitingAck(chunk), Some(ErrorCode::ChunkTooLarge)) => {
                            let by = FrameRefusal::ChunkTooLarge {
                                message: signal.message.clone(),
                            };
                            frames::refused(chunk.end - chunk.start, by, confirmed)
                        }
                        _ => GalileoError::Rejected { signal, confirmed },
                    };
                    self.fail(err);
                } else {
                    self.events.push_back(Event::ServerError(signal));
                }
                Ok(())
            }
            ServerMessage::Close => {
                // The original client's rule: success iff all file data was sent.
                if self.sent >= self.options.size {
                    self.confirmed = self.options.size;
                    self.phase = Phase::Succeeded;
                    self.transmit.clear();
                    self.events.push_back(Event::Finished);
                } else {
                    self.fail(GalileoError::ClosedEarly {
                        sent: self.sent,
                        size: self.options.size,
                    });
                }
                Ok(())
            }
        }
    }

    /// Feeds a binary frame from the server (its length): servers never send any, so this
    /// is a protocol error that fails the session.
    pub fn handle_binary(&mut self, len: u64) -> Result<(), GalileoError> {
        if self.is_over() {
            return Ok(());
        }
        let err = GalileoError::Protocol {
            received: format!("a binary frame of {len} bytes from the server"),
            state: self.phase.describe(),
        };
        Err(self.fail(err))
    }

    /// The transport closed without a close code (or the code is not known): see
    /// [`Client::handle_close`].
    pub fn handle_closed(&mut self) {
        self.handle_close(None);
    }

    /// The transport closed, with the WebSocket close `code` if the server sent one.
    /// Without a close signal first, the session failed: with code 1009 (Message Too Big)
    /// while a chunk waits for its ready, the server refused that frame as too large
    /// ([`GalileoError::FrameRefused`], which resumes with smaller frames, or
    /// [`GalileoError::FramesTooLarge`] at the floor; see [`super::frames`]); otherwise the
    /// connection was lost ([`GalileoError::ConnectionClosed`], which resumes).
    pub fn handle_close(&mut self, code: Option<u16>) {
        if self.is_over() {
            return;
        }
        let err = match (&self.phase, code) {
            (Phase::AwaitingAck(chunk), Some(frames::CLOSE_MESSAGE_TOO_BIG)) => frames::refused(
                chunk.end - chunk.start,
                FrameRefusal::MessageTooBig,
                self.confirmed,
            ),
            _ => GalileoError::ConnectionClosed {
                confirmed: self.confirmed,
                size: self.options.size,
            },
        };
        self.fail(err);
    }

    /// Bytes the server has acknowledged: set by the extension's first-ready `offset`,
    /// advanced by each ready that follows a chunk, and the whole size once the server
    /// closes successfully. Never more than was sent, nor more than the size.
    pub fn confirmed_offset(&self) -> u64 {
        self.confirmed
    }

    /// The upload's id on the server, once the first ready carried one.
    pub fn upload_id(&self) -> Option<&str> {
        self.upload.as_deref()
    }

    /// Whether the metadata asked for the resume extension.
    pub fn uses_extension(&self) -> bool {
        self.extension
    }

    /// Whether the upload succeeded (the server closed after all data was sent).
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Succeeded
    }

    /// Whether the session is over, successfully or not.
    pub fn is_over(&self) -> bool {
        matches!(self.phase, Phase::Succeeded | Phase::Failed)
    }

    /// Every error signal the server sent, fatal or not, in order.
    pub fn errors(&self) -> &[ErrorSignal] {
        &self.errors
    }

    /// The options this session was created with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    fn on_ready(&mut self, ready: &Ready) -> Result<(), GalileoError> {
        let size = self.options.size;
        match std::mem::replace(&mut self.phase, Phase::Failed) {
            Phase::AwaitingFirstReady => {
                // Only a server that knows the extension names an upload; an old server
                // (or a plain session) starts at 0 whatever else the ready says.
                let (upload, offset) = match (&ready.upload, self.extension) {
                    (Some(upload), true) => (Some(upload.clone()), ready.offset.unwrap_or(0)),
                    _ => (None, 0),
                };
                if offset > size {
                    return Err(self.fail(GalileoError::OffsetPastEnd { offset, size }));
                }
                self.upload.clone_from(&upload);
                self.sent = offset;
                self.confirmed = offset;
                self.events.push_back(Event::Accepted { upload, offset });
            }
            Phase::AwaitingAck(chunk) => {
                self.confirmed = chunk.end;
                self.events.push_back(Event::Progress {
                    confirmed: self.confirmed,
                    size,
                });
            }
            phase @ Phase::FinishSent => {
                let err = GalileoError::Protocol {
                    received: "a ready signal".into(),
                    state: phase.describe(),
                };
                return Err(self.fail(err));
            }
            // Unreachable: handle_text ignores input once the session is over.
            phase @ (Phase::Succeeded | Phase::Failed) => {
                self.phase = phase;
                return Ok(());
            }
        }
        self.send_next(ready.chunksize);
        Ok(())
    }

    /// Hands out the next chunk, or `finished` when all data is sent.
    fn send_next(&mut self, chunksize: Option<u64>) {
        let size = self.options.size;
        if self.sent < size {
            let limit = match (chunksize, self.options.default_chunk_size) {
                (Some(n), _) if n > 0 => n,
                (_, 0) => DEFAULT_CHUNK_SIZE,
                (_, n) => n,
            };
            let limit = match self.options.max_chunk_size {
                0 => limit,
                cap => limit.min(cap),
            };
            let end = self.sent + limit.min(size - self.sent);
            let chunk = self.sent..end;
            self.sent = end;
            self.transmit.push_back(ClientFrame::Binary(chunk.clone()));
            self.phase = Phase::AwaitingAck(chunk);
        } else {
            let finished = Finished {
                hash: self.options.hash.as_ref().map(Hash::from_checksum),
            };
            self.transmit.push_back(ClientFrame::Text(
                ClientMessage::Finished(finished).to_json(),
            ));
            self.phase = Phase::FinishSent;
        }
    }

    /// Ends the session with `err`, reports it and returns it for the caller.
    fn fail(&mut self, err: GalileoError) -> GalileoError {
        self.phase = Phase::Failed;
        self.transmit.clear();
        self.events.push_back(Event::Failed(err.clone()));
        err
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
