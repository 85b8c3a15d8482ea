//! A driver that wires the tus client machine to the in-memory server, with faults.
//!
//! It plays the part a transport plays in the engine: it sends each request the machine
//! polls (reading the body from the "file" and hashing it when asked), delivers the
//! answer or reports a failure, and advances virtual time. Faults decide, per request,
//! whether the connection breaks during the body, whether the body is corrupted on the
//! way, or whether the answer is lost.

use std::time::{Duration, SystemTime};

use ferry_proto::tus::memory::MemoryServer;
use ferry_proto::tus::server::ServerConfig;
use ferry_proto::tus::{Event, Request, RequestKind, Response, TusError, Upload, UploadOptions};
use url::Url;

/// What happens to one request on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Delivered, answered, answer received.
    None,
    /// The connection breaks after this many body bytes reached the server.
    CutAfter(u64),
    /// One body byte is flipped on the way (the server sees other bytes than were sent).
    Corrupt,
    /// The server handles the request but its answer never arrives.
    LoseAnswer,
    /// The client process dies before sending: the run ends, only saved state survives.
    Crash,
}

/// The server, the file and the clock.
pub(crate) struct Sim {
    pub(crate) server: MemoryServer,
    pub(crate) file: Vec<u8>,
    pub(crate) now: SystemTime,
    /// Every request sent, in order.
    pub(crate) log: Vec<(RequestKind, Option<std::ops::Range<u64>>)>,
    pub(crate) events: Vec<Event>,
    pub(crate) errors: Vec<TusError>,
}

pub(crate) fn endpoint() -> Url {
    Url::parse("http://127.0.0.1:1080/files/").unwrap()
}

/// A pseudo-random file whose bytes differ from offset to offset.
pub(crate) fn file_of(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect()
}

impl Sim {
    pub(crate) fn new(config: ServerConfig, file: Vec<u8>) -> Self {
        Self {
            server: MemoryServer::new(config),
            file,
            now: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            log: Vec::new(),
            events: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub(crate) fn options(&self, chunk_size: u64) -> UploadOptions {
        let mut opts = UploadOptions::new(endpoint(), Some(self.file.len() as u64));
        opts.chunk_size = chunk_size;
        opts.metadata.insert("filename", "k.bin").unwrap();
        opts
    }

    /// Sends one request with `fault` and hands the outcome to the machine.
    pub(crate) fn exchange(
        &mut self,
        upload: &mut Upload,
        mut request: Request,
        fault: Fault,
    ) -> Result<(), TusError> {
        self.now += Duration::from_millis(10);
        self.log
            .push((request.kind, request.body.as_ref().map(|b| b.range.clone())));
        let mut body = self.body_of(&mut request);
        match fault {
            Fault::CutAfter(n) if (n as usize) < body.len() => {
                self.server
                    .handle_cut(&request, &body[..n as usize], self.now);
                upload.handle_failure(request.id);
                return Ok(());
            }
            Fault::Corrupt if !body.is_empty() => body[0] ^= 0xff,
            _ => {}
        }
        let response: Response = self.server.handle(&request, &body, self.now);
        if fault == Fault::LoseAnswer {
            upload.handle_failure(request.id);
            return Ok(());
        }
        upload.handle_response(request.id, &response)
    }

    /// Reads the bytes a request names, and adds their checksum when it asks for one, as
    /// a transport does before sending.
    pub(crate) fn body_of(&self, request: &mut Request) -> Vec<u8> {
        let Some(body) = &request.body else {
            return Vec::new();
        };
        let bytes = self.file[body.range.start as usize..body.range.end as usize].to_vec();
        if let Some(algorithm) = body.checksum {
            request.set_checksum(&algorithm.digest(&bytes));
        }
        bytes
    }

    /// Runs the machine until it finishes, fails for good, or has nothing to send,
    /// asking `fault` what happens to each request. Errors that allow a retry are kept
    /// in `self.errors` and the run goes on, as the engine would after a backoff.
    pub(crate) fn run(
        &mut self,
        upload: &mut Upload,
        mut fault: impl FnMut(&Request) -> Fault,
    ) -> Result<(), TusError> {
        for _ in 0..100_000 {
            let mut batch = Vec::new();
            while let Some(request) = upload.poll_request(self.now) {
                batch.push(request);
            }
            if batch.is_empty() {
                break;
            }
            for request in batch {
                let f = fault(&request);
                if f == Fault::Crash {
                    self.drain(upload);
                    return Ok(());
                }
                if let Err(err) = self.exchange(upload, request, f) {
                    let retryable = err.is_retryable();
                    self.errors.push(err.clone());
                    if !retryable {
                        self.drain(upload);
                        return Err(err);
                    }
                }
            }
            self.drain(upload);
        }
        self.drain(upload);
        Ok(())
    }

    pub(crate) fn drain(&mut self, upload: &mut Upload) {
        while let Some(event) = upload.poll_event() {
            self.events.push(event);
        }
    }

    pub(crate) fn count(&self, kind: RequestKind) -> usize {
        self.log.iter().filter(|(k, _)| *k == kind).count()
    }

    /// The location the machine reported at the end.
    pub(crate) fn finished_location(&self) -> Option<String> {
        self.events.iter().find_map(|e| match e {
            Event::Finished { location } => Some(location.clone()),
            _ => None,
        })
    }
}
