//! Every GalileoSend signal as a JSON literal: serialising gives exactly this text, and
//! parsing this text gives the message back.

use ferry_proto::galileo::{
    ClientMessage, ErrorCode, ErrorSignal, Finished, Hash, Meta, Ready, ServerMessage,
};

#[test]
fn client_signals_match_their_json_literals_both_ways() {
    let hash = Hash {
        kind: "sha1".into(),
        value: "a9993e364706816aba3e25717850c26c9cd0d89d".into(),
    };
    let fixtures = [
        (
            r#"{"name":"photo.jpg","size":1048576}"#,
            ClientMessage::Meta(Meta::new("photo.jpg", 1_048_576)),
        ),
        (
            r#"{"name":"photo.jpg","size":1048576,"path":"2024/photo.jpg","mtime":1700000000,"upload":"up-1","hash":{"type":"sha1","value":"a9993e364706816aba3e25717850c26c9cd0d89d"}}"#,
            ClientMessage::Meta(Meta {
                path: Some("2024/photo.jpg".into()),
                mtime: Some(1_700_000_000),
                upload: Some("up-1".into()),
                hash: Some(hash.clone()),
                ..Meta::new("photo.jpg", 1_048_576)
            }),
        ),
        (
            r#"{"finished":true}"#,
            ClientMessage::Finished(Finished::default()),
        ),
        (
            r#"{"finished":true,"hash":{"type":"sha1","value":"a9993e364706816aba3e25717850c26c9cd0d89d"}}"#,
            ClientMessage::Finished(Finished { hash: Some(hash) }),
        ),
    ];
    for (literal, message) in fixtures {
        assert_eq!(message.to_json(), literal);
        assert_eq!(ClientMessage::parse(literal), Ok(message), "{literal}");
    }
}

#[test]
fn server_signals_match_their_json_literals_both_ways() {
    let fixtures = [
        (r#"{"ready":true}"#, ServerMessage::Ready(Ready::default())),
        (
            r#"{"ready":true,"chunksize":250000}"#,
            ServerMessage::Ready(Ready {
                chunksize: Some(250_000),
                ..Ready::default()
            }),
        ),
        (
            r#"{"ready":true,"chunksize":250000,"upload":"up-1","offset":500000}"#,
            ServerMessage::Ready(Ready {
                chunksize: Some(250_000),
                upload: Some("up-1".into()),
                offset: Some(500_000),
            }),
        ),
        (r#"{"close":true}"#, ServerMessage::Close),
        (
            r#"{"error":"message","fatal":true,"code":"size_mismatch"}"#,
            ServerMessage::Error(ErrorSignal::fatal(ErrorCode::SizeMismatch, "message")),
        ),
        (
            r#"{"error":"slow disk","code":"internal"}"#,
            ServerMessage::Error(ErrorSignal::non_fatal(ErrorCode::Internal, "slow disk")),
        ),
        (
            r#"{"error":true}"#,
            ServerMessage::Error(ErrorSignal {
                message: String::new(),
                fatal: false,
                code: None,
                extra: serde_json::Map::new(),
            }),
        ),
    ];
    for (literal, message) in fixtures {
        assert_eq!(message.to_json(), literal);
        assert_eq!(ServerMessage::parse(literal), Ok(message), "{literal}");
    }
    for code in ErrorCode::KNOWN {
        let json = ServerMessage::Error(ErrorSignal::fatal(code.clone(), "m")).to_json();
        assert_eq!(
            json,
            format!(r#"{{"error":"m","fatal":true,"code":"{code}"}}"#)
        );
    }
}
