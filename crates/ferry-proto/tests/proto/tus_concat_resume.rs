//! A concatenation resumed from what a journal kept, at each step of its plan: the partial
//! uploads and the final upload are one plan, and a machine resumed from it never makes a
//! second final when it knows of one, never sends a confirmed byte again, and never takes
//! partial uploads for a finished file.

use ferry_proto::tus::client::{PartState, RestartReason};
use ferry_proto::tus::server::ServerConfig;
use ferry_proto::tus::{Event, RequestKind, ResumeState, Upload};

use crate::tus_sim::{Fault, Sim, file_of};

const SIZE: usize = 90_001;

fn concatenating(sim: &Sim) -> ferry_proto::tus::UploadOptions {
    let mut opts = sim.options(10_000);
    opts.parallel = 3;
    opts
}

/// Runs a fresh concatenation to its end; the state saved at the end.
fn finished_run(sim: &mut Sim) -> ResumeState {
    let mut upload = Upload::new(concatenating(sim), None, None).unwrap();
    sim.run(&mut upload, |_| Fault::None).unwrap();
    assert!(upload.is_finished());
    upload.state()
}

fn appends(sim: &Sim) -> usize {
    sim.count(RequestKind::Append) + sim.count(RequestKind::Create)
}

#[test]
fn a_concatenation_resumed_after_its_final_was_made_checks_that_final_and_makes_no_other() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(SIZE, 21));
    let saved = finished_run(&mut sim);
    assert!(saved.concatenated && saved.final_requested);
    let final_location = saved
        .final_location
        .clone()
        .expect("the final's location is part of the saved plan");
    let (finals, sends) = (sim.count(RequestKind::Concatenate), appends(&sim));

    let mut again = Upload::new(concatenating(&sim), None, Some(&saved)).unwrap();
    sim.run(&mut again, |_| Fault::None).unwrap();
    assert!(again.is_finished());
    assert_eq!(again.location(), Some(final_location.as_str()));
    assert_eq!(
        sim.count(RequestKind::FinalStatus),
        1,
        "one HEAD on the final"
    );
    assert_eq!(
        sim.count(RequestKind::Concatenate),
        finals,
        "no second final"
    );
    assert_eq!(appends(&sim), sends, "no byte sent again");
    assert_eq!(
        sim.count(RequestKind::Status),
        0,
        "the parts are not even looked at"
    );
}

#[test]
fn a_final_requested_whose_answer_was_lost_is_asked_for_again_before_any_part_is_checked() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(SIZE, 22));
    let mut upload = Upload::new(concatenating(&sim), None, None).unwrap();
    let mut lost = false;
    sim.run(&mut upload, |request| match request.kind {
        RequestKind::Concatenate if !lost => {
            lost = true;
            Fault::LoseAnswer
        }
        _ if lost => Fault::Crash,
        _ => Fault::None,
    })
    .unwrap();
    let saved = upload.state();
    assert!(
        saved.final_requested,
        "the POST was recorded before it went"
    );
    assert_eq!(saved.final_location, None, "its answer never came");
    let sends = appends(&sim);

    let mut again = Upload::new(concatenating(&sim), None, Some(&saved)).unwrap();
    let first = std::iter::from_fn(|| again.poll_request(sim.now))
        .next()
        .expect("a request");
    assert_eq!(
        first.kind,
        RequestKind::Discover,
        "capabilities first (none were given)"
    );
    sim.exchange(&mut again, first, Fault::None).unwrap();
    let next = again.poll_request(sim.now).expect("a request");
    assert_eq!(
        next.kind,
        RequestKind::Concatenate,
        "the final is asked for again first: a server answers it with the same final"
    );
    sim.exchange(&mut again, next, Fault::None).unwrap();
    sim.run(&mut again, |_| Fault::None).unwrap();
    assert!(again.is_finished());
    assert_eq!(appends(&sim), sends, "no byte sent again");
    assert_eq!(
        sim.server.completed(again.location().unwrap()),
        Some(sim.file.as_slice())
    );
}

#[test]
fn a_final_that_is_gone_sends_the_machine_back_to_its_parts_not_to_byte_zero() {
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(SIZE, 23));
    let saved = finished_run(&mut sim);
    sim.server.forget(saved.final_location.as_deref().unwrap());
    let sends = appends(&sim);

    let mut again = Upload::new(concatenating(&sim), None, Some(&saved)).unwrap();
    sim.run(&mut again, |_| Fault::None).unwrap();
    assert!(again.is_finished());
    assert_eq!(
        sim.count(RequestKind::Status),
        3,
        "each partial upload is checked"
    );
    assert_eq!(
        sim.count(RequestKind::Concatenate),
        2,
        "a new final joins them"
    );
    assert_eq!(
        appends(&sim),
        sends,
        "the partial uploads are not sent again"
    );
    assert_eq!(
        sim.server.completed(again.location().unwrap()),
        Some(sim.file.as_slice())
    );
}

#[test]
fn partial_uploads_saved_as_a_plain_upload_are_never_taken_for_a_finished_file() {
    // What journals before this fix kept: the parts of a concatenation, marked plain.
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(SIZE, 24));
    let mut saved = finished_run(&mut sim);
    saved.concatenated = false;
    saved.final_requested = false;
    saved.final_location = None;
    let first_part = saved.parts[0].location.clone();

    let mut again = Upload::new(concatenating(&sim), None, Some(&saved)).unwrap();
    assert!(
        std::iter::from_fn(|| again.poll_event()).any(|e| matches!(
            e,
            Event::Restarted {
                reason: RestartReason::Mismatch,
                ..
            }
        )),
        "the saved state does not describe this upload"
    );
    sim.run(&mut again, |_| Fault::None).unwrap();
    assert!(again.is_finished());
    assert_ne!(
        again.location().map(str::to_owned),
        first_part,
        "the file is not 'finished' at its first partial upload"
    );
    assert_eq!(
        sim.server.completed(again.location().unwrap()),
        Some(sim.file.as_slice())
    );
}

#[test]
fn a_final_state_round_trips_through_serde_and_older_states_read_without_it() {
    let state = ResumeState {
        parts: vec![PartState {
            start: 0,
            len: Some(5),
            location: Some("/files/a".into()),
            offset: 5,
            expires_at: None,
        }],
        concatenated: true,
        final_requested: true,
        final_location: Some("/files/f".into()),
    };
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<ResumeState>(&json).unwrap(), state);
    let older = r#"{"parts":[{"start":0,"len":5,"location":"/files/a","offset":5,"expires_at":null}],"concatenated":true}"#;
    let read: ResumeState = serde_json::from_str(older).unwrap();
    assert!(!read.final_requested && read.final_location.is_none());
}

#[test]
fn a_final_answered_before_it_is_joined_is_checked_until_complete_not_taken_as_finished() {
    use ferry_proto::tus::Response;
    use http::StatusCode;
    use http::header::{HeaderName, LOCATION};
    let offset = HeaderName::from_static("upload-offset");
    let mut sim = Sim::new(ServerConfig::complete(None), file_of(SIZE, 25));
    let mut upload = Upload::new(concatenating(&sim), None, None).unwrap();
    // Every part goes up; the final's POST is held back to be answered by hand.
    let mut held = None;
    sim.run(&mut upload, |request| {
        if request.kind == RequestKind::Concatenate && held.is_none() {
            held = Some(request.id);
            Fault::Crash
        } else {
            Fault::None
        }
    })
    .unwrap();
    let id = held.expect("the final was asked for");
    // A server still joining the parts answers at once: created, nothing of it yet.
    let joining = Response::new(StatusCode::CREATED)
        .with_header(LOCATION, "/files/final")
        .with_header(offset.clone(), "0");
    upload.handle_response(id, &joining).unwrap();
    assert!(
        !upload.is_finished(),
        "an unjoined final is not a finished upload"
    );
    let final_head = upload.poll_request(sim.now).expect("a HEAD on the final");
    assert_eq!(final_head.kind, RequestKind::FinalStatus);
    // Still joining: no offset yet (as tus has it for an unfinished final).
    let err = upload
        .handle_response(final_head.id, &Response::new(StatusCode::OK))
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let again = upload
        .poll_request(sim.now)
        .expect("the final asked for again");
    assert_eq!(again.kind, RequestKind::Concatenate);
    let done = Response::new(StatusCode::CREATED)
        .with_header(LOCATION, "/files/final")
        .with_header(offset, SIZE.to_string());
    upload.handle_response(again.id, &done).unwrap();
    assert!(upload.is_finished());
    assert_eq!(upload.location(), Some("/files/final"));
}
