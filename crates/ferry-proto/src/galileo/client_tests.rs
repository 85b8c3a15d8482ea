//! The client machine's unit tests: whole sessions fed as wire text, frames and events
//! compared as literals (the frame-refusal cases are in `frames`).

use super::*;

fn drain(client: &mut Client) -> Vec<ClientFrame> {
    std::iter::from_fn(|| client.poll_transmit()).collect()
}

fn events(client: &mut Client) -> Vec<Event> {
    std::iter::from_fn(|| client.poll_event()).collect()
}

fn text(s: &str) -> ClientFrame {
    ClientFrame::Text(s.into())
}

#[test]
fn a_plain_upload_sends_meta_chunks_then_finished() {
    let mut options = ClientOptions::new("a.bin", 5);
    options.default_chunk_size = 2;
    let mut client = Client::new(options);
    assert_eq!(drain(&mut client), [text(r#"{"name":"a.bin","size":5}"#)]);
    client.handle_text(r#"{"ready":true}"#).unwrap();
    assert_eq!(drain(&mut client), [ClientFrame::Binary(0..2)]);
    client
        .handle_text(r#"{"ready":true,"chunksize":10}"#)
        .unwrap();
    assert_eq!(drain(&mut client), [ClientFrame::Binary(2..5)]);
    assert_eq!(client.confirmed_offset(), 2);
    client.handle_text(r#"{"ready":true}"#).unwrap();
    assert_eq!(drain(&mut client), [text(r#"{"finished":true}"#)]);
    client.handle_text(r#"{"close":true}"#).unwrap();
    assert!(client.is_finished());
    assert_eq!(
        events(&mut client),
        [
            Event::Accepted {
                upload: None,
                offset: 0
            },
            Event::Progress {
                confirmed: 2,
                size: 5
            },
            Event::Progress {
                confirmed: 5,
                size: 5
            },
            Event::Finished,
        ]
    );
}

#[test]
fn chunks_never_exceed_the_clients_cap_whatever_the_server_asks_for() {
    let mut options = ClientOptions::new("a.bin", 12);
    options.default_chunk_size = 6;
    options.max_chunk_size = 4;
    let mut client = Client::new(options);
    let _ = drain(&mut client);
    client
        .handle_text(r#"{"ready":true,"chunksize":1000}"#)
        .unwrap();
    assert_eq!(drain(&mut client), [ClientFrame::Binary(0..4)], "capped");
    client
        .handle_text(r#"{"ready":true,"chunksize":3}"#)
        .unwrap();
    assert_eq!(
        drain(&mut client),
        [ClientFrame::Binary(4..7)],
        "the server's smaller size wins"
    );
    client.handle_text(r#"{"ready":true}"#).unwrap();
    assert_eq!(
        drain(&mut client),
        [ClientFrame::Binary(7..11)],
        "the default is capped too"
    );
}

#[test]
fn an_empty_file_sends_finished_on_the_first_ready_and_no_empty_frame() {
    let mut client = Client::new(ClientOptions::new("empty", 0));
    let _ = drain(&mut client);
    client.handle_text(r#"{"ready":true}"#).unwrap();
    assert_eq!(drain(&mut client), [text(r#"{"finished":true}"#)]);
}

#[test]
fn a_resumed_upload_continues_from_the_servers_offset() {
    let mut options = ClientOptions::new("a", 10);
    options.resume_upload = Some("u1".into());
    let mut client = Client::new(options);
    assert_eq!(
        drain(&mut client),
        [text(r#"{"name":"a","size":10,"upload":"u1"}"#)]
    );
    client
        .handle_text(r#"{"ready":true,"chunksize":3,"upload":"u1","offset":6}"#)
        .unwrap();
    assert_eq!(drain(&mut client), [ClientFrame::Binary(6..9)]);
    assert_eq!(client.confirmed_offset(), 6);
    assert_eq!(client.upload_id(), Some("u1"));
}

#[test]
fn an_old_server_without_upload_in_the_first_ready_means_starting_at_zero() {
    let mut options = ClientOptions::new("a", 10);
    options.resume_upload = Some("u1".into());
    let mut client = Client::new(options);
    let _ = drain(&mut client);
    client.handle_text(r#"{"ready":true,"offset":6}"#).unwrap();
    assert_eq!(drain(&mut client), [ClientFrame::Binary(0..10)]);
    assert_eq!(client.upload_id(), None);
}

#[test]
fn a_first_ready_offset_past_the_size_is_a_protocol_error_that_starts_over() {
    let mut options = ClientOptions::new("a", 10);
    options.path = Some("x/a".into());
    let mut client = Client::new(options);
    let _ = drain(&mut client);
    let err = client
        .handle_text(r#"{"ready":true,"upload":"u","offset":11}"#)
        .unwrap_err();
    assert_eq!(
        err,
        GalileoError::OffsetPastEnd {
            offset: 11,
            size: 10
        }
    );
    assert_eq!(err.code(), Some(ErrorCode::Protocol));
    assert!(
        drain(&mut client).is_empty(),
        "nothing is sent after failing"
    );
    assert_eq!(client.confirmed_offset(), 0);
}

#[test]
fn a_ready_after_finished_is_a_protocol_error() {
    let mut client = Client::new(ClientOptions::new("a", 0));
    client.handle_text(r#"{"ready":true}"#).unwrap();
    let err = client.handle_text(r#"{"ready":true}"#).unwrap_err();
    assert!(matches!(err, GalileoError::Protocol { .. }), "{err:?}");
    assert!(client.is_over() && !client.is_finished());
}

#[test]
fn a_binary_frame_from_the_server_fails_the_session() {
    let mut client = Client::new(ClientOptions::new("a", 3));
    assert!(client.handle_binary(4).is_err());
    assert!(matches!(
        events(&mut client).as_slice(),
        [Event::Failed(GalileoError::Protocol { .. })]
    ));
}

#[test]
fn a_non_fatal_error_is_reported_and_the_session_goes_on() {
    let mut client = Client::new(ClientOptions::new("a", 3));
    client
        .handle_text(r#"{"error":"slow down","code":"internal"}"#)
        .unwrap();
    assert!(!client.is_over());
    client.handle_text(r#"{"ready":true}"#).unwrap();
    assert_eq!(drain(&mut client).last(), Some(&ClientFrame::Binary(0..3)));
    assert_eq!(client.errors().len(), 1);
}

#[test]
fn a_close_before_all_data_was_sent_is_a_failure_and_input_afterwards_is_ignored() {
    let mut client = Client::new(ClientOptions::new("a", 3));
    client.handle_text(r#"{"close":true}"#).unwrap();
    assert!(client.is_over() && !client.is_finished());
    client.handle_text("garbage").unwrap();
    client.handle_closed();
    let events = events(&mut client);
    assert_eq!(
        events,
        [Event::Failed(GalileoError::ClosedEarly {
            sent: 0,
            size: 3
        })]
    );
}

#[test]
fn a_lost_connection_reports_the_confirmed_offset() {
    let mut options = ClientOptions::new("a", 10);
    options.default_chunk_size = 4;
    let mut client = Client::new(options);
    client.handle_text(r#"{"ready":true}"#).unwrap();
    client.handle_text(r#"{"ready":true}"#).unwrap();
    client.handle_closed();
    assert_eq!(
        events(&mut client).last(),
        Some(&Event::Failed(GalileoError::ConnectionClosed {
            confirmed: 4,
            size: 10
        }))
    );
}

#[test]
fn without_the_extension_only_the_original_keys_are_sent_but_finished_carries_the_hash() {
    let sum = crate::checksum::ChecksumAlgorithm::Sha1.digest(b"abc");
    let mut options = ClientOptions::new("a", 0);
    options.use_extension = false;
    options.resume_upload = Some("u1".into());
    options.hash = Some(sum.clone());
    let mut client = Client::new(options);
    assert!(!client.uses_extension());
    assert_eq!(drain(&mut client), [text(r#"{"name":"a","size":0}"#)]);
    client
        .handle_text(r#"{"ready":true,"upload":"u9","offset":0}"#)
        .unwrap();
    assert_eq!(
        drain(&mut client),
        [text(&format!(
            r#"{{"finished":true,"hash":{{"type":"sha1","value":"{}"}}}}"#,
            sum.to_hex()
        ))]
    );
    assert_eq!(client.upload_id(), None, "a plain session ignores `upload`");
}
