//! Flags, file and defaults: every flag has its key, flags win, errors say where and what.

use std::path::Path;

use clap::{Args, Parser};

use super::*;

/// Every key `serve` takes, each set to something other than its default.
const FULL: &str = r#"
listen = "127.0.0.1:9000"
data = "/srv/ferry"
max-size = 1000
expire-after = 60
tls-cert = "cert.pem"
tls-key = "/etc/ferry-server/key.pem"
trust-proxy = true
header-timeout = 5
idle-timeout = 7
max-connections = 8
max-unfinished = 9
quota = 10
metrics-listen = "127.0.0.1:9100"
"#;

#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    serve: ServeOptions,
}

fn flags(args: &[&str]) -> ServeOptions {
    Flags::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
        .expect("the flags parse")
        .serve
}

fn file(text: &str) -> ServeOptions {
    ServeOptions::from_toml(text, Path::new("/etc/ferry-server/config.toml")).expect("it parses")
}

#[test]
fn every_flag_has_its_key_in_the_file() {
    let command = ServeOptions::augment_args(clap::Command::new("serve"));
    let longs: Vec<_> = command
        .get_arguments()
        .filter_map(clap::Arg::get_long)
        .filter(|long| *long != "config")
        .collect();
    assert_eq!(longs.len(), 13, "{longs:?}");
    for long in longs {
        assert!(
            FULL.lines()
                .any(|line| line.starts_with(&format!("{long} = "))),
            "--{long} has no line in the full example"
        );
    }
    let serve = file(FULL).resolve().expect("it resolves");
    let config = &serve.config;
    assert_eq!(serve.listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(
        serve.metrics_listen,
        Some("127.0.0.1:9100".parse().unwrap())
    );
    assert_eq!(config.data_dir, Path::new("/srv/ferry"));
    assert_eq!(config.max_size, Some(1000));
    assert_eq!(config.expire_after, Duration::from_secs(60));
    let tls = config.tls.as_ref().expect("TLS is on");
    // Relative to the file's directory; absolute as written.
    assert_eq!(tls.cert, Path::new("/etc/ferry-server/cert.pem"));
    assert_eq!(tls.key, Path::new("/etc/ferry-server/key.pem"));
    assert!(config.trust_proxy);
    assert_eq!(config.header_timeout, Duration::from_secs(5));
    assert_eq!(config.idle_timeout, Duration::from_secs(7));
    assert_eq!(config.max_connections, 8);
    assert_eq!(config.max_unfinished, 9);
    assert_eq!(config.quota, Some(10));
}

#[test]
fn flags_override_the_file_and_defaults_fill_the_rest() {
    let merged = flags(&[
        "--max-size",
        "5",
        "--trust-proxy=false",
        "--listen",
        "[::1]:0",
    ])
    .over(file(
        "data = \"d\"\nmax-size = 1000\ntrust-proxy = true\nquota = 3\n",
    ));
    let serve = merged.resolve().expect("it resolves");
    assert_eq!(serve.listen, "[::1]:0".parse().unwrap());
    assert_eq!(serve.config.data_dir, Path::new("/etc/ferry-server/d"));
    assert_eq!(serve.config.max_size, Some(5));
    assert!(!serve.config.trust_proxy);
    assert_eq!(serve.config.quota, Some(3));
    let defaults = Config::new("x");
    assert_eq!(serve.config.expire_after, defaults.expire_after);
    assert_eq!(serve.config.max_connections, defaults.max_connections);
    assert_eq!(serve.metrics_listen, None);

    assert!(flags(&["--trust-proxy"]).trust_proxy.unwrap());
    let bare = flags(&["--data", "here"]).resolve().expect("it resolves");
    assert_eq!(bare.listen, "127.0.0.1:8080".parse().unwrap());
    assert_eq!(
        bare.config.data_dir,
        Path::new("here"),
        "flags' paths stay as typed"
    );
}

#[test]
fn a_bad_file_says_where_and_what() {
    let cases = [
        ("listn = \"127.0.0.1:1\"\n", ["line 1", "listn"]),
        ("data = \"d\"\nmax-size = \"big\"\n", ["line 2", "max-size"]),
        (
            "data = \"d\"\nlisten = \"localhost\"\n",
            ["line 2", "listen"],
        ),
        (
            "data = \"d\"\nconfig = \"other.toml\"\n",
            ["line 2", "config"],
        ),
        ("data = [\n", ["line 1", "data"]),
    ];
    for (text, wanted) in cases {
        let err = ServeOptions::from_toml(text, Path::new("/etc/f.toml"))
            .expect_err(text)
            .to_string();
        assert!(err.starts_with("/etc/f.toml: "), "{err}");
        for want in wanted {
            assert!(err.contains(want), "{text:?}: {err:?} lacks {want:?}");
        }
    }
}

#[test]
fn what_cannot_run_is_refused_with_the_way_out() {
    let cases = [
        (
            ServeOptions::default(),
            "no data directory: give --data DIR",
        ),
        (
            flags(&["--data", "d", "--tls-cert", "c"]),
            "tls-cert is set but tls-key is not",
        ),
        (
            flags(&["--data", "d"]).over(file("tls-key = \"k\"\n")),
            "tls-key is set but tls-cert is not",
        ),
        (
            flags(&[
                "--data",
                "d",
                "--listen",
                "127.0.0.1:9",
                "--metrics-listen",
                "127.0.0.1:9",
            ]),
            "metrics need an address of their own",
        ),
    ];
    for (options, want) in cases {
        let err = options.resolve().expect_err(want).to_string();
        assert!(err.contains(want), "{err:?} lacks {want:?}");
    }
    // Half of TLS from the flags and half from the file is whole.
    let both = flags(&["--tls-cert", "/c"]).over(file("data = \"d\"\ntls-key = \"/k\"\n"));
    assert!(both.resolve().expect("it resolves").config.tls.is_some());
}
