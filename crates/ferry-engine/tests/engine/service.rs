//! The front door (`ferry_engine::service::Service`) the CLI and the desktop app share,
//! against a real ferry-server on 127.0.0.1 and a real journal; signing in and out against
//! the real Secret Service, in a child process (see `auth`).

use std::path::PathBuf;

use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::service::{
    self, NewFolder, Outcome, Secret, ServerKind, Service, ServiceError, history,
    ignore::IGNORE_FILE,
};
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

async fn service(home: &Home) -> Service {
    Service::open(home.clone(), Credentials::with_env_token(None))
        .await
        .unwrap()
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

#[tokio::test]
async fn folders_are_added_checked_counted_paused_and_removed() {
    let (dir, home) = home();
    let service = service(&home).await;
    let synced = dir.path().join("Photos");
    std::fs::create_dir(&synced).unwrap();
    let journal = home.journal().unwrap();
    journal.account("http://127.0.0.1:9/", "ann").unwrap();
    let new = |path: &std::path::Path| NewFolder {
        path: path.to_str().unwrap().to_owned(),
        server: "http://127.0.0.1:9/".into(),
        user: Some("ann".into()),
        remote_prefix: Some("/backup/photos/".into()),
        protocol: Some(Protocol::Galileo),
    };

    let added = service.add_folder(new(&synced)).await.unwrap();
    let canonical = synced.canonicalize().unwrap().to_str().unwrap().to_owned();
    assert_eq!(added.path, canonical);
    assert_eq!(added.remote_prefix, "backup/photos");
    assert_eq!(
        (added.protocol, added.paused, added.files),
        (Some(Protocol::Galileo), false, 0)
    );

    let again = service.add_folder(new(&synced)).await.unwrap_err();
    assert!(matches!(again, ServiceError::AlreadyExists(_)), "{again:?}");
    let not_dir = dir.path().join("file.txt");
    std::fs::write(&not_dir, b"x").unwrap();
    for bad in [
        not_dir,
        dir.path().join("missing"),
        PathBuf::from("relative/dir"),
    ] {
        let err = service.add_folder(new(&bad)).await.unwrap_err();
        assert!(
            matches!(err, ServiceError::InvalidInput { field: "path", .. }),
            "{}: {err:?}",
            bad.display()
        );
    }
    let stranger = NewFolder {
        user: Some("bob".into()),
        ..new(&synced)
    };
    let err = service.add_folder(stranger).await.unwrap_err();
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
    let listed = service.folders().await.unwrap();
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

    let paused = service.pause_folder(&canonical, true).await.unwrap();
    assert!(paused.paused);
    assert_eq!(paused.watcher, service::WatcherState::Paused);
    assert!(
        service.folders().await.unwrap()[0].paused,
        "the pause is in the journal"
    );

    assert_eq!(service.remove_folder(&canonical).await.unwrap(), canonical);
    assert!(service.folders().await.unwrap().is_empty());
    let err = service.remove_folder(&canonical).await.unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn folders_never_overlap_and_take_the_one_account_of_their_server() {
    let (dir, home) = home();
    let service = service(&home).await;
    // Under a folder of their own: the temp dir itself holds Ferry's home.
    let parent = dir.path().join("sync");
    let outer = parent.join("Work");
    let inner = outer.join("Project");
    let beside = parent.join("Work2");
    for d in [&inner, &beside] {
        std::fs::create_dir_all(d).unwrap();
    }
    let new = |path: &std::path::Path, server: &str| NewFolder {
        path: path.to_str().unwrap().to_owned(),
        server: server.into(),
        user: None,
        remote_prefix: None,
        protocol: None,
    };

    // No account at the server and no user named: an account without a user is made.
    let open_server = "http://127.0.0.1:7/";
    let added = service.add_folder(new(&outer, open_server)).await.unwrap();
    assert_eq!(added.user, "", "the account of a server without sign-in");
    assert_eq!(service.users_at(open_server).await.unwrap(), [""]);

    // Nested either way is refused; a name that only starts the same is not nested.
    for clash in [&inner, &parent] {
        let err = service
            .add_folder(new(clash, open_server))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ServiceError::InvalidInput { field: "path", message } if message.contains("overlaps")),
            "{}: {err:?}",
            clash.display()
        );
    }
    service.add_folder(new(&beside, open_server)).await.unwrap();

    // A `..` in the path is resolved before the checks: it names the synced folder.
    let dotted = inner.join("..");
    let err = service
        .add_folder(new(&dotted, open_server))
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::AlreadyExists(_)), "{err:?}");
    let removed = service
        .remove_folder(dotted.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(removed, outer.canonicalize().unwrap().to_str().unwrap());

    // `..` in the remote prefix is refused.
    let err = service
        .add_folder(NewFolder {
            remote_prefix: Some("photos/../../etc".into()),
            ..new(&inner, open_server)
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServiceError::InvalidInput {
                field: "remotePrefix",
                ..
            }
        ),
        "{err:?}"
    );

    // Several accounts at a server and none named: the caller must choose.
    let shared = "http://127.0.0.1:8/";
    let journal = home.journal().unwrap();
    journal.account(shared, "ann").unwrap();
    let only_ann = service.add_folder(new(&inner, shared)).await.unwrap();
    assert_eq!(only_ann.user, "ann", "the one account there");
    service.remove_folder(&only_ann.path).await.unwrap();
    journal.account(shared, "bob").unwrap();
    let err = service.add_folder(new(&inner, shared)).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::InvalidInput { field: "user", message } if message.contains("ann, bob")),
        "{err:?}"
    );
    let bobs = service
        .add_folder(NewFolder {
            user: Some("bob".into()),
            ..new(&inner, shared)
        })
        .await
        .unwrap();
    assert_eq!(bobs.user, "bob");
}

#[tokio::test]
async fn ignore_rules_live_in_the_folders_ferryignore() {
    let (dir, home) = home();
    let service = service(&home).await;
    let synced = dir.path().join("Docs");
    std::fs::create_dir(&synced).unwrap();
    home.journal()
        .unwrap()
        .account("http://127.0.0.1:9/", "")
        .unwrap();
    let folder = service
        .add_folder(NewFolder {
            path: synced.to_str().unwrap().to_owned(),
            server: "http://127.0.0.1:9/".into(),
            user: Some(String::new()),
            remote_prefix: None,
            protocol: None,
        })
        .await
        .unwrap();
    assert_eq!(
        service.ignore_rules(&folder.path).await.unwrap(),
        "",
        "none yet"
    );
    service
        .set_ignore_rules(&folder.path, "*.tmp\nbuild/")
        .await
        .unwrap();
    let file = synced.join(IGNORE_FILE);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "*.tmp\nbuild/\n");
    assert_eq!(
        service.ignore_rules(&folder.path).await.unwrap(),
        "*.tmp\nbuild/\n"
    );
    let names: Vec<_> = std::fs::read_dir(&synced)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp file left: {names:?}");
    let err = service.ignore_rules("/not/synced").await.unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[cfg(unix)]
#[tokio::test]
async fn writing_ignore_rules_never_follows_a_link_planted_in_the_folder() {
    let (dir, home) = home();
    let service = service(&home).await;
    let synced = dir.path().join("Docs");
    std::fs::create_dir(&synced).unwrap();
    home.journal()
        .unwrap()
        .account("http://127.0.0.1:9/", "")
        .unwrap();
    let folder = service
        .add_folder(NewFolder {
            path: synced.to_str().unwrap().to_owned(),
            server: "http://127.0.0.1:9/".into(),
            user: Some(String::new()),
            remote_prefix: None,
            protocol: None,
        })
        .await
        .unwrap();
    // Links where the temp file and the rules file go, both pointing outside the folder.
    let (victim, shown) = (dir.path().join("victim"), dir.path().join("shown"));
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::write(&shown, b"not the rules").unwrap();
    std::os::unix::fs::symlink(&victim, synced.join(format!("{IGNORE_FILE}.tmp"))).unwrap();
    std::os::unix::fs::symlink(&shown, synced.join(IGNORE_FILE)).unwrap();
    let refused = service.ignore_rules(&folder.path).await.unwrap_err();
    assert!(refused.to_string().contains("symbolic link"), "{refused}");
    service
        .set_ignore_rules(&folder.path, "*.tmp")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "the link was not followed"
    );
    assert_eq!(std::fs::read(&shown).unwrap(), b"not the rules");
    let rules = synced.join(IGNORE_FILE);
    assert!(
        !std::fs::symlink_metadata(&rules)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&rules).unwrap(), "*.tmp\n");
}

#[tokio::test]
async fn history_pages_and_days_come_from_the_journal() {
    let (_dir, home) = home();
    let service = service(&home).await;
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
                protocol: Protocol::Tus,
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
    let page = service
        .history(history::HistoryQuery {
            offset: 0,
            limit: 4,
            ..history::HistoryQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((page.rows.len(), page.total), (4, 7));
    assert_eq!(page.rows[0].local_path, "/data/file-6.bin", "newest first");
    let failed = service
        .history(history::HistoryQuery {
            outcome: Some(Outcome::Failed),
            offset: 0,
            limit: 10,
            ..history::HistoryQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.total, 1);
    assert_eq!(failed.rows[0].error.as_deref(), Some("refused"));
    let err = service
        .history(history::HistoryQuery {
            limit: 0,
            ..history::HistoryQuery::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ServiceError::InvalidInput { field: "limit", .. }),
        "{err:?}"
    );

    let days = service.history_per_day(7).await.unwrap();
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
    let service = Service::open(home.clone(), credentials.clone())
        .await
        .unwrap();
    let url = service::probe_server(&server.base).await.unwrap().url;

    let wrong = service
        .sign_in(&url, "ann", Secret::Password("nope"), "test")
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            ServiceError::Engine(EngineError::WrongPassword { .. })
        ),
        "{wrong:?}"
    );
    let nothing = service
        .sign_in(&url, "", Secret::Nothing, "test")
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
    assert!(service.accounts().await.unwrap().is_empty());

    let account = service
        .sign_in(
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
    let listed = service.accounts().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&account));

    // A pasted token is kept as it is.
    let pasted = Token::new(server.bob.clone());
    service
        .sign_in(&url, "bob", Secret::Token(pasted.clone()), "test")
        .await
        .unwrap();
    assert_eq!(credentials.token(&url, "bob").unwrap(), Some(pasted));

    let revoked = service.sign_out(&url, "ann").await.unwrap();
    assert!(
        matches!(&revoked, service::Revocation::Answered(done) if done.revoked),
        "the server revoked it: {revoked:?}"
    );
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
    let listed = service.accounts().await.unwrap();
    let ann = listed.iter().find(|a| a.user == "ann").unwrap();
    assert!(!ann.signed_in, "the account stays, signed out: {listed:?}");
    let err = service.sign_out(&url, "carol").await.unwrap_err();
    assert!(matches!(err, ServiceError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn the_root_system_trees_and_a_folder_holding_ferrys_data_are_never_synced() {
    let (dir, home) = home();
    let service = service(&home).await;
    home.journal()
        .unwrap()
        .account("http://127.0.0.1:9/", "")
        .unwrap();
    let add = |path: &std::path::Path| NewFolder {
        path: path.to_str().unwrap().to_owned(),
        server: "http://127.0.0.1:9/".into(),
        user: Some(String::new()),
        remote_prefix: None,
        protocol: None,
    };
    for (path, words) in [
        (std::path::PathBuf::from("/"), "whole filesystem"),
        (std::path::PathBuf::from("/etc"), "belongs to the system"),
        (
            std::path::PathBuf::from("/usr/share"),
            "belongs to the system",
        ),
        // The temp dir holds Ferry's home here: its journal would upload itself.
        (dir.path().to_path_buf(), "holds Ferry's own data"),
    ] {
        let err = service.add_folder(add(&path)).await.unwrap_err();
        assert!(
            matches!(err, ServiceError::InvalidInput { field: "path", .. }),
            "{}: {err:?}",
            path.display()
        );
        assert!(err.to_string().contains(words), "{}: {err}", path.display());
    }
    let dirs = directories::BaseDirs::new().expect("the test runs with a home directory");
    let err = service.add_folder(add(dirs.home_dir())).await.unwrap_err();
    assert!(err.to_string().contains("whole home directory"), "{err}");
    assert!(
        service.folders().await.unwrap().is_empty(),
        "nothing was added"
    );
}
