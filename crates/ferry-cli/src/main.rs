//! The `ferry` command-line client: login, folders, sync, upload, status and history.
//!
//! A thin front over [`ferry_engine`]: argument parsing, progress rendering and exit codes
//! live here; the engine does the work and knows nothing of terminals.

use ferry_engine as _;

fn main() {
    eprintln!("ferry: not built yet; the command-line client arrives with the client-core issue");
    std::process::exit(1);
}
