//! The persistent cache end to end: `hush core` runs in separate processes sharing a
//! HUSH_HOME, `hush cache ls|prune`, racing processes and SIGKILLs (needs root, runc and
//! busybox-static; the image is built by `scripts/busybox-rootfs.sh`).
//!
//! A hit is recognised by its output: each exec prints a fresh random UUID, which stays the
//! same only when the stored result is returned instead of running again.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hush_cache::Cache;

mod common;

use common::{command, hush, import_busybox, text};

const UUID: &str = "cat /proc/sys/kernel/random/uuid";

/// A fresh HUSH_HOME with busybox imported.
fn home() -> tempfile::TempDir {
    let home = tempfile::Builder::new()
        .prefix("hush-cache-cli")
        .tempdir()
        .unwrap();
    import_busybox(home.path());
    home
}

/// `hush core container from busybox with-secret-variable S=<uri> with-exec sh -c <script> stdout`.
fn exec_args(uri: &str, script: &str) -> Vec<String> {
    [
        "core",
        "container",
        "from",
        "--address=busybox",
        "with-secret-variable",
        "--name=S",
        &format!("--secret={uri}"),
        "with-exec",
        &format!("--args=sh,-c,{script}"),
        "stdout",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Runs the exec chain; returns stdout, asserting success.
fn run(home: &Path, uri: &str, script: &str, env: &[(&str, &str)]) -> String {
    let args = exec_args(uri, script);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = hush(home, &args, env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

fn entries(home: &Path) -> usize {
    let out = hush(home, &["cache", "ls"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).lines().count() - 1
}

/// Bytes used by the tree at `path`.
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        total += m.blocks() * 512;
        if m.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
    total
}

/// Files under `root` whose contents or names contain `needle`.
fn files_containing(root: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let name = p.file_name().map(|n| n.as_encoded_bytes().to_vec());
        if name.is_some_and(|n| n.windows(needle.len()).any(|w| w == needle)) {
            found.push(p.clone());
        }
        if m.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        } else if m.is_file() {
            let data = std::fs::read(&p).unwrap_or_default();
            if data.windows(needle.len()).any(|w| w == needle) {
                found.push(p);
            }
        }
    }
    found
}

#[test]
fn an_unchanged_secret_hits_and_a_changed_one_runs_again() {
    let home = home();
    let script = format!("{UUID}; echo \"token: $S\"; echo built > /built");
    let first = run(
        home.path(),
        "env://TOK",
        &script,
        &[("TOK", "value-one-1111")],
    );
    assert!(first.ends_with("token: ***\n"), "{first}");
    let again = run(
        home.path(),
        "env://TOK",
        &script,
        &[("TOK", "value-one-1111")],
    );
    assert_eq!(again, first, "a new process with the same value hits");
    let changed = run(
        home.path(),
        "env://TOK",
        &script,
        &[("TOK", "value-two-2222")],
    );
    assert_ne!(changed, first, "a new value runs again");
    assert_eq!(entries(home.path()), 2);
    let ls = text(&hush(home.path(), &["cache", "ls"], &[]).stdout);
    assert!(ls.starts_with("KEY"), "{ls}");
    assert!(ls.contains("sh -c"), "{ls}");
}

#[test]
fn a_shared_cache_key_hits() {
    let home = home();
    let env = [("ONE", "rotated-value-aaaa"), ("TWO", "rotated-value-bbbb")];
    let first = run(home.path(), "env://ONE?cacheKey=deploy", UUID, &env);
    assert_eq!(
        run(home.path(), "env://TWO?cacheKey=deploy", UUID, &env),
        first
    );
    assert_ne!(run(home.path(), "env://TWO", UUID, &env), first);
}

#[test]
fn the_leak_scan_catches_a_copied_secret_file() {
    let home = home();
    let value = "copied-secret-value-Zq81";
    let out = hush(
        home.path(),
        &[
            "core",
            "container",
            "from",
            "--address=busybox",
            "with-mounted-secret",
            "--path=/run/secrets/x",
            "--source=env://LEAKED",
            "with-exec",
            "--args=sh,-c,mkdir -p /app && cp /run/secrets/x /app/x && echo copied",
            "stdout",
        ],
        &[("LEAKED", value)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "copied\n",
        "the result is still returned"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .contains("warning: not cached: secret env://LEAKED was written to /app/x (contents)"),
        "{stderr}"
    );
    assert!(!stderr.contains(value), "{stderr}");
    assert_eq!(entries(home.path()), 0);
    assert!(files_containing(home.path(), value.as_bytes()).is_empty());
}

/// Entries under `root` whose whole path (relative to `root`) contains `needle`.
fn paths_containing(root: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let relative = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if relative.contains(needle) {
            found.push(p.clone());
        }
        if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir()) {
            todo.extend(std::fs::read_dir(&p).unwrap().flatten().map(|e| e.path()));
        }
    }
    found
}

#[test]
fn a_secret_holding_a_slash_used_as_a_path_is_not_cached_nor_shown() {
    let value = "abc123def/ghi456jkl";
    for secret in [true, false] {
        let home = home();
        let bind = if secret {
            ["with-secret-variable", "--name=S", "--secret=env://TOK"]
        } else {
            // Control: the same path from a plain variable is cached, so the check sees it.
            [
                "with-env-variable",
                "--name=S",
                "--value=abc123def/ghi456jkl",
            ]
        };
        let mut args = vec!["core", "container", "from", "--address=busybox"];
        args.extend(bind);
        args.extend([
            "with-exec",
            "--args=sh,-c,mkdir -p /opt/$S && echo made",
            "stdout",
        ]);
        let out = hush(home.path(), &args, &[("TOK", value)]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "made\n");
        let stderr = text(&out.stderr);
        let stored = paths_containing(&home.path().join("cache"), value);
        if secret {
            assert!(
                stderr.contains(
                    "warning: not cached: secret env://TOK was written to /opt/*** (name)"
                ),
                "{stderr}"
            );
            assert!(!stderr.contains("ghi456jkl"), "{stderr}");
            assert!(stored.is_empty(), "{stored:?}");
            assert_eq!(entries(home.path()), 0);
        } else {
            assert!(!stored.is_empty(), "the control finds the stored path");
            assert_eq!(entries(home.path()), 1);
        }
    }
}

#[test]
fn leak_warnings_never_show_a_value_held_in_a_path() {
    let home = home();
    let value = "workdir-canary-4471";
    let workdir = format!("--path=/w-{value}");
    let out = hush(
        home.path(),
        &[
            "core",
            "container",
            "from",
            "--address=busybox",
            "with-secret-variable",
            "--name=S",
            "--secret=env://TOK",
            "with-workdir",
            &workdir,
            "with-exec",
            "--args=sh,-c,mkdir -p /opt && touch /opt/$S; pwd",
            "stdout",
        ],
        &[("TOK", value)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(stdout, "/w-***\n");
    assert!(stderr.contains("written to /opt/*** (name)"), "{stderr}");
    assert!(stderr.contains("written to /w-*** (name)"), "{stderr}");
    assert!(
        !stderr.contains(value) && !stdout.contains(value),
        "{stderr}"
    );
}

#[test]
fn cached_outputs_contain_no_plaintext() {
    let home = home();
    let value = "plaintext-never-stored-Kx7";
    let env = [("PLAIN", value)];
    let scripts = [
        "echo $S; echo $S >&2",
        "echo $S | base64; printf %s $S | od -An -tx1",
        "printf '%s\\n' \"{\\\"token\\\": \\\"$S\\\"}\"; echo derived > /derived",
    ];
    for script in scripts {
        let out = run(home.path(), "env://PLAIN", script, &env);
        assert!(!out.contains(value), "{out}");
    }
    assert_eq!(entries(home.path()), 3);
    let cache = home.path().join("cache");
    assert!(files_containing(&cache, value.as_bytes()).is_empty());
    let encoded = Command::new("sh")
        .args(["-c", "echo \"$V\" | base64"])
        .env("V", value)
        .output()
        .unwrap()
        .stdout;
    assert!(files_containing(&cache, encoded.trim_ascii()).is_empty());
    // Nothing else in HUSH_HOME either (the MAC key, the image store, engine leftovers).
    assert!(files_containing(home.path(), value.as_bytes()).is_empty());
}

#[test]
fn racing_processes_both_succeed_with_one_result() {
    let home = home();
    let args = exec_args("env://RACE", &format!("sleep 1; {UUID}; echo made > /made"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let spawn = || {
        command(home.path(), &args, &[("RACE", "race-secret-value")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(b.status.success(), "{}", text(&b.stderr));
    assert_eq!(
        text(&a.stdout),
        text(&b.stdout),
        "one ran, the other got its result"
    );
    assert_eq!(entries(home.path()), 1);
}

#[test]
fn prune_frees_space() {
    let home = home();
    for n in 0..3 {
        run(
            home.path(),
            "env://P",
            &format!("dd if=/dev/urandom of=/blob{n} bs=1M count=2 2>/dev/null; echo {n}"),
            &[("P", "prune-secret-value")],
        );
    }
    assert_eq!(entries(home.path()), 3);
    let cache = home.path().join("cache");
    let before = disk_usage(&cache);
    let out = hush(home.path(), &["cache", "prune", "--older-than", "1h"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "removed 0 entries, freed 0B\n");
    let out = hush(home.path(), &["cache", "prune", "--keep-bytes", "5MB"], &[]);
    assert!(
        text(&out.stdout).starts_with("removed 1 entry, freed 2."),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(entries(home.path()), 2);
    let out = hush(home.path(), &["cache", "prune", "--all"], &[]);
    assert!(
        text(&out.stdout).starts_with("removed 2 entries, freed 4."),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(entries(home.path()), 0);
    let after = disk_usage(&cache);
    assert!(before - after >= 6 << 20, "before {before}, after {after}");
    let out = hush(home.path(), &["cache", "prune"], &[]);
    assert_eq!(out.status.code(), Some(2), "a mode is required");
    let out = hush(
        home.path(),
        &["cache", "prune", "--all", "--keep-bytes=1"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "one mode at a time");
}

#[test]
fn sigkill_at_any_moment_leaves_the_cache_consistent() {
    let home = home();
    let mut children: Vec<Child> = Vec::new();
    for round in 0..12u64 {
        let script = format!(
            "echo {round} > /r; dd if=/dev/zero of=/z bs=64k count=8 2>/dev/null; echo {round}"
        );
        let args = exec_args("env://K", &script);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = command(home.path(), &args, &[("K", "kill-secret-value")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill points spread over the whole run (start-up, exec, scan, commit, exit); the
        // delays only choose where the kill lands and are not asserted on.
        std::thread::sleep(Duration::from_millis(30 + round * round * 9));
        child.kill().unwrap();
        child.wait().unwrap();
        children.push(child);
    }
    let cache = Cache::open(&home.path().join("cache")).unwrap();
    let check = cache.check().unwrap();
    assert_eq!(check.integrity, "ok");
    assert!(check.missing_layers.is_empty(), "{check:?}");
    for e in cache.entries().unwrap() {
        let key: [u8; 32] = hex_decode(&e.key);
        let hit = cache
            .lookup(&key)
            .unwrap()
            .expect("listed entries are complete");
        let layer = hit.layer.expect("each exec wrote files");
        assert!(layer.path().join("z").is_file(), "{}", e.key);
    }
    drop(cache);
    // And the cache keeps working: a run completes, and the next one hits.
    let script = format!("{UUID}; echo done > /done");
    let first = run(
        home.path(),
        "env://K",
        &script,
        &[("K", "kill-secret-value")],
    );
    assert_eq!(
        run(
            home.path(),
            "env://K",
            &script,
            &[("K", "kill-secret-value")]
        ),
        first
    );
}

fn hex_decode(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
