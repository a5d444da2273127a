//! The `op://` provider.

mod cli;
mod connect;

use std::ffi::OsString;
use std::fmt;
use std::sync::{Once, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::error::Failure;
use crate::provider::{Provider, ResolveContext};
use crate::uri::SecretUri;
use crate::value::SecretBytes;

/// Default time to connect to a Connect server.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Default time for one request to a Connect server, and for one run of `op read`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of the `op://` provider, normally read from the environment by
/// [`OpConfig::from_env`]. `Debug` never shows the token.
#[derive(Clone)]
pub struct OpConfig {
    /// The Connect server's URL (`OP_CONNECT_HOST`), e.g. `http://localhost:8080`.
    pub connect_host: Option<String>,
    /// The Connect server's access token (`OP_CONNECT_TOKEN`).
    pub connect_token: Option<Zeroizing<String>>,
    /// The directories searched for the `op` CLI, in `PATH` syntax.
    pub search_path: Option<OsString>,
    /// How long to wait for a connection to the Connect server.
    pub connect_timeout: Duration,
    /// How long one request to the Connect server may take in all.
    pub request_timeout: Duration,
    /// How long `op read` may run before it is killed with its process group.
    pub cli_timeout: Duration,
    /// The credentials the `op` CLI reads from the environment hush passes on, by variable:
    /// `OP_SERVICE_ACCOUNT_TOKEN`, sign-in sessions `OP_SESSION_*`, and `OP_CONNECT_TOKEN`.
    pub cli_credentials: Vec<(String, Zeroizing<String>)>,
}

impl Default for OpConfig {
    /// Neither Connect nor a CLI, and the default timeouts.
    fn default() -> Self {
        Self {
            connect_host: None,
            connect_token: None,
            search_path: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            cli_timeout: DEFAULT_REQUEST_TIMEOUT,
            cli_credentials: Vec::new(),
        }
    }
}

impl OpConfig {
    /// Reads `OP_CONNECT_HOST`, `OP_CONNECT_TOKEN`, `PATH`, and the CLI's credentials
    /// (`OP_SERVICE_ACCOUNT_TOKEN`, `OP_SESSION_*`); empty variables count as unset.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let cli_credentials = std::env::vars()
            .filter(|(name, value)| {
                !value.is_empty()
                    && (name.starts_with("OP_SESSION_")
                        || name == "OP_SERVICE_ACCOUNT_TOKEN"
                        || name == "OP_CONNECT_TOKEN")
            })
            .map(|(name, value)| (name, Zeroizing::new(value)))
            .collect();
        Self {
            connect_host: var("OP_CONNECT_HOST"),
            connect_token: var("OP_CONNECT_TOKEN").map(Zeroizing::new),
            search_path: std::env::var_os("PATH"),
            cli_credentials,
            ..Self::default()
        }
    }
}

impl fmt::Debug for OpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.connect_token.is_some() {
            "<set>"
        } else {
            "<unset>"
        };
        f.debug_struct("OpConfig")
            .field("connect_host", &self.connect_host)
            .field("connect_token", &token)
            .field("search_path", &self.search_path)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("cli_timeout", &self.cli_timeout)
            .field(
                "cli_credentials",
                &self
                    .cli_credentials
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The parts of an `op://` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference<'a> {
    vault: &'a str,
    item: &'a str,
    section: Option<&'a str>,
    field: &'a str,
}

impl<'a> Reference<'a> {
    /// Parses `VAULT/ITEM/FIELD` or `VAULT/ITEM/SECTION/FIELD`.
    fn parse(address: &'a str) -> Result<Self, String> {
        let parts: Vec<&str> = address.split('/').collect();
        let (vault, item, section, field) = match parts[..] {
            [vault, item, field] => (vault, item, None, field),
            [vault, item, section, field] => (vault, item, Some(section), field),
            _ => ("", "", None, ""),
        };
        if [vault, item, field, section.unwrap_or("-")].contains(&"") {
            return Err(format!(
                "{address:?} is not VAULT/ITEM/FIELD or VAULT/ITEM/SECTION/FIELD (names or ids, \
                 none empty)"
            ));
        }
        Ok(Self {
            vault,
            item,
            section,
            field,
        })
    }
}

/// `op://VAULT/ITEM/FIELD` and `op://VAULT/ITEM/SECTION/FIELD`: a field of a 1Password item.
///
/// Read through a 1Password Connect server when `OP_CONNECT_HOST` and `OP_CONNECT_TOKEN` are
/// set, else with the 1Password CLI (`op read --no-newline op://...`) when `op` is on PATH;
/// the CLI uses its own sign-in or `OP_SERVICE_ACCOUNT_TOKEN`. VAULT, ITEM, SECTION and FIELD
/// are names (titles, labels) or ids. `OP_CONNECT_TOKEN`, and the CLI's credentials in the
/// environment, are registered with [`ResolveContext::credentials`] before first use.
///
/// Through Connect, a VAULT or ITEM that has the form of an id (26 lower-case letters and
/// digits) is used as one; otherwise it is looked up by exact name or title, and more than
/// one match is an error asking for the id. FIELD matches a field's label or id, in any
/// section unless SECTION (a section's label or id) is given; a field whose id is FIELD wins
/// over fields only labelled so, and several matches are an error. Missing vaults, items,
/// sections and fields are `NotFound` errors that name them (and list the item's field
/// labels, never values); 401/403 are `PermissionDenied`.
///
/// With the CLI, the reference goes on argv and the value is read from stdout; a non-zero
/// exit is an error with the exit code and stderr (any echo of stdout replaced by `***`),
/// `NotFound` or `PermissionDenied` where stderr says so. `op` is killed with its process
/// group after [`OpConfig::cli_timeout`].
pub struct OpProvider {
    config: OpConfig,
    connect: OnceLock<Result<connect::Connect, Failure>>,
    /// Whether [`OpConfig::cli_credentials`] were registered (before the first `op` run).
    cli_registered: Once,
}

impl OpProvider {
    /// A provider with the given settings. Nothing is read or connected until the first
    /// resolution.
    pub fn new(config: OpConfig) -> Self {
        Self {
            config,
            connect: OnceLock::new(),
            cli_registered: Once::new(),
        }
    }

    /// The provider configured from the environment ([`OpConfig::from_env`]).
    pub fn from_env() -> Self {
        Self::new(OpConfig::from_env())
    }

    fn not_configured(&self) -> Failure {
        let missing: Vec<&str> = [
            ("OP_CONNECT_HOST", self.config.connect_host.is_none()),
            ("OP_CONNECT_TOKEN", self.config.connect_token.is_none()),
        ]
        .into_iter()
        .filter_map(|(name, unset)| unset.then_some(name))
        .collect();
        Failure::Provider(format!(
            "1Password is not set up: set OP_CONNECT_HOST and OP_CONNECT_TOKEN to use a \
             Connect server ({} not set), or install the 1Password CLI `op` on PATH",
            missing.join(" and ")
        ))
    }
}

#[async_trait]
impl Provider for OpProvider {
    fn scheme(&self) -> &str {
        "op"
    }

    fn check(&self, uri: &SecretUri) -> Result<(), String> {
        Reference::parse(uri.path()).map(|_| ())
    }

    async fn resolve(&self, uri: &SecretUri, ctx: &ResolveContext) -> Result<SecretBytes, Failure> {
        let reference = Reference::parse(uri.path()).map_err(Failure::Provider)?;
        if let (Some(host), Some(token)) = (&self.config.connect_host, &self.config.connect_token) {
            let connect = self
                .connect
                .get_or_init(|| {
                    ctx.credentials
                        .register("OP_CONNECT_TOKEN", token.as_bytes());
                    connect::Connect::new(host, token, &self.config)
                })
                .as_ref()
                .map_err(Clone::clone)?;
            return connect.read(&reference, ctx.limit).await;
        }
        match cli::find(self.config.search_path.as_deref()) {
            Some(op) => {
                self.cli_registered.call_once(|| {
                    for (name, value) in &self.config.cli_credentials {
                        ctx.credentials.register(name, value.as_bytes());
                    }
                });
                cli::read(&op, uri.path(), ctx.limit, self.config.cli_timeout).await
            }
            None => Err(self.not_configured()),
        }
    }
}

impl fmt::Debug for OpProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpProvider")
            .field("config", &self.config)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_have_three_or_four_parts() {
        assert_eq!(
            Reference::parse("Dev/db/password").unwrap(),
            Reference {
                vault: "Dev",
                item: "db",
                section: None,
                field: "password"
            }
        );
        assert_eq!(
            Reference::parse("Dev/db/admin/password").unwrap().section,
            Some("admin")
        );
        for bad in ["Dev/db", "Dev//password", "a/b/c/d/e", "Dev/db/"] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn neither_connect_nor_cli_is_an_error_naming_both() {
        let provider = OpProvider::new(OpConfig {
            connect_host: Some("http://127.0.0.1:9".into()),
            search_path: Some(OsString::new()),
            ..OpConfig::default()
        });
        let uri = SecretUri::parse("op://Dev/db/password").unwrap();
        let err = provider
            .resolve(&uri, &ResolveContext::unobserved(100))
            .await
            .unwrap_err();
        let Failure::Provider(reason) = err else {
            panic!("{err:?}")
        };
        assert!(
            reason.contains("OP_CONNECT_HOST and OP_CONNECT_TOKEN"),
            "{reason}"
        );
        assert!(reason.contains("(OP_CONNECT_TOKEN not set)"), "{reason}");
        assert!(reason.contains("`op`"), "{reason}");
    }

    #[test]
    fn debug_hides_the_connect_token() {
        let config = OpConfig {
            connect_token: Some(Zeroizing::new("connect-token-value".into())),
            ..OpConfig::default()
        };
        let shown = format!("{:?}", OpProvider::new(config));
        assert!(!shown.contains("connect-token-value"), "{shown}");
        assert!(shown.contains("<set>"), "{shown}");
    }
}
