//! The Ferry reference server: tus 1.0.0 with every extension and GalileoSend with resume.
//!
//! # Layout (to come)
//! - `serve(listener, config, shutdown)`: the whole server, taking its listener and shutdown
//!   signal from outside so that tests bind `127.0.0.1:0`.
//! - `tus` and `galileo`: the protocol endpoints, driving the helpers and session machines
//!   of [`ferry_proto`].
//! - `storage`, `accounts`: disk layout under `DIR/` and the server's own SQLite.
//!
//! It knows nothing of the Ferry client: any tus or GalileoSend client is a first-class peer.

use ferry_proto as _;
