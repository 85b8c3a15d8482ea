//! The fault-injection proxy itself, against a tiny echo server on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_tests::proxy::{FaultProxy, Link};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server that sends back every byte it receives, and counts them.
async fn echo_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A server that reads each connection to its end and records how many bytes it got.
async fn counting_server() -> (std::net::SocketAddr, Arc<Mutex<Vec<usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let mut all = Vec::new();
                let _ = socket.read_to_end(&mut all).await;
                record.lock().unwrap().push(all.len());
            });
        }
    });
    (addr, received)
}

/// Sends `data` through a new connection and reads back what arrives before it closes.
async fn round_trip(proxy: &FaultProxy, data: &[u8]) -> Vec<u8> {
    let mut socket = TcpStream::connect(proxy.addr()).await.unwrap();
    let _ = socket.write_all(data).await;
    let _ = socket.shutdown().await;
    let mut back = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut back)).await;
    back
}

#[tokio::test]
async fn forwards_untouched_without_faults() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(round_trip(&proxy, &data).await, data);
    assert_eq!(proxy.upstream_bytes(), 200_000);
}

#[tokio::test]
async fn cuts_exactly_at_the_offsets_counted_over_all_connections() {
    let (server, received) = counting_server().await;
    let proxy = FaultProxy::start(server).await.unwrap();
    proxy.cut_at([1000, 2500]);
    for _ in 0..3 {
        round_trip(&proxy, &[7u8; 2000]).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        *received.lock().unwrap(),
        [1000, 1500, 2000],
        "cut at byte 1000, then at 2500 overall, then no cut is left"
    );
    assert_eq!(proxy.cuts_done(), 2);
}

#[tokio::test]
async fn flips_one_bit_at_the_offset() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.flip_bit_at(10);
    let back = round_trip(&proxy, &[0u8; 20]).await;
    let mut expected = vec![0u8; 20];
    expected[10] = 1;
    assert_eq!(back, expected);
}

#[tokio::test]
async fn refuses_then_accepts_again() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.refuse_for(Duration::from_millis(300));
    assert!(
        round_trip(&proxy, b"hello").await.is_empty(),
        "refused connections close at once"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(round_trip(&proxy, b"hello").await, b"hello");
    assert_eq!(proxy.connections(), 2);
}

#[tokio::test]
async fn a_shaped_link_delays_every_round_trip_and_caps_the_rate_over_all_connections() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.shape(Link {
        round_trip: Duration::from_millis(40),
        rate: Some(4_000_000),
    });
    // One byte there and back: a round trip at least.
    let started = tokio::time::Instant::now();
    assert_eq!(round_trip(&proxy, b"x").await, b"x");
    assert!(
        started.elapsed() >= Duration::from_millis(40),
        "a byte came back in {:?}, under the 40 ms round trip",
        started.elapsed()
    );
    // Pieces in flight together: 1 MB crosses in 64 KiB pieces, each delayed 20 ms each way;
    // one after another that would be 16 x 40 ms (a long pipe, not a slow one).
    let unlimited = FaultProxy::start(echo_server().await).await.unwrap();
    unlimited.shape(Link {
        round_trip: Duration::from_millis(40),
        rate: None,
    });
    let started = tokio::time::Instant::now();
    let back = round_trip(&unlimited, &vec![3u8; 1_000_000]).await;
    assert_eq!(back.len(), 1_000_000);
    assert!(
        started.elapsed() < Duration::from_millis(16 * 40),
        "1 MB took {:?}: the line is not pipelined",
        started.elapsed()
    );
    // 2 MB over two connections at once share the 4 MB/s: half a second at least.
    let started = tokio::time::Instant::now();
    let data = vec![7u8; 1_000_000];
    let (a, b) = tokio::join!(round_trip(&proxy, &data), round_trip(&proxy, &data));
    assert_eq!((a.len(), b.len()), (1_000_000, 1_000_000));
    assert!(
        started.elapsed() >= Duration::from_millis(480),
        "2 MB crossed a 4 MB/s link in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn stalls_and_throttles_hold_traffic_back() {
    let proxy = FaultProxy::start(echo_server().await).await.unwrap();
    proxy.stall_for(Duration::from_millis(300));
    let started = tokio::time::Instant::now();
    assert_eq!(round_trip(&proxy, b"x").await, b"x");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "the stall held the byte back"
    );

    proxy.throttle(Some(20_000));
    let started = tokio::time::Instant::now();
    assert_eq!(round_trip(&proxy, &[1u8; 10_000]).await.len(), 10_000);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "10 kB at 20 kB/s take about half a second"
    );
}
