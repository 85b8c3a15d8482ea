//! The JSON API against a live server: info, sign-in, sign-out, file list, health.

use serde_json::Value;

use crate::support::TestServer;

#[tokio::test]
async fn info_announces_both_protocols_without_sign_in() {
    let server = TestServer::start_with(|c| c.max_size = Some(1 << 30)).await;
    let info: Value = TestServer::http()
        .get(server.url("/api/v1/info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["server"], "ferry-server");
    assert_eq!(info["protocols"]["tus"]["endpoint"], "/files/");
    assert_eq!(info["protocols"]["tus"]["max_size"], 1 << 30);
    let extensions: Vec<&str> = info["protocols"]["tus"]["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for needed in [
        "creation",
        "creation-with-upload",
        "creation-defer-length",
        "expiration",
        "checksum",
        "termination",
        "concatenation",
        "concatenation-unfinished",
    ] {
        assert!(
            extensions.contains(&needed),
            "{needed} is announced: {extensions:?}"
        );
    }
    assert_eq!(
        info["protocols"]["tus"]["checksum_algorithms"],
        serde_json::json!(["sha1", "sha256", "md5"])
    );
    assert_eq!(info["protocols"]["galileo"]["endpoint"], "/galileo");
    assert_eq!(info["protocols"]["galileo"]["resume"], true);
    let health = TestServer::http()
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());
}

#[tokio::test]
async fn login_issues_a_token_that_logout_revokes() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    let login =
        serde_json::json!({"username": "ann", "password": "ann's password", "device": "laptop"});
    let reply = http
        .post(server.url("/api/v1/login"))
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let token = reply.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let files = http
        .get(server.url("/api/v1/files"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(files.status(), 200);
    assert_eq!(files.json::<Value>().await.unwrap(), serde_json::json!([]));

    let out = http
        .post(server.url("/api/v1/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 200);
    let after = http
        .get(server.url("/api/v1/files"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "a revoked token is refused");
    assert_eq!(after.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn missing_wrong_and_query_tokens() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    let none = http.get(server.url("/api/v1/files")).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("sign-in required"),
        "{body}"
    );
    let wrong = http
        .get(server.url("/api/v1/files"))
        .bearer_auth("fry_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let query = http
        .get(server.url(&format!("/api/v1/files?access_token={}", server.ann)))
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200, "browsers put the token in the query");
}

#[tokio::test]
async fn wrong_passwords_are_rate_limited_per_user_and_address() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    let attempt = |password: &'static str| {
        let body = serde_json::json!({"username": "ann", "password": password, "device": "x"});
        http.post(server.url("/api/v1/login")).json(&body).send()
    };
    for _ in 0..5 {
        assert_eq!(attempt("guess").await.unwrap().status(), 401);
    }
    let limited = attempt("ann's password").await.unwrap();
    assert_eq!(
        limited.status(),
        429,
        "even the right password waits once the limit is hit"
    );
    assert!(limited.headers().contains_key("retry-after"));
    let bob = serde_json::json!({"username": "bob", "password": "bob's password", "device": "x"});
    assert_eq!(
        http.post(server.url("/api/v1/login"))
            .json(&bob)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn malformed_login_bodies_are_400_not_500() {
    let server = TestServer::start().await;
    let http = TestServer::http();
    for body in ["", "{", "[]", r#"{"username": 5}"#] {
        let reply = http
            .post(server.url("/api/v1/login"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 400, "{body:?}");
    }
}

#[tokio::test]
async fn tokens_survive_a_restart_and_nothing_but_server_state_is_written() {
    let server = TestServer::start().await.restart().await;
    assert!(server.addr.ip().is_loopback());
    let files = TestServer::http()
        .get(server.url("/api/v1/files"))
        .bearer_auth(&server.bob)
        .send()
        .await
        .unwrap();
    assert_eq!(
        files.status(),
        200,
        "tokens live in server.db, not in memory"
    );
    let written = crate::support::files_under(&server.data());
    assert!(
        written
            .iter()
            .all(|p| p.to_str().unwrap().starts_with("server.db")),
        "only the database exists before any upload: {written:?}"
    );
    assert!(!server.file("ann", "anything").exists());
}
