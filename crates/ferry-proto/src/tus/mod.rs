//! tus 1.0.0, the open protocol for resumable uploads over HTTP, both ways.
//!
//! # Layout
//! - [`headers`]: header names and value codecs (integers, lists, dates, `Upload-Concat`).
//! - [`metadata`]: the `Upload-Metadata` codec.
//! - [`capabilities`]: what a server offers, from its OPTIONS answer.
//! - [`message`]: requests and responses as plain data.
//! - [`client`]: the client machine for one file ([`Upload`]).
//! - [`error`]: the client's errors and how it recovers from each.
//! - [`server`]: validation helpers and answers for a tus server (ferry-server uses them).
//! - [`memory`]: a complete tus server in memory, built from [`server`], for tests and demos.

pub mod capabilities;
pub mod client;
pub mod error;
pub mod headers;
pub mod memory;
pub mod message;
pub mod metadata;
pub mod server;

pub use capabilities::Capabilities;
pub use client::{Event, ResumeState, Upload, UploadOptions};
pub use error::{Recovery, TusError};
pub use headers::{Concat, Extension};
pub use message::{Body, Request, RequestId, RequestKind, Response};
pub use metadata::Metadata;
