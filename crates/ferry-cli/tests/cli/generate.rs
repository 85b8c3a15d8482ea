//! What the packages install, generated from the clap definitions: completions for bash, zsh
//! and fish, and a man page for `ferry` and each subcommand.

use std::process::Command;

fn ferry(args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env_remove("FERRY_HOME")
        .output()
        .expect("running ferry");
    assert!(out.status.success(), "ferry {args:?}: {out:?}");
    out
}

#[test]
fn completions_and_man_pages_come_from_the_command_line_itself() {
    for shell in ["bash", "zsh", "fish"] {
        let script = String::from_utf8(ferry(&["generate", "completions", shell]).stdout).unwrap();
        // fish spells flags `-l limit-rate`.
        for word in ["upload", "folder", "server", "limit-rate"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    ferry(&["generate", "man", pages.to_str().unwrap()]);
    let main = std::fs::read_to_string(pages.join("ferry.1")).expect("ferry.1");
    assert!(
        main.starts_with(".ie") || main.contains(".TH ferry 1"),
        "{main}"
    );
    for sub in ["upload", "sync", "status", "folder-add", "config-set"] {
        let page = std::fs::read_to_string(pages.join(format!("ferry-{sub}.1")))
            .unwrap_or_else(|e| panic!("ferry-{sub}.1: {e}"));
        assert!(
            page.contains(".SH OPTIONS") || page.contains(".SH SYNOPSIS"),
            "{page}"
        );
    }
    assert!(
        !pages.join("ferry-generate.1").exists(),
        "no page for the hidden command"
    );
}
