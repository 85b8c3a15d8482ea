//! The system's D-Bus services (NetworkManager, systemd-logind, UPower) for a test, as
//! python-dbusmock plays them with its own templates, on a private bus that
//! `dbus-run-session` starts for the test alone: never the machine's system bus.
//!
//! [`MockBus::start`] starts the bus; [`MockBus::template`] starts one service on it and
//! waits until its name is on the bus; [`MockBus::connection`] is a zbus connection to drive
//! the mocks (`org.freedesktop.DBus.Mock` methods, `Properties.Set`). Everything started is
//! killed when the `MockBus` is dropped. python-dbusmock comes from PyPI into a virtual
//! environment that `make test-tools` (scripts/setup-test-tools.sh) makes; without it, or
//! without `dbus-run-session`, the test fails and says how to install them. Knows nothing
//! of Ferry.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python with python-dbusmock (a virtual environment); overridden by this variable.
pub const PYTHON_ENV: &str = "FERRY_DBUSMOCK_PYTHON";

/// How long a mock may take to appear on the bus.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// A private bus and the mocks on it.
pub struct MockBus {
    address: String,
    session: Child,
    mocks: Vec<Child>,
}

/// Where `make test-tools` puts python-dbusmock's virtual environment.
pub fn python() -> PathBuf {
    if let Some(path) = std::env::var_os(PYTHON_ENV) {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-tools/dbusmock/bin/python3")
}

impl MockBus {
    /// Starts a private bus with `dbus-run-session` (its address read from the session).
    pub fn start() -> Self {
        assert!(
            crate::keyring::on_path("dbus-run-session"),
            "dbus-run-session is not installed: `make test-tools` installs it (package dbus)"
        );
        let python = python();
        assert!(
            python.is_file(),
            "python-dbusmock is not installed at {}: run `make test-tools` \
             (scripts/setup-test-tools.sh), or point {PYTHON_ENV} at a Python that has it",
            python.display()
        );
        let mut command = Command::new("dbus-run-session");
        command
            .args([
                "--",
                "sh",
                "-c",
                r#"echo "$DBUS_SESSION_BUS_ADDRESS"; exec sleep 600"#,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut session = command.spawn().expect("dbus-run-session starts");
        let mut line = String::new();
        BufReader::new(session.stdout.take().expect("its stdout"))
            .read_line(&mut line)
            .expect("dbus-run-session says its address");
        let address = line.trim().to_owned();
        assert!(
            address.starts_with("unix:"),
            "dbus-run-session gave no bus address: {line:?}"
        );
        Self {
            address,
            session,
            mocks: Vec::new(),
        }
    }

    /// The bus's address (what `DBUS_SYSTEM_BUS_ADDRESS` is set to for the program tested).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Starts python-dbusmock's `template` (`networkmanager`, `logind`, `upower`) with
    /// `parameters` (JSON, or none) as a system service on this bus, and waits until
    /// `name` (its bus name) is there.
    pub async fn template(&mut self, template: &str, parameters: Option<&str>, name: &str) {
        let mut command = Command::new(python());
        command
            .args(["-m", "dbusmock", "--system", "--template", template])
            .env("DBUS_SYSTEM_BUS_ADDRESS", &self.address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(parameters) = parameters {
            command.args(["--parameters", parameters]);
        }
        let mut mock = command.spawn().expect("python-dbusmock starts");
        let bus = self.connection().await;
        let dbus = zbus::fdo::DBusProxy::new(&bus)
            .await
            .expect("the bus answers");
        let started = Instant::now();
        loop {
            let bus_name = zbus::names::BusName::try_from(name).expect("a bus name");
            if dbus.name_has_owner(bus_name).await.unwrap_or(false) {
                break;
            }
            if let Ok(Some(status)) = mock.try_wait() {
                let mut stderr = String::new();
                if let Some(mut err) = mock.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
                }
                panic!("python-dbusmock's {template} exited ({status}): {stderr}");
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "python-dbusmock's {template} did not appear on the bus as {name} within {READY_WITHIN:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.mocks.push(mock);
    }

    /// A connection to the bus.
    pub async fn connection(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .expect("a bus address")
            .build()
            .await
            .expect("the private bus answers")
    }
}

impl Drop for MockBus {
    fn drop(&mut self) {
        for mock in &mut self.mocks {
            let _ = mock.kill();
            let _ = mock.wait();
        }
        // The session's process group: dbus-run-session, its bus and its sleep.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.session.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.session.wait();
    }
}
