//! Which upload a send goes on with: the journal's upload of this very content to this very
//! place (with the protocol machine's saved state), or a new one replacing an upload of other
//! content, whose partial uploads are then deleted on the server. Knows nothing of the
//! transports beyond termination.

use ferry_store::{FileRecord, FileState, NewUpload, UploadRecord};

use crate::error::EngineError;
use crate::journal::JournalDoor;
use crate::resume::from_record;
use crate::secret::Token;
use crate::target::Target;
use crate::transport;

/// Whether a journal upload is this very upload (same content, destination and protocol),
/// so it can be continued.
fn continues(row: &UploadRecord, upload: &NewUpload) -> bool {
    let (old, new) = (&row.upload, upload);
    old.facts == new.facts
        && old.sha1 == new.sha1
        && old.remote_path == new.remote_path
        && old.protocol == new.protocol
        && old.endpoint == new.endpoint
        && old.account == new.account
}

/// What a replaced upload left on the server: the partial tus uploads to delete.
#[derive(Debug)]
pub(super) struct Stale {
    endpoint: String,
    locations: Vec<String>,
}

/// The upload a send continues or starts.
pub(super) struct Opened {
    /// Its journal row.
    pub(super) row: UploadRecord,
    /// The protocol machine's saved state, if anything was created on the server.
    pub(super) resume: Option<transport::ResumeState>,
    /// An earlier run started it: the server may hold more of it than the journal knows,
    /// all of it even (a crash between the last byte and the journal's record).
    pub(super) earlier: bool,
    /// What a replaced upload of other content left on the server.
    pub(super) stale: Option<Stale>,
}

/// The journal's upload of this very content to this very place, with its saved state, or
/// a new one (replacing an upload of older content, whose server-side uploads are returned
/// so that they can be deleted).
pub(super) async fn open_or_start(
    door: &JournalDoor,
    wanted: NewUpload,
    file: FileRecord,
) -> Result<Opened, EngineError> {
    door.call(move |journal| {
        let (wanted, file) = (&wanted, &file);
        match journal.upload_for_file(wanted.file)? {
            Some(row) if continues(&row, wanted) => {
                if file.sha1.as_deref() != Some(wanted.sha1.as_str()) {
                    journal.upsert_file(
                        file.folder,
                        &file.local_path,
                        wanted.facts,
                        Some(&wanted.sha1),
                        FileState::Pending,
                    )?;
                }
                let resume = from_record(&row.upload);
                Ok(Opened {
                    row,
                    resume,
                    earlier: true,
                    stale: None,
                })
            }
            old => {
                // Only the partial uploads of a concatenation: never published on their own,
                // deleting them loses nothing. A plain upload or a final may be a stored file on
                // some servers (tusd serves its uploads as the files), so they stay.
                let stale = old
                    .filter(|row| {
                        row.upload.protocol == ferry_proto::Protocol::Tus && row.upload.concatenated
                    })
                    .map(|row| Stale {
                        endpoint: row.upload.endpoint.clone(),
                        locations: row
                            .upload
                            .parts
                            .iter()
                            .filter_map(|p| p.location.clone())
                            .collect(),
                    })
                    .filter(|stale| !stale.locations.is_empty());
                Ok(Opened {
                    row: journal.start_upload(wanted)?,
                    resume: None,
                    earlier: false,
                    stale,
                })
            }
        }
    })
    .await
}

/// Deletes (best effort, when the server offers termination) the partial uploads of an
/// upload that will not be continued, so they do not linger on the server.
pub(super) async fn terminate_stale(
    http: &reqwest::Client,
    target: &Target,
    token: Option<&Token>,
    stale: &Stale,
) {
    let Some(tus) = target.tus.as_ref() else {
        return;
    };
    if tus.endpoint.as_str() != stale.endpoint
        || !tus.caps.supports(&ferry_proto::tus::Extension::Termination)
    {
        return;
    }
    transport::tus::terminate(http, &tus.endpoint, token, &stale.locations).await;
}
