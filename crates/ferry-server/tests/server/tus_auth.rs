//! Who may do what on the tus endpoint: sign-in required except for OPTIONS, and one user
//! cannot see, change, remove or join another user's uploads (404, as if they did not exist).

use reqwest::Method;

use crate::support::TestServer;
use crate::tus_driver::{create, head, metadata, offset, patch, tus};

#[tokio::test]
async fn every_tus_request_but_options_needs_a_valid_token() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 3, &metadata(&[("filename", "a")])).await;
    for (method, path) in [
        (Method::POST, "/files/"),
        (Method::HEAD, location.as_str()),
        (Method::PATCH, location.as_str()),
        (Method::DELETE, location.as_str()),
    ] {
        for token in [None, Some("fry_wrong")] {
            let mut request = TestServer::http()
                .request(method.clone(), server.url(path))
                .header("tus-resumable", "1.0.0")
                .header("upload-length", "3")
                .header("upload-offset", "0")
                .header("content-type", "application/offset+octet-stream");
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let reply = request.send().await.unwrap();
            assert_eq!(reply.status(), 401, "{method} {path} with {token:?}");
            assert_eq!(reply.headers()["tus-resumable"], "1.0.0");
        }
    }
    let query = TestServer::http()
        .head(server.url(&format!("{location}?access_token={}", server.ann)))
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200, "the token may come in the query");
    assert_eq!(offset(&server, &server.ann, &location).await, 0);
}

#[tokio::test]
async fn bob_cannot_head_patch_delete_or_join_anns_uploads() {
    let server = TestServer::start().await;
    let location = create(&server, &server.ann, 4, &metadata(&[("filename", "mine")])).await;
    assert_eq!(
        patch(&server, &server.ann, &location, 0, b"ab".to_vec(), &[])
            .await
            .status(),
        204
    );
    let part = tus(&server, Method::POST, "/files/", &server.ann)
        .header("upload-length", "1")
        .header("upload-concat", "partial")
        .header("content-type", "application/offset+octet-stream")
        .body("z")
        .send()
        .await
        .unwrap();
    let part = part.headers()["location"].to_str().unwrap().to_owned();

    assert_eq!(head(&server, &server.bob, &location).await.status(), 404);
    let reply = patch(&server, &server.bob, &location, 2, b"cd".to_vec(), &[]).await;
    assert_eq!(reply.status(), 404);
    let reply = tus(&server, Method::DELETE, &location, &server.bob)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404);
    let reply = tus(&server, Method::POST, "/files/", &server.bob)
        .header("upload-concat", format!("final;{part}"))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 404, "bob cannot join ann's partial upload");

    assert_eq!(
        offset(&server, &server.ann, &location).await,
        2,
        "ann's upload is untouched"
    );
    assert_eq!(head(&server, &server.ann, &part).await.status(), 200);
    assert!(!server.data().join("files").join("bob").exists());
}
