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
//! - [`FaultProxy::throttle`]: upstream bytes per second.
//! - [`FaultProxy::refuse_for`]: new connections are closed at once for a while.
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
    /// Bytes per second upstream, if throttled.
    rate: Option<u64>,
    stalled_until: Option<Instant>,
    refusing_until: Option<Instant>,
    connections: u64,
    cuts_done: u64,
}

/// What the forwarding loop does with the bytes it just read.
struct Step {
    /// How many of them to forward.
    forward: usize,
    /// Offsets (within the read) to flip.
    flips: Vec<usize>,
    /// Close the connection after forwarding.
    cut: bool,
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

    /// Closes new connections at once for `duration`.
    pub fn refuse_for(&self, duration: Duration) {
        lock(&self.plan).refusing_until = Some(Instant::now() + duration);
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

/// Waits while traffic is stalled.
async fn wait_out_stall(plan: &Mutex<Plan>) {
    loop {
        let until = lock(plan).stalled_until;
        match until {
            Some(until) if Instant::now() < until => tokio::time::sleep_until(until).await,
            _ => return,
        }
    }
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
    let forward_end = cut_at.unwrap_or(end);
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
        cut: cut_at.is_some(),
    }
}

async fn upstream(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    plan: Arc<Mutex<Plan>>,
) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
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
        let step = plan_step(&plan, n);
        for flip in step.flips {
            buf[flip] ^= 1;
        }
        wait_out_stall(&plan).await;
        to.write_all(&buf[..step.forward]).await?;
        if step.cut {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "cut by the proxy",
            ));
        }
        if let Some(rate) = rate {
            tokio::time::sleep(Duration::from_micros(n as u64 * 1_000_000 / rate)).await;
        }
    }
}

async fn downstream(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
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
    let up = upstream(client_read, server_write, Arc::clone(&plan));
    let down = downstream(server_read, client_write, plan);
    tokio::pin!(up, down);
    // A cut (or any error) upstream ends both directions: the halves drop and the sockets
    // close. A client that merely finished sending still gets the server's answer.
    tokio::select! {
        result = &mut up => if result.is_ok() { let _ = down.await; },
        _ = &mut down => {},
    }
}
