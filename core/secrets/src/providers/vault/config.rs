//! [`VaultConfig`]: where the Vault provider connects and how it logs in.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

/// Default time to connect to Vault.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default time for one whole request to Vault.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of the `vault://` provider, normally read from the environment by
/// [`VaultConfig::from_env`]. `Debug` shows which credentials are set, never their values.
#[derive(Clone)]
pub struct VaultConfig {
    /// The server's base URL (`VAULT_ADDR`), e.g. `https://vault.example.com:8200`.
    pub addr: Option<String>,
    /// A token (`VAULT_TOKEN`); used before any other credential.
    pub token: Option<Zeroizing<String>>,
    /// AppRole credentials, used when there is no token.
    pub approle: Option<AppRole>,
    /// A file holding a token, read when there is neither a token nor AppRole credentials:
    /// `~/.vault-token`, where `vault login` leaves it.
    pub token_file: Option<PathBuf>,
    /// The namespace (`VAULT_NAMESPACE`), sent as `X-Vault-Namespace` with every request.
    pub namespace: Option<String>,
    /// A PEM bundle of CA certificates trusted besides the system's (`VAULT_CACERT`).
    pub ca_cert: Option<PathBuf>,
    /// The KV mount that paths not starting with a mount are read under
    /// (`VAULT_PATH_PREFIX`, default `secret`).
    pub path_prefix: String,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long one request may take in all (`VAULT_CLIENT_TIMEOUT`, default 30 s).
    pub request_timeout: Duration,
}

/// Credentials for Vault's AppRole login.
#[derive(Clone)]
pub struct AppRole {
    /// The role id (`VAULT_APPROLE_ROLE_ID`).
    pub role_id: Zeroizing<String>,
    /// The secret id (`VAULT_APPROLE_SECRET_ID`); roles may be set up without one.
    pub secret_id: Option<Zeroizing<String>>,
    /// Where the AppRole auth method is mounted (`VAULT_APPROLE_MOUNT_PATH`, default
    /// `approle`).
    pub mount: String,
}

impl Default for VaultConfig {
    /// No server, no credentials, `secret` as the path prefix and the default timeouts.
    fn default() -> Self {
        Self {
            addr: None,
            token: None,
            approle: None,
            token_file: None,
            namespace: None,
            ca_cert: None,
            path_prefix: "secret".into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl VaultConfig {
    /// Reads `VAULT_ADDR`, `VAULT_TOKEN`, `VAULT_APPROLE_ROLE_ID`, `VAULT_APPROLE_SECRET_ID`,
    /// `VAULT_APPROLE_MOUNT_PATH`, `VAULT_NAMESPACE`, `VAULT_CACERT`, `VAULT_PATH_PREFIX` and
    /// `VAULT_CLIENT_TIMEOUT` (seconds, or a duration like `1m`); `~/.vault-token` is the
    /// token file. Empty variables count as unset. Nothing is read from disk here.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Builds the configuration from a variable lookup (the environment in
    /// [`VaultConfig::from_env`]).
    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Self {
        let defaults = Self::default();
        let approle = var("VAULT_APPROLE_ROLE_ID").map(|role_id| AppRole {
            role_id: Zeroizing::new(role_id),
            secret_id: var("VAULT_APPROLE_SECRET_ID").map(Zeroizing::new),
            mount: var("VAULT_APPROLE_MOUNT_PATH").unwrap_or_else(|| "approle".into()),
        });
        let request_timeout = var("VAULT_CLIENT_TIMEOUT")
            .and_then(|t| parse_timeout(&t))
            .unwrap_or(defaults.request_timeout);
        Self {
            addr: var("VAULT_ADDR"),
            token: var("VAULT_TOKEN").map(Zeroizing::new),
            approle,
            token_file: var("HOME").map(|home| PathBuf::from(home).join(".vault-token")),
            namespace: var("VAULT_NAMESPACE"),
            ca_cert: var("VAULT_CACERT").map(PathBuf::from),
            path_prefix: var("VAULT_PATH_PREFIX").unwrap_or(defaults.path_prefix),
            request_timeout,
            ..defaults
        }
    }
}

/// `30` (seconds, as the vault CLI takes it) or a duration such as `1m30s`; not zero.
fn parse_timeout(text: &str) -> Option<Duration> {
    let parsed = match text.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(text).ok()?,
    };
    (!parsed.is_zero()).then_some(parsed)
}

fn set(value: bool) -> &'static str {
    if value {
        "<set>"
    } else {
        "<unset>"
    }
}

impl fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultConfig")
            .field("addr", &self.addr)
            .field("token", &set(self.token.is_some()))
            .field("approle", &self.approle)
            .field("token_file", &self.token_file)
            .field("namespace", &self.namespace)
            .field("ca_cert", &self.ca_cert)
            .field("path_prefix", &self.path_prefix)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl fmt::Debug for AppRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppRole")
            .field("role_id", &"<set>")
            .field("secret_id", &set(self.secret_id.is_some()))
            .field("mount", &self.mount)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> VaultConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        VaultConfig::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_the_documented_variables() {
        let c = config(&[
            ("VAULT_ADDR", "https://vault:8200"),
            ("VAULT_TOKEN", "hvs.tok"),
            ("VAULT_APPROLE_ROLE_ID", "role"),
            ("VAULT_APPROLE_SECRET_ID", "sid"),
            ("VAULT_APPROLE_MOUNT_PATH", "ci-approle"),
            ("VAULT_NAMESPACE", "team-a"),
            ("VAULT_CACERT", "/etc/vault/ca.pem"),
            ("VAULT_PATH_PREFIX", "kv"),
            ("VAULT_CLIENT_TIMEOUT", "90"),
            ("HOME", "/home/u"),
        ]);
        assert_eq!(c.addr.as_deref(), Some("https://vault:8200"));
        assert_eq!(c.token.as_deref().map(String::as_str), Some("hvs.tok"));
        let role = c.approle.as_ref().unwrap();
        assert_eq!(
            (role.role_id.as_str(), role.mount.as_str()),
            ("role", "ci-approle")
        );
        assert_eq!(role.secret_id.as_deref().map(String::as_str), Some("sid"));
        assert_eq!(c.namespace.as_deref(), Some("team-a"));
        assert_eq!(c.ca_cert, Some(PathBuf::from("/etc/vault/ca.pem")));
        assert_eq!(c.path_prefix, "kv");
        assert_eq!(c.request_timeout, Duration::from_secs(90));
        assert_eq!(c.token_file, Some(PathBuf::from("/home/u/.vault-token")));
    }

    #[test]
    fn defaults_apply_when_variables_are_unset() {
        let c = config(&[("VAULT_APPROLE_ROLE_ID", "role")]);
        assert_eq!(c.addr, None);
        assert_eq!(c.path_prefix, "secret");
        assert_eq!(c.approle.unwrap().mount, "approle");
        assert_eq!(c.request_timeout, DEFAULT_REQUEST_TIMEOUT);
        assert_eq!(c.connect_timeout, DEFAULT_CONNECT_TIMEOUT);
        assert_eq!(c.token_file, None);
    }

    #[test]
    fn client_timeout_takes_durations_and_ignores_nonsense() {
        assert_eq!(
            config(&[("VAULT_CLIENT_TIMEOUT", "1m30s")]).request_timeout,
            Duration::from_secs(90)
        );
        for bad in ["soon", "0"] {
            assert_eq!(
                config(&[("VAULT_CLIENT_TIMEOUT", bad)]).request_timeout,
                DEFAULT_REQUEST_TIMEOUT
            );
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let c = config(&[
            ("VAULT_TOKEN", "hvs.token-value"),
            ("VAULT_APPROLE_ROLE_ID", "role-id-value"),
            ("VAULT_APPROLE_SECRET_ID", "secret-id-value"),
        ]);
        let shown = format!("{c:?}");
        for value in ["hvs.token-value", "role-id-value", "secret-id-value"] {
            assert!(!shown.contains(value), "{shown}");
        }
        assert!(shown.contains("token: \"<set>\""), "{shown}");
    }
}
