//! The provider trait and the registry of schemes.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::credential::CredentialSink;
use crate::error::{Failure, SecretError};
use crate::uri::{SecretUri, Trim};
use crate::value::SecretBytes;

/// What a provider may need while resolving.
#[derive(Debug, Clone)]
pub struct ResolveContext {
    /// Largest accepted value in bytes; providers stop reading past it.
    pub limit: usize,
    /// Where the provider registers every credential it reads (tokens, passwords) before
    /// first sending it, so that an error echoing it is scrubbed.
    pub credentials: CredentialSink,
}

#[cfg(test)]
impl ResolveContext {
    /// A context whose credentials go to a store nobody observes.
    pub(crate) fn unobserved(limit: usize) -> Self {
        Self {
            limit,
            credentials: crate::SecretStore::new(Registry::new(), limit).credentials(),
        }
    }
}

/// A source of secrets for one URI scheme.
///
/// Implementations read the value named by the URI's path. They never put the value into an
/// error, a log line or anything else that outlives the returned [`SecretBytes`], and they
/// register every credential they use with [`ResolveContext::credentials`] before using it.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The scheme this provider serves, e.g. `env`.
    fn scheme(&self) -> &str;

    /// Query parameters accepted beyond `cacheKey`, `ttl` and `trim`.
    fn params(&self) -> &[&str] {
        &[]
    }

    /// Trimming applied when the URI has no `trim` parameter.
    fn default_trim(&self) -> Trim {
        Trim::None
    }

    /// Checks the URI's address and parameters without resolving; the reason is shown to the
    /// user in an `InvalidUri` error.
    fn check(&self, _uri: &SecretUri) -> Result<(), String> {
        Ok(())
    }

    /// Resolves the value.
    async fn resolve(&self, uri: &SecretUri, ctx: &ResolveContext) -> Result<SecretBytes, Failure>;
}

/// The providers known to a session, by scheme.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the provider for its scheme.
    pub fn register(&mut self, provider: Arc<dyn Provider>) {
        self.providers
            .insert(provider.scheme().to_owned(), provider);
    }

    /// The schemes served, sorted.
    pub fn schemes(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Parses `raw` and checks it against the provider of its scheme.
    pub fn parse(&self, raw: &str) -> Result<(SecretUri, Arc<dyn Provider>), SecretError> {
        let uri = SecretUri::parse(raw)?;
        let provider = self.providers.get(uri.scheme()).ok_or_else(|| {
            uri.invalid(format!(
                "unknown scheme {:?} (known: {})",
                uri.scheme(),
                self.schemes().collect::<Vec<_>>().join(", ")
            ))
        })?;
        if let Some(unknown) = uri
            .extra()
            .keys()
            .find(|k| !provider.params().contains(&k.as_str()))
        {
            let mut known = vec!["cacheKey", "ttl", "trim"];
            known.extend(provider.params());
            return Err(uri.invalid(format!(
                "unknown parameter {unknown:?} for {}:// (known: {})",
                uri.scheme(),
                known.join(", ")
            )));
        }
        provider.check(&uri).map_err(|reason| uri.invalid(reason))?;
        Ok((uri, provider.clone()))
    }
}
