//! The cache's error type.

use std::io;

/// Why a cache operation failed. Messages name files and keys, never secret values (the cache
/// holds none).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The SQLite index failed.
    #[error("the cache index {path} failed: {source}")]
    Db {
        /// The database file.
        path: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// An exec's layer is on another filesystem than the cache, so it cannot be moved in.
    #[error("cannot commit a layer to the cache: {layer} is on another filesystem than {cache}")]
    CrossDevice {
        /// The layer directory.
        layer: String,
        /// The cache directory.
        cache: String,
    },
    /// An I/O error, with what was being done.
    #[error("cannot {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: io::Error,
    },
}

impl CacheError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// `Result` with [`CacheError`].
pub type Result<T, E = CacheError> = std::result::Result<T, E>;
