//! A hush session (one `hush` invocation, or one SDK connection): the secret store, and the
//! scrubber that learns every secret the store resolves or is given.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hush_scrub::{Added, Scrubber};
use hush_secrets::{
    hush_home, open_home, HomeError, MacKey, MacKeyError, Registry, Secret, SecretError,
    SecretStore,
};

/// Receives the session's warnings (never containing a secret value).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What a session is made of.
pub struct SessionConfig {
    /// The providers.
    pub registry: Registry,
    /// Largest secret in bytes.
    pub limit: usize,
    /// The state directory (MAC key, cache, images).
    pub home: PathBuf,
    /// Where warnings go.
    pub warnings: WarningSink,
}

impl Default for SessionConfig {
    /// Built-in providers, the default limit, `hush_home()`, warnings on stderr.
    fn default() -> Self {
        Self {
            registry: Registry::builtin(),
            limit: hush_secrets::DEFAULT_LIMIT,
            home: hush_home(),
            warnings: Arc::new(|w| eprintln!("hush: warning: {w}")),
        }
    }
}

/// One session's secrets and scrubber.
pub struct Session {
    store: SecretStore,
    scrubber: Arc<Scrubber>,
    home: PathBuf,
    mac_key: OnceLock<MacKey>,
    warnings: WarningSink,
}

impl Session {
    /// Starts a session.
    pub fn new(config: SessionConfig) -> Arc<Self> {
        let store = SecretStore::new(config.registry, config.limit);
        let scrubber = Arc::new(Scrubber::new());
        let learner = scrubber.clone();
        let warned = Mutex::new(HashSet::new());
        let warnings = config.warnings.clone();
        store.observe(Arc::new(move |secret: &Secret| {
            if learner.add_secret(secret.expose()) == Added::TooShort
                && warned.lock().unwrap().insert(secret.label())
            {
                warnings(&format!(
                    "secret {} is shorter than 4 bytes and is not scrubbed from output",
                    secret.label()
                ));
            }
        }));
        Arc::new(Self {
            store,
            scrubber,
            home: config.home,
            mac_key: OnceLock::new(),
            warnings: config.warnings,
        })
    }

    /// The secret store.
    pub fn store(&self) -> &SecretStore {
        &self.store
    }

    /// The session-wide scrubber.
    pub fn scrubber(&self) -> &Arc<Scrubber> {
        &self.scrubber
    }

    /// The state directory, created (mode 0700) if missing, and refused if another user could
    /// control it or what hush keeps in it (see [`open_home`]); checked on each call.
    pub fn home(&self) -> Result<&Path, HomeError> {
        open_home(&self.home)?;
        Ok(&self.home)
    }

    /// Where the session's warnings go (they never contain a secret value).
    pub fn warnings(&self) -> &WarningSink {
        &self.warnings
    }

    /// Resolves a provider URI (once per session) and teaches the scrubber its value.
    pub async fn resolve(&self, uri: &str) -> Result<Secret, SecretError> {
        self.store.resolve(uri).await
    }

    /// Makes a secret from a value and teaches the scrubber its value.
    pub fn set_secret(&self, name: &str, plaintext: &[u8]) -> Result<Secret, SecretError> {
        self.store.set_secret(name, plaintext)
    }

    /// Scrubs a whole text (an error message, a result) of every secret of the session.
    pub fn scrub_text(&self, text: &str) -> String {
        String::from_utf8_lossy(&self.scrubber.scrub(text.as_bytes())).into_owned()
    }

    /// The MAC key for cache digests, loaded or created on first use in the checked home.
    pub fn mac_key(&self) -> Result<&MacKey, MacKeyError> {
        if let Some(key) = self.mac_key.get() {
            return Ok(key);
        }
        let key = MacKey::load_or_create(self.home()?)?;
        Ok(self.mac_key.get_or_init(|| key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(warnings: WarningSink) -> Arc<Session> {
        Session::new(SessionConfig {
            warnings,
            home: std::env::temp_dir().join("hush-session-test-unused"),
            ..SessionConfig::default()
        })
    }

    #[tokio::test]
    async fn every_resolved_or_set_secret_is_scrubbed() {
        let s = session(Arc::new(|_| {}));
        std::env::set_var("HUSH_SESSION_TEST_A", "alpha-secret-1");
        s.resolve("env://HUSH_SESSION_TEST_A").await.unwrap();
        s.set_secret("b", b"bravo-secret-2").unwrap();
        assert_eq!(
            s.scrub_text("a=alpha-secret-1 b=bravo-secret-2 c=plain"),
            "a=*** b=*** c=plain"
        );
    }

    #[tokio::test]
    async fn short_secrets_warn_once_by_name_never_value() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let s = session(Arc::new(move |w| sink.lock().unwrap().push(w.to_owned())));
        s.set_secret("tiny", b"xyz").unwrap();
        s.set_secret("tiny", b"xyz").unwrap();
        let seen = seen.lock().unwrap();
        assert_eq!(
            *seen,
            ["secret tiny is shorter than 4 bytes and is not scrubbed from output"]
        );
        assert_eq!(s.scrub_text("xyz"), "xyz");
    }
}
