//! Consistency after SIGKILLs at arbitrary points of a commit or prune. A test binary of its
//! own: its children are forks of this binary, and a fork made while another test of the same
//! process holds a lease would briefly share that lease's lock.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{entry, key, layer};
use hush_cache::{Cache, Key, Prune};

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
