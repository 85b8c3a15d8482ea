//! Property tests for GalileoSend: messages round-trip, hostile input never panics the
//! machines nor makes the client claim more than the server acknowledged, and uploads cut
//! at random points still arrive byte-identical.

use ferry_proto::galileo::{
    Client, ClientFrame, ClientMessage, ClientOptions, ErrorCode, ErrorSignal, Finished, Hash,
    Meta, Ready, ServerInput, ServerMessage, ServerOptions, ServerSession,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::galileo::harness::{self, Store};

fn non_empty() -> impl Strategy<Value = String> {
    "[^\\x00]{1,12}"
}

fn arb_hash() -> impl Strategy<Value = Hash> {
    (any::<String>(), any::<String>()).prop_map(|(kind, value)| Hash { kind, value })
}

fn arb_meta() -> impl Strategy<Value = Meta> {
    (
        any::<String>(),
        any::<u64>(),
        proptest::option::of(non_empty()),
        proptest::option::of(any::<i64>()),
        proptest::option::of(non_empty()),
        proptest::option::of(arb_hash()),
    )
        .prop_map(|(name, size, path, mtime, upload, hash)| Meta {
            name,
            size,
            path,
            mtime,
            upload,
            hash,
        })
}

fn arb_client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        arb_meta().prop_map(ClientMessage::Meta),
        proptest::option::of(arb_hash())
            .prop_map(|hash| ClientMessage::Finished(Finished { hash })),
    ]
}

fn arb_code() -> impl Strategy<Value = ErrorCode> {
    prop_oneof![
        proptest::sample::select(ErrorCode::KNOWN.to_vec()),
        "[a-z_]{1,16}".prop_map(|s| ErrorCode::parse(&s)),
    ]
}

fn arb_scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ]
}

fn arb_server_message() -> impl Strategy<Value = ServerMessage> {
    let ready = (
        proptest::option::of(any::<u64>()),
        proptest::option::of(non_empty()),
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(chunksize, upload, offset)| {
            ServerMessage::Ready(Ready {
                chunksize,
                upload,
                offset,
            })
        });
    let extra = proptest::collection::btree_map("[a-z]{1,6}", arb_scalar(), 0..3).prop_map(|m| {
        m.into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "error" | "fatal" | "code"))
            .collect::<Map<String, Value>>()
    });
    let error = (
        any::<String>(),
        any::<bool>(),
        proptest::option::of(arb_code()),
        extra,
    )
        .prop_map(|(message, fatal, code, extra)| {
            ServerMessage::Error(ErrorSignal {
                message,
                fatal,
                code,
                extra,
            })
        });
    prop_oneof![ready, error, Just(ServerMessage::Close)]
}

/// JSON-ish text: objects over the protocol's keys with values of every type (including
/// numeric strings and nonsense), or plain random text.
fn arb_jsonish() -> impl Strategy<Value = String> {
    let key = proptest::sample::select(vec![
        "ready",
        "chunksize",
        "upload",
        "offset",
        "error",
        "fatal",
        "code",
        "close",
        "name",
        "size",
        "finished",
        "hash",
        "path",
        "mtime",
        "x",
    ]);
    let value = prop_oneof![
        arb_scalar(),
        (0u64..3000).prop_map(|n| Value::from(n.to_string())),
        (0u64..3000).prop_map(Value::from),
        Just(Value::from(-1)),
        Just(Value::from(2.5)),
        Just(serde_json::json!({"type": "sha1", "value": "00"})),
        Just(serde_json::json!([])),
    ];
    prop_oneof![
        3 => proptest::collection::vec((key, value), 0..5).prop_map(|pairs| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()).to_string()
        }),
        1 => any::<String>(),
        1 => "[{}\\[\\]\":,a-z0-9 ]{0,30}",
    ]
}

/// A valid message cut short, or a random JSON-ish string.
fn arb_input(valid: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop_oneof![
        arb_jsonish(),
        (valid, any::<proptest::sample::Index>()).prop_map(|(text, cut)| {
            let cut = cut.index(text.len() + 1);
            let cut = (0..=cut)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            text[..cut].to_owned()
        }),
    ]
}

/// Marks an input to be replaced by a first ready with `offset` = size + the number after it.
const NEAR_END: &str = "NEAR_END:";

fn near_end(text: &str, size: u64) -> String {
    match text
        .strip_prefix(NEAR_END)
        .and_then(|d| d.parse::<i64>().ok())
    {
        Some(delta) => {
            let offset = size.saturating_add_signed(delta);
            format!(r#"{{"ready":true,"upload":"u","offset":{offset}}}"#)
        }
        None => text.to_owned(),
    }
}

proptest! {
    #[test]
    fn client_messages_round_trip_through_json(message in arb_client_message()) {
        prop_assert_eq!(ClientMessage::parse(&message.to_json()), Ok(message));
    }

    #[test]
    fn server_messages_round_trip_through_json(message in arb_server_message()) {
        prop_assert_eq!(ServerMessage::parse(&message.to_json()), Ok(message));
    }

    #[test]
    fn hostile_server_input_never_panics_nor_overstates_the_confirmed_offset(
        size in 0u64..5000,
        chunk in 1u64..2000,
        extension in any::<bool>(),
        inputs in proptest::collection::vec(
            prop_oneof![
                3 => arb_server_message().prop_map(|m| m.to_json()),
                2 => arb_input(arb_server_message().prop_map(|m| m.to_json())),
                1 => Just(r#"{"ready":true}"#.to_owned()),
                // A first ready resuming near the end of the file, on either side of it.
                1 => (-3i64..=3).prop_map(|delta| format!("{NEAR_END}{delta}")),
            ],
            0..30,
        ),
    ) {
        let mut options = ClientOptions::new("f", size);
        options.default_chunk_size = chunk;
        if extension {
            options.resume_upload = Some("u".into());
        }
        let mut client = Client::new(options);
        let mut sent_end = 0u64;
        let mut acknowledged = 0u64;
        let mut first_ready = true;
        for text in &inputs {
            let text = &near_end(text, size);
            while let Some(frame) = client.poll_transmit() {
                if let ClientFrame::Binary(range) = frame {
                    prop_assert!(range.start < range.end && range.end <= size, "{range:?}");
                    prop_assert!(range.start >= sent_end, "{range:?} after {sent_end}");
                    sent_end = range.end;
                }
            }
            let was_over = client.is_over();
            let _ = client.handle_text(text);
            if !was_over {
                match ServerMessage::parse(text) {
                    Ok(ServerMessage::Ready(ready)) => {
                        let offset = if first_ready && extension && ready.upload.is_some() {
                            ready.offset.unwrap_or(0)
                        } else {
                            0
                        };
                        first_ready = false;
                        acknowledged = acknowledged.max(sent_end).max(offset);
                    }
                    Ok(ServerMessage::Close) => acknowledged = size,
                    _ => {}
                }
            }
            prop_assert!(client.confirmed_offset() <= size);
            prop_assert!(
                client.confirmed_offset() <= acknowledged,
                "confirmed {} but the server acknowledged only {}",
                client.confirmed_offset(),
                acknowledged
            );
            while client.poll_event().is_some() {}
        }
        client.handle_closed();
        prop_assert!(client.is_over());
    }

    #[test]
    fn hostile_client_input_never_panics_and_errors_close_the_session(
        frames in proptest::collection::vec(
            prop_oneof![
                3 => arb_input(arb_client_message().prop_map(|m| m.to_json())).prop_map(Ok),
                1 => Just(Ok(r#"{"name":"f","size":100,"path":"p"}"#.to_owned())),
                1 => Just(Ok(r#"{"finished":true}"#.to_owned())),
                2 => (0u64..300).prop_map(Err),
            ],
            0..30,
        ),
        offset_pick in any::<proptest::sample::Index>(),
    ) {
        let mut server = ServerSession::new(ServerOptions {
            chunksize: 100,
            max_size: Some(4000),
            max_chunk: 200,
        });
        for frame in frames {
            let result = match frame {
                Ok(text) => server.handle_text(&text).map(|input| {
                    if let ServerInput::Meta(meta) = input {
                        let offset = if meta.asks_for_extension() {
                            offset_pick.index(usize::try_from(meta.size).unwrap() + 1)
                        } else {
                            0
                        };
                        server.accept("u", u64::try_from(offset).unwrap()).unwrap();
                    }
                }),
                Err(len) => server.handle_binary(len).map(|plan| {
                    if plan.len > 0 {
                        server.chunk_stored();
                    }
                }),
            };
            if result.is_err() {
                prop_assert!(server.is_closed(), "an error closes the session");
            }
            if let Some(meta) = server.meta() {
                prop_assert!(server.received() <= meta.size);
            }
            while let Some(text) = server.poll_transmit() {
                prop_assert!(ServerMessage::parse(&text).is_ok(), "the server sends valid JSON: {}", text);
            }
        }
    }

    #[test]
    fn uploads_cut_at_random_points_arrive_byte_identical(
        size in 0usize..20_000,
        chunk_divisor in 1u64..60,
        seed in any::<u8>(),
        cuts in proptest::collection::vec(0usize..40, 0..4),
    ) {
        let file = harness::data(size, seed);
        let chunk = (u64::try_from(size).unwrap() / chunk_divisor).max(1).max(u64::try_from(size).unwrap() / 200 + 1);
        let mut store = Store::default();
        let upload = harness::upload_with_cuts(
            &mut store,
            &ServerOptions { chunksize: chunk, max_size: None, max_chunk: chunk },
            "p/f",
            &file,
            &cuts,
        );
        let last = upload.connections.last().unwrap();
        prop_assert!(last.finished, "{:?}", last.failure());
        prop_assert_eq!(store.files.get("p/f"), Some(&file));
        let limit = u64::try_from(size).unwrap() + chunk * u64::try_from(cuts.len()).unwrap();
        prop_assert!(upload.data_bytes_sent <= limit, "{} > {}", upload.data_bytes_sent, limit);
        for conn in &upload.connections {
            prop_assert!(conn.confirmed_trace.windows(2).all(|w| w[0] <= w[1]), "{:?}", conn.confirmed_trace);
        }
    }
}
