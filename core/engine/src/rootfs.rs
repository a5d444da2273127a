//! Filesystem layers and a read-only, user-space view of their overlay merge (whiteouts,
//! opaque directories and symlinks honoured), used to read files without mounting anything.

use std::ffi::CString;
use std::fs::{self, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{EngineError, Result};

/// One filesystem layer: a directory in overlayfs form.
#[derive(Debug)]
pub(crate) struct Layer {
    path: PathBuf,
    kind: LayerKind,
}

#[derive(Debug)]
enum LayerKind {
    /// Someone else's (an image store); never removed by the engine.
    External,
    /// Made by the engine, removed when the last reference goes.
    Owned,
    /// Committed to the persistent cache; the lease keeps prune away while it lives.
    Cached { _lease: hush_cache::Lease },
}

impl Layer {
    /// A layer owned by someone else (an image store); never removed by the engine.
    pub(crate) fn external(path: PathBuf) -> Self {
        Self {
            path,
            kind: LayerKind::External,
        }
    }

    /// A layer made by the engine, removed when the last reference goes.
    pub(crate) fn owned(path: PathBuf) -> Self {
        Self {
            path,
            kind: LayerKind::Owned,
        }
    }

    /// A layer of the persistent cache, used under `lease`.
    pub(crate) fn cached(lease: hush_cache::Lease) -> Self {
        Self {
            path: lease.path().to_path_buf(),
            kind: LayerKind::Cached { _lease: lease },
        }
    }

    /// The layer's directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Layer {
    fn drop(&mut self) {
        match self.kind {
            LayerKind::Owned => {
                let _ = fs::remove_dir_all(&self.path);
            }
            LayerKind::External | LayerKind::Cached { .. } => {}
        }
    }
}

type Layers = [std::sync::Arc<Layer>];

fn is_whiteout(m: &Metadata) -> bool {
    m.file_type().is_char_device() && m.rdev() == 0
}

fn is_opaque(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    let mut buf = [0u8; 2];
    // SAFETY: valid C strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    n == 1 && buf[0] == b'y'
}

/// The real directories that make up the merged directory `comps` (topmost first).
fn dir_layers(layers: &Layers, comps: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    'layers: for layer in layers.iter().rev() {
        let mut p = layer.path.clone();
        let mut stop = false;
        for c in comps {
            p.push(c);
            match fs::symlink_metadata(&p) {
                Err(_) if stop => return out,
                Err(_) => continue 'layers,
                Ok(m) if is_whiteout(&m) || !m.is_dir() => return out,
                Ok(_) => stop |= is_opaque(&p),
            }
        }
        if comps.is_empty() {
            stop |= is_opaque(&p);
        }
        out.push(p);
        if stop {
            return out;
        }
    }
    out
}

/// The entry `comps` in the merged view (no symlink following), if present.
fn lookup(layers: &Layers, comps: &[String]) -> Option<(PathBuf, Metadata)> {
    let Some((name, parent)) = comps.split_last() else {
        let top = dir_layers(layers, comps).into_iter().next()?;
        let m = fs::metadata(&top).ok()?;
        return Some((top, m));
    };
    for dir in dir_layers(layers, parent) {
        let p = dir.join(name);
        if let Ok(m) = fs::symlink_metadata(&p) {
            return (!is_whiteout(&m)).then_some((p, m));
        }
    }
    None
}

/// A path resolved in the merged view: its canonical components and, if it exists, the real
/// file and its metadata. When it does not exist, `comps` is the canonical existing prefix
/// followed by the missing components as given.
pub(crate) struct Resolved {
    pub(crate) comps: Vec<String>,
    pub(crate) found: Option<(PathBuf, Metadata)>,
}

fn split(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect()
}

/// Resolves the absolute `path` inside the layers, following symlinks (of the last component
/// too when `follow_last`) without ever leaving the container's root.
pub(crate) fn resolve(layers: &Layers, path: &str, follow_last: bool) -> Resolved {
    let mut todo: Vec<String> = split(path);
    todo.reverse();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        cur.push(c);
        match lookup(layers, &cur) {
            None => {
                cur.extend(todo.into_iter().rev());
                return Resolved {
                    comps: cur,
                    found: None,
                };
            }
            Some((real, m)) if m.file_type().is_symlink() && (follow_last || !todo.is_empty()) => {
                links += 1;
                let Ok(target) = fs::read_link(&real) else {
                    return Resolved {
                        comps: cur,
                        found: None,
                    };
                };
                if links > 40 {
                    return Resolved {
                        comps: cur,
                        found: None,
                    };
                }
                cur.pop();
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    cur.clear();
                }
                let mut parts = split(&target);
                parts.reverse();
                todo.extend(parts);
            }
            Some(found) if todo.is_empty() => {
                return Resolved {
                    comps: cur,
                    found: Some(found),
                }
            }
            Some(_) => {}
        }
    }
    let found = lookup(layers, &cur);
    Resolved { comps: cur, found }
}

/// Reads a text file of the merged view, if present (e.g. `/etc/passwd`).
pub(crate) fn read_text(layers: &Layers, path: &str) -> Option<String> {
    let r = resolve(layers, path, true);
    let (real, m) = r.found?;
    m.is_file().then(|| fs::read_to_string(real).ok())?
}

/// Checks that `path` is a regular file and returns its real location.
pub(crate) fn check_file(layers: &Layers, path: &str) -> Result<()> {
    real_file(layers, path).map(|_| ())
}

/// The real location of the regular file at `path`.
pub(crate) fn real_file(layers: &Layers, path: &str) -> Result<PathBuf> {
    let r = resolve(layers, path, true);
    let (real, m) = r.found.ok_or_else(|| EngineError::NotFound {
        path: path.to_owned(),
    })?;
    if !m.is_file() {
        return Err(EngineError::WrongKind {
            path: path.to_owned(),
            expected: "file",
        });
    }
    Ok(real)
}

/// Reads the regular file at `path`.
pub(crate) fn read_file(layers: &Layers, path: &str) -> Result<Vec<u8>> {
    let real = real_file(layers, path)?;
    fs::read(&real).map_err(EngineError::io(format!("read {path}")))
}

/// Checks that `path` is a directory and returns its canonical path.
pub(crate) fn directory(layers: &Layers, path: &str) -> Result<String> {
    let r = resolve(layers, path, true);
    let (_, m) = r.found.ok_or_else(|| EngineError::NotFound {
        path: path.to_owned(),
    })?;
    if !m.is_dir() {
        return Err(EngineError::WrongKind {
            path: path.to_owned(),
            expected: "directory",
        });
    }
    Ok(format!("/{}", r.comps.join("/")))
}

/// The real directories (topmost first) that make up the merged directory at canonical `path`.
pub(crate) fn dir_sources(layers: &Layers, path: &str) -> Vec<PathBuf> {
    dir_layers(layers, &split(path))
}

/// Sorted entry names of the directory `path`.
pub(crate) fn entries(layers: &Layers, path: &str) -> Result<Vec<String>> {
    let canonical = directory(layers, path)?;
    let mut seen = std::collections::BTreeMap::new();
    for dir in dir_sources(layers, &canonical) {
        let list = fs::read_dir(&dir).map_err(EngineError::io(format!("list {path}")))?;
        for entry in list.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let visible = entry.metadata().is_ok_and(|m| !is_whiteout(&m));
            seen.entry(name).or_insert(visible);
        }
    }
    Ok(seen
        .into_iter()
        .filter(|(_, v)| *v)
        .map(|(n, _)| n)
        .collect())
}

/// Writes a layer at `dest` holding one file at `path` (parent directories copy the merged
/// view's mode and owner, so the layer changes nothing else).
pub(crate) fn new_file_layer(
    layers: &Layers,
    dest: &Path,
    path: &str,
    contents: &[u8],
    mode: u32,
) -> Result<()> {
    let io = |what: &str| EngineError::io(format!("{what} for with_new_file {path}"));
    let comps = split(path);
    let (name, parent) = comps.split_last().ok_or_else(|| EngineError::BadPath {
        what: "the new file path",
        path: path.to_owned(),
    })?;
    let parent = resolve(layers, &format!("/{}", parent.join("/")), true);
    if let Some((_, m)) = &parent.found {
        if !m.is_dir() {
            return Err(EngineError::WrongKind {
                path: format!("/{}", parent.comps.join("/")),
                expected: "directory",
            });
        }
    }
    fs::create_dir(dest).map_err(io("create a layer"))?;
    let mut real = dest.to_path_buf();
    for i in 0..parent.comps.len() {
        real.push(&parent.comps[i]);
        let (perm, uid, gid) = match lookup(layers, &parent.comps[..=i]) {
            Some((_, m)) if m.is_dir() => (m.mode() & 0o7777, m.uid(), m.gid()),
            _ => (0o755, 0, 0),
        };
        fs::create_dir(&real).map_err(io("create a directory"))?;
        std::os::unix::fs::chown(&real, Some(uid), Some(gid)).map_err(io("chown a directory"))?;
        fs::set_permissions(&real, fs::Permissions::from_mode(perm))
            .map_err(io("chmod a directory"))?;
    }
    real.push(name);
    fs::write(&real, contents).map_err(io("write the file"))?;
    std::os::unix::fs::chown(&real, Some(0), Some(0)).map_err(io("chown the file"))?;
    fs::set_permissions(&real, fs::Permissions::from_mode(mode)).map_err(io("chmod the file"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::Arc;

    fn whiteout(p: &Path) {
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: valid C string; makes a 0/0 character device.
        assert_eq!(unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR, 0) }, 0);
    }

    #[test]
    fn merged_view_honours_whiteouts_and_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let l0 = tmp.path().join("0");
        let l1 = tmp.path().join("1");
        fs::create_dir_all(l0.join("etc")).unwrap();
        fs::create_dir_all(l0.join("usr/bin")).unwrap();
        fs::write(l0.join("etc/passwd"), "old").unwrap();
        fs::write(l0.join("etc/gone"), "x").unwrap();
        fs::write(l0.join("usr/bin/tool"), "tool").unwrap();
        symlink("usr/bin", l0.join("bin")).unwrap();
        fs::create_dir_all(l1.join("etc")).unwrap();
        fs::write(l1.join("etc/passwd"), "new").unwrap();
        let root_is_privileged = unsafe { libc::geteuid() } == 0;
        if root_is_privileged {
            whiteout(&l1.join("etc/gone"));
        }
        let layers: Vec<Arc<Layer>> = vec![
            Arc::new(Layer::external(l0.clone())),
            Arc::new(Layer::external(l1.clone())),
        ];
        assert_eq!(read_text(&layers, "/etc/passwd").as_deref(), Some("new"));
        assert_eq!(read_file(&layers, "/bin/tool").unwrap(), b"tool");
        assert_eq!(read_file(&layers, "/bin/../../etc/passwd").unwrap(), b"new");
        assert!(matches!(
            read_file(&layers, "/etc"),
            Err(EngineError::WrongKind { .. })
        ));
        let names = entries(&layers, "/etc").unwrap();
        if root_is_privileged {
            assert_eq!(names, vec!["passwd"]);
            assert!(read_text(&layers, "/etc/gone").is_none());
        }

        let dest = tmp.path().join("2");
        new_file_layer(&layers, &dest, "/bin/new", b"hi", 0o600).unwrap();
        let made = dest.join("usr/bin/new");
        assert_eq!(fs::read(&made).unwrap(), b"hi");
        assert_eq!(fs::metadata(&made).unwrap().mode() & 0o7777, 0o600);
        assert!(
            !dest.join("bin").exists(),
            "the /bin symlink must not be shadowed"
        );
    }
}
