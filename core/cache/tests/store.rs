//! The store: commits, lookups, leases against prune, orphans, concurrent committers, and
//! consistency after SIGKILLs at arbitrary points of a commit or prune.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hush_cache::{Cache, Commit, Key, NewEntry, Prune};

fn key(n: u8) -> Key {
    [n; 32]
}

/// A layer directory with one file of `size` bytes, next to the cache (same filesystem).
fn layer(base: &Path, name: &str, size: usize) -> PathBuf {
    let dir = base.join("upper").join(name);
    fs::create_dir_all(dir.join("app")).unwrap();
    fs::write(dir.join("app/data"), vec![b'x'; size]).unwrap();
    dir
}

fn entry<'a>(what: &'a str, layer: Option<&'a Path>) -> NewEntry<'a> {
    NewEntry {
        what,
        exit_code: 0,
        stdout: b"out\n",
        stderr: b"",
        layer,
    }
}

#[test]
fn commit_then_lookup_across_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let cache = Cache::open(&root).unwrap();
    assert!(cache.lookup(&key(1)).unwrap().is_none());
    let l = layer(tmp.path(), "a", 10_000);
    let Commit::Stored(Some(lease)) = cache.commit(&key(1), entry("echo a", Some(&l))).unwrap()
    else {
        panic!("stored with a layer")
    };
    assert!(!l.exists(), "the layer was moved in");
    assert_eq!(
        fs::read(lease.path().join("app/data")).unwrap().len(),
        10_000
    );
    assert!(cache.commit(&key(2), entry("true", None)).is_ok());
    let other = layer(tmp.path(), "b", 10);
    assert!(matches!(
        cache
            .commit(&key(1), entry("echo a", Some(&other)))
            .unwrap(),
        Commit::AlreadyCached
    ));
    assert!(other.exists(), "a losing layer stays with its owner");
    drop(cache);

    let cache = Cache::open(&root).unwrap();
    let hit = cache.lookup(&key(1)).unwrap().unwrap();
    assert_eq!(hit.stdout, b"out\n");
    assert_eq!(hit.exit_code, 0);
    assert!(hit.layer.unwrap().path().join("app/data").is_file());
    assert!(cache.lookup(&key(2)).unwrap().unwrap().layer.is_none());
    let entries = cache.entries().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries
        .iter()
        .any(|e| e.what == "echo a" && e.bytes >= 10_000));
    let check = cache.check().unwrap();
    assert_eq!(check.integrity, "ok");
    assert!(check.missing_layers.is_empty());
    let mode = fs::metadata(&root).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o700);
}

#[test]
fn prune_skips_leased_layers_and_frees_space() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(&tmp.path().join("cache")).unwrap();
    for n in 1..=3 {
        let l = layer(tmp.path(), &n.to_string(), 100_000);
        cache
            .commit(&key(n), entry(&format!("step {n}"), Some(&l)))
            .unwrap();
    }
    // Leases from another process's point of view: a second handle on the same cache.
    let other = Cache::open(&tmp.path().join("cache")).unwrap();
    let held = other.lookup(&key(3)).unwrap().unwrap();

    let report = cache.prune(Prune::KeepBytes(150_000)).unwrap();
    assert_eq!(report.removed, 2, "{report:?}");
    assert!(report.freed_bytes >= 200_000);
    assert_eq!(cache.entries().unwrap().len(), 1);

    let report = cache.prune(Prune::All).unwrap();
    assert_eq!((report.removed, report.in_use), (0, 1), "{report:?}");
    assert!(held
        .layer
        .as_ref()
        .unwrap()
        .path()
        .join("app/data")
        .is_file());
    drop(held);
    let report = cache
        .prune(Prune::OlderThan(Duration::from_secs(3600)))
        .unwrap();
    assert_eq!(report.removed, 0, "recently used");
    let report = cache.prune(Prune::All).unwrap();
    assert_eq!(report.removed, 1);
    assert!(cache.entries().unwrap().is_empty());
    assert_eq!(
        fs::read_dir(tmp.path().join("cache/layers"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn orphaned_layers_are_removed_and_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let cache = Cache::open(&root).unwrap();
    // What a process killed between moving a layer in and committing its row leaves.
    let orphan = root.join("layers").join(hex::encode(key(7)));
    fs::create_dir_all(orphan.join("stale")).unwrap();
    let l = layer(tmp.path(), "fresh", 5);
    let Commit::Stored(Some(lease)) = cache.commit(&key(7), entry("x", Some(&l))).unwrap() else {
        panic!("stored")
    };
    assert!(!lease.path().join("stale").exists());
    assert!(lease.path().join("app/data").exists());
    fs::create_dir_all(root.join("layers").join(hex::encode(key(8)))).unwrap();
    assert_eq!(
        cache
            .prune(Prune::OlderThan(Duration::from_secs(60)))
            .unwrap()
            .orphans,
        1
    );
}

#[test]
fn racing_committers_store_one_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("cache");
    let stored: Vec<bool> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let root = root.clone();
                let base = tmp.path().to_path_buf();
                s.spawn(move || {
                    let cache = Cache::open(&root).unwrap();
                    let _claim = cache.lock_key(&key(9)).unwrap();
                    if cache.lookup(&key(9)).unwrap().is_some() {
                        return false;
                    }
                    let l = layer(&base, &format!("r{i}"), 1000);
                    matches!(
                        cache.commit(&key(9), entry("race", Some(&l))).unwrap(),
                        Commit::Stored(_)
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(stored.iter().filter(|s| **s).count(), 1, "{stored:?}");
    let cache = Cache::open(&root).unwrap();
    assert_eq!(cache.entries().unwrap().len(), 1);
    assert_eq!(fs::read_dir(root.join("locks")).unwrap().count(), 0);
}

/// Child mode of [`sigkill_at_any_moment_leaves_the_cache_consistent`]: commits, looks up
/// and prunes in a loop until killed.
#[test]
fn crash_child() {
    let Some(root) = std::env::var_os("HUSH_CACHE_CRASH_CHILD") else {
        return;
    };
    let root = PathBuf::from(root);
    let cache = Cache::open(&root.join("cache")).unwrap();
    let base = root.join(format!("work-{}", std::process::id()));
    for n in 0u64.. {
        let k = (n % 40) as u8;
        let l = layer(&base, &n.to_string(), 4096 + (n as usize % 7) * 1000);
        let _ = cache.commit(&key(k), entry("crash", Some(&l)));
        let _ = cache.lookup(&key(k.wrapping_add(3) % 40));
        if n % 5 == 0 {
            cache.prune(Prune::KeepBytes(60_000)).unwrap();
        }
        let _ = fs::remove_dir_all(&l);
    }
}

#[test]
fn sigkill_at_any_moment_leaves_the_cache_consistent() {
    let tmp = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seen = 0;
    for round in 0..25u64 {
        let children: Vec<_> = (0..2)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
                    .env("HUSH_CACHE_CRASH_CHILD", tmp.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Varying run lengths so the kills land at many different points; not an assertion.
        std::thread::sleep(Duration::from_millis(40 + (round * 37) % 260));
        for mut child in children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let cache = Cache::open(&tmp.path().join("cache")).unwrap();
        let check = cache.check().unwrap();
        assert_eq!(check.integrity, "ok", "round {round}");
        assert!(check.missing_layers.is_empty(), "round {round}: {check:?}");
        let entries = cache.entries().unwrap();
        seen += entries.len();
        for e in entries {
            let hit = cache.lookup(&hex_key(&e.key)).unwrap().unwrap();
            assert_eq!(hit.stdout, b"out\n");
            let data = hit.layer.unwrap().path().join("app/data");
            assert!(fs::metadata(&data).unwrap().len() >= 4096, "round {round}");
        }
    }
    assert!(seen > 0, "the children committed entries");
    let cache = Cache::open(&tmp.path().join("cache")).unwrap();
    cache.prune(Prune::All).unwrap();
    assert_eq!(
        fs::read_dir(tmp.path().join("cache/layers"))
            .unwrap()
            .count(),
        0
    );
}

fn hex_key(hex: &str) -> Key {
    hex::decode(hex).unwrap().try_into().unwrap()
}
