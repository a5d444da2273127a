//! The engine's error type.

use std::io;

/// Why building or evaluating a container failed.
///
/// Messages name the bad part (an argument, a path, a user); they never contain secret values
/// or environment values. Text that came from a container (its stderr) is scrubbed first.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// An image address was empty.
    #[error("an image address cannot be empty")]
    EmptyAddress,
    /// `with_exec` was given no arguments.
    #[error("with_exec needs at least one argument")]
    EmptyArgs,
    /// An argument, path or name contained a NUL byte.
    #[error("{what} contains a NUL byte")]
    Nul {
        /// What was wrong: "an exec argument", "the mount path", ...
        what: &'static str,
    },
    /// An environment variable name was empty.
    #[error("{what}: a variable name cannot be empty")]
    EmptyEnvName {
        /// The method that was called.
        what: &'static str,
    },
    /// An environment variable name contained `=`.
    #[error("{what}: variable name {name:?} cannot contain '='")]
    BadEnvName {
        /// The method that was called.
        what: &'static str,
        /// The offending name.
        name: String,
    },
    /// A path inside the container was not absolute or not clean.
    #[error("{what} {path:?} must be an absolute path without '..' components")]
    BadPath {
        /// Which path: "the mount path", "the workdir", ...
        what: &'static str,
        /// The offending path.
        path: String,
    },
    /// A mode had bits beyond 0o7777.
    #[error("{what}: mode {mode:#o} has bits beyond 0o7777")]
    BadMode {
        /// The method that was called.
        what: &'static str,
        /// The offending mode.
        mode: u32,
    },
    /// An owner or user spec was malformed.
    #[error("{what} {spec:?} is malformed: expected uid, uid:gid, user or user:group")]
    BadOwner {
        /// "the owner" or "the user".
        what: &'static str,
        /// The offending spec.
        spec: String,
    },
    /// A user name was not in the container's `/etc/passwd`.
    #[error("user {0:?} is not in the container's /etc/passwd")]
    UnknownUser(String),
    /// A group name was not in the container's `/etc/group`.
    #[error("group {0:?} is not in the container's /etc/group")]
    UnknownGroup(String),
    /// The image is in no image store.
    #[error("image {0:?} was not found in the local image store")]
    ImageNotFound(String),
    /// The hush home is not one hush may trust.
    #[error(transparent)]
    Home(#[from] hush_secrets::HomeError),
    /// The image store failed.
    #[error("cannot use image {image:?}: {message}")]
    Image {
        /// The image address.
        image: String,
        /// What went wrong.
        message: String,
    },
    /// The container has no `from`.
    #[error("the container has no image: start the chain with from(address)")]
    NoImage,
    /// A result was asked of a container with no `with_exec`.
    #[error("the container has no with_exec to take {0} from")]
    NoExec(&'static str),
    /// The last exec exited with a non-zero code.
    #[error("process {command} exited with code {exit_code}; stderr ends with:\n{stderr_tail}")]
    ExecFailed {
        /// The scrubbed command line.
        command: String,
        /// The exit code (128 + signal for a signal).
        exit_code: i32,
        /// The scrubbed end of stderr.
        stderr_tail: String,
    },
    /// A file or directory is missing in a container or on the host.
    #[error("{path}: no such file or directory")]
    NotFound {
        /// The missing path.
        path: String,
    },
    /// A path is not of the kind asked for.
    #[error("{path} is not a {expected}")]
    WrongKind {
        /// The path.
        path: String,
        /// "file" or "directory".
        expected: &'static str,
    },
    /// The host socket of a `with_unix_socket` mount is missing or is not a unix socket
    /// (checked when an exec that mounts it runs).
    #[error("the unix socket mounted at {target} is unavailable: {host}: {reason}")]
    SocketUnavailable {
        /// The mount path in the container.
        target: String,
        /// The host path.
        host: String,
        /// "no such file or directory", "not a unix socket", ...
        reason: String,
    },
    /// A cache volume key was empty.
    #[error("a cache volume key cannot be empty")]
    EmptyCacheKey,
    /// An exec that could see secrets wrote one into a cache volume; the files holding it were
    /// removed from the volume.
    #[error(
        "{command} wrote a secret into cache volume {volume:?}: {leaks}; removed, since the \
         volume outlives the container"
    )]
    SecretInCacheVolume {
        /// The exec's command line (scrubbed).
        command: String,
        /// The volume's key.
        volume: String,
        /// Which secret went where (labels and paths in the volume, scrubbed; never a value).
        leaks: String,
    },
    /// The OCI runtime could not run the container.
    #[error("the OCI runtime {runtime} failed: {message}")]
    Runtime {
        /// `runc` or `crun`.
        runtime: String,
        /// The scrubbed reason.
        message: String,
    },
    /// The runtime was named wrongly in `HUSH_RUNTIME`.
    #[error("HUSH_RUNTIME must be runc or crun, not {0:?}")]
    BadRuntime(String),
    /// The executor shim failed.
    #[error("the exec shim failed: {0}")]
    Shim(String),
    /// Running containers needs root.
    #[error("running containers needs root (rootless execution is not supported yet)")]
    NotRoot,
    /// An I/O error, with what was being done.
    #[error("cannot {context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: io::Error,
    },
}

impl EngineError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}

/// `Result` with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
