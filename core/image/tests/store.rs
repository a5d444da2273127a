//! Tags, removal and garbage collection, verification of bad input, and concurrency.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;

use common::{gzip, tar_of, write_layout, Entry};
use hush_image::{ImageError, ImageStore};

fn store(home: &Path) -> ImageStore {
    ImageStore::open(&home.join("images")).unwrap()
}

/// A rootfs tarball on disk with one file of the given contents.
fn tarball(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, tar_of(&[Entry::File("data", contents, 0o644)])).unwrap();
    path
}

/// Every file under the store (blobs and index), with its contents.
fn snapshot(home: &Path) -> BTreeSet<(PathBuf, Vec<u8>)> {
    let mut out = BTreeSet::new();
    let mut stack = vec![home.join("images")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.to_string_lossy().contains("/.hush/") {
                let bytes = fs::read(&path).unwrap();
                out.insert((path, bytes));
            }
        }
    }
    out
}

fn blobs(home: &Path) -> BTreeSet<String> {
    fs::read_dir(home.join("images/blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

#[test]
fn tags_resolve_docker_style() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let one = store
        .import(&tarball(home.path(), "a.tar", b"1"), Some("busybox"))
        .unwrap();
    let two = store
        .import(
            &tarball(home.path(), "b.tar", b"2"),
            Some("localhost:5000/x:1"),
        )
        .unwrap();
    let digest = one.digest.to_string();

    for name in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        "docker.io/library/busybox:latest",
    ] {
        assert_eq!(
            store.resolve(name).unwrap().unwrap().digest,
            one.digest,
            "{name}"
        );
    }
    for name in [
        digest.clone(),
        digest[7..19].to_string(),
        digest[..19].to_string(),
        format!("whatever@{digest}"),
    ] {
        assert_eq!(
            store.resolve(&name).unwrap().unwrap().digest,
            one.digest,
            "{name}"
        );
    }
    assert_eq!(
        store.resolve("localhost:5000/x:1").unwrap().unwrap().digest,
        two.digest
    );
    assert!(
        store.resolve("localhost:5000/x").unwrap().is_none(),
        "x:latest is not x:1"
    );
    assert!(store.resolve("busybox:1").unwrap().is_none());
    assert!(store.resolve("Bad Name").unwrap_err().is_usage());

    // Re-tagging moves the tag; the image it left stays, untagged, addressable by digest.
    let three = store
        .import(&tarball(home.path(), "c.tar", b"3"), Some("busybox:latest"))
        .unwrap();
    assert_eq!(
        store.resolve("busybox").unwrap().unwrap().digest,
        three.digest
    );
    let list = store.list().unwrap();
    let old = list.iter().find(|s| s.digest == one.digest).unwrap();
    assert!(old.names.is_empty());
    assert_eq!(list.len(), 3);

    let err = store
        .import(
            &tarball(home.path(), "d.tar", b"4"),
            Some(&format!("x@{digest}")),
        )
        .unwrap_err();
    assert!(err.is_usage(), "{err}");
}

#[test]
fn rm_untags_then_collects_only_unshared_blobs() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let base = gzip(&tar_of(&[Entry::File("base", b"shared", 0o644)]));
    let left = home.path().join("left");
    let right = home.path().join("right");
    write_layout(
        &left,
        &[base.clone(), tar_of(&[Entry::File("l", b"left", 0o644)])],
        &[],
    );
    write_layout(
        &right,
        &[base.clone(), tar_of(&[Entry::File("r", b"right", 0o644)])],
        &[],
    );
    let l = store.import(&left, Some("left")).unwrap();
    store.import(&right, Some("right")).unwrap();
    store.import(&left, Some("left-again")).unwrap();
    let before = blobs(home.path());

    // A tag with a sibling tag: only the tag goes.
    store.remove("left").unwrap();
    assert_eq!(blobs(home.path()), before);
    assert_eq!(
        store.resolve("left-again").unwrap().unwrap().digest,
        l.digest
    );

    // The last tag: the image's own blobs go, the shared base layer stays.
    store.remove("left-again:latest").unwrap();
    let after = blobs(home.path());
    assert!(after.contains(&common::digest(&base)));
    assert_eq!(
        before.len() - after.len(),
        3,
        "manifest, config and top layer of `left`"
    );
    assert!(!after.contains(&l.digest.to_string()));
    let right = store.resolve("right").unwrap().unwrap();
    assert_eq!(store.rootfs_layers(&right).unwrap().len(), 2);

    let err = store.remove("left").unwrap_err();
    assert!(
        matches!(err, ImageError::NotFound(ref n) if n == "left"),
        "{err}"
    );
    store.remove(&right.digest.to_string()[..13]).unwrap();
    assert!(blobs(home.path()).is_empty());
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn rm_by_digest_removes_every_tag() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let path = tarball(home.path(), "a.tar", b"1");
    let image = store.import(&path, Some("a")).unwrap();
    store.import(&path, Some("b")).unwrap();
    store.remove(image.digest.as_ref()).unwrap();
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn wrong_digest_in_a_layout_names_the_blob_and_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    store
        .import(&tarball(home.path(), "keep.tar", b"keep"), Some("keep"))
        .unwrap();
    let before = snapshot(home.path());

    let layout = home.path().join("layout");
    let layer = tar_of(&[Entry::File("f", b"good", 0o644)]);
    write_layout(&layout, std::slice::from_ref(&layer), &[]);
    let layer_digest = common::digest(&layer);
    fs::write(
        layout.join("blobs/sha256").join(&layer_digest[7..]),
        tar_of(&[Entry::File("f", b"evil", 0o644)]),
    )
    .unwrap();
    let err = store.import(&layout, Some("bad")).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&layer_digest), "{err}");
    assert_eq!(snapshot(home.path()), before);

    // A layer whose diff_id in the config is wrong.
    let layout = home.path().join("layout2");
    write_layout(&layout, std::slice::from_ref(&layer), &[]);
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(layout.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    )
    .unwrap();
    let config_path = layout
        .join("blobs/sha256")
        .join(&manifest["config"]["digest"].as_str().unwrap()[7..]);
    let text = fs::read_to_string(&config_path)
        .unwrap()
        .replace(&layer_digest, &common::digest(b"other"));
    let new_config = common::digest(text.as_bytes());
    fs::write(layout.join("blobs/sha256").join(&new_config[7..]), &text).unwrap();
    let manifest_text = serde_json::to_string(&manifest)
        .unwrap()
        .replace(manifest["config"]["digest"].as_str().unwrap(), &new_config);
    let new_manifest = common::digest(manifest_text.as_bytes());
    fs::write(
        layout.join("blobs/sha256").join(&new_manifest[7..]),
        &manifest_text,
    )
    .unwrap();
    let index_text = serde_json::to_string(&index)
        .unwrap()
        .replace(manifest_digest, &new_manifest);
    fs::write(layout.join("index.json"), index_text).unwrap();
    let err = store.import(&layout, None).unwrap_err();
    assert!(err.to_string().contains("diff_id of layer"), "{err}");
    assert_eq!(snapshot(home.path()), before);

    // Unsafe entries, non-tar files and missing paths.
    let evil = home.path().join("evil.tar");
    fs::write(&evil, tar_of(&[Entry::File("../escape", b"x", 0o644)])).unwrap();
    let err = store.import(&evil, Some("evil")).unwrap_err();
    assert!(
        matches!(err, ImageError::UnsafePath { .. }) && err.to_string().contains("../escape"),
        "{err}"
    );
    let junk = home.path().join("junk.tar");
    fs::write(&junk, b"not a tarball at all").unwrap();
    assert!(store.import(&junk, None).is_err());
    let err = store
        .import(&home.path().join("missing.tar"), None)
        .unwrap_err();
    assert!(err.to_string().contains("missing.tar"), "{err}");
    assert_eq!(snapshot(home.path()), before);
    assert!(!home.path().join("escape").exists());
}

#[test]
fn concurrent_unpacks_of_one_layer_share_the_result() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("rootfs.tar.gz");
    fs::write(&path, gzip(&common::busybox_rootfs())).unwrap();
    let digest = store(home.path())
        .import(&path, Some("busybox"))
        .unwrap()
        .digest;

    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let barrier = barrier.clone();
            let root = home.path().join("images");
            thread::spawn(move || {
                // Each thread has its own store handle, so its own lock descriptors, as
                // separate processes would.
                let store = ImageStore::open(&root).unwrap();
                let image = store.resolve("busybox").unwrap().unwrap();
                barrier.wait();
                store.rootfs_layers(&image).unwrap()
            })
        })
        .collect();
    let results: Vec<Vec<PathBuf>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let layer = &results[0][0];
    assert_eq!(
        fs::read(layer.join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
    assert_eq!(
        fs::read_dir(home.path().join("layers/.tmp"))
            .unwrap()
            .count(),
        0,
        "no temp dirs left"
    );
    let store = store(home.path());
    assert_eq!(store.resolve("busybox").unwrap().unwrap().digest, digest);
}

#[test]
fn concurrent_imports_and_removals_keep_every_tag() {
    let home = tempfile::tempdir().unwrap();
    store(home.path())
        .import(&tarball(home.path(), "victim.tar", b"v"), Some("victim"))
        .unwrap();
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let root = home.path().join("images");
            let path = tarball(home.path(), &format!("{i}.tar"), format!("{i}").as_bytes());
            thread::spawn(move || {
                let store = ImageStore::open(&root).unwrap();
                if i == 0 {
                    store.remove("victim").unwrap();
                }
                store.import(&path, Some(&format!("img{i}"))).unwrap()
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let store = store(home.path());
    let names: BTreeSet<String> = store
        .list()
        .unwrap()
        .into_iter()
        .flat_map(|s| s.names)
        .collect();
    let expected: BTreeSet<String> = (0..6).map(|i| format!("img{i}:latest")).collect();
    assert_eq!(names, expected);
    for i in 0..6 {
        let image = store.resolve(&format!("img{i}")).unwrap().unwrap();
        assert_eq!(
            fs::read(store.rootfs_layers(&image).unwrap()[0].join("data")).unwrap(),
            format!("{i}").as_bytes()
        );
    }
}

#[test]
fn a_crashed_unpack_is_never_used_and_is_cleaned_up() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let image = store
        .import(&tarball(home.path(), "a.tar", b"real"), Some("a"))
        .unwrap();
    let image = store.resolve(image.digest.as_ref()).unwrap().unwrap();
    let hex = image.config.rootfs().diff_ids()[0]
        .trim_start_matches("sha256:")
        .to_string();
    // What a process killed mid-unpack leaves: a half-written temp dir.
    let stale = home
        .path()
        .join("layers/.tmp")
        .join(format!("{hex}.99999.0.0"));
    fs::create_dir_all(&stale).unwrap();
    fs::write(stale.join("data"), b"half").unwrap();

    let layers = store.rootfs_layers(&image).unwrap();
    assert_eq!(layers[0], home.path().join("layers").join(&hex));
    assert_eq!(fs::read(layers[0].join("data")).unwrap(), b"real");
    assert!(!stale.exists());
}

#[test]
fn a_reimport_replaces_a_corrupt_blob() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let source = tarball(home.path(), "a.tar", b"real");
    let first = store.import(&source, Some("a")).unwrap();
    let image = store.resolve(first.digest.as_ref()).unwrap().unwrap();
    let layer = image.manifest.layers()[0].digest().clone();
    let blob = home.path().join("images/blobs/sha256").join(layer.digest());
    // One flipped byte: same size, wrong content.
    let mut bytes = fs::read(&blob).unwrap();
    bytes[600] ^= 0x20;
    fs::write(&blob, &bytes).unwrap();
    assert!(store.rootfs_layers(&image).is_err(), "the damage is real");
    assert!(
        !store.ingest().unwrap().has_blob(&layer),
        "damaged is missing"
    );

    let again = store.import(&source, Some("a")).unwrap();
    let image = store.resolve(again.digest.as_ref()).unwrap().unwrap();
    assert_eq!(image.manifest.layers()[0].digest(), &layer);
    assert!(store.ingest().unwrap().has_blob(&layer));
    let layers = store.rootfs_layers(&image).unwrap();
    assert_eq!(fs::read(layers[0].join("data")).unwrap(), b"real");
}

#[test]
fn a_reimport_keeps_an_intact_blob() {
    use std::os::unix::fs::MetadataExt;
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let source = tarball(home.path(), "a.tar", b"real");
    let first = store.import(&source, Some("a")).unwrap();
    let image = store.resolve(first.digest.as_ref()).unwrap().unwrap();
    let blob = home
        .path()
        .join("images/blobs/sha256")
        .join(image.manifest.layers()[0].digest().digest());
    let inode = fs::metadata(&blob).unwrap().ino();
    store.import(&source, Some("a")).unwrap();
    assert_eq!(fs::metadata(&blob).unwrap().ino(), inode, "not rewritten");
}

#[test]
fn scratch_is_the_reserved_empty_image() {
    let home = tempfile::tempdir().unwrap();
    let s = store(home.path());
    let scratch = s
        .resolve("scratch")
        .unwrap()
        .expect("scratch always resolves");
    assert!(scratch.manifest.layers().is_empty());
    assert!(scratch.config.rootfs().diff_ids().is_empty());
    assert!(s.rootfs_layers(&scratch).unwrap().is_empty());
    assert_eq!(
        scratch.digest,
        hush_image::Image::scratch().digest,
        "stable"
    );
    // It is not stored, and nothing can be stored under its name.
    assert!(s.list().unwrap().is_empty());
    let tar = tarball(home.path(), "x.tar", b"x");
    for tag in ["scratch", "scratch:latest"] {
        match s.import(&tar, Some(tag)) {
            Err(ImageError::InvalidReference { reason, .. }) => {
                assert_eq!(reason, "'scratch' is a reserved name")
            }
            other => panic!("{tag}: {other:?}"),
        }
    }
    assert!(
        s.list().unwrap().is_empty(),
        "a refused import stores nothing"
    );
}
