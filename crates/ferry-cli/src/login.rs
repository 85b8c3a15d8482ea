//! `ferry login` and `ferry logout`: a token from the server (user name and password) or
//! pasted, kept in the OS keyring under service `ferry`, account `USER@SERVER`; the journal
//! remembers only the account (server and user), never the secret. The service signs in
//! and out; here are only standard input and the messages.

use std::io::Read;

use anyhow::{Context, bail};
use ferry_engine::Token;
use ferry_engine::service::{Revocation, Secret, Service, device_name};

use crate::cli::{LoginArgs, LogoutArgs};

/// Reads one secret from standard input (the whole of it, without the final newline).
fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

pub(crate) async fn run_login(service: &Service, args: &LoginArgs) -> anyhow::Result<()> {
    let user = args.user.clone().unwrap_or_default();
    let password;
    let secret = if args.token_stdin {
        let token = Token::new(read_stdin("token")?);
        if token.is_empty() {
            bail!("no token on standard input");
        }
        Secret::Token(token)
    } else {
        password = read_stdin("password")?;
        Secret::Password(&password)
    };
    let device = device_name("ferry-cli").await;
    let account = service
        .sign_in(&args.server, &user, secret, &device)
        .await?;
    let who = if account.user.is_empty() {
        String::new()
    } else {
        format!(" as {}", account.user)
    };
    eprintln!(
        "Signed in to {}{who}; the token is in the OS keyring.",
        account.server
    );
    Ok(())
}

pub(crate) async fn run_logout(service: &Service, args: &LogoutArgs) -> anyhow::Result<()> {
    let users = service.users_at(&args.server).await?;
    if users.is_empty() {
        bail!("not signed in to {}", args.server);
    }
    // Only the keyring's tokens are revoked and deleted: FERRY_TOKEN belongs to the caller.
    for user in users {
        match service.sign_out(&args.server, &user).await? {
            Revocation::NoToken => {}
            Revocation::Answered(done) if done.revoked => {
                eprintln!("Revoked the token on {}.", args.server);
            }
            Revocation::Answered(done) => eprintln!(
                "{}",
                done.note
                    .unwrap_or_else(|| "The server kept no such token.".into())
            ),
            Revocation::Failed(err) => eprintln!(
                "Could not revoke the token on the server ({err}); deleting it here anyway."
            ),
        }
    }
    eprintln!("Signed out of {}.", args.server);
    Ok(())
}
