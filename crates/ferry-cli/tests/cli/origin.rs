//! The token stays with its origin, as a user sees it: `ferry upload` to a tus server whose
//! POST answers with a `Location` on another port (where a listener records everything it
//! receives) fails with exit code 1 and a message that says the Location points outside the
//! server, and the token appears nowhere: not in the output, not on the other listener.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_tests::server::random_file;

use crate::support::{ferry_command, run_bounded};

/// The token: grepped for wherever it must not be.
const CANARY: &str = "tok-CANARY-cli-7e21a0";

/// Everything a listener received, raw.
type Heard = Arc<Mutex<Vec<u8>>>;

/// Reads one HTTP request (head and `Content-Length` body) into `heard`; its method, or
/// `None` when the client went away or sent no request.
fn read_request(stream: &TcpStream, heard: &Heard) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    heard.lock().unwrap().extend_from_slice(line.as_bytes());
    let method = line.split_whitespace().next()?.to_owned();
    let mut length = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        heard.lock().unwrap().extend_from_slice(line.as_bytes());
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    heard.lock().unwrap().extend_from_slice(&body);
    Some(method)
}

/// A listener on 127.0.0.1 port 0 that answers each request with `answer(method)` and
/// closes the connection, recording everything it receives. Its threads end with the test
/// process.
fn listener(answer: impl Fn(&str) -> String + Send + Sync + 'static) -> (SocketAddr, Heard) {
    let socket = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
    let addr = socket.local_addr().unwrap();
    let heard = Heard::default();
    let kept = Arc::clone(&heard);
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in socket.incoming() {
            let Ok(mut stream) = stream else { return };
            let (heard, answer) = (Arc::clone(&kept), Arc::clone(&answer));
            std::thread::spawn(move || {
                // A client that stops talking cannot hold the thread for long.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                if let Some(method) = read_request(&stream, &heard) {
                    let _ = stream.write_all(answer(&method).as_bytes());
                }
            });
        }
    });
    (addr, heard)
}

fn http(status: &str, headers: &[(&str, &str)]) -> String {
    let mut out = format!("HTTP/1.1 {status}\r\nConnection: close\r\nTus-Resumable: 1.0.0\r\n");
    for (name, value) in headers {
        let _ = write!(out, "{name}: {value}\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    out
}

/// A willing tus server's answers, its uploads at `location`.
fn tus(method: &str, location: &str) -> String {
    match method {
        "OPTIONS" => http(
            "204 No Content",
            &[("Tus-Version", "1.0.0"), ("Tus-Extension", "creation")],
        ),
        "POST" => http("201 Created", &[("Location", location)]),
        "HEAD" => http(
            "200 OK",
            &[("Upload-Offset", "0"), ("Cache-Control", "no-store")],
        ),
        "PATCH" => http("204 No Content", &[("Upload-Offset", "4096")]),
        _ => http("404 Not Found", &[]),
    }
}

#[test]
fn upload_refuses_a_location_on_another_port_and_shows_the_token_nowhere() {
    let (other, heard) = listener(|method| tus(method, "/files/x"));
    let location = format!("http://{other}/files/x");
    let (home_addr, _) = listener(move |method| tus(method, &location));
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (file, _) = random_file(work.path(), "f.bin", 4096, 5);
    let server = format!("http://{home_addr}/files/");
    let command = ferry_command(
        &home,
        Some(CANARY),
        &["-v", "upload", file.to_str().unwrap(), "--server", &server],
    );
    let out = run_bounded("ferry upload", command, Duration::from_secs(60));
    let (said, printed) = (
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a Location outside the server fails the upload:\n{said}"
    );
    assert!(
        said.contains("outside") && said.contains(&format!("http://{other}/files/x")),
        "stderr names the cause and where it pointed:\n{said}"
    );
    assert!(
        !said.contains(CANARY) && !printed.contains(CANARY),
        "the token is in the output:\n{printed}\n{said}"
    );
    let received = String::from_utf8_lossy(&heard.lock().unwrap()).into_owned();
    assert!(
        !received.contains(CANARY),
        "the other port received the token:\n{received}"
    );
}
