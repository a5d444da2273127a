//! The session secret store: every URI resolved at most once per session (unless `ttl` says
//! otherwise), many at once, and `set_secret` values.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::credential::CredentialSink;
use crate::error::{Failure, SecretError};
use crate::provider::{Registry, ResolveContext};
use crate::secret::{Origin, Secret};
use crate::value::SecretBytes;

/// Default largest secret in bytes (BuildKit's limit).
pub const DEFAULT_LIMIT: usize = 512_000;

/// Called with every secret the store resolves or is given, e.g. to teach a scrubber.
pub type Observer = Arc<dyn Fn(&Secret) + Send + Sync>;

type Slot = Arc<tokio::sync::Mutex<Option<(Secret, Instant)>>>;

/// Resolves and remembers secrets for one session.
pub struct SecretStore {
    registry: Registry,
    limit: usize,
    slots: Mutex<HashMap<String, Slot>>,
    observers: Arc<Mutex<Vec<Observer>>>,
}

impl SecretStore {
    /// A store over `registry` accepting values of at most `limit` bytes.
    pub fn new(registry: Registry, limit: usize) -> Self {
        Self {
            registry,
            limit,
            slots: Mutex::new(HashMap::new()),
            observers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The registry of providers.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The size limit in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Where the providers of this store, and any client the session runs (registries, git,
    /// SSH agents), register the credentials they use: observers see them as secrets.
    pub fn credentials(&self) -> CredentialSink {
        CredentialSink::new(self.observers.clone())
    }

    /// Adds an observer, called for every secret and credential from now on and once for each
    /// resolved secret already known.
    pub fn observe(&self, observer: Observer) {
        for slot in self.slots.lock().unwrap().values() {
            if let Ok(guard) = slot.try_lock() {
                if let Some((secret, _)) = guard.as_ref() {
                    observer(secret);
                }
            }
        }
        self.observers.lock().unwrap().push(observer);
    }

    fn notify(&self, secret: &Secret) {
        let observers = self.observers.lock().unwrap().clone();
        for observer in observers {
            observer(secret);
        }
    }

    /// Checks `raw` against the grammar and the registry without resolving it.
    pub fn check(&self, raw: &str) -> Result<(), SecretError> {
        self.registry.parse(raw).map(|_| ())
    }

    /// Resolves `raw`, at most once per session unless its `ttl` has passed.
    pub async fn resolve(&self, raw: &str) -> Result<Secret, SecretError> {
        let (uri, provider) = self.registry.parse(raw)?;
        let slot = self
            .slots
            .lock()
            .unwrap()
            .entry(uri.resolution_key())
            .or_default()
            .clone();
        let mut guard = slot.lock().await;
        if let Some((secret, at)) = guard.as_ref() {
            let fresh = uri.ttl().is_none_or(|ttl| at.elapsed() < ttl);
            if fresh {
                return Ok(with_cache_key(secret, uri.cache_key()));
            }
        }
        let ctx = ResolveContext {
            limit: self.limit,
            credentials: self.credentials(),
        };
        let value = provider
            .resolve(&uri, &ctx)
            .await
            .map_err(|f| f.at(&uri.redacted(), self.limit))?;
        let trim = uri.trim().unwrap_or_else(|| provider.default_trim());
        let value = if trim.apply(value.expose()).len() == value.len() {
            value
        } else {
            value.map(|b| trim.apply(b))
        };
        let cache_key = uri.cache_key().map(str::to_owned);
        let secret = Secret::new(Origin::Uri(uri), cache_key, value);
        *guard = Some((secret.clone(), Instant::now()));
        drop(guard);
        self.notify(&secret);
        Ok(secret)
    }

    /// Resolves many URIs concurrently; results are in the order given.
    pub async fn resolve_all<S: AsRef<str>>(&self, raws: &[S]) -> Vec<Result<Secret, SecretError>> {
        let futures = raws.iter().map(|raw| self.resolve(raw.as_ref()));
        futures::future::join_all(futures).await
    }

    /// Makes a secret from a value supplied by the caller.
    pub fn set_secret(&self, name: &str, plaintext: &[u8]) -> Result<Secret, SecretError> {
        if name.is_empty() {
            return Err(SecretError::InvalidUri {
                uri: String::new(),
                reason: "a set_secret name cannot be empty".into(),
            });
        }
        if plaintext.len() > self.limit {
            return Err(Failure::TooLarge.at(name, self.limit));
        }
        let secret = Secret::new(
            Origin::Named(name.to_owned()),
            None,
            SecretBytes::new(plaintext),
        );
        self.notify(&secret);
        Ok(secret)
    }
}

/// The same resolved value under another URI's `cacheKey`.
fn with_cache_key(secret: &Secret, cache_key: Option<&str>) -> Secret {
    if secret.cache_key() == cache_key {
        return secret.clone();
    }
    Secret::new(
        secret.origin().clone(),
        cache_key.map(str::to_owned),
        SecretBytes::new(secret.expose()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Provider;
    use crate::uri::SecretUri;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Counts resolutions and answers with the count, after a short pause.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl Provider for Counting {
        fn scheme(&self) -> &str {
            "count"
        }
        async fn resolve(
            &self,
            uri: &SecretUri,
            _: &ResolveContext,
        ) -> Result<SecretBytes, Failure> {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(SecretBytes::new(format!("{}-{n}\n", uri.path()).as_bytes()))
        }
    }

    fn store() -> (SecretStore, Arc<Counting>) {
        let counting = Arc::new(Counting::default());
        let mut registry = Registry::new();
        registry.register(counting.clone());
        (SecretStore::new(registry, 100), counting)
    }

    #[tokio::test]
    async fn resolves_each_uri_once_even_concurrently() {
        let (store, counting) = store();
        let results = store
            .resolve_all(&[
                "count://a",
                "count://a?cacheKey=k",
                "count://b",
                "count://a",
            ])
            .await;
        assert_eq!(counting.0.load(Ordering::SeqCst), 2);
        let values: Vec<_> = results
            .iter()
            .map(|r| r.as_ref().unwrap().expose().to_vec())
            .collect();
        assert_eq!(values[0], values[1]);
        assert_eq!(values[0], values[3]);
        assert_ne!(values[0], values[2]);
        assert_eq!(results[1].as_ref().unwrap().cache_key(), Some("k"));
        assert_eq!(results[0].as_ref().unwrap().cache_key(), None);
    }

    #[tokio::test]
    async fn concurrent_resolution_overlaps() {
        let (store, _) = store();
        let uris: Vec<String> = (0..20).map(|i| format!("count://s{i}")).collect();
        let started = Instant::now();
        let results = store.resolve_all(&uris).await;
        assert!(results.iter().all(Result::is_ok));
        // 20 sequential resolutions would take 1 s.
        assert!(started.elapsed() < Duration::from_millis(900));
    }

    #[tokio::test]
    async fn ttl_expiry_resolves_again() {
        let (store, counting) = store();
        let a = store.resolve("count://t?ttl=100ms").await.unwrap();
        let b = store.resolve("count://t?ttl=100ms").await.unwrap();
        assert_eq!(a.expose(), b.expose());
        tokio::time::sleep(Duration::from_millis(150)).await;
        let c = store.resolve("count://t?ttl=100ms").await.unwrap();
        assert_ne!(a.expose(), c.expose());
        assert_eq!(counting.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn trim_parameter_applies() {
        let (store, _) = store();
        assert_eq!(store.resolve("count://x").await.unwrap().expose(), b"x-1\n");
        assert_eq!(
            store
                .resolve("count://y?trim=newline")
                .await
                .unwrap()
                .expose(),
            b"y-2"
        );
    }

    #[tokio::test]
    async fn unknown_scheme_and_parameter_are_invalid() {
        let (store, counting) = store();
        let err = store.resolve("nope://x").await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidUri);
        assert!(
            err.to_string()
                .contains("unknown scheme \"nope\" (known: count)"),
            "{err}"
        );
        let err = store.resolve("count://x?timeout=1s").await.unwrap_err();
        assert!(
            err.to_string().contains("unknown parameter \"timeout\""),
            "{err}"
        );
        assert_eq!(counting.0.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn observers_see_every_secret() {
        let (store, _) = store();
        store.resolve("count://before").await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        store.observe(Arc::new(move |s: &Secret| {
            sink.lock().unwrap().push(s.label())
        }));
        store.resolve("count://after").await.unwrap();
        store.set_secret("named", b"value").unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            ["count://before", "count://after", "named"]
        );
    }

    #[tokio::test]
    async fn set_secret_checks_size_and_name() {
        let (store, _) = store();
        let s = store.set_secret("gh", b"0123456789").unwrap();
        assert_eq!((s.name(), s.provider(), s.len()), (Some("gh"), "set", 10));
        let err = store.set_secret("big", &[b'x'; 101]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret \"big\" is larger than the limit of 100 bytes"
        );
        assert!(store.set_secret("", b"v").is_err());
    }
}
