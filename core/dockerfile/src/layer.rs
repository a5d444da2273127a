//! Writing an overlayfs-form layer directory as an uncompressed OCI layer tar: a whiteout
//! (0/0 character device) becomes `.wh.NAME`, an opaque directory gets `.wh..wh..opq`.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

fn is_opaque(p: &Path) -> bool {
    matches!(xattr::get(p, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

/// One tar entry of a layer.
enum Entry {
    /// A file, directory or link, archived from `full` as `rel`.
    Path { full: PathBuf, rel: PathBuf },
    /// An empty marker file (`.wh.NAME` or `.wh..wh..opq`).
    Marker(PathBuf),
}

/// Writes the tar of the layer directory `dir` to `out`, given the layers below it
/// (topmost first). Directories that only exist in `dir` because overlayfs copied them up
/// (same type, mode and owner below, nothing changed inside, not opaque) are left out.
/// Returns the number of entries written (0: the layer changes nothing).
pub fn write_layer_tar(dir: &Path, lowers: &[PathBuf], out: impl Write) -> std::io::Result<usize> {
    let entries = walk(dir, lowers, Path::new(""))?;
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    for entry in &entries {
        match entry {
            Entry::Path { full, rel } => tar.append_path_with_name(full, rel)?,
            Entry::Marker(rel) => tar.append(&empty_file(rel), std::io::empty())?,
        }
    }
    tar.into_inner()?.flush()?;
    Ok(entries.len())
}

fn empty_file(name: &Path) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_path(name).ok();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    h
}

/// Whether the topmost lower entry at `rel` is a directory with `meta`'s mode and owner.
fn same_dir_below(lowers: &[PathBuf], rel: &Path, meta: &fs::Metadata) -> bool {
    for lower in lowers {
        if let Ok(m) = fs::symlink_metadata(lower.join(rel)) {
            return m.is_dir()
                && m.mode() == meta.mode()
                && m.uid() == meta.uid()
                && m.gid() == meta.gid();
        }
    }
    false
}

fn walk(root: &Path, lowers: &[PathBuf], rel: &Path) -> std::io::Result<Vec<Entry>> {
    let mut names: Vec<_> = fs::read_dir(root.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let rel_path = rel.join(&name);
        let full = root.join(&rel_path);
        let meta = fs::symlink_metadata(&full)?;
        if meta.file_type().is_char_device() && meta.rdev() == 0 {
            let mut wh = OsString::from(".wh.");
            wh.push(&name);
            out.push(Entry::Marker(rel.join(wh)));
        } else if meta.is_dir() {
            let opaque = is_opaque(&full);
            let inside = walk(root, lowers, &rel_path)?;
            if inside.is_empty() && !opaque && same_dir_below(lowers, &rel_path, &meta) {
                continue;
            }
            out.push(Entry::Path {
                full,
                rel: rel_path.clone(),
            });
            if opaque {
                out.push(Entry::Marker(rel_path.join(".wh..wh..opq")));
            }
            out.extend(inside);
        } else {
            out.push(Entry::Path {
                full,
                rel: rel_path,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn whiteouts_become_oci_markers() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        fs::create_dir_all(d.join("etc/sub")).unwrap();
        fs::write(d.join("etc/file"), b"hello").unwrap();
        std::os::unix::fs::symlink("file", d.join("etc/link")).unwrap();
        let c = CString::new(d.join("etc/gone").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid C string; makes a 0/0 character device (a whiteout).
        let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) } == 0;
        // A lower layer where `etc/sub` already exists as it is: not repeated.
        let lower = tempfile::tempdir().unwrap();
        fs::create_dir_all(lower.path().join("etc/sub")).unwrap();
        let mode = fs::metadata(d.join("etc/sub")).unwrap().mode();
        fs::set_permissions(
            lower.path().join("etc/sub"),
            fs::Permissions::from_mode(mode),
        )
        .unwrap();
        let mut bytes = Vec::new();
        let n = write_layer_tar(d, &[lower.path().to_path_buf()], &mut bytes).unwrap();
        let mut archive = tar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().display().to_string();
            if path == "etc/file" {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut entry, &mut s).unwrap();
                assert_eq!(s, "hello");
            }
            if path == "etc/link" {
                assert_eq!(entry.header().entry_type(), tar::EntryType::Symlink);
            }
            names.push(path);
        }
        let mut expected = vec!["etc", "etc/file", "etc/link"];
        if made {
            expected.insert(2, "etc/.wh.gone");
        }
        assert_eq!(names, expected);
        assert_eq!(n, expected.len());
        let mut bytes = Vec::new();
        assert_eq!(
            write_layer_tar(lower.path(), &[d.to_path_buf()], &mut bytes).unwrap(),
            0
        );
    }
}
