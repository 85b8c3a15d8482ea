//! What each error means for retrying and for the person: `is_retryable`, `is_permanent`,
//! and the words of the messages.

use super::*;

#[test]
fn causes_are_joined_without_repeating_themselves() {
    let inner = std::io::Error::other("invalid peer certificate: UnknownIssuer");
    let outer = EngineError::File {
        path: "/x".into(),
        source: inner,
    };
    let text = with_causes(&outer);
    assert_eq!(
        text,
        "cannot read /x: invalid peer certificate: UnknownIssuer"
    );
}

fn net(kind: NetworkFailure) -> EngineError {
    EngineError::unreachable("https://s", kind, "text that is not read")
}

#[test]
fn certificate_problems_are_told_apart_by_their_kind_not_their_words() {
    assert!(net(NetworkFailure::Tls(TlsProblem::UnknownIssuer)).is_certificate());
    assert!(net(NetworkFailure::Tls(TlsProblem::Expired)).is_certificate());
    assert!(!net(NetworkFailure::Tls(TlsProblem::Handshake)).is_certificate());
    let words = EngineError::unreachable(
        "https://s",
        NetworkFailure::Refused,
        "invalid peer certificate: UnknownIssuer",
    );
    assert!(!words.is_certificate(), "the words are not read");
    let gave_up = EngineError::GaveUp {
        attempts: 3,
        last: Box::new(net(NetworkFailure::Tls(TlsProblem::Expired))),
    };
    assert!(gave_up.is_certificate());
}

#[test]
fn a_file_waits_on_the_person_only_when_ferry_will_not_retry_it() {
    let gave_up = |last: EngineError| EngineError::GaveUp {
        attempts: 5,
        last: Box::new(last),
    };
    for kind in [
        NetworkFailure::Timeout,
        NetworkFailure::Refused,
        NetworkFailure::Reset,
        NetworkFailure::Closed,
        NetworkFailure::Dns,
        NetworkFailure::Status(503),
        NetworkFailure::Tls(TlsProblem::Handshake),
        NetworkFailure::Tls(TlsProblem::UnknownIssuer),
    ] {
        assert!(!net(kind).is_permanent(), "{kind:?} is retried");
        assert!(
            !gave_up(net(kind)).is_permanent(),
            "given up over {kind:?}: tried again later"
        );
    }
    let bug = EngineError::Bug("the machine stopped".into());
    assert!(
        gave_up(bug).is_permanent(),
        "given up over what needs the person"
    );
    let lost = EngineError::LostUpload {
        path: "/x".into(),
        server: "s".into(),
    };
    assert!(!lost.is_permanent(), "starts over by itself");
    let not_stored = EngineError::NotStored {
        remote: "x".into(),
        server: "s".into(),
        reason: "it holds other bytes".into(),
    };
    assert!(not_stored.is_permanent());
    assert!(EngineError::Unauthorized { server: "s".into() }.is_permanent());
    assert!(EngineError::Bug("x".into()).is_permanent());
    assert!(!EngineError::FileChanged { path: "/x".into() }.is_permanent());
    let full = EngineError::ServerFull {
        path: "/x".into(),
        server: "s".into(),
    };
    assert!(
        !full.is_permanent() && full.is_server_full(),
        "waits for space, not for the person"
    );
    assert_eq!(
        full.to_string(),
        "the server is out of space; run the same command again once space is freed"
    );
}
