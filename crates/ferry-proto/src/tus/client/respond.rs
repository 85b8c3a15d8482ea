//! How the client machine takes in answers: status checks per request, offset validation,
//! and the recovery state each error leaves behind. Knows nothing of sockets.

use http::StatusCode;
use http::header::LOCATION;

use super::part::Stage;
use super::{Event, Pending, Phase, RestartReason, Upload};
use crate::tus::capabilities::Capabilities;
use crate::tus::error::{Recovery, TusError};
use crate::tus::headers::{
    HeaderError, UPLOAD_DEFER_LENGTH, UPLOAD_LENGTH, UPLOAD_OFFSET, header_expires, header_str,
    header_u64,
};
use crate::tus::message::{RequestId, RequestKind, Response};

/// The tus status for a checksum mismatch (some servers, rustus among them, use 417).
const CHECKSUM_MISMATCH: u16 = 460;

impl Upload {
    /// Takes in the answer to request `id`. On `Err` the machine has already moved to the
    /// state its [`Recovery`] names; poll again after a pause if the error is retryable.
    pub fn handle_response(&mut self, id: RequestId, response: &Response) -> Result<(), TusError> {
        let Some(pending) = self.pending.remove(&id) else {
            return if matches!(
                self.phase,
                Phase::Terminating | Phase::Terminated | Phase::Failed
            ) {
                Ok(()) // A late answer to a request the machine has given up on.
            } else {
                Err(TusError::UnknownRequest(id))
            };
        };
        if let Some(part) = self.parts.get_mut(pending.part) {
            part.busy = false;
        }
        let result = match refusal(pending.kind, response) {
            Some(err) => Err(err),
            None if response.status == StatusCode::PAYLOAD_TOO_LARGE => {
                self.on_too_large(&pending, response)
            }
            None => match pending.kind {
                RequestKind::Discover => self.on_discover(response),
                RequestKind::Create => self.on_create(&pending, response),
                RequestKind::Status => self.on_status(&pending, response),
                RequestKind::Append => self.on_append(&pending, response),
                RequestKind::Concatenate => self.on_concatenate(response),
                RequestKind::FinalStatus => self.on_final_status(response),
                RequestKind::Terminate => self.on_terminate(response),
            },
        };
        if let Err(err) = &result {
            self.recover(&pending, err);
        }
        self.advance();
        result
    }

    /// Reports that request `id` got no usable answer (connection lost, timeout, a
    /// truncated or unparsable reply). The machine asks the server where it stands before
    /// sending more; the driver should pause before polling again.
    pub fn handle_failure(&mut self, id: RequestId) {
        if let Some(pending) = self.pending.remove(&id) {
            if let Some(part) = self.parts.get_mut(pending.part) {
                part.busy = false;
            }
            self.recover_stage(&pending, Recovery::Retry);
        }
    }

    fn on_discover(&mut self, response: &Response) -> Result<(), TusError> {
        if !response.status.is_success() {
            return Err(unexpected(RequestKind::Discover, response));
        }
        let caps = Capabilities::from_headers(&response.headers)?;
        self.events.push_back(Event::Discovered(caps.clone()));
        self.start(caps)
    }

    fn on_create(&mut self, pending: &Pending, response: &Response) -> Result<(), TusError> {
        let kind = RequestKind::Create;
        if !response.status.is_success() {
            return Err(unexpected(kind, response));
        }
        let location = location_header(kind, response)?;
        let url = self
            .opts
            .endpoint
            .join(&location)
            .map_err(|_| TusError::BadLocation {
                location: location.clone(),
            })?;
        let expires = header_expires(&response.headers).ok().flatten();
        let offset = offset_header(kind, response)?;
        let part = &mut self.parts[pending.part];
        part.url = Some(url);
        part.location = Some(location.clone());
        part.offset = 0;
        part.expires = expires;
        part.length_announced = pending.announces_length;
        self.events.push_back(Event::Created {
            part: pending.part,
            location,
        });
        match offset {
            Some(reported) if reported <= pending.body_len => {
                self.parts[pending.part].offset = reported;
                self.parts[pending.part].settle();
            }
            Some(reported) => {
                return Err(TusError::OffsetOutOfRange {
                    request: kind,
                    reported,
                    min: 0,
                    max: pending.body_len,
                });
            }
            // Bytes went with the POST but the server did not say how many it kept.
            None if pending.body_len > 0 => self.parts[pending.part].stage = Stage::Sync,
            None => self.parts[pending.part].settle(),
        }
        self.progress();
        Ok(())
    }

    fn on_status(&mut self, pending: &Pending, response: &Response) -> Result<(), TusError> {
        let kind = RequestKind::Status;
        if is_gone(response.status) || response.status == StatusCode::FORBIDDEN {
            self.restart_part(pending.part, RestartReason::Gone);
            return Ok(());
        }
        if !response.status.is_success() {
            return Err(unexpected(kind, response));
        }
        let (reported, server_len) = head_offsets(kind, response)?;
        let deferred = header_str(&response.headers, &UPLOAD_DEFER_LENGTH)
            .ok()
            .flatten()
            == Some("1");
        let local_len = self.parts[pending.part].len;
        if let (Some(local), Some(server)) = (local_len, server_len)
            && local != server
        {
            return Err(TusError::LengthMismatch { local, server });
        }
        let limit = server_len.or(local_len);
        if let Some(length) = limit.filter(|&l| reported > l) {
            return Err(TusError::OffsetBeyondLength { reported, length });
        }
        let part = &mut self.parts[pending.part];
        part.length_announced = server_len.is_some() || (local_len.is_some() && !deferred);
        if let Ok(Some(expires)) = header_expires(&response.headers) {
            part.expires = Some(expires);
        }
        let confirmed = part.offset;
        part.offset = reported;
        part.settle();
        self.progress();
        if reported < confirmed {
            return Err(TusError::OffsetWentBackwards {
                confirmed,
                reported,
            });
        }
        Ok(())
    }

    fn on_append(&mut self, pending: &Pending, response: &Response) -> Result<(), TusError> {
        let kind = RequestKind::Append;
        let status = response.status;
        if is_gone(status) {
            self.restart_part(pending.part, RestartReason::Gone);
            return Ok(());
        }
        if status == StatusCode::CONFLICT {
            return Err(TusError::OffsetConflict {
                offset: pending.offset,
            });
        }
        if status.as_u16() == CHECKSUM_MISMATCH || status == StatusCode::EXPECTATION_FAILED {
            let part = &self.parts[pending.part];
            let completes = !self.concatenated
                && part.len == Some(pending.offset.saturating_add(pending.body_len));
            return Err(TusError::ChecksumMismatch {
                offset: pending.offset,
                status,
                completes,
            });
        }
        if !status.is_success() {
            return Err(unexpected(kind, response));
        }
        let reported = offset_header(kind, response)?.ok_or(TusError::MissingHeader {
            request: kind,
            header: "Upload-Offset",
        })?;
        let (min, max) = (pending.offset, pending.offset + pending.body_len);
        if reported == min && pending.body_len > 0 {
            return Err(TusError::NoProgress {
                offset: reported,
                sent: pending.body_len,
            });
        }
        if !(min..=max).contains(&reported) {
            return Err(TusError::OffsetOutOfRange {
                request: kind,
                reported,
                min,
                max,
            });
        }
        let part = &mut self.parts[pending.part];
        part.offset = reported;
        part.length_announced |= pending.announces_length;
        if let Ok(Some(expires)) = header_expires(&response.headers) {
            part.expires = Some(expires);
        }
        part.settle();
        self.progress();
        Ok(())
    }

    fn on_concatenate(&mut self, response: &Response) -> Result<(), TusError> {
        let kind = RequestKind::Concatenate;
        if !response.status.is_success() {
            if std::mem::take(&mut self.final_resumed) && response.status.is_client_error() {
                // Asked again on resume and refused (the server no longer knows a partial
                // upload, say): the parts are checked one by one, as in a fresh run.
                self.back_to_parts();
                return Ok(());
            }
            return Err(unexpected(kind, response));
        }
        self.final_resumed = false;
        self.final_location = Some(location_header(kind, response)?);
        let length = self.opts.length.unwrap_or(0);
        let offset = offset_header(kind, response).ok().flatten();
        let server_len = header_u64(&response.headers, &UPLOAD_LENGTH).ok().flatten();
        match (offset, server_len) {
            // The server said how far the final got: trust a complete one at once, check an
            // unfinished one with HEAD.
            (Some(offset), len) if offset == length && len.is_none_or(|l| l == length) => {
                self.finish();
            }
            (Some(_), _) => self.phase = Phase::FinalStatus,
            // A server that says nothing creates the final complete (tus: the final upload
            // is complete once all its partial uploads are).
            (None, _) => self.finish(),
        }
        Ok(())
    }

    fn on_final_status(&mut self, response: &Response) -> Result<(), TusError> {
        let kind = RequestKind::FinalStatus;
        if is_gone(response.status) || response.status == StatusCode::FORBIDDEN {
            // The final upload made earlier is gone: the parts decide what comes next.
            self.final_location = None;
            self.final_requested = false;
            self.back_to_parts();
            return Ok(());
        }
        if !response.status.is_success() {
            return Err(unexpected(kind, response));
        }
        // An unfinished final has no `Upload-Offset` (tus concatenation): not complete yet.
        let reported = offset_header(kind, response)?.unwrap_or(0);
        let server_len = header_u64(&response.headers, &UPLOAD_LENGTH).map_err(|source| {
            TusError::BadHeader {
                request: kind,
                source,
            }
        })?;
        let length = self.opts.length.unwrap_or(0);
        match server_len {
            Some(server) if server != length => {
                // Not a final of this file: forget it and join the parts again.
                self.final_location = None;
                self.final_requested = false;
                self.back_to_parts();
                Err(TusError::LengthMismatch {
                    local: length,
                    server,
                })
            }
            // Complete (a server that leaves out a known length is taken at its offset).
            _ if reported == length && length > 0 => {
                self.finish();
                Ok(())
            }
            _ if self
                .parts
                .iter()
                .all(|p| p.stage == super::part::Stage::Done) =>
            {
                // Every part is complete and the final is not: ask for it again (a server
                // answers a repeated request with the same final, and finishes joining it).
                self.phase = Phase::Concatenate;
                Err(TusError::FinalIncomplete { reported, length })
            }
            _ => {
                // Some part is not known to be complete: check them, then the final again.
                self.phase = Phase::Parts;
                Ok(())
            }
        }
    }

    /// Leaves the final upload for the parts: each is checked with HEAD (an uploaded part is
    /// not sent again), then joined.
    fn back_to_parts(&mut self) {
        self.phase = Phase::Parts;
        for part in &mut self.parts {
            if part.url.is_some() {
                part.stage = Stage::Sync;
            } else {
                part.stage = Stage::Create;
            }
        }
        self.progress();
    }

    fn on_terminate(&mut self, response: &Response) -> Result<(), TusError> {
        if !(response.status.is_success() || is_gone(response.status)) {
            return Err(unexpected(RequestKind::Terminate, response));
        }
        self.to_delete.pop();
        if self.to_delete.is_empty() {
            self.phase = Phase::Terminated;
            self.events.push_back(Event::Terminated { deleted: true });
        }
        Ok(())
    }

    /// Puts the machine where `err` says it should continue from.
    fn recover(&mut self, pending: &Pending, err: &TusError) {
        if matches!(
            pending.kind,
            RequestKind::FinalStatus | RequestKind::Concatenate
        ) {
            // The final upload's requests decide their own next phase; only a fatal answer
            // ends the machine.
            if err.recovery() == Recovery::Fatal {
                self.phase = Phase::Failed;
            }
            return;
        }
        match err.recovery() {
            Recovery::Fatal => {
                // A refused DELETE leaves nothing to undo: the upload is abandoned anyway.
                if pending.kind == RequestKind::Terminate {
                    self.to_delete.clear();
                    self.phase = Phase::Terminated;
                    self.events.push_back(Event::Terminated { deleted: false });
                } else {
                    self.phase = Phase::Failed;
                }
            }
            Recovery::StartOver => self.restart_part(pending.part, RestartReason::Mismatch),
            recovery => self.recover_stage(pending, recovery),
        }
    }

    fn recover_stage(&mut self, pending: &Pending, recovery: Recovery) {
        if !matches!(
            pending.kind,
            RequestKind::Create | RequestKind::Status | RequestKind::Append
        ) {
            return; // Discovery, concatenation and termination simply repeat.
        }
        let Some(part) = self.parts.get_mut(pending.part) else {
            return;
        };
        part.stage = match (pending.kind, recovery) {
            // A lost POST may or may not have created an upload; a new one is the safe bet.
            (RequestKind::Create, _) if part.url.is_none() => Stage::Create,
            _ => Stage::Sync,
        };
    }

    /// After every answer: moves on from the parts to the final upload or to the end.
    fn advance(&mut self) {
        let all_done = self.parts.iter().all(|p| p.stage == Stage::Done);
        if self.phase == Phase::Parts && all_done && self.pending.is_empty() {
            if self.concatenated && self.final_location.is_some() {
                self.phase = Phase::FinalStatus;
            } else if self.concatenated {
                self.phase = Phase::Concatenate;
            } else {
                self.final_location = self.parts[0].location.clone();
                self.finish();
            }
        }
    }

    fn finish(&mut self) {
        self.phase = Phase::Finished;
        self.progress();
        let location = self.final_location.clone().unwrap_or_default();
        self.events.push_back(Event::Finished { location });
    }
}

fn is_gone(status: StatusCode) -> bool {
    status == StatusCode::NOT_FOUND || status == StatusCode::GONE
}

/// `Location` of an answer that created an upload; it must be there and not empty.
fn location_header(request: RequestKind, response: &Response) -> Result<String, TusError> {
    header_str(&response.headers, &LOCATION)
        .map_err(|source| TusError::BadHeader { request, source })?
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .ok_or(TusError::MissingHeader {
            request,
            header: "Location",
        })
}

/// A HEAD answer's `Upload-Offset` (required) and `Upload-Length` (if the server knows it).
fn head_offsets(request: RequestKind, response: &Response) -> Result<(u64, Option<u64>), TusError> {
    let offset = offset_header(request, response)?.ok_or(TusError::MissingHeader {
        request,
        header: "Upload-Offset",
    })?;
    let length = header_u64(&response.headers, &UPLOAD_LENGTH)
        .map_err(|source| TusError::BadHeader { request, source })?;
    Ok((offset, length))
}

/// `Upload-Offset` of an answer, if present and well-formed.
fn offset_header(request: RequestKind, response: &Response) -> Result<Option<u64>, TusError> {
    header_u64(&response.headers, &UPLOAD_OFFSET)
        .map_err(|source: HeaderError| TusError::BadHeader { request, source })
}

/// The answers that mean the same whatever the request: sign-in, version, overload, a full
/// disk. (A 413 depends on the request: `limits.rs`.)
fn refusal(request: RequestKind, response: &Response) -> Option<TusError> {
    let status = response.status;
    let message = response.message();
    match status {
        StatusCode::UNAUTHORIZED => Some(TusError::Unauthorized { request }),
        StatusCode::PRECONDITION_FAILED => Some(TusError::Unsupported(format!(
            "it refuses tus 1.0.0 (412 to {request}){}",
            message.map(|m| format!(": {m}")).unwrap_or_default()
        ))),
        StatusCode::INSUFFICIENT_STORAGE => Some(TusError::ServerFull { request, message }),
        StatusCode::FORBIDDEN
            if !matches!(request, RequestKind::Status | RequestKind::FinalStatus) =>
        {
            Some(TusError::Forbidden { request, message })
        }
        StatusCode::LOCKED | StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
            Some(TusError::ServerUnavailable {
                request,
                status,
                message,
            })
        }
        s if s.is_server_error() => Some(TusError::ServerUnavailable {
            request,
            status,
            message,
        }),
        _ => None,
    }
}

fn unexpected(request: RequestKind, response: &Response) -> TusError {
    TusError::UnexpectedStatus {
        request,
        status: response.status,
        message: response.message(),
    }
}
