//! A small filesystem for a test (a full disk on demand): a tmpfs of a chosen size mounted
//! on a temporary directory, grown with a remount, unmounted when dropped. Needs root (the
//! tests run as root, in CI too); when mounting is impossible the test fails and says why,
//! it never skips. Knows nothing of what is stored on it.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// A mounted tmpfs; unmounted on drop (after whatever used it has stopped).
pub struct Tmpfs {
    dir: TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount`'s syntax: `4m`, `32m`).
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("a mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "cannot mount a {size} tmpfs on {} (this test needs root, as in CI, to make a small \
             filesystem for a full disk): {}",
            dir.path().display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self { dir }
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Gives it a new size (`mount -o remount,size=...`): more room, as when space is freed.
    pub fn resize(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "cannot resize the tmpfs on {} to {size}: {}",
            self.dir.path().display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let umount = |lazy: bool| {
            let mut command = Command::new("umount");
            if lazy {
                command.arg("-l");
            }
            command
                .arg(self.dir.path())
                .output()
                .is_ok_and(|o| o.status.success())
        };
        // Lazily if something still holds a file there: the mount goes once it lets go.
        if !umount(false) && !umount(true) {
            eprintln!(
                "could not unmount the tmpfs on {}",
                self.dir.path().display()
            );
        }
    }
}
