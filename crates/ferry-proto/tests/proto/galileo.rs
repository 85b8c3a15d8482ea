//! GalileoSend end to end in memory: the client machine against the server machine, the
//! original 2013 client against the server machine, and the wire format as literals.

mod fixtures;
pub(crate) mod harness;
mod original_client;

use ferry_proto::galileo::{
    Client, ClientFrame, ClientOptions, DEFAULT_CHUNK_SIZE, ErrorCode, ErrorSignal, Event,
    GalileoError, Recovery, ServerMessage, ServerOptions, ServerSession,
};
use harness::{Connection, ServerScript, Store, connect, data, len, options, sha1};

fn server_options(chunksize: u64) -> ServerOptions {
    ServerOptions {
        chunksize,
        max_size: None,
        max_chunk: 1 << 20,
    }
}

fn upload_once(chunksize: u64, file: &[u8]) -> (Store, Connection) {
    let mut store = Store::default();
    let conn = connect(
        &mut store,
        &server_options(chunksize),
        &ServerScript::default(),
        options("dir/f.bin", file),
        file,
        None,
    );
    (store, conn)
}

fn binary_lens(conn: &Connection) -> Vec<u64> {
    conn.client_frames
        .iter()
        .filter_map(|frame| match frame {
            ClientFrame::Binary(range) => Some(range.end - range.start),
            ClientFrame::Text(_) => None,
        })
        .collect()
}

#[test]
fn whole_uploads_of_edge_sizes_arrive_byte_identical_with_default_and_custom_chunks() {
    const MB3: u64 = 3 * 1024 * 1024 + 17;
    for chunksize in [0, 1000] {
        let chunk = if chunksize == 0 {
            DEFAULT_CHUNK_SIZE
        } else {
            chunksize
        };
        for size in [0, 1, chunk - 1, chunk, chunk + 1, MB3] {
            let file = data(usize::try_from(size).unwrap(), 7);
            let (store, conn) = upload_once(chunksize, &file);
            let what = format!("size {size}, chunksize {chunksize}");
            assert!(conn.finished, "{what}: {:?}", conn.failure());
            assert_eq!(
                store.files.get("dir/f.bin").map(Vec::as_slice),
                Some(file.as_slice()),
                "{what}: the stored file equals the original"
            );
            let lens = binary_lens(&conn);
            assert_eq!(
                len(&lens),
                size.div_ceil(chunk),
                "{what}: one frame per chunk, none for an empty file"
            );
            assert!(
                lens.iter().all(|&l| l > 0 && l <= chunk),
                "{what}: {lens:?}"
            );
            assert_eq!(conn.data_bytes_sent, size, "{what}: every byte once");
            assert_eq!(conn.confirmed_trace.last(), Some(&size), "{what}");
        }
    }
}

#[test]
fn a_plain_client_without_the_extension_uploads_and_never_hears_of_upload_or_offset() {
    let file = data(2500, 1);
    let mut store = Store::default();
    let mut opts = options("p.bin", &file);
    opts.use_extension = false;
    let conn = connect(
        &mut store,
        &server_options(1000),
        &ServerScript::default(),
        opts,
        &file,
        None,
    );
    assert!(conn.finished);
    assert_eq!(
        store.files.get("p.bin"),
        Some(&file),
        "stored under its name"
    );
    assert!(
        conn.server_texts
            .iter()
            .all(|t| !t.contains("upload") && !t.contains("offset")),
        "{:?}",
        conn.server_texts
    );
    assert_eq!(
        conn.events.first(),
        Some(&Event::Accepted {
            upload: None,
            offset: 0
        })
    );
}

#[test]
fn resumes_from_server_offset_after_a_connection_cut_at_every_point() {
    let chunk = 700;
    let file = data(5000, 3);
    // Frames of one uncut connection: meta, 8 chunks, finished, 8+1 readies, close.
    let mut resumed_mid_file = 0;
    for cut in 0..=20 {
        let mut store = Store::default();
        let upload =
            harness::upload_with_cuts(&mut store, &server_options(chunk), "r/f", &file, &[cut]);
        let last = upload.connections.last().unwrap();
        assert!(last.finished, "cut {cut}: {:?}", last.failure());
        assert_eq!(store.files.get("r/f"), Some(&file), "cut {cut}");
        assert!(
            upload.data_bytes_sent <= len(&file) + chunk,
            "cut {cut}: {} bytes sent for {} (at most one chunk lost per cut)",
            upload.data_bytes_sent,
            file.len()
        );
        if upload.connections.len() == 2 {
            let first = &upload.connections[0];
            if let Some(id) = first.accepted_upload() {
                assert_eq!(
                    upload.connections[1].accepted_upload(),
                    Some(id),
                    "cut {cut}: the second connection resumes the same upload"
                );
            }
            if let Some(Event::Accepted { offset, .. }) = upload.connections[1].events.first() {
                resumed_mid_file += usize::from(*offset > 0 && *offset < len(&file));
            }
        }
    }
    assert!(
        resumed_mid_file >= 7,
        "most cuts resume mid-file: {resumed_mid_file}"
    );
}

#[test]
fn resumes_across_several_cuts_sending_at_most_one_extra_chunk_per_cut() {
    let chunk = 1024;
    let file = data(50_000, 9);
    let cuts = [7, 3, 20, 1, 2, 11, 40];
    let mut store = Store::default();
    let upload = harness::upload_with_cuts(&mut store, &server_options(chunk), "m", &file, &cuts);
    assert!(upload.connections.last().unwrap().finished);
    assert_eq!(store.files.get("m"), Some(&file));
    let limit = len(&file) + chunk * len(&cuts);
    assert!(
        upload.data_bytes_sent <= limit,
        "{} > {limit}",
        upload.data_bytes_sent
    );
}

#[test]
fn the_resumed_first_ready_names_the_upload_and_the_offset_held() {
    let file = data(3000, 4);
    let mut store = Store::default();
    store.uploads.insert("up-77".into(), file[..1200].to_vec());
    let mut opts = options("x", &file);
    opts.resume_upload = Some("up-77".into());
    let conn = connect(
        &mut store,
        &server_options(1000),
        &ServerScript::default(),
        opts,
        &file,
        None,
    );
    assert_eq!(
        conn.server_texts[0],
        r#"{"ready":true,"chunksize":1000,"upload":"up-77","offset":1200}"#
    );
    assert!(matches!(conn.client_frames[1], ClientFrame::Binary(ref r) if *r == (1200..2200)));
    assert!(conn.finished);
    assert_eq!(store.files.get("x"), Some(&file));
    assert_eq!(conn.data_bytes_sent, 1800, "only the missing bytes");
}

#[test]
fn resuming_an_unknown_upload_fails_with_start_over_and_a_fresh_start_succeeds() {
    let file = data(10, 5);
    let mut store = Store::default();
    let mut opts = options("u", &file);
    opts.resume_upload = Some("gone".into());
    let conn = connect(
        &mut store,
        &server_options(4),
        &ServerScript::default(),
        opts,
        &file,
        None,
    );
    let err = conn.failure().expect("fails");
    assert_eq!(err.code(), Some(ErrorCode::UnknownUpload));
    assert_eq!(err.recovery(), Recovery::StartOver);
    assert!(err.is_retryable());
    let (_, again) = upload_once(4, &file);
    assert!(again.finished);
}

#[test]
fn a_client_announcing_more_bytes_than_it_has_gets_a_fatal_size_mismatch() {
    let file = data(900, 2);
    let mut store = Store::default();
    let mut opts = options("big", &file);
    opts.size = 1000;
    opts.hash = None;
    let conn = connect(
        &mut store,
        &server_options(256),
        &ServerScript::default(),
        opts,
        &file,
        None,
    );
    let err = conn.failure().expect("fails");
    let GalileoError::Rejected { signal, .. } = err else {
        panic!("the server refused: {err:?}")
    };
    assert!(signal.fatal);
    assert_eq!(signal.code, Some(ErrorCode::SizeMismatch));
    assert!(
        signal.message.contains("1000") && signal.message.contains("900"),
        "{signal:?}"
    );
    assert_eq!(err.recovery(), Recovery::Fatal);
    assert!(store.files.is_empty());
}

#[test]
fn a_client_sending_more_bytes_than_announced_gets_a_fatal_size_mismatch() {
    let mut server = ServerSession::new(server_options(0));
    server.handle_text(r#"{"name":"a","size":5}"#).unwrap();
    server.accept("u", 0).unwrap();
    assert_eq!(
        server.handle_binary(10),
        Err(GalileoError::SizeMismatch {
            expected: 5,
            received: 10
        })
    );
    let sent: Vec<_> = std::iter::from_fn(|| server.poll_transmit()).collect();
    let ServerMessage::Error(signal) = ServerMessage::parse(&sent[1]).unwrap() else {
        panic!("{sent:?}")
    };
    assert!(signal.fatal && signal.code == Some(ErrorCode::SizeMismatch));
    assert!(server.should_close());
}

#[test]
fn a_client_announcing_fewer_bytes_than_it_hashed_gets_a_hash_mismatch_and_starts_over() {
    let file = data(1000, 6);
    let mut store = Store::default();
    let mut opts = options("short", &file);
    opts.size = 600;
    let conn = connect(
        &mut store,
        &server_options(256),
        &ServerScript::default(),
        opts,
        &file,
        None,
    );
    let err = conn.failure().expect("fails");
    assert_eq!(err.code(), Some(ErrorCode::HashMismatch));
    assert_eq!(err.recovery(), Recovery::StartOver);
    assert!(!err.is_retryable());
}

#[test]
fn a_wrong_hash_is_a_fatal_hash_mismatch_the_server_discards_and_the_client_starts_over() {
    let file = data(3000, 8);
    let mut store = Store::default();
    let mut opts = options("h", &file);
    opts.hash = Some(sha1(b"something else"));
    let conn = connect(
        &mut store,
        &server_options(1000),
        &ServerScript::default(),
        opts,
        &file,
        None,
    );
    let err = conn.failure().expect("fails");
    assert!(matches!(err, GalileoError::Rejected { signal, .. } if signal.fatal));
    assert_eq!(err.code(), Some(ErrorCode::HashMismatch));
    assert_eq!(err.recovery(), Recovery::StartOver);
    assert!(
        store.uploads.is_empty() && store.files.is_empty(),
        "discarded"
    );
    let id = conn.accepted_upload().expect("had an id");
    let mut retry = options("h", &file);
    retry.resume_upload = Some(id);
    let conn = connect(
        &mut store,
        &server_options(1000),
        &ServerScript::default(),
        retry,
        &file,
        None,
    );
    assert_eq!(
        conn.failure().and_then(GalileoError::code),
        Some(ErrorCode::UnknownUpload),
        "the discarded upload cannot be resumed"
    );
}

#[test]
fn a_non_fatal_error_is_reported_and_the_upload_continues() {
    let file = data(3000, 10);
    let mut store = Store::default();
    let script = ServerScript {
        report_before_ack: Some(2),
        ..ServerScript::default()
    };
    let conn = connect(
        &mut store,
        &server_options(1000),
        &script,
        options("n", &file),
        &file,
        None,
    );
    assert!(conn.finished, "{:?}", conn.failure());
    let reported: Vec<_> = conn
        .events
        .iter()
        .filter_map(|e| match e {
            Event::ServerError(signal) => Some(signal),
            _ => None,
        })
        .collect();
    assert_eq!(
        reported,
        [&ErrorSignal::non_fatal(
            ErrorCode::Internal,
            "slow disk, carrying on"
        )]
    );
    assert_eq!(store.files.get("n"), Some(&file));
}

#[test]
fn a_fatal_disk_full_fails_the_session_and_the_retry_resumes_after_the_stored_bytes() {
    let file = data(5000, 11);
    let mut store = Store::default();
    let script = ServerScript {
        fail_instead_of_ack: Some((2, ErrorCode::DiskFull)),
        ..ServerScript::default()
    };
    let conn = connect(
        &mut store,
        &server_options(1000),
        &script,
        options("d", &file),
        &file,
        None,
    );
    let err = conn.failure().expect("fails");
    assert_eq!(err.recovery(), Recovery::Retry);
    assert!(err.is_retryable());
    assert!(
        matches!(
            err,
            GalileoError::Rejected {
                confirmed: 1000,
                ..
            }
        ),
        "only the first chunk was acknowledged: {err:?}"
    );
    let mut retry = options("d", &file);
    retry.resume_upload = conn.accepted_upload();
    let conn = connect(
        &mut store,
        &server_options(1000),
        &ServerScript::default(),
        retry,
        &file,
        None,
    );
    assert!(conn.finished);
    assert_eq!(
        conn.events.first(),
        Some(&Event::Accepted {
            upload: Some("up-1".into()),
            offset: 2000
        }),
        "the server kept both stored chunks"
    );
    assert_eq!(store.files.get("d"), Some(&file));
}

#[test]
fn a_close_signal_before_all_data_was_sent_is_a_failure() {
    let mut client = Client::new(ClientOptions::new("a", 10));
    let _ = client.poll_transmit();
    client
        .handle_text(r#"{"ready":true,"chunksize":4}"#)
        .unwrap();
    client.handle_text(r#"{"close":true}"#).unwrap();
    assert!(!client.is_finished());
    assert_eq!(
        client.poll_event(),
        Some(Event::Accepted {
            upload: None,
            offset: 0
        })
    );
    let Some(Event::Failed(err)) = client.poll_event() else {
        panic!("fails")
    };
    assert_eq!(err, GalileoError::ClosedEarly { sent: 4, size: 10 });
    assert!(err.is_retryable());
}

#[test]
fn a_connection_closed_without_a_close_signal_is_a_failure_even_after_finished() {
    let mut client = Client::new(ClientOptions::new("a", 0));
    client.handle_text(r#"{"ready":true}"#).unwrap();
    client.handle_closed();
    assert!(!client.is_finished());
    let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    assert_eq!(
        events.last(),
        Some(&Event::Failed(GalileoError::ConnectionClosed {
            confirmed: 0,
            size: 0
        }))
    );
}

#[test]
fn a_new_client_against_an_old_server_falls_back_to_the_original_protocol_from_zero() {
    let file = data(5, 12);
    let mut opts = options("o", &file);
    opts.resume_upload = Some("up-3".into());
    opts.default_chunk_size = 2;
    let mut client = Client::new(opts);
    let Some(ClientFrame::Text(meta)) = client.poll_transmit() else {
        panic!("meta first")
    };
    assert!(meta.contains(r#""upload":"up-3""#), "{meta}");
    // An old Perl server: numbers as strings, no `upload`, no `offset`.
    client
        .handle_text(r#"{"ready":"1","chunksize":"0"}"#)
        .unwrap();
    assert_eq!(client.poll_transmit(), Some(ClientFrame::Binary(0..2)));
    assert_eq!(
        client.poll_event(),
        Some(Event::Accepted {
            upload: None,
            offset: 0
        })
    );
    client.handle_text(r#"{"ready":1}"#).unwrap();
    client.handle_text(r#"{"ready":1}"#).unwrap();
    client.handle_text(r#"{"ready":1}"#).unwrap();
    let frames: Vec<_> = std::iter::from_fn(|| client.poll_transmit()).collect();
    assert_eq!(
        frames[..2],
        [ClientFrame::Binary(2..4), ClientFrame::Binary(4..5)]
    );
    let ClientFrame::Text(finished) = &frames[2] else {
        panic!("{frames:?}")
    };
    assert!(finished.starts_with(r#"{"finished":true,"hash":{"type":"sha1","value":""#));
    client.handle_text(r#"{"close":1}"#).unwrap();
    assert!(client.is_finished());
}
