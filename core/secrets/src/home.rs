//! The hush home (`$HUSH_HOME`): where it is, and whether it can be trusted.
//!
//! Like ssh with `~/.ssh` (`StrictModes`), hush refuses a home that another user could
//! control: the home and every directory and file hush keeps in it must be owned by the
//! effective user and not writable by group or others, no entry may be a symbolic link, and
//! the MAC key must be readable by its owner only. A refusal changes nothing. hush creates
//! its directories with mode 0700 and its files with mode 0600.

use std::fmt;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The hush state directory: `$HUSH_HOME`, else `$XDG_DATA_HOME/hush`, else
/// `~/.local/share/hush`.
pub fn hush_home() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(home) = var("HUSH_HOME") {
        return PathBuf::from(home);
    }
    if let Some(data) = var("XDG_DATA_HOME") {
        return PathBuf::from(data).join("hush");
    }
    PathBuf::from(var("HOME").unwrap_or_else(|| "/".into())).join(".local/share/hush")
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// What an entry of the home must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A regular file readable by its owner only (the MAC key).
    Key,
}

/// What hush keeps in its home, relative to it: each is checked when present.
const LAYOUT: &[(&str, Kind)] = &[
    (crate::digest::KEY_FILE, Kind::Key),
    ("images", Kind::Dir),
    ("images/oci-layout", Kind::File),
    ("images/index.json", Kind::File),
    ("images/blobs", Kind::Dir),
    ("images/blobs/sha256", Kind::Dir),
    ("images/.hush", Kind::Dir),
    ("images/.hush/tmp", Kind::Dir),
    ("images/.hush/index.lock", Kind::File),
    ("images/.hush/gc.lock", Kind::File),
    ("layers", Kind::Dir),
    ("layers/.tmp", Kind::Dir),
    ("layers/.locks", Kind::Dir),
    ("cache", Kind::Dir),
    ("cache/index.db", Kind::File),
    ("cache/index.db-wal", Kind::File),
    ("cache/index.db-shm", Kind::File),
    ("cache/index.lock", Kind::File),
    ("cache/layers.lock", Kind::File),
    ("cache/layers", Kind::Dir),
    ("cache/locks", Kind::Dir),
    ("cache/trash", Kind::Dir),
    ("engine", Kind::Dir),
    ("engine/volumes", Kind::Dir),
    ("empty", Kind::Dir),
];

/// What is wrong with a path of the home.
#[derive(Debug)]
pub enum HomeProblem {
    /// Owned by another user than hush's effective user.
    Owner {
        /// The owner.
        uid: u32,
        /// hush's effective user.
        euid: u32,
    },
    /// Writable by its group or by others.
    Writable {
        /// Its permission bits.
        mode: u32,
    },
    /// Readable or writable by group or others, where only the owner may read it.
    Exposed {
        /// Its permission bits.
        mode: u32,
    },
    /// A symbolic link (which could point anywhere).
    Symlink,
    /// Not a directory.
    NotDirectory,
    /// Not a regular file.
    NotFile,
    /// Could not be inspected or created.
    Inaccessible(io::Error),
}

impl fmt::Display for HomeProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Owner { uid, euid } => write!(f, "owned by uid {uid}, not {euid}"),
            Self::Writable { mode } => write!(f, "group- or world-writable (mode {mode:04o})"),
            Self::Exposed { mode } => {
                write!(
                    f,
                    "readable or writable by others (mode {mode:04o}, not 0600)"
                )
            }
            Self::Symlink => f.write_str("a symbolic link"),
            Self::NotDirectory => f.write_str("not a directory"),
            Self::NotFile => f.write_str("not a regular file"),
            Self::Inaccessible(e) => write!(f, "not accessible ({e})"),
        }
    }
}

/// Why hush refuses its home: one path in it and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub struct HomeError {
    /// The home.
    pub home: PathBuf,
    /// The bad path (the home itself, or an entry in it).
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: HomeProblem,
}

impl fmt::Display for HomeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let home = self.home.display();
        if self.path == self.home {
            write!(f, "refusing HUSH_HOME {home}: {}", self.problem)
        } else {
            let path = self.path.display();
            write!(f, "refusing HUSH_HOME {home}: {path} is {}", self.problem)
        }
    }
}

/// Checks the home `home`, creating it (mode 0700) if it is missing, and what hush keeps in
/// it; returns the first problem found. Nothing is changed in an existing home.
pub fn open_home(home: &Path) -> Result<(), HomeError> {
    let refuse = |path: &Path, problem| HomeError {
        home: home.to_owned(),
        path: path.to_owned(),
        problem,
    };
    let meta = match fs::metadata(home) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            ensure_private_dir(home).map_err(|e| refuse(home, HomeProblem::Inaccessible(e)))?;
            fs::metadata(home).map_err(|e| refuse(home, HomeProblem::Inaccessible(e)))?
        }
        Err(e) => return Err(refuse(home, HomeProblem::Inaccessible(e))),
    };
    // The home itself may be a symbolic link (to another disk, say); what it points to counts.
    inspect(&meta, Kind::Dir).map_err(|p| refuse(home, p))?;
    for (name, kind) in LAYOUT {
        let path = home.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) => inspect(&meta, *kind).map_err(|p| refuse(&path, p))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(refuse(&path, HomeProblem::Inaccessible(e))),
        }
    }
    Ok(())
}

/// Whether an entry (as `lstat` describes it) can be trusted as `kind`.
pub(crate) fn inspect(meta: &Metadata, kind: Kind) -> Result<(), HomeProblem> {
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        return Err(HomeProblem::Symlink);
    }
    match kind {
        Kind::Dir if !file_type.is_dir() => return Err(HomeProblem::NotDirectory),
        Kind::File | Kind::Key if !file_type.is_file() => return Err(HomeProblem::NotFile),
        _ => {}
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid {
        return Err(HomeProblem::Owner {
            uid: meta.uid(),
            euid,
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if kind == Kind::Key && mode & 0o077 != 0 {
        return Err(HomeProblem::Exposed { mode });
    }
    if mode & 0o022 != 0 {
        return Err(HomeProblem::Writable { mode });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::{chown, symlink};

    fn euid() -> u32 {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }

    /// A home as hush leaves it: the key, the stores' directories and files.
    fn good_home() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, kind) in LAYOUT {
            let path = dir.path().join(name);
            match kind {
                Kind::Dir => ensure_private_dir(&path).unwrap(),
                Kind::File | Kind::Key => {
                    ensure_private_dir(path.parent().unwrap()).unwrap();
                    fs::write(&path, b"x").unwrap();
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
                }
            }
        }
        dir
    }

    /// Every path under `dir` with its type, mode, owner and size.
    fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, u32, u64)> {
        let mut out = BTreeMap::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(p) = todo.pop() {
            let meta = fs::symlink_metadata(&p).unwrap();
            out.insert(p.clone(), (meta.mode(), meta.uid(), meta.len()));
            if meta.is_dir() {
                todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
        out
    }

    /// Refuses `home` with exactly `message` and changes nothing.
    fn refused(home: &Path, message: String) {
        let before = snapshot(home);
        let err = open_home(home).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(snapshot(home), before, "nothing changed");
    }

    #[test]
    fn a_missing_home_is_created_private_and_a_good_one_passes() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("a/hush");
        open_home(&home).unwrap();
        let mode = fs::metadata(&home).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let good = good_home();
        open_home(good.path()).unwrap();
        // Read-only for others is fine (as stores made before 0700 were).
        fs::set_permissions(
            good.path().join("images"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        open_home(good.path()).unwrap();
        let linked = dir.path().join("linked");
        symlink(good.path(), &linked).unwrap();
        open_home(&linked).unwrap();
    }

    #[test]
    fn a_home_others_can_write_or_own_is_refused() {
        let home = good_home();
        let h = home.path().display().to_string();
        fs::set_permissions(home.path(), fs::Permissions::from_mode(0o777)).unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: group- or world-writable (mode 0777)"),
        );
        fs::set_permissions(home.path(), fs::Permissions::from_mode(0o700)).unwrap();
        chown(home.path(), Some(65534), None).unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: owned by uid 65534, not {}", euid()),
        );
        let file = home.path().join("file");
        chown(home.path(), Some(euid()), None).unwrap();
        fs::write(&file, b"").unwrap();
        refused(
            &file,
            format!("refusing HUSH_HOME {}: not a directory", file.display()),
        );
    }

    #[test]
    fn a_mac_key_others_could_read_or_replace_is_refused() {
        let home = good_home();
        let h = home.path().display().to_string();
        let key = home.path().join("mac.key");
        chown(&key, Some(65534), None).unwrap();
        refused(
            home.path(),
            format!(
                "refusing HUSH_HOME {h}: {h}/mac.key is owned by uid 65534, not {}",
                euid()
            ),
        );
        chown(&key, Some(euid()), None).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
        refused(
            home.path(),
            format!(
                "refusing HUSH_HOME {h}: {h}/mac.key is readable or writable by others \
                 (mode 0640, not 0600)"
            ),
        );
        fs::rename(&key, home.path().join("real.key")).unwrap();
        symlink("real.key", &key).unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: {h}/mac.key is a symbolic link"),
        );
    }

    #[test]
    fn state_directories_others_could_control_are_refused() {
        let home = good_home();
        let h = home.path().display().to_string();
        let cache = home.path().join("cache");
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o1777)).unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: {h}/cache is group- or world-writable (mode 1777)"),
        );
        fs::set_permissions(&cache, fs::Permissions::from_mode(0o700)).unwrap();
        let blobs = home.path().join("images/blobs/sha256");
        chown(&blobs, Some(65534), Some(65534)).unwrap();
        refused(
            home.path(),
            format!(
                "refusing HUSH_HOME {h}: {h}/images/blobs/sha256 is owned by uid 65534, not {}",
                euid()
            ),
        );
        chown(&blobs, Some(euid()), None).unwrap();
        let engine = home.path().join("engine");
        fs::remove_dir_all(&engine).unwrap();
        symlink("/tmp", &engine).unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: {h}/engine is a symbolic link"),
        );
        fs::remove_file(&engine).unwrap();
        fs::write(&engine, b"").unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: {h}/engine is not a directory"),
        );
        fs::remove_file(&engine).unwrap();
        let index = home.path().join("cache/index.db");
        fs::set_permissions(&index, fs::Permissions::from_mode(0o666)).unwrap();
        refused(
            home.path(),
            format!("refusing HUSH_HOME {h}: {h}/cache/index.db is group- or world-writable (mode 0666)"),
        );
        fs::set_permissions(&index, fs::Permissions::from_mode(0o644)).unwrap();
        open_home(home.path()).unwrap();
    }
}
