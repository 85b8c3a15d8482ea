//! Ignore rules: the defaults, and users' `.ferryignore` files read from a real folder.

use std::path::Path;

use rstest::rstest;

use super::{IGNORE_FILE, Rules};

#[rstest]
#[case::vim_swap(".notes.txt.swp")]
#[case::vim_swap_second(".notes.txt.swo")]
#[case::vim_swap_probe(".notes.txt.swx")]
#[case::emacs_autosave("#notes.txt#")]
#[case::emacs_lock(".#notes.txt")]
#[case::backup("notes.txt~")]
#[case::jetbrains_safe_write("Main.java___jb_tmp___")]
#[case::jetbrains_old("Main.java___jb_old___")]
#[case::kate(".notes.txt.kate-swp")]
#[case::gedit(".goutputstream-ABC123")]
#[case::temp("report.tmp")]
#[case::libreoffice_lock(".~lock.report.odt#")]
#[case::ms_office_owner("~$report.docx")]
#[case::finder(".DS_Store")]
#[case::explorer_thumbnails("Thumbs.db")]
#[case::explorer_settings("desktop.ini")]
#[case::firefox_partial("movie.mkv.part")]
#[case::chrome_partial("movie.mkv.crdownload")]
#[case::partial("movie.mkv.partial")]
#[case::safari_partial("movie.mkv.download")]
#[case::qbittorrent_partial("movie.mkv.!qB")]
#[case::ferry_own(".ferry-state")]
#[case::ignore_file(IGNORE_FILE)]
#[case::nested_default("deep/down/.DS_Store")]
#[case::under_trash(".Trash-1000/files/photo.jpg")]
fn defaults_ignore(#[case] rel: &str) {
    assert!(
        Rules::defaults().is_ignored(Path::new(rel), false),
        "{rel} should be ignored by default"
    );
}

#[rstest]
#[case::text("notes.txt")]
#[case::nested("photos/2024/img_001.jpg")]
#[case::hidden_dotfile(".bashrc")]
#[case::hash_inside("issue#42.md")]
#[case::tilde_inside("a~b.txt")]
#[case::tmp_folder_name("tmp/notes.txt")]
#[case::ferry_name("ferry.txt")]
fn defaults_keep(#[case] rel: &str) {
    assert!(
        !Rules::defaults().is_ignored(Path::new(rel), false),
        "{rel} should be uploaded"
    );
}

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn user_rules_negate_match_folders_only_and_anchor() {
    let dir = folder(&[(
        IGNORE_FILE,
        "# comment\n*.log\n!keep.log\nbuild/\n/secret.txt\n!*.tmp\n",
    )]);
    let rules = Rules::load(dir.path()).unwrap();
    assert!(rules.warnings().is_empty(), "{:?}", rules.warnings());
    let ignored = |rel: &str, is_dir: bool| rules.is_ignored(Path::new(rel), is_dir);
    assert!(ignored("a/debug.log", false));
    assert!(!ignored("a/keep.log", false), "negation re-includes");
    assert!(ignored("build", true));
    assert!(
        ignored("src/build", true),
        "an unanchored folder rule applies at any depth"
    );
    assert!(ignored("src/build/out.o", false), "below an ignored folder");
    assert!(!ignored("build", false), "`build/` matches folders only");
    assert!(ignored("secret.txt", false));
    assert!(
        !ignored("sub/secret.txt", false),
        "`/secret.txt` is anchored to the root"
    );
    assert!(
        !ignored("report.tmp", false),
        "users can take back a default"
    );
    assert!(ignored("x.swp", false), "other defaults still hold");
}

#[test]
fn nested_files_apply_below_their_folder_and_win_over_shallower_ones() {
    let dir = folder(&[
        (IGNORE_FILE, "*.bin\nskipped/\n"),
        ("sub/.ferryignore", "!keep.bin\n/local.txt\n*.dat\n"),
        ("sub/inner/x.txt", ""),
        ("other/x.txt", ""),
        ("skipped/.ferryignore", "*.txt\n"),
        (".ferryignore-not", ""),
    ]);
    let rules = Rules::load(dir.path()).unwrap();
    let ignored = |rel: &str| rules.is_ignored(Path::new(rel), false);
    assert!(ignored("a.bin"));
    assert!(ignored("sub/a.bin"), "the root's rules apply below");
    assert!(!ignored("sub/keep.bin"), "the nested file whitelists");
    assert!(!ignored("sub/inner/keep.bin"), "at any depth below it");
    assert!(ignored("keep.bin"), "but not above its folder");
    assert!(ignored("sub/local.txt"), "anchored to its own folder");
    assert!(!ignored("sub/inner/local.txt"));
    assert!(!ignored("local.txt"));
    assert!(ignored("sub/inner/y.dat"));
    assert!(!ignored("other/y.dat"), "not in a sibling folder");
    assert!(ignored("skipped/a.txt"), "an ignored folder stays ignored");
    assert!(
        ignored("sub/.ferryignore"),
        "ignore files are local configuration"
    );
}

#[test]
fn a_malformed_line_is_skipped_with_a_warning_and_the_rest_holds() {
    let dir = folder(&[(IGNORE_FILE, "*.log\n[z-a]\n*.bak\n")]);
    let rules = Rules::load(dir.path()).unwrap();
    assert_eq!(rules.warnings().len(), 1, "{:?}", rules.warnings());
    assert!(
        rules.warnings()[0].contains("line 2"),
        "the warning names the line: {:?}",
        rules.warnings()
    );
    assert!(rules.is_ignored(Path::new("a.log"), false));
    assert!(rules.is_ignored(Path::new("a.bak"), false));
}

#[test]
fn a_missing_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Rules::load(&dir.path().join("missing")).is_err());
}
