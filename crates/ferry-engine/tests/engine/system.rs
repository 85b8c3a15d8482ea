//! The engine and the system's state, against python-dbusmock's NetworkManager, logind and
//! UPower on a private bus (`dbus-run-session`) and a real ferry-server: a metered
//! connection pauses the folders that say so mid-upload and resumes them; sleep pauses
//! everything cleanly (the delay lock let go once paused) and on waking every upload is
//! checked with its server at once, even one the server dropped meanwhile; connectivity's
//! return retries a file waiting on the network at once (the delay measured); a low battery
//! pauses; a missing bus changes nothing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_engine::Event;
use ferry_engine::auth::Credentials;
use ferry_engine::home::Home;
use ferry_engine::service::Service;
use ferry_engine::settings::FolderSettings;
use ferry_engine::sync::Engine;
use ferry_engine::sync::holds::HoldReason;
use ferry_engine::sync::status::{OverallState, QueueState};
use ferry_engine::system::SystemSource;
use ferry_tests::dbusmock::MockBus;
use ferry_tests::proxy::FaultProxy;
use zbus::zvariant::Value;

use crate::support::{TestServer, random_file};
use crate::sync::{same, setup, until};

const NM: &str = "org.freedesktop.NetworkManager";
const NM_PATH: &str = "/org/freedesktop/NetworkManager";
const LOGIN: &str = "org.freedesktop.login1";
const LOGIN_PATH: &str = "/org/freedesktop/login1";
const LOGIN_MANAGER: &str = "org.freedesktop.login1.Manager";
const UPOWER: &str = "org.freedesktop.UPower";
const MOCK: &str = "org.freedesktop.DBus.Mock";

/// Calls `method` of `interface` on the mock at `path` of `service`.
async fn call<B>(
    bus: &zbus::Connection,
    service: &str,
    path: &str,
    interface: &str,
    method: &str,
    body: &B,
) where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    bus.call_method(Some(service), path, Some(interface), method, body)
        .await
        .unwrap_or_else(|e| panic!("{service} {interface}.{method}: {e}"));
}

/// NetworkManager's `name` becomes `value` (with the standard PropertiesChanged).
async fn nm_update(bus: &zbus::Connection, name: &str, value: u32) {
    let changed = BTreeMap::from([(name, Value::from(value))]);
    call(bus, NM, NM_PATH, MOCK, "UpdateProperties", &(NM, changed)).await;
}

/// NetworkManager's mock, with a `Metered` property (the template has none) of `metered`.
async fn network(bus: &mut MockBus, metered: u32) -> zbus::Connection {
    bus.template("networkmanager", None, NM).await;
    let connection = bus.connection().await;
    call(
        &connection,
        NM,
        NM_PATH,
        MOCK,
        "AddProperty",
        &(NM, "Metered", Value::from(metered)),
    )
    .await;
    connection
}

fn started_from(events: &Mutex<Vec<Event>>, name: &str) -> Vec<u64> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Started {
                path, resumed_from, ..
            } if path.ends_with(name) => Some(*resumed_from),
            _ => None,
        })
        .collect()
}

fn sink(events: &Arc<Mutex<Vec<Event>>>) -> ferry_engine::EventSink {
    let events = Arc::clone(events);
    Arc::new(move |e| events.lock().unwrap().push(e))
}

/// A second synced folder beside `setup`'s, under prefix `other`.
fn second_folder(home: &Home, work: &std::path::Path, server: &str) -> PathBuf {
    let dir = work.join("videos");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    let journal = home.journal().unwrap();
    let account = journal.account(server, "").unwrap();
    journal
        .add_folder(dir.to_str().unwrap(), account.id, "other", None)
        .unwrap();
    dir
}

/// Two folders, photos and videos, where all folders pause on metered connections but the
/// videos do not; slow enough that both are mid-way for a while.
fn photos_and_videos(
    server: &TestServer,
    bus: &MockBus,
) -> (
    tempfile::TempDir,
    Home,
    PathBuf,
    PathBuf,
    ferry_engine::sync::SyncOptions,
) {
    let (work, home, photos, mut options) = setup(&server.base, None);
    let videos = second_folder(&home, work.path(), &server.base);
    options.system = SystemSource::Address(bus.address().to_owned());
    options.pause_on_metered = true;
    options.folders = BTreeMap::from([(
        videos.clone(),
        FolderSettings {
            pause_on_metered: Some(false),
            ..FolderSettings::default()
        },
    )]);
    options.rate_limit = Some(512 * 1024);
    options.transfer.chunk_size = Some(64 * 1024);
    (work, home, photos, videos, options)
}

fn folder_hold(engine: &Engine, path: &str) -> Option<ferry_engine::sync::holds::Hold> {
    engine
        .folders()
        .into_iter()
        .find(|f| f.path == path)
        .and_then(|f| f.hold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metered_connection_pauses_the_folders_that_say_so_and_resumes_them() {
    let mut bus = MockBus::start();
    let nm = network(&mut bus, 2).await;
    let server = TestServer::start().await;
    let (_work, home, photos, videos, options) = photos_and_videos(&server, &bus);
    let (photo, _) = random_file(&photos, "photo.bin", 3 << 20, 1);
    let (video, _) = random_file(&videos, "video.bin", 3 << 20, 2);
    let events = Arc::new(Mutex::new(Vec::new()));
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        sink(&events),
    )
    .await
    .unwrap();
    let both_mid = until(&engine, 30, || {
        let queue = engine.activity().queue;
        queue.len() == 2
            && queue
                .iter()
                .all(|q| q.confirmed > 0 && q.confirmed < q.size)
    })
    .await;
    assert!(both_mid, "both uploads under way: {:?}", engine.activity());

    nm_update(&nm, "Metered", 1).await;
    let photos_path = photos.to_str().unwrap().to_owned();
    let held = until(&engine, 10, || {
        folder_hold(&engine, &photos_path).is_some_and(|h| h.reason == HoldReason::Metered)
            && engine
                .activity()
                .queue
                .iter()
                .any(|q| q.path.ends_with("photo.bin") && q.state == QueueState::Paused)
    })
    .await;
    assert!(
        held,
        "the photos wait on the metered connection: {:?}",
        engine.folders()
    );
    assert_eq!(
        folder_hold(&engine, &photos_path).unwrap().message,
        "paused: metered connection"
    );
    assert!(
        engine
            .folders()
            .iter()
            .all(|f| f.path == photos_path || f.hold.is_none()),
        "the videos go on: {:?}",
        engine.folders()
    );
    // The videos finish on the metered connection; the photos do not move meanwhile.
    assert!(
        until(&engine, 30, || same(
            &video,
            &server.file("ann", "other/video.bin")
        ))
        .await,
        "the video was uploaded on the metered connection: {:?}",
        engine.activity()
    );
    assert!(
        !server.file("ann", "pre/photo.bin").exists(),
        "the photo waits"
    );
    assert!(
        status_says(&home, &photos_path, "paused: metered connection").await,
        "ferry status says why the photos wait"
    );

    nm_update(&nm, "Metered", 2).await;
    assert!(
        until(&engine, 30, || same(
            &photo,
            &server.file("ann", "pre/photo.bin")
        ))
        .await,
        "unmetered again, the photo was uploaded: {:?}",
        engine.activity()
    );
    assert!(
        started_from(&events, "photo.bin")
            .iter()
            .any(|&from| from > 0),
        "the photo went on from the server's offset: {:?}",
        started_from(&events, "photo.bin")
    );
    assert!(
        until(&engine, 10, || engine.overview().state
            == OverallState::UpToDate)
        .await,
        "{:?}",
        engine.overview()
    );
    engine.shutdown().await;
}

/// Whether what `ferry status` shows (the running engine's report, through the service)
/// says that `folder` waits with `message`. The report is rewritten within a second of a
/// change; it is read for at most 5 s.
async fn status_says(home: &Home, folder: &str, message: &str) -> bool {
    let service = Service::open(home.clone(), Credentials::with_env_token(None))
        .await
        .unwrap();
    for _ in 0..50 {
        let status = service.status().await.unwrap();
        if status
            .folders
            .iter()
            .any(|f| f.path == folder && f.hold.as_ref().is_some_and(|h| h.message == message))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// The inhibitors logind's mock holds: (what, who, mode).
async fn inhibitors(bus: &zbus::Connection) -> Vec<(String, String, String)> {
    let reply = bus
        .call_method(
            Some(LOGIN),
            LOGIN_PATH,
            Some(LOGIN_MANAGER),
            "ListInhibitors",
            &(),
        )
        .await
        .unwrap();
    let list: Vec<(String, String, String, String, u32, u32)> = reply.body().deserialize().unwrap();
    list.into_iter()
        .map(|(what, who, _, mode, _, _)| (what, who, mode))
        .collect()
}

async fn prepare_for_sleep(bus: &zbus::Connection, going: bool) {
    let args = vec![Value::from(going)];
    call(
        bus,
        LOGIN,
        LOGIN_PATH,
        MOCK,
        "EmitSignal",
        &(LOGIN_MANAGER, "PrepareForSleep", "b", args),
    )
    .await;
}

/// Waits (bounded) until Ferry's delay lock is held (`true`) or let go.
async fn ferry_lock(bus: &zbus::Connection, held: bool) -> bool {
    let ferry = ("sleep".to_owned(), "Ferry".to_owned(), "delay".to_owned());
    for _ in 0..100 {
        if inhibitors(bus).await.contains(&ferry) == held {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The server drops the unfinished upload of the one synced folder's `big.bin` (a tus
/// termination with the owner's token).
async fn drop_upload(home: &Home, server: &TestServer) {
    let journal = home.journal().unwrap();
    let folder = journal.folders().unwrap().remove(0);
    let record = journal
        .file(Some(folder.id), "big.bin")
        .unwrap()
        .expect("the file in the journal");
    let upload = journal
        .upload_for_file(record.id)
        .unwrap()
        .expect("its upload");
    let location = upload.upload.parts[0].location.clone().expect("its URL");
    let location = url::Url::parse(&server.base)
        .unwrap()
        .join(&location)
        .unwrap();
    let gone = TestServer::http()
        .delete(location)
        .header("Tus-Resumable", "1.0.0")
        .bearer_auth(&server.ann)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 204, "the server dropped the upload");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_pauses_cleanly_and_on_waking_every_upload_is_checked_with_its_server() {
    let mut bus = MockBus::start();
    bus.template("logind", None, LOGIN).await;
    let login = bus.connection().await;
    let server = TestServer::start().await;
    let (_work, home, dir, mut options) = setup(&server.base, None);
    options.system = SystemSource::Address(bus.address().to_owned());
    options.rate_limit = Some(256 * 1024);
    options.transfer.chunk_size = Some(64 * 1024);
    let (file, _) = random_file(&dir, "big.bin", 2 << 20, 5);
    let events = Arc::new(Mutex::new(Vec::new()));
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        sink(&events),
    )
    .await
    .unwrap();
    assert!(
        ferry_lock(&login, true).await,
        "Ferry holds a delay lock while awake"
    );
    assert!(
        until(&engine, 30, || engine
            .activity()
            .queue
            .iter()
            .any(|q| q.confirmed >= 256 * 1024 && q.confirmed < q.size))
        .await,
        "under way: {:?}",
        engine.activity()
    );

    prepare_for_sleep(&login, true).await;
    assert!(
        until(&engine, 10, || engine
            .overview()
            .hold
            .is_some_and(|h| h.reason == HoldReason::Sleep))
        .await,
        "paused for sleep: {:?}",
        engine.overview()
    );
    assert!(
        ferry_lock(&login, false).await,
        "the lock is let go once paused"
    );
    assert_eq!(engine.overview().state, OverallState::Paused);
    assert!(
        engine.overview().message.starts_with("Paused for sleep"),
        "{:?}",
        engine.overview()
    );

    // Meanwhile the server moved on: it dropped the unfinished upload.
    drop_upload(&home, &server).await;
    let before_wake = events.lock().unwrap().len();

    let woke = Instant::now();
    prepare_for_sleep(&login, false).await;
    assert!(
        until(&engine, 30, || same(
            &file,
            &server.file("ann", "pre/big.bin")
        ))
        .await,
        "after waking the file was uploaded whole: {:?}",
        engine.activity()
    );
    // After waking: started again where the journal stood, and the server's answer
    // (it no longer knows the upload) sent it from the start.
    let after: Vec<Event> = events.lock().unwrap()[before_wake..].to_vec();
    let resumed_from = after.iter().find_map(|e| match e {
        Event::Started { resumed_from, .. } => Some(*resumed_from),
        _ => None,
    });
    let first_confirmed = after.iter().find_map(|e| match e {
        Event::Progress { confirmed, .. } => Some(*confirmed),
        _ => None,
    });
    assert!(
        resumed_from.is_some_and(|r| r >= 256 * 1024)
            && first_confirmed.is_some_and(|c| c < 256 * 1024),
        "the upload the server dropped was found out and sent anew: started at \
         {resumed_from:?}, first confirmed {first_confirmed:?}"
    );
    println!("sleep: uploaded again {:?} after waking", woke.elapsed());
    assert!(
        ferry_lock(&login, true).await,
        "the lock is taken again on waking"
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_connectivity_returns_a_file_waiting_on_the_network_is_tried_at_once() {
    let mut bus = MockBus::start();
    let nm = network(&mut bus, 2).await;
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.addr).await.unwrap();
    let base = format!("http://{}/", proxy.addr());
    let (_work, home, dir, mut options) = setup(&base, None);
    options.system = SystemSource::Address(bus.address().to_owned());
    // A retry of its own would come only after a minute.
    options.file_retry = ferry_engine::retry::RetryPolicy {
        base: Duration::from_secs(60),
        max: Duration::from_secs(120),
        max_attempts: 0,
    };
    options.transfer.retry.max_attempts = 1;
    proxy.refuse_for(Duration::from_secs(600));
    let (file, _) = random_file(&dir, "note.txt", 10_000, 9);
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    assert!(
        until(&engine, 30, || engine
            .activity()
            .queue
            .iter()
            .any(
                |q| q.state == QueueState::Retrying && q.waiting_for_server
            ))
        .await,
        "waiting on the network: {:?}",
        engine.activity()
    );
    nm_update(&nm, "Connectivity", 1).await;
    // The link is back before NetworkManager says so.
    proxy.refuse_for(Duration::ZERO);
    let tried = proxy.connections();
    tokio::task::yield_now().await;
    let signal = Instant::now();
    nm_update(&nm, "Connectivity", 4).await;
    let retried = until(&engine, 10, || proxy.connections() > tried).await;
    let delay = signal.elapsed();
    assert!(
        retried,
        "tried again when connectivity returned: {:?}",
        engine.activity()
    );
    println!("connectivity back: the engine tried again {delay:?} after the signal");
    assert!(
        delay < Duration::from_secs(1),
        "within a second of the signal: {delay:?}"
    );
    assert!(
        until(&engine, 20, || same(
            &file,
            &server.file("ann", "pre/note.txt")
        ))
        .await,
        "{:?}",
        engine.activity()
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_battery_pauses_everything_until_charging() {
    let mut bus = MockBus::start();
    bus.template("upower", Some(r#"{"OnBattery": true}"#), UPOWER)
        .await;
    let power = bus.connection().await;
    let display = "/org/freedesktop/UPower/devices/DisplayDevice";
    let set =
        |path: &'static str, interface: &'static str, name: &'static str, value: Value<'static>| {
            let power = power.clone();
            async move {
                call(
                    &power,
                    UPOWER,
                    path,
                    "org.freedesktop.DBus.Properties",
                    "Set",
                    &(interface, name, value),
                )
                .await;
            }
        };
    set(
        display,
        "org.freedesktop.UPower.Device",
        "Percentage",
        Value::from(12.0),
    )
    .await;
    let server = TestServer::start().await;
    let (_work, home, dir, mut options) = setup(&server.base, None);
    options.system = SystemSource::Address(bus.address().to_owned());
    options.pause_on_battery_below = Some(20);
    let (file, _) = random_file(&dir, "a.bin", 100_000, 4);
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    assert!(
        until(&engine, 10, || engine.overview().hold.is_some_and(|h| h
            .message
            == "paused: on battery at 12% (below 20%)"))
        .await,
        "{:?}",
        engine.overview()
    );
    assert!(
        engine
            .overview()
            .message
            .starts_with("Paused: on battery at 12%"),
        "{:?}",
        engine.overview()
    );
    assert!(
        !server.file("ann", "pre/a.bin").exists(),
        "nothing goes up on a low battery"
    );
    set(
        "/org/freedesktop/UPower",
        UPOWER,
        "OnBattery",
        Value::from(false),
    )
    .await;
    assert!(
        until(&engine, 20, || same(
            &file,
            &server.file("ann", "pre/a.bin")
        ))
        .await,
        "charging, it went up: {:?}",
        engine.overview()
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bus_the_engine_works_as_before() {
    let server = TestServer::start().await;
    let (work, home, dir, mut options) = setup(&server.base, None);
    options.system = SystemSource::Address(format!(
        "unix:path={}",
        work.path().join("no-bus-here").display()
    ));
    options.pause_on_metered = true;
    options.pause_on_battery_below = Some(90);
    let (file, _) = random_file(&dir, "a.bin", 100_000, 6);
    let engine = Engine::start(
        &home,
        options,
        Credentials::with_env_token(Some(&server.ann)),
        ferry_engine::events::discard(),
    )
    .await
    .unwrap();
    assert!(
        until(&engine, 20, || same(
            &file,
            &server.file("ann", "pre/a.bin")
        ))
        .await,
        "{:?}",
        engine.overview()
    );
    assert!(engine.overview().hold.is_none());
    engine.shutdown().await;
}
