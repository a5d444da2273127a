//! File-system helpers: `flock` locks, durable atomic writes, hashing readers, temp names.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

use crate::error::IoContext;
use crate::ImageError;

/// An advisory `flock` lock, released when dropped (the file is closed).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

impl Lock {
    /// Takes an exclusive lock on `path` (created if missing), waiting for other holders.
    pub(crate) fn exclusive(path: &Path) -> Result<Self, ImageError> {
        Self::take(path, libc::LOCK_EX)
    }

    /// Takes a shared lock on `path` (created if missing), waiting for an exclusive holder.
    pub(crate) fn shared(path: &Path) -> Result<Self, ImageError> {
        Self::take(path, libc::LOCK_SH)
    }

    fn take(path: &Path, operation: libc::c_int) -> Result<Self, ImageError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .at("open lock file", path)?;
        loop {
            // SAFETY: flock on a descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
                return Ok(Self { _file: file });
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err).at("lock", path);
            }
        }
    }
}

/// A name unique among this host's processes and threads, for temp files and dirs.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}.{}.{}.{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Flushes a directory's entries (after a rename or create inside it) to disk.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .at("sync directory", dir)
}

/// Replaces `path` with `bytes` atomically and durably: temp file in `tmp_dir`, fsync, rename.
pub(crate) fn write_atomic(tmp_dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let tmp = tmp_dir.join(unique_name("write"));
    let result = (|| {
        let mut file = create_private(&tmp)?;
        file.write_all(bytes).at("write", &tmp)?;
        file.sync_all().at("sync", &tmp)?;
        fs::rename(&tmp, path).at("replace", path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// A reader that hashes (SHA-256) and counts what passes through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads the rest of the stream, then returns `sha256:<hex>` and the byte count.
    pub(crate) fn finish(mut self) -> io::Result<(String, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((
            format!("sha256:{}", hex::encode(self.hasher.finalize())),
            self.count,
        ))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// `sha256:<hex>` of some bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Creates `dir` and its parents (mode 0700 for new ones).
pub(crate) fn create_dirs(dir: &Path) -> Result<(), ImageError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .at("create directory", dir)
}

/// Creates the new file `path` with mode 0600.
pub(crate) fn create_private(path: &Path) -> Result<File, ImageError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .at("create", path)
}

/// The path of blob `sha256:<hex>` under an OCI layout root.
pub(crate) fn blob_path(root: &Path, digest: &oci_spec::image::Digest) -> PathBuf {
    root.join("blobs")
        .join(digest.algorithm().as_ref())
        .join(digest.digest())
}
