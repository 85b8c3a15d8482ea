//! ferry-engine's integration tests: the engine against a real ferry-server on 127.0.0.1
//! port 0 (in this process), through the fault-injection proxy where the network misbehaves,
//! and against small fake servers that answer badly on purpose (`bad_servers`, `hostile`,
//! both on the raw listener of `ferry_tests::fake_http`).

// Tests may block: they are not the engine's async code (see the crate's clippy.toml).
#![allow(clippy::disallowed_methods)]

mod auth;
mod bad_servers;
mod driver;
mod frame_limits;
mod galileo;
mod hostile;
mod hostile_tls;
mod missing_folder;
mod schedule;
mod service;
mod support;
mod sync;
#[cfg(target_os = "linux")]
mod system;
mod targets;
mod tus;
