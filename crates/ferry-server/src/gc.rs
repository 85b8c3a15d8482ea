//! The background task that removes unfinished uploads whose expiry has passed (the tus
//! expiration extension; GalileoSend uploads expire the same way).

use std::time::SystemTime;

use crate::AppState;
use crate::uploads::UploadRecord;

/// Every `gc_interval`, removes expired uploads; runs until aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(state.config.gc_interval);
    loop {
        tick.tick().await;
        if let Err(err) = collect(&state).await {
            tracing::warn!(error = %err, "removing expired uploads failed; trying again later");
        }
    }
}

/// Removes the uploads expired now; returns how many.
pub async fn collect(state: &AppState) -> Result<usize, crate::ServerError> {
    let expired = state
        .db
        .call(|conn| UploadRecord::expired(conn, SystemTime::now()))
        .await?;
    let mut removed = 0;
    for id in &expired {
        // Take the upload so no request is writing it while it goes.
        let _guard = state.locks.acquire(id).await;
        // Its expiry as acknowledged, not as last checkpointed.
        if let Err(err) = state.progress.settle(&state.db, &state.storage, id).await {
            tracing::debug!(upload = %id, error = %err, "an expiring upload could not be checkpointed");
        }
        let id2 = id.clone();
        // Check again under the lock: a client may have resumed it (and moved its expiry
        // on) since the list was made.
        let gone = state
            .db
            .call(move |conn| {
                let still = UploadRecord::is_expired(conn, &id2, SystemTime::now())?;
                if still {
                    UploadRecord::delete_record(conn, &id2)?;
                }
                Ok(still)
            })
            .await?;
        if gone {
            let (storage, id2) = (state.storage.clone(), id.clone());
            tokio::task::spawn_blocking(move || UploadRecord::remove_data(&storage, &id2))
                .await
                .map_err(|e| crate::ServerError::Internal(format!("removing an upload: {e}")))??;
            state.hashes.forget(id);
            removed += 1;
            tracing::debug!(upload = %id, "removed expired upload");
        }
    }
    Ok(removed)
}
