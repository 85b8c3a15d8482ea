//! End-to-end verification: a file is recorded as uploaded only once the server shows that
//! it holds the file's exact bytes, checked the strongest way that server offers.
//!
//! - A ferry-server lists the stored file (`GET /api/v1/files?path=`) with its size and
//!   sha1, which must be the local content's: [`Verification::ServerSha1`]. The same listing
//!   lets a run that follows a crash recognise a file the server already holds
//!   ([`already_stored`]), so it is recorded, not sent again.
//! - Any other tus server: a final HEAD must agree on offset and length; the bytes are
//!   [`Verification::ChunkChecksums`] when every chunk went with a checksum the server
//!   checks, otherwise [`Verification::Unverified`].
//! - Any other GalileoSend server: with Ferry's resume extension it checked the whole-file
//!   hash sent with the upload ([`Verification::ServerSha1`]); the original protocol checks
//!   nothing.
//!
//! A server that cannot show the file is never taken at its word: the result is
//! [`EngineError::NotStored`], with what it showed instead. Knows nothing of the journal.

use ferry_proto::checksum::Checksum;
use ferry_store::Verification;
use serde::Deserialize;
use url::Url;

use crate::error::{EngineError, NetworkFailure};
use crate::secret::Token;
use crate::target::{Protocol, Target};
use crate::transport::Transferred;

/// The most bytes of a listing read: a listing of one path is a few hundred bytes, and a
/// server that sends more is not believed.
const MAX_LISTING: usize = 1 << 20;

/// A file as a ferry-server lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Listed {
    /// Its path under the user's folder.
    pub(crate) path: String,
    /// Its size.
    pub(crate) size: u64,
    /// Its sha1, hex.
    pub(crate) sha1: String,
}

/// The content that was sent: where to, how long, which sha1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent<'a> {
    /// The remote path.
    pub(crate) remote: &'a str,
    /// The file's size.
    pub(crate) size: u64,
    /// Its whole-file sha1.
    pub(crate) sha1: &'a Checksum,
}

impl Sent<'_> {
    fn matches(&self, listed: &Listed) -> bool {
        listed.path == self.remote
            && listed.size == self.size
            && listed.sha1.eq_ignore_ascii_case(&self.sha1.to_hex())
    }

    fn not_stored(&self, server: &str, reason: String) -> EngineError {
        EngineError::NotStored {
            remote: self.remote.to_owned(),
            server: server.to_owned(),
            reason,
        }
    }
}

/// What a ferry-server lists at exactly `remote` for the signed-in user (`None`: nothing).
async fn listing(
    http: &reqwest::Client,
    target: &Target,
    token: Option<&Token>,
    remote: &str,
) -> Result<Option<Listed>, EngineError> {
    let answered = |kind, reason: String| EngineError::unreachable(&target.server, kind, reason);
    let mut url = Url::parse(&target.server)
        .and_then(|base| base.join("/api/v1/files"))
        .map_err(|e| EngineError::BadUrl {
            url: target.server.clone(),
            reason: e.to_string(),
        })?;
    url.query_pairs_mut().append_pair("path", remote);
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let reply = request
        .send()
        .await
        .map_err(|e| EngineError::network(&target.server, &e))?;
    let status = reply.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(EngineError::Unauthorized {
            server: target.server.clone(),
        });
    }
    if !status.is_success() {
        return Err(answered(
            NetworkFailure::Status(status.as_u16()),
            format!("it answered {status} when asked which files it holds at {remote:?}"),
        ));
    }
    let body = crate::transport::capped_body(reply, MAX_LISTING)
        .await
        .map_err(|e| match e {
            crate::transport::CappedError::TooLarge { .. } => answered(
                NetworkFailure::BadAnswer,
                format!("its listing of {remote:?} is larger than {MAX_LISTING} bytes"),
            ),
            other @ crate::transport::CappedError::Network(_) => other.into_engine(&target.server),
        })?;
    let files: Vec<Listed> = serde_json::from_slice(&body).map_err(|e| {
        answered(
            NetworkFailure::BadAnswer,
            format!("its listing of {remote:?} is not valid JSON: {e}"),
        )
    })?;
    Ok(files.into_iter().find(|f| f.path == remote))
}

/// Whether the ferry-server `target` already holds exactly this content at its remote path
/// (an upload finished before a crash let the journal record it). `false` for other
/// servers, and when the listing cannot be had (the upload then goes on and is verified at
/// its end).
pub(crate) async fn already_stored(
    http: &reqwest::Client,
    target: &Target,
    token: Option<&Token>,
    sent: Sent<'_>,
) -> bool {
    if !target.ferry_server {
        return false;
    }
    match listing(http, target, token, sent.remote).await {
        Ok(found) => found.is_some_and(|f| sent.matches(&f)),
        Err(err) => {
            tracing::debug!(error = %err, "could not ask whether the server holds the file");
            false
        }
    }
}

/// Checks that the server holds what was sent, the strongest way it offers; how it was
/// checked. `checksummed`: every tus chunk carried a checksum the server checks.
pub(crate) async fn verify(
    http: &reqwest::Client,
    target: &Target,
    protocol: Protocol,
    token: Option<&Token>,
    sent: Sent<'_>,
    done: &Transferred,
) -> Result<Verification, EngineError> {
    if target.ferry_server {
        return match listing(http, target, token, sent.remote).await? {
            Some(found) if sent.matches(&found) => Ok(Verification::ServerSha1),
            Some(found) => Err(sent.not_stored(
                &target.server,
                format!(
                    "it holds {} bytes with sha1 {} there, not the {} bytes with sha1 {} that were sent \
                     (another upload to the same path may have finished after this one)",
                    found.size,
                    found.sha1,
                    sent.size,
                    sent.sha1.to_hex()
                ),
            )),
            None => Err(sent.not_stored(
                &target.server,
                "it does not list the file: it did not store it".to_owned(),
            )),
        };
    }
    if protocol == Protocol::Tus {
        final_head(http, target, token, sent, done).await?;
    }
    Ok(level(protocol, done))
}

/// How an upload to a server other than a ferry-server was checked, once its end agreed.
fn level(protocol: Protocol, done: &Transferred) -> Verification {
    match protocol {
        Protocol::Galileo if done.server_checked_sha1 => Verification::ServerSha1,
        Protocol::Tus if done.checksummed => Verification::ChunkChecksums,
        Protocol::Galileo | Protocol::Tus => Verification::Unverified,
    }
}

/// A last HEAD on a tus upload: the server must hold all of it, at the file's length.
async fn final_head(
    http: &reqwest::Client,
    target: &Target,
    token: Option<&Token>,
    sent: Sent<'_>,
    done: &Transferred,
) -> Result<(), EngineError> {
    let Some(location) = done.location.as_deref() else {
        return Err(sent.not_stored(
            &target.server,
            "it named no location for the finished upload".to_owned(),
        ));
    };
    let mut request = http
        .head(location)
        .header("Tus-Resumable", ferry_proto::tus::headers::TUS_VERSION);
    // The token goes only to the origin it belongs to, whatever a `Location` names.
    let same_origin = target.tus.as_ref().is_some_and(|tus| {
        Url::parse(location).is_ok_and(|url| url.origin() == tus.endpoint.origin())
    });
    if let Some(token) = token.filter(|_| same_origin) {
        request = request.bearer_auth(token.expose());
    }
    let reply = request
        .send()
        .await
        .map_err(|e| EngineError::network(&target.server, &e))?;
    let status = reply.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        // Some servers move a finished upload out of the tus store at once; the answer to
        // the last byte said it was complete, and that is all such a server can say.
        tracing::debug!(%location, "the finished upload is no longer at its tus location");
        return Ok(());
    }
    let number = |name: &str| {
        reply
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let (offset, length) = (number("upload-offset"), number("upload-length"));
    if status.is_success() && offset == Some(sent.size) && length.is_none_or(|l| l == sent.size) {
        return Ok(());
    }
    Err(sent.not_stored(
        &target.server,
        format!(
            "asked again, it answered {status} with Upload-Offset {} and Upload-Length {} for a file of {} bytes",
            offset.map_or_else(|| "missing".to_owned(), |o| o.to_string()),
            length.map_or_else(|| "missing".to_owned(), |l| l.to_string()),
            sent.size
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done(checksummed: bool, server_checked_sha1: bool) -> Transferred {
        Transferred {
            location: Some("http://127.0.0.1:1/files/x".into()),
            bytes_sent: 1,
            checksummed,
            server_checked_sha1,
        }
    }

    #[test]
    fn other_servers_are_credited_with_exactly_the_check_they_made() {
        use Verification::{ChunkChecksums, ServerSha1, Unverified};
        assert_eq!(level(Protocol::Tus, &done(true, false)), ChunkChecksums);
        assert_eq!(level(Protocol::Tus, &done(false, false)), Unverified);
        assert_eq!(
            level(Protocol::Tus, &done(false, true)),
            Unverified,
            "a tus server never checked a whole-file hash it was not asked to"
        );
        assert_eq!(level(Protocol::Galileo, &done(false, true)), ServerSha1);
        assert_eq!(level(Protocol::Galileo, &done(false, false)), Unverified);
    }

    #[test]
    fn a_listing_matches_only_the_same_path_size_and_sha1() {
        let sha1 = ferry_proto::checksum::ChecksumAlgorithm::Sha1.digest(b"abc");
        let sent = Sent {
            remote: "a/b.bin",
            size: 3,
            sha1: &sha1,
        };
        let listed = |path: &str, size, hex: String| Listed {
            path: path.into(),
            size,
            sha1: hex,
        };
        assert!(sent.matches(&listed("a/b.bin", 3, sha1.to_hex().to_uppercase())));
        assert!(!sent.matches(&listed("a/b.bin", 4, sha1.to_hex())));
        assert!(!sent.matches(&listed("a/c.bin", 3, sha1.to_hex())));
        assert!(!sent.matches(&listed("a/b.bin", 3, "0".repeat(40))));
    }
}
