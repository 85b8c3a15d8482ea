//! Running ferry-server as an operator does: options from a TOML file (flags override it),
//! clear refusals of a bad file, and `GET /metrics` on its own listener, counting what real
//! tus and GalileoSend clients did, and nothing a client chose.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferry_tests::process::Listening;

use crate::galileo_client::upload_like_the_original_client;
use crate::hostile_support::{BIN, cli};

fn serve(args: &[&str]) -> Listening {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .args(args)
        .env("RUST_LOG", "ferry_server=info");
    Listening::start("ferry-server serve", command, Duration::from_secs(20))
}

async fn max_size(url: &str) -> serde_json::Value {
    let info: serde_json::Value = reqwest::get(format!("{url}/api/v1/info"))
        .await
        .expect("GET /api/v1/info")
        .json()
        .await
        .expect("JSON");
    info["protocols"]["tus"]["max_size"].clone()
}

fn write_config(dir: &Path, text: &str) -> String {
    let file = dir.join("config.toml");
    std::fs::write(&file, text).expect("writing the config file");
    file.to_str().expect("UTF-8").to_owned()
}

#[tokio::test]
async fn serve_takes_its_options_from_the_file_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody can bind: the flag must win over it.
    let config = write_config(
        dir.path(),
        "# what an operator writes\nlisten = \"192.0.2.1:1\"\ndata = \"state\"\nmax-size = 12345\n",
    );
    let server = serve(&["--config", &config, "--listen", "127.0.0.1:0"]);
    assert_eq!(max_size(&server.url).await, 12345, "max-size from the file");
    assert!(
        dir.path().join("state/server.db").is_file(),
        "a relative data path is the file's directory's"
    );
    assert!(server.metrics.is_none(), "no metrics listener unless asked");
    let _ = server.terminate(Duration::from_secs(20));

    let server = serve(&[
        "--config",
        &config,
        "--listen",
        "127.0.0.1:0",
        "--max-size",
        "99",
    ]);
    assert_eq!(
        max_size(&server.url).await,
        99,
        "the flag overrides the file"
    );
    let _ = server.terminate(Duration::from_secs(20));
}

#[test]
fn a_bad_config_file_is_refused_with_where_and_what() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "data = \"d\"\nmax-sise = 10\n");
    let out = cli(&["serve", "--config", &config], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [config.as_str(), "line 2", "max-sise", "max-size"] {
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }
    assert!(!dir.path().join("d").exists(), "nothing created");

    let missing = dir.path().join("nowhere.toml");
    let out = cli(&["serve", "--config", missing.to_str().unwrap()], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("reading the configuration file"),
        "{err}"
    );

    let out = cli(&["serve", "--listen", "127.0.0.1:0"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("no data directory"),
        "{err}"
    );
}

async fn scrape(url: &str) -> String {
    let reply = reqwest::get(url).await.expect("GET /metrics");
    assert_eq!(reply.status(), 200);
    let kind = reply.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    reply.text().await.unwrap()
}

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
}

/// One tus upload that is stored, one whose announced sha1 is wrong (refused at the end).
async fn two_tus_uploads(base: &str, token: &str) {
    let http = reqwest::Client::new();
    for (metadata, body, want) in [
        ("filename YS5iaW4=", vec![7u8; 3000], 201),
        (
            "filename Yi5iaW4=,sha1 MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA==",
            vec![8u8; 1000],
            460,
        ),
    ] {
        let reply = http
            .post(format!("{base}/files/"))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", body.len().to_string())
            .header("upload-metadata", metadata)
            .header("content-type", "application/offset+octet-stream")
            .body(body)
            .send()
            .await
            .expect("POST /files/");
        assert_eq!(reply.status(), want, "{:?}", reply.text().await);
    }
}

#[tokio::test]
async fn metrics_count_uploads_by_protocol_on_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let added = cli(
        &["user", "add", "ann", "--password-stdin", "--data", data],
        "pw\n",
    );
    assert!(added.status.success(), "{added:?}");
    let issued = cli(&["token", "issue", "ann", "--data", data], "");
    let token = String::from_utf8(issued.stdout).unwrap().trim().to_owned();
    let config = write_config(dir.path(), "metrics-listen = \"127.0.0.1:0\"\n");
    let server = serve(&[
        "--config",
        &config,
        "--listen",
        "127.0.0.1:0",
        "--data",
        data,
    ]);
    let metrics = server.metrics.clone().expect("a `metrics on URL` line");
    assert!(metrics.starts_with("http://127.0.0.1:") && metrics.ends_with("/metrics"));
    assert_ne!(format!("{}/metrics", server.url), metrics);

    let before = scrape(&metrics).await;
    assert_eq!(
        value(&before, "ferry_uploads_started_total{protocol=\"tus\"}"),
        0
    );

    two_tus_uploads(&server.url, &token).await;
    let addr = server.url.trim_start_matches("http://");
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/galileo?access_token={token}"))
            .await
            .expect("a GalileoSend connection");
    let frames = upload_like_the_original_client(&mut ws, "c.bin", &vec![9u8; 600_000]).await;
    assert!(frames.iter().any(|f| f.contains("\"close\"")), "{frames:?}");
    drop(ws);

    let text = scrape(&metrics).await;
    let tus = |name: &str| value(&text, &format!("ferry_{name}{{protocol=\"tus\"}}"));
    let galileo = |name: &str| value(&text, &format!("ferry_{name}{{protocol=\"galileo\"}}"));
    assert_eq!(tus("uploads_started_total"), 2);
    assert_eq!(tus("uploads_finished_total"), 1);
    assert_eq!(tus("uploads_failed_total"), 1);
    assert_eq!(tus("received_bytes_total"), 4000);
    assert_eq!(galileo("uploads_started_total"), 1);
    assert_eq!(galileo("uploads_finished_total"), 1);
    assert_eq!(galileo("received_bytes_total"), 600_000);
    assert_eq!(tus("active_sessions"), 0);
    let posts = value(
        &text,
        "ferry_request_duration_seconds_count{endpoint=\"tus\",method=\"POST\"}",
    );
    assert_eq!(posts, 2);
    for private in ["ann", "a.bin", "c.bin", token.as_str()] {
        assert!(!text.contains(private), "{private:?} in the metrics");
    }

    let upload_side = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_ne!(
        upload_side.status(),
        200,
        "metrics are not on the upload listener"
    );
    let _ = server.terminate(Duration::from_secs(20));
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_itself() {
    for shell in ["bash", "zsh", "fish"] {
        let out = cli(&["generate", "completions", shell], "");
        assert!(out.status.success(), "{out:?}");
        let script = String::from_utf8(out.stdout).unwrap();
        // fish spells flags `-l metrics-listen`.
        for word in ["serve", "config", "metrics-listen", "token"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let out = cli(&["generate", "man", pages.to_str().unwrap()], "");
    assert!(out.status.success(), "{out:?}");
    let serve = std::fs::read_to_string(pages.join("ferry-server-serve.1")).expect("a page");
    assert!(serve.contains("metrics\\-listen"), "{serve}");
    assert!(pages.join("ferry-server.1").is_file());
    assert!(pages.join("ferry-server-user-add.1").is_file());
}
