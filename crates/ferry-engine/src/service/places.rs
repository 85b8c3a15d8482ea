//! Places that are never synced, whoever asks (the window's folder picker or `ferry folder
//! add`): the root of the filesystem, the person's home directory itself, the system's own
//! trees, and any folder holding Ferry's own data (its journal would upload itself, forever).
//! A pure function of the canonical path and the two directories; knows nothing of the
//! journal or of what is already synced (overlaps are `folders.rs`'s rule).

use std::path::Path;

/// System trees refused with everything under them.
const SYSTEM_TREES: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/cache",
    "/var/lib",
    "/var/log",
    "/var/run",
    "/var/spool",
    "/var/tmp",
];

/// Directories refused themselves (what is under them may be a person's data).
const SYSTEM_ROOTS: &[&str] = &[
    "/", "/home", "/media", "/mnt", "/opt", "/srv", "/tmp", "/var",
];

/// Why the canonical directory `path` may not be synced, in words for the person, or `None`.
/// `home` is the person's home directory, `ferry_home` Ferry's own data directory.
pub(crate) fn refused(path: &Path, home: Option<&Path>, ferry_home: &Path) -> Option<String> {
    let shown = path.display();
    if path == Path::new("/") {
        return Some("The whole filesystem cannot be synced: choose a folder of your own.".into());
    }
    if home.is_some_and(|home| path == home) {
        return Some(format!(
            "{shown} is your whole home directory, with settings and caches that change all the time: choose the folders in it you want uploaded (Documents, Pictures, ...)."
        ));
    }
    if SYSTEM_ROOTS.iter().any(|root| path == Path::new(root))
        || SYSTEM_TREES.iter().any(|tree| path.starts_with(tree))
    {
        return Some(format!(
            "{shown} belongs to the system, not to you: choose a folder of your own."
        ));
    }
    if ferry_home.starts_with(path) {
        return Some(format!(
            "{shown} holds Ferry's own data ({}), which changes with every upload: choose a folder without it.",
            ferry_home.display()
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "/home/ann";
    const FERRY: &str = "/home/ann/.local/share/ferry";

    fn verdict(path: &str) -> Option<String> {
        refused(Path::new(path), Some(Path::new(HOME)), Path::new(FERRY))
    }

    #[test]
    fn the_root_the_home_itself_system_trees_and_ferrys_data_are_refused() {
        for path in [
            "/",
            "/home",
            HOME,
            "/etc",
            "/etc/ssl",
            "/usr/share/doc",
            "/proc/1",
            "/var",
            "/var/lib/ferry-server",
            "/tmp",
            "/home/ann/.local",
            "/home/ann/.local/share",
            FERRY,
        ] {
            assert!(verdict(path).is_some(), "{path} must be refused");
        }
    }

    #[test]
    fn a_persons_folders_are_accepted() {
        for path in [
            "/home/ann/Documents",
            "/home/ann/Pictures/2026",
            "/media/ann/usb-stick",
            "/mnt/data/photos",
            "/srv/share",
            "/tmp/scratch",
            "/var/www/site",
            "/home/bob",
            "/home/ann/.local/share/other-app",
        ] {
            assert_eq!(verdict(path), None, "{path} must be accepted");
        }
    }

    #[test]
    fn the_words_say_what_to_choose_instead() {
        assert!(verdict(HOME).unwrap().contains("Documents"));
        assert!(verdict("/etc").unwrap().contains("belongs to the system"));
        assert!(verdict("/home/ann/.local").unwrap().contains(FERRY));
    }
}
