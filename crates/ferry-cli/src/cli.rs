//! The command line, as clap sees it. The flags are a contract (DESIGN 4.2).

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use ferry_engine::retry::RetryPolicy;
use ferry_engine::target::Protocol;

/// Ferry keeps files uploaded to your server, resumably, over tus or GalileoSend.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about)]
pub(crate) struct Cli {
    /// Where Ferry keeps its journal (default: $FERRY_HOME, else the platform data folder).
    #[arg(long, global = true, env = "FERRY_HOME")]
    pub(crate) home: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Say more (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
    /// Say only errors.
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Sign in to a server; the token goes to the OS keyring.
    Login(LoginArgs),
    /// Sign out: revoke the token on the server and delete it from the keyring.
    Logout(LogoutArgs),
    /// Upload files (resumable: run it again after any interruption and it continues).
    Upload(UploadArgs),
    /// Show finished, abandoned, failed, renamed and deleted files, newest first.
    History(HistoryArgs),
    /// Show the synced folders, the running sync and unfinished uploads.
    Status,
    /// Choose the folders Ferry keeps uploaded.
    #[command(subcommand)]
    Folder(FolderCommand),
    /// Keep the synced folders uploaded: watch them and upload every change.
    Sync(SyncArgs),
    /// Read and change the settings (the same ones the desktop app shows).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write shell completions or man pages (packages run it when they are built).
    #[command(hide = true, subcommand)]
    Generate(GenerateCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Show every setting and its value.
    List(ConfigScope),
    /// Show one setting's value.
    Get(ConfigGetArgs),
    /// Change a setting (checked first; a running `ferry sync` takes it within seconds).
    Set(ConfigSetArgs),
    /// Put a setting back to its default (a folder's: back to the setting of all folders).
    Unset(ConfigGetArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ConfigScope {
    /// A synced folder's own settings (schedule, pauseOnMetered) instead of all folders'.
    #[arg(long, value_name = "DIR")]
    pub(crate) folder: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigGetArgs {
    /// The setting, by its name in settings.json (see `ferry config list`).
    pub(crate) key: String,
    #[command(flatten)]
    pub(crate) scope: ConfigScope,
}

#[derive(Debug, Args)]
pub(crate) struct ConfigSetArgs {
    /// The setting, by its name in settings.json (see `ferry config list`).
    pub(crate) key: String,
    /// Its new value: a number, a rate (500k, 1M, 2MiB, unlimited), on or off, a
    /// schedule ("mon-fri 09:00-18:00 1M; sat,sun 00:00-24:00 off").
    #[arg(allow_hyphen_values = true)]
    pub(crate) value: String,
    #[command(flatten)]
    pub(crate) scope: ConfigScope,
}

#[derive(Debug, Subcommand)]
pub(crate) enum FolderCommand {
    /// Keep a folder uploaded to a server.
    Add(FolderAddArgs),
    /// Show the synced folders.
    List,
    /// Stop syncing a folder (nothing is deleted, here or on the server).
    Remove(FolderRemoveArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FolderAddArgs {
    /// The local folder.
    pub(crate) dir: PathBuf,
    /// The server: a ferry-server URL, a tus endpoint or a ws(s):// GalileoSend endpoint.
    #[arg(long)]
    pub(crate) server: String,
    /// Put the folder's files under this path on the server (default: at the top).
    #[arg(long)]
    pub(crate) remote: Option<String>,
    /// The protocol (default: tus when the server offers it).
    #[arg(long, value_parser = protocol())]
    pub(crate) protocol: Option<Protocol>,
    /// The account's user at that server (default: the one signed in there; needed when
    /// several are).
    #[arg(long)]
    pub(crate) user: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct FolderRemoveArgs {
    /// The local folder, as added.
    pub(crate) dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Scan, upload everything pending, then exit (0: all done; 1: something failed).
    #[arg(long)]
    pub(crate) once: bool,
    /// Files uploaded at once (default: 4, or the saved setting).
    #[arg(long)]
    pub(crate) concurrency: Option<usize>,
    /// Upload at most this many bytes per second, all files together.
    #[arg(long)]
    pub(crate) limit_rate: Option<u64>,
    /// Milliseconds a changed file must stay unchanged before it is uploaded (default 2000).
    #[arg(long)]
    pub(crate) quiet_ms: Option<u64>,
    /// A weekly timetable of limits instead of the saved one, e.g.
    /// "mon-fri 09:00-18:00 1M; sat,sun 00:00-24:00 off" (rules DAYS FROM-TO LIMIT, where
    /// LIMIT is a rate, off or unlimited; see the README).
    #[arg(long, value_parser = schedule())]
    pub(crate) schedule: Option<ferry_engine::schedule::Timetable>,
}

fn schedule() -> impl TypedValueParser<Value = ferry_engine::schedule::Timetable> {
    clap::builder::StringValueParser::new()
        .try_map(|text: String| text.parse::<ferry_engine::schedule::Timetable>())
}

#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// At most this many entries.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: u32,
    /// Only entries whose local or remote path contains this text.
    #[arg(long)]
    pub(crate) search: Option<String>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["password_stdin", "token_stdin"])))]
pub(crate) struct LoginArgs {
    /// The server: a ferry-server URL, a tus endpoint or a ws(s):// GalileoSend endpoint.
    pub(crate) server: String,
    /// The user name on that server.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Read the password from standard input (never from the command line).
    #[arg(long, requires = "user")]
    pub(crate) password_stdin: bool,
    /// Read a token from standard input instead of signing in with a password.
    #[arg(long)]
    pub(crate) token_stdin: bool,
    /// Trust the server's certificate when its SHA-256 fingerprint is this one (hex, with or
    /// without colons): for a self-signed server, without asking. `ferry login URL` on a
    /// terminal shows the fingerprint and asks.
    #[arg(long, value_name = "SHA256")]
    pub(crate) trust_fingerprint: Option<ferry_engine::tls::Fingerprint>,
}

#[derive(Debug, Args)]
pub(crate) struct LogoutArgs {
    /// The server as given to `ferry login`.
    pub(crate) server: String,
}

#[derive(Debug, Args)]
pub(crate) struct UploadArgs {
    /// The files to upload.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// The server: a ferry-server URL, a tus endpoint or a ws(s):// GalileoSend endpoint.
    #[arg(long)]
    pub(crate) server: String,
    /// Where the file goes on the server (default: its name); a folder prefix for several files.
    #[arg(long)]
    pub(crate) remote: Option<String>,
    /// The protocol (default: tus when the server offers it).
    #[arg(long, value_parser = protocol())]
    pub(crate) protocol: Option<Protocol>,
    /// Bytes per request (tus) or most bytes per frame (GalileoSend).
    #[arg(long)]
    pub(crate) chunk_size: Option<u64>,
    /// Upload at most this many bytes per second (all files together).
    #[arg(long)]
    pub(crate) limit_rate: Option<u64>,
    /// Parallel partial uploads for large files on tus servers that offer concatenation.
    #[arg(long, default_value_t = 1)]
    pub(crate) parallel: usize,
    /// Give up on a file after this many failed attempts in a row without progress (waits
    /// between them grow from 0.5 s to 30 s); 0 never gives up. Run the same command again
    /// later to resume.
    #[arg(long, default_value_t = RetryPolicy::default().max_attempts)]
    pub(crate) retries: u32,
}

/// `--protocol`: one of the names of [`Protocol`] (listed in `--help` and in the error for
/// any other name), parsed by `Protocol::from_str`.
fn protocol() -> impl TypedValueParser<Value = Protocol> {
    let help = |p: Protocol| match p {
        Protocol::Tus => "tus 1.0.0",
        Protocol::Galileo => "GalileoSend",
    };
    PossibleValuesParser::new(Protocol::ALL.map(|p| PossibleValue::new(p.as_str()).help(help(p))))
        .try_map(|name| name.parse::<Protocol>())
}

#[derive(Debug, Subcommand)]
pub(crate) enum GenerateCommand {
    /// Print the completion script for SHELL on standard output.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write ferry.1 and a page per subcommand into DIR.
    Man {
        /// Where the pages go (created if missing).
        dir: PathBuf,
    },
}
