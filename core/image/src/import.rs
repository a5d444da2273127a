//! `ImageStore::import`: OCI layouts, OCI archives and root filesystem tarballs.
//!
//! Every input is read and verified in full (blob digests and sizes, layer diff_ids, entry
//! paths) before the first blob is stored, so bad input leaves the store as it was.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, HistoryBuilder, ImageConfiguration, ImageConfigurationBuilder,
    ImageIndex, ImageManifest, MediaType, OciLayout, Os, RootFsBuilder, ANNOTATION_REF_NAME,
};

use crate::error::IoContext;
use crate::fsutil::{self, blob_path, HashingReader};
use crate::layer::{self, Decoded};
use crate::reference::parse_digest;
use crate::store::{is_index, is_manifest, parse_tag, validate_manifest};
use crate::{ImageError, ImageRef, ImageStore, Ingest};

/// The `Env` a root filesystem import gets, as Docker's default.
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// containerd's (and `docker save`'s) annotation for the full image name in an OCI layout.
const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
/// Manifests, indexes and configs are small; refuse to read absurd ones into memory.
const MAX_METADATA_BLOB: u64 = 16 << 20;

pub(crate) fn import(
    store: &ImageStore,
    path: &Path,
    tag: Option<&str>,
) -> Result<ImageRef, ImageError> {
    let tag = tag.map(parse_tag).transpose()?;
    let meta = fs::metadata(path).at("read", path)?;
    let ingest = store.ingest()?;
    if meta.is_dir() {
        return import_layout(&ingest, path, tag);
    }
    let tarball = Tarball::inspect(path)?;
    if tarball.is_oci_archive {
        let dir = store.tmp_dir().join(fsutil::unique_name("archive"));
        let result = extract_archive(path, &dir).and_then(|()| import_layout(&ingest, &dir, tag));
        let _ = fs::remove_dir_all(&dir);
        return result;
    }
    import_rootfs(&ingest, path, &tarball, tag)
}

/// A tar file read to its end: its blob digest and size, and what its entries hold.
struct Tarball {
    digest: String,
    size: u64,
    gzip: bool,
    diff_id: String,
    entries: usize,
    is_oci_archive: bool,
}

impl Tarball {
    fn inspect(path: &Path) -> Result<Self, ImageError> {
        let file = File::open(path).at("open", path)?;
        let mut decoded = Decoded::new(HashingReader::new(file), path)?;
        let gzip = decoded.is_gzip();
        let check = layer::check(&mut decoded, &path.display().to_string())?;
        let (digest, size) = decoded.into_inner().finish().at("read", path)?;
        Ok(Self {
            digest,
            size,
            gzip,
            diff_id: check.diff_id,
            entries: check.entries,
            is_oci_archive: check.is_oci_archive,
        })
    }
}

fn import_rootfs(
    ingest: &Ingest<'_>,
    path: &Path,
    tarball: &Tarball,
    tag: Option<String>,
) -> Result<ImageRef, ImageError> {
    if tarball.entries == 0 {
        return Err(ImageError::invalid(
            path,
            "not a tar archive, or an empty one",
        ));
    }
    let media_type = if tarball.gzip {
        MediaType::ImageLayerGzip
    } else {
        MediaType::ImageLayer
    };
    let layer = Descriptor::new(media_type, tarball.size, parse_digest(&tarball.digest)?);
    let file = File::open(path).at("open", path)?;
    ingest.write_blob(file, Some(&layer))?;

    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let source = path
        .file_name()
        .unwrap_or(path.as_os_str())
        .to_string_lossy();
    let built = |e: oci_spec::OciSpecError| ImageError::invalid(path, e.to_string());
    let config = ImageConfigurationBuilder::default()
        .created(now.clone())
        .architecture(Arch::default())
        .os(Os::default())
        .config(
            ConfigBuilder::default()
                .env(vec![DEFAULT_PATH.to_string()])
                .build()
                .map_err(built)?,
        )
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![tarball.diff_id.clone()])
                .build()
                .map_err(built)?,
        )
        .history(vec![HistoryBuilder::default()
            .created(now)
            .created_by(format!("hush image import {source}"))
            .build()
            .map_err(built)?])
        .build()
        .map_err(built)?;
    ingest.put_image(&config, &[layer], tag.as_deref())
}

/// Copies the layout files of an OCI archive (`oci-layout`, `index.json`, `blobs/ALG/HEX`)
/// into the new directory `dest`; anything else in the archive is ignored.
fn extract_archive(path: &Path, dest: &Path) -> Result<(), ImageError> {
    let file = File::open(path).at("open", path)?;
    let mut archive = tar::Archive::new(Decoded::new(file, path)?);
    let entries = archive.entries().at("read OCI archive", path)?;
    for entry in entries {
        let mut entry = entry.at("read OCI archive", path)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().at("read OCI archive", path)?.into_owned();
        let parts: Vec<&str> = name
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => part.to_str(),
                _ => None,
            })
            .collect();
        let simple = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b))
        };
        let wanted = match parts.as_slice() {
            ["oci-layout"] | ["index.json"] => true,
            ["blobs", alg, hex] => simple(alg) && simple(hex),
            _ => false,
        };
        if !wanted
            || name
                .components()
                .any(|c| matches!(c, Component::ParentDir | Component::RootDir))
        {
            continue;
        }
        let target: PathBuf = std::iter::once(dest.as_os_str())
            .chain(parts.iter().map(|p| p.as_ref()))
            .collect();
        fsutil::create_dirs(target.parent().unwrap_or(dest))?;
        let mut out = fsutil::create_private(&target)?;
        io::copy(&mut entry, &mut out).at("write", &target)?;
    }
    Ok(())
}

/// Verifies a whole OCI layout, then stores the chosen image's blobs and tags it.
fn import_layout(
    ingest: &Ingest<'_>,
    dir: &Path,
    tag: Option<String>,
) -> Result<ImageRef, ImageError> {
    let layout_path = dir.join("oci-layout");
    let layout = OciLayout::from_file(&layout_path).map_err(|e| {
        ImageError::invalid(
            &layout_path,
            format!("not an OCI image layout: {}", spec_reason(&e)),
        )
    })?;
    if !layout.image_layout_version().starts_with("1.") {
        return Err(ImageError::Unsupported {
            what: "OCI layout version",
            value: layout.image_layout_version().clone(),
        });
    }
    let index_path = dir.join("index.json");
    let index = ImageIndex::from_file(&index_path)
        .map_err(|e| ImageError::invalid(&index_path, spec_reason(&e)))?;
    let top = choose(index.manifests(), &index_path)?;
    let layout_name = layout_name(top);
    let mut chosen = top.clone();
    if is_index(&chosen) {
        let bytes = read_small_blob(dir, &chosen)?;
        let nested = ImageIndex::from_reader(bytes.as_slice())
            .map_err(|e| ImageError::invalid(&blob_path(dir, chosen.digest()), spec_reason(&e)))?;
        chosen = nested
            .manifests()
            .iter()
            .find(|d| is_manifest(d) && matches_host(d))
            .cloned()
            .ok_or_else(|| {
                ImageError::invalid(
                    &blob_path(dir, chosen.digest()),
                    format!(
                        "the image index has no manifest for {}/{}",
                        Os::default(),
                        Arch::default()
                    ),
                )
            })?;
    }
    let manifest_bytes = read_small_blob(dir, &chosen)?;
    let manifest_path = blob_path(dir, chosen.digest());
    let manifest = ImageManifest::from_reader(manifest_bytes.as_slice())
        .map_err(|e| ImageError::invalid(&manifest_path, spec_reason(&e)))?;
    validate_manifest(&manifest, &manifest_path)?;
    let config_bytes = read_small_blob(dir, manifest.config())?;
    let config_path = blob_path(dir, manifest.config().digest());
    let config = ImageConfiguration::from_reader(config_bytes.as_slice())
        .map_err(|e| ImageError::invalid(&config_path, spec_reason(&e)))?;
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        return Err(ImageError::invalid(
            &manifest_path,
            format!(
                "{} layers, but its config lists {} diff_ids",
                manifest.layers().len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layer_files = Vec::new();
    for (layer, diff_id) in manifest.layers().iter().zip(diff_ids) {
        let path = source_blob(dir, layer)?;
        let tarball = Tarball::inspect(&path)?;
        check_blob(dir, layer, &tarball.digest, tarball.size)?;
        if &tarball.diff_id != diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("{}: diff_id of layer {}", dir.display(), layer.digest()),
                expected: diff_id.clone(),
                actual: tarball.diff_id,
            });
        }
        layer_files.push((layer, path));
    }

    ingest.write_blob(config_bytes.as_slice(), Some(manifest.config()))?;
    for (layer, path) in layer_files {
        let file = File::open(&path).at("open", &path)?;
        ingest.write_blob(file, Some(layer))?;
    }
    let name = tag.or(layout_name);
    ingest.put_manifest(&manifest_bytes, name.as_deref())
}

/// The one image a layout's index.json designates: its only image, or the only one for this
/// host's platform.
fn choose<'a>(entries: &'a [Descriptor], index_path: &Path) -> Result<&'a Descriptor, ImageError> {
    let images: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| is_manifest(d) || is_index(d))
        .collect();
    match images.as_slice() {
        [] => Err(ImageError::invalid(index_path, "the layout holds no image")),
        [one] => Ok(one),
        many => {
            let native: Vec<_> = many.iter().filter(|d| matches_host(d)).collect();
            match native.as_slice() {
                [one] => Ok(one),
                _ => Err(ImageError::invalid(
                    index_path,
                    format!(
                        "the layout holds {} images; hush imports one at a time",
                        many.len()
                    ),
                )),
            }
        }
    }
}

/// Whether a descriptor's platform (if given) is this host's.
fn matches_host(descriptor: &Descriptor) -> bool {
    descriptor
        .platform()
        .as_ref()
        .is_none_or(|p| p.os() == &Os::default() && p.architecture() == &Arch::default())
}

/// The full image name a layout records: containerd's annotation, or a `ref.name` that is a
/// full reference (skopeo and umoci put a bare tag such as `latest` there, which names nothing).
fn layout_name(descriptor: &Descriptor) -> Option<String> {
    let annotations = descriptor.annotations().as_ref()?;
    let candidate = annotations.get(CONTAINERD_IMAGE_NAME).or_else(|| {
        annotations
            .get(ANNOTATION_REF_NAME)
            .filter(|name| name.contains([':', '/']))
    })?;
    parse_tag(candidate).ok()
}

/// The path of a blob inside a layout, for a sha256 descriptor.
fn source_blob(dir: &Path, descriptor: &Descriptor) -> Result<PathBuf, ImageError> {
    parse_digest(descriptor.digest().as_ref())?;
    Ok(blob_path(dir, descriptor.digest()))
}

/// Checks a blob's digest and size against its descriptor; errors name the layout and digest.
fn check_blob(
    dir: &Path,
    descriptor: &Descriptor,
    digest: &str,
    size: u64,
) -> Result<(), ImageError> {
    if descriptor.digest().as_ref() != digest {
        return Err(ImageError::DigestMismatch {
            what: format!("{}: blob", dir.display()),
            expected: descriptor.digest().to_string(),
            actual: digest.to_string(),
        });
    }
    if descriptor.size() != size {
        return Err(ImageError::SizeMismatch {
            what: format!("{}: blob", dir.display()),
            digest: digest.to_string(),
            expected: descriptor.size(),
            actual: size,
        });
    }
    Ok(())
}

/// Reads a small blob (manifest, index, config) of a layout and verifies it.
fn read_small_blob(dir: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let path = source_blob(dir, descriptor)?;
    if descriptor.size() > MAX_METADATA_BLOB {
        return Err(ImageError::invalid(
            &path,
            format!(
                "{} bytes is too large for a manifest or config",
                descriptor.size()
            ),
        ));
    }
    let mut bytes = Vec::new();
    File::open(&path)
        .and_then(|f| f.take(MAX_METADATA_BLOB + 1).read_to_end(&mut bytes))
        .at("read blob", &path)?;
    check_blob(
        dir,
        descriptor,
        &fsutil::sha256_digest(&bytes),
        bytes.len() as u64,
    )?;
    Ok(bytes)
}

/// The useful part of an oci-spec error (its I/O or JSON cause).
fn spec_reason(err: &oci_spec::OciSpecError) -> String {
    match err {
        oci_spec::OciSpecError::Io(e) => e.to_string(),
        oci_spec::OciSpecError::SerDe(e) => format!("invalid JSON: {e}"),
        other => other.to_string(),
    }
}
