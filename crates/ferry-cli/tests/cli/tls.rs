//! TLS as the operating system does it, against the real `ferry-server` binary on TLS:
//!
//! - a certificate from a CA the test creates and installs into the system's trust store
//!   (`/usr/local/share/ca-certificates` + `update-ca-certificates`; the tests run as root)
//!   is trusted by `ferry login` and `ferry upload` over tus and GalileoSend without any
//!   flag; the CA is removed again when the test ends, also when it fails;
//! - a self-signed certificate is refused with its fingerprint named, accepted with
//!   `--trust-fingerprint`, and once the server's certificate changes, refused naming both.
//!
//! Both run as children in a private D-Bus session with gnome-keyring
//! ([`ferry_tests::keyring`]): `ferry login` keeps the token in the real keyring. Only the
//! first test changes the system store, and it is the only one that does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use ferry_engine::tls::Fingerprint;
use ferry_tests::keyring::{self, Session};
use ferry_tests::server::random_file;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use crate::restart::{ferry_server, ferry_server_bin};
use crate::support::{Listening, assert_success, ferry_command, run_bounded};

const PASSWORD: &str = "ann's password";

/// Where `update-ca-certificates` takes local CAs from.
const LOCAL_CAS: &str = "/usr/local/share/ca-certificates";

/// A CA installed in the system's trust store for as long as it lives: dropping it (also
/// while a failed test unwinds) removes the file and runs `update-ca-certificates` again.
struct InstalledCa {
    path: PathBuf,
}

impl InstalledCa {
    /// Installs `pem` as a local CA. Fails the test with the way out when it cannot (not
    /// root, no `update-ca-certificates`): this test needs the real system store.
    fn install(pem: &str) -> Self {
        let path = Path::new(LOCAL_CAS).join(format!("ferry-test-{}.crt", std::process::id()));
        std::fs::create_dir_all(LOCAL_CAS)
            .and_then(|()| std::fs::write(&path, pem))
            .unwrap_or_else(|e| {
                panic!(
                    "cannot write {} ({e}): this test installs a CA into the system's trust \
                     store and must run as root (as in CI)",
                    path.display()
                )
            });
        let installed = Self { path };
        update_ca_certificates();
        installed
    }
}

impl Drop for InstalledCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        update_ca_certificates();
    }
}

fn update_ca_certificates() {
    let out = Command::new("update-ca-certificates")
        .arg("--fresh")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run update-ca-certificates ({e}): install the ca-certificates package \
                 (`make test` does, scripts/setup-test-tools.sh)"
            )
        });
    assert_success("update-ca-certificates", &out);
}

/// A certificate and its key as PEM files in `dir`, named `name`.
fn write_pair(dir: &Path, name: &str, cert_pem: &str, key_pem: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&key, key_pem).unwrap();
    (cert, key)
}

/// `ferry-server serve` on 127.0.0.1:`port` (0: any) on TLS with `cert`/`key`, once it
/// listens; its `https://` URL is in `url`.
fn serve_tls(data: &Path, port: u16, (cert, key): &(PathBuf, PathBuf)) -> Listening {
    let mut command = Command::new(ferry_server_bin());
    command
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key);
    let server = Listening::start("ferry-server on TLS", command, Duration::from_secs(20));
    assert!(server.url.starts_with("https://"), "{}", server.url);
    server
}

/// `ferry ARGS` in `home`, standard input from `stdin` (a file: not a terminal), at most
/// 60 s; stdout and stderr together.
fn ferry(home: &Path, args: &[&str], stdin: Option<&Path>) -> (Output, String) {
    let mut command = ferry_command(home, None, args);
    command.env("FERRY_TIMEOUT_SECS", "5");
    if let Some(stdin) = stdin {
        command.stdin(std::fs::File::open(stdin).unwrap());
    }
    let out = run_bounded(&format!("ferry {args:?}"), command, Duration::from_secs(60));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, said)
}

/// A data directory with user ann, and a file with her password for `--password-stdin`.
fn server_data(work: &Path) -> (PathBuf, PathBuf) {
    let data = work.join("server-data");
    ferry_server(
        &["user", "add", "ann", "--password-stdin"],
        &data,
        &format!("{PASSWORD}\n"),
    );
    let password = work.join("password.txt");
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
    (data, password)
}

/// Uploads `name` (fresh random bytes) with `protocol`; the output, and whether the server
/// stored exactly those bytes.
fn upload(
    home: &Path,
    work: &Path,
    data: &Path,
    url: &str,
    protocol: &str,
    name: &str,
) -> (Output, String, bool) {
    let (file, bytes) = random_file(work, name, 300_000, name.len() as u64);
    let (out, said) = ferry(
        home,
        &[
            "upload",
            file.to_str().unwrap(),
            "--server",
            url,
            "--protocol",
            protocol,
        ],
        None,
    );
    let stored = std::fs::read(data.join("files/ann").join(name)).is_ok_and(|b| b == bytes);
    (out, said, stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_a_ca_in_the_system_store_is_trusted_over_tus_and_galileo() {
    if !keyring::in_child(
        "tls::a_certificate_from_a_ca_in_the_system_store_is_trusted_over_tus_and_galileo",
        Session::SecretService,
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (data, password) = server_data(work.path());

    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("Ferry test CA {}", std::process::id()),
    );
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "ferry-server");
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &ca_cert, &ca_key).unwrap();
    let pair = write_pair(
        work.path(),
        "leaf",
        &leaf_cert.pem(),
        &leaf_key.serialize_pem(),
    );

    // Installed before any child process starts; removed when this test ends.
    let _ca = InstalledCa::install(&ca_cert.pem());
    let server = serve_tls(&data, 0, &pair);

    let (login, said) = ferry(
        &home,
        &["login", &server.url, "--user", "ann", "--password-stdin"],
        Some(&password),
    );
    assert_success(&format!("ferry login (no flag):\n{said}"), &login);
    assert!(!said.contains("--trust-fingerprint"), "{said}");
    for protocol in ["tus", "galileo"] {
        let (out, said, stored) = upload(
            &home,
            work.path(),
            &data,
            &server.url,
            protocol,
            &format!("{protocol}.bin"),
        );
        assert_success(&format!("ferry upload over {protocol}:\n{said}"), &out);
        assert!(stored, "the server holds the bytes sent over {protocol}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_certificate_is_trusted_only_by_its_fingerprint_and_a_changed_one_is_refused()
{
    if !keyring::in_child(
        "tls::a_self_signed_certificate_is_trusted_only_by_its_fingerprint_and_a_changed_one_is_refused",
        Session::SecretService,
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join("home");
    let (data, password) = server_data(work.path());
    let self_signed = |name: &str| {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let fingerprint = Fingerprint::of(certified.cert.der());
        let pair = write_pair(
            work.path(),
            name,
            &certified.cert.pem(),
            &certified.key_pair.serialize_pem(),
        );
        (pair, fingerprint)
    };
    let (first, first_fp) = self_signed("first");
    let port = ferry_tests::server::free_port();
    let server = serve_tls(&data, port, &first);
    let url = server.url.clone();
    let login_args = ["login", url.as_str(), "--user", "ann", "--password-stdin"];

    // Not on a terminal, nothing to ask: refused, naming the fingerprint and the flag.
    let (refused, said) = ferry(&home, &login_args, Some(&password));
    assert!(
        !refused.status.success(),
        "an untrusted certificate signs nobody in:\n{said}"
    );
    assert!(
        said.contains(&first_fp.to_string()) && said.contains("--trust-fingerprint"),
        "the refusal names the fingerprint and the flag:\n{said}"
    );
    let (out, said, stored) = upload(&home, work.path(), &data, &server.url, "tus", "before.bin");
    assert!(
        !out.status.success() && !stored,
        "nothing is uploaded to an untrusted server:\n{said}"
    );

    // Trusted deliberately, in the form a script may have it (lowercase, no colons).
    let mut trusting = login_args.to_vec();
    let given = first_fp.to_hex();
    trusting.extend(["--trust-fingerprint", &given]);
    let (login, said) = ferry(&home, &trusting, Some(&password));
    assert_success(&format!("ferry login --trust-fingerprint:\n{said}"), &login);
    for protocol in ["tus", "galileo"] {
        let (out, said, stored) = upload(
            &home,
            work.path(),
            &data,
            &server.url,
            protocol,
            &format!("{protocol}.bin"),
        );
        assert_success(
            &format!("ferry upload over {protocol} to the pinned server:\n{said}"),
            &out,
        );
        assert!(stored, "the server holds the bytes sent over {protocol}");
    }

    // The server's certificate changes (same address, same data): refused, both named.
    server.kill();
    let (second, second_fp) = self_signed("second");
    let server = serve_tls(&data, port, &second);
    for protocol in ["tus", "galileo"] {
        let (out, said, stored) = upload(
            &home,
            work.path(),
            &data,
            &server.url,
            protocol,
            &format!("after-{protocol}.bin"),
        );
        assert!(
            !out.status.success() && !stored,
            "a changed certificate is never accepted silently:\n{said}"
        );
        assert!(
            said.contains(&first_fp.to_string()) && said.contains(&second_fp.to_string()),
            "the refusal over {protocol} names both fingerprints:\n{said}"
        );
    }
    let (again, said) = ferry(&home, &login_args, Some(&password));
    assert!(!again.status.success(), "{said}");
    assert!(
        said.contains(&first_fp.to_string()) && said.contains(&second_fp.to_string()),
        "ferry login names both fingerprints too:\n{said}"
    );
}
