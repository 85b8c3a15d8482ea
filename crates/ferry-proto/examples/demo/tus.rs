//! The tus half of the demo: the client machine against the in-memory tus server.

use std::time::{Duration, SystemTime};

use ferry_proto::tus::memory::MemoryServer;
use ferry_proto::tus::server::ServerConfig;
use ferry_proto::tus::{Event, Request, Response, Upload, UploadOptions};
use url::Url;

fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + i / 7) % 251).unwrap_or(0))
        .collect()
}

fn show_request(request: &Request) {
    let interesting = [
        "upload-offset",
        "upload-length",
        "upload-concat",
        "upload-checksum",
        "upload-metadata",
    ];
    let headers: Vec<String> = interesting
        .iter()
        .filter_map(|name| {
            Some(format!(
                "{name}: {}",
                request.headers.get(*name)?.to_str().ok()?
            ))
        })
        .collect();
    let body = request
        .body
        .as_ref()
        .map(|b| format!(" [{} bytes]", b.len()))
        .unwrap_or_default();
    println!(
        "  -> {} {}{body}  {}",
        request.method,
        request.url.path(),
        headers.join("  ")
    );
}

fn show_response(response: &Response) {
    let interesting = ["location", "upload-offset", "tus-extension"];
    let headers: Vec<String> = interesting
        .iter()
        .filter_map(|name| {
            Some(format!(
                "{name}: {}",
                response.headers.get(*name)?.to_str().ok()?
            ))
        })
        .collect();
    println!("  <- {}  {}", response.status, headers.join("  "));
}

/// Drives one upload to its end; `cut_at` loses the answer to that request number, as a
/// dropped connection would, to show the machine asking the server where it stands.
fn drive(upload: &mut Upload, server: &mut MemoryServer, file: &[u8], cut_at: Option<usize>) {
    let mut now = SystemTime::now();
    let mut sent = 0;
    loop {
        let batch: Vec<Request> = std::iter::from_fn(|| upload.poll_request(now)).collect();
        if batch.is_empty() {
            break;
        }
        for mut request in batch {
            sent += 1;
            now += Duration::from_millis(5);
            let body = request.body.as_ref().map_or(&[][..], |b| {
                &file[usize::try_from(b.range.start).unwrap_or(0)
                    ..usize::try_from(b.range.end).unwrap_or(0)]
            });
            if let Some(algorithm) = request.body.as_ref().and_then(|b| b.checksum) {
                request.set_checksum(&algorithm.digest(body));
            }
            show_request(&request);
            let response = server.handle(&request, body, now);
            if Some(sent) == cut_at {
                println!("  <- (connection lost: the answer never arrives)");
                upload.handle_failure(request.id);
                continue;
            }
            show_response(&response);
            if let Err(err) = upload.handle_response(request.id, &response) {
                println!("  !! {err} (retryable: {})", err.is_retryable());
            }
        }
        while let Some(event) = upload.poll_event() {
            if let Event::Finished { location } = event {
                let stored = server.completed(&location).unwrap_or_default();
                let same = if stored == file {
                    "byte-identical"
                } else {
                    "DIFFERENT"
                };
                println!(
                    "  == finished at {location}: {} bytes on the server, {same}",
                    stored.len()
                );
            }
        }
    }
}

fn tus_demo(title: &str, len: usize, parallel: usize, cut_at: Option<usize>) {
    println!("\n{title}");
    let file = sample(len);
    let mut server = MemoryServer::new(ServerConfig::complete(None));
    let endpoint = Url::parse("http://127.0.0.1/files/").expect("a valid URL");
    let mut opts = UploadOptions::new(endpoint, Some(len as u64));
    opts.chunk_size = 256 * 1024;
    opts.parallel = parallel;
    opts.metadata
        .insert("relativePath", "demo/sample.bin")
        .expect("a valid key");
    match Upload::new(opts, None, None) {
        Ok(mut upload) => drive(&mut upload, &mut server, &file, cut_at),
        Err(err) => println!("  !! {err}"),
    }
}

/// Three tus uploads, each printed message by message.
pub(crate) fn run() {
    println!("ferry-proto demo, part 1: tus 1.0.0 client machine <-> in-memory tus server");
    tus_demo(
        "1. A 1 MiB file in 256 KiB sha1-checked chunks (the first rides in the POST):",
        1 << 20,
        1,
        None,
    );
    tus_demo(
        "2. The same, but one answer is lost on the way; the client asks with HEAD and goes on:",
        1 << 20,
        1,
        Some(4),
    );
    tus_demo(
        "3. A 1 MiB file as 3 parallel partial uploads joined by concatenation:",
        1 << 20,
        3,
        None,
    );
}
