//! The Ferry sync engine: it keeps chosen folders uploaded.
//!
//! # Layout (to come)
//! - `watch` and `scan`: notice new and changed files (notify, periodic rescans).
//! - `plan`: a pure function from journal state and file facts to operations.
//! - `schedule`: the bounded queue, concurrency, pause/resume and the shared rate limit.
//! - `transport`: tus over reqwest and GalileoSend over tokio-tungstenite, each a thin
//!   driver of the sans-IO machines in [`ferry_proto`].
//! - `auth`: tokens in the OS keyring.
//!
//! The engine emits typed events and knows nothing of Tauri, terminals or how its events are
//! shown; the CLI and the desktop shell inject their own sinks.

// The journal is wired in by the client-core issue; keep the dependency edge visible now.
use ferry_proto as _;
use ferry_store as _;
