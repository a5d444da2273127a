//! A corrupt index: detected on open, moved aside once, replaced by an empty index that keeps
//! working; a sound index is left alone.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use hush_cache::{Cache, Commit, Prune};

mod common;

use common::{entry, key, layer};

/// A cache in `<base>/cache` with two entries (one with a layer), its WAL checkpointed into
/// `index.db`.
fn filled(base: &Path) -> PathBuf {
    let root = base.join("cache");
    let cache = Cache::open(&root).unwrap();
    let l = layer(base, "a", 1000);
    cache.commit(&key(1), entry("echo a", Some(&l))).unwrap();
    cache.commit(&key(2), entry("true", None)).unwrap();
    // A prune of nothing checkpoints the WAL into the file.
    cache
        .prune(Prune::OlderThan(std::time::Duration::from_secs(3600)))
        .unwrap();
    assert_eq!(cache.entries().unwrap().len(), 2);
    root
}

fn asides(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("index.db.corrupt-") && !n.ends_with("-wal"))
        .collect();
    names.sort();
    names
}

/// Opens the corrupt cache at `root` and checks it was replaced once and works fully.
fn recovers(root: &Path, base: &Path) {
    let cache = Cache::open(root).unwrap();
    let recovery = cache
        .recovered()
        .expect("the corruption is reported")
        .clone();
    assert_eq!(recovery.path, root.join("index.db"));
    assert!(recovery.aside.is_file());
    assert_eq!(asides(root).len(), 1, "{:?}", asides(root));
    let text = recovery.to_string();
    assert!(
        text.starts_with(&format!(
            "the cache index {}/index.db was corrupt (",
            root.display()
        )) && !text.contains('\n'),
        "{text}"
    );
    assert!(cache.entries().unwrap().is_empty());
    assert_eq!(cache.check().unwrap().integrity, "ok");

    // The lost entry's layer is an orphan: removed by prune.
    let report = cache.prune(Prune::All).unwrap();
    assert_eq!((report.removed, report.orphans), (0, 1), "{report:?}");
    let l = layer(base, "b", 10);
    assert!(matches!(
        cache.commit(&key(3), entry("echo b", Some(&l))).unwrap(),
        Commit::Stored(Some(_))
    ));
    assert!(cache.lookup(&key(3)).unwrap().is_some());
    drop(cache);

    let again = Cache::open(root).unwrap();
    assert!(again.recovered().is_none(), "reported once");
    assert_eq!(again.entries().unwrap().len(), 1);
    assert_eq!(asides(root).len(), 1);
}

#[test]
fn a_garbage_index_is_moved_aside_and_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = filled(tmp.path());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(root.join("index.db"))
        .unwrap();
    file.write_all(&[0x5a; 512]).unwrap();
    drop(file);
    recovers(&root, tmp.path());
}

#[test]
fn a_truncated_index_is_moved_aside_and_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = filled(tmp.path());
    let path = root.join("index.db");
    let len = fs::metadata(&path).unwrap().len();
    assert!(len > 4096, "{len}");
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len / 2 + 7)
        .unwrap();
    recovers(&root, tmp.path());
}

#[test]
fn a_damaged_page_is_found_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let root = filled(tmp.path());
    let mut file = fs::OpenOptions::new()
        .write(true)
        .open(root.join("index.db"))
        .unwrap();
    // Past the header page: the schema and table pages.
    file.seek(SeekFrom::Start(4096)).unwrap();
    file.write_all(&[0xff; 4096]).unwrap();
    drop(file);
    recovers(&root, tmp.path());
}

#[test]
fn a_sound_index_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = filled(tmp.path());
    let cache = Cache::open(&root).unwrap();
    assert!(cache.recovered().is_none());
    assert_eq!(cache.entries().unwrap().len(), 2);
    assert!(asides(&root).is_empty());
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(root.join("index.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn concurrent_opens_replace_a_corrupt_index_once() {
    let tmp = tempfile::tempdir().unwrap();
    let root = filled(tmp.path());
    fs::write(root.join("index.db"), b"not a database at all").unwrap();
    let recovered = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| Cache::open(&root).unwrap().recovered().is_some()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|&r| r)
            .count()
    });
    assert_eq!(recovered, 1);
    assert_eq!(asides(&root).len(), 1);
}

#[test]
fn prune_keeps_an_orphan_that_is_still_in_use() {
    let tmp = tempfile::tempdir().unwrap();
    let root = filled(tmp.path());
    let user = Cache::open(&root).unwrap();
    let lease = user.lookup(&key(1)).unwrap().unwrap().layer.unwrap();
    fs::write(root.join("index.db"), b"not a database at all").unwrap();
    let cache = Cache::open(&root).unwrap();
    assert!(cache.recovered().is_some());
    let report = cache.prune(Prune::All).unwrap();
    assert_eq!(report.orphans, 0, "{report:?}");
    assert!(lease.path().join("app/data").is_file());
    drop(lease);
    assert_eq!(cache.prune(Prune::All).unwrap().orphans, 1);
}
