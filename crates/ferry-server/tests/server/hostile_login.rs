//! Hostile sign-ins (issue 10, finding 1): floods of huge and of many names against the
//! real binary with its memory read from `/proc`, 200 simultaneous wrong passwords while an
//! authenticated request is timed, unknown users costing what known ones cost, and the
//! client address with and without `--trust-proxy`.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;

use crate::hostile_support::ServerProcess;
use crate::support::TestServer;

/// What the limiter lets through per name and address (`LoginLimiter::MAX_FAILURES`).
const MAX_FAILURES: usize = ferry_server::accounts::LoginLimiter::MAX_FAILURES;

async fn sign_in(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    forwarded: Option<&str>,
) -> u16 {
    let mut request = http.post(url).json(body);
    if let Some(addr) = forwarded {
        request = request.header("x-forwarded-for", addr);
    }
    request.send().await.map_or(0, |r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_floods_of_huge_and_many_names_keep_the_server_memory_bounded() {
    let server = ServerProcess::start(&[]);
    // A connection per request: the server closes the ones whose huge body it refused
    // unread, and a pooled one reused after that would fail for the client's own reasons.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = server.url("/api/v1/login");
    // Warm up: a real sign-in and a wrong one, so argon2's memory is counted in the baseline.
    assert_eq!(
        sign_in(
            &http,
            &url,
            &json!({"username": "ann", "password": "ann's password"}),
            None
        )
        .await,
        200
    );
    sign_in(
        &http,
        &url,
        &json!({"username": "ann", "password": "x"}),
        None,
    )
    .await;
    let baseline = server.rss_kib();

    // 64 names of 1 MiB, 2,000 distinct names of 60 KB, 3,000 distinct short names: before
    // the fix every one stayed in the limiter for a minute (more than 200 MiB).
    let huge = (0..64).map(|i| format!("{i}{}", "h".repeat(1 << 20)));
    let long = (0..2_000).map(|i| format!("{i}{}", "l".repeat(60_000)));
    let short = (0..3_000).map(|i| format!("user-{i}-{}", "s".repeat(40)));
    // One phase after the other, so the answers can be told apart.
    let mut statuses: Vec<u16> = Vec::new();
    let phases: Vec<Vec<String>> = vec![huge.collect(), long.collect(), short.collect()];
    for phase in phases {
        let got: Vec<u16> = futures_util::stream::iter(phase)
            .map(|name| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    sign_in(
                        &http,
                        &url,
                        &json!({"username": name, "password": "guess"}),
                        None,
                    )
                    .await
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        statuses.extend(got);
    }
    // A body of a MiB is refused before it is read: the server may answer and close while
    // the client is still writing, which the client sees as a reset (0) instead of 413.
    for (i, status) in statuses.iter().enumerate() {
        let allowed: &[u16] = if i < 64 {
            &[0, 400, 413]
        } else {
            &[400, 401, 413, 429]
        };
        assert!(
            allowed.contains(status),
            "every hostile sign-in is refused cleanly, not {status} (request {i})"
        );
    }
    assert!(
        statuses[..2_064].iter().all(|s| [0, 400, 413].contains(s)),
        "names longer than 256 bytes are refused as bad requests"
    );
    let grown_mib = server.rss_kib().saturating_sub(baseline) / 1024;
    assert!(
        grown_mib < 100,
        "the server's memory grew by {grown_mib} MiB under a sign-in flood (bound: 100 MiB)"
    );
    let health = http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "the server still answers");
    let files = http
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), 200, "tokens still work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_simultaneous_wrong_passwords_cost_at_most_the_allowed_checks_and_stall_nobody()
{
    let server = TestServer::start().await;
    let url = server.url("/api/v1/login");
    let http = TestServer::http();
    let location = crate::hostile_support::create_upload(&server.base, &server.bob, 10, "b").await;
    let flood: Vec<_> = (0..200)
        .map(|i| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let body = json!({"username": "ann", "password": format!("guess {i}")});
                sign_in(&http, &url, &body, None).await
            })
        })
        .collect();
    // While the flood runs: bob's requests answer quickly (readers do not wait for the
    // writer, and no password is checked under the database lock).
    let started = Instant::now();
    let files = http
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.bob)
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), 200);
    let (status, offset) = crate::hostile_support::head(&server.base, &server.bob, &location).await;
    assert_eq!((status, offset), (200, Some(0)));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "an authenticated listing and HEAD took {took:?} during a sign-in flood (bound: 2 s)"
    );
    let mut checked = 0;
    let mut limited = 0;
    for task in flood {
        match task.await.unwrap() {
            401 => checked += 1,
            429 => limited += 1,
            other => panic!("a wrong password answers 401 or 429, not {other}"),
        }
    }
    assert!(
        checked <= MAX_FAILURES,
        "{checked} of 200 simultaneous guesses had their password checked (allowed: {MAX_FAILURES})"
    );
    assert_eq!(checked + limited, 200);
    let right = json!({"username": "ann", "password": "ann's password"});
    assert_eq!(
        sign_in(&http, &url, &right, None).await,
        429,
        "even the right password waits out the window after the guesses"
    );
}

#[tokio::test]
async fn unknown_users_cost_the_same_password_work_as_known_ones() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    let url = server.url("/api/v1/login");
    let timed = |user: &'static str| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let mut times = Vec::new();
            for i in 0..MAX_FAILURES {
                let body = json!({"username": user, "password": format!("wrong {i}")});
                let started = Instant::now();
                assert_eq!(sign_in(&http, &url, &body, None).await, 401);
                times.push(started.elapsed());
            }
            times.sort();
            times[times.len() / 2]
        }
    };
    let known = timed("ann").await;
    let unknown = timed("nobody").await;
    assert!(
        unknown * 4 >= known,
        "an unknown user's sign-in took {unknown:?}, a known one's {known:?}: the difference \
         tells which names exist"
    );
}

#[tokio::test]
async fn the_limiter_counts_the_tcp_peer_unless_a_proxy_is_trusted() {
    let wrong = json!({"username": "ann", "password": "wrong"});
    let http = TestServer::http();

    let direct = TestServer::start().await;
    let url = direct.url("/api/v1/login");
    for _ in 0..MAX_FAILURES {
        assert_eq!(sign_in(&http, &url, &wrong, Some("10.0.0.1")).await, 401);
    }
    assert_eq!(
        sign_in(&http, &url, &wrong, Some("10.0.0.2")).await,
        429,
        "without --trust-proxy a forged X-Forwarded-For does not escape the limit"
    );

    let proxied = TestServer::start_with(|c| c.trust_proxy = true).await;
    let url = proxied.url("/api/v1/login");
    for _ in 0..MAX_FAILURES {
        assert_eq!(
            sign_in(&http, &url, &wrong, Some("192.0.2.9, 10.0.0.1")).await,
            401
        );
    }
    assert_eq!(
        sign_in(&http, &url, &wrong, Some("192.0.2.7, 10.0.0.1")).await,
        429,
        "the right-most entry (the proxy's own view) counts, not what the client wrote"
    );
    assert_eq!(
        sign_in(&http, &url, &wrong, Some("10.0.0.2")).await,
        401,
        "another client behind the proxy has its own count"
    );
}
