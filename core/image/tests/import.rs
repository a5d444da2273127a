//! Imports of the three input kinds, tag resolution, listing and removal.

mod common;

use std::fs;
use std::path::Path;

use common::{busybox_rootfs, gzip, tar_of, write_layout, Entry};
use hush_image::{ImageError, ImageStore};

fn store(home: &Path) -> ImageStore {
    ImageStore::open(&home.join("images")).unwrap()
}

#[test]
fn rootfs_tarball_becomes_a_single_layer_image() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let tarball = home.path().join("rootfs.tar.gz");
    fs::write(&tarball, gzip(&busybox_rootfs())).unwrap();

    let imported = store.import(&tarball, Some("busybox")).unwrap();
    assert_eq!(imported.name.as_deref(), Some("busybox:latest"));

    let image = store.resolve("busybox").unwrap().expect("tagged");
    assert_eq!(image.digest, imported.digest);
    assert_eq!(
        image.env(),
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    );
    assert_eq!(
        image.config.rootfs().diff_ids(),
        &[common::digest(&busybox_rootfs())]
    );
    assert_eq!(image.config.os().to_string(), "linux");
    assert_eq!(
        image.manifest.layers()[0].media_type().to_string(),
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );

    let layers = store.rootfs_layers(&image).unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        fs::read_link(layers[0].join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::read(layers[0].join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
    assert!(layers[0].starts_with(home.path().join("layers")));
}

#[test]
fn oci_layout_dir_and_archive_import() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let layout = home.path().join("layout");
    let base = tar_of(&[
        Entry::Dir("etc", 0o755),
        Entry::File("etc/os-release", b"ID=test\n", 0o644),
    ]);
    let top = gzip(&tar_of(&[Entry::File("etc/motd", b"hello\n", 0o600)]));
    let digest = write_layout(
        &layout,
        &[base, top],
        &[("io.containerd.image.name", "docker.io/library/demo:1")],
    );

    let from_dir = store.import(&layout, None).unwrap();
    assert_eq!(from_dir.digest.to_string(), digest);
    assert_eq!(from_dir.name.as_deref(), Some("demo:1"));

    let archive = home.path().join("demo.tar");
    fs::write(&archive, common::archive_of(&layout)).unwrap();
    let from_archive = store
        .import(&archive, Some("localhost:5000/demo/app:2"))
        .unwrap();
    assert_eq!(from_archive.digest.to_string(), digest);
    let image = store.resolve("localhost:5000/demo/app:2").unwrap().unwrap();
    assert_eq!(image.cmd(), ["sh"]);
    assert_eq!(image.working_dir(), Some("/tmp"));
    assert_eq!(image.user(), Some("0:0"));
    let layers = store.rootfs_layers(&image).unwrap();
    assert_eq!(fs::read(layers[1].join("etc/motd")).unwrap(), b"hello\n");

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].names, ["demo:1", "localhost:5000/demo/app:2"]);
    assert_eq!(list[0].created.as_deref(), Some("2024-01-02T03:04:05Z"));
}

#[test]
fn unknown_names_are_none_and_rm_errors() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    assert!(store.resolve("nothing").unwrap().is_none());
    let err = store.remove("nothing").unwrap_err();
    assert!(matches!(err, ImageError::NotFound(_)), "{err}");
}
