//! The plain functions behind the desktop app (`ferry_engine::service`) against a real
//! ferry-server on 127.0.0.1 and a real journal; signing in and out against the real Secret
//! Service, in a child process (see `auth`).

use std::path::PathBuf;

use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::service::{self, NewFolder, Secret, ServerKind, ServiceError, folders, history};
use ferry_engine::target::Protocol;
use ferry_engine::{EngineError, Token};
use ferry_store::{FileFacts, FileState, NewUpload};
use ferry_tests::keyring::{self, Session};
use tokio::io::AsyncWriteExt;

use crate::support::TestServer;

fn home() -> (tempfile::TempDir, Home) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::locate(Some(&dir.path().join("home"))).unwrap();
    (dir, home)
}

#[tokio::test]
async fn a_probe_tells_what_a_ferry_server_offers() {
    let server = TestServer::start().await;
    let probe = service::probe_server(&server.base).await.unwrap();
    assert_eq!(probe.kind, ServerKind::FerryServer);
    assert_eq!(probe.protocols, [Protocol::Tus, Protocol::Galileo]);
    assert!(probe.needs_sign_in);
    assert_eq!(
        probe.url,
        format!("{}/", server.base),
        "normalised with its slash"
    );
}

#[tokio::test]
async fn a_probe_of_a_closed_port_is_unreachable_and_of_a_stranger_is_not_a_server() {
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let err = service::probe_server(&format!("http://{closed}/"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Engine(EngineError::Network { .. })),
        "a closed port cannot be reached: {err:?}"
    );
    assert!(
        err.to_string().contains("refused"),
        "the cause is named: {err}"
    );

    // A web server that answers 404 to everything: neither /api/v1/info nor a tus endpoint.
    let stranger = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = stranger.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = stranger.accept().await {
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut conn, &mut buf).await;
            let _ = conn
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
        }
    });
    let err = service::probe_server(&format!("http://{addr}/"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Engine(EngineError::NoProtocol { .. })),
        "a web server that is not one of Ferry's kinds: {err:?}"
    );
}

#[test]
fn folders_are_added_checked_counted_paused_and_removed() {
    let (dir, home) = home();
    let synced = dir.path().join("Photos");
    std::fs::create_dir(&synced).unwrap();
    let journal = home.journal().unwrap();
    journal.account("http://127.0.0.1:9/", "ann").unwrap();
    let new = |path: &std::path::Path| NewFolder {
        path: path.to_str().unwrap().to_owned(),
        server: "http://127.0.0.1:9/".into(),
        user: "ann".into(),
        remote_prefix: Some("/backup/photos/".into()),
        protocol: Some(Protocol::Galileo),
    };

    let added = folders::folder_add(&home, &new(&synced)).unwrap();
    let canonical = synced.canonicalize().unwrap().to_str().unwrap().to_owned();
    assert_eq!(added.path, canonical);
    assert_eq!(added.remote_prefix, "backup/photos");
    assert_eq!(
        (added.protocol, added.paused, added.files),
        (Some(Protocol::Galileo), false, 0)
    );

    let again = folders::folder_add(&home, &new(&synced)).unwrap_err();
    assert!(matches!(again, ServiceError::AlreadyExists(_)), "{again:?}");
    let not_dir = dir.path().join("file.txt");
    std::fs::write(&not_dir, b"x").unwrap();
    for bad in [
        not_dir,
        dir.path().join("missing"),
        PathBuf::from("relative/dir"),
    ] {
        let err = folders::folder_add(&home, &new(&bad)).unwrap_err();
        assert!(
            matches!(err, ServiceError::InvalidInput { field: "path", .. }),
            "{}: {err:?}",
            bad.display()
        );
    }
    let stranger = NewFolder {
        user: "bob".into(),
        ..new(&synced)
    };
    let err = folders::folder_add(&home, &stranger).unwrap_err();
    assert!(
        matches!(err, ServiceError::NotFound(_)),
        "no such account: {err:?}"
    );

    // Counts come from the journal's files.
    let folder = journal.folder(&canonical).unwrap().unwrap();
    let facts = FileFacts {
        size: 1,
        mtime_ns: 1,
        inode: 1,
    };
    for (name, state) in [
        ("a", FileState::Uploaded),
        ("b", FileState::Pending),
        ("c", FileState::Failed),
    ] {
        journal
            .upsert_file(Some(folder.id), name, facts, None, state)
            .unwrap();
    }
    let listed = folders::folders(&home).unwrap();
    assert_eq!(listed.len(), 1);
    let view = &listed[0];
    assert_eq!(
        (
            view.files,
            view.uploaded,
            view.pending,
            view.uploading,
            view.failed
        ),
        (3, 1, 1, 0, 1)
    );
    assert_eq!(
        (view.server.as_str(), view.user.as_str()),
        ("http://127.0.0.1:9/", "ann")
    );

    let paused = folders::folder_pause(&home, &canonical, true).unwrap();
    assert!(paused.paused);
    assert_eq!(paused.watcher, service::WatcherState::Paused);
    assert!(
        folders::folders(&home).unwrap()[0].paused,
        "the pause is in the journal"
    );

    folders::folder_remove(&home, &canonical).unwrap();
    assert!(folders::folders(&home).unwrap().is_empty());
    let err = folders::folder_remove(&home, &canonical).unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[test]
fn ignore_rules_live_in_the_folders_ferryignore() {
    let (dir, home) = home();
    let synced = dir.path().join("Docs");
    std::fs::create_dir(&synced).unwrap();
    home.journal()
        .unwrap()
        .account("http://127.0.0.1:9/", "")
        .unwrap();
    let folder = folders::folder_add(
        &home,
        &NewFolder {
            path: synced.to_str().unwrap().to_owned(),
            server: "http://127.0.0.1:9/".into(),
            user: String::new(),
            remote_prefix: None,
            protocol: None,
        },
    )
    .unwrap();
    assert_eq!(
        folders::ignore_get(&home, &folder.path).unwrap(),
        "",
        "none yet"
    );
    folders::ignore_set(&home, &folder.path, "*.tmp\nbuild/").unwrap();
    let file = synced.join(folders::IGNORE_FILE);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "*.tmp\nbuild/\n");
    assert_eq!(
        folders::ignore_get(&home, &folder.path).unwrap(),
        "*.tmp\nbuild/\n"
    );
    let names: Vec<_> = std::fs::read_dir(&synced)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp file left: {names:?}");
    let err = folders::ignore_get(&home, "/not/synced").unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[test]
fn history_pages_and_days_come_from_the_journal() {
    let (_dir, home) = home();
    let mut journal = home.journal().unwrap();
    let account = journal.account("http://127.0.0.1:9/", "ann").unwrap();
    for i in 0..7u64 {
        let facts = FileFacts {
            size: 100 + i,
            mtime_ns: 1,
            inode: i,
        };
        let path = format!("/data/file-{i}.bin");
        let file = journal
            .upsert_file(None, &path, facts, Some("ab"), FileState::Pending)
            .unwrap();
        let upload = journal
            .start_upload(&NewUpload {
                file: file.id,
                account: account.id,
                protocol: ferry_store::Protocol::Tus,
                endpoint: "http://127.0.0.1:9/files/".into(),
                remote_path: format!("file-{i}.bin"),
                facts,
                sha1: "ab".into(),
                chunk_size: 1024,
                concatenated: false,
                parts: Vec::new(),
                final_upload: ferry_store::FinalUpload::default(),
            })
            .unwrap();
        if i == 3 {
            journal
                .end_upload(upload.id, ferry_store::Outcome::Failed, 0, "refused")
                .unwrap();
        } else {
            journal
                .finish_upload(
                    upload.id,
                    Some("http://127.0.0.1:9/files/x"),
                    100 + i,
                    ferry_store::Verification::ServerSha1,
                )
                .unwrap();
        }
    }
    let page = history::history(
        &home,
        &history::HistoryQuery {
            offset: 0,
            limit: 4,
            ..history::HistoryQuery::default()
        },
    )
    .unwrap();
    assert_eq!((page.rows.len(), page.total), (4, 7));
    assert_eq!(page.rows[0].local_path, "/data/file-6.bin", "newest first");
    let failed = history::history(
        &home,
        &history::HistoryQuery {
            outcome: Some(history::HistoryOutcome::Failed),
            offset: 0,
            limit: 10,
            ..history::HistoryQuery::default()
        },
    )
    .unwrap();
    assert_eq!(failed.total, 1);
    assert_eq!(failed.rows[0].error.as_deref(), Some("refused"));
    let err = history::history(&home, &history::HistoryQuery::default()).unwrap_err();
    assert!(
        matches!(err, ServiceError::InvalidInput { field: "limit", .. }),
        "{err:?}"
    );

    let days = history::history_per_day(&home, 7).unwrap();
    assert_eq!(days.len(), 7, "one row a day");
    let today = days.last().unwrap();
    assert_eq!(
        (today.files, today.bytes),
        (6, (100..107).sum::<u64>() - 103),
        "today holds the six uploads, not the failed one"
    );
    assert!(days[..6].iter().all(|d| d.files == 0 && d.bytes == 0));
}

// --- signing in and out, with the real Secret Service in a child process ----------------

#[tokio::test]
async fn sign_in_and_out_go_through_the_server_and_the_real_keyring() {
    if !keyring::in_child(
        "service::sign_in_and_out_go_through_the_server_and_the_real_keyring",
        Session::SecretService,
    ) {
        return;
    }
    let (_dir, home) = home();
    let server = TestServer::start().await;
    let credentials = Credentials::from_env();
    let url = service::probe_server(&server.base).await.unwrap().url;

    let wrong = service::sign_in(
        &home,
        &credentials,
        &url,
        "ann",
        Secret::Password("nope"),
        "test",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            wrong,
            ServiceError::Engine(EngineError::WrongPassword { .. })
        ),
        "{wrong:?}"
    );
    let nothing = service::sign_in(&home, &credentials, &url, "", Secret::Nothing, "test")
        .await
        .unwrap_err();
    assert!(
        matches!(
            nothing,
            ServiceError::InvalidInput {
                field: "password",
                ..
            }
        ),
        "a ferry-server needs a sign-in: {nothing:?}"
    );
    assert!(
        service::accounts::accounts(&home, &credentials)
            .await
            .unwrap()
            .is_empty()
    );

    let account = service::sign_in(
        &home,
        &credentials,
        &url,
        "ann",
        Secret::Password("ann's password"),
        "service test",
    )
    .await
    .unwrap();
    assert!(account.signed_in);
    let token = credentials
        .token(&url, "ann")
        .unwrap()
        .expect("the token is in the keyring");
    let listed = service::accounts::accounts(&home, &credentials)
        .await
        .unwrap();
    assert_eq!(listed, std::slice::from_ref(&account));

    // A pasted token is kept as it is.
    let pasted = Token::new(server.bob.clone());
    service::sign_in(
        &home,
        &credentials,
        &url,
        "bob",
        Secret::Token(pasted.clone()),
        "test",
    )
    .await
    .unwrap();
    assert_eq!(credentials.token(&url, "bob").unwrap(), Some(pasted));

    service::sign_out(&home, &url, "ann").await.unwrap();
    assert_eq!(
        credentials.token(&url, "ann").unwrap(),
        None,
        "gone from the keyring"
    );
    let http = TestServer::http();
    let refused = http
        .get(server.url("/api/v1/files"))
        .bearer_auth(token.expose())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401, "the token was revoked on the server");
    let listed = service::accounts::accounts(&home, &credentials)
        .await
        .unwrap();
    let ann = listed.iter().find(|a| a.user == "ann").unwrap();
    assert!(!ann.signed_in, "the account stays, signed out: {listed:?}");
    let err = service::sign_out(&home, &url, "carol").await.unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}
