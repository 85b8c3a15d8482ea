//! GalileoSend at `/galileo`: one WebSocket per file, driving ferry-proto's
//! [`ServerSession`] machine, with Ferry's resume extension (`docs/protocol/galileosend.md`).
//!
//! # Layout
//! - this file: the route (sign-in before the upgrade, frame size limits) and the
//!   connection loop, which feeds frames to the machine, does what it asks and sends what it
//!   queues;
//! - [`store`]: the upload behind a session: opening or creating it, committing each chunk
//!   before its ready goes out, finishing it.
//!
//! The machine decides what is valid when and writes every signal; this module only moves
//! frames and bytes. Chunks go to disk as they arrive, never the whole file into memory.

mod store;

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;
use ferry_proto::galileo::{
    DEFAULT_CHUNK_SIZE, ErrorCode, Hash, Meta, ServerInput, ServerOptions, ServerSession,
};

use crate::AppState;
use crate::accounts::{Token, User, user_for_token};
use crate::auth::Authenticated;
use crate::metrics::Protocol;
use crate::sessions::SessionGuard;
use store::{OpenUpload, Refusal};

/// Room for a text frame (metadata with a 4 KiB path, say) above the largest chunk; a frame
/// above chunk + slack is refused by the WebSocket layer before it is buffered.
const FRAME_SLACK: u64 = 64 << 10;

/// How long one frame may take to leave before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The GalileoSend route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/galileo", get(upgrade))
}

/// The session limits for this server: the chunk size asked for in every ready (the
/// configured one; 0 lets clients use their default of 250000 bytes) and the largest
/// frame accepted, exactly that chunk size.
fn session_options(state: &AppState) -> ServerOptions {
    let chunksize = state.config.galileo_chunksize;
    ServerOptions {
        chunksize,
        max_size: state.config.max_size,
        max_chunk: if chunksize == 0 {
            DEFAULT_CHUNK_SIZE
        } else {
            chunksize
        },
    }
}

/// `GET /galileo`: signs the user in (401 before upgrading without a valid token, from the
/// `Authorization` header or `access_token=` in the query) and upgrades.
async fn upgrade(
    State(state): State<AppState>,
    auth: Authenticated,
    ws: WebSocketUpgrade,
) -> Response {
    let options = session_options(&state);
    let limit = usize::try_from(options.max_chunk + FRAME_SLACK).unwrap_or(usize::MAX);
    let signed_in = state.sessions.register(&auth.token);
    ws.max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| async move {
            let _receiving = state.metrics.session(Protocol::Galileo);
            Connection {
                state,
                user: auth.user,
                token: auth.token,
                signed_in,
                session: ServerSession::new(options),
                socket,
                upload: None,
            }
            .run()
            .await;
        })
}

/// Whether a connection's token is still valid (it may have been revoked by another process
/// a moment ago, before the session watcher noticed).
async fn still_signed_in(state: &AppState, signed_in: &SessionGuard, token: &Token) -> bool {
    if signed_in.is_revoked() {
        return false;
    }
    let token = token.clone();
    matches!(
        state
            .db
            .read(move |conn| user_for_token(conn, &token))
            .await,
        Ok(Some(_))
    )
}

/// One WebSocket, one session, at most one upload.
struct Connection {
    state: AppState,
    user: User,
    /// The token the connection signed in with, and its registration for revocation.
    token: Token,
    signed_in: SessionGuard,
    session: ServerSession,
    socket: WebSocket,
    upload: Option<OpenUpload>,
}

/// What woke the connection up.
enum Wake {
    Frame(Option<Result<Message, axum::Error>>),
    Superseded,
    /// The token was revoked (the device signed out).
    Revoked,
    /// Nothing arrived for the idle timeout.
    Idle,
}

/// Completes when a newer connection wants `upload`; never without an upload.
async fn superseded(upload: Option<&OpenUpload>) {
    match upload {
        Some(upload) => upload.cancelled().await,
        None => std::future::pending().await,
    }
}

impl Connection {
    #[tracing::instrument(name = "galileo", skip_all, fields(user = %self.user.name))]
    async fn run(mut self) {
        loop {
            if !self.flush().await {
                return;
            }
            if self.session.should_close() {
                // The close or fatal error signal is out; the client closes too.
                let _ = tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Close(None)))
                    .await;
                return;
            }
            let idle = self.state.config.idle_timeout;
            let wake = tokio::select! {
                biased;
                () = self.signed_in.revoked() => Wake::Revoked,
                () = superseded(self.upload.as_ref()) => Wake::Superseded,
                frame = tokio::time::timeout(idle, self.socket.recv()) => {
                    frame.map_or(Wake::Idle, Wake::Frame)
                }
            };
            match wake {
                Wake::Revoked => {
                    // Nothing more of a signed-out device is written or published.
                    self.upload = None;
                    self.session.fail(
                        ErrorCode::Unauthorized,
                        "this device was signed out (its token was revoked); sign in again",
                    );
                }
                Wake::Idle => {
                    self.upload = None;
                    self.session.fail(
                        ErrorCode::Protocol,
                        format!(
                            "nothing arrived for {} seconds; the connection is closed (committed \
                             chunks stay, resume the upload)",
                            idle.as_secs()
                        ),
                    );
                }
                Wake::Superseded => {
                    // A newer connection resumes this upload (or it expired and is being
                    // removed): let go of it at once, as the other side waits for the
                    // lock, then tell this client.
                    self.upload = None;
                    self.session.fail(
                        ErrorCode::Internal,
                        "another connection took over this upload; this one is closed",
                    );
                }
                Wake::Frame(None | Some(Ok(Message::Close(_)))) => {
                    // Committed chunks stay; the upload resumes with the extension.
                    self.session.handle_closed();
                    return;
                }
                Wake::Frame(Some(Err(err))) => {
                    self.upload = None;
                    // axum does not re-export tungstenite's error type to match on, so
                    // its capacity error (a frame above the limit, refused unread) is
                    // recognised by its text; the test for chunk_too_large pins it.
                    if err.to_string().contains("Space limit exceeded") {
                        self.session.fail(
                            ErrorCode::ChunkTooLarge,
                            format!(
                                "a frame was larger than the {} bytes this server accepts",
                                self.session_limit()
                            ),
                        );
                    } else {
                        tracing::debug!(error = %err, "GalileoSend connection failed");
                        self.session.handle_closed();
                        return;
                    }
                }
                Wake::Frame(Some(Ok(Message::Text(text)))) => self.on_text(text.as_str()).await,
                Wake::Frame(Some(Ok(Message::Binary(bytes)))) => self.on_binary(bytes).await,
                Wake::Frame(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            }
        }
    }

    fn session_limit(&self) -> u64 {
        session_options(&self.state).max_chunk
    }

    /// Sends every queued signal; false if the client is gone.
    async fn flush(&mut self) -> bool {
        while let Some(text) = self.session.poll_transmit() {
            let sent =
                tokio::time::timeout(SEND_TIMEOUT, self.socket.send(Message::Text(text.into())))
                    .await;
            if !matches!(sent, Ok(Ok(()))) {
                self.session.handle_closed();
                return false;
            }
        }
        true
    }

    async fn on_text(&mut self, text: &str) {
        // An error has already queued its fatal signal (or the session was over).
        match self.session.handle_text(text) {
            Ok(ServerInput::Meta(meta)) => self.on_meta(&meta).await,
            Ok(ServerInput::Finished(hash)) => self.on_finished(hash).await,
            Err(err) => tracing::debug!(error = %err, "GalileoSend text frame refused"),
        }
    }

    async fn on_meta(&mut self, meta: &Meta) {
        match OpenUpload::open(&self.state, &self.user, meta).await {
            Ok(upload) => {
                let (id, offset) = (upload.record.id.clone(), upload.record.received);
                self.upload = Some(upload);
                if let Err(err) = self.session.accept(id, offset) {
                    self.upload = None;
                    tracing::error!(error = %err, "GalileoSend session refused its upload");
                    self.session.fail(
                        ErrorCode::Internal,
                        "internal server error; try again later",
                    );
                }
            }
            Err(Refusal { code, message }) => self.session.reject(code, message),
        }
    }

    async fn on_binary(&mut self, bytes: Bytes) {
        let plan = match self.session.handle_binary(bytes.len() as u64) {
            Ok(plan) if plan.len > 0 => plan,
            Ok(_) => return,
            Err(err) => {
                tracing::debug!(error = %err, "GalileoSend binary frame refused");
                return;
            }
        };
        let Some(upload) = self.upload.as_mut() else {
            self.session.fail(
                ErrorCode::Internal,
                "internal server error; try again later",
            );
            return;
        };
        match upload.store_chunk(&self.state, plan.offset, bytes).await {
            Ok(()) => self.session.chunk_stored(),
            Err(err) => {
                // Nothing of this chunk counts; the upload stays resumable where it was.
                self.upload = None;
                let Refusal { code, message } = Refusal::from(err);
                self.session.fail(code, message);
            }
        }
    }

    async fn on_finished(&mut self, hash: Option<Hash>) {
        if !still_signed_in(&self.state, &self.signed_in, &self.token).await {
            self.upload = None;
            self.session.fail(
                ErrorCode::Unauthorized,
                "this device was signed out (its token was revoked); sign in again",
            );
            return;
        }
        let Some(upload) = self.upload.take() else {
            self.session.fail(
                ErrorCode::Internal,
                "internal server error; try again later",
            );
            return;
        };
        match upload.finish(&self.state, &self.user, hash).await {
            Ok(()) => {
                if let Err(err) = self.session.finish_ok() {
                    tracing::error!(error = %err, "GalileoSend session refused to finish");
                }
            }
            Err(err) => {
                let Refusal { code, message } = Refusal::from(err);
                self.session.fail(code, message);
            }
        }
    }
}
