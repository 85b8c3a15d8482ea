//! tus 1.0.0 over reqwest: a thin async driver of [`ferry_proto::tus::Upload`].
//!
//! The machine decides every protocol step (which request, which range, how to recover);
//! this driver sends what it asks for ([`wire`]: bodies hashed, then streamed from the file),
//! hands back the answers, reports every confirmation to the caller before sending more,
//! and decides only *when* to try again (backoff, giving up). Several requests are in
//! flight at once only when the machine concatenates parallel partial uploads.
//!
//! A file that changes during its upload is never finished with mixed bytes: the upload is
//! terminated (DELETE, best effort) and [`EngineError::FileChanged`] returned, so the caller
//! starts again with the new content.

mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::tus::client::RestartReason;
use ferry_proto::tus::{Event as TusEvent, Metadata, RequestKind, TusError, Upload, UploadOptions};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt as _, StreamExt as _};
use tokio::time::Instant;

use self::wire::{Outcome, Wire};
use super::gauge::{Gauge, SENT_EVERY};
use super::{ResumeState, Transfer, Transferred};
use crate::error::EngineError;
use crate::events::Event;
use crate::target::TusTarget;

/// An HTTP client for uploads: a connection attempt fails after `timeout`, TCP keepalive
/// probes idle connections, and there is no total timeout (a large chunk on a slow link may
/// take long). A link that goes quiet mid-request (a laptop that slept) is noticed by
/// [`send`] itself within [`Transfer::timeout`].
///
/// No `read_timeout` on purpose: in reqwest 0.12 it is, until an answer's headers arrive,
/// one deadline counted from the start of the request, so every chunk that takes longer
/// than the timeout to send (slow link, rate limit) would fail, again and again
/// (pinned by the test `a_chunk_slower_than_the_timeout_is_not_a_dead_link`).
///
/// # Panics
/// If the TLS backend cannot be set up, which only a broken build can cause.
pub fn http_client(timeout: Duration, trust: &crate::tls::Trust) -> reqwest::Client {
    super::dns::client_builder(trust)
        .connect_timeout(timeout)
        .tcp_keepalive(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .expect("the HTTP client builds with rustls")
}

/// Uploads `transfer` to `target` over tus, continuing from `resume` (a state that
/// `on_confirmed` reported earlier) when given.
///
/// `on_confirmed` receives the machine's state after every confirmation by the server
/// (creation, a larger or smaller offset, a restart), before anything further is sent:
/// the journal stores it and hands it back as `resume` next time. Retryable failures are
/// retried after [`crate::retry::RetryPolicy`] pauses (each reported as
/// [`Event::Retrying`]), always from the offset the server states; after `max_attempts`
/// failures in a row without progress the result is [`EngineError::GaveUp`].
#[tracing::instrument(skip_all, fields(path = %transfer.file.path.display(), endpoint = %target.endpoint), err)]
pub async fn send(
    http: &reqwest::Client,
    target: &TusTarget,
    transfer: &Transfer,
    resume: Option<&ResumeState>,
    on_confirmed: &mut super::OnConfirmed<'_>,
) -> Result<Transferred, EngineError> {
    let server = target.endpoint.origin().ascii_serialization();
    let sent = Arc::new(AtomicU64::new(0));
    let mut driver = Driver {
        transfer,
        path: transfer.file.path.display().to_string(),
        server,
        failures: 0,
        counted: 0,
        best_confirmed: 0,
        lost_upload: false,
        refused_file: false,
        pause_until: None,
        gauge: Gauge::new(0, transfer.file.facts.size),
        sent: Arc::clone(&sent),
    };
    let options = driver.options(target)?;
    let mut upload =
        Upload::new(options, Some(target.caps.clone()), resume).map_err(|e| driver.tus_error(e))?;
    driver.best_confirmed = upload.confirmed_offset();
    driver.gauge = Gauge::new(upload.confirmed_offset(), transfer.file.facts.size);
    (transfer.events)(Event::Started {
        path: driver.path.clone(),
        protocol: crate::target::Protocol::Tus,
        size: transfer.file.facts.size,
        resumed_from: upload.confirmed_offset(),
    });
    let wire = Wire {
        http,
        file: &transfer.file,
        token: transfer.token.as_ref(),
        origin: crate::origin::TokenOrigin::of(&target.endpoint),
        limit: &transfer.limit,
        timeout: transfer.options.timeout,
        sent: Arc::clone(&sent),
    };
    let location = driver.run(&mut upload, &wire, on_confirmed).await?;
    Ok(Transferred {
        location: location.map(|l| target.endpoint.join(&l).map_or(l, |url| url.to_string())),
        bytes_sent: sent.load(Ordering::Relaxed),
        checksummed: upload.uses_checksums(),
        server_checked_sha1: false,
    })
}

/// Deletes tus uploads that will not be continued (the partial uploads of a replaced
/// upload, say), best effort: one DELETE each, failures only logged. Only uploads on the
/// endpoint's own origin are touched, so the token goes nowhere else.
pub async fn terminate(
    http: &reqwest::Client,
    endpoint: &url::Url,
    token: Option<&crate::secret::Token>,
    locations: &[String],
) {
    for location in locations {
        let Ok(url) = endpoint.join(location) else {
            continue;
        };
        if url.origin() != endpoint.origin() {
            continue;
        }
        let mut request = http
            .delete(url.as_str())
            .header("Tus-Resumable", ferry_proto::tus::headers::TUS_VERSION)
            .timeout(Duration::from_secs(10));
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        match request.send().await {
            Ok(reply) => tracing::debug!(status = %reply.status(), "deleted a stale tus upload"),
            Err(err) => tracing::debug!(error = %err, "could not delete a stale tus upload"),
        }
    }
}

/// The driver's own state: what it needs to decide when to try again.
struct Driver<'a> {
    transfer: &'a Transfer,
    path: String,
    server: String,
    /// Failed attempts in a row without progress.
    failures: u32,
    /// Failures counted so far in this run (never reset): a request sent before the last
    /// counted failure that fails too was in flight during the same trouble (one outage
    /// fails every part's request at once) and is not counted again.
    counted: u64,
    /// The most the server ever confirmed in this run (a restart does not lower it); only
    /// going past it resets `failures`. A server that loses bytes and takes them again,
    /// over and over, makes no progress (pinned by the test
    /// `tus_an_offset_that_goes_backwards_is_refused_and_retries_end`).
    best_confirmed: u64,
    /// The server answered that it no longer knows the upload (404, 410): the machine
    /// starts over, and the driver counts it as a failed attempt, so a server that keeps
    /// losing uploads is given up on (pinned by the test
    /// `tus_a_server_that_keeps_losing_the_upload_is_given_up`).
    lost_upload: bool,
    /// The server refused the complete file once in this run although the file still has
    /// the sha1 announced: a second refusal ends the upload ([`Driver::file_refused`]).
    refused_file: bool,
    /// No new request before this (backoff after a failure).
    pause_until: Option<Instant>,
    /// How far the bytes got between confirmations ([`Event::Sent`]).
    gauge: Gauge,
    /// Body bytes handed to the network in this run (the wire counts them).
    sent: Arc<AtomicU64>,
}

/// Until the backoff ends (never without one).
async fn backoff(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until).await,
        None => std::future::pending().await,
    }
}

/// How the event loop goes on after the machine's events were taken in.
enum Next {
    Continue,
    Finished(Option<String>),
    Terminated,
}

impl Driver<'_> {
    fn tus_error(&self, err: TusError) -> EngineError {
        match err {
            TusError::Unauthorized { .. } => EngineError::Unauthorized {
                server: self.server.clone(),
            },
            TusError::ServerFull { .. } => EngineError::ServerFull {
                path: self.transfer.file.path.clone(),
                server: self.server.clone(),
            },
            other => EngineError::Tus {
                path: self.transfer.file.path.clone(),
                server: self.server.clone(),
                source: Box::new(other),
            },
        }
    }

    /// The machine's options for this file.
    fn options(&self, target: &TusTarget) -> Result<UploadOptions, EngineError> {
        let transfer = self.transfer;
        let mut options =
            UploadOptions::new(target.endpoint.clone(), Some(transfer.file.facts.size));
        let filename = transfer
            .remote_path
            .rsplit('/')
            .next()
            .unwrap_or(&transfer.remote_path);
        let mtime = transfer
            .file
            .facts
            .mtime_ns
            .div_euclid(1_000_000_000)
            .max(0);
        let mut metadata = Metadata::new();
        metadata
            .insert("filename", filename)
            .and_then(|m| m.insert("relativePath", &transfer.remote_path))
            .and_then(|m| m.insert("sha1", transfer.sha1.to_hex()))
            .and_then(|m| m.insert("mtime", mtime.to_string()))
            .map_err(|e| EngineError::Bug(format!("the tus metadata of the upload: {e}")))?;
        options.metadata = metadata;
        options.chunk_size = transfer.chunk_size.max(1);
        options.checksum = transfer
            .options
            .chunk_checksums
            .then_some(ChecksumAlgorithm::Sha1);
        options.creation_with_upload = true;
        options.parallel = transfer.options.parallel.max(1);
        Ok(options)
    }

    /// Takes in the machine's events: journal first, then the outside world.
    async fn take_events(
        &mut self,
        upload: &mut Upload,
        on_confirmed: &mut super::OnConfirmed<'_>,
    ) -> Result<Next, EngineError> {
        let mut next = Next::Continue;
        while let Some(event) = upload.poll_event() {
            match event {
                TusEvent::Created { .. } => on_confirmed(&upload.state()).await?,
                TusEvent::Restarted { reason, .. } => {
                    on_confirmed(&upload.state()).await?;
                    self.gauge
                        .lost_in_flight(self.sent(), upload.confirmed_offset());
                    self.lost_upload |= reason == RestartReason::Gone;
                }
                TusEvent::Progress { confirmed } => {
                    on_confirmed(&upload.state()).await?;
                    if confirmed > self.best_confirmed {
                        self.failures = 0;
                        self.best_confirmed = confirmed;
                    }
                    (self.transfer.events)(Event::Progress {
                        path: self.path.clone(),
                        confirmed,
                        size: self.transfer.file.facts.size,
                    });
                }
                TusEvent::Finished { location } => {
                    if upload.is_concatenated() {
                        // The final's location, kept while the upload is verified: a run
                        // after a crash checks this final instead of making another.
                        on_confirmed(&upload.state()).await?;
                    }
                    next = Next::Finished(Some(location).filter(|l| !l.is_empty()));
                }
                TusEvent::Terminated { .. } => next = Next::Terminated,
                TusEvent::ChunkSizeReduced { from, to } => self.chunk_reduced(from, to),
                TusEvent::Discovered(_) => {}
            }
        }
        Ok(next)
    }

    /// A request body was refused as too large: says so, and leaves the smaller size where
    /// the caller remembers it for this server.
    fn chunk_reduced(&self, from: u64, to: u64) {
        tracing::info!(
            from,
            to,
            "the server refused a request body as too large (413)"
        );
        self.transfer.reduced_chunk.store(to, Ordering::Relaxed);
        (self.transfer.events)(Event::Warning {
            message: format!(
                "{}: the server refuses requests of {from} bytes (413); sending {} chunks",
                self.server,
                human_bytes(to)
            ),
        });
    }

    /// The server said it no longer knows the upload: a failed attempt.
    fn count_a_lost_upload(&mut self) -> Result<(), EngineError> {
        if std::mem::take(&mut self.lost_upload) {
            let err = EngineError::LostUpload {
                path: self.transfer.file.path.clone(),
                server: self.server.clone(),
            };
            self.failed(err, self.counted)?;
        }
        Ok(())
    }

    /// Body bytes handed to the network in this run.
    fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Says how far the bytes got, if that moved since it was last said.
    fn say_sent(&mut self, upload: &Upload) {
        if let Some(sent) = self.gauge.report(self.sent(), upload.confirmed_offset()) {
            (self.transfer.events)(Event::Sent {
                path: self.path.clone(),
                sent,
                size: self.transfer.file.facts.size,
            });
        }
    }

    /// Counts a failed attempt: gives up, or pauses before the next one. `sent_after` is
    /// [`Driver::counted`] when the failed request was sent: a request that was already in
    /// flight when another failure was counted shares that failure's attempt.
    fn failed(&mut self, err: EngineError, sent_after: u64) -> Result<(), EngineError> {
        if sent_after < self.counted {
            tracing::debug!(attempt = self.failures, error = %err, "failed in the same attempt");
            return Ok(());
        }
        self.counted += 1;
        self.failures += 1;
        if self.transfer.options.retry.exhausted(self.failures) {
            return Err(EngineError::GaveUp {
                attempts: self.failures,
                last: Box::new(err),
            });
        }
        let delay = self.transfer.options.retry.next_delay(self.failures);
        tracing::debug!(attempt = self.failures, ?delay, error = %err, "retrying");
        (self.transfer.events)(Event::Retrying {
            path: self.path.clone(),
            attempt: self.failures,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            error: err.to_string(),
            unreachable: err.is_unreachable(),
            server_full: false,
        });
        let until = Instant::now() + delay;
        self.pause_until = Some(self.pause_until.map_or(until, |p| p.max(until)));
        Ok(())
    }

    /// The event loop: until the machine finishes, fails for good, or is terminated
    /// because the file changed.
    async fn run(
        &mut self,
        upload: &mut Upload,
        wire: &Wire<'_>,
        on_confirmed: &mut super::OnConfirmed<'_>,
    ) -> Result<Option<String>, EngineError> {
        let mut in_flight = FuturesUnordered::new();
        // Set once the file changed: the upload is being terminated.
        let mut changed: Option<EngineError> = None;
        let mut say_sent = tokio::time::interval(SENT_EVERY);
        say_sent.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            match self.take_events(upload, on_confirmed).await? {
                Next::Finished(location) => return Ok(location),
                Next::Terminated => return Err(changed.unwrap_or_else(|| self.file_changed())),
                Next::Continue => {}
            }
            self.count_a_lost_upload()?;
            if self.pause_until.is_some_and(|t| Instant::now() >= t) {
                self.pause_until = None;
            }
            if self.pause_until.is_none() {
                while let Some(request) = upload.poll_request(SystemTime::now()) {
                    if request.kind == RequestKind::Concatenate {
                        // Recorded before it is sent: once the POST may have reached the
                        // server, a final may exist, and a later run looks for it first.
                        on_confirmed(&upload.state()).await?;
                    }
                    let sent_after = self.counted;
                    in_flight.push(
                        wire.exchange(request)
                            .map(move |(id, outcome)| (id, outcome, sent_after)),
                    );
                }
            }
            let next = match (in_flight.is_empty(), self.pause_until) {
                (true, Some(until)) => {
                    tokio::time::sleep_until(until).await;
                    continue;
                }
                (true, None) => {
                    return Err(EngineError::Bug(
                        "the tus machine stopped without finishing".to_owned(),
                    ));
                }
                (false, until) => tokio::select! {
                    next = in_flight.next() => next,
                    () = backoff(until) => continue,
                    _ = say_sent.tick() => {
                        self.say_sent(upload);
                        continue;
                    }
                },
            };
            let Some((id, outcome, sent_after)) = next else {
                continue;
            };
            if let Some(err) = changed.take() {
                // Terminating: best effort, one try per DELETE.
                match outcome {
                    Outcome::Answer(answer) if upload.handle_response(id, &answer).is_ok() => {
                        changed = Some(err);
                    }
                    _ => return Err(err),
                }
                continue;
            }
            match outcome {
                Outcome::Answer(answer) => match upload.handle_response(id, &answer) {
                    Ok(()) => {}
                    // Not retried here: waiting for space is for minutes, not seconds. What
                    // the server confirmed is recorded; the next attempt resumes from it.
                    Err(err @ TusError::ServerFull { .. }) => return Err(self.tus_error(err)),
                    Err(err) if refuses_the_file(&err) => {
                        if let Some(err) = self.file_refused(err, sent_after).await? {
                            in_flight.clear();
                            upload.terminate();
                            self.pause_until = None;
                            changed = Some(err);
                        }
                    }
                    Err(err) if err.is_retryable() => {
                        self.gauge
                            .lost_in_flight(self.sent(), upload.confirmed_offset());
                        let err = self.tus_error(err);
                        self.failed(err, sent_after)?;
                    }
                    Err(err) => return Err(self.tus_error(err)),
                },
                Outcome::Lost(kind, reason) => {
                    upload.handle_failure(id);
                    self.gauge
                        .lost_in_flight(self.sent(), upload.confirmed_offset());
                    let err = EngineError::unreachable(&self.server, kind, reason);
                    self.failed(err, sent_after)?;
                }
                Outcome::Local(err @ EngineError::FileChanged { .. }) => {
                    tracing::info!("the file changed during its upload; abandoning it");
                    in_flight.clear();
                    upload.terminate();
                    self.pause_until = None;
                    changed = Some(err);
                }
                Outcome::Local(err) => return Err(err),
            }
        }
    }

    /// The server refused the complete file: what it received does not have the sha1 that
    /// was announced. Sending the same content under the same sha1 can never pass, so the
    /// file is hashed again: a file rewritten with its old size and modification time (a
    /// tag editor, `cp --preserve=timestamps` onto it) looks unchanged until now, and is
    /// abandoned as changed (`Some`: the caller terminates the upload; the next attempt
    /// hashes the file afresh). A file that still has the announced sha1 is sent once more;
    /// a second refusal ends the upload as not stored, so a retry starts a new one.
    async fn file_refused(
        &mut self,
        err: TusError,
        sent_after: u64,
    ) -> Result<Option<EngineError>, EngineError> {
        let now = match self.transfer.file.sha1().await {
            Ok(now) => now,
            Err(changed @ EngineError::FileChanged { .. }) => return Ok(Some(changed)),
            Err(other) => return Err(other),
        };
        if now != self.transfer.sha1 {
            tracing::info!(
                announced = %self.transfer.sha1.to_hex(),
                now = %now.to_hex(),
                "the server refused the complete file, whose content changed under the same size and modification time"
            );
            return Ok(Some(self.file_changed()));
        }
        if std::mem::replace(&mut self.refused_file, true) {
            return Err(EngineError::NotStored {
                remote: self.transfer.remote_path.clone(),
                server: self.server.clone(),
                reason: format!(
                    "refused the complete file twice: what it received does not have the sha1 announced ({}), although the file here still has it",
                    self.transfer.sha1.to_hex()
                ),
            });
        }
        let err = self.tus_error(err);
        if !err.is_retryable() {
            return Err(err);
        }
        self.failed(err, sent_after)?;
        Ok(None)
    }

    fn file_changed(&self) -> EngineError {
        EngineError::FileChanged {
            path: self.transfer.file.path.clone(),
        }
    }
}

/// Whether the server refused the complete file rather than a chunk: a mismatch of the
/// chunk that completes a plain upload, or a creation carrying the whole file or a final
/// upload refused with the checksum statuses (what it got does not have the announced sha1).
fn refuses_the_file(err: &TusError) -> bool {
    let checksum_status = |s: http::StatusCode| {
        s == ferry_proto::tus::server::CHECKSUM_MISMATCH
            || s == http::StatusCode::EXPECTATION_FAILED
    };
    match err {
        TusError::ChecksumMismatch { completes, .. } => *completes,
        // The final of parallel parts, or a creation that carried the whole file.
        TusError::UnexpectedStatus {
            request: RequestKind::Concatenate | RequestKind::Create,
            status,
            ..
        } => checksum_status(*status),
        _ => false,
    }
}

/// A chunk size for people: `512 KiB`, `1.5 MiB`, or bytes when not a whole KiB.
pub(crate) fn human_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    if n >= KIB * KIB && n.is_multiple_of(KIB * KIB / 2) {
        let halves = n / (KIB * KIB / 2);
        if halves.is_multiple_of(2) {
            format!("{} MiB", halves / 2)
        } else {
            format!("{}.5 MiB", halves / 2)
        }
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n}-byte")
    }
}
