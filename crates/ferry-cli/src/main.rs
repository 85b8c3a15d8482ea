//! The `ferry` command-line client: sign-in, folders and their sync, one-shot uploads,
//! history, status and settings.
//!
//! A thin front over [`ferry_engine`]: argument parsing, rendering (progress bars on a
//! terminal, plain lines otherwise, JSON with `--json`) and exit codes (0 ok, 1 failure,
//! 2 usage error) live here; the engine does the work and knows nothing of terminals.
//! Every command runs in one tokio runtime and reaches folders, accounts, history and
//! status only through one [`Service`] (the engine's front door, which the desktop app
//! holds too): no journal and no folder rule here.

mod cli;
mod config;
mod folder;
mod history;
mod login;
mod progress;
mod render;
mod status;
mod sync;
mod upload;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use ferry_engine::auth::Credentials;
use ferry_engine::service::Service;

use crate::cli::{Cli, Command, GenerateCommand};

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
    if let Command::Generate(what) = &cli.command {
        return generate(what);
    }
    let home = ferry_engine::home::Home::locate(cli.home.as_deref())?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        // The one door to folders, accounts, history and status (and the journal behind them).
        let service = Service::open(home, Credentials::from_env()).await?;
        match &cli.command {
            Command::Login(args) => login::run_login(&service, args).await,
            Command::Logout(args) => login::run_logout(&service, args).await,
            Command::Upload(args) => upload::run(&service, args, cli.json, cli.quiet).await,
            Command::History(args) => history::run(&service, args, cli.json).await,
            Command::Status => status::run(&service, cli.json).await,
            Command::Folder(command) => folder::run(&service, command, cli.json).await,
            Command::Sync(args) => sync::run(service, args, cli.json, cli.quiet).await,
            Command::Config(command) => config::run(&service, command, cli.json).await,
            // Handled above, before the home is opened.
            Command::Generate(what) => generate(what),
        }
    })
}

/// Completions and man pages from the clap definitions: nothing to open, no home needed.
fn generate(what: &GenerateCommand) -> anyhow::Result<()> {
    let mut command = <Cli as clap::CommandFactory>::command();
    match what {
        GenerateCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut command, "ferry", &mut std::io::stdout());
        }
        GenerateCommand::Man { dir } => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
    }
    Ok(())
}
