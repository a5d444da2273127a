//! The store: an SQLite index of entries and a directory of committed layers.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::error::{CacheError, Result};
use crate::index::{IndexRecovery, INDEX};

/// A cache key: the 32-byte key of an operation chain.
pub type Key = [u8; 32];

/// A result to store.
pub struct NewEntry<'a> {
    /// What produced it, as shown to people (a scrubbed command line).
    pub what: &'a str,
    /// The exit code.
    pub exit_code: i32,
    /// Scrubbed stdout.
    pub stdout: &'a [u8],
    /// Scrubbed stderr.
    pub stderr: &'a [u8],
    /// The filesystem changes (an overlayfs upper directory on the cache's filesystem, already
    /// scanned for leaks), if any. It is moved into the cache.
    pub layer: Option<&'a Path>,
}

/// A stored result, found by [`Cache::lookup`].
#[derive(Debug)]
pub struct Hit {
    /// The exit code.
    pub exit_code: i32,
    /// Scrubbed stdout.
    pub stdout: Vec<u8>,
    /// Scrubbed stderr.
    pub stderr: Vec<u8>,
    /// The filesystem changes, if the exec made any.
    pub layer: Option<Lease>,
}

/// The use of a committed layer: while a lease lives (in this or any process), pruning leaves
/// the layer alone. Released on drop, or when the process dies.
#[derive(Debug)]
pub struct Lease {
    path: PathBuf,
    _dir: File,
}

impl Lease {
    /// The layer directory (overlayfs form).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`Cache::commit`] did.
#[derive(Debug)]
pub enum Commit {
    /// Stored; the lease is on the committed layer, if there was one.
    Stored(Option<Lease>),
    /// Another process stored this key first; the given layer was left where it was.
    AlreadyCached,
}

/// One entry, as listed by [`Cache::entries`].
#[derive(Clone, Debug)]
pub struct EntryInfo {
    /// The key, hex.
    pub key: String,
    /// What produced it (a scrubbed command line).
    pub what: String,
    /// When it was stored.
    pub created: SystemTime,
    /// When it was last used.
    pub last_used: SystemTime,
    /// Bytes on disk: the layer's blocks and the stored output.
    pub bytes: u64,
}

/// What [`Cache::prune`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prune {
    /// Every entry.
    All,
    /// Entries not used for longer than this.
    OlderThan(Duration),
    /// Least recently used entries until the rest take at most this many bytes.
    KeepBytes(u64),
}

/// What [`Cache::prune`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Entries removed.
    pub removed: usize,
    /// Bytes those entries took.
    pub freed_bytes: u64,
    /// Entries that would have been removed but whose layer a running process uses.
    pub in_use: usize,
    /// Layer directories without an entry (left by a process killed mid-commit) removed.
    pub orphans: usize,
}

/// The result of [`Cache::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// SQLite's `integrity_check` (`ok` when sound).
    pub integrity: String,
    /// Number of entries.
    pub entries: usize,
    /// Keys of entries whose layer directory is missing (never expected).
    pub missing_layers: Vec<String>,
}

/// An exclusive claim on a key across processes (see [`Cache::lock_key`]); released on drop
/// or when the process dies.
#[derive(Debug)]
pub struct KeyLock {
    path: PathBuf,
    _file: File,
}

impl Drop for KeyLock {
    fn drop(&mut self) {
        // Unlinked while still locked: a waiter that then locks the stale file notices
        // and retries on a fresh one.
        let _ = fs::remove_file(&self.path);
    }
}

/// The persistent cache under one directory (`$HUSH_HOME/cache`). See the
/// [crate documentation](crate) for the layout and the crash-safety argument.
pub struct Cache {
    root: PathBuf,
    conn: Mutex<Connection>,
    recovered: Option<IndexRecovery>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cache({})", self.root.display())
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64)
}

pub(crate) fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on an open descriptor.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Blocks used by a tree, in bytes (not following symlinks).
fn disk_usage(path: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(m) = fs::symlink_metadata(&p) else {
            continue;
        };
        total += m.blocks() * 512;
        if m.is_dir() {
            if let Ok(list) = fs::read_dir(&p) {
                todo.extend(list.flatten().map(|e| e.path()));
            }
        }
    }
    total
}

fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{nanos:08x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Cache {
    /// Opens (creating if needed, mode 0700) the cache in `root` and removes what an earlier
    /// process killed midway through a prune left in its trash. A corrupt index is moved aside
    /// and replaced by an empty one (see [`Cache::recovered`]).
    pub fn open(root: &Path) -> Result<Self> {
        for dir in [root.to_path_buf(), root.join("layers"), root.join("locks")] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(CacheError::io(format!("create {}", dir.display())))?;
        }
        let trash = root.join("trash");
        if let Ok(list) = fs::read_dir(&trash) {
            for entry in list.flatten() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        let (conn, recovered) = crate::index::open(root)?;
        Ok(Self {
            root: root.to_path_buf(),
            conn: Mutex::new(conn),
            recovered,
        })
    }

    /// The corrupt index this open replaced, if any (to be reported once).
    pub fn recovered(&self) -> Option<&IndexRecovery> {
        self.recovered.as_ref()
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> CacheError + '_ {
        move |source| CacheError::Db {
            path: self.root.join(INDEX).display().to_string(),
            source,
        }
    }

    fn layer_path(&self, hex: &str) -> PathBuf {
        self.root.join("layers").join(hex)
    }

    fn lease(&self, hex: &str) -> io::Result<Lease> {
        let path = self.layer_path(hex);
        let dir = File::open(&path)?;
        flock(&dir, libc::LOCK_SH)?;
        Ok(Lease { path, _dir: dir })
    }

    /// The entry for `key`, if stored; marks it used and leases its layer.
    pub fn lookup(&self, key: &Key) -> Result<Option<Hit>> {
        let hex = hex::encode(key);
        loop {
            let row = self
                .conn()
                .query_row(
                    "SELECT exit_code, stdout, stderr, has_layer FROM entries WHERE key = ?1",
                    [&hex],
                    |r| {
                        Ok((
                            r.get::<_, i32>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                            r.get::<_, bool>(3)?,
                        ))
                    },
                )
                .optional()
                .map_err(self.db())?;
            let Some((exit_code, stdout, stderr, has_layer)) = row else {
                return Ok(None);
            };
            let layer = if has_layer {
                match self.lease(&hex) {
                    Ok(lease) => Some(lease),
                    // Pruned meanwhile.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(CacheError::io(format!("use cache layer {hex}"))(e)),
                }
            } else {
                None
            };
            let marked = self
                .conn()
                .execute(
                    "UPDATE entries SET last_used = ?2 WHERE key = ?1",
                    params![hex, now()],
                )
                .map_err(self.db())?;
            if marked == 0 {
                return Ok(None);
            }
            // The leased directory must still be the entry's (not one pruned and replaced by
            // a new commit of the same key in between); else look again.
            if let Some(lease) = &layer {
                let held = lease._dir.metadata();
                let named = fs::metadata(&lease.path);
                match (held, named) {
                    (Ok(h), Ok(n)) if same_file(&h, &n) => {}
                    _ => continue,
                }
            }
            return Ok(Some(Hit {
                exit_code,
                stdout,
                stderr,
                layer,
            }));
        }
    }

    /// Claims `key` across processes until the returned lock is dropped, so that concurrent
    /// evaluations of one operation run it once: the others wait, then find it stored.
    /// Blocks; call it off the async executor.
    pub fn lock_key(&self, key: &Key) -> Result<KeyLock> {
        let path = self.root.join("locks").join(hex::encode(key));
        loop {
            let file = open_locked(&path)?;
            let held = file
                .metadata()
                .map_err(CacheError::io(format!("stat {}", path.display())))?;
            match fs::metadata(&path) {
                Ok(named) if same_file(&held, &named) => {
                    return Ok(KeyLock { path, _file: file });
                }
                _ => continue,
            }
        }
    }

    /// Exclusive use of the `layers` directory's names, held while entries and their layer
    /// directories change together.
    fn names_lock(&self) -> Result<File> {
        open_locked(&self.root.join("layers.lock"))
    }

    /// Moves `dir` to the trash and deletes it.
    fn discard(&self, dir: &Path) -> Result<()> {
        let trash = self.trash_path()?;
        fs::rename(dir, &trash).map_err(CacheError::io(format!("move {}", dir.display())))?;
        let _ = fs::remove_dir_all(&trash);
        Ok(())
    }

    fn trash_path(&self) -> Result<PathBuf> {
        let trash = self.root.join("trash");
        fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(&trash)
            .map_err(CacheError::io(format!("create {}", trash.display())))?;
        Ok(trash.join(unique_name()))
    }

    /// Stores a result under `key`. The layer, if any, is flushed to disk and moved into the
    /// cache before the entry is inserted, in one transaction with the check that the key is
    /// new: a crash at any point leaves no entry, or a complete one (at worst a layer
    /// directory without an entry, removed by the next commit of that key or by a prune).
    pub fn commit(&self, key: &Key, entry: NewEntry<'_>) -> Result<Commit> {
        let hex = hex::encode(key);
        let layer_bytes = match entry.layer {
            Some(layer) => {
                sync_filesystem(layer)?;
                disk_usage(layer)
            }
            None => 0,
        };
        let _names = self.names_lock()?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.db())?;
        let exists = tx
            .query_row("SELECT 1 FROM entries WHERE key = ?1", [&hex], |_| Ok(()))
            .optional()
            .map_err(self.db())?
            .is_some();
        if exists {
            return Ok(Commit::AlreadyCached);
        }
        let mut lease = None;
        if let Some(layer) = entry.layer {
            let dest = self.layer_path(&hex);
            if fs::symlink_metadata(&dest).is_ok() {
                self.discard(&dest)?;
            }
            fs::rename(layer, &dest).map_err(|e| {
                if e.raw_os_error() == Some(libc::EXDEV) {
                    CacheError::CrossDevice {
                        layer: layer.display().to_string(),
                        cache: self.root.display().to_string(),
                    }
                } else {
                    CacheError::io(format!("move {} into the cache", layer.display()))(e)
                }
            })?;
            let leased = sync_dir(&self.root.join("layers")).and_then(|()| self.lease(&hex));
            match leased {
                Ok(l) => lease = Some(l),
                Err(e) => {
                    let _ = fs::rename(&dest, layer);
                    return Err(CacheError::io(format!("use cache layer {hex}"))(e));
                }
            }
        }
        let now = now();
        let stored = tx
            .execute(
                "INSERT INTO entries (key, what, created, last_used, exit_code, stdout, stderr,
                                      has_layer, layer_bytes)
                 VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    hex,
                    entry.what,
                    now,
                    entry.exit_code,
                    entry.stdout,
                    entry.stderr,
                    entry.layer.is_some(),
                    layer_bytes as i64
                ],
            )
            .and_then(|_| tx.commit());
        if let Err(e) = stored {
            if let (Some(layer), Some(l)) = (entry.layer, lease.take()) {
                let _ = fs::rename(l.path(), layer);
            }
            return Err(self.db()(e));
        }
        Ok(Commit::Stored(lease))
    }

    /// Every entry, most recently used first.
    pub fn entries(&self) -> Result<Vec<EntryInfo>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT key, what, created, last_used,
                        layer_bytes + length(stdout) + length(stderr)
                 FROM entries ORDER BY last_used DESC, key",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(EntryInfo {
                    key: r.get(0)?,
                    what: r.get(1)?,
                    created: time(r.get(2)?),
                    last_used: time(r.get(3)?),
                    bytes: r.get::<_, i64>(4)?.max(0) as u64,
                })
            })
            .map_err(self.db())?;
        rows.collect::<rusqlite::Result<_>>().map_err(self.db())
    }

    /// Removes entries (see [`Prune`]) and orphaned layer directories, never a layer that a
    /// running process leases, and gives the freed pages of the index back to the filesystem.
    pub fn prune(&self, what: Prune) -> Result<PruneReport> {
        let rows: Vec<(String, i64, u64, bool)> = {
            let conn = self.conn();
            let mut stmt = conn
                .prepare(
                    "SELECT key, last_used, layer_bytes + length(stdout) + length(stderr),
                            has_layer
                     FROM entries ORDER BY last_used, key",
                )
                .map_err(self.db())?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get::<_, i64>(2)?.max(0) as u64,
                        r.get(3)?,
                    ))
                })
                .map_err(self.db())?;
            rows.collect::<rusqlite::Result<_>>().map_err(self.db())?
        };
        let mut total: u64 = rows.iter().map(|r| r.2).sum();
        let now = now();
        let mut report = PruneReport::default();
        for (key, last_used, bytes, has_layer) in rows {
            let selected = match what {
                Prune::All => true,
                Prune::OlderThan(age) => last_used < now - age.as_millis() as i64,
                Prune::KeepBytes(keep) => total > keep,
            };
            if !selected {
                continue;
            }
            match self.remove(&key, has_layer)? {
                Removed::Yes => {
                    report.removed += 1;
                    report.freed_bytes += bytes;
                    total -= bytes;
                }
                Removed::InUse => report.in_use += 1,
                Removed::Gone => total -= bytes,
            }
        }
        report.orphans = self.remove_orphans()?;
        let conn = self.conn();
        conn.execute_batch("PRAGMA incremental_vacuum")
            .map_err(self.db())?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.db())?;
        Ok(report)
    }

    fn remove(&self, hex: &str, has_layer: bool) -> Result<Removed> {
        let path = self.layer_path(hex);
        // Held exclusively so that no lease exists while it goes. A lease also shows up
        // briefly in a child forked while it was held (until that child's exec closes it), so
        // a busy lock is retried a few times before the layer counts as in use.
        let _exclusive = if has_layer {
            match File::open(&path) {
                Ok(dir) => match lock_exclusive_soon(&dir) {
                    Ok(true) => Some(dir),
                    Ok(false) => return Ok(Removed::InUse),
                    Err(e) => return Err(CacheError::io(format!("lock {}", path.display()))(e)),
                },
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(CacheError::io(format!("open {}", path.display()))(e)),
            }
        } else {
            None
        };
        let _names = self.names_lock()?;
        let deleted = self
            .conn()
            .execute("DELETE FROM entries WHERE key = ?1", [hex])
            .map_err(self.db())?;
        if deleted == 0 {
            return Ok(Removed::Gone);
        }
        // A crash here leaves an orphaned directory, which the next prune removes.
        if has_layer && fs::symlink_metadata(&path).is_ok() {
            self.discard(&path)?;
        }
        Ok(Removed::Yes)
    }

    /// Removes layer directories that have no entry and no lease; returns how many.
    fn remove_orphans(&self) -> Result<usize> {
        let _names = self.names_lock()?;
        let dir = self.root.join("layers");
        let list = fs::read_dir(&dir).map_err(CacheError::io(format!("list {}", dir.display())))?;
        let mut removed = 0;
        for entry in list.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let known = self
                .conn()
                .query_row(
                    "SELECT 1 FROM entries WHERE key = ?1 AND has_layer",
                    [&name],
                    |_| Ok(()),
                )
                .optional()
                .map_err(self.db())?
                .is_some();
            // A layer of an entry lost with a corrupt index may still be in use.
            let free = File::open(entry.path())
                .and_then(|dir| lock_exclusive_soon(&dir).map(|free| free.then_some(dir)));
            if let (false, Ok(Some(_exclusive))) = (known, free) {
                self.discard(&entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Checks the index (`PRAGMA integrity_check`) and that every entry's layer exists.
    pub fn check(&self) -> Result<CheckReport> {
        let conn = self.conn();
        let integrity: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(self.db())?;
        let mut stmt = conn
            .prepare("SELECT key, has_layer FROM entries")
            .map_err(self.db())?;
        let rows: Vec<(String, bool)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.db())?
            .collect::<rusqlite::Result<_>>()
            .map_err(self.db())?;
        let missing_layers = rows
            .iter()
            .filter(|(key, has)| *has && !self.layer_path(key).is_dir())
            .map(|(key, _)| key.clone())
            .collect();
        Ok(CheckReport {
            integrity,
            entries: rows.len(),
            missing_layers,
        })
    }
}

enum Removed {
    Yes,
    InUse,
    Gone,
}

/// Flushes the filesystem holding `path` (all of a layer's files and directories at once).
fn sync_filesystem(path: &Path) -> Result<()> {
    let dir = File::open(path).map_err(CacheError::io(format!("open {}", path.display())))?;
    // SAFETY: syncfs on an open descriptor.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(CacheError::io(format!("flush {}", path.display()))(
            io::Error::last_os_error(),
        ));
    }
    Ok(())
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Takes an exclusive lock without blocking for long: `Ok(false)` if it stays held by
/// someone else over a few short retries.
fn lock_exclusive_soon(file: &File) -> io::Result<bool> {
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        match flock(file, libc::LOCK_EX | libc::LOCK_NB) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Opens (creating, mode 0600) the lock file at `path` and locks it exclusively, waiting.
pub(crate) fn open_locked(path: &Path) -> Result<File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(CacheError::io(format!("create {}", path.display())))?;
    flock(&file, libc::LOCK_EX).map_err(CacheError::io(format!("lock {}", path.display())))?;
    Ok(file)
}
