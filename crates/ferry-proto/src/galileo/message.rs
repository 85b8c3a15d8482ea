//! GalileoSend's JSON signals as plain data: parsing (tolerant) and serialising (exact).
//!
//! Every signal travels as one JSON object in a TEXT frame. Parsing follows the original
//! peers: unknown keys are ignored, truth is JavaScript truthiness, numbers may be numeric
//! strings, and `null` or `""` count as an absent key. Serialising writes exactly the
//! documented shapes with keys in a fixed order and absent optional keys left out, so
//! fixtures can compare strings. This module knows nothing of session state: whether a
//! signal is valid *now* is the machines' business.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::error::{ErrorCode, GalileoError};
use super::lenient;
use crate::checksum::{Checksum, ChecksumAlgorithm};

/// A whole-file hash as GalileoSend carries it: `{"type":"sha1","value":"<hex>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hash {
    /// The algorithm name, as sent (`"sha1"`); the wire key is `type`.
    pub kind: String,
    /// The digest in hex, as sent.
    pub value: String,
}

impl Hash {
    /// The hash of a computed checksum (normally sha1), with a lower-case hex value.
    pub fn from_checksum(checksum: &Checksum) -> Self {
        Self {
            kind: checksum.algorithm.name().to_owned(),
            value: checksum.to_hex(),
        }
    }

    /// The checksum this hash describes, or `None` if the algorithm is unknown or the
    /// value is not hex of the right length (a server then cannot verify it).
    pub fn to_checksum(&self) -> Option<Checksum> {
        let algorithm: ChecksumAlgorithm = self.kind.parse().ok()?;
        Checksum::from_hex(algorithm, &self.value)
    }

    /// Whether this hash describes `checksum` (same algorithm and digest, hex in either case).
    pub fn matches(&self, checksum: &Checksum) -> bool {
        self.to_checksum().as_ref() == Some(checksum)
    }

    fn write(&self, out: &mut String) {
        out.push_str("{\"type\":");
        push_str_value(out, &self.kind);
        out.push_str(",\"value\":");
        push_str_value(out, &self.value);
        out.push('}');
    }

    fn parse(value: Option<&Value>) -> Result<Option<Self>, GalileoError> {
        if !lenient::truthy(value) {
            return Ok(None);
        }
        let field = |key| {
            value
                .and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("`hash` must be an object with string `{key}`")))
        };
        Ok(Some(Self {
            kind: field("type")?,
            value: field("value")?,
        }))
    }
}

/// The client's first message: the file's metadata, plus Ferry's optional resume keys.
///
/// `{"name":"a.txt","size":3}` is the original message; `path`, `mtime`, `upload` and
/// `hash` belong to the resume extension and are left out when `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// The file's name.
    pub name: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Extension: the relative remote path the file should be stored at.
    pub path: Option<String>,
    /// Extension: the file's modification time in unix seconds.
    pub mtime: Option<i64>,
    /// Extension: the id of an upload to resume.
    pub upload: Option<String>,
    /// Extension: the hash of the whole file.
    pub hash: Option<Hash>,
}

impl Meta {
    /// Plain metadata with no extension keys.
    pub fn new(name: impl Into<String>, size: u64) -> Self {
        Self {
            name: name.into(),
            size,
            path: None,
            mtime: None,
            upload: None,
            hash: None,
        }
    }

    /// Whether the client asked for the resume extension: true if any of `path`, `mtime`,
    /// `upload` or `hash` is present. Only then does the first ready carry `upload` and
    /// `offset`.
    pub fn asks_for_extension(&self) -> bool {
        self.path.is_some() || self.mtime.is_some() || self.upload.is_some() || self.hash.is_some()
    }

    fn parse(obj: &Map<String, Value>) -> Result<Self, GalileoError> {
        let name = match obj.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Null) | None => return Err(bad("metadata without `name`".into())),
            Some(_) => return Err(bad("`name` must be a string".into())),
        };
        let size = lenient::unsigned(obj.get("size"), "size")
            .map_err(bad)?
            .ok_or_else(|| bad("metadata without `size`".into()))?;
        Ok(Self {
            name,
            size,
            path: lenient::text(obj.get("path"), "path").map_err(bad)?,
            mtime: lenient::signed(obj.get("mtime"), "mtime").map_err(bad)?,
            upload: lenient::text(obj.get("upload"), "upload").map_err(bad)?,
            hash: Hash::parse(obj.get("hash"))?,
        })
    }

    fn write(&self, out: &mut String) {
        out.push_str("{\"name\":");
        push_str_value(out, &self.name);
        let _ = write!(out, ",\"size\":{}", self.size);
        if let Some(path) = &self.path {
            out.push_str(",\"path\":");
            push_str_value(out, path);
        }
        if let Some(mtime) = self.mtime {
            let _ = write!(out, ",\"mtime\":{mtime}");
        }
        if let Some(upload) = &self.upload {
            out.push_str(",\"upload\":");
            push_str_value(out, upload);
        }
        if let Some(hash) = &self.hash {
            out.push_str(",\"hash\":");
            hash.write(out);
        }
        out.push('}');
    }
}

/// The client's last message: `{"finished":true}`, optionally with the whole-file hash.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Finished {
    /// The hash of the whole file, if the client computed one.
    pub hash: Option<Hash>,
}

/// A text message from client to server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// The first message: what is being uploaded.
    Meta(Meta),
    /// All data has been sent.
    Finished(Finished),
}

impl ClientMessage {
    /// Parses a client text frame.
    ///
    /// A truthy `finished` makes it [`ClientMessage::Finished`]; otherwise a `name` or
    /// `size` key makes it [`ClientMessage::Meta`] (which then needs both); anything else,
    /// including text that is not a JSON object, is a [`GalileoError::BadMessage`].
    pub fn parse(text: &str) -> Result<Self, GalileoError> {
        let obj = parse_object(text)?;
        if lenient::truthy(obj.get("finished")) {
            return Ok(Self::Finished(Finished {
                hash: Hash::parse(obj.get("hash"))?,
            }));
        }
        let present = |key| obj.get(key).is_some_and(|v| !v.is_null());
        if present("name") || present("size") {
            return Meta::parse(&obj).map(Self::Meta);
        }
        Err(bad(
            "a client message needs `finished` or `name` and `size`".into(),
        ))
    }

    /// The message as JSON text, keys in documented order, absent options left out.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64);
        match self {
            Self::Meta(meta) => meta.write(&mut out),
            Self::Finished(finished) => {
                out.push_str("{\"finished\":true");
                if let Some(hash) = &finished.hash {
                    out.push_str(",\"hash\":");
                    hash.write(&mut out);
                }
                out.push('}');
            }
        }
        out
    }
}

/// The server's ready signal: send the next chunk (or `finished` if all data is sent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ready {
    /// The largest next chunk the server wants; `None` or `Some(0)` means the client's default.
    pub chunksize: Option<u64>,
    /// Extension, first ready only: the id of the upload, for resuming later.
    pub upload: Option<String>,
    /// Extension, first ready only: the bytes the server already holds; the client
    /// continues from there.
    pub offset: Option<u64>,
}

/// An error signal: `{"error":<truthy>,"fatal":true,"code":"..."}` plus any other keys.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorSignal {
    /// The error's text. A non-string `error` value is kept as its JSON text, except
    /// `true`, which carries no text and becomes `""` (and `""` is written as `true`).
    pub message: String,
    /// Whether the session is over. Absent means false.
    pub fatal: bool,
    /// The machine-readable code (Ferry's extension); old servers send none.
    pub code: Option<ErrorCode>,
    /// Every other key, for whoever handles the error.
    pub extra: Map<String, Value>,
}

impl ErrorSignal {
    /// A fatal error signal with a code and a message.
    pub fn fatal(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: true,
            code: Some(code),
            extra: Map::new(),
        }
    }

    /// A non-fatal error signal: the client reports it and keeps waiting for signals.
    pub fn non_fatal(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            fatal: false,
            ..Self::fatal(code, message)
        }
    }

    fn parse(obj: Map<String, Value>) -> Self {
        let mut extra = obj;
        let message = match extra.remove("error") {
            Some(Value::String(s)) => s,
            Some(Value::Bool(true)) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let fatal = lenient::truthy(extra.remove("fatal").as_ref());
        let code = lenient::text(extra.remove("code").as_ref(), "code")
            .ok()
            .flatten()
            .map(|code| ErrorCode::parse(&code));
        Self {
            message,
            fatal,
            code,
            extra,
        }
    }

    fn write(&self, out: &mut String) {
        out.push_str("{\"error\":");
        if self.message.is_empty() {
            out.push_str("true");
        } else {
            push_str_value(out, &self.message);
        }
        if self.fatal {
            out.push_str(",\"fatal\":true");
        }
        if let Some(code) = &self.code {
            out.push_str(",\"code\":");
            push_str_value(out, code.as_str());
        }
        for (key, value) in &self.extra {
            if !matches!(key.as_str(), "error" | "fatal" | "code") {
                out.push(',');
                push_str_value(out, key);
                out.push(':');
                out.push_str(&value.to_string());
            }
        }
        out.push('}');
    }
}

/// A text message from server to client.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    /// Send the next chunk, or `finished`.
    Ready(Ready),
    /// Something went wrong; fatal or not.
    Error(ErrorSignal),
    /// The server is done; the client closes the connection.
    Close,
}

impl ServerMessage {
    /// Parses a server text frame, by precedence: a truthy `error` makes it an
    /// [`ServerMessage::Error`], else a truthy `close` a [`ServerMessage::Close`], else a
    /// truthy `ready` a [`ServerMessage::Ready`]; anything else is a
    /// [`GalileoError::BadMessage`].
    pub fn parse(text: &str) -> Result<Self, GalileoError> {
        let obj = parse_object(text)?;
        if lenient::truthy(obj.get("error")) {
            return Ok(Self::Error(ErrorSignal::parse(obj)));
        }
        if lenient::truthy(obj.get("close")) {
            return Ok(Self::Close);
        }
        if lenient::truthy(obj.get("ready")) {
            return Ok(Self::Ready(Ready {
                chunksize: lenient::unsigned(obj.get("chunksize"), "chunksize").map_err(bad)?,
                upload: lenient::text(obj.get("upload"), "upload").map_err(bad)?,
                offset: lenient::unsigned(obj.get("offset"), "offset").map_err(bad)?,
            }));
        }
        Err(bad(
            "a server message needs a truthy `error`, `close` or `ready`".into(),
        ))
    }

    /// The message as JSON text, keys in documented order, absent options left out.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(48);
        match self {
            Self::Ready(ready) => {
                out.push_str("{\"ready\":true");
                if let Some(chunksize) = ready.chunksize {
                    let _ = write!(out, ",\"chunksize\":{chunksize}");
                }
                if let Some(upload) = &ready.upload {
                    out.push_str(",\"upload\":");
                    push_str_value(&mut out, upload);
                }
                if let Some(offset) = ready.offset {
                    let _ = write!(out, ",\"offset\":{offset}");
                }
                out.push('}');
            }
            Self::Error(signal) => signal.write(&mut out),
            Self::Close => out.push_str("{\"close\":true}"),
        }
        out
    }
}

fn bad(reason: String) -> GalileoError {
    GalileoError::BadMessage { reason }
}

fn parse_object(text: &str) -> Result<Map<String, Value>, GalileoError> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(obj)) => Ok(obj),
        Ok(_) => Err(bad("expected a JSON object".into())),
        Err(e) => Err(bad(format!("not JSON ({e})"))),
    }
}

/// Appends `s` as a JSON string literal (quoted and escaped).
fn push_str_value(out: &mut String, s: &str) {
    // Serialising a &str cannot fail; the fallback keeps this free of panics regardless.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> ServerMessage {
        ServerMessage::parse(text).unwrap_or_else(|e| panic!("{text} should parse: {e}"))
    }

    #[test]
    fn signals_serialise_to_the_documented_shapes() {
        let ready = ServerMessage::Ready(Ready {
            chunksize: Some(250_000),
            ..Ready::default()
        });
        assert_eq!(ready.to_json(), r#"{"ready":true,"chunksize":250000}"#);
        assert_eq!(ServerMessage::Close.to_json(), r#"{"close":true}"#);
        assert_eq!(
            ServerMessage::Error(ErrorSignal::fatal(ErrorCode::SizeMismatch, "message")).to_json(),
            r#"{"error":"message","fatal":true,"code":"size_mismatch"}"#
        );
        assert_eq!(
            ClientMessage::Finished(Finished::default()).to_json(),
            r#"{"finished":true}"#
        );
        assert_eq!(
            ClientMessage::Meta(Meta::new("a \"b\".txt", 3)).to_json(),
            r#"{"name":"a \"b\".txt","size":3}"#
        );
    }

    #[test]
    fn server_messages_are_decided_by_precedence_error_close_ready() {
        assert!(matches!(
            server(r#"{"ready":1,"close":1,"error":"x"}"#),
            ServerMessage::Error(_)
        ));
        assert_eq!(server(r#"{"ready":1,"close":"yes"}"#), ServerMessage::Close);
        assert!(matches!(
            server(r#"{"ready":true,"close":0,"error":""}"#),
            ServerMessage::Ready(_)
        ));
    }

    #[test]
    fn perl_style_numbers_and_unknown_keys_are_accepted() {
        assert_eq!(
            server(r#"{"ready":"1","chunksize":"4096","offset":"10","upload":7,"x":[]}"#),
            ServerMessage::Ready(Ready {
                chunksize: Some(4096),
                upload: Some("7".into()),
                offset: Some(10),
            })
        );
        let meta = ClientMessage::parse(r#"{"name":"a","size":"12","mtime":"5","extra":1}"#);
        let mut expected = Meta::new("a", 12);
        expected.mtime = Some(5);
        assert_eq!(meta, Ok(ClientMessage::Meta(expected)));
    }

    #[test]
    fn an_error_signal_keeps_its_other_keys_for_the_handler() {
        let ServerMessage::Error(signal) =
            server(r#"{"error":{"why":"x"},"fatal":0,"code":"weird","retry_in":5}"#)
        else {
            panic!("an error signal")
        };
        assert_eq!(signal.message, r#"{"why":"x"}"#);
        assert!(!signal.fatal);
        assert_eq!(signal.code, Some(ErrorCode::Other("weird".into())));
        assert_eq!(signal.extra.get("retry_in"), Some(&Value::from(5)));
        assert_eq!(
            ServerMessage::Error(signal).to_json(),
            r#"{"error":"{\"why\":\"x\"}","code":"weird","retry_in":5}"#
        );
    }

    #[test]
    fn messages_without_a_truthy_known_key_are_bad_messages() {
        for text in [
            "",
            "null",
            "[1]",
            r#"{"ready":false}"#,
            r#"{"ready":0,"close":"","error":null}"#,
            "{\"ready\":tru",
        ] {
            assert!(
                matches!(
                    ServerMessage::parse(text),
                    Err(GalileoError::BadMessage { .. })
                ),
                "{text:?}"
            );
        }
        for text in [
            "{}",
            r#"{"finished":false}"#,
            r#"{"name":"a"}"#,
            r#"{"size":3}"#,
            r#"{"name":"a","size":-1}"#,
            r#"{"finished":true,"hash":"abc"}"#,
        ] {
            assert!(
                matches!(
                    ClientMessage::parse(text),
                    Err(GalileoError::BadMessage { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_hash_is_compared_as_a_checksum_in_either_case() {
        let sum = ChecksumAlgorithm::Sha1.digest(b"abc");
        let hash = Hash {
            kind: "sha1".into(),
            value: sum.to_hex().to_uppercase(),
        };
        assert!(hash.matches(&sum));
        assert_eq!(Hash::from_checksum(&sum).value, sum.to_hex());
        let other = ChecksumAlgorithm::Sha1.digest(b"abd");
        assert!(!hash.matches(&other));
    }

    #[test]
    fn extension_is_asked_for_by_any_of_its_keys() {
        assert!(!Meta::new("a", 1).asks_for_extension());
        for text in [
            r#"{"name":"a","size":1,"path":"x/a"}"#,
            r#"{"name":"a","size":1,"mtime":1}"#,
            r#"{"name":"a","size":1,"upload":"u1"}"#,
            r#"{"name":"a","size":1,"hash":{"type":"sha1","value":"00"}}"#,
        ] {
            let Ok(ClientMessage::Meta(meta)) = ClientMessage::parse(text) else {
                panic!("{text} is metadata")
            };
            assert!(meta.asks_for_extension(), "{text}");
        }
        let Ok(ClientMessage::Meta(meta)) =
            ClientMessage::parse(r#"{"name":"a","size":1,"upload":null,"path":""}"#)
        else {
            panic!("metadata")
        };
        assert!(
            !meta.asks_for_extension(),
            "null and empty values count as absent"
        );
    }
}
