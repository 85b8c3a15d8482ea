//! The planner's case table: one row per situation a synced folder meets.

use ferry_store::{FileFacts, FileState};
use rstest::rstest;

use super::{Known, Op, Seen, plan};

const OLD: FileFacts = FileFacts {
    size: 100,
    mtime_ns: 1_000,
    inode: 7,
};
/// Same size and inode, newer mtime: what `touch` or an in-place rewrite leaves.
const TOUCHED: FileFacts = FileFacts {
    mtime_ns: 2_000,
    ..OLD
};
/// Grown: what an append leaves.
const GROWN: FileFacts = FileFacts {
    size: 150,
    mtime_ns: 2_000,
    ..OLD
};
const A: &str = "aaaa";
const B: &str = "bbbb";

fn known(
    state: FileState,
    sha1: Option<&'static str>,
    uploaded: Option<&'static str>,
) -> Known<'static> {
    Known {
        facts: OLD,
        state,
        sha1,
        uploaded_sha1: uploaded,
        upload_open: false,
    }
}

fn open(
    state: FileState,
    sha1: Option<&'static str>,
    uploaded: Option<&'static str>,
) -> Known<'static> {
    Known {
        upload_open: true,
        ..known(state, sha1, uploaded)
    }
}

fn uploaded() -> Known<'static> {
    known(FileState::Uploaded, Some(A), Some(A))
}

fn present(facts: FileFacts, sha1: Option<&'static str>) -> Seen<'static> {
    Seen::Present { facts, sha1 }
}

#[rstest]
// Unknown paths.
#[case::new(None, present(OLD, None), Op::Upload)]
#[case::new_already_hashed(None, present(OLD, Some(A)), Op::Upload)]
#[case::unknown_and_gone(None, Seen::Gone, Op::Nothing)]
// Renamed: the old path is gone with nothing open, the new one is unknown.
#[case::renamed_old_half(Some(uploaded()), Seen::Gone, Op::Delete)]
#[case::renamed_new_half(None, present(OLD, Some(A)), Op::Upload)]
// Uploaded files.
#[case::uploaded_unchanged(Some(uploaded()), present(OLD, None), Op::Nothing)]
#[case::uploaded_unchanged_hash_agrees(Some(uploaded()), present(OLD, Some(A)), Op::Nothing)]
#[case::modified_hash_unknown(Some(uploaded()), present(GROWN, None), Op::Hash)]
#[case::modified(Some(uploaded()), present(GROWN, Some(B)), Op::Upload)]
#[case::touched_hash_unknown(Some(uploaded()), present(TOUCHED, None), Op::Hash)]
#[case::touched(Some(uploaded()), present(TOUCHED, Some(A)), Op::Record)]
#[case::rewritten_keeping_facts(Some(uploaded()), present(OLD, Some(B)), Op::Upload)]
#[case::modified_never_hashed_before(
    Some(known(FileState::Uploaded, None, None)),
    present(GROWN, None),
    Op::Upload
)]
// Deleted.
#[case::deleted_after_upload(Some(uploaded()), Seen::Gone, Op::Delete)]
#[case::deleted_before_upload(Some(known(FileState::Pending, None, None)), Seen::Gone, Op::Delete)]
#[case::deleted_during_upload(
    Some(open(FileState::Uploading, None, None)),
    Seen::Gone,
    Op::Abandon
)]
#[case::deleted_while_paused_mid_upload(
    Some(open(FileState::Pending, None, None)),
    Seen::Gone,
    Op::Abandon
)]
#[case::deleted_after_failing(Some(known(FileState::Failed, None, None)), Seen::Gone, Op::Delete)]
#[case::deleted_after_failing_mid_upload(
    Some(open(FileState::Failed, None, None)),
    Seen::Gone,
    Op::Abandon
)]
#[case::still_deleted(
    Some(known(FileState::Deleted, Some(A), Some(A))),
    Seen::Gone,
    Op::Nothing
)]
// Queued and under way.
#[case::queued(
    Some(known(FileState::Pending, None, None)),
    present(OLD, None),
    Op::Upload
)]
#[case::grown_while_queued(
    Some(known(FileState::Pending, None, None)),
    present(GROWN, None),
    Op::Upload
)]
#[case::resume(
    Some(open(FileState::Uploading, None, None)),
    present(OLD, None),
    Op::Upload
)]
#[case::resume_after_pause(
    Some(open(FileState::Pending, None, None)),
    present(OLD, None),
    Op::Upload
)]
#[case::resume_hash_agrees(
    Some(open(FileState::Uploading, Some(B), Some(A))),
    present(OLD, Some(B)),
    Op::Upload
)]
#[case::uploading_without_upload_row(
    Some(known(FileState::Uploading, None, None)),
    present(OLD, None),
    Op::Upload
)]
#[case::modified_during_upload(
    Some(open(FileState::Uploading, None, None)),
    present(GROWN, None),
    Op::Restart
)]
#[case::touched_during_upload(
    Some(open(FileState::Uploading, Some(B), Some(A))),
    present(TOUCHED, None),
    Op::Restart
)]
#[case::rewritten_during_upload_keeping_facts(
    Some(open(FileState::Uploading, Some(B), Some(A))),
    present(OLD, Some(A)),
    Op::Restart
)]
#[case::modified_while_paused_mid_upload(
    Some(open(FileState::Pending, None, None)),
    present(GROWN, None),
    Op::Restart
)]
// Failed for good.
#[case::failed_parked(
    Some(known(FileState::Failed, None, None)),
    present(OLD, None),
    Op::Nothing
)]
#[case::failed_parked_with_open_upload(
    Some(open(FileState::Failed, None, None)),
    present(OLD, None),
    Op::Nothing
)]
#[case::failed_then_changed(
    Some(known(FileState::Failed, None, None)),
    present(GROWN, None),
    Op::Upload
)]
#[case::failed_then_changed_with_open_upload(
    Some(open(FileState::Failed, None, None)),
    present(GROWN, None),
    Op::Restart
)]
#[case::failed_then_changed_back_hash_unknown(
    Some(known(FileState::Failed, Some(B), Some(A))),
    present(GROWN, None),
    Op::Hash
)]
#[case::failed_then_changed_back(
    Some(known(FileState::Failed, Some(B), Some(A))),
    present(GROWN, Some(A)),
    Op::Record
)]
// Reappeared after being marked deleted.
#[case::reappeared_never_uploaded(
    Some(known(FileState::Deleted, None, None)),
    present(OLD, None),
    Op::Upload
)]
#[case::reappeared_same_facts(
    Some(known(FileState::Deleted, Some(A), Some(A))),
    present(OLD, None),
    Op::Record
)]
#[case::reappeared_other_facts(
    Some(known(FileState::Deleted, Some(A), Some(A))),
    present(GROWN, None),
    Op::Hash
)]
#[case::reappeared_same_content(
    Some(known(FileState::Deleted, Some(A), Some(A))),
    present(GROWN, Some(A)),
    Op::Record
)]
#[case::reappeared_other_content(
    Some(known(FileState::Deleted, Some(A), Some(A))),
    present(GROWN, Some(B)),
    Op::Upload
)]
#[case::reappeared_same_facts_other_content(
    Some(known(FileState::Deleted, Some(A), Some(A))),
    present(OLD, Some(B)),
    Op::Upload
)]
fn plans(#[case] known: Option<Known<'static>>, #[case] seen: Seen<'static>, #[case] expected: Op) {
    assert_eq!(
        plan(known.as_ref(), &seen),
        expected,
        "journal {known:?}, disk {seen:?}"
    );
}

/// After `Hash`, planning again with the hash must never ask for the hash again.
#[rstest]
fn hash_is_asked_for_at_most_once(
    #[values(
        FileState::Pending,
        FileState::Uploading,
        FileState::Uploaded,
        FileState::Failed,
        FileState::Deleted
    )]
    state: FileState,
    #[values(false, true)] upload_open: bool,
    #[values(None, Some(A), Some(B))] uploaded_sha1: Option<&'static str>,
    #[values(OLD, TOUCHED, GROWN)] facts: FileFacts,
    #[values(A, B)] content: &'static str,
) {
    let k = Known {
        upload_open,
        ..known(state, uploaded_sha1, uploaded_sha1)
    };
    let first = plan(Some(&k), &present(facts, None));
    let second = plan(Some(&k), &present(facts, Some(content)));
    assert!(
        second != Op::Hash,
        "{k:?} with {facts:?}: asked for the hash again after getting it (first {first:?})"
    );
    if first != Op::Hash {
        return;
    }
    assert!(
        matches!(second, Op::Record | Op::Upload),
        "{k:?}: a hash must settle it, got {second:?}"
    );
}
