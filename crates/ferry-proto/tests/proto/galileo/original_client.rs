//! The original 2013 JavaScript client, emulated frame by frame, against `ServerSession`:
//! what ferry-server must keep working for browsers running that script unchanged.

use ferry_proto::galileo::{ServerInput, ServerMessage, ServerSession};

use super::harness::{data, len};
use super::server_options;

/// The original 2013 JavaScript client, as far as the wire shows it: no extension keys,
/// no hash, 250000-byte chunks unless told otherwise, and an empty binary frame for an
/// empty file before `finished`.
struct OriginalClient {
    file: Vec<u8>,
    sent: usize,
    sent_a_chunk: bool,
}

enum OriginalFrame {
    Text(String),
    Binary(Vec<u8>),
}

impl OriginalClient {
    fn meta(&self, name: &str) -> OriginalFrame {
        OriginalFrame::Text(format!(r#"{{"name":"{name}","size":{}}}"#, self.file.len()))
    }

    fn on_ready(&mut self, chunksize: Option<u64>) -> OriginalFrame {
        if self.sent < self.file.len() || !self.sent_a_chunk {
            let chunk = usize::try_from(chunksize.filter(|&n| n > 0).unwrap_or(250_000)).unwrap();
            let end = (self.sent + chunk).min(self.file.len());
            let bytes = self.file[self.sent..end].to_vec();
            self.sent = end;
            self.sent_a_chunk = true;
            OriginalFrame::Binary(bytes)
        } else {
            OriginalFrame::Text(r#"{"finished":true}"#.into())
        }
    }
}

/// Runs the original client against a `ServerSession`; returns the stored bytes (if the
/// server closed successfully) and every text the server sent.
fn original_upload(file: &[u8], chunksize: u64) -> (Option<Vec<u8>>, Vec<String>) {
    let mut client = OriginalClient {
        file: file.to_vec(),
        sent: 0,
        sent_a_chunk: false,
    };
    let mut server = ServerSession::new(server_options(chunksize));
    let mut stored = Vec::new();
    let mut texts = Vec::new();
    let mut frame = client.meta("orig.bin");
    let mut success = None;
    for _ in 0..10_000 {
        match frame {
            OriginalFrame::Text(text) => match server.handle_text(&text).unwrap() {
                ServerInput::Meta(meta) => {
                    assert!(!meta.asks_for_extension());
                    server.accept("orig-1", 0).unwrap();
                }
                ServerInput::Finished(hash) => {
                    assert_eq!(hash, None, "the original client sends no hash");
                    server.finish_ok().unwrap();
                }
            },
            OriginalFrame::Binary(bytes) => {
                let plan = server.handle_binary(len(&bytes)).unwrap();
                assert_eq!(plan.offset, len(&stored));
                stored.extend_from_slice(&bytes);
                server.chunk_stored();
            }
        }
        let out: Vec<_> = std::iter::from_fn(|| server.poll_transmit()).collect();
        assert_eq!(out.len(), 1, "one answer per frame: {out:?}");
        texts.extend(out.iter().cloned());
        match ServerMessage::parse(&out[0]).unwrap() {
            ServerMessage::Ready(ready) => frame = client.on_ready(ready.chunksize),
            ServerMessage::Close => {
                success = (client.sent == file.len()).then_some(stored);
                break;
            }
            ServerMessage::Error(signal) => panic!("the server refused: {signal:?}"),
        }
    }
    assert!(server.should_close());
    (success, texts)
}

#[test]
fn the_original_2013_client_uploads_unchanged_and_never_sees_upload_or_offset() {
    for (size, chunksize) in [(0, 0), (0, 4096), (1, 0), (600_000, 0), (10_000, 4096)] {
        let file = data(size, 13);
        let (stored, texts) = original_upload(&file, chunksize);
        assert_eq!(stored.as_deref(), Some(file.as_slice()), "size {size}");
        for text in &texts {
            assert!(
                !text.contains("upload") && !text.contains("offset"),
                "size {size}: {text}"
            );
        }
        let expected_ready = if chunksize == 0 {
            r#"{"ready":true}"#.to_owned()
        } else {
            format!(r#"{{"ready":true,"chunksize":{chunksize}}}"#)
        };
        assert_eq!(texts[0], expected_ready);
        assert_eq!(texts.last().map(String::as_str), Some(r#"{"close":true}"#));
        if size == 0 {
            assert_eq!(texts.len(), 3, "ready, ready for the empty frame, close");
        }
    }
}
