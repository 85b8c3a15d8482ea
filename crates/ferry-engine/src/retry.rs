//! When to try again: exponential backoff with full jitter, as a pure function of the
//! attempt number and a random draw (so tests need no clock and no luck).

use std::time::Duration;

/// How retries are spaced and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The pause ceiling after the first failure.
    pub base: Duration,
    /// The largest pause.
    pub max: Duration,
    /// Failed attempts in a row after which to give up (0: never).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 0.5 s doubling up to 30 s; give up after 20 failures in a row without progress.
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_attempts: 20,
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1 for the first), given a uniform random
    /// draw `jitter` in `0.0..1.0`: a random point below `min(max, base * 2^(attempt-1))`.
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.max);
        ceiling.mul_f64(jitter.clamp(0.0, 1.0))
    }

    /// Whether to give up after `attempt` failures in a row.
    pub fn exhausted(&self, attempt: u32) -> bool {
        self.max_attempts != 0 && attempt >= self.max_attempts
    }

    /// The pause after failed attempt `attempt`, with a fresh random draw.
    pub fn next_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_ceiling_and_jitter_scales_them() {
        let policy = RetryPolicy {
            base: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        };
        assert_eq!(policy.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(policy.delay(3, 1.0), Duration::from_millis(400));
        assert_eq!(policy.delay(10, 1.0), Duration::from_secs(1), "capped");
        assert_eq!(policy.delay(3, 0.5), Duration::from_millis(200));
        assert_eq!(policy.delay(3, 0.0), Duration::ZERO);
        assert_eq!(
            policy.delay(u32::MAX, 1.0),
            Duration::from_secs(1),
            "no overflow"
        );
        assert!(!policy.exhausted(4) && policy.exhausted(5));
        assert!(
            !RetryPolicy {
                max_attempts: 0,
                ..policy
            }
            .exhausted(1000)
        );
    }
}
