//! `make demo` (until the app exists): whole uploads through ferry-proto's machines against
//! in-memory servers, with every message printed. No sockets, no files: the point is to show
//! the protocol core that the CLI, the app and ferry-server will share.

mod galileo;
mod tus;

/// A file's worth of bytes that differ from offset to offset.
fn sample(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + i / 7) % 251).unwrap_or(0))
        .collect()
}

fn main() {
    tus::run();
    galileo::run();
}
