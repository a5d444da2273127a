//! The index file (`index.db`): opening it, its schema, and recovery when it is corrupt.
//!
//! A corrupt index (not a database, a failing `quick_check`, or no `entries` table) is moved
//! aside to `index.db.corrupt-<unix seconds>` (with its WAL) and replaced by an empty index,
//! once: openers hold `index.lock` shared, and the process that moves the file holds it (and
//! `layers.lock`, which keeps commits out) exclusively; one that then finds the file already
//! replaced uses the new one. The results it listed are lost; their layers are orphans, which
//! the next prune removes (unless a running process still uses one).

use std::fmt;
use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use crate::error::{CacheError, Result};

pub(crate) const INDEX: &str = "index.db";
const SCHEMA_VERSION: i32 = 1;

/// A corrupt index found by [`Cache::open`](crate::Cache::open), moved aside and replaced by
/// an empty one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRecovery {
    /// The index file.
    pub path: PathBuf,
    /// Where the corrupt file now is.
    pub aside: PathBuf,
    /// What SQLite found wrong.
    pub reason: String,
}

impl fmt::Display for IndexRecovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the cache index {} was corrupt ({}); moved it to {} and started an empty index",
            self.path.display(),
            self.reason,
            self.aside.display()
        )
    }
}

/// Why a connection could not be made.
enum Refused {
    /// The file is corrupt (the reason, as SQLite says it).
    Corrupt(String),
    /// Any other failure of SQLite (busy, I/O, permissions): not a reason to touch the file.
    Db(rusqlite::Error),
    /// The file could not be created.
    Create(std::io::Error),
}

impl Refused {
    /// The error of a failure that is not corruption.
    fn error(self, path: &Path) -> CacheError {
        match self {
            Self::Corrupt(reason) => CacheError::Io {
                context: format!("create a new cache index {}", path.display()),
                source: std::io::Error::other(reason),
            },
            Self::Db(source) => CacheError::Db {
                path: path.display().to_string(),
                source,
            },
            Self::Create(source) => CacheError::Io {
                context: format!("create {}", path.display()),
                source,
            },
        }
    }
}

impl From<rusqlite::Error> for Refused {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                Self::Corrupt(e.to_string())
            }
            _ => Self::Db(e),
        }
    }
}

/// Opens the index in `root`, creating it (mode 0600) if missing and replacing it if corrupt.
pub(crate) fn open(root: &Path) -> Result<(Connection, Option<IndexRecovery>)> {
    let path = root.join(INDEX);
    let lock = root.join("index.lock");
    {
        let _shared = lock_file(&lock, libc::LOCK_SH)?;
        match connect(&path) {
            Ok(conn) => return Ok((conn, None)),
            Err(Refused::Corrupt(_)) => {}
            Err(other) => return Err(other.error(&path)),
        }
    }
    // One process moves it aside, while no other one opens it and no commit writes to it.
    let _exclusive = lock_file(&lock, libc::LOCK_EX)?;
    let _names = crate::store::open_locked(&root.join("layers.lock"))?;
    let reason = match connect(&path) {
        // Another process replaced it first (and reported it).
        Ok(conn) => return Ok((conn, None)),
        Err(Refused::Corrupt(reason)) => reason,
        Err(other) => return Err(other.error(&path)),
    };
    let aside = move_aside(root, &path)?;
    let conn = connect(&path).map_err(|e| e.error(&path))?;
    let recovery = IndexRecovery {
        path,
        aside,
        reason,
    };
    Ok((conn, Some(recovery)))
}

/// Opens (creating, mode 0600) the lock file at `path` and `flock`s it with `op`, waiting.
fn lock_file(path: &Path, op: libc::c_int) -> Result<fs::File> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(CacheError::io(format!("create {}", path.display())))?;
    crate::store::flock(&file, op).map_err(CacheError::io(format!("lock {}", path.display())))?;
    Ok(file)
}

/// A checked connection to the index at `path`.
fn connect(path: &Path) -> Result<Connection, Refused> {
    // Made here so that it (and the WAL and shared-memory files, which SQLite gives the same
    // mode) is private from the start.
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(Refused::Create)?;
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(120))?;
    // Changing the journal mode can fail with SQLITE_BUSY without calling the busy
    // handler when another process creates the index at the same moment: retry.
    let mut tries = 0;
    loop {
        match setup(&mut conn) {
            Ok(()) => break,
            Err(e) if tries < 200 && is_busy(&e) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let check: String = conn.query_row("PRAGMA quick_check(1)", [], |r| r.get(0))?;
    if check != "ok" {
        // One line, without SQLite's "*** in database main ***" heading.
        let lines = check.lines().map(str::trim);
        let reason: Vec<_> = lines
            .filter(|l| !l.is_empty() && !l.starts_with("***"))
            .collect();
        return Err(Refused::Corrupt(reason.join("; ")));
    }
    if let Err(e) = conn.prepare(
        "SELECT key, what, created, last_used, exit_code, stdout, stderr, has_layer,
                layer_bytes FROM entries LIMIT 0",
    ) {
        return Err(match Refused::from(e) {
            Refused::Db(e) if !is_busy(&e) => Refused::Corrupt(e.to_string()),
            other => other,
        });
    }
    Ok(conn)
}

fn setup(conn: &mut Connection) -> rusqlite::Result<()> {
    // In WAL mode, NORMAL keeps the index consistent through any process crash; only a
    // power loss can forget the last commits (the layers they name are then orphans).
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A process's exit does not checkpoint (an fsync) or delete the WAL: hits stay cheap.
    // Writers checkpoint as the WAL grows, and prune truncates it.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    let version: i32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= SCHEMA_VERSION {
        // WAL mode and auto-vacuum are properties of the file, set when it was made.
        return Ok(());
    }
    // Set before the first table exists, so prune can give pages back to the filesystem.
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    debug_assert_eq!(mode.to_lowercase(), "wal");
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < SCHEMA_VERSION {
        tx.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries (
                key TEXT PRIMARY KEY,
                what TEXT NOT NULL,
                created INTEGER NOT NULL,
                last_used INTEGER NOT NULL,
                exit_code INTEGER NOT NULL,
                stdout BLOB NOT NULL,
                stderr BLOB NOT NULL,
                has_layer INTEGER NOT NULL,
                layer_bytes INTEGER NOT NULL
            );
            CREATE INDEX IF NOT EXISTS entries_last_used ON entries (last_used);
            PRAGMA user_version = 1;",
        )?;
    }
    tx.commit()
}

pub(crate) fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// Renames `path` and its WAL to `index.db.corrupt-<unix seconds>[.<n>]`; returns the name.
fn move_aside(root: &Path, path: &Path) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut aside = root.join(format!("{INDEX}.corrupt-{secs}"));
    let mut n = 1;
    while fs::symlink_metadata(&aside).is_ok() {
        aside = root.join(format!("{INDEX}.corrupt-{secs}.{n}"));
        n += 1;
    }
    let with = |p: &Path, suffix: &str| {
        let mut name = p.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    let moved = |from: &Path, to: &Path| {
        fs::rename(from, to).map_err(CacheError::io(format!("move {} aside", from.display())))
    };
    if fs::symlink_metadata(with(path, "-wal")).is_ok() {
        moved(&with(path, "-wal"), &with(&aside, "-wal"))?;
    }
    // The shared-memory index describes the old WAL only.
    let _ = fs::remove_file(with(path, "-shm"));
    moved(path, &aside)?;
    fs::File::open(root)
        .and_then(|d| d.sync_all())
        .map_err(CacheError::io(format!("sync {}", root.display())))?;
    Ok(aside)
}
