//! The `ferry-server` binary: command-line front of the [`ferry_server`] library.
//!
//! Only argument parsing and process setup belong here; the server itself is the library.

use ferry_server as _;

fn main() {
    eprintln!("ferry-server: not built yet; the reference server arrives with its own issue");
    std::process::exit(1);
}
