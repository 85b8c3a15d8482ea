//! The brake on password guessing: per name and address, and per address, with bounded
//! memory whatever is sent, attempts counted before their password is checked, and the
//! checks themselves on a few threads of their own. Knows nothing of HTTP.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::verify_with_memory;
use crate::error::ServerError;

/// The brake on password guessing, with bounded memory whatever is sent.
///
/// Per user name and address: at most [`LoginLimiter::MAX_FAILURES`] failed or running
/// attempts within [`LoginLimiter::WINDOW`]; per address (any names):
/// [`LoginLimiter::MAX_FAILURES_PER_ADDRESS`]. [`LoginLimiter::reserve`] checks and counts
/// an attempt in one step, before its password is checked, so simultaneous guesses cannot
/// all pass the check. The tables hold at most [`LoginLimiter::MAX_ENTRIES`] entries each:
/// stale ones go first, then the least recently used. Password checks themselves run at
/// most [`LoginLimiter::CHECKS_AT_ONCE`] at a time ([`LoginLimiter::verify`]).
#[derive(Debug)]
pub struct LoginLimiter {
    tables: Mutex<Tables>,
    checks: std::sync::OnceLock<std::sync::mpsc::Sender<Check>>,
}

/// A password check for the checking threads, given the thread's argon2 memory.
type Check = Box<dyn FnOnce(&mut Vec<argon2::Block>) + Send>;

/// Starts the threads that check passwords and returns where to send them checks. Dedicated
/// threads, not `spawn_blocking`: each check takes about 19 MiB, which the allocator keeps
/// per thread, so a few threads bound the memory where a pool of hundreds would not. They
/// end when the sender is dropped.
fn checking_threads() -> std::sync::mpsc::Sender<Check> {
    let (send, receive) = std::sync::mpsc::channel::<Check>();
    let receive = std::sync::Arc::new(Mutex::new(receive));
    for _ in 0..LoginLimiter::CHECKS_AT_ONCE {
        let receive = std::sync::Arc::clone(&receive);
        let spawned = std::thread::Builder::new()
            .name("ferry-password-check".into())
            .spawn(move || {
                let mut blocks = Vec::new();
                loop {
                    let next = match receive.lock() {
                        Ok(receiver) => receiver.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(check) => check(&mut blocks),
                        Err(_) => return,
                    }
                }
            });
        if let Err(err) = spawned {
            tracing::error!(error = %err, "could not start a password-checking thread");
        }
    }
    send
}

#[derive(Debug, Default)]
struct Tables {
    by_name: HashMap<(String, IpAddr), Attempts>,
    by_addr: HashMap<IpAddr, Attempts>,
}

/// Recent failures and attempts still running, of one key.
#[derive(Debug, Default)]
struct Attempts {
    failures: std::collections::VecDeque<Instant>,
    running: usize,
    last_used: Option<Instant>,
}

impl Attempts {
    fn prune(&mut self, now: Instant) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= LoginLimiter::WINDOW)
        {
            self.failures.pop_front();
        }
    }

    fn count(&self) -> usize {
        self.failures.len() + self.running
    }

    fn is_stale(&self) -> bool {
        self.failures.is_empty() && self.running == 0
    }

    fn retry_after(&self, now: Instant) -> u64 {
        let oldest = self.failures.front().copied().unwrap_or(now);
        LoginLimiter::WINDOW
            .saturating_sub(now.duration_since(oldest))
            .as_secs()
            .max(1)
    }
}

/// Makes room for one more key in `map`: drops stale entries, then, if it is still full, the
/// least recently used entry with no attempt running.
fn make_room<K: Clone + Eq + std::hash::Hash>(map: &mut HashMap<K, Attempts>, now: Instant) {
    if map.len() < LoginLimiter::MAX_ENTRIES {
        return;
    }
    map.retain(|_, a| {
        a.prune(now);
        !a.is_stale()
    });
    if map.len() < LoginLimiter::MAX_ENTRIES {
        return;
    }
    let oldest = map
        .iter()
        .filter(|(_, a)| a.running == 0)
        .min_by_key(|(_, a)| a.last_used)
        .map(|(k, _)| k.clone());
    if let Some(key) = oldest {
        map.remove(&key);
    }
}

impl Default for LoginLimiter {
    fn default() -> Self {
        Self {
            tables: Mutex::default(),
            checks: std::sync::OnceLock::new(),
        }
    }
}

/// One counted sign-in attempt; say how it went with [`Reservation::failed`] or
/// [`Reservation::succeeded`]. Dropped without either (an internal error), it counts as
/// nothing.
#[derive(Debug)]
pub struct Reservation<'a> {
    limiter: &'a LoginLimiter,
    key: Option<(String, IpAddr)>,
}

impl LoginLimiter {
    /// Failures (and running attempts) allowed per user name and address within the window.
    pub const MAX_FAILURES: usize = 5;
    /// Failures (and running attempts) allowed per address, whatever the names.
    pub const MAX_FAILURES_PER_ADDRESS: usize = 30;
    /// The window.
    pub const WINDOW: Duration = Duration::from_secs(60);
    /// The most entries each table holds.
    pub const MAX_ENTRIES: usize = 10_000;
    /// Password checks (argon2, about 19 MiB and tens of milliseconds each) at once.
    pub const CHECKS_AT_ONCE: usize = 2;

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an attempt of `user` from `addr`, or refuses it (429) if this name and address,
    /// or this address, failed too often lately (attempts still running count as failures
    /// until they say otherwise). `user` must be at most [`MAX_SIGN_IN_NAME_BYTES`] long.
    pub fn reserve(&self, user: &str, addr: IpAddr) -> Result<Reservation<'_>, ServerError> {
        let now = Instant::now();
        let mut tables = self.tables();
        let key = (user.to_owned(), addr);
        let by_addr = tables.by_addr.get_mut(&addr).map(|a| {
            a.prune(now);
            (a.count(), a.retry_after(now))
        });
        if let Some((count, wait)) = by_addr
            && count >= Self::MAX_FAILURES_PER_ADDRESS
        {
            return Err(ServerError::RateLimited { retry_after: wait });
        }
        let by_name = tables.by_name.get_mut(&key).map(|a| {
            a.prune(now);
            (a.count(), a.retry_after(now))
        });
        if let Some((count, wait)) = by_name
            && count >= Self::MAX_FAILURES
        {
            return Err(ServerError::RateLimited { retry_after: wait });
        }
        if by_name.is_none() {
            make_room(&mut tables.by_name, now);
        }
        if by_addr.is_none() {
            make_room(&mut tables.by_addr, now);
        }
        let tables = &mut *tables;
        for attempts in [
            tables.by_name.entry(key.clone()).or_default(),
            tables.by_addr.entry(addr).or_default(),
        ] {
            attempts.running += 1;
            attempts.last_used = Some(now);
        }
        Ok(Reservation {
            limiter: self,
            key: Some(key),
        })
    }

    fn settle(&self, key: &(String, IpAddr), failed: bool) {
        let now = Instant::now();
        let mut tables = self.tables();
        if let Some(a) = tables.by_name.get_mut(key) {
            a.running = a.running.saturating_sub(1);
            if failed {
                a.failures.push_back(now);
            } else {
                a.failures.clear();
            }
        }
        if let Some(a) = tables.by_addr.get_mut(&key.1) {
            a.running = a.running.saturating_sub(1);
            if failed {
                a.failures.push_back(now);
            }
        }
    }

    /// Verifies `password` against `stored` ([`verify_password`]) on one of
    /// [`LoginLimiter::CHECKS_AT_ONCE`] threads of its own; checks beyond that wait in turn.
    pub async fn verify(
        &self,
        stored: Option<String>,
        password: String,
    ) -> Result<bool, ServerError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.checks
            .get_or_init(checking_threads)
            .send(Box::new(move |blocks: &mut Vec<argon2::Block>| {
                let _ = done.send(verify_with_memory(stored.as_deref(), &password, blocks));
            }))
            .map_err(|_| ServerError::Internal("password checks stopped".into()))?;
        result
            .await
            .map_err(|_| ServerError::Internal("a password check failed".into()))?
    }

    /// How many entries the tables hold (for tests).
    pub fn entries(&self) -> usize {
        let tables = self.tables();
        tables.by_name.len() + tables.by_addr.len()
    }
}

impl Reservation<'_> {
    /// The password was wrong: the attempt stays counted for the window.
    pub fn failed(mut self) {
        if let Some(key) = self.key.take() {
            self.limiter.settle(&key, true);
        }
    }

    /// The password was right: this name's failures from this address are forgotten.
    pub fn succeeded(mut self) {
        if let Some(key) = self.key.take() {
            self.limiter.settle(&key, false);
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut tables = self.limiter.tables();
            if let Some(a) = tables.by_name.get_mut(&key) {
                a.running = a.running.saturating_sub(1);
            }
            if let Some(a) = tables.by_addr.get_mut(&key.1) {
                a.running = a.running.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sign_in_failures_are_limited_per_user_and_address() {
        let limiter = LoginLimiter::default();
        let addr: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..LoginLimiter::MAX_FAILURES {
            limiter.reserve("ann", addr).unwrap().failed();
        }
        assert!(matches!(
            limiter.reserve("ann", addr),
            Err(ServerError::RateLimited { .. })
        ));
        limiter.reserve("bob", addr).unwrap().succeeded();
        limiter
            .reserve("ann", "127.0.0.2".parse().unwrap())
            .unwrap()
            .succeeded();
        tokio::time::advance(LoginLimiter::WINDOW).await;
        limiter.reserve("ann", addr).unwrap().succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn running_attempts_count_before_their_outcome_is_known() {
        let limiter = LoginLimiter::default();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let running: Vec<_> = (0..LoginLimiter::MAX_FAILURES)
            .map(|_| limiter.reserve("ann", addr).unwrap())
            .collect();
        assert!(
            matches!(
                limiter.reserve("ann", addr),
                Err(ServerError::RateLimited { .. })
            ),
            "simultaneous attempts cannot all pass the check"
        );
        drop(running);
        limiter.reserve("ann", addr).unwrap().succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn the_tables_stay_bounded_whatever_names_come() {
        let limiter = LoginLimiter::default();
        for i in 0..(LoginLimiter::MAX_ENTRIES * 2) {
            let addr = IpAddr::from(u32::try_from(i).unwrap().to_be_bytes());
            if let Ok(r) = limiter.reserve(&format!("user{i}"), addr) {
                r.failed();
            }
        }
        assert!(limiter.entries() <= 2 * LoginLimiter::MAX_ENTRIES);
    }
}
