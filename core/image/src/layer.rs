//! Layer tarballs: decompression, validation, and safe unpacking into a directory fit to be an
//! overlayfs lower layer (OCI whiteouts become overlayfs whiteouts).

use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use filetime::FileTime;
use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::error::IoContext;
use crate::fsutil::HashingReader;
use crate::ImageError;

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The xattr that makes an overlayfs upper or lower directory hide what lies below it.
pub(crate) const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// A tar stream read from a blob that may be gzip-compressed (sniffed from its first bytes).
pub(crate) enum Decoded<R: Read> {
    /// An uncompressed tar.
    Plain(BufReader<R>),
    /// A gzip-compressed tar.
    Gzip(MultiGzDecoder<BufReader<R>>),
}

impl<R: Read> Decoded<R> {
    /// Sniffs the compression; zstd and other formats are refused.
    pub(crate) fn new(reader: R, name: &Path) -> Result<Self, ImageError> {
        let mut reader = BufReader::new(reader);
        let head = reader.fill_buf().at("read", name)?;
        if head.starts_with(&[0x1f, 0x8b]) {
            Ok(Self::Gzip(MultiGzDecoder::new(reader)))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Err(ImageError::Unsupported {
                what: "layer compression",
                value: format!("zstd ({})", name.display()),
            })
        } else {
            Ok(Self::Plain(reader))
        }
    }

    /// Whether the stream is gzip-compressed.
    pub(crate) fn is_gzip(&self) -> bool {
        matches!(self, Self::Gzip(_))
    }

    /// The raw reader, once the tar stream has been read to its end.
    pub(crate) fn into_inner(self) -> R {
        match self {
            Self::Plain(reader) => reader.into_inner(),
            Self::Gzip(decoder) => decoder.into_inner().into_inner(),
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Plain(reader) => reader.read(buf),
            Self::Gzip(decoder) => decoder.read(buf),
        }
    }
}

/// What one tar entry asks for, with its path made relative to the layer root.
enum Action {
    /// `.wh.NAME`: NAME is deleted from the layers below.
    Whiteout,
    /// `.wh..wh..opq`: the directory hides the contents of the layers below.
    Opaque,
    Dir,
    File,
    Symlink(PathBuf),
    HardLink(PathBuf),
    Device(libc::mode_t, u32, u32),
    Fifo,
    /// Entry types that carry nothing for a root filesystem (aufs metadata, tar bookkeeping).
    Skip,
}

/// Summary of a layer tarball read to its end.
pub(crate) struct LayerCheck {
    /// `sha256:<hex>` of the uncompressed tar.
    pub(crate) diff_id: String,
    /// How many entries the tar holds.
    pub(crate) entries: usize,
    /// Whether the tar holds `oci-layout` and `index.json` at its top: an OCI archive.
    pub(crate) is_oci_archive: bool,
}

/// Reads a whole (uncompressed) tar stream, refusing every entry that [`unpack`] would refuse,
/// and returns its diff_id; nothing is written.
pub(crate) fn check(reader: impl Read, layer: &str) -> Result<LayerCheck, ImageError> {
    let mut hashing = HashingReader::new(reader);
    let mut shadow = Shadow::default();
    let mut count = 0;
    {
        let mut archive = tar::Archive::new(&mut hashing);
        for entry in archive.entries().map_err(|e| tar_error(layer, e))? {
            let entry = entry.map_err(|e| tar_error(layer, e))?;
            let (path, action) = classify(&entry, layer)?;
            shadow.apply(&path, &action, layer)?;
            count += 1;
        }
    }
    let (diff_id, _) = hashing.finish().map_err(|e| tar_error(layer, e))?;
    let is_file = |name: &str| shadow.0.get(Path::new(name)) == Some(&Kind::File);
    Ok(LayerCheck {
        diff_id,
        entries: count,
        is_oci_archive: is_file("oci-layout") && is_file("index.json"),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    Symlink,
    File,
    Other,
}

/// The layer tree as [`Unpacker`] would build it, by kind only, so that [`check`] refuses
/// the same entries without writing anything.
#[derive(Default)]
struct Shadow(BTreeMap<PathBuf, Kind>);

impl Shadow {
    fn apply(&mut self, path: &Path, action: &Action, layer: &str) -> Result<(), ImageError> {
        if matches!(action, Action::Skip) {
            return Ok(());
        }
        let mut ancestors: Vec<&Path> = path
            .ancestors()
            .skip(1)
            .filter(|a| !a.as_os_str().is_empty())
            .collect();
        ancestors.reverse();
        for ancestor in ancestors {
            match self.0.get(ancestor) {
                Some(Kind::Symlink) => {
                    return Err(unsafe_path(
                        layer,
                        ancestor,
                        "a directory in its path is a symlink",
                    ))
                }
                Some(Kind::File | Kind::Other) => {
                    return Err(unsafe_path(
                        layer,
                        ancestor,
                        "a directory in its path is not a directory",
                    ))
                }
                Some(Kind::Dir) => {}
                None => {
                    self.0.insert(ancestor.to_path_buf(), Kind::Dir);
                }
            }
        }
        let existing = self.0.get(path).copied();
        let kind = match action {
            Action::Opaque => match existing {
                None | Some(Kind::Dir) => Kind::Dir,
                Some(Kind::Symlink) => {
                    return Err(unsafe_path(
                        layer,
                        path,
                        "a directory in its path is a symlink",
                    ))
                }
                Some(_) => {
                    return Err(unsafe_path(
                        layer,
                        path,
                        "a directory in its path is not a directory",
                    ))
                }
            },
            Action::Dir => Kind::Dir,
            Action::File => Kind::File,
            Action::Symlink(_) => Kind::Symlink,
            Action::HardLink(source) => {
                match self.0.get(source.as_path()) {
                    Some(Kind::File | Kind::Symlink | Kind::Other) => {}
                    Some(Kind::Dir) => {
                        return Err(unsafe_path(layer, path, "hard link to a directory"))
                    }
                    None => {
                        return Err(unsafe_path(
                            layer,
                            path,
                            "hard link target is not in this layer",
                        ))
                    }
                }
                Kind::File
            }
            Action::Whiteout | Action::Device(..) | Action::Fifo => Kind::Other,
            Action::Skip => return Ok(()),
        };
        if existing.is_some() && !(existing == Some(Kind::Dir) && kind == Kind::Dir) {
            let gone: Vec<PathBuf> = self
                .0
                .range(path.to_path_buf()..)
                .map(|(p, _)| p)
                .take_while(|p| p.starts_with(path))
                .cloned()
                .collect();
            for p in gone {
                self.0.remove(&p);
            }
        }
        if !path.as_os_str().is_empty() {
            self.0.insert(path.to_path_buf(), kind);
        }
        Ok(())
    }
}

/// Unpacks an (uncompressed) tar stream into the empty directory `dest`, converting OCI
/// whiteouts to overlayfs ones, and returns the stream's diff_id.
pub(crate) fn unpack(reader: impl Read, dest: &Path, layer: &str) -> Result<String, ImageError> {
    let mut hashing = HashingReader::new(reader);
    {
        let mut archive = tar::Archive::new(&mut hashing);
        let mut unpacker = Unpacker {
            root: dest,
            layer,
            privileged: is_root(),
            dirs: HashMap::new(),
        };
        for entry in archive.entries().map_err(|e| tar_error(layer, e))? {
            let entry = entry.map_err(|e| tar_error(layer, e))?;
            unpacker.entry(entry)?;
        }
        unpacker.finish_dirs()?;
    }
    let (diff_id, _) = hashing.finish().map_err(|e| tar_error(layer, e))?;
    Ok(diff_id)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn tar_error(layer: &str, err: io::Error) -> ImageError {
    ImageError::io(format!("cannot read layer {layer} as a tar archive"), err)
}

fn unsafe_path(layer: &str, entry: &Path, reason: &str) -> ImageError {
    ImageError::UnsafePath {
        layer: layer.to_string(),
        entry: entry.display().to_string(),
        reason: reason.to_string(),
    }
}

/// Makes an entry path relative to the layer root; `..` and absolute paths are refused.
fn normalize(path: &Path, layer: &str) -> Result<PathBuf, ImageError> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err(unsafe_path(layer, path, "it contains '..'"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(unsafe_path(layer, path, "it is an absolute path"));
            }
        }
    }
    Ok(out)
}

fn classify<R: Read>(
    entry: &tar::Entry<'_, R>,
    layer: &str,
) -> Result<(PathBuf, Action), ImageError> {
    let raw = entry.path().map_err(|e| tar_error(layer, e))?;
    let path = normalize(&raw, layer)?;
    let header = entry.header();
    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
        if name == OPAQUE_MARKER {
            return Ok((
                path.parent().unwrap_or(Path::new("")).to_path_buf(),
                Action::Opaque,
            ));
        }
        if name.starts_with(".wh..wh.") {
            return Ok((path, Action::Skip));
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            if hidden.is_empty() || hidden == "." || hidden == ".." {
                return Err(unsafe_path(layer, &raw, "whiteout of an invalid name"));
            }
            return Ok((path.with_file_name(hidden), Action::Whiteout));
        }
    }
    let device = || -> Result<(u32, u32), ImageError> {
        let major = header.device_major().map_err(|e| tar_error(layer, e))?;
        let minor = header.device_minor().map_err(|e| tar_error(layer, e))?;
        Ok((major.unwrap_or(0), minor.unwrap_or(0)))
    };
    let action = match header.entry_type() {
        EntryType::Regular | EntryType::Continuous => Action::File,
        EntryType::Directory => Action::Dir,
        EntryType::Symlink => {
            let target = entry
                .link_name()
                .map_err(|e| tar_error(layer, e))?
                .filter(|t| !t.as_os_str().is_empty())
                .ok_or_else(|| unsafe_path(layer, &raw, "symlink without a target"))?;
            Action::Symlink(target.into_owned())
        }
        EntryType::Link => {
            let target = entry
                .link_name()
                .map_err(|e| tar_error(layer, e))?
                .ok_or_else(|| unsafe_path(layer, &raw, "hard link without a target"))?;
            let target = normalize(&target, layer)?;
            if target.as_os_str().is_empty() {
                return Err(unsafe_path(layer, &raw, "hard link to the layer root"));
            }
            Action::HardLink(target)
        }
        EntryType::Char => {
            let (major, minor) = device()?;
            Action::Device(libc::S_IFCHR, major, minor)
        }
        EntryType::Block => {
            let (major, minor) = device()?;
            Action::Device(libc::S_IFBLK, major, minor)
        }
        EntryType::Fifo => Action::Fifo,
        _ => Action::Skip,
    };
    if path.as_os_str().is_empty() && !matches!(action, Action::Dir | Action::Skip) {
        return Err(unsafe_path(layer, &raw, "it would replace the layer root"));
    }
    Ok((path, action))
}

/// Mode and mtime of a directory, applied once all its children are written.
struct DirMeta {
    mode: u32,
    mtime: u64,
}

struct Unpacker<'a> {
    root: &'a Path,
    layer: &'a str,
    privileged: bool,
    dirs: HashMap<PathBuf, DirMeta>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), ImageError> {
        let (rel, action) = classify(&entry, self.layer)?;
        if matches!(action, Action::Skip) {
            return Ok(());
        }
        let target = self.prepare_parents(&rel)?;
        let header = entry.header().clone();
        let number = |v: io::Result<u64>| v.map_err(|e| tar_error(self.layer, e));
        let mode = number(header.mode().map(u64::from))? as u32 & 0o7777;
        let mtime = number(header.mtime())?;
        let owner = (number(header.uid())?, number(header.gid())?);
        let xattrs = pax_xattrs(&mut entry).map_err(|e| tar_error(self.layer, e))?;
        match action {
            Action::Skip => return Ok(()),
            Action::Opaque => {
                if !self.exists_as_dir(&target)? {
                    self.create_dir(&target)?;
                }
                return xattr::set(&target, OVERLAY_OPAQUE_XATTR, b"y").at(
                    "mark as opaque (overlayfs needs root for trusted xattrs)",
                    &target,
                );
            }
            Action::Whiteout => {
                self.clear(&target)?;
                return mknod(&target, libc::S_IFCHR, 0, 0).at(
                    "create whiteout (overlayfs needs root for device 0/0)",
                    &target,
                );
            }
            Action::Dir => {
                if !fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
                    self.clear(&target)?;
                    self.create_dir(&target)?;
                }
                self.dirs.insert(rel, DirMeta { mode, mtime });
                self.set_owner(&target, owner)?;
                return self.set_xattrs(&target, &xattrs);
            }
            Action::File => {
                self.clear(&target)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&target)
                    .at("create", &target)?;
                io::copy(&mut entry, &mut file).at("write", &target)?;
                drop(file);
            }
            Action::Symlink(link) => {
                self.clear(&target)?;
                std::os::unix::fs::symlink(&link, &target).at("create symlink", &target)?;
            }
            Action::HardLink(source) => {
                let source_path = self.existing(&source, &rel)?;
                self.clear(&target)?;
                return fs::hard_link(&source_path, &target).at("create hard link", &target);
            }
            Action::Device(kind, major, minor) => {
                if !self.privileged {
                    return Ok(());
                }
                self.clear(&target)?;
                mknod(&target, kind, major, minor).at("create device node", &target)?;
            }
            Action::Fifo => {
                self.clear(&target)?;
                mknod(&target, libc::S_IFIFO, 0, 0).at("create fifo", &target)?;
            }
        }
        let is_link = matches!(fs::symlink_metadata(&target), Ok(m) if m.file_type().is_symlink());
        self.set_owner(&target, owner)?;
        if !is_link {
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))
                .at("set mode of", &target)?;
        }
        self.set_xattrs(&target, &xattrs)?;
        let time = FileTime::from_unix_time(mtime as i64, 0);
        filetime::set_symlink_file_times(&target, time, time).at("set times of", &target)
    }

    /// Ensures every parent of `rel` is a real directory inside the layer (creating missing ones)
    /// and returns the absolute path of `rel`.
    fn prepare_parents(&self, rel: &Path) -> Result<PathBuf, ImageError> {
        let mut current = self.root.to_path_buf();
        if let Some(parent) = rel.parent() {
            for part in parent.components() {
                current.push(part);
                if !self.exists_as_dir(&current)? {
                    self.create_dir(&current)?;
                }
            }
        }
        Ok(self.root.join(rel))
    }

    /// Whether `path` is a directory; a symlink or other file where a directory is needed is
    /// refused only by callers that descend into it.
    fn exists_as_dir(&self, path: &Path) -> Result<bool, ImageError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(true),
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(self.unsafe_here(path, "a directory in its path is a symlink"))
            }
            Ok(_) => Err(self.unsafe_here(path, "a directory in its path is not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e).at("inspect", path),
        }
    }

    fn unsafe_here(&self, path: &Path, reason: &str) -> ImageError {
        unsafe_path(
            self.layer,
            path.strip_prefix(self.root).unwrap_or(path),
            reason,
        )
    }

    fn create_dir(&self, path: &Path) -> Result<(), ImageError> {
        fs::DirBuilder::new()
            .mode(0o755)
            .create(path)
            .at("create directory", path)
    }

    /// The absolute path of an earlier entry that a hard link points to: it must exist in
    /// this layer, not be a directory, and be reached through real directories only.
    fn existing(&self, source: &Path, link: &Path) -> Result<PathBuf, ImageError> {
        let mut current = self.root.to_path_buf();
        let parts: Vec<_> = source.components().collect();
        for (i, part) in parts.iter().enumerate() {
            current.push(part);
            let meta = fs::symlink_metadata(&current).map_err(|_| {
                unsafe_path(self.layer, link, "hard link target is not in this layer")
            })?;
            let last = i + 1 == parts.len();
            if !last && !meta.is_dir() {
                return Err(unsafe_path(
                    self.layer,
                    link,
                    "hard link target goes through a non-directory",
                ));
            }
            if last && meta.is_dir() {
                return Err(unsafe_path(self.layer, link, "hard link to a directory"));
            }
        }
        Ok(current)
    }

    /// Removes whatever is at `path` so an entry can take its place.
    fn clear(&self, path: &Path) -> Result<(), ImageError> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(path).at("replace directory", path),
            Ok(_) => fs::remove_file(path).at("replace", path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).at("inspect", path),
        }
    }

    fn set_owner(&self, path: &Path, (uid, gid): (u64, u64)) -> Result<(), ImageError> {
        if !self.privileged {
            return Ok(());
        }
        let id = |v: u64| u32::try_from(v).ok();
        std::os::unix::fs::lchown(path, id(uid), id(gid)).at("set owner of", path)
    }

    fn set_xattrs(&self, path: &Path, xattrs: &[(String, Vec<u8>)]) -> Result<(), ImageError> {
        for (name, value) in xattrs {
            if let Err(err) = xattr::set(path, name, value) {
                let unsupported = err.raw_os_error() == Some(libc::EOPNOTSUPP);
                let forbidden = err.kind() == io::ErrorKind::PermissionDenied && !self.privileged;
                if !(unsupported || forbidden) {
                    return Err(err).at(&format!("set xattr {name} on"), path);
                }
            }
        }
        Ok(())
    }

    /// Applies directory modes and mtimes, deepest first, once nothing more is written in them.
    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        let mut dirs: Vec<_> = self.dirs.drain().collect();
        dirs.sort_by_key(|(rel, _)| std::cmp::Reverse(rel.components().count()));
        for (rel, meta) in dirs {
            let path = self.root.join(&rel);
            if !matches!(fs::symlink_metadata(&path), Ok(m) if m.is_dir()) {
                continue;
            }
            fs::set_permissions(&path, fs::Permissions::from_mode(meta.mode))
                .at("set mode of", &path)?;
            let time = FileTime::from_unix_time(meta.mtime as i64, 0);
            filetime::set_symlink_file_times(&path, time, time).at("set times of", &path)?;
        }
        Ok(())
    }
}

/// The entry's extended attributes from PAX `SCHILY.xattr.*` records, minus overlayfs' own
/// (`trusted.overlay.*`, `user.overlay.*`), which a layer must not be able to forge.
fn pax_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(extensions) = entry.pax_extensions()? {
        for extension in extensions {
            let extension = extension?;
            let Ok(key) = extension.key() else { continue };
            if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                if !name.starts_with("trusted.overlay.") && !name.starts_with("user.overlay.") {
                    out.push((name.to_string(), extension.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

fn mknod(path: &Path, kind: libc::mode_t, major: u32, minor: u32) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: a valid NUL-terminated path; mknod does not retain it.
    let rc = unsafe { libc::mknod(c_path.as_ptr(), kind | 0o600, libc::makedev(major, minor)) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens a layer blob for reading its tar stream.
pub(crate) fn open_blob(path: &Path) -> Result<Decoded<File>, ImageError> {
    let file = File::open(path).at("open layer blob", path)?;
    Decoded::new(file, path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    use std::process::Command;

    use super::*;

    use crate::test_fixtures::{self as common, tar_of, Entry};

    fn unpack_into(dir: &Path, tar: &[u8]) -> Result<String, ImageError> {
        fs::create_dir_all(dir).unwrap();
        unpack(tar, dir, "test-layer")
    }

    fn is_whiteout(path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0)
    }

    fn whiteout_layers(tmp: &Path) -> (PathBuf, PathBuf) {
        let lower = tmp.join("lower");
        let upper = tmp.join("upper");
        let base = tar_of(&[
            Entry::Dir("etc", 0o755),
            Entry::File("etc/keep", b"keep", 0o644),
            Entry::File("etc/gone", b"gone", 0o644),
            Entry::Dir("cache", 0o755),
            Entry::File("cache/old", b"old", 0o644),
            Entry::Dir("cache/sub", 0o755),
        ]);
        let top = tar_of(&[
            Entry::File("etc/.wh.gone", b"", 0o644),
            Entry::File("cache/.wh..wh..opq", b"", 0o644),
            Entry::File("cache/new", b"new", 0o644),
            Entry::File(".wh..wh.plnk", b"", 0o644),
        ]);
        unpack_into(&lower, &base).unwrap();
        unpack_into(&upper, &top).unwrap();
        (lower, upper)
    }

    #[test]
    fn whiteouts_become_overlayfs_whiteouts() {
        let tmp = tempfile::tempdir().unwrap();
        let (_, upper) = whiteout_layers(tmp.path());
        assert!(is_whiteout(&upper.join("etc/gone")));
        assert!(!upper.join("etc/.wh.gone").exists());
        assert_eq!(
            xattr::get(upper.join("cache"), OVERLAY_OPAQUE_XATTR)
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
        assert!(!upper.join("cache/.wh..wh..opq").exists());
        assert_eq!(fs::read(upper.join("cache/new")).unwrap(), b"new");
        assert!(
            !upper.join(".wh..wh.plnk").exists(),
            "aufs metadata is dropped"
        );
    }

    /// Stacks the two layers with a real read-only overlayfs mount (in a private mount
    /// namespace) and lists what a container would see.
    #[test]
    fn whiteouts_hide_lower_files_when_stacked_with_overlayfs() {
        let tmp = tempfile::tempdir().unwrap();
        let (lower, upper) = whiteout_layers(tmp.path());
        let merged = tmp.path().join("merged");
        fs::create_dir(&merged).unwrap();
        let script = format!(
            "mount -t overlay overlay -o lowerdir={}:{} {} && cd {} && find . | sort",
            upper.display(),
            lower.display(),
            merged.display(),
            merged.display()
        );
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "overlay mount failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen = String::from_utf8(out.stdout).unwrap();
        assert_eq!(seen, ".\n./cache\n./cache/new\n./etc\n./etc/keep\n");
    }

    #[test]
    fn escaping_paths_are_refused() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("dotdot", tar_of(&[Entry::File("../evil", b"x", 0o644)])),
            (
                "nested dotdot",
                tar_of(&[Entry::File("a/../../evil", b"x", 0o644)]),
            ),
            ("absolute", tar_of(&[Entry::File("/etc/evil", b"x", 0o644)])),
            (
                "hard link out",
                tar_of(&[Entry::HardLink("pw", "../../etc/passwd")]),
            ),
            (
                "hard link absolute",
                tar_of(&[Entry::HardLink("pw", "/etc/passwd")]),
            ),
            (
                "through symlink",
                tar_of(&[
                    Entry::Symlink("esc", "/tmp"),
                    Entry::File("esc/evil", b"x", 0o644),
                ]),
            ),
            (
                "through relative symlink",
                tar_of(&[
                    Entry::Dir("d", 0o755),
                    Entry::Symlink("d/up", "../.."),
                    Entry::File("d/up/evil", b"x", 0o644),
                ]),
            ),
            (
                "hard link through symlink",
                tar_of(&[
                    Entry::Symlink("etc", "/etc"),
                    Entry::HardLink("pw", "etc/passwd"),
                ]),
            ),
            (
                "whiteout of dotdot",
                tar_of(&[Entry::File("a/.wh...", b"", 0o644)]),
            ),
        ];
        for (what, tar) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let dest = tmp.path().join("layer");
            let err = unpack_into(&dest, &tar).expect_err(what);
            assert!(
                matches!(err, ImageError::UnsafePath { .. }),
                "{what}: {err}"
            );
            assert!(err.to_string().contains("test-layer"), "{what}: {err}");
            assert!(
                check(tar.as_slice(), "test-layer").is_err(),
                "{what}: check agrees"
            );
            assert!(
                !tmp.path().join("evil").exists() && !Path::new("/tmp/evil").exists(),
                "{what}"
            );
        }
    }

    #[test]
    fn metadata_links_and_special_files_are_preserved() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("layer");
        let tar = tar_of(&[
            Entry::Dir("./", 0o755),
            Entry::Dir("ro", 0o555),
            Entry::File("ro/file", b"data", 0o640),
            Entry::HardLink("ro/link", "ro/file"),
            Entry::Symlink("abs", "/ro/file"),
            Entry::Fifo("pipe"),
            Entry::FileWithXattrs(
                "capped",
                b"c",
                &[("user.note", b"v"), ("trusted.overlay.opaque", b"y")],
            ),
            Entry::Owned("owned", b"o", 0o4750, 1234, 5678),
        ]);
        let digest = unpack_into(&dest, &tar).unwrap();
        assert_eq!(digest, common::digest(&tar));

        let meta = |p: &str| fs::symlink_metadata(dest.join(p)).unwrap();
        assert_eq!(meta("ro").mode() & 0o7777, 0o555);
        assert_eq!(meta("ro").mtime(), 1_600_000_000);
        assert_eq!(meta("ro/file").mode() & 0o7777, 0o640);
        assert_eq!(meta("ro/file").mtime(), 1_600_000_000);
        assert_eq!(meta("ro/file").ino(), meta("ro/link").ino());
        assert_eq!(
            fs::read_link(dest.join("abs")).unwrap(),
            Path::new("/ro/file")
        );
        assert!(meta("pipe").file_type().is_fifo());
        assert_eq!(
            xattr::get(dest.join("capped"), "user.note")
                .unwrap()
                .as_deref(),
            Some(&b"v"[..])
        );
        assert_eq!(
            xattr::get(dest.join("capped"), OVERLAY_OPAQUE_XATTR).unwrap(),
            None,
            "overlay xattrs are not forged"
        );
        if is_root() {
            assert_eq!((meta("owned").uid(), meta("owned").gid()), (1234, 5678));
            assert_eq!(
                meta("owned").mode() & 0o7777,
                0o4750,
                "setuid survives the chown"
            );
        }
    }

    #[test]
    fn later_entries_replace_earlier_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("layer");
        let tar = tar_of(&[
            Entry::Dir("x", 0o755),
            Entry::File("x/inner", b"1", 0o644),
            Entry::File("x", b"now a file", 0o644),
            Entry::Symlink("y", "x"),
            Entry::File("y", b"now a file too", 0o644),
        ]);
        unpack_into(&dest, &tar).unwrap();
        assert_eq!(fs::read(dest.join("x")).unwrap(), b"now a file");
        assert_eq!(fs::read(dest.join("y")).unwrap(), b"now a file too");
    }

    #[test]
    fn zstd_layers_are_refused_by_name() {
        let err = Decoded::new(&[0x28, 0xb5, 0x2f, 0xfd, 0][..], Path::new("blob-x"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("zstd (blob-x)"), "{err}");
    }
}
