//! The Ferry sync engine: it keeps files uploaded, resumably, to the servers users choose.
//!
//! # Layout
//! - [`target`]: the three forms of server URL and discovering what a server offers.
//! - [`auth`]: signing in and out of a ferry-server; tokens in the OS keyring (or
//!   `FERRY_TOKEN`).
//! - [`transport`]: tus over reqwest and GalileoSend over tokio-tungstenite, thin async
//!   drivers of the sans-IO machines in [`ferry_proto`], with retries.
//! - [`tls`]: the one TLS configuration of both: the platform's verifier and the
//!   certificates a person trusted at sign-in.
//! - [`file`]: a local file's facts, sha1 and ranges; noticing that it changed.
//! - [`retry`], [`rate`]: backoff with jitter, and the rate limit shared by all uploads.
//! - [`secret`]: the bearer token type that never shows itself; [`origin`]: the one origin
//!   a token may go to.
//! - [`home`]: the home directory and its journal; [`journal`]: the one door async code
//!   goes through to the journal (a thread of its own, group commit); [`resume`]: saved machine state as
//!   journal rows and back.
//! - [`service`]: the one front door the CLI and the desktop app share, an async
//!   [`Service`](service::Service): probing a server, accounts, folders and their rules,
//!   ignore rules, history pages, status.
//! - [`settings`]: the user's settings, kept in `HOME/settings.json`; [`schedule`]: the
//!   weekly timetable of upload limits, a pure function of the wall clock.
//! - [`system`]: what the system says about the network, power and sleep (D-Bus on Linux).
//! - [`events`]: the typed events the engine emits on a sink the caller injects.
//! - [`error`]: [`EngineError`], which knows whether retrying can help.
//! - [`upload`]: the resumable one-shot upload `ferry upload` runs (and folder sync reuses).
//! - `verify`: before a file is recorded as uploaded, the server shows it holds its bytes.
//! - [`sync`]: folder sync: watcher, scanner, ignore rules, the pure planner, the
//!   sans-IO sync core that decides what is examined, queued and retried when, the driver
//!   that carries it out, and the live status.
//!
//! The engine knows nothing of Tauri, terminals or how its events are shown.
//!
//! Async code here never blocks a tokio worker: `clippy.toml` refuses blocking filesystem
//! calls, `std::thread::sleep` and opening a `Journal` directly; the functions that block by
//! design (run on the journal thread, the blocking pool or a thread of their own) carry an
//! `expect` with the reason. Unit tests are exempt.

#![cfg_attr(test, allow(clippy::disallowed_methods))]

pub mod auth;
pub mod error;
pub mod events;
pub mod file;
pub mod home;
pub mod journal;
pub mod origin;
pub mod rate;
pub mod resume;
pub mod retry;
pub mod schedule;
pub mod secret;
pub mod service;
pub mod settings;
pub mod sync;
pub mod system;
pub mod target;
pub mod tls;
pub mod transport;
pub mod upload;
mod verify;

pub use crate::error::EngineError;
pub use crate::events::{Event, EventSink};
pub use crate::secret::Token;
pub use crate::transport::TransferOptions;
