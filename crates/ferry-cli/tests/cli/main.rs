//! The `ferry` binary, run as a user runs it: in a scratch home, against a real ferry-server.

mod basics;
mod config;
mod full_disk;
mod generate;
mod hostile;
mod interop;
mod keyring;
mod kill;
mod limits;
mod restart;
mod rewrite;
mod sleep;
mod support;
mod sync;
mod tls;
mod upload;
mod verify;
