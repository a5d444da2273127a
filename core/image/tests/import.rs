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

#[test]
fn gzip_oci_archive_and_bare_ref_names() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let layout = home.path().join("layout");
    let layer = tar_of(&[Entry::File("hello", b"world", 0o644)]);
    // skopeo and umoci write a bare tag as ref.name: it names no image.
    let digest = write_layout(
        &layout,
        &[layer],
        &[("org.opencontainers.image.ref.name", "latest")],
    );
    let archive = home.path().join("image.tar.gz");
    fs::write(&archive, gzip(&common::archive_of(&layout))).unwrap();
    let imported = store.import(&archive, None).unwrap();
    assert_eq!(
        (imported.digest.to_string(), imported.name),
        (digest.clone(), None)
    );
    assert!(store.resolve("latest").unwrap().is_none());

    // A full reference in ref.name is used as the tag.
    let layout2 = home.path().join("layout2");
    let layer = tar_of(&[Entry::File("hello", b"again", 0o644)]);
    write_layout(
        &layout2,
        &[layer],
        &[("org.opencontainers.image.ref.name", "example.com/app:3")],
    );
    let imported = store.import(&layout2, None).unwrap();
    assert_eq!(imported.name.as_deref(), Some("example.com/app:3"));
}

#[test]
fn multi_platform_index_picks_the_host_manifest() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let layout = home.path().join("layout");
    let native = write_layout(
        &layout,
        &[tar_of(&[Entry::File("native", b"", 0o644)])],
        &[],
    );
    let native_size = fs::metadata(layout.join("blobs/sha256").join(&native[7..]))
        .unwrap()
        .len();
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other_arch = if host_arch == "s390x" {
        "amd64"
    } else {
        "s390x"
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": common::digest(b"elsewhere"),
             "size": 9, "platform": {"architecture": other_arch, "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": native,
             "size": native_size, "platform": {"architecture": host_arch, "os": "linux"}},
        ],
    });
    let index = serde_json::to_vec(&index).unwrap();
    let index_digest = common::digest(&index);
    fs::write(layout.join("blobs/sha256").join(&index_digest[7..]), &index).unwrap();
    let top = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": index_digest,
                       "size": index.len(), "annotations": {"io.containerd.image.name": "multi:1"}}],
    });
    fs::write(layout.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();

    let imported = store.import(&layout, None).unwrap();
    assert_eq!(imported.digest.to_string(), native);
    assert_eq!(imported.name.as_deref(), Some("multi:1"));
}

#[test]
fn a_layout_with_several_images_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let layout = home.path().join("layout");
    write_layout(&layout, &[tar_of(&[Entry::File("a", b"", 0o644)])], &[]);
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_path).unwrap()).unwrap();
    let entry = index["manifests"][0].clone();
    index["manifests"].as_array_mut().unwrap().push(entry);
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    let err = store.import(&layout, None).unwrap_err();
    assert!(err.to_string().contains("holds 2 images"), "{err}");
    assert!(err.to_string().contains("index.json"), "{err}");
}

/// What a Dockerfile build would do: write a layer blob, then put an image on top of a base.
#[test]
fn ingest_builds_an_image_from_new_layers() {
    let home = tempfile::tempdir().unwrap();
    let store = store(home.path());
    let base_path = home.path().join("base.tar");
    fs::write(&base_path, tar_of(&[Entry::File("base", b"b", 0o644)])).unwrap();
    let base = store
        .resolve(
            store
                .import(&base_path, Some("base"))
                .unwrap()
                .digest
                .as_ref(),
        )
        .unwrap()
        .unwrap();

    let ingest = store.ingest().unwrap();
    let layer = gzip(&tar_of(&[Entry::File("added", b"by a build", 0o644)]));
    let blob = ingest.write_blob(layer.as_slice(), None).unwrap();
    assert!(ingest.has_blob(&blob.digest));
    let mut config = base.config.clone();
    let mut diff_ids = config.rootfs().diff_ids().clone();
    diff_ids.push(common::digest(&tar_of(&[Entry::File(
        "added",
        b"by a build",
        0o644,
    )])));
    config.rootfs_mut().set_diff_ids(diff_ids);
    let mut layers = base.manifest.layers().clone();
    layers.push(hush_image::Descriptor::new(
        hush_image::MediaType::ImageLayerGzip,
        blob.size,
        blob.digest,
    ));
    let built = ingest
        .put_image(&config, &layers, Some("built:v1"))
        .unwrap();
    drop(ingest);

    let image = store.resolve("built:v1").unwrap().unwrap();
    assert_eq!(image.digest, built.digest);
    let dirs = store.rootfs_layers(&image).unwrap();
    assert_eq!(fs::read(dirs[1].join("added")).unwrap(), b"by a build");

    // A manifest naming a blob the store lacks is refused.
    let ingest = store.ingest().unwrap();
    layers.push(hush_image::Descriptor::new(
        hush_image::MediaType::ImageLayer,
        3,
        common::digest(b"abc")
            .parse::<hush_image::Digest>()
            .unwrap(),
    ));
    let blobs_before = fs::read_dir(home.path().join("images/blobs/sha256"))
        .unwrap()
        .count();
    let err = ingest.put_image(&config, &layers, None).unwrap_err();
    assert!(err.to_string().contains("is not in the store"), "{err}");
    let blobs_after = fs::read_dir(home.path().join("images/blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(
        blobs_before, blobs_after,
        "nothing is written for a bad image"
    );

    // A blob whose content does not match the expected digest is not stored.
    let expected = hush_image::Descriptor::new(
        hush_image::MediaType::ImageLayer,
        3,
        common::digest(b"abc")
            .parse::<hush_image::Digest>()
            .unwrap(),
    );
    let err = ingest.write_blob(&b"xyz"[..], Some(&expected)).unwrap_err();
    assert!(matches!(err, ImageError::DigestMismatch { .. }), "{err}");
    assert!(!ingest.has_blob(expected.digest()));
}
