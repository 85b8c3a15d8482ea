//! GalileoSend over tokio-tungstenite: a thin async driver of ferry-proto's
//! [`Client`](ferry_proto::galileo::Client) machine, with reconnects and resume.
//!
//! [`send`] uploads one file, one WebSocket per attempt. It asks for Ferry's resume
//! extension every time; a server that has it names the upload in its first ready and says
//! how many bytes it holds, and every later attempt continues from there with that id. An
//! old server (the 2013 Perl receiver, say) ignores the extension's keys, and then every
//! attempt starts from byte 0, as the original protocol does.
//!
//! Which error resumes, which starts over and which is fatal is the machine's decision
//! ([`GalileoError::recovery`]); this module only counts attempts, waits between them and
//! reports. It knows nothing of the journal: the caller records what `on_confirmed` hands it.
//!
//! # Layout
//! - this file: the attempts loop, and the saved [`ResumeState`] of a GalileoSend upload;
//! - [`connect`]: opening the WebSocket, and what a refused upgrade means.
//! - [`session`]: one connection: connecting, moving frames between the socket and the
//!   machine, reading chunks from the file.

mod connect;
mod session;

use ferry_proto::galileo::{GalileoError, Recovery};
use ferry_proto::tus::client::PartState;

use super::{ResumeState, Transfer, Transferred};
use crate::error::EngineError;
use crate::events::Event;
use crate::target::GalileoTarget;
use session::{Failure, Session};

/// The saved state of a GalileoSend upload: one part spanning the file, located by the
/// upload id, with the bytes the server confirmed.
pub fn resume_state(upload: &str, size: u64, confirmed: u64) -> ResumeState {
    ResumeState {
        parts: vec![PartState {
            start: 0,
            len: Some(size),
            location: Some(upload.to_owned()),
            offset: confirmed,
            expires_at: None,
        }],
        concatenated: false,
        final_requested: false,
        final_location: None,
    }
}

/// The upload id in a saved state, if the state is a GalileoSend one for a file of `size`
/// bytes (anything else, a tus concatenation say, is not resumable here and is ignored).
pub fn saved_upload(state: &ResumeState, size: u64) -> Option<&str> {
    match state.parts.as_slice() {
        [part] if !state.concatenated && part.start == 0 && part.len == Some(size) => {
            part.location.as_deref().filter(|id| !id.is_empty())
        }
        _ => None,
    }
}

/// Uploads `transfer` to the GalileoSend endpoint `target`, continuing the upload in
/// `resume` (a state an earlier call handed to `on_confirmed`) when the server still has it.
///
/// `on_confirmed` is called with the state to save whenever the server names the upload
/// (its first ready) and whenever it confirms more bytes, always before more bytes are
/// sent. It is not called for a server without the resume extension: there is nothing to
/// resume with. Events: [`Event::Started`] once, [`Event::Progress`] per confirmation,
/// [`Event::Retrying`] before each new attempt and [`Event::Warning`] for the server's
/// non-fatal errors; the caller reports the end.
///
/// Errors: [`EngineError::Unauthorized`] (the server refused the token at the upgrade, not
/// retried), [`EngineError::FileChanged`] (the file changed; nothing was finished with
/// mixed bytes; the caller starts a new upload with the new content and forgets `resume`),
/// [`EngineError::Galileo`] (the server refused in a way retrying cannot fix),
/// [`EngineError::GaveUp`] (`transfer.options.retry.max_attempts` failed attempts in a row without
/// the server confirming a byte beyond the most it ever had, or a second fresh start), [`EngineError::File`] (the file cannot be read).
#[tracing::instrument(skip_all, fields(path = %transfer.remote_path, server = %target.url), err)]
pub async fn send(
    target: &GalileoTarget,
    transfer: &Transfer,
    resume: Option<&ResumeState>,
    on_confirmed: &mut super::OnConfirmed<'_>,
) -> Result<Transferred, EngineError> {
    let size = transfer.file.facts.size;
    let mut run = Run {
        target,
        transfer,
        on_confirmed,
        upload: resume
            .and_then(|state| saved_upload(state, size))
            .map(str::to_owned),
        started: false,
        bytes_sent: 0,
        best_confirmed: 0,
        frame_cap: None,
        shrinks: 0,
    };
    let mut failures = 0u32;
    let mut started_over = false;
    loop {
        let (progressed, failure) = match Session::run(&mut run).await {
            Ok(()) => {
                return Ok(Transferred {
                    server_checked_sha1: run.upload.is_some(),
                    location: run.upload,
                    bytes_sent: run.bytes_sent,
                    checksummed: false,
                });
            }
            Err((progressed, failure)) => (progressed, failure),
        };
        failures = if progressed { 0 } else { failures };
        let Failure { error, recovery } = failure;
        if let Recovery::SmallerFrames { max_frame } = recovery {
            // Not a failure to count: the machine's halving ends within its own bound.
            run.smaller_frames(max_frame, error)?;
            continue;
        }
        failures += 1;
        if error.is_server_full() {
            // Waiting for space is for minutes, not seconds: the caller decides when.
            return Err(error);
        }
        match recovery {
            Recovery::Fatal => return Err(error),
            Recovery::SmallerFrames { .. } => unreachable!("handled above"),
            Recovery::StartOver if started_over => {
                return Err(EngineError::GaveUp {
                    attempts: failures,
                    last: Box::new(error),
                });
            }
            Recovery::StartOver => {
                // hash_mismatch usually means the file changed while it was read.
                transfer.file.check_unchanged_async().await?;
                tracing::info!(error = %error, "GalileoSend upload starts over from byte 0");
                started_over = true;
                run.upload = None;
                run.emit(Event::Retrying {
                    path: run.path(),
                    attempt: failures,
                    delay_ms: 0,
                    error: error.to_string(),
                    unreachable: false,
                    server_full: false,
                });
            }
            Recovery::Retry => {
                if transfer.options.retry.exhausted(failures) {
                    return Err(EngineError::GaveUp {
                        attempts: failures,
                        last: Box::new(error),
                    });
                }
                let delay = transfer.options.retry.next_delay(failures);
                tracing::debug!(error = %error, ?delay, "GalileoSend attempt failed; retrying");
                run.emit(Event::Retrying {
                    path: run.path(),
                    attempt: failures,
                    delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    error: error.to_string(),
                    unreachable: error.is_unreachable(),
                    server_full: false,
                });
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// What lasts across the attempts of one [`send`].
struct Run<'a> {
    target: &'a GalileoTarget,
    transfer: &'a Transfer,
    on_confirmed: &'a mut crate::transport::OnConfirmed<'a>,
    /// The upload id to resume with (from the saved state, then from the server).
    upload: Option<String>,
    /// Whether [`Event::Started`] went out.
    started: bool,
    /// Binary payload bytes put on the wire.
    bytes_sent: u64,
    /// The most the server ever confirmed (or offered to resume from) in this run. Only
    /// confirming more counts as progress: a server that confirms a chunk, drops the
    /// connection and starts again from 0 every time would otherwise be retried forever
    /// (pinned by the test `galileo_a_server_that_keeps_forgetting_what_it_confirmed_is_given_up`).
    best_confirmed: u64,
    /// The largest frame the server is known to take, after it refused a larger one.
    frame_cap: Option<u64>,
    /// How often the frames became smaller in this run.
    shrinks: u32,
}

/// More refusals than the machine's halving can produce (it stops after 8): a bug guard.
const MAX_SHRINKS: u32 = 10;

impl Run<'_> {
    fn emit(&self, event: Event) {
        (self.transfer.events)(event);
    }

    fn path(&self) -> String {
        self.transfer.file.path.display().to_string()
    }

    fn server(&self) -> String {
        self.target.url.to_string()
    }

    /// The server refused a frame as too large: the next session sends frames of at most
    /// `max_frame` bytes, the caller remembers the size for this server, and the user is
    /// told. `error` is what to report if the refusals do not end.
    fn smaller_frames(&mut self, max_frame: u64, error: EngineError) -> Result<(), EngineError> {
        self.shrinks += 1;
        let max_frame = self.frame_cap.map_or(max_frame, |cap| cap.min(max_frame));
        if self.shrinks > MAX_SHRINKS {
            return Err(EngineError::GaveUp {
                attempts: self.shrinks,
                last: Box::new(error),
            });
        }
        self.frame_cap = Some(max_frame);
        tracing::info!(max_frame, "the server refused a frame as too large");
        self.transfer
            .reduced_chunk
            .store(max_frame, std::sync::atomic::Ordering::Relaxed);
        self.emit(Event::Warning {
            message: format!(
                "{}: the server refused a frame as too large; sending frames of at most {}",
                self.server(),
                crate::transport::tus::human_bytes(max_frame)
            ),
        });
        self.emit(Event::Retrying {
            path: self.path(),
            attempt: self.shrinks,
            delay_ms: 0,
            error: error.to_string(),
            unreachable: false,
            server_full: false,
        });
        Ok(())
    }

    fn galileo_error(&self, err: GalileoError) -> EngineError {
        if matches!(&err, GalileoError::Rejected { signal, .. }
            if signal.code == Some(ferry_proto::galileo::ErrorCode::DiskFull))
        {
            return EngineError::ServerFull {
                path: self.transfer.file.path.clone(),
                server: self.server(),
            };
        }
        EngineError::Galileo {
            path: self.transfer.file.path.clone(),
            server: self.server(),
            source: Box::new(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_state_round_trips_and_foreign_states_are_ignored() {
        let state = resume_state("up-1", 10, 4);
        assert_eq!(saved_upload(&state, 10), Some("up-1"));
        assert_eq!(saved_upload(&state, 11), None, "a state of another size");
        let mut tus = state.clone();
        tus.concatenated = true;
        assert_eq!(saved_upload(&tus, 10), None, "a tus concatenation");
        let mut two = state.clone();
        two.parts.push(two.parts[0].clone());
        assert_eq!(saved_upload(&two, 10), None);
    }
}
