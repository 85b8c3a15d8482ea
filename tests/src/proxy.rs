//! A fault-injection TCP proxy: 127.0.0.1:PORT -> a target server.
//!
//! Faults are placed by the count of bytes sent *upstream* (client to server), counted over
//! all connections since the proxy started, so a test can say "cut the connection whenever
//! the 30 offsets in this list are crossed" without knowing how the client splits its
//! requests. Downstream bytes (server to client) are forwarded as they come.
//!
//! - [`FaultProxy::cut_at`]: when the upstream count reaches an offset, the bytes up to it
//!   are delivered and the connection is closed both ways.
//! - [`FaultProxy::flip_bit_at`]: the byte at an upstream offset arrives with its lowest bit
//!   flipped.
//! - [`FaultProxy::stall_for`]: nothing moves in either direction for a while; connections
//!   stay open (a sleeping laptop, a dead Wi-Fi).
//! - [`FaultProxy::throttle`]: upstream bytes per second, per connection.
//! - [`FaultProxy::shape`]: a long, narrow link: every byte arrives a fixed delay after it was
//!   sent, both ways (half the round trip), and upstream bytes share one rate over all
//!   connections (a link's capacity). Set it before the client connects; for benchmarks and
//!   for tests of behaviour over a real-world round trip.
//! - [`FaultProxy::refuse_for`]: new connections are closed at once for a while.
//! - [`FaultProxy::freeze_at`] / [`FaultProxy::freeze_on`]: everything stops, in both
//!   directions and on every connection, once the upstream count reaches an offset or once
//!   a byte pattern (a request line, a header) goes upstream, before or after that request
//!   is forwarded; it stays frozen until [`FaultProxy::thaw`]. A test freezes at a chosen
//!   step of a protocol ("the final upload was asked for", "the server answered it") and
//!   kills the client there.
//!
//! The proxy stops when dropped. It only ever connects to the target it was given.

use std::collections::BTreeSet;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The size of one forwarding read.
const BUFFER: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Plan {
    /// Upstream offsets at which a connection is cut.
    cuts: BTreeSet<u64>,
    /// Upstream offsets whose byte has its lowest bit flipped.
    flips: BTreeSet<u64>,
    /// Upstream bytes forwarded so far, over all connections.
    upstream: u64,
    /// Bytes per second upstream, if throttled (per connection).
    rate: Option<u64>,
    /// The shape of the link, if set.
    link: Option<Link>,
    /// When the link's capacity is free again (upstream, over all connections).
    link_free: Option<Instant>,
    stalled_until: Option<Instant>,
    refusing_until: Option<Instant>,
    connections: u64,
    cuts_done: u64,
    /// Upstream offsets at which everything freezes.
    freeze_offsets: BTreeSet<u64>,
    /// Byte patterns whose upstream passage freezes everything (once each).
    freeze_patterns: Vec<(Vec<u8>, Freeze)>,
    /// Nothing moves while set.
    frozen: bool,
    /// Woken when the proxy thaws.
    thawed: Arc<tokio::sync::Notify>,
}

/// A link with a round trip and a capacity ([`FaultProxy::shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// The round trip: each direction delays bytes by half of it.
    pub round_trip: Duration,
    /// Upstream bytes per second over all connections (`None`: unlimited).
    pub rate: Option<u64>,
}

/// When a pattern freezes the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freeze {
    /// Before the bytes that hold it are forwarded: the server never sees the request.
    Before,
    /// Right after they were forwarded: the server gets the request, its answer is held.
    After,
}

/// What the forwarding loop does with the bytes it just read.
struct Step {
    /// How many of them to forward.
    forward: usize,
    /// Offsets (within the read) to flip.
    flips: Vec<usize>,
    /// Close the connection after forwarding.
    cut: bool,
    /// Freeze everything after forwarding (the rest of the read follows once thawed).
    freeze: bool,
}

/// A running proxy. See the [module documentation](self).
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    plan: Arc<Mutex<Plan>>,
    task: JoinHandle<()>,
}

fn lock(plan: &Mutex<Plan>) -> MutexGuard<'_, Plan> {
    plan.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to `target`.
    pub async fn start(target: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let plan = Arc::new(Mutex::new(Plan::default()));
        let accept_plan = Arc::clone(&plan);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let refusing = {
                    let mut plan = lock(&accept_plan);
                    plan.connections += 1;
                    plan.refusing_until
                        .is_some_and(|until| Instant::now() < until)
                };
                if refusing {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, target, Arc::clone(&accept_plan)));
            }
        });
        Ok(Self { addr, plan, task })
    }

    /// The proxy's address: point the client here.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the connection each time the upstream byte count reaches one of `offsets`.
    pub fn cut_at(&self, offsets: impl IntoIterator<Item = u64>) {
        lock(&self.plan).cuts.extend(offsets);
    }

    /// Flips the lowest bit of the upstream byte at `offset`.
    pub fn flip_bit_at(&self, offset: u64) {
        lock(&self.plan).flips.insert(offset);
    }

    /// Stops all traffic for `duration`, keeping connections open.
    pub fn stall_for(&self, duration: Duration) {
        lock(&self.plan).stalled_until = Some(Instant::now() + duration);
    }

    /// Limits upstream traffic to `bytes_per_second` (`None`: unlimited).
    pub fn throttle(&self, bytes_per_second: Option<u64>) {
        lock(&self.plan).rate = bytes_per_second.filter(|r| *r > 0);
    }

    /// Shapes the link of connections made from now on (see [`Link`]).
    pub fn shape(&self, link: Link) {
        lock(&self.plan).link = Some(link);
    }

    /// Closes new connections at once for `duration`.
    pub fn refuse_for(&self, duration: Duration) {
        lock(&self.plan).refusing_until = Some(Instant::now() + duration);
    }

    /// Freezes everything once the upstream count reaches `offset` (the bytes up to it are
    /// forwarded first).
    pub fn freeze_at(&self, offset: u64) {
        lock(&self.plan).freeze_offsets.insert(offset);
    }

    /// Freezes everything the next time `pattern` (ASCII case ignored, as header names are)
    /// goes upstream within one connection,
    /// [`Freeze::Before`] or [`Freeze::After`] the bytes holding it are forwarded.
    pub fn freeze_on(&self, pattern: &[u8], when: Freeze) {
        lock(&self.plan)
            .freeze_patterns
            .push((pattern.to_vec(), when));
    }

    /// Whether the proxy is frozen now.
    pub fn frozen(&self) -> bool {
        lock(&self.plan).frozen
    }

    /// Lets traffic move again and forgets freezes not yet reached.
    pub fn thaw(&self) {
        let mut plan = lock(&self.plan);
        plan.frozen = false;
        plan.freeze_offsets.clear();
        plan.freeze_patterns.clear();
        plan.thawed.notify_waiters();
    }

    /// Upstream bytes forwarded so far.
    pub fn upstream_bytes(&self) -> u64 {
        lock(&self.plan).upstream
    }

    /// Connections accepted so far (refused ones included).
    pub fn connections(&self) -> u64 {
        lock(&self.plan).connections
    }

    /// Cuts made so far.
    pub fn cuts_done(&self) -> u64 {
        lock(&self.plan).cuts_done
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits while traffic is stalled or frozen.
async fn wait_out_stall(plan: &Mutex<Plan>) {
    loop {
        let (until, thawed) = {
            let plan = lock(plan);
            (plan.stalled_until, Arc::clone(&plan.thawed))
        };
        if let Some(until) = until.filter(|u| Instant::now() < *u) {
            tokio::time::sleep_until(until).await;
            continue;
        }
        // Frozen: wait for the thaw (registered before looking, so it cannot be missed).
        let notified = thawed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if !lock(plan).frozen {
            return;
        }
        notified.await;
    }
}

/// The freeze a pattern in `window` (the end of the previous read and this one) sets off,
/// if any; the pattern is used up. ASCII case does not matter (header names).
fn pattern_freeze(plan: &Mutex<Plan>, window: &[u8]) -> Option<Freeze> {
    let mut plan = lock(plan);
    let index = plan.freeze_patterns.iter().position(|(pattern, _)| {
        window
            .windows(pattern.len())
            .any(|w| w.eq_ignore_ascii_case(pattern))
    })?;
    Some(plan.freeze_patterns.remove(index).1)
}

/// Decides what happens to `n` upstream bytes just read, and counts them.
fn plan_step(plan: &Mutex<Plan>, n: usize) -> Step {
    let mut plan = lock(plan);
    let start = plan.upstream;
    let end = start + n as u64;
    let cut_at = plan.cuts.range(start + 1..=end).next().copied();
    if let Some(cut) = cut_at {
        plan.cuts.remove(&cut);
        plan.cuts_done += 1;
    }
    let freeze = plan
        .freeze_offsets
        .range(start + 1..=end)
        .next()
        .copied()
        .filter(|f| cut_at.is_none_or(|c| *f < c));
    if let Some(at) = freeze {
        plan.freeze_offsets.remove(&at);
    }
    let forward_end = freeze.or(cut_at).unwrap_or(end);
    let flips: Vec<u64> = plan.flips.range(start..forward_end).copied().collect();
    for flip in &flips {
        plan.flips.remove(flip);
    }
    plan.upstream = forward_end;
    Step {
        forward: usize::try_from(forward_end - start).unwrap_or(n),
        flips: flips
            .into_iter()
            .map(|f| usize::try_from(f - start).unwrap_or(0))
            .collect(),
        cut: cut_at.is_some() && freeze.is_none(),
        freeze: freeze.is_some(),
    }
}

/// Where forwarded bytes go: straight to the socket, or along a delay line that delivers
/// each piece a fixed time after it was read (pieces in flight together: a long pipe, not a
/// slow one).
enum Out {
    Direct(OwnedWriteHalf),
    /// Pieces with the instant they were read; `None` shuts the socket's write side.
    Delayed(mpsc::Sender<Option<(Instant, Vec<u8>)>>),
}

impl Out {
    /// Pieces in flight on a delay line at most (of at most [`BUFFER`] bytes each).
    const IN_FLIGHT: usize = 512;

    fn new(mut to: OwnedWriteHalf, delay: Duration) -> Self {
        if delay.is_zero() {
            return Self::Direct(to);
        }
        let (sender, mut pieces) = mpsc::channel::<Option<(Instant, Vec<u8>)>>(Self::IN_FLIGHT);
        tokio::spawn(async move {
            while let Some(piece) = pieces.recv().await {
                let Some((read_at, bytes)) = piece else {
                    let _ = to.shutdown().await;
                    return;
                };
                tokio::time::sleep_until(read_at + delay).await;
                if to.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        });
        Self::Delayed(sender)
    }

    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Self::Direct(to) => to.write_all(bytes).await,
            Self::Delayed(line) => line
                .send(Some((Instant::now(), bytes.to_vec())))
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }

    async fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Direct(to) => to.flush().await,
            Self::Delayed(_) => Ok(()),
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Self::Direct(to) => to.shutdown().await,
            Self::Delayed(line) => line
                .send(None)
                .await
                .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe)),
        }
    }
}

/// Waits until the link's shared capacity has carried `n` more upstream bytes. The timer
/// ticks in milliseconds, coarser than a piece at 100 MB/s: pieces go at once while the link
/// is at most [`BURST`] ahead of its schedule, and a wake-up late by a tick is made up by the
/// next pieces, so the average rate is the link's.
async fn pace(plan: &Mutex<Plan>, n: usize) {
    /// How far ahead of its schedule the link may run, and how much a late wake-up is made up.
    const BURST: Duration = Duration::from_millis(3);
    let (done, now) = {
        let mut plan = lock(plan);
        let Some(rate) = plan.link.and_then(|link| link.rate) else {
            return;
        };
        let now = Instant::now();
        let credit = now.checked_sub(BURST).unwrap_or(now);
        let start = plan.link_free.map_or(now, |free| free.max(credit));
        let done = start + Duration::from_nanos(n as u64 * 1_000_000_000 / rate);
        plan.link_free = Some(done);
        (done, now)
    };
    if done > now + BURST {
        tokio::time::sleep_until(done).await;
    }
}

async fn upstream(mut from: OwnedReadHalf, mut to: Out, plan: Arc<Mutex<Plan>>) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    // The last bytes of the previous read, so a pattern split across reads is still seen.
    let mut tail: Vec<u8> = Vec::new();
    loop {
        wait_out_stall(&plan).await;
        let rate = lock(&plan).rate;
        let limit = rate.map_or(BUFFER, |r| {
            usize::try_from(r / 20).unwrap_or(BUFFER).clamp(1, BUFFER)
        });
        let n = from.read(&mut buf[..limit]).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        tail.extend_from_slice(&buf[..n]);
        let pattern = pattern_freeze(&plan, &tail);
        tail.drain(..tail.len().saturating_sub(256));
        if pattern == Some(Freeze::Before) {
            lock(&plan).frozen = true;
            wait_out_stall(&plan).await;
        }
        let mut step = plan_step(&plan, n);
        for flip in std::mem::take(&mut step.flips) {
            buf[flip] ^= 1;
        }
        wait_out_stall(&plan).await;
        to.write_all(&buf[..step.forward]).await?;
        if step.freeze {
            lock(&plan).frozen = true;
            wait_out_stall(&plan).await;
            // The rest of this read, counted now that it moves.
            let rest = n - step.forward;
            if rest > 0 {
                lock(&plan).upstream += rest as u64;
                to.write_all(&buf[step.forward..n]).await?;
            }
        }
        if pattern == Some(Freeze::After) {
            to.flush().await?;
            lock(&plan).frozen = true;
        }
        if step.cut {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "cut by the proxy",
            ));
        }
        if let Some(rate) = rate {
            tokio::time::sleep(Duration::from_micros(n as u64 * 1_000_000 / rate)).await;
        }
        pace(&plan, n).await;
    }
}

async fn downstream(
    mut from: OwnedReadHalf,
    mut to: Out,
    plan: Arc<Mutex<Plan>>,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    loop {
        let n = from.read(&mut buf).await?;
        if n == 0 {
            return to.shutdown().await;
        }
        wait_out_stall(&plan).await;
        to.write_all(&buf[..n]).await?;
    }
}

/// Forwards one connection until either side closes or a cut ends it (both directions).
async fn forward(client: TcpStream, target: SocketAddr, plan: Arc<Mutex<Plan>>) {
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let delay = lock(&plan)
        .link
        .map_or(Duration::ZERO, |link| link.round_trip / 2);
    let up = upstream(
        client_read,
        Out::new(server_write, delay),
        Arc::clone(&plan),
    );
    let down = downstream(server_read, Out::new(client_write, delay), plan);
    tokio::pin!(up, down);
    // A cut (or any error) upstream ends both directions: the halves drop and the sockets
    // close. A client that merely finished sending still gets the server's answer.
    tokio::select! {
        result = &mut up => if result.is_ok() { let _ = down.await; },
        _ = &mut down => {},
    }
}
