//! Answers read with a cap: a server (or something pretending to be one) cannot make Ferry
//! hold an endless body in memory. A `Content-Length` above the cap is refused before a byte
//! is read; a body that grows past it is cut off there. Knows nothing of what the body means.

use crate::error::{EngineError, NetworkFailure};

/// Why a capped body could not be read.
#[derive(Debug)]
pub enum CappedError {
    /// The body is (or says it is) larger than the cap.
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The connection failed while reading it.
    Network(reqwest::Error),
}

impl CappedError {
    /// The engine's error for an answer of `server`.
    pub fn into_engine(self, server: &str) -> EngineError {
        match self {
            Self::TooLarge { max } => EngineError::unreachable(
                server,
                NetworkFailure::BadAnswer,
                format!("its answer is larger than the {max} bytes Ferry reads"),
            ),
            Self::Network(err) => EngineError::network(server, &err),
        }
    }
}

/// The whole body of `reply`, at most `max` bytes.
pub async fn capped_body(mut reply: reqwest::Response, max: usize) -> Result<Vec<u8>, CappedError> {
    if reply.content_length().is_some_and(|len| len > max as u64) {
        return Err(CappedError::TooLarge { max });
    }
    let mut body = Vec::new();
    while let Some(piece) = reply.chunk().await.map_err(CappedError::Network)? {
        if body.len() + piece.len() > max {
            return Err(CappedError::TooLarge { max });
        }
        body.extend_from_slice(&piece);
    }
    Ok(body)
}
