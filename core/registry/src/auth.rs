//! Registry credentials: given through the API, or found in Docker's `config.json` (inline
//! `auths` entries, `credHelpers` and `credsStore` helpers), and `WWW-Authenticate`
//! challenges.
//!
//! Passwords and tokens live only in zeroizing memory on our side (the copies inside the
//! HTTP stack while a request is in flight are outside our control). They are never put in
//! a process's argv or environment: credential helpers get the server on stdin and answer
//! on stdout.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use hush_secrets::{Secret, SecretBytes};
use reqwest::header::HeaderValue;
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use crate::RegistryError;

/// The key Docker's `config.json` uses for Docker Hub.
pub(crate) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// Most bytes read from a `config.json` or a credential helper.
const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// A username and a password (or token) for a registry, as given through the API.
///
/// `Debug` shows the username and the secret's origin, never the password.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub secret: Secret,
}

impl Credentials {
    /// Credentials from a username and a resolved secret.
    pub fn new(username: impl Into<String>, secret: Secret) -> Self {
        Self {
            username: username.into(),
            secret,
        }
    }
}

/// Credentials as the client uses them: the password in locked, zeroizing memory.
pub(crate) struct Login {
    pub username: String,
    pub password: SecretBytes,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Login({:?}, password redacted)", self.username)
    }
}

impl From<&Credentials> for Login {
    fn from(c: &Credentials) -> Self {
        Self {
            username: c.username.clone(),
            password: SecretBytes::new(c.secret.expose()),
        }
    }
}

impl Login {
    /// `Basic base64(user:password)`, marked sensitive so the HTTP stack does not log it.
    pub fn basic_header(&self) -> HeaderValue {
        let mut plain = Zeroizing::new(Vec::with_capacity(
            self.username.len() + 1 + self.password.len(),
        ));
        plain.extend_from_slice(self.username.as_bytes());
        plain.push(b':');
        plain.extend_from_slice(self.password.expose());
        let mut text = Zeroizing::new(String::from("Basic "));
        base64::engine::general_purpose::STANDARD.encode_string(&*plain, &mut text);
        sensitive_header(&text)
    }
}

/// A header value holding a credential: excluded from the HTTP stack's debug output.
pub(crate) fn sensitive_header(text: &str) -> HeaderValue {
    // Base64 and registry tokens are visible ASCII; anything else cannot be sent anyway, and
    // the error would quote the value, so it is replaced by an empty (rejected) credential.
    let mut value = HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Where Docker keeps its client configuration: `$DOCKER_CONFIG`, else `~/.docker`.
pub(crate) fn default_docker_config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker"))
}

/// The parts of Docker's `config.json` that hold credentials. Zeroized when dropped.
#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

impl Drop for AuthEntry {
    fn drop(&mut self) {
        self.auth.zeroize();
        self.password.zeroize();
    }
}

/// What a credential helper answers to `get`. Zeroized when dropped.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl Drop for HelperAnswer {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// Looks up credentials for `registry` (`host[:port]`, `docker.io` for Docker Hub) in
/// `<dir>/config.json`: a `credHelpers` entry, then an `auths` entry, then `credsStore`.
/// A missing file, entry or helper program means no credentials.
pub(crate) fn docker_config_login(
    dir: &Path,
    registry: &str,
) -> Result<Option<Login>, RegistryError> {
    let path = dir.join("config.json");
    let mut bytes = Zeroizing::new(Vec::new());
    match std::fs::File::open(&path) {
        Ok(file) => {
            file.take(MAX_CONFIG_BYTES)
                .read_to_end(&mut bytes)
                .map_err(|e| config_error(&path, &e.to_string()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(config_error(&path, &e.to_string())),
    }
    // serde_json's messages can quote values; only the position is reported.
    let config: DockerConfig = serde_json::from_slice(&bytes).map_err(|e| {
        config_error(
            &path,
            &format!("malformed JSON at line {} column {}", e.line(), e.column()),
        )
    })?;
    let keys = config_keys(registry);
    let helper_for = config
        .cred_helpers
        .iter()
        .find(|(key, _)| keys.contains(&normalize_key(key)))
        .map(|(_, helper)| helper.as_str());
    if let Some(helper) = helper_for {
        return run_helper(helper, registry);
    }
    let entry = config
        .auths
        .iter()
        .find(|(key, _)| keys.contains(&normalize_key(key)))
        .map(|(_, entry)| entry);
    if let Some(entry) = entry {
        if let Some(login) = entry_login(entry, &path)? {
            return Ok(Some(login));
        }
    }
    match &config.creds_store {
        Some(store) if !store.is_empty() => run_helper(store, registry),
        _ => Ok(None),
    }
}

fn config_error(path: &Path, reason: &str) -> RegistryError {
    RegistryError::Config(format!("{}: {reason}", path.display()))
}

/// The credentials of an `auths` entry: `auth` (base64 `user:password`) or
/// `username`/`password`; `None` for an entry without either (e.g. only an identity token).
fn entry_login(entry: &AuthEntry, path: &Path) -> Result<Option<Login>, RegistryError> {
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| config_error(path, "an \"auth\" entry is not valid base64"))?,
        );
        let colon = decoded.iter().position(|&b| b == b':').ok_or_else(|| {
            config_error(path, "an \"auth\" entry is not base64 of user:password")
        })?;
        let username = std::str::from_utf8(&decoded[..colon])
            .map_err(|_| config_error(path, "an \"auth\" entry's user name is not UTF-8"))?;
        return Ok(Some(Login {
            username: username.to_string(),
            password: SecretBytes::new(&decoded[colon + 1..]),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(user), Some(password)) if !user.is_empty() => Ok(Some(Login {
            username: user.clone(),
            password: SecretBytes::new(password.as_bytes()),
        })),
        _ => Ok(None),
    }
}

/// Runs `docker-credential-<helper> get` with the server on stdin. A helper that is not
/// installed, or that has no credentials for the server, means no credentials.
fn run_helper(helper: &str, registry: &str) -> Result<Option<Login>, RegistryError> {
    if helper.is_empty()
        || !helper
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(RegistryError::Config(format!(
            "credential helper name {helper:?} is not a plain name"
        )));
    }
    let program = format!("docker-credential-{helper}");
    let server = if registry == hush_image::DEFAULT_REGISTRY {
        DOCKER_HUB_KEY
    } else {
        registry
    };
    let mut child = match Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RegistryError::Config(format!("cannot run {program}: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its exit status.
        let _ = stdin.write_all(server.as_bytes());
    }
    let mut out = Zeroizing::new(Vec::new());
    if let Some(stdout) = child.stdout.take() {
        stdout
            .take(MAX_CONFIG_BYTES)
            .read_to_end(&mut out)
            .map_err(|e| RegistryError::Config(format!("cannot read from {program}: {e}")))?;
    }
    let status = child
        .wait()
        .map_err(|e| RegistryError::Config(format!("cannot wait for {program}: {e}")))?;
    if !status.success() {
        // Helpers answer "credentials not found in native keychain" and exit 1 for unknown
        // servers: that is an anonymous pull, as with Docker.
        return Ok(None);
    }
    let answer: HelperAnswer = serde_json::from_slice(&out).map_err(|_| {
        RegistryError::Config(format!("{program} answered something other than its JSON"))
    })?;
    if answer.username.is_empty() || answer.username == "<token>" {
        // Identity tokens (OAuth refresh tokens) are not supported; pull anonymously.
        return Ok(None);
    }
    Ok(Some(Login {
        username: answer.username.clone(),
        password: SecretBytes::new(answer.secret.as_bytes()),
    }))
}

/// The `config.json` keys (normalized by [`normalize_key`]) that mean `registry`.
fn config_keys(registry: &str) -> Vec<String> {
    if registry == hush_image::DEFAULT_REGISTRY {
        ["index.docker.io", "docker.io", "registry-1.docker.io"]
            .map(String::from)
            .to_vec()
    } else {
        vec![registry.to_string()]
    }
}

/// A `config.json` key without scheme and path: `https://host:5000/v1/` → `host:5000`.
fn normalize_key(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// `Basic realm=...`.
    Basic,
    /// `Bearer realm=...,service=...,scope=...`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses the first challenge of a `WWW-Authenticate` value; `None` for unknown schemes.
pub(crate) fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_params(rest);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `key=value` and `key="quoted, value"` pairs separated by commas.
fn parse_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() {
            return out;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
            value = value.trim().to_string();
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_parsed() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge("bearer realm=http://x/t"),
            Some(Challenge::Bearer {
                realm: "http://x/t".into(),
                service: None,
                scope: None
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="basic-realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn config_keys_are_normalized() {
        assert_eq!(
            normalize_key("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(normalize_key("http://Localhost:5000"), "localhost:5000");
        assert_eq!(normalize_key("127.0.0.1:5000"), "127.0.0.1:5000");
        assert!(config_keys("docker.io").contains(&"index.docker.io".to_string()));
    }

    #[test]
    fn auth_entries_decode_and_stay_out_of_debug() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:pa:ss");
        std::fs::write(
            dir.path().join("config.json"),
            format!(
                r#"{{"auths":{{"http://127.0.0.1:5000/":{{"auth":"{auth}"}},
                   "other:1":{{"username":"bob","password":"hunter2"}}}}}}"#
            ),
        )
        .unwrap();
        let login = docker_config_login(dir.path(), "127.0.0.1:5000")
            .unwrap()
            .unwrap();
        assert_eq!(login.username, "alice");
        assert_eq!(login.password.expose(), b"pa:ss");
        assert!(!format!("{login:?}").contains("pa:ss"));
        let login = docker_config_login(dir.path(), "other:1").unwrap().unwrap();
        assert_eq!(
            (login.username.as_str(), login.password.expose()),
            ("bob", &b"hunter2"[..])
        );
        assert!(docker_config_login(dir.path(), "nowhere:1")
            .unwrap()
            .is_none());
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"auths": {"x": {"auth": 12345678}}, "hunter2": }"#,
        )
        .unwrap();
        let err = docker_config_login(dir.path(), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1") && !err.contains("12345678"), "{err}");
        let missing = tempfile::tempdir().unwrap();
        assert!(docker_config_login(missing.path(), "x").unwrap().is_none());
    }
}
