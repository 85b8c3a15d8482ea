//! The GalileoSend half of the demo: the client machine wired to the server session
//! machine, with the server's storage a `Vec<u8>` that outlives the connection.

use ferry_proto::checksum::ChecksumAlgorithm;
use ferry_proto::galileo::{
    Client, ClientFrame, ClientOptions, Event, ServerInput, ServerOptions, ServerSession,
};

use crate::sample;

/// What the server keeps between connections: one upload's id and bytes.
#[derive(Default)]
struct Store {
    id: Option<String>,
    bytes: Vec<u8>,
}

fn show(direction: &str, text: &str) {
    println!("  {direction} {text}");
}

/// One connection: frames flow until the session ends or `cut_after` binary frames were
/// delivered, when the connection drops.
fn connect(
    options: ClientOptions,
    file: &[u8],
    store: &mut Store,
    cut_after: Option<usize>,
) -> Client {
    let mut client = Client::new(options);
    let mut server = ServerSession::new(ServerOptions {
        chunksize: 100_000,
        ..ServerOptions::default()
    });
    let mut delivered = 0;
    while let Some(frame) = client.poll_transmit() {
        match frame {
            ClientFrame::Text(text) => {
                show("->", &text);
                match server.handle_text(&text) {
                    Ok(ServerInput::Meta(meta)) => {
                        let offset = match (&meta.upload, &store.id) {
                            (Some(wanted), Some(have)) if wanted == have => {
                                store.bytes.len() as u64
                            }
                            _ => {
                                store.id = Some("u1".into());
                                store.bytes.clear();
                                0
                            }
                        };
                        let _ = server.accept(store.id.clone().unwrap_or_default(), offset);
                    }
                    Ok(ServerInput::Finished(hash)) => {
                        let sum = ChecksumAlgorithm::Sha1.digest(&store.bytes);
                        let verdict = hash.as_ref().map_or("no hash sent", |h| {
                            if h.matches(&sum) {
                                "sha1 verified"
                            } else {
                                "sha1 MISMATCH"
                            }
                        });
                        println!(
                            "  == server: all {} bytes here, {verdict}",
                            store.bytes.len()
                        );
                        let _ = server.finish_ok();
                    }
                    Err(err) => println!("  !! server: {err}"),
                }
            }
            ClientFrame::Binary(range) => {
                if Some(delivered) == cut_after {
                    println!(
                        "  -> [binary {}..{}] (connection lost on the way)",
                        range.start, range.end
                    );
                    client.handle_closed();
                    break;
                }
                delivered += 1;
                println!(
                    "  -> [binary {}..{}: {} bytes]",
                    range.start,
                    range.end,
                    range.end - range.start
                );
                let start = usize::try_from(range.start).unwrap_or(0);
                let end = usize::try_from(range.end).unwrap_or(0);
                if let Ok(plan) = server.handle_binary(range.end - range.start)
                    && plan.len > 0
                {
                    store.bytes.extend_from_slice(&file[start..end]);
                    server.chunk_stored();
                }
            }
        }
        while let Some(text) = server.poll_transmit() {
            show("<-", &text);
            let _ = client.handle_text(&text);
        }
    }
    while let Some(event) = client.poll_event() {
        match event {
            Event::Finished => println!("  == client: finished, the server closed"),
            Event::Failed(err) => println!("  == client: {err}"),
            _ => {}
        }
    }
    client
}

/// A plain upload, then an upload cut mid-way and resumed with the extension.
pub(crate) fn run() {
    println!("\nferry-proto demo, part 2: GalileoSend client machine <-> server session machine");
    let file = sample(250_000);
    let hash = ChecksumAlgorithm::Sha1.digest(&file);

    println!("\n4. The original protocol: name and size, one chunk per ready, finished, close:");
    let mut plain = ClientOptions::new("sample.bin", file.len() as u64);
    plain.use_extension = false;
    connect(plain, &file, &mut Store::default(), None);

    println!("\n5. With Ferry's resume extension: the connection drops, a new one continues:");
    let mut store = Store::default();
    let mut options = ClientOptions::new("sample.bin", file.len() as u64);
    options.path = Some("demo/sample.bin".into());
    options.hash = Some(hash);
    let first = connect(options.clone(), &file, &mut store, Some(1));
    options.resume_upload = first.upload_id().map(str::to_owned);
    connect(options, &file, &mut store, None);
    let same = if store.bytes == file {
        "byte-identical"
    } else {
        "DIFFERENT"
    };
    println!("  == the server holds {} bytes, {same}", store.bytes.len());
    println!("\nThe desktop app and the ferry CLI arrive with later issues.");
}
