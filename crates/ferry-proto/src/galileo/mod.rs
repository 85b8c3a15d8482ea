//! GalileoSend: file upload over one WebSocket, JSON signals in text frames and file data
//! in binary frames, with Ferry's backward-compatible resume extension.
//!
//! The protocol and the extension are specified in `docs/protocol/galileosend.md`. In
//! short: the client sends `{"name":..,"size":..}`, the server answers each step with
//! `{"ready":true}`, the client sends one chunk per ready and `{"finished":true}` at the
//! end, and the server closes with `{"close":true}` or an error signal. With the extension
//! the client adds `path`, `mtime`, `upload` and/or `hash` to its first message, and the
//! server's first ready tells it the upload's id and the offset to continue from.
//!
//! # Layout
//! - [`message`]: the signals as plain data; tolerant parsing, exact serialising.
//! - [`client`]: the client session machine ([`Client`]): hands out frames to send as
//!   JSON text or *byte ranges* of the file, never the bytes themselves.
//! - [`server`]: the server session machine ([`ServerSession`]): validates the client's
//!   frames and tells the driver where each chunk goes; storage stays with the driver.
//! - [`error`]: [`GalileoError`], the wire [`ErrorCode`]s and their [`Recovery`].
//! - [`frames`]: what a refusal of a frame as too large (close code 1009,
//!   `chunk_too_large`) means to the client: smaller frames, down to a floor.
//!
//! Like the rest of this crate, nothing here does I/O: no sockets, no files, no clocks.

pub mod client;
pub mod error;
pub mod frames;
mod lenient;
pub mod message;
pub mod server;

pub use client::{Client, ClientFrame, ClientOptions, Event};
pub use error::{ErrorCode, GalileoError, Recovery};
pub use frames::{CLOSE_MESSAGE_TOO_BIG, FrameRefusal, MIN_FRAME_SIZE};
pub use message::{ClientMessage, ErrorSignal, Finished, Hash, Meta, Ready, ServerMessage};
pub use server::{ChunkPlan, ServerInput, ServerOptions, ServerSession};

/// The chunk size a client uses when the server names none (or 0): 250000 bytes, as the
/// original 2013 JavaScript client does.
pub const DEFAULT_CHUNK_SIZE: u64 = 250_000;
