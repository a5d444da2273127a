//! The store: an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`) plus a cache
//! of unpacked layers beside it.
//!
//! Concurrency between hush processes rests on two `flock` locks under `<root>/.hush/`:
//! `index.lock` serializes read-modify-write cycles of `index.json`, and `gc.lock` is held
//! shared by everything that reads or adds blobs and exclusively by the blob collector, so a
//! blob is never deleted under a reader or between an ingest's blob write and its manifest.
//! `index.json` is replaced atomically, so reading it needs no lock.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use oci_spec::image::{
    Descriptor, DescriptorBuilder, Digest, ImageConfiguration, ImageIndex, ImageIndexBuilder,
    ImageManifest, ImageManifestBuilder, MediaType, OciLayout, PlatformBuilder,
    ANNOTATION_REF_NAME,
};

use crate::error::IoContext;
use crate::fsutil::{self, blob_path, HashingReader, Lock};
use crate::reference::parse_digest;
use crate::{layer, ImageError, Reference};

const LAYOUT_VERSION: &str = "1.0.0";
/// Shortest hex prefix accepted as a short digest.
const MIN_SHORT_DIGEST: usize = 6;
/// Temp files older than this are left over from a crashed process.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// hush's local image store: an OCI image layout at `root`, and unpacked layers in `layers`
/// beside it (`<root>/../layers/<diff_id hex>/`).
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
    layers: PathBuf,
}

/// An image as stored: its manifest digest, manifest and configuration.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest's digest, which identifies the image.
    pub digest: Digest,
    /// The image manifest (config and layer descriptors).
    pub manifest: ImageManifest,
    /// The image configuration (environment, command, rootfs diff_ids, history ...).
    pub config: ImageConfiguration,
}

/// The reserved name of the empty image (Docker's `FROM scratch`).
pub const SCRATCH: &str = "scratch";

impl Image {
    /// The empty image: no layers and an empty config for this host's platform. Its digest is
    /// that of its manifest, as for any image.
    pub fn scratch() -> Self {
        use oci_spec::image::{Arch, ImageConfigurationBuilder, Os, RootFsBuilder};
        let config = ImageConfigurationBuilder::default()
            .architecture(Arch::default())
            .os(Os::default())
            .rootfs(
                RootFsBuilder::default()
                    .typ("layers")
                    .diff_ids(Vec::<String>::new())
                    .build()
                    .expect("every rootfs field is set"),
            )
            .build()
            .expect("every config field is set");
        let config_json = serde_json::to_vec(&config).expect("a config serializes");
        let digest = |bytes: &[u8]| {
            parse_digest(&fsutil::sha256_digest(bytes)).expect("sha256 digests parse")
        };
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(
                MediaType::ImageConfig,
                config_json.len() as u64,
                digest(&config_json),
            ))
            .layers(Vec::new())
            .build()
            .expect("every manifest field is set");
        let manifest_json = serde_json::to_vec(&manifest).expect("a manifest serializes");
        Self {
            digest: digest(&manifest_json),
            manifest,
            config,
        }
    }

    /// `KEY=value` defaults for the process environment.
    pub fn env(&self) -> &[String] {
        self.exec_config(|c| c.env().as_deref())
    }

    /// The default entrypoint.
    pub fn entrypoint(&self) -> &[String] {
        self.exec_config(|c| c.entrypoint().as_deref())
    }

    /// The default command (arguments to the entrypoint, or the program when there is none).
    pub fn cmd(&self) -> &[String] {
        self.exec_config(|c| c.cmd().as_deref())
    }

    /// The default working directory, if set.
    pub fn working_dir(&self) -> Option<&str> {
        self.config
            .config()
            .as_ref()?
            .working_dir()
            .as_deref()
            .filter(|w| !w.is_empty())
    }

    /// The default user (`user`, `uid`, `user:group`, `uid:gid` ...), if set.
    pub fn user(&self) -> Option<&str> {
        self.config
            .config()
            .as_ref()?
            .user()
            .as_deref()
            .filter(|u| !u.is_empty())
    }

    fn exec_config<'a>(
        &'a self,
        field: impl FnOnce(&'a oci_spec::image::Config) -> Option<&'a [String]>,
    ) -> &'a [String] {
        self.config.config().as_ref().and_then(field).unwrap_or(&[])
    }
}

/// What an import or a put returns: the image digest and the tag it got, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The manifest digest.
    pub digest: Digest,
    /// The tag, in the store's `name:tag` form.
    pub name: Option<String>,
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} ({})", self.digest),
            None => write!(f, "{}", self.digest),
        }
    }
}

/// One image in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    /// Its tags (`name:tag`); empty for an untagged image.
    pub names: Vec<String>,
    /// The manifest digest.
    pub digest: Digest,
    /// Bytes of the manifest, config and (compressed) layers.
    pub size: u64,
    /// The config's creation time (RFC 3339), if recorded.
    pub created: Option<String>,
}

impl ImageSummary {
    /// The creation time, if recorded and valid RFC 3339.
    pub fn created_at(&self) -> Option<SystemTime> {
        humantime::parse_rfc3339_weak(self.created.as_deref()?).ok()
    }
}

/// A blob as written: its digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// `sha256:<hex>` of the content.
    pub digest: Digest,
    /// The content's length in bytes.
    pub size: u64,
}

impl ImageStore {
    /// Opens the store at `root`, creating an empty OCI layout if needed. Unpacked layers are
    /// kept in the `layers` directory beside `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let parent = root
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let store = Self {
            root: root.to_path_buf(),
            layers: parent.join("layers"),
        };
        for dir in [
            store.root.join("blobs").join("sha256"),
            store.private_dir().join("tmp"),
            store.layers.join(".tmp"),
            store.layers.join(".locks"),
        ] {
            fsutil::create_dirs(&dir)?;
        }
        let layout_path = store.root.join("oci-layout");
        if layout_path.exists() {
            let layout = OciLayout::from_file(&layout_path)
                .map_err(|e| ImageError::invalid(&layout_path, e.to_string()))?;
            if layout.image_layout_version() != LAYOUT_VERSION {
                return Err(ImageError::Unsupported {
                    what: "OCI layout version",
                    value: layout.image_layout_version().clone(),
                });
            }
        } else {
            let text = format!("{{\"imageLayoutVersion\":\"{LAYOUT_VERSION}\"}}");
            fsutil::write_atomic(&store.tmp_dir(), &layout_path, text.as_bytes())?;
        }
        if !store.index_path().exists() {
            let _lock = Lock::exclusive(&store.private_dir().join("index.lock"))?;
            if !store.index_path().exists() {
                store.write_index(&empty_index())?;
            }
        }
        store.remove_stale_temps();
        Ok(store)
    }

    /// The OCI layout directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts adding content: blobs, then a manifest or an image. Holding an [`Ingest`] keeps
    /// the blob collector of concurrent `remove` calls away until the image is tagged.
    pub fn ingest(&self) -> Result<Ingest<'_>, ImageError> {
        Ok(Ingest {
            store: self,
            _gc: self.gc_shared()?,
        })
    }

    /// Imports an OCI image layout directory, an OCI archive (`.tar`, optionally gzip) or a root
    /// filesystem tarball (`.tar`, `.tar.gz`, which becomes a single-layer image), tagging it
    /// `tag` or, for layouts, by their `io.containerd.image.name` annotation or a full
    /// reference in `org.opencontainers.image.ref.name`. All input is verified before anything
    /// is stored.
    pub fn import(&self, path: &Path, tag: Option<&str>) -> Result<ImageRef, ImageError> {
        crate::import::import(self, path, tag)
    }

    /// Lists the stored images, newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        let _gc = self.gc_shared()?;
        let index = self.read_index()?;
        let mut by_digest: BTreeMap<String, (Digest, Vec<String>)> = BTreeMap::new();
        for entry in index.manifests() {
            let item = by_digest
                .entry(entry.digest().to_string())
                .or_insert_with(|| (entry.digest().clone(), Vec::new()));
            if let Some(name) = ref_name(entry) {
                item.1.push(name.to_string());
            }
        }
        let mut out = Vec::new();
        for (digest, mut names) in by_digest.into_values() {
            let (manifest, manifest_size) = self.load_manifest(&digest)?;
            let config = self.load_config(&manifest)?;
            let layers: u64 = manifest.layers().iter().map(|l| l.size()).sum();
            names.sort();
            out.push(ImageSummary {
                names,
                digest,
                size: manifest_size + manifest.config().size() + layers,
                created: config.created().clone(),
            });
        }
        out.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then_with(|| a.names.cmp(&b.names))
        });
        Ok(out)
    }

    /// Finds an image by tag (`busybox` = `busybox:latest`, `localhost:5000/x:1`), by digest
    /// (`sha256:...`, `name@sha256:...`) or by a unique digest prefix of at least 6 hex digits
    /// (as `hush image ls` shows). `None` if nothing matches. `scratch` is the empty image.
    pub fn resolve(&self, name: &str) -> Result<Option<Image>, ImageError> {
        if name == SCRATCH {
            return Ok(Some(Image::scratch()));
        }
        let _gc = self.gc_shared()?;
        let index = self.read_index()?;
        let Some(target) = find(&index, name)? else {
            return Ok(None);
        };
        let digest = target.digest().clone();
        let (manifest, _) = self.load_manifest(&digest)?;
        let config = self.load_config(&manifest)?;
        Ok(Some(Image {
            digest,
            manifest,
            config,
        }))
    }

    /// Removes a tag, or with a digest (or unique prefix) the image and all its tags; blobs no
    /// longer referenced by any image are deleted. An unknown name is an error.
    pub fn remove(&self, name_or_digest: &str) -> Result<(), ImageError> {
        {
            let _lock = self.index_lock()?;
            let mut index = self.read_index()?;
            let target = find(&index, name_or_digest)?
                .ok_or_else(|| ImageError::NotFound(name_or_digest.to_string()))?;
            let by_tag = ref_name(&target).is_some_and(|tag| {
                Reference::parse(name_or_digest)
                    .is_ok_and(|r| r.tagged_name().as_deref() == Some(tag))
            });
            let digest = target.digest().clone();
            let mut manifests = index.manifests().clone();
            manifests.retain(|entry| {
                let same = entry.digest() == &digest;
                !(same && (!by_tag || ref_name(entry) == ref_name(&target)))
            });
            index.set_manifests(manifests);
            self.write_index(&index)?;
        }
        self.collect_garbage()
    }

    /// The unpacked layer directories of `image`, lowest first, ready to be overlayfs
    /// `lowerdir`s (listed there topmost first). Each layer is unpacked once, verified against
    /// its diff_id, and cached under `<root>/../layers/<diff_id hex>/`; concurrent callers,
    /// also in other processes, share the work safely.
    pub fn rootfs_layers(&self, image: &Image) -> Result<Vec<PathBuf>, ImageError> {
        let _gc = self.gc_shared()?;
        let diff_ids = image.config.rootfs().diff_ids();
        let layers = image.manifest.layers();
        if diff_ids.len() != layers.len() {
            return Err(self.corrupt(format!(
                "image {} has {} layers but {} diff_ids",
                image.digest,
                layers.len(),
                diff_ids.len()
            )));
        }
        layers
            .iter()
            .zip(diff_ids)
            .map(|(layer, diff_id)| self.unpacked_layer(layer, diff_id))
            .collect()
    }

    fn unpacked_layer(&self, layer: &Descriptor, diff_id: &str) -> Result<PathBuf, ImageError> {
        let diff_id = parse_digest(diff_id)?;
        let hex = diff_id.digest();
        let dir = self.layers.join(hex);
        if dir.is_dir() {
            return Ok(dir);
        }
        let _lock = Lock::exclusive(&self.layers.join(".locks").join(format!("{hex}.lock")))?;
        if dir.is_dir() {
            return Ok(dir);
        }
        let tmp_root = self.layers.join(".tmp");
        // Holding the lock, any temp dir for this layer is a crashed unpacker's leftover.
        if let Ok(entries) = fs::read_dir(&tmp_root) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{hex}."))
                {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let tmp = tmp_root.join(fsutil::unique_name(hex));
        let result = (|| {
            fs::create_dir(&tmp).at("create directory", &tmp)?;
            let blob = blob_path(&self.root, layer.digest());
            let mut reader = layer::open_blob(&blob)?;
            let actual = layer::unpack(&mut reader, &tmp, layer.digest().as_ref())?;
            if actual != diff_id.as_ref() {
                return Err(ImageError::DigestMismatch {
                    what: format!("diff_id of layer {}", layer.digest()),
                    expected: diff_id.to_string(),
                    actual,
                });
            }
            syncfs(&tmp)?;
            fs::rename(&tmp, &dir).at("move unpacked layer to", &dir)
        })();
        if let Err(err) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(err);
        }
        fsutil::sync_dir(&self.layers)?;
        Ok(dir)
    }

    /// Deletes every blob that no indexed image references.
    fn collect_garbage(&self) -> Result<(), ImageError> {
        let _gc = Lock::exclusive(&self.private_dir().join("gc.lock"))?;
        let index = self.read_index()?;
        let mut keep = HashSet::new();
        for entry in index.manifests() {
            let (manifest, _) = self.load_manifest(entry.digest())?;
            keep.insert(entry.digest().digest().to_string());
            keep.insert(manifest.config().digest().digest().to_string());
            keep.extend(
                manifest
                    .layers()
                    .iter()
                    .map(|l| l.digest().digest().to_string()),
            );
        }
        let dir = self.root.join("blobs").join("sha256");
        for entry in fs::read_dir(&dir).at("list", &dir)? {
            let entry = entry.at("list", &dir)?;
            if !keep.contains(entry.file_name().to_string_lossy().as_ref()) {
                fs::remove_file(entry.path()).at("remove blob", &entry.path())?;
            }
        }
        Ok(())
    }

    fn private_dir(&self) -> PathBuf {
        self.root.join(".hush")
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.private_dir().join("tmp")
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    fn gc_shared(&self) -> Result<Lock, ImageError> {
        Lock::shared(&self.private_dir().join("gc.lock"))
    }

    fn index_lock(&self) -> Result<Lock, ImageError> {
        Lock::exclusive(&self.private_dir().join("index.lock"))
    }

    fn corrupt(&self, reason: String) -> ImageError {
        ImageError::Corrupt {
            root: self.root.clone(),
            reason,
        }
    }

    fn read_index(&self) -> Result<ImageIndex, ImageError> {
        let path = self.index_path();
        let file = File::open(&path).at("open", &path)?;
        ImageIndex::from_reader(file).map_err(|e| self.corrupt(format!("index.json: {e}")))
    }

    fn write_index(&self, index: &ImageIndex) -> Result<(), ImageError> {
        let mut bytes = index
            .to_string_pretty()
            .map_err(|e| self.corrupt(format!("cannot serialize index.json: {e}")))?
            .into_bytes();
        bytes.push(b'\n');
        fsutil::write_atomic(&self.tmp_dir(), &self.index_path(), &bytes)
    }

    fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, ImageError> {
        let path = blob_path(&self.root, digest);
        fs::read(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => self.corrupt(format!("blob {digest} is missing")),
            _ => ImageError::io(format!("cannot read blob {digest}"), e),
        })
    }

    /// Whether blob `digest` is stored with content of that digest (and `size`, if given).
    fn intact_blob(&self, digest: &Digest, size: Option<u64>) -> bool {
        let Ok(file) = File::open(blob_path(&self.root, digest)) else {
            return false;
        };
        HashingReader::new(file)
            .finish()
            .is_ok_and(|(actual, actual_size)| {
                actual == digest.as_ref() && size.is_none_or(|s| s == actual_size)
            })
    }

    fn load_manifest(&self, digest: &Digest) -> Result<(ImageManifest, u64), ImageError> {
        let bytes = self.read_blob(digest)?;
        let manifest = ImageManifest::from_reader(bytes.as_slice())
            .map_err(|e| self.corrupt(format!("manifest {digest}: {e}")))?;
        Ok((manifest, bytes.len() as u64))
    }

    fn load_config(&self, manifest: &ImageManifest) -> Result<ImageConfiguration, ImageError> {
        let digest = manifest.config().digest();
        let bytes = self.read_blob(digest)?;
        ImageConfiguration::from_reader(bytes.as_slice())
            .map_err(|e| self.corrupt(format!("config {digest}: {e}")))
    }

    fn remove_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(self.tmp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP_AGE);
            if old {
                let path = entry.path();
                let _ = fs::remove_file(&path).or_else(|_| fs::remove_dir_all(&path));
            }
        }
    }
}

/// Adds blobs and images to the store; see [`ImageStore::ingest`].
///
/// While it lives, [`ImageStore::remove`] in other threads and processes waits before
/// collecting blobs; so do not call `remove` from the thread that holds it.
///
/// A registry pull writes each blob with [`Ingest::write_blob`] (verified against the
/// registry's descriptor), then [`Ingest::put_manifest`] with the manifest's exact bytes; a
/// build writes its layer blobs, then [`Ingest::put_image`] with the new configuration.
pub struct Ingest<'a> {
    store: &'a ImageStore,
    _gc: Lock,
}

impl Ingest<'_> {
    /// Whether the store holds blob `digest` intact: its content hashes to `digest` (a
    /// damaged blob counts as missing, so writing it again replaces it).
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.store.intact_blob(digest, None)
    }

    /// Stores the bytes of `reader` as a blob. With `expected`, the content must match its
    /// digest and size (else nothing is stored and the error names the digest), and a blob
    /// already present and intact is not read again; a damaged one is replaced.
    pub fn write_blob(
        &self,
        reader: impl Read,
        expected: Option<&Descriptor>,
    ) -> Result<Blob, ImageError> {
        if let Some(expected) = expected {
            parse_digest(expected.digest().as_ref())?;
            if self
                .store
                .intact_blob(expected.digest(), Some(expected.size()))
            {
                return Ok(Blob {
                    digest: expected.digest().clone(),
                    size: expected.size(),
                });
            }
        }
        let tmp = self.store.tmp_dir().join(fsutil::unique_name("blob"));
        let result = (|| {
            let mut file = fsutil::create_private(&tmp)?;
            let mut hashing = HashingReader::new(reader);
            io::copy(&mut hashing, &mut file).at("write", &tmp)?;
            file.sync_all().at("sync", &tmp)?;
            let (digest, size) = hashing.finish().at("read blob for", &tmp)?;
            let digest = parse_digest(&digest)?;
            if let Some(expected) = expected {
                if expected.digest() != &digest {
                    return Err(ImageError::DigestMismatch {
                        what: "blob".into(),
                        expected: expected.digest().to_string(),
                        actual: digest.to_string(),
                    });
                }
                if expected.size() != size {
                    return Err(ImageError::SizeMismatch {
                        what: "blob".into(),
                        digest: digest.to_string(),
                        expected: expected.size(),
                        actual: size,
                    });
                }
            }
            let path = blob_path(&self.store.root, &digest);
            fs::rename(&tmp, &path).at("store blob", &path)?;
            Ok(Blob { digest, size })
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        let blob = result?;
        fsutil::sync_dir(&self.store.root.join("blobs").join("sha256"))?;
        Ok(blob)
    }

    /// Stores an image manifest given as its exact bytes (so a pulled image keeps its
    /// registry digest) and tags it. Its config and layers must already be stored.
    pub fn put_manifest(&self, bytes: &[u8], tag: Option<&str>) -> Result<ImageRef, ImageError> {
        let tag = tag.map(parse_tag).transpose()?;
        let digest = parse_digest(&fsutil::sha256_digest(bytes))?;
        let label = PathBuf::from(format!("manifest {digest}"));
        let manifest = ImageManifest::from_reader(bytes)
            .map_err(|e| ImageError::invalid(&label, e.to_string()))?;
        validate_manifest(&manifest, &label)?;
        self.check_present(
            std::iter::once(manifest.config()).chain(manifest.layers()),
            &label,
        )?;
        let config = self.store.load_config(&manifest)?;
        if config.rootfs().diff_ids().len() != manifest.layers().len() {
            return Err(ImageError::invalid(
                &label,
                format!(
                    "{} layers but the config lists {} diff_ids",
                    manifest.layers().len(),
                    config.rootfs().diff_ids().len()
                ),
            ));
        }
        let manifest_descriptor =
            Descriptor::new(MediaType::ImageManifest, bytes.len() as u64, digest.clone());
        self.write_blob(bytes, Some(&manifest_descriptor))?;

        let media_type = manifest
            .media_type()
            .clone()
            .unwrap_or(MediaType::ImageManifest);
        let platform = PlatformBuilder::default()
            .architecture(config.architecture().clone())
            .os(config.os().clone())
            .build()
            .map_err(|e| ImageError::invalid(&label, e.to_string()))?;
        let mut entry = DescriptorBuilder::default()
            .media_type(media_type)
            .digest(digest.clone())
            .size(bytes.len() as u64)
            .platform(platform);
        if let Some(tag) = &tag {
            entry = entry.annotations([(ANNOTATION_REF_NAME.to_string(), tag.clone())]);
        }
        let entry = entry
            .build()
            .map_err(|e| ImageError::invalid(&label, e.to_string()))?;

        let _lock = self.store.index_lock()?;
        let mut index = self.store.read_index()?;
        let mut manifests = index.manifests().clone();
        if let Some(tag) = &tag {
            // The tag moves here; an image left without any entry stays, untagged.
            if let Some(pos) = manifests
                .iter()
                .position(|e| ref_name(e) == Some(tag.as_str()))
            {
                let old = manifests.remove(pos);
                if old.digest() != &digest && !manifests.iter().any(|e| e.digest() == old.digest())
                {
                    let mut untagged = old;
                    untagged.set_annotations(None);
                    manifests.push(untagged);
                }
            }
            manifests.retain(|e| !(e.digest() == &digest && ref_name(e).is_none()));
            manifests.push(entry);
        } else if !manifests.iter().any(|e| e.digest() == &digest) {
            manifests.push(entry);
        }
        index.set_manifests(manifests);
        self.store.write_index(&index)?;
        Ok(ImageRef { digest, name: tag })
    }

    /// Fails unless every blob is stored with the size its descriptor gives.
    fn check_present<'d>(
        &self,
        blobs: impl IntoIterator<Item = &'d Descriptor>,
        label: &Path,
    ) -> Result<(), ImageError> {
        for blob in blobs {
            let path = blob_path(&self.store.root, blob.digest());
            match fs::metadata(&path) {
                Ok(meta) if meta.len() == blob.size() => {}
                Ok(meta) => {
                    return Err(ImageError::SizeMismatch {
                        what: format!("blob of {}", label.display()),
                        digest: blob.digest().to_string(),
                        expected: blob.size(),
                        actual: meta.len(),
                    })
                }
                Err(_) => {
                    return Err(ImageError::invalid(
                        label,
                        format!("blob {} is not in the store", blob.digest()),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Stores a new image from its configuration and already-written layer blobs (lowest
    /// first): writes the config and manifest blobs, then tags it.
    pub fn put_image(
        &self,
        config: &ImageConfiguration,
        layers: &[Descriptor],
        tag: Option<&str>,
    ) -> Result<ImageRef, ImageError> {
        let label = Path::new("image config");
        self.check_present(layers, label)?;
        if config.rootfs().diff_ids().len() != layers.len() {
            return Err(ImageError::invalid(
                label,
                format!(
                    "{} layers but the config lists {} diff_ids",
                    layers.len(),
                    config.rootfs().diff_ids().len()
                ),
            ));
        }
        let config_bytes = config
            .to_string()
            .map_err(|e| ImageError::invalid(label, e.to_string()))?;
        let config_blob = self.write_blob(config_bytes.as_bytes(), None)?;
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(Descriptor::new(
                MediaType::ImageConfig,
                config_blob.size,
                config_blob.digest,
            ))
            .layers(layers.to_vec())
            .build()
            .map_err(|e| ImageError::invalid(label, e.to_string()))?;
        let mut bytes = Vec::new();
        manifest
            .to_writer(&mut bytes)
            .map_err(|e| ImageError::invalid(label, e.to_string()))?;
        self.put_manifest(&bytes, tag)
    }
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::new())
        .build()
        .expect("an empty index has every required field")
}

/// Whether a descriptor is a (Docker or OCI) image index rather than a manifest.
pub(crate) fn is_index(descriptor: &Descriptor) -> bool {
    descriptor.media_type() == &MediaType::ImageIndex
        || descriptor.media_type().to_string() == DOCKER_MANIFEST_LIST
}

/// Whether a descriptor is a (Docker or OCI) image manifest.
pub(crate) fn is_manifest(descriptor: &Descriptor) -> bool {
    descriptor.media_type() == &MediaType::ImageManifest
        || descriptor.media_type().to_string() == DOCKER_MANIFEST
}

/// Refuses manifests of things other than container images (artifacts, signatures).
pub(crate) fn validate_manifest(manifest: &ImageManifest, label: &Path) -> Result<(), ImageError> {
    let media = manifest.config().media_type();
    if media == &MediaType::ImageConfig || media.to_string() == DOCKER_CONFIG {
        Ok(())
    } else {
        Err(ImageError::invalid(
            label,
            format!("config media type {media} is not a container image config"),
        ))
    }
}

/// The `org.opencontainers.image.ref.name` annotation of an index entry.
pub(crate) fn ref_name(descriptor: &Descriptor) -> Option<&str> {
    descriptor
        .annotations()
        .as_ref()?
        .get(ANNOTATION_REF_NAME)
        .map(String::as_str)
}

/// Parses a tag for storing: a reference with a tag (defaulting to `latest`), no digest.
pub(crate) fn parse_tag(tag: &str) -> Result<String, ImageError> {
    let reference = Reference::parse(tag)?;
    match (reference.digest(), reference.tagged_name()) {
        (None, Some(_)) if tag == SCRATCH || tag.starts_with("scratch:") => {
            Err(ImageError::InvalidReference {
                reference: tag.to_string(),
                reason: "'scratch' is a reserved name".into(),
            })
        }
        (None, Some(name)) => Ok(name),
        _ => Err(ImageError::InvalidReference {
            reference: tag.to_string(),
            reason: "an image is tagged with name[:tag], not with a digest".into(),
        }),
    }
}

/// The index entry `name` designates: a tag, a full digest, `name@digest`, or a unique digest
/// prefix of at least six hex digits (with or without `sha256:`).
fn find(index: &ImageIndex, name: &str) -> Result<Option<Descriptor>, ImageError> {
    let entries = index.manifests();
    let by_digest = |digest: &Digest| entries.iter().find(|e| e.digest() == digest).cloned();
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    let is_hex = hex.len() >= MIN_SHORT_DIGEST
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if name.starts_with("sha256:") {
        if hex.len() == 64 {
            return Ok(by_digest(&parse_digest(name)?));
        }
        if !is_hex {
            return Err(ImageError::InvalidReference {
                reference: name.to_string(),
                reason: "a digest is sha256: followed by hex digits".into(),
            });
        }
    } else {
        let reference = match Reference::parse(name) {
            Ok(reference) => reference,
            Err(_) if is_hex => return by_prefix(entries, name, hex),
            Err(err) => return Err(err),
        };
        if let Some(digest) = reference.digest() {
            return Ok(by_digest(digest));
        }
        let tagged = reference.tagged_name();
        if let Some(found) = entries.iter().find(|e| ref_name(e) == tagged.as_deref()) {
            return Ok(Some(found.clone()));
        }
        if !is_hex {
            return Ok(None);
        }
    }
    by_prefix(entries, name, hex)
}

fn by_prefix(
    entries: &[Descriptor],
    name: &str,
    hex: &str,
) -> Result<Option<Descriptor>, ImageError> {
    let mut found: Vec<&Descriptor> = entries
        .iter()
        .filter(|e| e.digest().digest().starts_with(hex))
        .collect();
    found.dedup_by(|a, b| a.digest() == b.digest());
    let distinct: HashSet<_> = found.iter().map(|e| e.digest()).collect();
    match distinct.len() {
        0 => Ok(None),
        1 => Ok(found.first().map(|e| (*e).clone())),
        count => Err(ImageError::Ambiguous {
            name: name.to_string(),
            count,
        }),
    }
}

/// Flushes the file system holding `dir`, so a renamed layer is complete after a crash.
fn syncfs(dir: &Path) -> Result<(), ImageError> {
    use std::os::fd::AsRawFd;
    let handle = File::open(dir).at("open", dir)?;
    // SAFETY: syncfs on a descriptor we own.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error()).at("sync file system of", dir);
    }
    Ok(())
}
