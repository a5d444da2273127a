//! `hush image import|ls|rm`, run as a user would: the built binary with `HUSH_HOME` set to a
//! temp dir, on fixtures built here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn hush(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hush"))
        .arg("image")
        .args(args)
        .env("HUSH_HOME", home)
        .stdin(Stdio::null())
        .output()
        .expect("hush runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A root filesystem tarball made from a temp dir: busybox and a few applet symlinks.
fn rootfs_tarball(dir: &Path, marker: &str) -> PathBuf {
    let root = dir.join(format!("rootfs-{marker}"));
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static is installed");
    for applet in ["sh", "ls", "cat"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/marker"), marker).unwrap();
    let path = dir.join(format!("{marker}.tar"));
    let mut builder = tar::Builder::new(fs::File::create(&path).unwrap());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", &root).unwrap();
    builder.finish().unwrap();
    path
}

#[test]
fn import_ls_rm_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let tarball = rootfs_tarball(home.path(), "one");

    let out = hush(
        home.path(),
        &["import", "--tag", "busybox", tarball.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("imported busybox:latest (sha256:"),
        "{}",
        text(&out.stdout)
    );
    assert!(home.path().join("images/oci-layout").is_file());
    assert!(home.path().join("images/index.json").is_file());

    let out = hush(
        home.path(),
        &[
            "import",
            "-t",
            "localhost:5000/tools:1",
            tarball.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = hush(home.path(), &["ls"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NAME", "DIGEST", "SIZE", "CREATED"]);
    // Two rows, newest first: the same image twice if both imports fell in one second.
    let mut names = Vec::new();
    for line in &lines[1..] {
        let row: Vec<&str> = line.split_whitespace().collect();
        names.push(row[0]);
        assert_eq!(row[1].len(), 12, "{listing}");
        assert!(row[1].bytes().all(|b| b.is_ascii_hexdigit()), "{listing}");
        assert!(row[2].ends_with("MB"), "{listing}");
        assert_eq!(&row[3..], ["just", "now"]);
    }
    names.sort();
    assert_eq!(names, ["busybox:latest", "localhost:5000/tools:1"]);

    let out = hush(home.path(), &["rm", "busybox"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "removed busybox\n");
    let out = hush(home.path(), &["rm", "localhost:5000/tools:1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hush(home.path(), &["ls"]);
    assert_eq!(
        text(&out.stdout).lines().count(),
        1,
        "only the header is left"
    );
    assert_eq!(
        fs::read_dir(home.path().join("images/blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn errors_name_the_problem_and_pick_the_exit_code() {
    let home = tempfile::tempdir().unwrap();
    let tarball = rootfs_tarball(home.path(), "two");

    let out = hush(home.path(), &["rm", "nothing-here"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "hush: no such image: nothing-here\n");

    let out = hush(
        home.path(),
        &["import", "--tag", "Not A Name", tarball.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid image reference \"Not A Name\""),
        "{}",
        text(&out.stderr)
    );

    let missing = home.path().join("missing.tar");
    let out = hush(home.path(), &["import", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("missing.tar"),
        "{}",
        text(&out.stderr)
    );

    let out = hush(home.path(), &["rm"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing argument is a usage error"
    );

    // One good and one unknown name: the good one goes, the command fails naming the other.
    let out = hush(
        home.path(),
        &["import", "-t", "keep", tarball.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hush(home.path(), &["rm", "keep", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "removed keep\n");
    assert_eq!(text(&out.stderr), "hush: no such image: ghost\n");
}

#[test]
fn untagged_imports_are_listed_as_none_and_removed_by_short_digest() {
    let home = tempfile::tempdir().unwrap();
    let tarball = rootfs_tarball(home.path(), "three");
    let out = hush(home.path(), &["import", tarball.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let digest = text(&out.stdout)
        .trim()
        .strip_prefix("imported ")
        .unwrap()
        .to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );

    let out = hush(home.path(), &["ls"]);
    let listing = text(&out.stdout);
    let row: Vec<&str> = listing.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[0], "<none>");
    assert_eq!(row[1], &digest[7..19]);

    let out = hush(home.path(), &["rm", row[1]]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&hush(home.path(), &["ls"]).stdout).lines().count(), 1);
}
