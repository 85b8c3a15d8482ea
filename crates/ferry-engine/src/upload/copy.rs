//! Never sending what the server already has: before a new upload to a ferry-server that
//! offers copy by content (`copy-by-content` in `/api/v1/info`), the engine asks it to copy
//! a file of the same user's with this sha1 and size to the remote path
//! (`POST /api/v1/files/copy`). A renamed, moved or copied file then costs one request
//! instead of its bytes. Only believed once the server lists exactly this content at the
//! path ([`verify::already_stored`]); anything else (no such content, another server, an
//! error) leaves the file to be uploaded as usual. Knows nothing of the journal.

use serde_json::json;
use url::Url;

use crate::secret::Token;
use crate::target::Target;
use crate::verify::{self, Sent};

/// Files smaller than this are simply sent: for them, asking first would cost about what it
/// saves, and a new small file would pay the question for nothing.
pub(super) const COPY_FROM: u64 = 256 * 1024;

/// What the upload knows of itself when it asks.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    /// An earlier run started this upload.
    pub(super) earlier: bool,
    /// The file was hashed just now (not a sha1 the journal kept for the same facts, which a
    /// rewrite keeping size and mtime would leave stale: a copy by a stale sha1 would put
    /// other bytes on the server than the file holds).
    pub(super) hashed_now: bool,
}

/// Whether the server holds this content at `sent.remote` already, so that nothing is sent:
/// for an upload an earlier run started, because it finished before the journal could say so
/// (a crash); for a new one of a file hashed just now, because the server copied content it
/// had.
pub(super) async fn held_already(
    http: &reqwest::Client,
    target: &Target,
    token: Option<&Token>,
    sent: Sent<'_>,
    asked: Asked,
) -> bool {
    if asked.earlier {
        verify::already_stored(http, target, token, sent).await
    } else if asked.hashed_now {
        copied_by_content(http, target, token, sent).await
    } else {
        false
    }
}

/// Whether the server copied content it already held to `sent.remote`, and now lists it
/// there (then nothing is sent).
async fn copied_by_content(
    http: &reqwest::Client,
    target: &Target,
    token: Option<&Token>,
    sent: Sent<'_>,
) -> bool {
    if !target.copy_by_content || sent.size < COPY_FROM {
        return false;
    }
    let Ok(url) = Url::parse(&target.server).and_then(|base| base.join("/api/v1/files/copy"))
    else {
        return false;
    };
    let mut request = http.post(url).json(&json!({
        "sha1": sent.sha1.to_hex(),
        "size": sent.size,
        "path": sent.remote,
    }));
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    match request.send().await {
        Ok(reply) if reply.status() == reqwest::StatusCode::CREATED => {}
        Ok(reply) => {
            tracing::debug!(status = %reply.status(), "the server holds no copy of this content; uploading it");
            return false;
        }
        Err(err) => {
            tracing::debug!(error = %err, "could not ask the server for a copy; uploading");
            return false;
        }
    }
    let listed = verify::already_stored(http, target, token, sent).await;
    if listed {
        tracing::info!(remote = %sent.remote, "the server already held this content: copied there, nothing sent");
    } else {
        tracing::warn!(remote = %sent.remote, "the server said it copied this content but does not list it; uploading");
    }
    listed
}
