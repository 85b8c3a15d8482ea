//! Rate limits on uploads: token buckets that hold at most a quarter second's worth, so
//! bursts stay short. One is shared by every upload of an engine (`--limit-rate`, the
//! settings, the bandwidth schedule), another by each folder with a schedule of its own; a
//! job takes from both ([`RateLimit::and`]).
//!
//! A limit can change while uploads run ([`RateLimit::set`]): the new rate holds for their
//! next write, and a write waiting out the old rate goes on at once, so a change takes
//! effect within the bucket's quarter second. Knows nothing of schedules or settings.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Notify};
use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    available: f64,
    updated: Instant,
    /// The [`Shared::changes`] this bucket's debt was run up under.
    changes: u64,
}

#[derive(Debug)]
struct Shared {
    /// Bytes per second; 0: unlimited for now.
    rate: AtomicU64,
    /// Counts rate changes: a debt run up under an older rate is forgiven.
    changes: AtomicU64,
    bucket: Mutex<Bucket>,
    /// Wakes writes waiting out the old rate when it changes.
    changed: Notify,
}

/// Byte-rate limits; `RateLimit::unlimited()` lets everything through. Clones share the
/// same budgets.
#[derive(Debug, Clone, Default)]
pub struct RateLimit {
    buckets: Vec<Arc<Shared>>,
}

impl RateLimit {
    /// No limit, and none can be set.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// At most `bytes_per_second` (0 means unlimited, and none can be set).
    pub fn new(bytes_per_second: u64) -> Self {
        if bytes_per_second == 0 {
            return Self::unlimited();
        }
        Self::adjustable(Some(bytes_per_second))
    }

    /// A limit of `rate` (`None`: unlimited for now) that [`RateLimit::set`] changes.
    pub fn adjustable(rate: Option<u64>) -> Self {
        Self {
            buckets: vec![Arc::new(Shared {
                rate: AtomicU64::new(rate.unwrap_or(0)),
                changes: AtomicU64::new(0),
                bucket: Mutex::new(Bucket {
                    available: 0.0,
                    updated: Instant::now(),
                    changes: 0,
                }),
                changed: Notify::new(),
            })],
        }
    }

    /// Both this limit and `other`: a write waits for each.
    #[must_use]
    pub fn and(&self, other: &Self) -> Self {
        let mut buckets = self.buckets.clone();
        buckets.extend(other.buckets.iter().cloned());
        Self { buckets }
    }

    /// Changes the rate of an adjustable limit (`None`: unlimited) for every clone, at
    /// once: writes waiting out the old rate go on. Does nothing to [`RateLimit::unlimited`].
    pub fn set(&self, rate: Option<u64>) {
        let rate = rate.unwrap_or(0);
        for shared in &self.buckets {
            if shared.rate.swap(rate, Ordering::Relaxed) != rate {
                shared.changes.fetch_add(1, Ordering::Relaxed);
                shared.changed.notify_waiters();
            }
        }
    }

    /// The rate in force (the lowest of its limits); `None`: unlimited.
    pub fn rate(&self) -> Option<u64> {
        self.buckets
            .iter()
            .map(|s| s.rate.load(Ordering::Relaxed))
            .filter(|&r| r > 0)
            .min()
    }

    /// Waits until `bytes` may be sent. Callers ask in pieces (a network write at a time), so
    /// one large request does not hold everyone else back.
    pub async fn take(&self, bytes: u64) {
        for shared in &self.buckets {
            take_from(shared, bytes).await;
        }
    }
}

async fn take_from(shared: &Shared, bytes: u64) {
    let rate = shared.rate.load(Ordering::Relaxed);
    if rate == 0 {
        return;
    }
    // Registered before the rate is read under the lock, so a change made while this
    // write decides how long to wait still wakes it.
    let changed = shared.changed.notified();
    tokio::pin!(changed);
    changed.as_mut().enable();
    let wait = {
        let mut b = shared.bucket.lock().await;
        let now = Instant::now();
        let generation = shared.changes.load(Ordering::Relaxed);
        if b.changes != generation {
            // The old rate's debt is forgiven: the new rate starts from an empty bucket.
            b.changes = generation;
            b.available = b.available.max(0.0);
        }
        #[expect(
            clippy::cast_precision_loss,
            reason = "rates and byte counts far below 2^52"
        )]
        let (rate, wanted) = (rate as f64, bytes as f64);
        let refill = now.duration_since(b.updated).as_secs_f64() * rate;
        b.available = (b.available + refill).min(rate / 4.0);
        b.updated = now;
        b.available -= wanted;
        if b.available >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.available / rate)
        }
    };
    if wait.is_zero() {
        return;
    }
    tokio::select! {
        () = tokio::time::sleep(wait) => {}
        () = changed => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn holds_shared_traffic_to_the_rate() {
        let limit = RateLimit::new(1000);
        let other = limit.clone();
        let started = Instant::now();
        for _ in 0..5 {
            limit.take(200).await;
            other.take(200).await;
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1900),
            "2000 bytes at 1000 B/s: {elapsed:?}"
        );
        assert!(elapsed <= Duration::from_millis(2100), "{elapsed:?}");
        let free = Instant::now();
        RateLimit::unlimited().take(u64::MAX).await;
        assert_eq!(free.elapsed(), Duration::ZERO);
        assert_eq!(RateLimit::unlimited().rate(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_holds_for_writes_under_way_at_once() {
        let limit = RateLimit::adjustable(Some(1000));
        let writer = limit.clone();
        // A write of 10 s at the old rate, then nine more.
        let task = tokio::spawn(async move {
            let started = Instant::now();
            for _ in 0..10 {
                writer.take(10_000).await;
            }
            started.elapsed()
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        limit.set(Some(1_000_000));
        assert_eq!(limit.rate(), Some(1_000_000));
        let elapsed = task.await.unwrap();
        assert!(
            elapsed < Duration::from_millis(700),
            "the first write waited out its old rate: {elapsed:?}"
        );
        // Lowered again: the next writes follow the new rate.
        limit.set(Some(100));
        let started = Instant::now();
        for _ in 0..3 {
            limit.take(100).await;
        }
        let elapsed = started.elapsed();
        assert!(
            (Duration::from_millis(2700)..=Duration::from_millis(3100)).contains(&elapsed),
            "300 bytes at 100 B/s, a quarter second of it a burst: {elapsed:?}"
        );
        limit.set(None);
        let free = Instant::now();
        limit.take(u64::MAX / 2).await;
        assert_eq!(free.elapsed(), Duration::ZERO, "unlimited now");
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_waits_for_every_limit_it_is_under() {
        let all = RateLimit::adjustable(Some(10_000));
        let folder = RateLimit::adjustable(Some(1000));
        let both = all.and(&folder);
        assert_eq!(both.rate(), Some(1000));
        let started = Instant::now();
        for _ in 0..4 {
            both.take(500).await;
        }
        let elapsed = started.elapsed();
        assert!(
            (Duration::from_millis(1900)..=Duration::from_millis(2100)).contains(&elapsed),
            "2000 bytes under the folder's 1000 B/s: {elapsed:?}"
        );
    }
}
