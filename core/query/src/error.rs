//! Errors of query evaluation, classified for every binding.

use hush_api::ApiError;
use hush_engine::EngineError;
use hush_secrets::{ErrorKind, SecretError};

/// Why a query failed. Messages never contain secret values.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The chain does not fit the API (unknown field, missing or mistyped argument, bad id).
    #[error("{0}")]
    Invalid(String),
    /// A secret could not be resolved or made.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Building or evaluating a container failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] hush_image::ImageError),
    /// The registry client could not be set up.
    #[error(transparent)]
    Registry(#[from] hush_registry::RegistryError),
    /// A Dockerfile build failed.
    #[error(transparent)]
    Build(#[from] hush_dockerfile::DockerfileError),
    /// The hush home is not one hush may trust.
    #[error(transparent)]
    Home(#[from] hush_secrets::HomeError),
}

impl From<ApiError> for QueryError {
    fn from(err: ApiError) -> Self {
        Self::Invalid(err.to_string())
    }
}

/// The stable kind of a [`QueryError`], shared by the CLI and the SDKs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// Bad input (a chain, an argument, a URI).
    Invalid,
    /// A secret provider error of the given kind.
    Secret(ErrorKind),
    /// A command in a container failed (see the message for its exit code).
    Exec,
    /// Any other engine or image failure.
    Engine,
}

impl QueryError {
    /// The error's kind.
    pub fn kind(&self) -> QueryErrorKind {
        match self {
            Self::Invalid(_) => QueryErrorKind::Invalid,
            Self::Secret(e) if e.kind() == ErrorKind::InvalidUri => QueryErrorKind::Invalid,
            Self::Secret(e) => QueryErrorKind::Secret(e.kind()),
            Self::Engine(EngineError::ExecFailed { .. }) => QueryErrorKind::Exec,
            Self::Engine(e) if is_usage(e) => QueryErrorKind::Invalid,
            Self::Build(
                hush_dockerfile::DockerfileError::Parse { .. }
                | hush_dockerfile::DockerfileError::Unsupported { .. }
                | hush_dockerfile::DockerfileError::Mount { .. }
                | hush_dockerfile::DockerfileError::Flag(_),
            ) => QueryErrorKind::Invalid,
            Self::Engine(_)
            | Self::Image(_)
            | Self::Registry(_)
            | Self::Build(_)
            | Self::Home(_) => QueryErrorKind::Engine,
        }
    }
}

/// Engine errors caused by the arguments given, not by the work.
fn is_usage(err: &EngineError) -> bool {
    use EngineError as E;
    matches!(
        err,
        E::EmptyAddress
            | E::EmptyArgs
            | E::Nul { .. }
            | E::EmptyEnvName { .. }
            | E::BadEnvName { .. }
            | E::BadPath { .. }
            | E::BadMode { .. }
            | E::BadOwner { .. }
            | E::NoImage
            | E::NoExec(_)
    )
}
