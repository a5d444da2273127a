//! Fixture builders: tar layers, gzip, OCI layouts and archives, a busybox root filesystem.

#![allow(dead_code)] // each test binary uses a different subset

use std::fs;
use std::io::Write;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// One tar entry of a test layer.
pub enum Entry<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str, u32),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Fifo(&'a str),
    /// A file with owner uid and gid.
    Owned(&'a str, &'a [u8], u32, u64, u64),
    /// A file whose xattrs are given as PAX `SCHILY.xattr.*` records.
    FileWithXattrs(&'a str, &'a [u8], &'a [(&'a str, &'a [u8])]),
}

/// A tar stream of `entries`, names written verbatim (even `..` or absolute ones).
pub fn tar_of(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        let (name, data, kind, mode, link): (&str, &[u8], tar::EntryType, u32, Option<&str>) =
            match entry {
                Entry::File(name, data, mode) => (name, data, tar::EntryType::Regular, *mode, None),
                Entry::FileWithXattrs(name, data, xattrs) => {
                    let records: Vec<(String, &[u8])> = xattrs
                        .iter()
                        .map(|(k, v)| (format!("SCHILY.xattr.{k}"), *v))
                        .collect();
                    builder
                        .append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), *v)))
                        .unwrap();
                    (name, data, tar::EntryType::Regular, 0o644, None)
                }
                Entry::Dir(name, mode) => (name, &[], tar::EntryType::Directory, *mode, None),
                Entry::Symlink(name, target) => {
                    (name, &[], tar::EntryType::Symlink, 0o777, Some(target))
                }
                Entry::HardLink(name, target) => {
                    (name, &[], tar::EntryType::Link, 0o644, Some(target))
                }
                Entry::Fifo(name) => (name, &[], tar::EntryType::Fifo, 0o644, None),
                Entry::Owned(name, data, mode, uid, gid) => {
                    header.set_uid(*uid);
                    header.set_gid(*gid);
                    (name, data, tar::EntryType::Regular, *mode, None)
                }
            };
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        raw_name(&mut header.as_old_mut().name, name);
        if let Some(link) = link {
            raw_name(&mut header.as_old_mut().linkname, link);
        }
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn raw_name(field: &mut [u8; 100], name: &str) {
    assert!(name.len() < 100, "test names are short");
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

/// gzip-compresses `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A tar of a small root filesystem: Debian's static `/bin/busybox` plus applet symlinks.
pub fn busybox_rootfs() -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").expect("busybox-static is installed (/bin/busybox)");
    let mut entries = vec![
        Entry::Dir("bin", 0o755),
        Entry::File("bin/busybox", &busybox, 0o755),
        Entry::Dir("etc", 0o755),
        Entry::File("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", 0o644),
        Entry::Dir("tmp", 0o1777),
    ];
    for applet in ["sh", "ls", "cat", "echo", "true"] {
        let name: &'static str = Box::leak(format!("bin/{applet}").into_boxed_str());
        entries.push(Entry::Symlink(name, "busybox"));
    }
    tar_of(&entries)
}

/// Writes an OCI image layout of one image made of `layers` (each a plain or gzip tar) into
/// `dir`, with `annotations` on its index.json entry; returns the manifest digest.
pub fn write_layout(dir: &Path, layers: &[Vec<u8>], annotations: &[(&str, &str)]) -> String {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let d = digest(bytes);
        fs::write(blobs.join(&d[7..]), bytes).unwrap();
        d
    };
    let mut layer_descs = Vec::new();
    let mut diff_ids = Vec::new();
    for layer in layers {
        let gz = layer.starts_with(&[0x1f, 0x8b]);
        let plain = if gz {
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(layer.as_slice()),
                &mut out,
            )
            .unwrap();
            out
        } else {
            layer.clone()
        };
        diff_ids.push(digest(&plain));
        let media = if gz {
            "application/vnd.oci.image.layer.v1.tar+gzip"
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        };
        layer_descs.push(
            serde_json::json!({"mediaType": media, "digest": put(layer), "size": layer.len()}),
        );
    }
    let config = serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin", "GREETING=hi"], "Cmd": ["sh"], "WorkingDir": "/tmp", "User": "0:0"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config), "size": config.len()},
        "layers": layer_descs,
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let manifest_digest = put(&manifest);
    let annotations: serde_json::Map<String, serde_json::Value> = annotations
        .iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
        .collect();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest.len(), "annotations": annotations,
        }],
    });
    fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest_digest
}

/// A tar of the layout directory `dir` (an OCI archive).
pub fn archive_of(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap()
}
