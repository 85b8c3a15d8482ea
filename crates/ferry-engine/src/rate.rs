//! A rate limit shared by every upload of an engine (`--limit-rate`): a token bucket that
//! holds at most a quarter second's worth, so bursts stay short.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    rate: u64,
    available: f64,
    updated: Instant,
}

/// A shared byte-rate limit; `RateLimit::unlimited()` lets everything through. Clones share
/// the same budget.
#[derive(Debug, Clone, Default)]
pub struct RateLimit {
    bucket: Option<Arc<Mutex<Bucket>>>,
}

impl RateLimit {
    /// No limit.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// At most `bytes_per_second` (0 means unlimited).
    pub fn new(bytes_per_second: u64) -> Self {
        if bytes_per_second == 0 {
            return Self::unlimited();
        }
        Self {
            bucket: Some(Arc::new(Mutex::new(Bucket {
                rate: bytes_per_second,
                available: 0.0,
                updated: Instant::now(),
            }))),
        }
    }

    /// Waits until `bytes` may be sent. Callers ask in pieces (a network write at a time), so
    /// one large request does not hold everyone else back.
    pub async fn take(&self, bytes: u64) {
        let Some(bucket) = &self.bucket else { return };
        let wait = {
            let mut b = bucket.lock().await;
            let now = Instant::now();
            #[allow(
                clippy::cast_precision_loss,
                reason = "rates and byte counts far below 2^52"
            )]
            let rate = b.rate as f64;
            let refill = now.duration_since(b.updated).as_secs_f64() * rate;
            b.available = (b.available + refill).min(rate / 4.0);
            b.updated = now;
            #[allow(
                clippy::cast_precision_loss,
                reason = "rates and byte counts far below 2^52"
            )]
            let wanted = bytes as f64;
            b.available -= wanted;
            if b.available >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-b.available / rate)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
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
    }
}
