//! The store: commits, lookups, leases against prune, orphans, concurrent committers.

use std::fs;
use std::time::Duration;

use hush_cache::{Cache, Commit, Prune};

mod common;

use common::{entry, key, layer};

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
