//! Showing engine events: a progress bar per file on a terminal, plain lines otherwise,
//! nothing but errors with `--json` or `-q`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;

use ferry_engine::Event;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Renders events as they come, from any task.
pub(crate) struct Progress {
    silent: bool,
    bars: Option<MultiProgress>,
    by_file: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    pub(crate) fn new(silent: bool) -> Self {
        let terminal = std::io::stderr().is_terminal();
        Self {
            silent,
            bars: (terminal && !silent)
                .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            by_file: Mutex::new(HashMap::new()),
        }
    }

    fn bar(&self, path: &str, size: u64) -> Option<ProgressBar> {
        let bars = self.bars.as_ref()?;
        let mut by_file = self
            .by_file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bar = by_file.entry(path.to_owned()).or_insert_with(|| {
            let bar = bars.add(ProgressBar::new(size));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(path.rsplit('/').next().unwrap_or(path).to_owned());
            bar
        });
        Some(bar.clone())
    }

    /// Shows one event.
    pub(crate) fn show(&self, event: &Event) {
        match event {
            Event::Failed { path, error, .. } => {
                self.say(&format!("failed: {path}: {error}"), true);
            }
            _ if self.silent => {}
            Event::Started {
                path,
                size,
                resumed_from,
                protocol,
            } => match self.bar(path, *size) {
                Some(bar) => bar.set_position(*resumed_from),
                None if *resumed_from > 0 => {
                    self.say(
                        &format!(
                            "resuming {path} over {protocol} at byte {resumed_from} of {size}"
                        ),
                        false,
                    );
                }
                None => self.say(
                    &format!("uploading {path} over {protocol} ({size} bytes)"),
                    false,
                ),
            },
            Event::Progress {
                path,
                confirmed,
                size,
            } => {
                if let Some(bar) = self.bar(path, *size) {
                    // Bytes already on their way ([`Event::Sent`]) are not taken back.
                    bar.set_position(bar.position().max(*confirmed));
                }
            }
            Event::Sent { path, sent, size } => {
                if let Some(bar) = self.bar(path, *size) {
                    bar.set_position(*sent);
                }
            }
            Event::Retrying {
                path,
                attempt,
                delay_ms,
                error,
                ..
            } => {
                self.say(
                    &format!(
                        "{path}: attempt {attempt} failed ({error}); trying again in {delay_ms} ms"
                    ),
                    false,
                );
            }
            Event::Finished { path, size, .. } => match self.bar(path, *size) {
                Some(bar) => bar.finish(),
                None => self.say(&format!("uploaded {path} ({size} bytes)"), false),
            },
            Event::Warning { message } => self.say(&format!("note: {message}"), false),
            Event::Paused { folder } => self.say(
                &format!("paused {}", folder.as_deref().unwrap_or("everything")),
                false,
            ),
            Event::Resumed { folder } => self.say(
                &format!("resumed {}", folder.as_deref().unwrap_or("everything")),
                false,
            ),
            Event::Queued { .. } => {}
        }
    }

    fn say(&self, line: &str, always: bool) {
        if self.silent && !always {
            return;
        }
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    /// Leaves the bars where they are.
    pub(crate) fn finish(&self) {
        if let Some(bars) = &self.bars {
            let _ = bars.clear();
        }
    }
}
