//! Ferry's protocol core, without I/O: tus 1.0.0 and GalileoSend as state machines and codecs.
//!
//! Every transport (the engine's HTTP and WebSocket drivers, ferry-server, tests, fuzzers)
//! drives the same machines here, in the style of quinn-proto: `handle_*` methods feed the
//! machine what arrived, `poll_*` methods take out what to send and what happened. The
//! machines never read a clock (time is a parameter), never touch a socket or a file and
//! never spawn anything; a request names the *range* of the file it carries and the driver
//! reads those bytes itself, so nothing is ever buffered whole.
//!
//! # Layout
//! - [`checksum`]: the checksum algorithms both protocols use (sha1, sha256, md5), as
//!   incremental hashers and as `Upload-Checksum` header values.
//! - [`tus`]: tus 1.0.0. Header codecs ([`tus::metadata`], [`tus::headers`]), requests and
//!   responses as plain data ([`tus::message`]), the client machine ([`tus::client`]), the
//!   server-side validation helpers ([`tus::server`]) and an in-memory server built from
//!   them ([`tus::memory`]) for tests, fuzzing and demos.
//! - [`galileo`]: GalileoSend, the JSON + binary-frame WebSocket protocol, with Ferry's
//!   backward-compatible resume extension: messages, client and server session machines.
//! - [`protocol`]: [`Protocol`], the name of the protocol an upload travels with, shared by
//!   every crate (journal, engine, CLI, window).
//! - [`token`]: the bearer token type that never shows itself (client and server).
//! - [`wire`]: an HTTP/1.1 head codec for byte-exact fixtures, fuzzing and logs. Real
//!   transports use their own HTTP stack and never need it.
//!
//! This crate must not know about tokio, reqwest, hyper, the filesystem, the journal or any
//! user interface.

pub mod checksum;
pub mod galileo;
pub mod protocol;
pub mod token;
pub mod tus;
pub mod wire;

pub use crate::protocol::Protocol;
