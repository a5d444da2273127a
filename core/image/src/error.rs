//! The image store's error type.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in the image store. Messages name the bad part: the path, the
/// digest or the tag.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// A string is not a valid image reference or digest.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The text as given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No image has this name or digest.
    #[error("no such image: {0}")]
    NotFound(String),
    /// A short digest matches several images.
    #[error("{name} is ambiguous: it matches {count} images")]
    Ambiguous {
        /// The short digest as given.
        name: String,
        /// How many images it matches.
        count: usize,
    },
    /// Content does not hash to the digest it is stored or referenced under.
    #[error("{what} {expected} does not match its content (digest {actual})")]
    DigestMismatch {
        /// What the content is ("blob", "layer diff_id", ...) and where it came from.
        what: String,
        /// The digest it was announced with.
        expected: String,
        /// The digest of the bytes actually read.
        actual: String,
    },
    /// Content has a different size than its descriptor says.
    #[error("{what} {digest} has {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// What the content is and where it came from.
        what: String,
        /// The content's digest.
        digest: String,
        /// The size in the descriptor.
        expected: u64,
        /// The size actually read.
        actual: u64,
    },
    /// An input (layout, archive, tarball, manifest, config) is malformed.
    #[error("{}: {reason}", .path.display())]
    InvalidInput {
        /// The file or blob at fault.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A layer entry would land outside the layer, or through a symlink.
    #[error("unsafe entry {entry:?} in layer {layer}: {reason}")]
    UnsafePath {
        /// The layer's digest or file name.
        layer: String,
        /// The entry's path as written in the tar.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// Content uses a feature this store does not handle (a digest algorithm, a compression).
    #[error("unsupported {what}: {value}")]
    Unsupported {
        /// The kind of feature.
        what: &'static str,
        /// The value met.
        value: String,
    },
    /// The store's own files are damaged (a missing blob, an unreadable index).
    #[error("image store at {}: {reason}", .root.display())]
    Corrupt {
        /// The store root.
        root: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl ImageError {
    /// Whether the error is the caller's fault (a malformed name), as opposed to a failure of the
    /// work; command-line front ends map this to a usage exit code.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::InvalidReference { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(path: &Path, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Adds "doing X on PATH" context to I/O results.
pub(crate) trait IoContext<T> {
    /// Wraps the error with `what` and `path`: "cannot {what} {path}".
    fn at(self, what: &str, path: &Path) -> Result<T, ImageError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, what: &str, path: &Path) -> Result<T, ImageError> {
        self.map_err(|e| ImageError::io(format!("cannot {what} {}", path.display()), e))
    }
}
