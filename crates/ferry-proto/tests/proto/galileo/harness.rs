//! An in-memory GalileoSend world: a `Client` wired to a `ServerSession`, a `Vec<u8>` as
//! the client's file and a map of `Vec<u8>`s as the server's storage.
//!
//! The drivers here do what the real ones do (read the range the client names, write the
//! chunk where the plan says, look up uploads to resume, verify the hash) and nothing
//! else, so the machines are tested as the engine and ferry-server will use them. A
//! connection can be cut after any number of delivered frames; frames in flight are lost.

use std::collections::HashMap;

use ferry_proto::checksum::{Checksum, ChecksumAlgorithm};
use ferry_proto::galileo::{
    Client, ClientFrame, ClientOptions, ErrorCode, Event, Hash, Meta, ServerInput, ServerOptions,
    ServerSession,
};

/// The server's storage, surviving connections (as ferry-server's disk and database do).
#[derive(Debug, Default)]
pub(crate) struct Store {
    /// Unfinished uploads by id: the bytes held so far.
    pub(crate) uploads: HashMap<String, Vec<u8>>,
    /// Finished uploads by remote path (or name): the verified bytes.
    pub(crate) files: HashMap<String, Vec<u8>>,
    /// Finished uploads by id: their remote path. A resume of one of these is accepted at
    /// its full size, so a client that lost the close signal can still finish.
    pub(crate) completed: HashMap<String, String>,
    next_id: u32,
}

impl Store {
    /// The bytes held for upload `id`, unfinished or finished.
    pub(crate) fn held(&self, id: &str) -> Option<&[u8]> {
        self.uploads.get(id).map(Vec::as_slice).or_else(|| {
            let path = self.completed.get(id)?;
            self.files.get(path).map(Vec::as_slice)
        })
    }
}

/// What the server driver does besides storing, to provoke the client.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerScript {
    /// Send a non-fatal error signal before acknowledging the n-th stored chunk (1-based).
    pub(crate) report_before_ack: Option<usize>,
    /// Fail with this code instead of acknowledging the n-th stored chunk (1-based), after
    /// storing it.
    pub(crate) fail_instead_of_ack: Option<(usize, ErrorCode)>,
}

/// One connection's story.
#[derive(Debug, Default)]
pub(crate) struct Connection {
    /// Every event the client reported, in order.
    pub(crate) events: Vec<Event>,
    /// Every frame the client handed to the wire (binary frames as the ranges it asked for).
    pub(crate) client_frames: Vec<ClientFrame>,
    /// Every text frame the server handed to the wire.
    pub(crate) server_texts: Vec<String>,
    /// Bytes of file data the client put on the wire.
    pub(crate) data_bytes_sent: u64,
    /// The client's confirmed offset after every event.
    pub(crate) confirmed_trace: Vec<u64>,
    /// Whether the client machine ended successfully.
    pub(crate) finished: bool,
}

impl Connection {
    /// The upload id from the client's `Accepted` event, if any.
    pub(crate) fn accepted_upload(&self) -> Option<String> {
        self.events.iter().find_map(|event| match event {
            Event::Accepted { upload, .. } => upload.clone(),
            _ => None,
        })
    }

    /// The error the session failed with, if it failed.
    pub(crate) fn failure(&self) -> Option<&ferry_proto::galileo::GalileoError> {
        self.events.iter().find_map(|event| match event {
            Event::Failed(err) => Some(err),
            _ => None,
        })
    }
}

/// The sha1 of `data`.
pub(crate) fn sha1(data: &[u8]) -> Checksum {
    ChecksumAlgorithm::Sha1.digest(data)
}

/// Deterministic, non-repeating-looking test data.
pub(crate) fn data(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Client options for uploading `file` to `path` with the extension and its hash.
pub(crate) fn options(path: &str, file: &[u8]) -> ClientOptions {
    let mut options = ClientOptions::new(path.rsplit('/').next().unwrap_or(path), len(file));
    options.path = Some(path.to_owned());
    options.mtime = Some(1_700_000_000);
    options.hash = Some(sha1(file));
    options
}

/// `data.len()` as u64.
pub(crate) fn len<T>(data: &[T]) -> u64 {
    u64::try_from(data.len()).expect("fits")
}

/// The server's driver for one connection: what ferry-server does around the machine.
struct ServerDriver<'a> {
    store: &'a mut Store,
    script: &'a ServerScript,
    session: ServerSession,
    upload: Option<String>,
    chunks_stored: usize,
}

impl ServerDriver<'_> {
    fn on_text(&mut self, text: &str) {
        match self.session.handle_text(text) {
            Ok(ServerInput::Meta(meta)) => self.on_meta(&meta),
            Ok(ServerInput::Finished(hash)) => self.on_finished(hash.as_ref()),
            Err(_) => assert!(self.session.is_closed(), "errors close the session"),
        }
    }

    fn on_meta(&mut self, meta: &Meta) {
        let resumed = meta.upload.clone().filter(|_| meta.asks_for_extension());
        if let Some(id) = resumed {
            if let Some(held) = self.store.held(&id) {
                self.session.accept(id.clone(), len(held)).expect("accept");
                self.upload = Some(id);
            } else {
                let message = format!("no upload {id} here");
                self.session.reject(ErrorCode::UnknownUpload, message);
            }
        } else {
            self.store.next_id += 1;
            let id = format!("up-{}", self.store.next_id);
            self.store.uploads.insert(id.clone(), Vec::new());
            self.session.accept(id.clone(), 0).expect("accept");
            self.upload = Some(id);
        }
    }

    fn on_finished(&mut self, hash: Option<&Hash>) {
        let id = self.upload.clone().expect("finished after accept");
        let held = self.store.held(&id).expect("held").to_vec();
        self.store.uploads.remove(&id);
        if hash.is_some_and(|hash| !hash.matches(&sha1(&held))) {
            // The data is worthless and now discarded: the client has to start over.
            self.session
                .fail(ErrorCode::HashMismatch, "the sha1 does not match");
        } else {
            let meta = self.session.meta().expect("meta");
            let path = meta.path.clone().unwrap_or_else(|| meta.name.clone());
            self.store.files.insert(path.clone(), held);
            self.store.completed.insert(id, path);
            self.session.finish_ok().expect("finish_ok");
        }
    }

    fn on_binary(&mut self, bytes: &[u8]) {
        match self.session.handle_binary(len(bytes)) {
            Ok(plan) if plan.len > 0 => {
                let id = self.upload.as_ref().expect("chunk after accept");
                let held = self.store.uploads.get_mut(id).expect("held");
                assert_eq!(len(held), plan.offset, "chunks arrive in order");
                held.extend_from_slice(bytes);
                self.chunks_stored += 1;
                if self.script.report_before_ack == Some(self.chunks_stored) {
                    self.session
                        .report(ErrorCode::Internal, "slow disk, carrying on");
                }
                match &self.script.fail_instead_of_ack {
                    Some((n, code)) if *n == self.chunks_stored => {
                        self.session.fail(code.clone(), "the disk is full");
                    }
                    _ => self.session.chunk_stored(),
                }
            }
            Ok(_) => {}
            Err(_) => assert!(self.session.is_closed(), "errors close the session"),
        }
    }
}

/// Runs one connection: `file` is what the client's driver reads (it may be shorter or
/// longer than `client_options.size` to emulate a lying client). The connection is cut
/// after `cut_after` delivered frames (both directions counted), if given.
pub(crate) fn connect(
    store: &mut Store,
    server_options: &ServerOptions,
    script: &ServerScript,
    client_options: ClientOptions,
    file: &[u8],
    cut_after: Option<usize>,
) -> Connection {
    let mut client = Client::new(client_options);
    let mut server = ServerDriver {
        store,
        script,
        session: ServerSession::new(server_options.clone()),
        upload: None,
        chunks_stored: 0,
    };
    let mut conn = Connection::default();
    let mut delivered = 0usize;
    let cut = |delivered: usize| cut_after.is_some_and(|n| delivered >= n);

    'wire: loop {
        let mut moved = false;
        while let Some(frame) = client.poll_transmit() {
            moved = true;
            conn.client_frames.push(frame.clone());
            if let ClientFrame::Binary(range) = &frame {
                conn.data_bytes_sent += range.end - range.start;
            }
            if cut(delivered) {
                break 'wire;
            }
            delivered += 1;
            match frame {
                ClientFrame::Text(text) => server.on_text(&text),
                ClientFrame::Binary(range) => server.on_binary(&read(file, range)),
            }
        }
        while let Some(text) = server.session.poll_transmit() {
            moved = true;
            conn.server_texts.push(text.clone());
            if cut(delivered) {
                break 'wire;
            }
            delivered += 1;
            let _ = client.handle_text(&text);
            collect_events(&mut client, &mut conn);
        }
        if server.session.should_close() || client.is_over() {
            break;
        }
        assert!(moved, "the session stalled: {conn:#?}");
    }
    client.handle_closed();
    server.session.handle_closed();
    collect_events(&mut client, &mut conn);
    conn.finished = client.is_finished();
    conn
}

fn collect_events(client: &mut Client, conn: &mut Connection) {
    while let Some(event) = client.poll_event() {
        conn.events.push(event);
        conn.confirmed_trace.push(client.confirmed_offset());
    }
}

/// What the client's driver reads for `range`: as much of it as the file has.
fn read(file: &[u8], range: std::ops::Range<u64>) -> Vec<u8> {
    let start = usize::try_from(range.start).expect("fits").min(file.len());
    let end = usize::try_from(range.end).expect("fits").min(file.len());
    file[start..end].to_vec()
}

/// The outcome of uploading one file over as many connections as it takes.
#[derive(Debug)]
pub(crate) struct Upload {
    /// Every connection, in order.
    pub(crate) connections: Vec<Connection>,
    /// Bytes of file data put on the wire over all connections.
    pub(crate) data_bytes_sent: u64,
}

/// Uploads `file` to `path`, cutting the n-th connection after `cuts[n]` delivered
/// frames, and reconnecting (with the upload id the client learned, like the engine's
/// journal) until a connection ends without a cut.
pub(crate) fn upload_with_cuts(
    store: &mut Store,
    server_options: &ServerOptions,
    path: &str,
    file: &[u8],
    cuts: &[usize],
) -> Upload {
    let mut connections = Vec::new();
    let mut known_upload: Option<String> = None;
    for attempt in 0..=cuts.len() {
        let mut opts = options(path, file);
        opts.resume_upload.clone_from(&known_upload);
        let conn = connect(
            store,
            server_options,
            &ServerScript::default(),
            opts,
            file,
            cuts.get(attempt).copied(),
        );
        if let Some(id) = conn.accepted_upload() {
            known_upload = Some(id);
        }
        let done = conn.finished;
        connections.push(conn);
        if done {
            break;
        }
    }
    let data_bytes_sent = connections.iter().map(|c| c.data_bytes_sent).sum();
    Upload {
        connections,
        data_bytes_sent,
    }
}
