//! The Node.js interop peers pinned in `tests/peers/` (tus-js-client, @tus/server,
//! @tus/file-store, ws) and the `node` that runs them. A test that needs them and finds them
//! missing fails, saying what to do: interop that silently does not run is worse than none.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/peers/` in the workspace.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The `node` to run the peers with: `$FERRY_NODE` or `node` on the `PATH`, checked to be
/// version 18 or later with the npm `packages` installed in `tests/peers/node_modules`.
/// Panics with what to do otherwise.
pub fn node(packages: &[&str]) -> String {
    const HOW: &str = "run `npm ci --prefix tests/peers` (make test does)";
    let node = std::env::var("FERRY_NODE").unwrap_or_else(|_| "node".to_owned());
    let version = Command::new(&node)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "the interop tests need Node.js 18 or later, but `{node}` cannot run ({e}): \
             install it (make test does, through scripts/setup-node.sh)"
            )
        });
    let version = String::from_utf8_lossy(&version.stdout).trim().to_owned();
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= 18,
        "the interop tests need Node.js 18 or later, `{node}` is {version:?}"
    );
    for package in packages {
        let manifest = peers_dir()
            .join("node_modules")
            .join(package)
            .join("package.json");
        assert!(
            manifest.is_file(),
            "the npm package {package} is not installed in tests/peers/node_modules: {HOW}"
        );
    }
    node
}
