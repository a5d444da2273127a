//! The typed errors of secret resolution. Messages name the URI and the reason, never a value.

use std::time::Duration;

/// Why a secret could not be had.
///
/// Every variant carries the URI as shown to people (see [`crate::SecretUri::redacted`]) and a
/// reason written by the provider; neither ever contains secret plaintext.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The URI does not follow the grammar, names an unknown scheme or parameter.
    #[error("invalid secret URI {uri:?}: {reason}")]
    InvalidUri { uri: String, reason: String },
    /// The provider answered that the secret does not exist.
    #[error("secret {uri:?} not found: {reason}")]
    NotFound { uri: String, reason: String },
    /// The provider refused access.
    #[error("permission denied for secret {uri:?}: {reason}")]
    PermissionDenied { uri: String, reason: String },
    /// The provider could not be reached.
    #[error("secret provider for {uri:?} is unreachable: {reason}")]
    Unreachable { uri: String, reason: String },
    /// The provider did not answer in time.
    #[error("secret {uri:?} timed out after {}", humantime::format_duration(*after))]
    Timeout { uri: String, after: Duration },
    /// The value is larger than the configured limit.
    #[error("secret {uri:?} is larger than the limit of {limit} bytes")]
    TooLarge { uri: String, limit: usize },
    /// Any other failure of the provider.
    #[error("secret provider failed for {uri:?}: {reason}")]
    Provider { uri: String, reason: String },
}

/// The kind of a [`SecretError`], stable across the bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidUri,
    NotFound,
    PermissionDenied,
    Unreachable,
    Timeout,
    TooLarge,
    Provider,
}

impl SecretError {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidUri { .. } => ErrorKind::InvalidUri,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Self::Unreachable { .. } => ErrorKind::Unreachable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::TooLarge { .. } => ErrorKind::TooLarge,
            Self::Provider { .. } => ErrorKind::Provider,
        }
    }
}

/// A provider's failure before the URI is attached: providers return this, the store names
/// the URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    NotFound(String),
    PermissionDenied(String),
    Unreachable(String),
    Timeout(Duration),
    TooLarge,
    Provider(String),
}

impl Failure {
    /// Attaches the (redacted) URI and the size limit in force.
    pub fn at(self, uri: &str, limit: usize) -> SecretError {
        let uri = uri.to_owned();
        match self {
            Self::NotFound(reason) => SecretError::NotFound { uri, reason },
            Self::PermissionDenied(reason) => SecretError::PermissionDenied { uri, reason },
            Self::Unreachable(reason) => SecretError::Unreachable { uri, reason },
            Self::Timeout(after) => SecretError::Timeout { uri, after },
            Self::TooLarge => SecretError::TooLarge { uri, limit },
            Self::Provider(reason) => SecretError::Provider { uri, reason },
        }
    }

    /// Maps an I/O error on a named object (a file, a program) to the matching kind.
    pub fn from_io(what: &str, err: &std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let reason = format!("{what}: {}", io_reason(err));
        match err.kind() {
            K::NotFound => Self::NotFound(reason),
            K::PermissionDenied => Self::PermissionDenied(reason),
            K::TimedOut => Self::Unreachable(reason),
            _ => Self::Provider(reason),
        }
    }
}

/// The OS's description of an I/O error without Rust's "(os error N)" suffix.
fn io_reason(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_lowercase(),
        None => text.to_lowercase(),
    }
}

/// The causes of `err` joined by `: `, most general first, without URLs and OS error numbers
/// (for messages about network failures).
pub fn describe_causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        let text = match text.find(" (os error") {
            Some(cut) => text[..cut].to_owned(),
            None => text,
        };
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        let text = err.to_string();
        match text.find(" for url (") {
            Some(cut) => text[..cut].to_owned(),
            None => text,
        }
    } else {
        parts.join(": ")
    }
}
