//! `ferry sync [--once]`: keeps the synced folders uploaded, in the foreground. With
//! `--once` it scans, uploads everything pending and exits with a summary. It runs with the
//! saved settings (`ferry config`, the desktop app's Settings), which its flags override,
//! and takes changes to them while it runs.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use ferry_engine::service::Service;
use ferry_engine::settings::Settings;
use ferry_engine::sync::{Engine, SyncOptions, sync_once};

use crate::cli::SyncArgs;
use crate::progress::Progress;

/// Set to `1` to make the OS watcher fail as if its watch limit were reached (for tests of
/// the fallback to rescans).
const SIMULATE_WATCH_LIMIT: &str = "FERRY_SIMULATE_WATCH_LIMIT";

/// Set to a number of seconds to rescan every folder that often (for tests; default one
/// hour, and one minute for folders whose watcher failed).
const RESCAN_SECS: &str = "FERRY_RESCAN_SECS";

/// How often a running `ferry sync` looks whether the settings file changed.
const SETTINGS_POLL: Duration = Duration::from_secs(1);

fn options(settings: &Settings, args: &SyncArgs) -> SyncOptions {
    let mut options = settings.sync_options();
    if let Some(n) = args.concurrency {
        options.concurrency = n.clamp(1, 64);
    }
    if let Some(rate) = args.limit_rate {
        options.rate_limit = (rate > 0).then_some(rate);
    }
    if let Some(ms) = args.quiet_ms {
        options.quiet_period = Duration::from_millis(ms);
    }
    if let Some(schedule) = &args.schedule {
        options.schedule = schedule.clone();
    }
    options.transfer = crate::upload::transfer_options();
    options.simulate_watch_limit = std::env::var(SIMULATE_WATCH_LIMIT).is_ok_and(|v| v == "1");
    if let Some(secs) = std::env::var(RESCAN_SECS)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
    {
        options.rescan_every = Duration::from_secs(secs);
        options.fallback_rescan_every = Duration::from_secs(secs);
    }
    options
}

pub(crate) async fn run(
    service: Service,
    args: &SyncArgs,
    json: bool,
    quiet: bool,
) -> anyhow::Result<()> {
    let folders = service.folders().await?.len();
    // The engine opens the journal itself; the service's door is not needed past here.
    let (home, credentials) = (service.home().clone(), service.credentials().clone());
    drop(service);
    let home = &home;
    if folders == 0 {
        bail!("no folders are synced; add one with `ferry folder add DIR --server URL`");
    }
    let progress = Arc::new(Progress::new(json || quiet));
    let sink = Arc::clone(&progress);
    let events: ferry_engine::EventSink = Arc::new(move |event| {
        if json && let Ok(line) = serde_json::to_string(&event) {
            println!("{line}");
        }
        sink.show(&event);
    });
    let settings = crate::config::load(home).await?;
    if args.once {
        let summary = sync_once(home, options(&settings, args), credentials, events).await?;
        progress.finish();
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "uploaded": summary.uploaded,
                    "unchanged": summary.unchanged,
                    "bytes_sent": summary.bytes_sent,
                    "failed": summary.failed.iter().map(|(p, e)| serde_json::json!({"path": p, "error": e})).collect::<Vec<_>>(),
                })
            );
        } else if !quiet {
            println!(
                "{} uploaded ({} sent), {} unchanged, {} failed",
                summary.uploaded,
                crate::render::bytes(summary.bytes_sent),
                summary.unchanged,
                summary.failed.len()
            );
        }
        if !summary.failed.is_empty() {
            let lines: Vec<String> = summary
                .failed
                .iter()
                .map(|(p, e)| format!("{p}: {e}"))
                .collect();
            bail!(
                "{} files did not upload:\n  {}\nRun `ferry sync --once` again to retry them.",
                lines.len(),
                lines.join("\n  ")
            );
        }
        return Ok(());
    }
    let engine = Engine::start(home, options(&settings, args), credentials, events).await?;
    if !quiet && !json {
        eprintln!(
            "ferry: syncing {folders} folder{}; stop with Ctrl-C",
            if folders == 1 { "" } else { "s" }
        );
    }
    let stop = stopped();
    tokio::pin!(stop);
    let mut seen = Settings::stamp(home).await;
    let mut tick = tokio::time::interval(SETTINGS_POLL);
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => {
                let now = Settings::stamp(home).await;
                if now == seen {
                    continue;
                }
                seen = now;
                match crate::config::load(home).await {
                    Ok(settings) => {
                        tracing::info!("the settings changed: taking them");
                        engine.set_options(options(&settings, args));
                    }
                    Err(err) => eprintln!("ferry: keeping the settings in use: {err:#}"),
                }
            }
        }
    }
    engine.shutdown().await;
    progress.finish();
    Ok(())
}

/// Waits for Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
