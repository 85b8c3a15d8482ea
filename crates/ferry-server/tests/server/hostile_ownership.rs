//! Ownership before anything else (issue 10, finding 7): another user poking a running
//! upload learns nothing and cuts nothing, and upload ids stay out of the INFO log.

use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::galileo_client::data;
use crate::hostile_support::{
    ServerProcess, create_upload, head, patch_head, read_answer, send_raw, status_of,
};
use crate::support::TestServer;

const WITHIN: Duration = Duration::from_secs(10);

async fn poke(http: &reqwest::Client, server: &TestServer, location: &str) -> [u16; 3] {
    let url = server.url(location);
    let send = |request: reqwest::RequestBuilder| async move {
        request
            .header("tus-resumable", "1.0.0")
            .bearer_auth(&server.bob)
            .send()
            .await
            .expect("bob's request")
            .status()
            .as_u16()
    };
    [
        send(http.head(&url)).await,
        send(
            http.patch(&url)
                .header("upload-offset", "0")
                .header("content-type", "application/offset+octet-stream")
                .body(vec![0u8; 10]),
        )
        .await,
        send(http.delete(&url)).await,
    ]
}

#[tokio::test]
async fn another_user_poking_a_running_upload_gets_404_and_cuts_nothing() {
    const PIECE: usize = 64 << 10;
    const PIECES: usize = 32;
    let server = TestServer::start().await;
    let bytes = data(PIECE * PIECES, 7);
    let location = create_upload(&server.base, &server.ann, bytes.len() as u64, "a.bin").await;
    let mut stream = send_raw(
        server.addr,
        &patch_head(&location, &server.ann, 0, bytes.len()),
    )
    .await;
    let http = TestServer::http();
    // Between every piece of ann's body, bob tries HEAD, PATCH and DELETE on her upload.
    for piece in bytes.chunks(PIECE) {
        stream.write_all(piece).await.unwrap();
        assert_eq!(
            poke(&http, &server, &location).await,
            [404, 404, 404],
            "another user's upload does not exist for bob"
        );
    }
    let answer = read_answer(&mut stream, WITHIN)
        .await
        .expect("ann's answer");
    assert_eq!(
        status_of(&answer),
        Some(204),
        "ann's PATCH ran to the end undisturbed: {answer}"
    );
    assert!(std::fs::read(server.file("ann", "a.bin")).unwrap() == bytes);
    assert!(!server.file("bob", "a.bin").exists());
}

#[tokio::test]
async fn upload_ids_are_not_written_to_the_log_at_info() {
    let server = ServerProcess::start(&[]);
    let base = format!("http://{}", server.addr);
    let location = create_upload(&base, &server.token, 100, "x.bin").await;
    let id = location.trim_start_matches("/files/").to_owned();
    let mut stream = send_raw(server.addr, &patch_head(&location, &server.token, 0, 50)).await;
    stream.write_all(&[1u8; 50]).await.unwrap();
    let answer = read_answer(&mut stream, WITHIN).await.expect("an answer");
    assert_eq!(status_of(&answer), Some(204), "{answer}");
    assert_eq!(head(&base, &server.token, &location).await, (200, Some(50)));
    let deleted = reqwest::Client::new()
        .delete(format!("{base}{location}"))
        .header("tus-resumable", "1.0.0")
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    // The log line of the creation shows that the log is read at all.
    crate::hostile_support::eventually(WITHIN, "the creation is logged", || {
        let log = server.log();
        async move { log.contains("upload created").then_some(()) }
    })
    .await;
    let log = server.log();
    assert!(
        !log.contains(&id),
        "the upload id {id} is in the INFO log:\n{log}"
    );
}
