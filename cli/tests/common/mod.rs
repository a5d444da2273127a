//! Fixtures shared by the CLI's end-to-end tests: the built `hush` run with a private
//! HUSH_HOME, and the busybox image from `scripts/busybox-rootfs.sh`.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// `hush ARGS` with `HUSH_HOME=home`, the given environment and no stdin.
pub fn command(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
    cmd.args(args).env("HUSH_HOME", home).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `hush ARGS` to completion.
pub fn hush(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    command(home, args, env).output().expect("hush runs")
}

/// Bytes as text, for assertions and messages.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The busybox root filesystem tarball, built once per test binary.
fn busybox_tarball() -> &'static Path {
    static TARBALL: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &TARBALL
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let tarball = dir.path().join("busybox.tar.gz");
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/busybox-rootfs.sh");
            let out = Command::new(script).arg(&tarball).output().unwrap();
            assert!(
                out.status.success(),
                "{script} failed: {}",
                text(&out.stderr)
            );
            (dir, tarball)
        })
        .1
}

/// Imports the busybox image into `home` as `busybox`.
pub fn import_busybox(home: &Path) {
    let tarball = busybox_tarball().to_str().unwrap();
    let out = hush(home, &["image", "import", "--tag", "busybox", tarball], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Imports, as `tag`, the busybox root filesystem with the given host programs (and their
/// shared libraries) added, e.g. `/usr/bin/ssh-add`.
pub fn import_busybox_with(home: &Path, tag: &str, programs: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("rootfs.tar.gz");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/busybox-rootfs.sh");
    let out = Command::new(script)
        .arg(&tarball)
        .args(programs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{script}: {}", text(&out.stderr));
    let tarball = tarball.to_str().unwrap();
    let out = hush(home, &["image", "import", "--tag", tag, tarball], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Runs `git ARGS` in `dir` (with a throwaway identity for commits); it must succeed.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

/// A context directory holding `Dockerfile` and the given files.
pub fn context(dockerfile: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for (name, contents) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
    dir
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if meta.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}
