//! Cache volumes on the host: one directory per key (and per private instance) under the
//! engine's volume root, created on first use and held with `flock` while an exec uses it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::{EngineError, Result};
use crate::model::Sharing;
use crate::owner::Ids;

/// A volume directory held for one exec; the lock is released when it is dropped.
pub(crate) struct VolumeLease {
    pub(crate) path: PathBuf,
    _lock: File,
}

/// Opens (creating it with `ids` and `mode` if new) the volume `key` under `root` and locks it
/// as `sharing` asks: shared volumes take a shared lock, locked ones wait for an exclusive
/// lock, private ones take the first instance no running exec holds. Blocks while it waits.
pub(crate) fn lease(
    root: &Path,
    key: &str,
    sharing: Sharing,
    ids: Ids,
    mode: u32,
) -> Result<VolumeLease> {
    hush_secrets::ensure_private_dir(root)
        .map_err(EngineError::io(format!("create {}", root.display())))?;
    let name = hex::encode(Sha256::digest(key.as_bytes()));
    let blocking = |operation| {
        hold(root.join(&name), ids, mode, operation)
            .map(|lease| lease.expect("a blocking lock is always taken"))
    };
    match sharing {
        Sharing::Shared => blocking(libc::LOCK_SH),
        Sharing::Locked => blocking(libc::LOCK_EX),
        Sharing::Private => (0..)
            .map(|i| match i {
                0 => root.join(&name),
                i => root.join(format!("{name}.{i}")),
            })
            .find_map(|path| hold(path, ids, mode, libc::LOCK_EX | libc::LOCK_NB).transpose())
            .expect("an unbounded search ends with a free instance"),
    }
}

/// The volume at `path`, locked with `operation`; `Ok(None)` if a non-blocking lock is taken.
fn hold(path: PathBuf, ids: Ids, mode: u32, operation: i32) -> Result<Option<VolumeLease>> {
    let context = || format!("prepare the cache volume {}", path.display());
    match std::fs::create_dir(&path) {
        Ok(()) => {
            std::os::unix::fs::chown(&path, Some(ids.uid), Some(ids.gid))
                .map_err(EngineError::io(context()))?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .map_err(EngineError::io(context()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(EngineError::io(context())(e)),
    }
    let dir = File::open(&path).map_err(EngineError::io(context()))?;
    loop {
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(dir.as_raw_fd(), operation) } == 0 {
            return Ok(Some(VolumeLease { path, _lock: dir }));
        }
        let e = std::io::Error::last_os_error();
        match e.kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Ok(None),
            _ => return Err(EngineError::io(context())(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: Ids = Ids { uid: 0, gid: 0 };

    #[test]
    fn private_instances_are_distinct_while_held_and_reused_after() {
        let root = tempfile::tempdir().unwrap();
        let a = lease(root.path(), "k", Sharing::Private, ROOT, 0o755).unwrap();
        let b = lease(root.path(), "k", Sharing::Private, ROOT, 0o755).unwrap();
        assert_ne!(a.path, b.path);
        let first = a.path.clone();
        drop(a);
        let c = lease(root.path(), "k", Sharing::Private, ROOT, 0o755).unwrap();
        assert_eq!(c.path, first);
    }

    #[test]
    fn shared_leases_coexist_and_new_volumes_get_owner_and_mode() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("volumes");
        let ids = Ids {
            uid: 1000,
            gid: 1001,
        };
        let a = lease(&root, "pip", Sharing::Shared, ids, 0o750).unwrap();
        let b = lease(&root, "pip", Sharing::Shared, ROOT, 0o700).unwrap();
        assert_eq!(a.path, b.path);
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&a.path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (1000, 1001, 0o750)
        );
        // Another key is another directory, and the root is private.
        let c = lease(&root, "npm", Sharing::Shared, ROOT, 0o755).unwrap();
        assert_ne!(a.path, c.path);
        let root_mode = std::fs::metadata(&root).unwrap().mode() & 0o777;
        assert_eq!(root_mode, 0o700);
    }

    #[test]
    fn a_locked_lease_waits_for_shared_holders() {
        let root = tempfile::tempdir().unwrap();
        let shared = lease(root.path(), "k", Sharing::Shared, ROOT, 0o755).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = root.path().to_path_buf();
        let waiter = std::thread::spawn(move || {
            let held = lease(&path, "k", Sharing::Locked, ROOT, 0o755).unwrap();
            tx.send(()).unwrap();
            drop(held);
        });
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        drop(shared);
        rx.recv().unwrap();
        waiter.join().unwrap();
    }
}
