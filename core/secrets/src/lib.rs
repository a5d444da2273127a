//! hush's secrets core: secret values, the provider URI grammar, providers, the session store
//! and cache digests.

mod credential;
mod digest;
mod error;
mod home;
mod provider;
pub mod providers;
mod secret;
mod store;
mod uri;
mod value;

pub use credential::CredentialSink;
pub use digest::{CacheDigest, MacKey, MacKeyError};
pub use error::{describe_causes, ErrorKind, Failure, SecretError};
pub use home::{ensure_private_dir, hush_home, open_home, HomeError, HomeProblem};
pub use provider::{Provider, Registry, ResolveContext};
pub use secret::{Origin, Secret};
pub use store::{Observer, SecretStore, DEFAULT_LIMIT};
pub use uri::{SecretUri, Trim, SHOWN_PARAMS};
pub use value::{LimitExceeded, SecretBuf, SecretBytes};

impl Registry {
    /// The built-in providers: `env`, `file`, `cmd`, and `vault` and `op` configured from the
    /// environment (see [`providers::VaultConfig::from_env`] and
    /// [`providers::OpConfig::from_env`]; neither reads a file or connects before its first
    /// resolution).
    pub fn builtin() -> Self {
        let mut registry = Self::new();
        registry.register(std::sync::Arc::new(providers::EnvProvider));
        registry.register(std::sync::Arc::new(providers::FileProvider));
        registry.register(std::sync::Arc::new(providers::CmdProvider));
        registry.register(std::sync::Arc::new(providers::VaultProvider::from_env()));
        registry.register(std::sync::Arc::new(providers::OpProvider::from_env()));
        registry
    }
}
