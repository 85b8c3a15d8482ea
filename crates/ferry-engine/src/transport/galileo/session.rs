//! One GalileoSend connection: connect (with the token), then move frames between the
//! socket and the machine until it finishes or fails.
//!
//! The machine's events are handled before its frames are sent, so every confirmation
//! reaches the caller before another byte leaves. Each chunk is read from the file in
//! pieces, each after the rate limit allows it, and sent as one binary frame (the protocol
//! allows nothing else); at most one chunk is held in memory.

use std::sync::Arc;

use bytes::Bytes;
use ferry_proto::galileo::{
    Client, ClientFrame, ClientOptions, DEFAULT_CHUNK_SIZE, Event as MachineEvent, Recovery,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, Message};

use super::connect::{Socket, connect};
use super::{Run, resume_state};
use crate::error::{EngineError, NetworkFailure};
use crate::events::Event;
use crate::transport::watchdog::Activity;

/// The size of one file read (and one ask of the rate limit).
const PIECE: u64 = 256 * 1024;

/// Why an attempt ended without finishing, and how to go on.
pub(super) struct Failure {
    pub(super) error: EngineError,
    pub(super) recovery: Recovery,
}

impl Failure {
    pub(super) fn fatal(error: EngineError) -> Self {
        Self {
            error,
            recovery: Recovery::Fatal,
        }
    }

    pub(super) fn retry(error: EngineError) -> Self {
        Self {
            error,
            recovery: Recovery::Retry,
        }
    }
}

/// One attempt: one connection, one machine.
pub(super) struct Session<'r, 'a> {
    run: &'r mut Run<'a>,
    client: Client,
    /// When bytes last moved on the connection.
    activity: Arc<Activity>,
    /// Whether the server confirmed more in this attempt than it ever had in this run.
    progressed: bool,
}

impl<'r, 'a> Session<'r, 'a> {
    /// Runs one attempt to its end: `Ok` when the upload is complete on the server, else
    /// the failure and whether the attempt confirmed any bytes first.
    pub(super) async fn run(run: &'r mut Run<'a>) -> Result<(), (bool, Failure)> {
        let (mut socket, activity) = connect(run.target, run.transfer)
            .await
            .map_err(|f| (false, f))?;
        let client = Client::new(options(run));
        let mut session = Session {
            run,
            client,
            activity,
            progressed: false,
        };
        let result = session.drive(&mut socket).await;
        // A courtesy close; the connection may be gone already.
        let _ =
            tokio::time::timeout(session.run.transfer.options.timeout, socket.close(None)).await;
        result.map_err(|failure| (session.progressed, failure))
    }

    async fn drive(&mut self, socket: &mut Socket) -> Result<(), Failure> {
        let timeout = self.run.transfer.options.timeout;
        loop {
            // Events first: the caller records a confirmation before more is sent.
            while let Some(event) = self.client.poll_event() {
                if self.on_event(event).await? {
                    return Ok(());
                }
            }
            while let Some(frame) = self.client.poll_transmit() {
                let message = match frame {
                    ClientFrame::Text(text) => {
                        // The metadata or `finished`: never finish with bytes of a changed file.
                        self.run
                            .transfer
                            .file
                            .check_unchanged_async()
                            .await
                            .map_err(Failure::fatal)?;
                        Message::text(text)
                    }
                    ClientFrame::Binary(range) => Message::binary(self.read_chunk(range).await?),
                };
                let len = match &message {
                    Message::Binary(bytes) => bytes.len() as u64,
                    _ => 0,
                };
                match self.activity.within(timeout, socket.send(message)).await {
                    Some(Ok(())) => self.run.bytes_sent += len,
                    Some(Err(err)) => return Err(self.network(&err)),
                    None => return Err(self.silent()),
                }
            }
            // The machine's errors also come out as `Failed` events, handled above.
            let _ = match self.activity.within(timeout, socket.next()).await {
                None => return Err(self.silent()),
                Some(Some(Ok(Message::Text(text)))) => self.client.handle_text(text.as_str()),
                Some(Some(Ok(Message::Binary(bytes)))) => {
                    self.client.handle_binary(bytes.len() as u64)
                }
                Some(Some(Ok(Message::Close(frame)))) => {
                    // The code matters: 1009 says the last frame was too large.
                    self.client
                        .handle_close(frame.map(|frame| u16::from(frame.code)));
                    Ok(())
                }
                Some(None) => {
                    self.client.handle_closed();
                    Ok(())
                }
                Some(Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)))) => Ok(()),
                Some(Some(Err(err))) => return Err(self.network(&err)),
            };
        }
    }

    /// Acts on one machine event; true when the upload is complete.
    async fn on_event(&mut self, event: MachineEvent) -> Result<bool, Failure> {
        let size = self.client.options().size;
        match event {
            MachineEvent::Accepted { upload, offset } => {
                if upload.is_none() && self.run.upload.is_some() {
                    tracing::info!("the server does not resume uploads; sending from byte 0");
                }
                self.run.upload = upload;
                self.run.best_confirmed = self.run.best_confirmed.max(offset);
                if !self.run.started {
                    self.run.started = true;
                    self.run.emit(Event::Started {
                        path: self.run.path(),
                        protocol: crate::target::Protocol::Galileo,
                        size,
                        resumed_from: offset,
                    });
                }
                self.confirmed(offset).await?;
            }
            MachineEvent::Progress { confirmed, size } => {
                if confirmed > self.run.best_confirmed {
                    self.progressed = true;
                    self.run.best_confirmed = confirmed;
                }
                self.confirmed(confirmed).await?;
                self.run.emit(Event::Progress {
                    path: self.run.path(),
                    confirmed,
                    size,
                });
            }
            MachineEvent::ServerError(signal) => {
                self.run.emit(Event::Warning {
                    message: format!(
                        "the server reported a problem with {}: {}",
                        self.run.path(),
                        if signal.message.is_empty() {
                            "no reason given"
                        } else {
                            &signal.message
                        }
                    ),
                });
            }
            MachineEvent::Finished => return Ok(true),
            MachineEvent::Failed(err) => {
                let recovery = err.recovery();
                return Err(Failure {
                    error: self.run.galileo_error(err),
                    recovery,
                });
            }
        }
        Ok(false)
    }

    /// Hands the caller the state to save, when there is an upload id to save it under.
    async fn confirmed(&mut self, offset: u64) -> Result<(), Failure> {
        if let Some(upload) = &self.run.upload {
            let state = resume_state(upload, self.client.options().size, offset);
            (self.run.on_confirmed)(&state)
                .await
                .map_err(Failure::fatal)?;
        }
        Ok(())
    }

    /// Reads `range` of the file (checking first that the file is unchanged) in pieces,
    /// each after the rate limit lets it through.
    async fn read_chunk(&mut self, range: std::ops::Range<u64>) -> Result<Bytes, Failure> {
        let file = &self.run.transfer.file;
        file.check_unchanged_async().await.map_err(Failure::fatal)?;
        let len = usize::try_from(range.end - range.start).map_err(|_| {
            // Not a protocol fact: the machine asked for a chunk this machine cannot hold.
            Failure::fatal(EngineError::Bug(format!(
                "a GalileoSend chunk of {} bytes does not fit in memory",
                range.end - range.start
            )))
        })?;
        let mut buf: Vec<u8> = Vec::with_capacity(len);
        let mut at = range.start;
        while at < range.end {
            let n = PIECE.min(range.end - at);
            self.run.transfer.limit.take(n).await;
            let file = file.clone();
            let result = tokio::task::spawn_blocking(move || {
                let filled = buf.len();
                // `n` is at most PIECE.
                buf.resize(filled + usize::try_from(n).unwrap_or(0), 0);
                file.read_at(at, &mut buf[filled..]).map(|()| buf)
            })
            .await;
            buf = match result {
                Ok(Ok(buf)) => buf,
                Ok(Err(err)) => return Err(Failure::fatal(err)),
                Err(join) => {
                    return Err(Failure::fatal(EngineError::File {
                        path: self.run.transfer.file.path.clone(),
                        source: std::io::Error::other(join),
                    }));
                }
            };
            at += n;
        }
        Ok(Bytes::from(buf))
    }

    /// The connection broke or failed: resume on a new one.
    fn network(&self, err: &tungstenite::Error) -> Failure {
        tracing::debug!(%err, "GalileoSend connection failed");
        Failure::retry(EngineError::network_ws(&self.run.server(), err))
    }

    /// Nothing moved within the timeout: the link counts as dead.
    fn silent(&self) -> Failure {
        let timeout = self.run.transfer.options.timeout;
        tracing::debug!(?timeout, "GalileoSend link silent");
        Failure::retry(EngineError::unreachable(
            &self.run.server(),
            NetworkFailure::Timeout,
            format!("nothing moved for {timeout:?}; the link counts as dead"),
        ))
    }
}

/// The machine's options for this attempt.
fn options(run: &Run<'_>) -> ClientOptions {
    let transfer = run.transfer;
    let facts = &transfer.file.facts;
    let name = transfer
        .remote_path
        .rsplit('/')
        .find(|part| !part.is_empty())
        .map(str::to_owned)
        .or_else(|| {
            transfer
                .file
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    let mut options = ClientOptions::new(name, facts.size);
    options.path = Some(transfer.remote_path.clone());
    options.mtime = Some(facts.mtime_ns.div_euclid(1_000_000_000));
    options.hash = Some(transfer.sha1.clone());
    options.resume_upload.clone_from(&run.upload);
    options.use_extension = true;
    // With no `chunksize` from the server, the original default: old servers (Mojolicious
    // takes 256 KiB messages) accept no more. Never more than the configured chunk size.
    // A server that refused a frame as too large in this run gets smaller ones.
    let cap = match (transfer.chunk_size, run.frame_cap) {
        (0, Some(learnt)) => learnt,
        (n, Some(learnt)) => n.min(learnt),
        (n, None) => n,
    };
    options.max_chunk_size = cap;
    options.default_chunk_size = match cap {
        0 => DEFAULT_CHUNK_SIZE,
        n => n.min(DEFAULT_CHUNK_SIZE),
    };
    options
}
