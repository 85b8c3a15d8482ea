//! One attempt at sending a file: the protocol's transport run with every confirmation
//! recorded through the journal door before more is sent, the server's proof that it holds
//! the file, and how the attempt is settled in the journal (finished, abandoned, kept for
//! the next run, or failed). Knows nothing of folders or queues.

use ferry_store::{HistoryEntry, Outcome, UploadRecord, Verification};

use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::journal::JournalDoor;
use crate::resume::to_progress;
use crate::target::{Protocol, Target};
use crate::transport::{self, Transfer};
use crate::verify::{self, Sent};

use super::GALILEO_MAX_CHUNK;

/// Sends the file, then checks that the server holds it: the upload and how it was
/// verified, or why it is not uploaded.
pub(super) async fn send_and_verify(
    http: &reqwest::Client,
    target: &Target,
    protocol: Protocol,
    transfer: &Transfer,
    resume: Option<&transport::ResumeState>,
    door: &JournalDoor,
    row: &UploadRecord,
) -> Result<(transport::Transferred, Verification), EngineError> {
    let done = send(http, target, protocol, transfer, resume, door, row).await?;
    let sent = Sent {
        remote: &transfer.remote_path,
        size: transfer.file.facts.size,
        sha1: &transfer.sha1,
    };
    let level =
        verify::verify(http, target, protocol, transfer.token.as_ref(), sent, &done).await?;
    Ok((done, level))
}

/// Records how an attempt ended: the history entry when it finished, `None` when the file
/// changed and must be sent again, the error otherwise (the upload kept for the next run
/// when retrying can help).
pub(super) async fn settle(
    door: &JournalDoor,
    row: &UploadRecord,
    sent: Result<(transport::Transferred, Verification), EngineError>,
    events: &EventSink,
    display: &str,
    size: u64,
) -> Result<Option<HistoryEntry>, EngineError> {
    match sent {
        Ok((done, verification)) => {
            let (id, location, sent) = (row.id, done.location.clone(), done.bytes_sent);
            let entry = door
                .call(move |j| Ok(j.finish_upload(id, location.as_deref(), sent, verification)?))
                .await?;
            (events)(Event::Finished {
                path: display.to_owned(),
                location: done.location,
                size,
                bytes_sent: done.bytes_sent,
            });
            Ok(Some(entry))
        }
        Err(err @ EngineError::FileChanged { .. }) => {
            (events)(Event::Warning {
                message: err.to_string(),
            });
            let (id, message) = (row.id, err.to_string());
            door.call(move |j| Ok(j.end_upload(id, Outcome::Abandoned, 0, &message)?))
                .await?;
            Ok(None)
        }
        Err(err) => {
            let message = err.to_string();
            let (id, text) = (row.id, message.clone());
            if err.is_permanent() {
                door.call(move |j| Ok(j.end_upload(id, Outcome::Failed, 0, &text)?).map(|_| ()))
                    .await?;
            } else {
                // Kept for the next run, which continues where the server stands.
                door.call(move |j| Ok(j.record_failure(id, &text, None)?))
                    .await?;
            }
            (events)(Event::Failed {
                path: display.to_owned(),
                error: message,
                permanent: err.is_permanent(),
            });
            Err(err)
        }
    }
}

/// Where this protocol uploads to, and the chunk size it uses.
pub(super) fn endpoint_and_chunk(
    target: &Target,
    protocol: Protocol,
    chunk_size: Option<u64>,
) -> (String, u64) {
    match protocol {
        Protocol::Tus => (
            target
                .tus
                .as_ref()
                .map(|t| t.endpoint.to_string())
                .unwrap_or_default(),
            chunk_size.unwrap_or(ferry_proto::tus::client::DEFAULT_CHUNK_SIZE),
        ),
        Protocol::Galileo => (
            target
                .galileo
                .as_ref()
                .map(|g| g.url.to_string())
                .unwrap_or_default(),
            // The server's `chunksize` decides (250000 bytes when it names none), up to a
            // cap that keeps memory flat; only an explicit chunk size lowers the cap.
            chunk_size.unwrap_or(GALILEO_MAX_CHUNK),
        ),
    }
}

/// Runs the protocol's transport, recording every confirmation in the journal before the
/// transport sends more.
async fn send(
    http: &reqwest::Client,
    target: &Target,
    protocol: Protocol,
    transfer: &Transfer,
    resume: Option<&transport::ResumeState>,
    door: &JournalDoor,
    row: &UploadRecord,
) -> Result<transport::Transferred, EngineError> {
    let size = transfer.file.facts.size;
    let mut recorded = row.confirmed;
    let id = row.id;
    let mut on_confirmed = |state: &transport::ResumeState| -> transport::Recorded {
        let progress = to_progress(state);
        let confirmed: u64 = progress.parts.iter().map(|p| p.confirmed).sum();
        // The whole file confirmed at once (a small file in its first request): not worth
        // a write of its own, `finish_upload` records it next. A crash in between leaves
        // the journal as it was before this confirmation, which is still true.
        if recorded == 0 && confirmed == size && !progress.concatenated {
            return transport::recorded();
        }
        recorded = confirmed;
        let door = door.clone();
        Box::pin(async move {
            door.call(move |j| Ok(j.record_progress(id, &progress)?))
                .await
        })
    };
    let gone = |what: &str| EngineError::NoProtocol {
        server: target.server.clone(),
        reason: format!("{what} disappeared"),
    };
    match protocol {
        Protocol::Tus => {
            let tus = target.tus.as_ref().ok_or_else(|| gone("tus"))?;
            transport::tus::send(http, tus, transfer, resume, &mut on_confirmed).await
        }
        Protocol::Galileo => {
            let galileo = target.galileo.as_ref().ok_or_else(|| gone("GalileoSend"))?;
            transport::galileo::send(galileo, transfer, resume, &mut on_confirmed).await
        }
    }
}
