//! The `ferry-server` binary: command-line front of the [`ferry_server`] library.
//!
//! Only argument parsing, logging setup and process concerns (signals, exit codes) live
//! here; the server itself is the library.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser, Subcommand};
use ferry_server::accounts::{
    Token, add_user, find_user, issue_token, list_tokens, revoke_all_tokens, revoke_token,
    revoke_token_id,
};
use ferry_server::options::{Serve, ServeOptions};
use ferry_server::{App, Config};

/// The Ferry reference server for tus 1.0.0 and GalileoSend.
#[derive(Debug, Parser)]
#[command(name = "ferry-server", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve tus at /files/, GalileoSend at /galileo and the API at /api/v1/.
    Serve(ServeOptions),
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Write shell completions or man pages (packages run it when they are built).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
}

#[derive(Debug, Subcommand)]
enum Generate {
    /// Print the completion script for SHELL on standard output.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write ferry-server.1 and a page per subcommand into DIR.
    Man {
        /// Where the pages go (created if missing).
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account.
    Add {
        /// The user name (also the folder name under DIR/files/).
        name: String,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Print a new bearer token for a user (for scripts).
    Issue {
        /// The user name.
        name: String,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// List a user's tokens: id, device, when issued, whether revoked (never the token).
    List {
        /// The user name.
        name: String,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Revoke tokens: one given as TOKEN or on standard input, one by its id, or all of a
    /// user's. Uploads running with them stop within a second.
    #[command(group(
        clap::ArgGroup::new("which").required(true).args(["token", "token_stdin", "id", "all"])
    ))]
    Revoke {
        /// The token (it shows in the process list: prefer --token-stdin or --id).
        token: Option<String>,
        /// Read the token from standard input.
        #[arg(long)]
        token_stdin: bool,
        /// The token's id, as `token list` shows it.
        #[arg(long)]
        id: Option<String>,
        /// Revoke every token of --user.
        #[arg(long, requires = "user")]
        all: bool,
        /// The user whose tokens --all revokes.
        #[arg(long, requires = "all")]
        user: Option<String>,
        /// The data directory.
        #[arg(long)]
        data: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ferry_server=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("ferry-server: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn open(data: PathBuf) -> anyhow::Result<App> {
    let shown = data.display().to_string();
    App::open(Config::new(data)).with_context(|| format!("opening the data directory {shown}"))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(flags) => {
            let options = match flags.config.clone() {
                Some(file) => {
                    let text = std::fs::read_to_string(&file).with_context(|| {
                        format!("reading the configuration file {}", file.display())
                    })?;
                    flags.over(ServeOptions::from_toml(&text, &file)?)
                }
                None => flags,
            };
            serve(options.resolve()?)
        }
        Command::Generate { what } => generate(what),
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    password_stdin: _,
                    data,
                },
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let app = open(data)?;
            app.state()
                .db
                .call_blocking(|conn| add_user(conn, &name, &password))?;
            eprintln!("ferry-server: user {name} added");
            Ok(())
        }
        Command::Token { command } => token(command),
    }
}

fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Issue { name, data } => {
            let app = open(data)?;
            let token = app.state().db.call_blocking(|conn| {
                let user = find_user(conn, &name)?.ok_or_else(|| {
                    ferry_server::ServerError::BadRequest(format!("no user named {name:?}"))
                })?;
                issue_token(conn, &user, "ferry-server token issue")
            })?;
            println!("{}", token.expose());
            Ok(())
        }
        TokenCommand::List { name, data } => {
            let app = open(data)?;
            let tokens = app.state().db.call_blocking(|conn| {
                let user = find_user(conn, &name)?.ok_or_else(|| {
                    ferry_server::ServerError::BadRequest(format!("no user named {name:?}"))
                })?;
                list_tokens(conn, &user)
            })?;
            println!("ID\tCREATED\tSTATE\tDEVICE");
            for token in tokens {
                let state = token
                    .revoked_at
                    .map_or_else(|| "valid".to_owned(), |at| format!("revoked@{at}"));
                println!(
                    "{}\t{}\t{}\t{}",
                    token.id,
                    token.created_at,
                    state,
                    token.device.replace(['\t', '\n', '\r'], " ")
                );
            }
            Ok(())
        }
        TokenCommand::Revoke {
            token,
            token_stdin,
            id,
            all,
            user,
            data,
        } => {
            let token = if token_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the token from standard input")?;
                Some(text.trim().to_owned())
            } else {
                token
            };
            let app = open(data)?;
            let db = &app.state().db;
            let revoked = match (token, id, user) {
                (Some(token), _, _) => {
                    usize::from(db.call_blocking(|conn| revoke_token(conn, &Token::new(token)))?)
                }
                (None, Some(id), _) => {
                    usize::from(db.call_blocking(|conn| revoke_token_id(conn, &id))?)
                }
                (None, None, Some(name)) if all => db.call_blocking(|conn| {
                    let user = find_user(conn, &name)?.ok_or_else(|| {
                        ferry_server::ServerError::BadRequest(format!("no user named {name:?}"))
                    })?;
                    revoke_all_tokens(conn, &user)
                })?,
                _ => bail!("say which token: TOKEN, --token-stdin, --id ID or --user USER --all"),
            };
            if revoked == 0 && !all {
                bail!("no such token, or it was revoked already");
            }
            eprintln!("ferry-server: {revoked} token(s) revoked");
            Ok(())
        }
    }
}

fn generate(what: Generate) -> anyhow::Result<()> {
    let mut command = Cli::command();
    match what {
        Generate::Completions { shell } => {
            clap_complete::generate(shell, &mut command, "ferry-server", &mut std::io::stdout());
        }
        Generate::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(command, &dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
    }
    Ok(())
}

fn serve(options: Serve) -> anyhow::Result<()> {
    let Serve {
        listen,
        metrics_listen,
        config,
    } = options;
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let app = App::open(config.clone())
            .with_context(|| format!("opening the data directory {}", config.data_dir.display()))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr().context("reading the bound address")?;
        let metrics = match metrics_listen {
            Some(at) => Some(serve_metrics(&app, at).await?),
            None => None,
        };
        // Scripts and tests wait for exactly this line (after the metrics line, if any).
        println!("listening on {scheme}://{addr}");
        let served = app.serve(listener, shutdown_signal()).await;
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        served?;
        eprintln!("ferry-server: stopped");
        Ok(())
    })
}

/// Binds the metrics listener, says where it is, and serves `GET /metrics` on it until the
/// returned task is aborted.
async fn serve_metrics(app: &App, at: SocketAddr) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = tokio::net::TcpListener::bind(at)
        .await
        .with_context(|| format!("listening for metrics on {at}"))?;
    let addr = listener
        .local_addr()
        .context("reading the metrics address")?;
    let scheme = if app.state().config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!("metrics on {scheme}://{addr}/metrics");
    let app = app.clone();
    Ok(tokio::spawn(async move {
        if let Err(err) = app.serve_metrics(listener).await {
            tracing::warn!(error = %err, "the metrics listener stopped");
        }
    }))
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
