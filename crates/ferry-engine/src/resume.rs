//! Between the journal and the protocol machines: the saved state of an upload as the
//! journal's part rows, and back. Knows nothing of networks.

use ferry_proto::tus::client::PartState;
use ferry_store::PartRecord;

use crate::transport::ResumeState;

/// The journal's rows for a machine's saved state.
pub fn to_parts(state: &ResumeState) -> Vec<PartRecord> {
    state
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
        .collect()
}

/// A machine's saved state from the journal's rows (`None` when no part was created yet).
pub fn from_parts(parts: &[PartRecord], concatenated: bool) -> Option<ResumeState> {
    if parts.iter().all(|p| p.location.is_none()) {
        return None;
    }
    Some(ResumeState {
        concatenated,
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_an_uncreated_upload_has_no_state() {
        let state = ResumeState {
            concatenated: true,
            parts: vec![
                PartState {
                    start: 0,
                    len: Some(5),
                    location: Some("/files/a".into()),
                    offset: 5,
                    expires_at: Some(9),
                },
                PartState {
                    start: 5,
                    len: Some(5),
                    location: None,
                    offset: 0,
                    expires_at: None,
                },
            ],
        };
        assert_eq!(from_parts(&to_parts(&state), true), Some(state));
        let fresh = to_parts(&ResumeState {
            concatenated: false,
            parts: vec![PartState {
                start: 0,
                len: Some(1),
                location: None,
                offset: 0,
                expires_at: None,
            }],
        });
        assert_eq!(from_parts(&fresh, false), None);
    }
}
