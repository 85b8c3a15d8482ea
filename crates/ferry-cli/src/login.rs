//! `ferry login` and `ferry logout`: a token from the server (user name and password) or
//! pasted, kept in the OS keyring under service `ferry`, account `USER@SERVER`; the journal
//! remembers only the account (server and user), never the secret. The service signs in
//! and out; here are only standard input and the messages.

use std::io::{BufRead, IsTerminal, Read, Write};

use anyhow::{Context, bail};
use ferry_engine::service::{Revocation, Secret, Service, ServiceError, device_name};
use ferry_engine::tls::Fingerprint;
use ferry_engine::{EngineError, Token};

use crate::cli::{LoginArgs, LogoutArgs};

/// Reads one secret from standard input (the whole of it, without the final newline).
fn read_stdin(what: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

/// The fingerprint of the certificate to trust at `server`: the one given, or, when the
/// server's certificate is not trusted and a person is at the terminal, the one they
/// accept after seeing it. Not on a terminal, an untrusted certificate is refused with the
/// engine's message (which names the fingerprint and `--trust-fingerprint`).
async fn certificate_to_trust(
    service: &Service,
    server: &str,
    given: Option<Fingerprint>,
) -> anyhow::Result<Option<Fingerprint>> {
    let Err(err) = service.check_certificate(server, given).await else {
        return Ok(given);
    };
    let ServiceError::Engine(EngineError::Certificate {
        presented,
        pinned: None,
        problem,
        ..
    }) = &err
    else {
        return Err(err.into());
    };
    if given.is_some() || !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Err(err.into());
    }
    eprintln!(
        "The certificate of {server} is not trusted by this computer ({}).\n  SHA-256 fingerprint: {}\n  subject: {}\nCompare the fingerprint with the one the server's administrator gives you.",
        problem.words(),
        presented.fingerprint,
        presented.subject
    );
    eprint!("Trust this certificate for {server}? [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer from the terminal")?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(Some(presented.fingerprint))
    } else {
        bail!("not signed in: the certificate of {server} was not trusted")
    }
}

pub(crate) async fn run_login(service: &Service, args: &LoginArgs) -> anyhow::Result<()> {
    // The certificate first: nothing (no password) is read or sent before it is trusted.
    let trusted = certificate_to_trust(service, &args.server, args.trust_fingerprint).await?;
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
        .sign_in_trusting(&args.server, &user, secret, &device, trusted)
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
    if let Some(trusted) = trusted {
        eprintln!(
            "Ferry trusts the certificate with SHA-256 fingerprint {trusted} for {}; a different one will be refused.",
            account.server
        );
    }
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
