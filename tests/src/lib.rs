//! Tools for Ferry's end-to-end tests.
//!
//! # Layout
//! - [`proxy`]: a TCP proxy on 127.0.0.1 that forwards to a server and misbehaves on
//!   command: cuts connections at chosen byte offsets, stalls, throttles, refuses
//!   connections for a while, flips a bit.
//! - [`nginx`]: a real nginx (Debian's) as a reverse proxy before a server, with its default
//!   body limit or another, on 127.0.0.1 and a free port.
//! - [`fake_http`]: a raw HTTP/1.1 listener that plays a misbehaving server from a script
//!   and records every byte it received (the token grepped for in it).
//! - [`tmpfs`]: a small filesystem mounted for a test (a full disk), unmounted when dropped.
//! - [`peers`]: the pinned Node.js interop peers and the `node` that runs them.
//! - [`process`]: real programs as child processes, waited for on their exit or their
//!   `listening on` line, never left running.
//! - [`keyring`]: the real Secret Service (or no D-Bus at all) for a test, in a child
//!   process of its own test binary.
//! - [`dbusmock`]: NetworkManager, logind and UPower as python-dbusmock plays them, on a
//!   private bus of the test's own.
//! - [`server`]: a real ferry-server in the test's process, on 127.0.0.1 port 0, with two
//!   users and their tokens.
//!
//! The tests themselves live in `tests/tests/` and in each crate's test binary. The proxy
//! knows nothing of Ferry's protocols: faults are placed by byte counts, as a real network
//! would place them.

#![allow(
    clippy::missing_panics_doc,
    reason = "test tools panic loudly by design: a test that cannot set itself up must fail"
)]

pub mod dbusmock;
pub mod fake_http;
pub mod keyring;
pub mod nginx;
pub mod peers;
pub mod process;
pub mod proxy;
pub mod server;
pub mod tmpfs;
