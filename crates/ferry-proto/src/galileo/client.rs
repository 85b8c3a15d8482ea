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
mod tests {
    use super::*;

    fn drain(client: &mut Client) -> Vec<ClientFrame> {
        std::iter::from_fn(|| client.poll_transmit()).collect()
    }

    fn events(client: &mut Client) -> Vec<Event> {
        std::iter::from_fn(|| client.poll_event()).collect()
    }

    fn text(s: &str) -> ClientFrame {
        ClientFrame::Text(s.into())
    }

    #[test]
    fn a_plain_upload_sends_meta_chunks_then_finished() {
        let mut options = ClientOptions::new("a.bin", 5);
        options.default_chunk_size = 2;
        let mut client = Client::new(options);
        assert_eq!(drain(&mut client), [text(r#"{"name":"a.bin","size":5}"#)]);
        client.handle_text(r#"{"ready":true}"#).unwrap();
        assert_eq!(drain(&mut client), [ClientFrame::Binary(0..2)]);
        client
            .handle_text(r#"{"ready":true,"chunksize":10}"#)
            .unwrap();
        assert_eq!(drain(&mut client), [ClientFrame::Binary(2..5)]);
        assert_eq!(client.confirmed_offset(), 2);
        client.handle_text(r#"{"ready":true}"#).unwrap();
        assert_eq!(drain(&mut client), [text(r#"{"finished":true}"#)]);
        client.handle_text(r#"{"close":true}"#).unwrap();
        assert!(client.is_finished());
        assert_eq!(
            events(&mut client),
            [
                Event::Accepted {
                    upload: None,
                    offset: 0
                },
                Event::Progress {
                    confirmed: 2,
                    size: 5
                },
                Event::Progress {
                    confirmed: 5,
                    size: 5
                },
                Event::Finished,
            ]
        );
    }

    #[test]
    fn chunks_never_exceed_the_clients_cap_whatever_the_server_asks_for() {
        let mut options = ClientOptions::new("a.bin", 12);
        options.default_chunk_size = 6;
        options.max_chunk_size = 4;
        let mut client = Client::new(options);
        let _ = drain(&mut client);
        client
            .handle_text(r#"{"ready":true,"chunksize":1000}"#)
            .unwrap();
        assert_eq!(drain(&mut client), [ClientFrame::Binary(0..4)], "capped");
        client
            .handle_text(r#"{"ready":true,"chunksize":3}"#)
            .unwrap();
        assert_eq!(
            drain(&mut client),
            [ClientFrame::Binary(4..7)],
            "the server's smaller size wins"
        );
        client.handle_text(r#"{"ready":true}"#).unwrap();
        assert_eq!(
            drain(&mut client),
            [ClientFrame::Binary(7..11)],
            "the default is capped too"
        );
    }

    #[test]
    fn an_empty_file_sends_finished_on_the_first_ready_and_no_empty_frame() {
        let mut client = Client::new(ClientOptions::new("empty", 0));
        let _ = drain(&mut client);
        client.handle_text(r#"{"ready":true}"#).unwrap();
        assert_eq!(drain(&mut client), [text(r#"{"finished":true}"#)]);
    }

    #[test]
    fn a_resumed_upload_continues_from_the_servers_offset() {
        let mut options = ClientOptions::new("a", 10);
        options.resume_upload = Some("u1".into());
        let mut client = Client::new(options);
        assert_eq!(
            drain(&mut client),
            [text(r#"{"name":"a","size":10,"upload":"u1"}"#)]
        );
        client
            .handle_text(r#"{"ready":true,"chunksize":3,"upload":"u1","offset":6}"#)
            .unwrap();
        assert_eq!(drain(&mut client), [ClientFrame::Binary(6..9)]);
        assert_eq!(client.confirmed_offset(), 6);
        assert_eq!(client.upload_id(), Some("u1"));
    }

    #[test]
    fn an_old_server_without_upload_in_the_first_ready_means_starting_at_zero() {
        let mut options = ClientOptions::new("a", 10);
        options.resume_upload = Some("u1".into());
        let mut client = Client::new(options);
        let _ = drain(&mut client);
        client.handle_text(r#"{"ready":true,"offset":6}"#).unwrap();
        assert_eq!(drain(&mut client), [ClientFrame::Binary(0..10)]);
        assert_eq!(client.upload_id(), None);
    }

    #[test]
    fn a_first_ready_offset_past_the_size_is_a_protocol_error_that_starts_over() {
        let mut options = ClientOptions::new("a", 10);
        options.path = Some("x/a".into());
        let mut client = Client::new(options);
        let _ = drain(&mut client);
        let err = client
            .handle_text(r#"{"ready":true,"upload":"u","offset":11}"#)
            .unwrap_err();
        assert_eq!(
            err,
            GalileoError::OffsetPastEnd {
                offset: 11,
                size: 10
            }
        );
        assert_eq!(err.code(), Some(ErrorCode::Protocol));
        assert!(
            drain(&mut client).is_empty(),
            "nothing is sent after failing"
        );
        assert_eq!(client.confirmed_offset(), 0);
    }

    #[test]
    fn a_ready_after_finished_is_a_protocol_error() {
        let mut client = Client::new(ClientOptions::new("a", 0));
        client.handle_text(r#"{"ready":true}"#).unwrap();
        let err = client.handle_text(r#"{"ready":true}"#).unwrap_err();
        assert!(matches!(err, GalileoError::Protocol { .. }), "{err:?}");
        assert!(client.is_over() && !client.is_finished());
    }

    #[test]
    fn a_binary_frame_from_the_server_fails_the_session() {
        let mut client = Client::new(ClientOptions::new("a", 3));
        assert!(client.handle_binary(4).is_err());
        assert!(matches!(
            events(&mut client).as_slice(),
            [Event::Failed(GalileoError::Protocol { .. })]
        ));
    }

    #[test]
    fn a_non_fatal_error_is_reported_and_the_session_goes_on() {
        let mut client = Client::new(ClientOptions::new("a", 3));
        client
            .handle_text(r#"{"error":"slow down","code":"internal"}"#)
            .unwrap();
        assert!(!client.is_over());
        client.handle_text(r#"{"ready":true}"#).unwrap();
        assert_eq!(drain(&mut client).last(), Some(&ClientFrame::Binary(0..3)));
        assert_eq!(client.errors().len(), 1);
    }

    #[test]
    fn a_close_before_all_data_was_sent_is_a_failure_and_input_afterwards_is_ignored() {
        let mut client = Client::new(ClientOptions::new("a", 3));
        client.handle_text(r#"{"close":true}"#).unwrap();
        assert!(client.is_over() && !client.is_finished());
        client.handle_text("garbage").unwrap();
        client.handle_closed();
        let events = events(&mut client);
        assert_eq!(
            events,
            [Event::Failed(GalileoError::ClosedEarly {
                sent: 0,
                size: 3
            })]
        );
    }

    #[test]
    fn a_lost_connection_reports_the_confirmed_offset() {
        let mut options = ClientOptions::new("a", 10);
        options.default_chunk_size = 4;
        let mut client = Client::new(options);
        client.handle_text(r#"{"ready":true}"#).unwrap();
        client.handle_text(r#"{"ready":true}"#).unwrap();
        client.handle_closed();
        assert_eq!(
            events(&mut client).last(),
            Some(&Event::Failed(GalileoError::ConnectionClosed {
                confirmed: 4,
                size: 10
            }))
        );
    }

    #[test]
    fn without_the_extension_only_the_original_keys_are_sent_but_finished_carries_the_hash() {
        let sum = crate::checksum::ChecksumAlgorithm::Sha1.digest(b"abc");
        let mut options = ClientOptions::new("a", 0);
        options.use_extension = false;
        options.resume_upload = Some("u1".into());
        options.hash = Some(sum.clone());
        let mut client = Client::new(options);
        assert!(!client.uses_extension());
        assert_eq!(drain(&mut client), [text(r#"{"name":"a","size":0}"#)]);
        client
            .handle_text(r#"{"ready":true,"upload":"u9","offset":0}"#)
            .unwrap();
        assert_eq!(
            drain(&mut client),
            [text(&format!(
                r#"{{"finished":true,"hash":{{"type":"sha1","value":"{}"}}}}"#,
                sum.to_hex()
            ))]
        );
        assert_eq!(client.upload_id(), None, "a plain session ignores `upload`");
    }
}
