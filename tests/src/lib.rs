//! Tools for Ferry's end-to-end tests.
//!
//! # Layout
//! - [`proxy`]: a TCP proxy on 127.0.0.1 that forwards to a server and misbehaves on
//!   command: cuts connections at chosen byte offsets, stalls, throttles, refuses
//!   connections for a while, flips a bit.
//!
//! The tests themselves live in `tests/tests/`. Nothing here knows about Ferry's protocols:
//! faults are placed by byte counts, as a real network would place them.

pub mod proxy;
