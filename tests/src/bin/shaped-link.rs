//! `shaped-link TARGET ROUND_TRIP_MS RATE_MB_PER_S`: the fault proxy's shaped link as a
//! process, for benchmarks run from scripts (`make bench`): listens on 127.0.0.1 (a free
//! port), prints `listening on http://127.0.0.1:PORT`, and forwards every connection to
//! TARGET (`HOST:PORT`) with that round trip, upstream bytes capped at that many MB/s
//! (10^6 bytes) over all connections (0: no cap), until it is killed.

use std::net::SocketAddr;
use std::time::Duration;

use ferry_tests::proxy::{FaultProxy, Link};

fn usage() -> ! {
    eprintln!("usage: shaped-link TARGET_HOST:PORT ROUND_TRIP_MS RATE_MB_PER_S");
    std::process::exit(2)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, round_trip, rate] = args.as_slice() else {
        usage()
    };
    let (Ok(target), Ok(round_trip), Ok(rate)) = (
        target.parse::<SocketAddr>(),
        round_trip.parse::<u64>(),
        rate.parse::<u64>(),
    ) else {
        usage()
    };
    let proxy = FaultProxy::start(target)
        .await
        .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1: {e}"));
    proxy.shape(Link {
        round_trip: Duration::from_millis(round_trip),
        rate: (rate > 0).then(|| rate * 1_000_000),
    });
    println!("listening on http://{}", proxy.addr());
    std::future::pending::<()>().await;
}
