//! Typed errors of the Dockerfile frontend.

/// A Dockerfile, flag or build error. Messages never hold secret values: only secret IDs,
/// instruction names, paths and line numbers.
#[derive(Debug, thiserror::Error)]
pub enum DockerfileError {
    /// The Dockerfile cannot be parsed.
    #[error("Dockerfile line {line}: {message}")]
    Parse {
        /// 1-based line of the instruction.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An instruction hush does not support.
    #[error("Dockerfile line {line}: unsupported instruction {instruction}")]
    Unsupported {
        /// 1-based line of the instruction.
        line: usize,
        /// The instruction keyword, upper-cased.
        instruction: String,
    },
    /// A `RUN --mount` value is invalid (BuildKit's wording where it has one).
    #[error("Dockerfile line {line}: {message}")]
    Mount {
        /// 1-based line of the RUN instruction.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A `--secret`, `--ssh` or `--build-arg` flag value is invalid.
    #[error("{0}")]
    Flag(String),
    /// A required secret was not given (`secret ID: not found`, as BuildKit says).
    #[error("Dockerfile line {line}: secret {id}: not found")]
    SecretNotFound {
        /// 1-based line of the RUN instruction.
        line: usize,
        /// The secret ID.
        id: String,
    },
    /// A required SSH agent was not forwarded (BuildKit's wording: `no SSH key "ID" forwarded
    /// from the client` when none was, `unset ssh forward key ID` when others were).
    #[error("Dockerfile line {line}: {}", ssh_missing(id, *none_forwarded))]
    SshNotFound {
        /// 1-based line of the RUN instruction.
        line: usize,
        /// The `--ssh` ID.
        id: String,
        /// Whether no agent was forwarded at all.
        none_forwarded: bool,
    },
    /// A secret's value would be stored in the image; nothing is stored.
    #[error("secret {secret} would be stored in the image ({place}); hush stores no secret values, so the image was not stored")]
    SecretInImage {
        /// The secret's ID.
        secret: String,
        /// Where it was found.
        place: String,
    },
    /// The build failed (a step, the engine, the image store).
    #[error("{0}")]
    Build(String),
}

fn ssh_missing(id: &str, none_forwarded: bool) -> String {
    if none_forwarded {
        format!("no SSH key {id:?} forwarded from the client")
    } else {
        format!("unset ssh forward key {id}")
    }
}

/// Result alias of this crate.
pub type Result<T, E = DockerfileError> = std::result::Result<T, E>;

pub(crate) fn parse_err(line: usize, message: impl Into<String>) -> DockerfileError {
    DockerfileError::Parse {
        line,
        message: message.into(),
    }
}
