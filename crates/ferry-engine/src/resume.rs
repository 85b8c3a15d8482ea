//! Between the journal and the protocol machines: the saved state of an upload as the
//! journal's rows (its parts and, for a concatenation, its final upload), and back. Knows
//! nothing of networks.

use ferry_proto::tus::client::PartState;
use ferry_store::{FinalUpload, NewUpload, PartRecord, Progress};

use crate::transport::ResumeState;

/// The journal's record of a machine's saved state.
pub fn to_progress(state: &ResumeState) -> Progress {
    Progress {
        concatenated: state.concatenated,
        parts: state
            .parts
            .iter()
            .enumerate()
            .map(|(idx, p)| PartRecord {
                idx: u32::try_from(idx).unwrap_or(u32::MAX),
                start: p.start,
                len: p.len,
                location: p.location.clone(),
                confirmed: p.offset,
                expires_at: p.expires_at.and_then(|s| i64::try_from(s).ok()),
            })
            .collect(),
        final_upload: FinalUpload {
            requested: state.final_requested,
            location: state.final_location.clone(),
        },
    }
}

/// A machine's saved state from the journal's record of an upload (`None` when nothing was
/// created on the server yet).
pub fn from_record(upload: &NewUpload) -> Option<ResumeState> {
    let parts = &upload.parts;
    if parts.iter().all(|p| p.location.is_none()) && upload.final_upload.location.is_none() {
        return None;
    }
    Some(ResumeState {
        concatenated: upload.concatenated,
        parts: parts
            .iter()
            .map(|p| PartState {
                start: p.start,
                len: p.len,
                location: p.location.clone(),
                offset: p.confirmed,
                expires_at: p.expires_at.and_then(|s| u64::try_from(s).ok()),
            })
            .collect(),
        final_requested: upload.final_upload.requested,
        final_location: upload.final_upload.location.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Protocol;
    use ferry_store::{AccountId, FileFacts, FileId};

    fn upload(progress: Progress) -> NewUpload {
        NewUpload {
            file: FileId(1),
            account: AccountId(1),
            protocol: Protocol::Tus,
            endpoint: "http://127.0.0.1:1/files/".into(),
            remote_path: "f".into(),
            facts: FileFacts {
                size: 10,
                mtime_ns: 0,
                inode: 1,
            },
            sha1: String::new(),
            chunk_size: 4,
            concatenated: progress.concatenated,
            parts: progress.parts,
            final_upload: progress.final_upload,
        }
    }

    fn part(start: u64, len: u64, location: Option<&str>, offset: u64) -> PartState {
        PartState {
            start,
            len: Some(len),
            location: location.map(str::to_owned),
            offset,
            expires_at: Some(9).filter(|_| location.is_some()),
        }
    }

    #[test]
    fn a_concatenation_round_trips_with_its_final_upload() {
        let state = ResumeState {
            concatenated: true,
            parts: vec![
                part(0, 5, Some("/files/a"), 5),
                part(5, 5, Some("/files/b"), 5),
            ],
            final_requested: true,
            final_location: Some("/files/final".into()),
        };
        assert_eq!(from_record(&upload(to_progress(&state))), Some(state));
    }

    #[test]
    fn a_requested_final_is_remembered_before_its_location_is_known() {
        let state = ResumeState {
            concatenated: true,
            parts: vec![part(0, 5, Some("/files/a"), 5), part(5, 5, None, 0)],
            final_requested: true,
            final_location: None,
        };
        let progress = to_progress(&state);
        assert!(progress.concatenated && progress.final_upload.requested);
        assert_eq!(from_record(&upload(progress)), Some(state));
    }

    #[test]
    fn an_upload_not_yet_created_has_no_state() {
        let fresh = to_progress(&ResumeState {
            concatenated: false,
            parts: vec![part(0, 10, None, 0)],
            final_requested: false,
            final_location: None,
        });
        assert_eq!(from_record(&upload(fresh)), None);
    }
}
