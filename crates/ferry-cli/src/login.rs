//! `ferry login` and `ferry logout`: a token from the server (user name and password) or
//! pasted, kept in the OS keyring under service `ferry`, account `USER@SERVER`; the journal
//! remembers only the account (server and user), never the secret.

use std::io::Read;

use anyhow::{Context, bail};
use ferry_engine::Token;
use ferry_engine::auth::{Credentials, login, logout, sign_in_client};
use ferry_engine::home::Home;

use crate::cli::{LoginArgs, LogoutArgs};

/// Reads one secret from standard input (the whole of it, without the final newline).
fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// This machine's name, to tell tokens apart on the server.
fn device_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    format!(
        "ferry-cli on {}",
        host.unwrap_or_else(|| "an unnamed machine".to_owned())
    )
}

pub(crate) async fn run_login(home: &Home, args: &LoginArgs) -> anyhow::Result<()> {
    let credentials = Credentials::from_env();
    let user = args.user.clone().unwrap_or_default();
    let token = if args.token_stdin {
        let token = Token::new(read_stdin("token")?);
        if token.is_empty() {
            bail!("no token on standard input");
        }
        token
    } else {
        let password = read_stdin("password")?;
        let http = sign_in_client();
        login(&http, &args.server, &user, &password, &device_name()).await?
    };
    let (server, account_user) = (args.server.clone(), user.clone());
    let store = credentials.clone();
    tokio::task::spawn_blocking(move || store.store(&server, &account_user, &token)).await??;
    home.journal()?.account(&args.server, &user)?;
    let who = if user.is_empty() {
        String::new()
    } else {
        format!(" as {user}")
    };
    eprintln!(
        "Signed in to {}{who}; the token is in the OS keyring.",
        args.server
    );
    Ok(())
}

pub(crate) async fn run_logout(home: &Home, args: &LogoutArgs) -> anyhow::Result<()> {
    let journal = home.journal()?;
    let users: Vec<String> = journal
        .accounts()?
        .into_iter()
        .filter(|a| a.server_url == args.server)
        .map(|a| a.user)
        .collect();
    if users.is_empty() {
        bail!("not signed in to {}", args.server);
    }
    // Only the keyring's tokens are revoked and deleted: FERRY_TOKEN belongs to the caller.
    let credentials = Credentials::with_env_token(None);
    let http = sign_in_client();
    for user in users {
        let (server, who) = (args.server.clone(), user.clone());
        let lookup = credentials.clone();
        let token = tokio::task::spawn_blocking(move || lookup.token(&server, &who)).await??;
        if let Some(token) = token {
            match logout(&http, &args.server, &token).await {
                Ok(done) if done.revoked => eprintln!("Revoked the token on {}.", args.server),
                Ok(done) => eprintln!(
                    "{}",
                    done.note
                        .unwrap_or_else(|| "The server kept no such token.".into())
                ),
                Err(err) => eprintln!(
                    "Could not revoke the token on the server ({err}); deleting it here anyway."
                ),
            }
        }
        let (server, who) = (args.server.clone(), user.clone());
        let remove = credentials.clone();
        tokio::task::spawn_blocking(move || remove.delete(&server, &who)).await??;
    }
    eprintln!("Signed out of {}.", args.server);
    Ok(())
}
