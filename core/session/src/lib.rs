//! A hush session (one `hush` invocation, or one SDK connection): the secret store, and the
//! scrubber that learns every secret the store resolves or is given.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use hush_console::Console;
use hush_scrub::{Added, Scrubber};
use hush_secrets::{
    hush_home, open_home, HomeError, MacKey, MacKeyError, Registry, Secret, SecretError,
    SecretStore,
};

/// Receives the session's warnings, already scrubbed of every secret the session knows.
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// What a session is made of.
pub struct SessionConfig {
    /// The providers.
    pub registry: Registry,
    /// Largest secret in bytes.
    pub limit: usize,
    /// The state directory (MAC key, cache, images).
    pub home: PathBuf,
    /// Where warnings go; `None`: the session console's stderr.
    pub warnings: Option<WarningSink>,
}

impl Default for SessionConfig {
    /// Built-in providers, the default limit, `hush_home()`, warnings on stderr.
    fn default() -> Self {
        Self {
            registry: Registry::builtin(),
            limit: hush_secrets::DEFAULT_LIMIT,
            home: hush_home(),
            warnings: None,
        }
    }
}

/// One session's secrets and scrubber.
pub struct Session {
    store: SecretStore,
    scrubber: Arc<Scrubber>,
    console: Console,
    home: PathBuf,
    mac_key: OnceLock<MacKey>,
    warnings: WarningSink,
}

impl Session {
    /// Starts a session.
    pub fn new(config: SessionConfig) -> Arc<Self> {
        let store = SecretStore::new(config.registry, config.limit);
        let scrubber = Arc::new(Scrubber::new());
        let console = Console::new(scrubber.clone());
        let sink = config.warnings.unwrap_or_else(|| {
            let console = console.clone();
            Arc::new(move |w: &str| console.warn(w))
        });
        // Whatever the sink, a warning reaches it scrubbed.
        let scrub = scrubber.clone();
        let warnings: WarningSink =
            Arc::new(move |w: &str| sink(&String::from_utf8_lossy(&scrub.scrub(w.as_bytes()))));
        let learner = scrubber.clone();
        let warned = Mutex::new(HashSet::new());
        let observed = warnings.clone();
        store.observe(Arc::new(move |secret: &Secret| {
            if learner.add_secret(secret.expose()) == Added::TooShort
                && warned.lock().unwrap().insert(secret.label())
            {
                observed(&format!(
                    "secret {} is shorter than 4 bytes and is not scrubbed from output",
                    secret.label()
                ));
            }
        }));
        Arc::new(Self {
            store,
            scrubber,
            console,
            home: config.home,
            mac_key: OnceLock::new(),
            warnings,
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

    /// Where the session prints: stdout and stderr through its scrubber.
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// The state directory, created (mode 0700) if missing, and refused if another user could
    /// control it or what hush keeps in it (see [`open_home`]); checked on each call.
    pub fn home(&self) -> Result<&Path, HomeError> {
        open_home(&self.home)?;
        Ok(&self.home)
    }

    /// Where the session's warnings go (scrubbed on the way).
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
            warnings: Some(warnings),
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

    #[tokio::test]
    async fn warnings_reach_every_sink_scrubbed() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let s = session(Arc::new(move |w| sink.lock().unwrap().push(w.to_owned())));
        let text = "written to /opt/warning-canary-31337/x";
        // Control: before the value is a secret, the sink sees it.
        (s.warnings())(text);
        s.set_secret("w", b"warning-canary-31337").unwrap();
        (s.warnings())(text);
        assert_eq!(*seen.lock().unwrap(), [text, "written to /opt/***/x"]);
    }
}
