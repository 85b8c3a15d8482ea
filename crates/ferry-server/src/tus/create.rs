//! POST on the endpoint: creation, creation-with-upload, creation-defer-length, and the
//! creation of partial and final uploads (concatenation).
//!
//! The stored path comes from metadata `relativePath`, else `filename`, else the upload id,
//! and is validated here, before a single byte is accepted. Knows nothing of how bytes are
//! written (see `append`) or how a final upload is assembled (see `concat`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use ferry_proto::tus::Concat;
use ferry_proto::tus::headers::{UPLOAD_METADATA, header_str};
use ferry_proto::tus::metadata::Metadata;
use ferry_proto::tus::server::{Append, Rejection, parse_creation};
use http::HeaderMap;

use super::append::{Received, cap_to_quota, completed, receive, signed_out, still_signed_in};
use super::{Failure, answer, concat, expiry, info_of, location};
use crate::AppState;
use crate::auth::Authenticated;
use crate::error::ServerError;
use crate::limits;
use crate::storage::RemotePath;
use crate::uploads::{ConcatRole, Protocol, UploadRecord};

/// POST: creates an upload (and takes its first bytes when the body carries them).
pub(super) async fn create(
    State(state): State<AppState>,
    auth: Authenticated,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let creation = parse_creation(&headers, &state.tus)?;
    let mut record = UploadRecord::new(&auth.user, Protocol::Tus);
    record.metadata = header_str(&headers, &UPLOAD_METADATA)
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();
    record.length = creation.length;
    record.expires_at = Some(expiry(&state));
    apply_metadata(&mut record, &creation.metadata, creation.concat.as_ref())?;
    if let Some(path) = &record.path {
        // What is already known to fail at the end is refused before a byte is sent.
        state
            .storage
            .check_storable(&auth.user.name, &RemotePath::parse(path)?)?;
    }
    if let Some(Concat::Final(urls)) = &creation.concat
        && let Some(existing) =
            concat::existing_final(&state, &auth.user, urls, record.path.as_deref()).await?
    {
        // The same final asked for again (the client lost the answer, or crashed before
        // it recorded it): the same final, never a second one.
        let here = location(&existing);
        let record = concat::assemble_in_background(&state, &auth.user, &existing).await?;
        return Ok(answer(info_of(&record).created_response(&here, true)));
    }
    record.concat = match &creation.concat {
        None => None,
        Some(Concat::Partial) => Some(ConcatRole::Partial),
        Some(Concat::Final(urls)) => Some(ConcatRole::Final(
            concat::resolve_parts(&state, &auth.user, urls).await?,
        )),
    };

    // The limits are checked by the writer in the same call that inserts, so simultaneous
    // creations cannot all pass them.
    let (stored, config) = (record.clone(), Arc::clone(&state.config));
    state
        .db
        .call(move |conn| {
            limits::check_new_upload(conn, &config, stored.user_id, stored.length)?;
            stored.insert(conn)
        })
        .await?;
    let path = state.storage.upload_path(&record.id);
    if let Err(e) = std::fs::File::create(&path) {
        let id = record.id.clone();
        let _ = state
            .db
            .call(move |conn| UploadRecord::delete_record(conn, &id))
            .await;
        return Err(ServerError::io(format!("creating upload {}", record.id), e).into());
    }
    created(&state, &auth.user.name, &record);
    let here = location(&record.id);

    if let Some(ConcatRole::Final(_)) = &record.concat {
        // The answer says how far the final got (`Upload-Offset`): complete, or still being
        // joined after a few seconds (a client asks HEAD until it is complete).
        let record = concat::assemble_in_background(&state, &auth.user, &record.id).await?;
        return Ok(answer(info_of(&record).created_response(&here, true)));
    }
    let guard = state.locks.acquire(&record.id).await;
    let session = state.sessions.register(&auth.token);
    if creation.body_len.is_some() {
        let append = Append {
            offset: 0,
            length: None,
            checksum: creation.checksum.clone(),
            content_length: creation.body_len,
        };
        let mut plan = info_of(&record).check_append(&append, &state.tus)?;
        cap_to_quota(&state, &record, &mut plan).await?;
        match receive(
            &state,
            &mut record,
            plan,
            creation.checksum,
            body,
            &guard,
            &session,
        )
        .await
        {
            // The upload exists whatever happened to its first bytes: the client learns
            // where it is and how much arrived, and sends the rest with PATCH.
            Ok(Received::Whole | Received::Interrupted) => {}
            Err(Failure::Rejected(rejection)) => {
                tracing::debug!(upload = %record.id, %rejection, "creation body refused");
            }
            Err(Failure::Server(err)) if matches!(err, ServerError::DiskFull { .. }) => {
                tracing::warn!(upload = %record.id, error = %err, "creation body not stored");
            }
            Err(other) => return Err(other),
        }
    }
    if !still_signed_in(&state, &session, &auth.token).await? {
        return Err(signed_out());
    }
    if record.is_complete() {
        record = completed(&state, &auth.user, record).await?;
    }
    drop(guard);
    Ok(answer(
        info_of(&record).created_response(&here, creation.body_len.is_some()),
    ))
}

/// Takes the stored path, `sha1` and `mtime` from the metadata, refusing what cannot be
/// stored safely. A partial upload has no path: it is never published.
fn apply_metadata(
    record: &mut UploadRecord,
    metadata: &Metadata,
    concat: Option<&Concat>,
) -> Result<(), Failure> {
    let text = |key: &str| -> Result<Option<&str>, Failure> {
        match metadata.get(key) {
            None | Some(None) => Ok(None),
            Some(Some(bytes)) => std::str::from_utf8(bytes).map(Some).map_err(|_| {
                Rejection::bad_request(format!("metadata {key} is not UTF-8 text")).into()
            }),
        }
    };
    if !matches!(concat, Some(Concat::Partial)) {
        let path = match (text("relativePath")?, text("filename")?) {
            (Some(path), _) | (None, Some(path)) => path.to_owned(),
            (None, None) => record.id.clone(),
        };
        RemotePath::parse(&path)?;
        record.path = Some(path);
    }
    if let Some(sha1) = text("sha1")? {
        if sha1.len() != 40 || !sha1.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Rejection::bad_request(format!(
                "metadata sha1 must be 40 hex digits (the whole file's SHA-1), not {sha1:?}"
            ))
            .into());
        }
        record.sha1 = Some(sha1.to_ascii_lowercase());
    }
    if let Some(mtime) = text("mtime")? {
        let seconds = mtime.trim().parse::<i64>().map_err(|_| {
            Failure::from(Rejection::bad_request(format!(
                "metadata mtime must be whole unix seconds, not {mtime:?}"
            )))
        })?;
        record.mtime = Some(seconds);
    }
    Ok(())
}

/// Logs and counts a new upload (a partial one of a concatenation is not a file of its own).
fn created(state: &AppState, user: &str, record: &UploadRecord) {
    if !matches!(record.concat, Some(ConcatRole::Partial)) {
        state.metrics.started(Protocol::Tus);
    }
    tracing::info!(user = %user, length = ?record.length, "upload created");
    tracing::debug!(upload = %record.id, path = ?record.path, "upload created");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::User;

    fn record() -> UploadRecord {
        let user = User {
            id: 1,
            name: "ann".into(),
        };
        UploadRecord::new(&user, Protocol::Tus)
    }

    fn metadata(pairs: &[(&str, &str)]) -> Metadata {
        let mut m = Metadata::new();
        for (k, v) in pairs {
            m.insert(*k, v).unwrap();
        }
        m
    }

    #[test]
    fn relative_path_wins_over_filename_and_the_id_is_the_last_resort() {
        let mut r = record();
        apply_metadata(
            &mut r,
            &metadata(&[("filename", "b.txt"), ("relativePath", "dir/a.txt")]),
            None,
        )
        .unwrap();
        assert_eq!(r.path.as_deref(), Some("dir/a.txt"));
        let mut r = record();
        apply_metadata(&mut r, &metadata(&[("filename", "b.txt")]), None).unwrap();
        assert_eq!(r.path.as_deref(), Some("b.txt"));
        let mut r = record();
        apply_metadata(&mut r, &Metadata::new(), None).unwrap();
        assert_eq!(r.path.as_ref(), Some(&r.id));
        let mut r = record();
        apply_metadata(
            &mut r,
            &metadata(&[("filename", "../x")]),
            Some(&Concat::Partial),
        )
        .unwrap();
        assert_eq!(r.path, None, "partial uploads are never published");
    }

    #[test]
    fn refuses_hostile_paths_and_malformed_sha1_and_mtime() {
        for bad in [
            &[("relativePath", "../x")][..],
            &[("filename", "/etc/x")],
            &[("relativePath", "a//b")],
            &[("sha1", "abc")],
            &[("sha1", "zz3456789012345678901234567890123456789z")],
            &[("mtime", "yesterday")],
        ] {
            let result = apply_metadata(&mut record(), &metadata(bad), None);
            assert!(
                matches!(
                    result,
                    Err(Failure::Rejected(_) | Failure::Server(ServerError::BadPath { .. }))
                ),
                "{bad:?} must be refused"
            );
        }
        let mut r = record();
        apply_metadata(
            &mut r,
            &metadata(&[
                ("sha1", "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"),
                ("mtime", "1700000000"),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            r.sha1.as_deref(),
            Some("a94a8fe5ccb19ba61c4c0873d391e987982fbbd3")
        );
        assert_eq!(r.mtime, Some(1_700_000_000));
    }
}
