//! A file rewritten while `ferry upload` sends it: the upload of the old content is given up
//! (recorded as abandoned) and the new content is sent; the server ends with the new bytes
//! only, never a mix.

use std::time::Duration;

use ferry_tests::server::{TestServer, files_under, random_file};

use crate::support::{Running, assert_success, ferry_command, sha1, wait_mid_upload};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_mid_upload_ends_on_the_server_with_the_new_content_only() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let size = 1 << 20;
    let (file, old) = random_file(work.path(), "report.bin", size, 41);
    let upload = ferry_command(
        &home,
        Some(&server.ann),
        &[
            "upload",
            file.to_str().unwrap(),
            "--server",
            &server.base,
            "--chunk-size",
            "65536",
            "--limit-rate",
            "262144",
        ],
    );
    let mut upload = Running::spawn("ferry upload", upload);
    wait_mid_upload(&home, size as u64, &mut upload);

    // Rewritten in place (same inode), with other bytes and another size.
    let (_, new) = random_file(work.path(), "report.bin", 700 * 1024, 42);
    assert_ne!(old.len(), new.len());

    let out = upload.finish(Duration::from_secs(30));
    assert_success("ferry upload of a file rewritten mid-way", &out);
    let landed = server.file("ann", "report.bin");
    assert_eq!(
        sha1(&std::fs::read(&landed).unwrap()),
        sha1(&new),
        "the server holds the new content"
    );
    assert_eq!(
        files_under(&server.data().join("files")),
        vec![std::path::PathBuf::from("ann/report.bin")],
        "and nothing else"
    );

    let history = ferry_command(&home, None, &["--json", "history"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let outcomes: Vec<(&str, &str)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["outcome"].as_str().unwrap_or("?"),
                r["sha1"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    let (new_sha1, old_sha1) = (sha1(&new), sha1(&old));
    assert_eq!(
        outcomes,
        vec![
            ("uploaded", new_sha1.as_str()),
            ("abandoned", old_sha1.as_str())
        ],
        "newest first: the new content uploaded, the old one abandoned"
    );
}

/// The 460 loop: a file rewritten in place mid-upload with the same size and its old mtime
/// restored (a tag editor, `cp --preserve=timestamps` onto it) looks unchanged, so the server
/// gets old bytes then new ones and refuses the complete file (its sha1 is not the one
/// announced), resetting the upload to byte 0. Sending the same content under the same sha1
/// again can never pass: before this was fixed the client re-sent it until it gave up (20
/// attempts, minutes). The refusal of the complete file makes Ferry hash the file again; it
/// sees the new content and sends it as a new upload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_with_its_old_size_and_mtime_is_hashed_again_when_the_server_refuses_it() {
    rewritten_keeping_its_facts(&[]).await;
}

/// The same with parallel partial uploads: the server refuses the final upload (the joined
/// parts do not have the announced sha1) instead of the last chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_sent_in_parallel_parts_and_rewritten_keeping_its_facts_is_hashed_again() {
    rewritten_keeping_its_facts(&["--parallel", "3"]).await;
}

async fn rewritten_keeping_its_facts(extra: &[&str]) {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let size = 1 << 20;
    let (file, old) = random_file(work.path(), "song.flac", size, 43);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let mut args = vec![
        "upload",
        file.to_str().unwrap(),
        "--server",
        &server.base,
        "--chunk-size",
        "65536",
        "--limit-rate",
        "262144",
        "--retries",
        "3",
    ];
    args.extend_from_slice(extra);
    let upload = ferry_command(&home, Some(&server.ann), &args);
    let mut upload = Running::spawn("ferry upload", upload);
    wait_mid_upload(&home, size as u64, &mut upload);

    let new = rewrite_keeping_mtime(&file, size, 44, mtime);

    let out = upload.finish(Duration::from_secs(60));
    assert_success("ferry upload of a file rewritten with its old mtime", &out);
    let landed = server.file("ann", "song.flac");
    assert_eq!(
        sha1(&std::fs::read(&landed).unwrap()),
        sha1(&new),
        "the server holds the new content, not a mix and not the old one"
    );
    assert_ne!(sha1(&old), sha1(&new));
}

/// What the report of this bug saw, whole: the desktop app sending an 80 MiB file as parallel
/// partial uploads, ferry-server killed and started again, and then the final refused with
/// 460 over and over until Ferry gave up, the file never stored. Here the file is rewritten
/// keeping its size and mtime while the server is down (what a tag editor or a restore may
/// do at any time); once the server is back, the refused final makes Ferry hash the file
/// again and send the new content, which lands whole.
#[test]
fn a_parallel_upload_across_a_server_restart_whose_file_was_rewritten_keeping_its_facts_lands_new()
{
    use crate::restart::{serve, serve_for_ann};
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("server-data");
    let home = work.path().join("home");
    let (token, port, server) = serve_for_ann(&data);
    let size = (3 << 20) + 4321;
    let (file, old) = random_file(work.path(), "clip.mov", size, 45);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let mut upload = ferry_command(
        &home,
        Some(&token),
        &[
            "upload",
            file.to_str().unwrap(),
            "--server",
            &server.url,
            "--parallel",
            "3",
            "--chunk-size",
            "131072",
            "--limit-rate",
            "524288",
            "--retries",
            "4",
        ],
    );
    upload.env("FERRY_TIMEOUT_SECS", "3");
    let mut upload = Running::spawn("ferry upload", upload);
    wait_mid_upload(&home, size as u64, &mut upload);

    server.kill();
    assert!(
        upload.wait_for_stderr("trying again", Duration::from_secs(20)),
        "ferry upload noticed the server was gone\n{}",
        upload.dump()
    );
    let new = rewrite_keeping_mtime(&file, size, 46, mtime);
    let _server = serve(&data, port);

    let out = upload.finish(Duration::from_secs(90));
    assert_success("ferry upload across a restart, its file rewritten", &out);
    let landed = std::fs::read(data.join("files/ann/clip.mov")).unwrap();
    assert_eq!(
        sha1(&landed),
        sha1(&new),
        "the new content, whole: not the old, not a mix"
    );
    assert_ne!(sha1(&old), sha1(&new));
}

/// A sha1 the journal kept for a file's facts goes stale when the file is rewritten keeping
/// its size and mtime. Copying by content on such a sha1 would put the old bytes on the
/// server and call them uploaded: copies are asked only for a sha1 hashed just now, so here
/// the new bytes are sent and land. The file is small enough to go whole in the creating
/// POST, which the server refuses with 460 (the announced sha1 is the old one): that too
/// makes Ferry hash the file again (before, it failed for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_sha1_never_makes_the_server_copy_old_content() {
    let server = TestServer::start().await;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let size = 512 * 1024;
    let (file, old) = random_file(work.path(), "notes.bin", size, 47);
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let upload = |remote: &str| {
        ferry_command(
            &home,
            Some(&server.ann),
            &[
                "upload",
                file.to_str().unwrap(),
                "--server",
                &server.base,
                "--remote",
                remote,
            ],
        )
    };
    let first = Running::spawn("ferry upload", upload("a.bin")).finish(Duration::from_secs(60));
    assert_success("the first upload", &first);

    let new = rewrite_keeping_mtime(&file, size, 48, mtime);
    let second = Running::spawn("ferry upload", upload("b.bin")).finish(Duration::from_secs(60));
    assert_success("the upload of the rewritten file elsewhere", &second);
    assert_eq!(
        sha1(&std::fs::read(server.file("ann", "b.bin")).unwrap()),
        sha1(&new),
        "the new bytes, not a copy of the old ones"
    );
    assert_eq!(
        sha1(&std::fs::read(server.file("ann", "a.bin")).unwrap()),
        sha1(&old)
    );
}

/// Writes new random bytes (`seed`) of `size` over `file` and gives it back its old `mtime`,
/// as a tag editor or `cp --preserve=timestamps` would: its size, inode and mtime say it is
/// unchanged. The new bytes.
fn rewrite_keeping_mtime(
    file: &std::path::Path,
    size: usize,
    seed: u64,
    mtime: std::time::SystemTime,
) -> Vec<u8> {
    let (dir, name) = (file.parent().unwrap(), file.file_name().unwrap());
    let (_, new) = random_file(dir, name.to_str().unwrap(), size, seed);
    std::fs::File::options()
        .write(true)
        .open(file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(std::fs::metadata(file).unwrap().modified().unwrap(), mtime);
    new
}
