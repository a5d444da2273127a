//! Errors of the API layer.

/// Why an API description or a call chain was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The description is not valid JSON of the expected shape.
    #[error("API description does not parse: {0}")]
    Syntax(String),
    /// The description is inconsistent.
    #[error("API description is invalid at {0}")]
    Invalid(String),
    /// A call chain does not fit the API.
    #[error("{0}")]
    Chain(String),
}
