//! Property tests of the sync core: random sequences of facts (changes, renames, time,
//! examinations, job ends, pauses, retries) fed to the machine on virtual time, with its
//! invariants checked after every step:
//! - a file never has two jobs at once;
//! - nothing starts while everything, or the file's folder, is paused;
//! - the waits before retrying a file only grow, until it is uploaded or its content changes;
//! - every file reported changed is examined after its last report, once the run settles.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use ferry_store::FolderId;
use proptest::prelude::*;

use super::*;

const FOLDERS: [FolderId; 2] = [FolderId(1), FolderId(2)];
const FILES: u8 = 6;

#[derive(Debug, Clone, Copy)]
enum Step {
    Changed(u8, u16),
    Renamed(u8, u8),
    Advance(u32),
    /// Answers the oldest examination: to send (size, hash first, content changed) or not.
    Answer(Option<(u32, bool, bool)>),
    /// Ends a running job: 0 uploaded, 1 retryable failure, 2 permanent, 3 file changed,
    /// 4 unchanged.
    End(u8, u8),
    PauseAll(bool),
    PauseFolder(u8, bool),
    Retry(u8),
    Concurrency(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..FILES * 2, 0..4000u16).prop_map(|(f, age)| Step::Changed(f, age)),
        1 => (0..FILES * 2, 0..FILES * 2).prop_map(|(a, b)| Step::Renamed(a, b)),
        4 => (0..20_000u32).prop_map(Step::Advance),
        4 => proptest::option::weighted(0.8, (1..200_000_000u32, any::<bool>(), any::<bool>()))
            .prop_map(Step::Answer),
        4 => (any::<u8>(), 0..5u8).prop_map(|(i, kind)| Step::End(i, kind)),
        1 => any::<bool>().prop_map(Step::PauseAll),
        1 => (0..2u8, any::<bool>()).prop_map(|(f, p)| Step::PauseFolder(f, p)),
        1 => (0..FILES * 2).prop_map(Step::Retry),
        1 => (1..5u8).prop_map(Step::Concurrency),
    ]
}

fn key_of(n: u8) -> Key {
    let folder = FOLDERS[usize::from(n / FILES)];
    (folder, format!("f{}", n % FILES))
}

fn options(concurrency: usize) -> CoreOptions {
    CoreOptions {
        concurrency,
        quiet_period: Duration::from_secs(2),
        rescan_every: Duration::from_secs(3600),
        fallback_rescan_every: Duration::from_secs(60),
        file_retry: RetryPolicy {
            base: Duration::from_secs(1),
            max: Duration::from_secs(120),
            max_attempts: 0,
        },
        parallel_from: 100_000_000,
    }
}

/// The world around the core, as the invariants need it.
struct World {
    core: SyncCore,
    now: Instant,
    paused: bool,
    paused_folders: HashSet<FolderId>,
    /// Jobs started and neither stopped nor ended.
    active: HashMap<Key, u64>,
    examining: Vec<Key>,
    /// Step of the last change report, and of the last examination, per file.
    changed_at: HashMap<Key, usize>,
    examined_at: HashMap<Key, usize>,
    last_wait: HashMap<Key, Duration>,
    step: usize,
}

impl World {
    fn new(seed: u64) -> Self {
        let now = Instant::now();
        let mut core = SyncCore::new(options(2), Mode::Watch, seed);
        for id in FOLDERS {
            core.handle_folder_added(now, id, false, false);
        }
        let mut world = Self {
            core,
            now,
            paused: false,
            paused_folders: HashSet::new(),
            active: HashMap::new(),
            examining: Vec::new(),
            changed_at: HashMap::new(),
            examined_at: HashMap::new(),
            last_wait: HashMap::new(),
            step: 0,
        };
        world.actions();
        world
    }

    /// Carries out the core's actions as a driver would, checking the invariants.
    fn actions(&mut self) {
        while let Some(action) = self.core.poll_action() {
            match action {
                Action::Examine(batch) => {
                    for (key, _) in batch {
                        assert!(
                            !self.examining.contains(&key),
                            "examined twice at once: {key:?}"
                        );
                        self.examined_at.insert(key.clone(), self.step);
                        self.examining.push(key);
                    }
                }
                Action::Scan(id) => {
                    self.core
                        .handle_scanned(self.now, id, Some(ScanFound::default()));
                }
                Action::Start(start) => {
                    assert!(
                        !self.active.contains_key(&start.key),
                        "two jobs at once for {:?}",
                        start.key
                    );
                    assert!(!self.paused, "started while everything is paused");
                    assert!(
                        !self.paused_folders.contains(&start.key.0),
                        "started in a paused folder"
                    );
                    self.active.insert(start.key, start.id);
                }
                Action::Stop(key) => {
                    assert!(
                        self.active.remove(&key).is_some(),
                        "stopped a job not running"
                    );
                }
                Action::RecordFailure { key, retry_in, .. } => {
                    if let Some(wait) = retry_in {
                        let last = self.last_wait.get(&key).copied().unwrap_or_default();
                        assert!(wait >= last, "{key:?}: waited {wait:?} after {last:?}");
                        self.last_wait.insert(key, wait);
                    }
                }
                Action::ClearFailure(_) | Action::ForgetServer(_) | Action::Notify(_) => {}
            }
        }
    }

    fn answer(&mut self, answer: Option<(u32, bool, bool)>) {
        if self.examining.is_empty() {
            return;
        }
        let key = self.examining.remove(0);
        if self.active.contains_key(&key) {
            // The driver stops a job before examining its changed file.
            self.active.remove(&key);
        }
        let examined = match answer {
            Some((size, hash_first, changed)) => {
                if changed {
                    self.last_wait.remove(&key);
                }
                Examined::Send {
                    size: u64::from(size),
                    hash_first,
                    changed,
                    attempts: 0,
                }
            }
            None => Examined::Settled,
        };
        self.core.handle_examined(self.now, vec![(key, examined)]);
    }

    fn end(&mut self, index: u8, kind: u8) {
        let mut running: Vec<(Key, u64)> =
            self.active.iter().map(|(k, v)| (k.clone(), *v)).collect();
        if running.is_empty() {
            return;
        }
        running.sort();
        let (key, id) = running.swap_remove(usize::from(index) % running.len());
        self.active.remove(&key);
        let end = match kind {
            0 => {
                self.last_wait.remove(&key);
                JobEnd::Uploaded { bytes: 1 }
            }
            1 | 2 => JobEnd::Failed {
                message: "x".into(),
                retryable: kind == 1,
                unauthorized: false,
                server_full: false,
                unreachable: false,
            },
            3 => JobEnd::FileChanged,
            _ => JobEnd::Unchanged,
        };
        self.core.handle_job_done(self.now, key, id, end);
    }

    fn apply(&mut self, step: Step) {
        self.step += 1;
        match step {
            Step::Changed(n, age) => {
                let key = key_of(n);
                self.changed_at.insert(key.clone(), self.step);
                let age = Duration::from_millis(u64::from(age));
                self.core.handle_changed(self.now, key, Some(age));
            }
            Step::Renamed(a, b) => {
                let (from, to) = (key_of(a), key_of(b));
                if from.0 == to.0 {
                    self.core.handle_renamed(from.clone(), to.1.clone());
                    for key in [from, to] {
                        self.changed_at.insert(key.clone(), self.step);
                        self.core.handle_changed(self.now, key, None);
                    }
                }
            }
            Step::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(ms));
                self.core.handle_timeout(self.now);
            }
            Step::Answer(answer) => self.answer(answer),
            Step::End(index, kind) => self.end(index, kind),
            Step::PauseAll(paused) => {
                self.paused = paused;
                self.core.handle_pause_all(self.now, paused);
            }
            Step::PauseFolder(n, paused) => {
                let id = FOLDERS[usize::from(n)];
                if paused {
                    self.paused_folders.insert(id);
                } else {
                    self.paused_folders.remove(&id);
                }
                self.core.handle_folder_paused(self.now, id, paused);
            }
            Step::Retry(n) => {
                let key = key_of(n);
                self.last_wait.remove(&key);
                self.changed_at.insert(key.clone(), self.step);
                self.core.handle_retry(self.now, vec![key]);
            }
            Step::Concurrency(n) => self.core.handle_options(self.now, options(usize::from(n))),
        }
        self.actions();
    }

    /// Resumes everything and lets the run go on (every examination answered, every job
    /// uploaded) until nothing is left to do.
    fn settle(&mut self) {
        self.apply(Step::PauseAll(false));
        self.apply(Step::PauseFolder(0, false));
        self.apply(Step::PauseFolder(1, false));
        for _ in 0..10_000 {
            if !self.examining.is_empty() {
                self.apply(Step::Answer(Some((1, false, false))));
            } else if !self.active.is_empty() {
                self.apply(Step::End(0, 0));
            } else if self.core.is_idle() {
                return;
            } else {
                let next = self.core.poll_timeout().expect("busy but nothing due");
                let wait = next.saturating_duration_since(self.now);
                // Rounded up from nanoseconds: a wait below a millisecond (even below a
                // microsecond) still gets there.
                let ms = wait.as_nanos().div_ceil(1_000_000);
                self.apply(Step::Advance(u32::try_from(ms).unwrap_or(u32::MAX)));
            }
        }
        panic!("the run never settled");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_core_keeps_its_invariants_under_any_sequence_of_facts(
        seed in any::<u64>(),
        steps in proptest::collection::vec(step(), 1..300),
    ) {
        let mut world = World::new(seed);
        for step in steps {
            world.apply(step);
        }
        world.settle();
        for (key, changed) in &world.changed_at {
            let examined = world.examined_at.get(key).copied().unwrap_or(0);
            prop_assert!(
                examined >= *changed,
                "{:?} changed at step {} but was last examined at step {}",
                key, changed, examined
            );
        }
    }
}

#[test]
fn thousands_of_events_run_in_well_under_a_second_of_real_time() {
    // Virtual time: an hour of events on 12 files, without one real sleep.
    let mut world = World::new(42);
    for i in 0..5_000u32 {
        let n = u8::try_from(i % u32::from(FILES * 2)).unwrap_or(0);
        world.apply(Step::Changed(n, 0));
        world.apply(Step::Advance(700));
        world.apply(Step::Answer(Some((i, i % 3 == 0, i % 2 == 0))));
        world.apply(Step::End(
            u8::try_from(i % 7).unwrap_or(0),
            u8::try_from(i % 5).unwrap_or(0),
        ));
    }
    world.settle();
    assert!(world.core.is_idle());
}
