//! SSH agent sources for `hush build --ssh` and `RUN --mount=type=ssh`.
//!
//! [`SshSources`] parses BuildKit's `--ssh default|ID[=SOCKET|KEY[,KEY...]]` values into one
//! [`Agent`] per ID, and [`Agent::serve`] serves an agent on a unix socket for a build step to mount.
//! An agent is one of:
//!
//! - a **read-only forward** of an upstream agent socket (usually `$SSH_AUTH_SOCK`): each client
//!   connection gets its own upstream connection, closed with it; only identity listing and signing
//!   reach the upstream agent, and every other request (adding or removing keys, locking,
//!   extensions) is refused without contacting it, so a build step can use the user's keys but not
//!   change their agent;
//! - an **in-memory agent** of private key files (OpenSSH Ed25519, ECDSA P-256/P-384 and RSA keys, PEM RSA
//!   keys): the keys are read into zeroizing buffers, held only in memory and zeroized on drop; the
//!   agent lists and signs with them and refuses everything else. `Debug` output and errors show
//!   public fingerprints and paths, never key material.
//!
//! It uses blocking std sockets and threads, so it works from any async runtime or none.

mod agent;
mod keys;
mod proto;
mod sources;

use std::path::PathBuf;

pub use agent::{Agent, AgentListener};
pub use sources::SshSources;

/// Errors of agent sources and served agents. Messages follow BuildKit's where it has them.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// Two `--ssh` values with the same ID.
    #[error("duplicate agent ID \"{0}\"")]
    DuplicateId(String),
    /// A socket was asked for by an empty path, and `SSH_AUTH_SOCK` is unset or empty.
    #[error("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")]
    EmptySocket,
    /// More than one socket for one ID.
    #[error("only single socket allowed")]
    MultipleSockets,
    /// Sockets and key files for one ID.
    #[error("invalid combination of keys and sockets")]
    KeysAndSockets,
    /// A path that does not exist.
    #[error("ssh agent source {0}: no such socket or key file")]
    NotFound(PathBuf),
    /// A path that cannot be stat'ed.
    #[error("ssh agent source {path}: {source}")]
    Stat {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A path that is neither a unix socket nor a regular file.
    #[error("ssh agent source {0} is neither a unix socket nor a regular file")]
    NotSocketOrFile(PathBuf),
    /// A key file that cannot be read.
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A key file that is not a usable private key (`reason` never holds key material).
    #[error("failed to parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The agent socket cannot be created.
    #[error("failed to listen on {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The agent socket cannot be chowned.
    #[error("failed to chown {path}: {source}")]
    Chown {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The agent socket cannot be chmod'ed.
    #[error("failed to chmod {path}: {source}")]
    Chmod {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The accept thread cannot be started.
    #[error("failed to start the ssh agent thread: {0}")]
    Thread(std::io::Error),
}
