//! The registry client's error type.

use hush_image::ImageError;

/// Everything that can go wrong in a pull. Messages name the registry (`host[:port]`) and what
/// was asked for; they never contain a password, a token or an `Authorization` header.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry does not have the repository, tag or manifest.
    #[error("{registry}: {what} not found{}", in_parens(.detail))]
    NotFound {
        /// The registry, `host[:port]`.
        registry: String,
        /// What was asked for (`manifest x:1`, `blob sha256:...`).
        what: String,
        /// The registry's own explanation, if it gave one.
        detail: Option<String>,
    },
    /// The registry refused the credentials, or wants credentials none were found for.
    #[error("{registry}: unauthorized: {reason}")]
    Unauthorized {
        /// The registry, `host[:port]`.
        registry: String,
        /// Why: no credentials, credentials refused, token endpoint refused ...
        reason: String,
    },
    /// The registry cannot be reached (connection refused, timeout, DNS, TLS).
    #[error("registry {registry} is unreachable: {reason}")]
    Unreachable {
        /// The registry, `host[:port]`.
        registry: String,
        /// The transport's reason.
        reason: String,
    },
    /// Content from the registry does not hash to (or is not as long as) its digest.
    #[error("{registry}: {what} does not match its digest: {reason}")]
    DigestMismatch {
        /// The registry, `host[:port]`.
        registry: String,
        /// What was downloaded (`blob sha256:...`, `manifest x:1`).
        what: String,
        /// The expected and actual digest or size.
        reason: String,
    },
    /// The registry answered something this client does not understand or accept (an
    /// unexpected status, a malformed manifest, an unsupported media type, no manifest for
    /// this platform).
    #[error("{registry}: {reason}")]
    Protocol {
        /// The registry, `host[:port]`.
        registry: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration is unusable: a bad mirror URL, a malformed Docker `config.json`, a
    /// credential helper that failed.
    #[error("registry configuration: {0}")]
    Config(String),
    /// The local image store failed, or the reference is malformed.
    #[error(transparent)]
    Store(#[from] ImageError),
}

impl RegistryError {
    /// Whether the error is the caller's fault (a malformed reference), as opposed to a failure
    /// of the work; command-line front ends map this to a usage exit code.
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_usage())
    }

    /// Whether a mirror failing this way should make the pull fall back to the origin.
    pub(crate) fn falls_back(&self) -> bool {
        matches!(
            self,
            Self::NotFound { .. } | Self::Unreachable { .. } | Self::Unauthorized { .. }
        )
    }
}

fn in_parens(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}
