//! `ferry status`: unfinished uploads and where they stand.

use ferry_engine::home::Home;

pub(crate) fn run(home: &Home, json: bool) -> anyhow::Result<()> {
    let journal = home.journal()?;
    let open = journal.open_uploads()?;
    if json {
        let rows: Vec<serde_json::Value> = open
            .iter()
            .map(|(path, u)| {
                serde_json::json!({
                    "local_path": path,
                    "remote_path": u.upload.remote_path,
                    "protocol": u.upload.protocol.as_str(),
                    "size": u.upload.facts.size,
                    "confirmed": u.confirmed,
                    "attempts": u.attempts,
                    "last_error": u.last_error,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if open.is_empty() {
        println!("Everything is uploaded: no upload is waiting to be continued.");
        return Ok(());
    }
    for (path, u) in &open {
        let size = u.upload.facts.size;
        let percent = (u.confirmed * 100).checked_div(size).unwrap_or(100);
        let error = u
            .last_error
            .as_deref()
            .map(|e| format!("; last error: {e}"))
            .unwrap_or_default();
        println!(
            "{path} -> {}: {percent}% confirmed ({} of {}){error}; run `ferry upload` again to continue",
            u.upload.remote_path,
            crate::render::bytes(u.confirmed),
            crate::render::bytes(size)
        );
    }
    Ok(())
}
