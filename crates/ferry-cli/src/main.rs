//! The `ferry` command-line client: sign-in, folders and their sync, one-shot uploads,
//! history and status.
//!
//! A thin front over [`ferry_engine`]: argument parsing, rendering (progress bars on a
//! terminal, plain lines otherwise, JSON with `--json`) and exit codes (0 ok, 1 failure,
//! 2 usage error) live here; the engine does the work and knows nothing of terminals.

mod cli;
mod folder;
mod history;
mod login;
mod progress;
mod render;
mod status;
mod sync;
mod upload;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let default_level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferry: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let home = ferry_engine::home::Home::locate(cli.home.as_deref())?;
    let runtime = || tokio::runtime::Runtime::new().map_err(anyhow::Error::from);
    match &cli.command {
        Command::Login(args) => runtime()?.block_on(login::run_login(&home, args)),
        Command::Logout(args) => runtime()?.block_on(login::run_logout(&home, args)),
        Command::Upload(args) => runtime()?.block_on(upload::run(&home, args, cli.json, cli.quiet)),
        Command::History(args) => history::run(&home, args, cli.json),
        Command::Status => status::run(&home, cli.json),
        Command::Folder(command) => folder::run(&home, command, cli.json),
        Command::Sync(args) => runtime()?.block_on(sync::run(&home, args, cli.json, cli.quiet)),
    }
}
