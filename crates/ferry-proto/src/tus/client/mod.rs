//! The tus 1.0.0 client machine: one file's upload from discovery to the last byte.
//!
//! # Call order
//! 1. [`Upload::new`] with the options, the server's [`Capabilities`] if known (otherwise
//!    the first request is OPTIONS) and a [`ResumeState`] from the journal if any.
//! 2. Loop: send every request [`Upload::poll_request`] gives; hand each answer to
//!    [`Upload::handle_response`], or report a lost one with [`Upload::handle_failure`];
//!    drain [`Upload::poll_event`] and store [`Upload::state`] whenever `Progress` or
//!    `Created` appears. After an `Err`, wait (backoff) before polling again if
//!    [`TusError::is_retryable`]; otherwise give up.
//! 3. Stop at [`Event::Finished`] (or [`Event::Terminated`] after [`Upload::terminate`]).
//!
//! A concatenation is one plan: the partial uploads and the final upload that joins them.
//! Store [`Upload::state`] also right before sending a [`RequestKind::Concatenate`] request
//! (it is then marked `final_requested`) and at `Finished` (it then holds the final's
//! location): a machine resumed from it checks the final it knows of with HEAD instead of
//! making another, and asks again for the final it requested (a server may answer a
//! repeated request with the same final) before it looks at the partial uploads.
//!
//! Several requests are in flight at once only for concatenation (one per partial upload).
//! The confirmed offset only ever takes values the server stated; a request the machine
//! builds never starts past it. The machine never reads the clock: `now` comes in with
//! every call that needs it (expiration). Knows nothing of sockets or files.
//!
//! # Example
//! A whole upload against the in-memory server; a real driver sends the same requests over
//! HTTP, streaming each body from the file.
//! ```
//! use std::time::SystemTime;
//! use ferry_proto::tus::{memory::MemoryServer, server::ServerConfig, Event, Upload, UploadOptions};
//!
//! let file = vec![7u8; 100_000];
//! let mut server = MemoryServer::new(ServerConfig::complete(None));
//! let endpoint = "http://127.0.0.1:8080/files/".parse()?;
//! let mut options = UploadOptions::new(endpoint, Some(file.len() as u64));
//! options.chunk_size = 32 * 1024;
//! let mut upload = Upload::new(options, None, None)?;
//!
//! let now = SystemTime::now();
//! while let Some(mut request) = upload.poll_request(now) {
//!     let body = match &request.body {
//!         Some(body) => &file[body.range.start as usize..body.range.end as usize],
//!         None => &[][..],
//!     };
//!     if let Some(algorithm) = request.body.as_ref().and_then(|b| b.checksum) {
//!         request.set_checksum(&algorithm.digest(body));
//!     }
//!     let response = server.handle(&request, body, now);
//!     upload.handle_response(request.id, &response)?;
//! }
//! let location = upload.location().expect("finished");
//! assert_eq!(server.completed(location), Some(&file[..]));
//! assert!(std::iter::from_fn(|| upload.poll_event()).any(|e| matches!(e, Event::Finished { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod limits;
mod part;
mod requests;
mod respond;

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use http::{HeaderValue, Method};
use url::Url;

use self::part::Part;
pub use self::part::{PartState, ResumeState, plan_parts};
use super::capabilities::Capabilities;
use super::error::TusError;
use super::headers::{Extension, TUS_RESUMABLE, TUS_VERSION};
use super::message::{Request, RequestId, RequestKind};
use super::metadata::Metadata;
use crate::checksum::ChecksumAlgorithm;

/// The chunk size used when the caller does not choose one: 8 MiB, large enough for full
/// speed on a LAN, small enough that a cut costs little.
pub const DEFAULT_CHUNK_SIZE: u64 = 8 * 1024 * 1024;

/// The smallest chunk the machine falls back to when a server (or a proxy before it)
/// answers 413 to a request body: 64 KiB. A 413 to a body this small is a permanent
/// [`TusError::RequestTooLarge`].
pub const MIN_CHUNK_SIZE: u64 = 64 * 1024;

/// How to upload one file.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The creation endpoint (`http://host/files/`).
    pub endpoint: Url,
    /// The file's size; `None` to create the upload before the size is known
    /// (creation-defer-length), then call [`Upload::set_length`].
    pub length: Option<u64>,
    /// `Upload-Metadata` of the upload (of the final upload when concatenating).
    pub metadata: Metadata,
    /// The most bytes one request carries.
    pub chunk_size: u64,
    /// Per-chunk checksum to send when the server lists this algorithm.
    pub checksum: Option<ChecksumAlgorithm>,
    /// Send the first chunk inside the creating POST when the server allows it.
    pub creation_with_upload: bool,
    /// Split the file into this many partial uploads sent in parallel, when the server
    /// offers concatenation and the length is known. 1 means one plain upload.
    pub parallel: usize,
}

impl UploadOptions {
    /// Defaults: 8 MiB chunks, sha1 checksums, creation-with-upload, no concatenation.
    pub fn new(endpoint: Url, length: Option<u64>) -> Self {
        Self {
            endpoint,
            length,
            metadata: Metadata::new(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            checksum: Some(ChecksumAlgorithm::Sha1),
            creation_with_upload: true,
            parallel: 1,
        }
    }
}

/// Something the driver should know (and usually record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The server's capabilities were discovered.
    Discovered(Capabilities),
    /// The server created an upload (part 0 unless concatenating).
    Created {
        /// Which part.
        part: usize,
        /// Its URL as the server gave it.
        location: String,
    },
    /// The server confirmed more (or, after a restart, fewer) bytes of the whole file.
    Progress {
        /// Bytes of the file the server confirmed, over all parts.
        confirmed: u64,
    },
    /// A part lost its server-side upload and starts again at 0.
    Restarted {
        /// Which part.
        part: usize,
        /// Why.
        reason: RestartReason,
    },
    /// Every byte is on the server and the upload is complete.
    Finished {
        /// The URL of the complete upload (the final upload when concatenating).
        location: String,
    },
    /// A request body was refused as too large (413 to a PATCH or to a creation with its
    /// first bytes): from now on requests carry at most `to` bytes. The driver reports it
    /// and may remember `to` for this server ([`Upload::chunk_size`]).
    ChunkSizeReduced {
        /// The chunk size before.
        from: u64,
        /// The chunk size now.
        to: u64,
    },
    /// The upload was abandoned after [`Upload::terminate`].
    Terminated {
        /// Whether the server was asked to delete it (it must offer termination).
        deleted: bool,
    },
}

/// Why a part had to start again from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartReason {
    /// Its `Upload-Expires` had passed.
    Expired,
    /// The server no longer knows it (404, 410, or 403 to HEAD).
    Gone,
    /// The server's upload has another length than the file, or more bytes than that.
    Mismatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Discover,
    Parts,
    Concatenate,
    /// HEAD on the final upload made in an earlier run.
    FinalStatus,
    Finished,
    Terminating,
    Terminated,
    Failed,
}

/// What an in-flight request was for.
#[derive(Debug, Clone)]
struct Pending {
    kind: RequestKind,
    part: usize,
    /// Offset within the part that the body starts at.
    offset: u64,
    body_len: u64,
    /// The request declared the part's length.
    announces_length: bool,
}

/// The client side of one tus upload. See the [module documentation](self) for the call order.
#[derive(Debug)]
pub struct Upload {
    opts: UploadOptions,
    caps: Option<Capabilities>,
    phase: Phase,
    parts: Vec<Part>,
    concatenated: bool,
    /// Bytes of the file that exist so far (grows in deferred-length mode).
    available: u64,
    final_location: Option<String>,
    /// The final upload's POST was sent (in this run or an earlier one).
    final_requested: bool,
    /// The final upload is asked for again on resume, before the parts are checked: a
    /// refusal sends the machine back to the parts (once).
    final_resumed: bool,
    /// URLs still to delete while terminating.
    to_delete: Vec<Url>,
    pending: BTreeMap<RequestId, Pending>,
    next_id: u64,
    events: VecDeque<Event>,
}

impl Upload {
    /// A machine for one file. With `caps` the server is not asked OPTIONS; with `resume`
    /// the uploads it names are checked with HEAD and continued.
    pub fn new(
        opts: UploadOptions,
        caps: Option<Capabilities>,
        resume: Option<&ResumeState>,
    ) -> Result<Self, TusError> {
        let mut upload = Self {
            available: opts.length.unwrap_or(0),
            opts,
            caps: None,
            phase: Phase::Discover,
            parts: Vec::new(),
            concatenated: false,
            final_location: None,
            final_requested: false,
            final_resumed: false,
            to_delete: Vec::new(),
            pending: BTreeMap::new(),
            next_id: 0,
            events: VecDeque::new(),
        };
        match resume {
            Some(state) if upload.state_fits(state) => {
                upload.concatenated = state.concatenated;
                if state.concatenated {
                    upload.final_requested =
                        state.final_requested || state.final_location.is_some();
                    upload.final_location.clone_from(&state.final_location);
                }
                upload.parts = state
                    .parts
                    .iter()
                    .map(|p| Part::restore(p, &upload.opts.endpoint))
                    .collect();
            }
            // Saved for another version of the file: its uploads cannot be continued.
            Some(_) => upload.events.push_back(Event::Restarted {
                part: 0,
                reason: RestartReason::Mismatch,
            }),
            None => {}
        }
        if let Some(caps) = caps {
            upload.start(caps)?;
        }
        Ok(upload)
    }

    /// Whether a saved state describes this file: parts contiguous from 0 to its length.
    fn state_fits(&self, state: &ResumeState) -> bool {
        // A plain upload is one upload on the server: several parts are only ever joined.
        if !state.concatenated && state.parts.len() != 1 {
            return false;
        }
        let mut end = 0;
        for part in &state.parts {
            if part.start != end || part.len.is_none() && state.concatenated {
                return false;
            }
            end += part.len.unwrap_or(0);
        }
        let plain_deferred =
            !state.concatenated && state.parts.len() == 1 && state.parts[0].len.is_none();
        !state.parts.is_empty() && (plain_deferred || Some(end) == self.opts.length)
    }

    /// Checks the upload against what the server offers and plans the parts.
    fn start(&mut self, caps: Capabilities) -> Result<(), TusError> {
        let result = self.plan(&caps);
        self.caps = Some(caps);
        self.phase = match result {
            Err(_) => Phase::Failed,
            Ok(()) if self.concatenated && self.final_location.is_some() => Phase::FinalStatus,
            Ok(()) if self.concatenated && self.final_requested && self.parts_saved_complete() => {
                self.final_resumed = true;
                Phase::Concatenate
            }
            Ok(()) => Phase::Parts,
        };
        result
    }

    /// Whether the saved state says every part was complete.
    fn parts_saved_complete(&self) -> bool {
        self.parts
            .iter()
            .all(|p| p.url.is_some() && p.len.is_some_and(|len| p.offset >= len))
    }

    fn plan(&mut self, caps: &Capabilities) -> Result<(), TusError> {
        if let (Some(length), Some(max)) = (self.opts.length, caps.max_size)
            && length > max
        {
            return Err(TusError::TooLarge {
                length,
                max_size: Some(max),
            });
        }
        if self.opts.length.is_none() && !caps.supports(&Extension::CreationDeferLength) {
            return Err(TusError::Unsupported(
                "the file's size is not known yet and the server does not offer creation-defer-length".into(),
            ));
        }
        if self.parts.is_empty() {
            match self.opts.length {
                Some(length)
                    if self.opts.parallel > 1
                        && length > 1
                        && caps.supports(&Extension::Concatenation) =>
                {
                    self.concatenated = true;
                    self.parts = plan_parts(length, self.opts.parallel)
                        .into_iter()
                        .map(|(start, len)| Part::new(start, Some(len)))
                        .collect();
                }
                length => self.parts = vec![Part::new(0, length)],
            }
        }
        if self.parts.iter().any(|p| p.url.is_none()) && !caps.supports(&Extension::Creation) {
            return Err(TusError::Unsupported(
                "the server does not offer the creation extension, so Ferry cannot start an upload there".into(),
            ));
        }
        Ok(())
    }

    /// The next request to send, if any. Call it until it returns `None` after every
    /// change (construction, a response, a failure, [`Upload::set_length`]).
    #[must_use]
    pub fn poll_request(&mut self, now: SystemTime) -> Option<Request> {
        match self.phase {
            Phase::Discover if self.pending.is_empty() => Some(self.request(
                RequestKind::Discover,
                Method::OPTIONS,
                self.opts.endpoint.clone(),
                0,
                None,
            )),
            Phase::Parts => (0..self.parts.len()).find_map(|index| self.part_request(index, now)),
            Phase::Concatenate if self.pending.is_empty() => Some(self.concatenate_request()),
            Phase::FinalStatus if self.pending.is_empty() => {
                let url = self
                    .final_location
                    .as_deref()
                    .and_then(|l| self.opts.endpoint.join(l).ok())?;
                let mut req = self.request(RequestKind::FinalStatus, Method::HEAD, url, 0, None);
                req.headers
                    .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
                Some(req)
            }
            Phase::Terminating if self.pending.is_empty() => {
                let url = self.to_delete.last()?.clone();
                let mut req = self.request(RequestKind::Terminate, Method::DELETE, url, 0, None);
                req.headers
                    .insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
                Some(req)
            }
            _ => None,
        }
    }

    /// The next thing that happened, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Bytes of the file the server has confirmed, over all parts.
    pub fn confirmed_offset(&self) -> u64 {
        match self.phase {
            Phase::Finished => self
                .opts
                .length
                .or(self.parts.first().and_then(|p| p.len))
                .unwrap_or(0),
            _ => self.parts.iter().map(|p| p.offset).sum(),
        }
    }

    /// The file's length, if known.
    pub fn length(&self) -> Option<u64> {
        self.opts.length
    }

    /// The server's capabilities, once known.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// Whether the upload is complete.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Whether the upload failed for good (after a fatal error).
    pub fn is_failed(&self) -> bool {
        self.phase == Phase::Failed
    }

    /// The most bytes one request carries now: the chosen chunk size, lowered after every
    /// [`Event::ChunkSizeReduced`].
    pub fn chunk_size(&self) -> u64 {
        self.opts.chunk_size
    }

    /// Whether per-chunk checksums are sent (the server lists the chosen algorithm).
    pub fn uses_checksums(&self) -> bool {
        self.checksum_algorithm().is_some()
    }

    /// Whether the file goes up as parallel partial uploads joined at the end.
    pub fn is_concatenated(&self) -> bool {
        self.concatenated
    }

    /// The URL of the complete upload, once finished.
    pub fn location(&self) -> Option<&str> {
        self.final_location.as_deref()
    }

    /// What a journal should keep to resume this upload later.
    pub fn state(&self) -> ResumeState {
        ResumeState {
            parts: self.parts.iter().map(Part::snapshot).collect(),
            concatenated: self.concatenated,
            final_requested: self.concatenated && self.final_requested,
            final_location: self.final_location.clone().filter(|_| self.concatenated),
        }
    }

    /// In deferred-length mode: the file now has `available` bytes that may be sent.
    pub fn set_available(&mut self, available: u64) {
        if self.opts.length.is_none() {
            self.available = self.available.max(available);
        }
    }

    /// In deferred-length mode: the file is complete with `length` bytes. The next PATCH
    /// tells the server.
    pub fn set_length(&mut self, length: u64) {
        if self.opts.length.is_none() && !self.concatenated {
            self.opts.length = Some(length);
            self.available = length;
            if let Some(part) = self.parts.first_mut() {
                part.len = Some(length);
            }
        }
    }

    /// Abandons the upload: from now on the machine asks the server to delete what it
    /// created (when it offers termination) and ends with [`Event::Terminated`]. Answers to
    /// requests already in flight are ignored.
    pub fn terminate(&mut self) {
        if matches!(self.phase, Phase::Terminating | Phase::Terminated) {
            return;
        }
        let can_delete = self
            .caps
            .as_ref()
            .is_some_and(|c| c.supports(&Extension::Termination));
        self.pending.clear();
        self.to_delete = if can_delete {
            let final_url = self
                .final_location
                .as_deref()
                .and_then(|l| self.opts.endpoint.join(l).ok());
            self.parts
                .iter()
                .filter_map(|p| p.url.clone())
                .chain(final_url)
                .collect()
        } else {
            Vec::new()
        };
        if self.to_delete.is_empty() {
            self.phase = Phase::Terminated;
            self.events.push_back(Event::Terminated { deleted: false });
        } else {
            self.phase = Phase::Terminating;
        }
    }

    fn restart_part(&mut self, index: usize, reason: RestartReason) {
        self.parts[index].reset();
        self.events.push_back(Event::Restarted {
            part: index,
            reason,
        });
        self.progress();
    }

    fn progress(&mut self) {
        let confirmed = self.confirmed_offset();
        self.events.push_back(Event::Progress { confirmed });
    }
}
