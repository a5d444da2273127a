//! The resolved secret handle.

use std::fmt;
use std::sync::Arc;

use crate::uri::SecretUri;
use crate::value::SecretBytes;

/// Where a secret came from.
#[derive(Clone, PartialEq, Eq)]
pub enum Origin {
    /// Resolved from a provider URI.
    Uri(SecretUri),
    /// Set by value with `set_secret(name, plaintext)`.
    Named(String),
    /// A credential hush uses itself (see [`crate::CredentialSink`]), by what it is, e.g.
    /// `VAULT_TOKEN`.
    Credential(String),
}

/// A resolved secret: cheap to clone, never printed.
///
/// `Debug` and `Display` show where it came from and its length, never the plaintext.
#[derive(Clone)]
pub struct Secret(Arc<Inner>);

struct Inner {
    origin: Origin,
    cache_key: Option<String>,
    value: SecretBytes,
}

impl Secret {
    pub(crate) fn new(origin: Origin, cache_key: Option<String>, value: SecretBytes) -> Self {
        Self(Arc::new(Inner {
            origin,
            cache_key,
            value,
        }))
    }

    /// Where the secret came from.
    pub fn origin(&self) -> &Origin {
        &self.0.origin
    }

    /// The name given to `set_secret`, if any.
    pub fn name(&self) -> Option<&str> {
        match &self.0.origin {
            Origin::Named(name) => Some(name),
            Origin::Uri(_) | Origin::Credential(_) => None,
        }
    }

    /// The provider URI, if any.
    pub fn uri(&self) -> Option<&SecretUri> {
        match &self.0.origin {
            Origin::Uri(uri) => Some(uri),
            Origin::Named(_) | Origin::Credential(_) => None,
        }
    }

    /// The provider scheme, `set` for `set_secret` secrets, `credential` for credentials.
    pub fn provider(&self) -> &str {
        match &self.0.origin {
            Origin::Uri(uri) => uri.scheme(),
            Origin::Named(_) => "set",
            Origin::Credential(_) => "credential",
        }
    }

    /// The `cacheKey` that replaces the value in cache keys, if any.
    pub fn cache_key(&self) -> Option<&str> {
        self.0.cache_key.as_deref()
    }

    /// Length of the plaintext in bytes.
    pub fn len(&self) -> usize {
        self.0.value.len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.0.value.is_empty()
    }

    /// The plaintext, for the exec or scrubber it is meant for.
    pub fn expose(&self) -> &[u8] {
        self.0.value.expose()
    }

    /// How people see this secret: its redacted URI, its name, or what credential it is.
    pub fn label(&self) -> String {
        match &self.0.origin {
            Origin::Uri(uri) => uri.redacted(),
            Origin::Named(name) | Origin::Credential(name) => name.clone(),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({:?}, {} bytes)", self.label(), self.len())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}
