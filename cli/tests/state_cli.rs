//! hush's own state end to end: a HUSH_HOME another user could control is refused and left
//! as it is; a damaged image blob is replaced by a re-import; a corrupt cache index is moved
//! aside and replaced, reported once, while commands and execs keep working (needs root,
//! runc and busybox-static).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{chown, symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

mod common;

use common::{hush, import_busybox, text};

/// An exec that prints a fresh UUID (the same one only when served from the cache) and
/// changes the file system (so its entry has a layer).
const UUID: &str = "--args=sh,-c,cat /proc/sys/kernel/random/uuid; echo x > /made";

/// A fresh HUSH_HOME with busybox imported.
fn home() -> tempfile::TempDir {
    let home = tempfile::Builder::new()
        .prefix("hush-state-cli")
        .tempdir()
        .unwrap();
    import_busybox(home.path());
    home
}

/// `hush core container from busybox with-exec ARG stdout`.
fn exec(home: &Path, arg: &str) -> std::process::Output {
    let args = [
        "core",
        "container",
        "from",
        "--address=busybox",
        "with-exec",
        arg,
        "stdout",
    ];
    hush(home, &args, &[])
}

/// Every path under `dir` with its mode, owner, size and link target.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, u32, u64, Option<PathBuf>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let target = fs::read_link(&p).ok();
        out.insert(p.clone(), (meta.mode(), meta.uid(), meta.len(), target));
        if meta.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    out
}

/// Commands that use the home, each as (args, env).
const USERS: &[&[&str]] = &[
    &["image", "ls"],
    &["cache", "ls"],
    &["secret", "get", "env://HUSH_STATE_CLI_SECRET"],
    &[
        "core",
        "container",
        "from",
        "--address=busybox",
        "with-exec",
        "--args=true",
        "stdout",
    ],
];
const SECRET: (&str, &str) = ("HUSH_STATE_CLI_SECRET", "state-cli-value-1234");

/// Every command that uses the home fails with exactly `sentence` and changes nothing.
fn refused(home: &Path, sentence: &str) {
    let before = snapshot(home);
    for args in USERS {
        let out = hush(home, args, &[SECRET]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stderr), format!("hush: {sentence}\n"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    assert_eq!(snapshot(home), before, "nothing changed");
}

/// Every command that uses the home works.
fn works(home: &Path) {
    for args in USERS {
        let out = hush(home, args, &[SECRET]);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn a_home_another_user_could_control_is_refused_and_left_as_it_is() {
    let home = home();
    let h = home.path().display().to_string();
    works(home.path());
    let key = home.path().join("mac.key");
    assert!(key.is_file(), "the control made the key");

    chown(home.path(), Some(65534), Some(65534)).unwrap();
    refused(
        home.path(),
        &format!("refusing HUSH_HOME {h}: owned by uid 65534, not 0"),
    );
    chown(home.path(), Some(0), Some(0)).unwrap();

    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o777)).unwrap();
    refused(
        home.path(),
        &format!("refusing HUSH_HOME {h}: group- or world-writable (mode 0777)"),
    );
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();

    chown(&key, Some(1000), None).unwrap();
    refused(
        home.path(),
        &format!("refusing HUSH_HOME {h}: {h}/mac.key is owned by uid 1000, not 0"),
    );
    chown(&key, Some(0), None).unwrap();

    let elsewhere = home.path().join("planted.key");
    fs::rename(&key, &elsewhere).unwrap();
    symlink(&elsewhere, &key).unwrap();
    refused(
        home.path(),
        &format!("refusing HUSH_HOME {h}: {h}/mac.key is a symbolic link"),
    );
    fs::remove_file(&key).unwrap();
    fs::rename(&elsewhere, &key).unwrap();

    let cache = home.path().join("cache");
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o777)).unwrap();
    refused(
        home.path(),
        &format!("refusing HUSH_HOME {h}: {h}/cache is group- or world-writable (mode 0777)"),
    );
    fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();

    works(home.path());
}

#[test]
fn a_new_home_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("new/hush");
    let out = hush(
        &home,
        &["secret", "get", "env://HUSH_STATE_CLI_SECRET"],
        &[SECRET],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    import_busybox(&home);
    let out = exec(&home, "--args=sh,-c,echo hi > /f");
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (path, (mode, uid, _, target)) in snapshot(&home) {
        let inside = path.strip_prefix(&home).unwrap();
        // Unpacked and exec layers hold container files, with the image's own modes.
        let layer = |dir: &str| {
            inside.strip_prefix(dir).is_ok_and(|rest| {
                rest.components()
                    .next()
                    .is_some_and(|c| !c.as_os_str().to_string_lossy().starts_with('.'))
            })
        };
        if layer("layers") || layer("cache/layers") {
            continue;
        }
        assert!(target.is_none(), "{}", path.display());
        assert_eq!(uid, 0, "{}", path.display());
        let want = if mode & 0o170000 == 0o040000 {
            0o700
        } else {
            0o600
        };
        assert_eq!(mode & 0o7777, want, "{} has mode {mode:o}", path.display());
    }
}

/// The largest blob: busybox's layer.
fn layer_blob(home: &Path) -> PathBuf {
    fs::read_dir(home.join("images/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap()
}

#[test]
fn a_reimport_replaces_a_damaged_blob() {
    let home = home();
    let blob = layer_blob(home.path());
    let mut bytes = fs::read(&blob).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&blob, &bytes).unwrap();
    let out = exec(home.path(), "--args=echo,hello");
    assert_eq!(out.status.code(), Some(1), "the damage is real");

    import_busybox(home.path());
    assert_ne!(fs::read(&blob).unwrap(), bytes, "the blob was replaced");
    let out = exec(home.path(), "--args=echo,hello");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\n");
}

/// Lines of `stderr` reporting a replaced index.
fn reports(stderr: &[u8]) -> Vec<String> {
    text(stderr)
        .lines()
        .filter(|l| l.contains("cache index"))
        .map(str::to_owned)
        .collect()
}

fn asides(home: &Path) -> Vec<String> {
    fs::read_dir(home.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index.db.corrupt-") && !n.ends_with("-wal"))
        .collect()
}

/// Asserts `stderr` reports the replaced index of `home` exactly once.
fn reported_once(home: &Path, stderr: &[u8]) {
    let lines = reports(stderr);
    assert_eq!(lines.len(), 1, "{}", text(stderr));
    let prefix = format!(
        "hush: warning: the cache index {}/cache/index.db was corrupt (",
        home.display()
    );
    assert!(lines[0].starts_with(&prefix), "{}", lines[0]);
    assert!(lines[0].contains("index.db.corrupt-"), "{}", lines[0]);
}

/// Damages the index of a home with one cached exec (its WAL checkpointed); returns that
/// exec's output.
fn with_damaged_index(home: &Path, damage: impl Fn(&Path)) -> String {
    let first = exec(home, UUID);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let hit = exec(home, UUID);
    assert_eq!(hit.stdout, first.stdout, "control: the exec is cached");
    assert!(reports(&hit.stderr).is_empty());
    // A prune of nothing moves the WAL into index.db (else SQLite reads the pages from it).
    let prune = hush(home, &["cache", "prune", "--older-than=1w"], &[]);
    assert!(prune.status.success(), "{}", text(&prune.stderr));
    damage(&home.join("cache/index.db"));
    text(&first.stdout)
}

fn garbage(index: &Path) {
    fs::write(index, vec![0x42; 8192]).unwrap();
}

fn truncate(index: &Path) {
    let file = fs::OpenOptions::new().write(true).open(index).unwrap();
    let len = file.metadata().unwrap().len();
    file.set_len(len / 2 + 3).unwrap();
}

#[test]
fn a_corrupt_index_is_replaced_once_and_execs_keep_working() {
    let home = home();
    let first = with_damaged_index(home.path(), garbage);

    let out = exec(home.path(), UUID);
    assert!(out.status.success(), "{}", text(&out.stderr));
    reported_once(home.path(), &out.stderr);
    assert_ne!(text(&out.stdout), first, "the lost entry runs again");
    assert_eq!(asides(home.path()).len(), 1);

    let hit = exec(home.path(), UUID);
    assert!(hit.status.success(), "{}", text(&hit.stderr));
    assert_eq!(hit.stdout, out.stdout, "cached in the new index");
    assert!(reports(&hit.stderr).is_empty(), "reported once");

    let ls = hush(home.path(), &["cache", "ls"], &[]);
    assert!(ls.status.success(), "{}", text(&ls.stderr));
    assert_eq!(text(&ls.stdout).lines().count(), 2, "{}", text(&ls.stdout));
    let prune = hush(home.path(), &["cache", "prune", "--all"], &[]);
    assert!(prune.status.success(), "{}", text(&prune.stderr));
    assert!(text(&prune.stdout).starts_with("removed 1 entry"));
    assert!(reports(&ls.stderr).is_empty() && reports(&prune.stderr).is_empty());
    assert_eq!(asides(home.path()).len(), 1);
}

#[test]
fn cache_ls_and_prune_replace_a_corrupt_index() {
    let home = home();
    with_damaged_index(home.path(), truncate);
    let ls = hush(home.path(), &["cache", "ls"], &[]);
    assert!(ls.status.success(), "{}", text(&ls.stderr));
    reported_once(home.path(), &ls.stderr);
    assert_eq!(text(&ls.stdout).lines().count(), 1, "only the header");
    let prune = hush(home.path(), &["cache", "prune", "--all"], &[]);
    assert!(prune.status.success(), "{}", text(&prune.stderr));
    assert!(reports(&prune.stderr).is_empty());
    assert!(
        text(&prune.stdout).contains("removed 1 unfinished layer"),
        "the lost entry's layer is garbage: {}",
        text(&prune.stdout)
    );

    let other = self::home();
    with_damaged_index(other.path(), garbage);
    let prune = hush(other.path(), &["cache", "prune", "--all"], &[]);
    assert!(prune.status.success(), "{}", text(&prune.stderr));
    reported_once(other.path(), &prune.stderr);
    assert_eq!(asides(other.path()).len(), 1);
}

#[test]
fn a_sound_index_is_not_reported() {
    let home = home();
    with_damaged_index(home.path(), |_| {});
    let ls = hush(home.path(), &["cache", "ls"], &[]);
    assert!(ls.status.success());
    assert!(reports(&ls.stderr).is_empty());
    assert_eq!(text(&ls.stdout).lines().count(), 2);
    assert!(asides(home.path()).is_empty());
}
