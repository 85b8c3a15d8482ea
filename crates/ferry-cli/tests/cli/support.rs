//! Running the real `ferry` binary in a scratch home.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `ferry ARGS` with `--home HOME` and no inherited FERRY_* settings.
pub(crate) fn ferry(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env_remove("FERRY_HOME")
        .env_remove("FERRY_TOKEN")
        .output()
        .expect("ferry runs")
}

/// Standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}
