//! The `vault://` provider.

mod address;
mod config;

pub use config::{AppRole, VaultConfig};

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Mutex, OnceLock};

use async_trait::async_trait;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use zeroize::Zeroizing;

use super::http::{self, Timeouts};
use super::{json, read_limited};
use crate::credential::CredentialSink;
use crate::error::Failure;
use crate::provider::{Provider, ResolveContext};
use crate::uri::{SecretUri, Trim};
use crate::value::SecretBytes;

/// Largest answer accepted for lookups and logins, which hold no secret values.
const SMALL_BODY: usize = 64 * 1024;

/// Largest accepted read of a secret holding values of at most `limit` bytes: JSON escaping
/// takes up to 6 bytes per byte, plus room for the envelope and metadata.
fn body_cap(limit: usize) -> usize {
    limit.saturating_mul(6).saturating_add(SMALL_BODY)
}

/// `vault://PATH#FIELD` and `vault://PATH.FIELD`: a field of a secret in a KV (v1 or v2)
/// engine of HashiCorp Vault or OpenBao.
///
/// `#` splits at the first `#`, so paths and fields may contain dots; without it the address
/// splits at the last `.` after the last `/` (Dagger's form, `vault://credentials.github`).
///
/// Which mount PATH is under, and whether that mount is KV v1 or v2, comes from Vault's mount
/// lookup (`GET /v1/sys/internal/ui/mounts/PATH`), cached for the session. When PATH is not
/// under a KV mount, or the lookup is refused, PATH is read under the mount named by
/// `VAULT_PATH_PREFIX` (default `secret`), whose version is looked up the same way and taken to
/// be 2 when the lookup is refused. KV v2 reads `data.data.FIELD` of `/v1/MOUNT/data/REST`,
/// KV v1 `data.FIELD` of `/v1/MOUNT/REST`. A string is the value as it is; any other JSON
/// value is its compact JSON text.
///
/// Credentials, in order: [`VaultConfig::token`] (`VAULT_TOKEN`), an AppRole login (its token
/// kept in zeroized memory and reused for the session), the token file (`~/.vault-token`).
/// Each credential used (the AppRole ids and the token the login returns included) is
/// registered with [`ResolveContext::credentials`] before it is first sent.
/// Responses are read into zeroized memory, and the field's value goes from there into the
/// returned [`SecretBytes`] without passing through an ordinary allocation. A value past the
/// size limit, or a whole answer past 6 times the limit plus 64 KiB, is `TooLarge`.
///
/// Errors: 404 or a missing field is `NotFound`, naming the path, mount and field (and the
/// secret's field names, never values); 401/403 `PermissionDenied`; refused connections, DNS
/// and TLS failures `Unreachable`; [`VaultConfig::connect_timeout`] and
/// [`VaultConfig::request_timeout`] `Timeout`. Vault's `errors` text is included; hush never
/// adds a credential to it, and one the server echoes there is scrubbed like any secret.
pub struct VaultProvider {
    config: VaultConfig,
    conn: OnceLock<Result<Conn, Failure>>,
    token: tokio::sync::OnceCell<HeaderValue>,
    mounts: Mutex<Mounts>,
}

/// The client and server address, made on first use.
struct Conn {
    client: reqwest::Client,
    base: Url,
    /// The server for messages, e.g. `Vault at https://vault:8200`.
    server: String,
    timeouts: Timeouts,
}

/// What the session learnt about mounts.
#[derive(Default)]
struct Mounts {
    /// KV mounts found (or, for the path prefix, assumed).
    kv: Vec<Mount>,
    /// Paths whose lookup found no KV mount, with what the lookup said.
    not_kv: HashMap<String, String>,
}

/// A KV mount.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    /// The mount path with a trailing `/`, e.g. `kv/`.
    path: String,
    /// 1 or 2.
    version: u8,
}

/// What the mount lookup of a path found.
enum Lookup {
    /// A KV mount.
    Kv(Mount),
    /// No KV mount; the text says what was found instead, for messages.
    Other(String),
}

/// Where a secret is read.
struct Location {
    mount: Mount,
    /// The secret's path inside the mount.
    rest: String,
    /// How PATH led here, for messages.
    note: Option<String>,
}

impl Location {
    /// `MOUNT/REST (KV vN ...)` for messages.
    fn describe(&self) -> String {
        let mut text = format!(
            "{:?} (KV v{} mount {:?}",
            format!("{}{}", self.mount.path, self.rest),
            self.mount.version,
            self.mount.path
        );
        if let Some(note) = &self.note {
            text.push_str("; ");
            text.push_str(note);
        }
        text.push(')');
        text
    }
}

impl VaultProvider {
    /// A provider with the given settings. Nothing is read or connected until the first
    /// resolution.
    pub fn new(config: VaultConfig) -> Self {
        Self {
            config,
            conn: OnceLock::new(),
            token: tokio::sync::OnceCell::new(),
            mounts: Mutex::new(Mounts::default()),
        }
    }

    /// The provider configured from the environment ([`VaultConfig::from_env`]).
    pub fn from_env() -> Self {
        Self::new(VaultConfig::from_env())
    }

    fn conn(&self) -> Result<&Conn, Failure> {
        self.conn
            .get_or_init(|| self.connect())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn connect(&self) -> Result<Conn, Failure> {
        let addr = self.config.addr.as_deref().ok_or_else(|| {
            Failure::Provider(
                "VAULT_ADDR is not set: set it to the Vault server's address, e.g. \
                 https://vault.example.com:8200"
                    .into(),
            )
        })?;
        let base = http::parse_base("VAULT_ADDR", addr)?;
        let pem = match &self.config.ca_cert {
            Some(path) => Some(Zeroizing::new(std::fs::read(path).map_err(|e| {
                Failure::Provider(format!(
                    "cannot read the VAULT_CACERT file {}: {}",
                    path.display(),
                    e.to_string().to_lowercase()
                ))
            })?)),
            None => None,
        };
        let timeouts = Timeouts {
            connect: self.config.connect_timeout,
            request: self.config.request_timeout,
        };
        let client = http::client(timeouts, pem.as_deref().map(Vec::as_slice)).map_err(|e| {
            let what = match &self.config.ca_cert {
                Some(path) => format!("the VAULT_CACERT file {}: ", path.display()),
                None => String::new(),
            };
            Failure::Provider(format!("{what}{e}"))
        })?;
        Ok(Conn {
            client,
            server: format!("Vault at {}", http::origin(&base)),
            base,
            timeouts,
        })
    }

    /// A request to `/v1/SEGMENTS...` with the namespace header.
    fn request<'a>(
        &self,
        conn: &Conn,
        method: Method,
        segments: impl IntoIterator<Item = &'a str>,
    ) -> RequestBuilder {
        let url = http::join(&conn.base, std::iter::once("v1").chain(segments));
        let mut request = conn
            .client
            .request(method, url)
            .header("X-Vault-Request", "true");
        if let Some(namespace) = &self.config.namespace {
            request = request.header("X-Vault-Namespace", namespace);
        }
        request
    }

    async fn send(&self, conn: &Conn, request: RequestBuilder) -> Result<Response, Failure> {
        request
            .send()
            .await
            .map_err(|e| http::transport_failure(&e, &conn.server, conn.timeouts))
    }

    /// The session's token: configured, from an AppRole login, or from the token file. Each
    /// credential is registered with `credentials` before it is first sent.
    async fn token(
        &self,
        conn: &Conn,
        credentials: &CredentialSink,
    ) -> Result<&HeaderValue, Failure> {
        self.token
            .get_or_try_init(|| self.obtain_token(conn, credentials))
            .await
    }

    async fn obtain_token(
        &self,
        conn: &Conn,
        credentials: &CredentialSink,
    ) -> Result<HeaderValue, Failure> {
        if let Some(token) = &self.config.token {
            credentials.register("VAULT_TOKEN", token.as_bytes());
            return token_header(token.as_bytes(), "VAULT_TOKEN");
        }
        if let Some(role) = &self.config.approle {
            return self.login(conn, role, credentials).await;
        }
        if let Some(path) = &self.config.token_file {
            let what = format!("token file {}", path.display());
            match tokio::fs::File::open(path).await {
                Ok(file) => {
                    let bytes = read_limited(file, SMALL_BODY, &what)
                        .await
                        .map_err(|failure| match failure {
                            Failure::TooLarge => {
                                Failure::Provider(format!("the {what} is larger than 64 KiB"))
                            }
                            other => other,
                        })?;
                    let token = Trim::Space.apply(bytes.expose());
                    if !token.is_empty() {
                        credentials.register("the Vault token file", token);
                        return token_header(token, &format!("the {what}"));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Failure::from_io(&what, &e)),
            }
        }
        Err(Failure::Provider(
            "no Vault credentials: set VAULT_TOKEN, or VAULT_APPROLE_ROLE_ID (and \
             VAULT_APPROLE_SECRET_ID) for an AppRole login, or run `vault login`, which \
             writes ~/.vault-token"
                .into(),
        ))
    }

    /// Logs in with AppRole: `POST /v1/auth/MOUNT/login` → `auth.client_token`.
    async fn login(
        &self,
        conn: &Conn,
        role: &AppRole,
        credentials: &CredentialSink,
    ) -> Result<HeaderValue, Failure> {
        #[derive(Serialize)]
        struct Login<'a> {
            role_id: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            secret_id: Option<&'a str>,
        }
        #[derive(Deserialize)]
        struct Answer<'a> {
            #[serde(borrow)]
            auth: Option<Auth<'a>>,
        }
        #[derive(Deserialize)]
        struct Auth<'a> {
            #[serde(borrow)]
            client_token: &'a RawValue,
        }
        let secret_id = role.secret_id.as_deref().map(String::as_str);
        credentials.register("VAULT_APPROLE_ROLE_ID", role.role_id.as_bytes());
        if let Some(secret_id) = secret_id {
            credentials.register("VAULT_APPROLE_SECRET_ID", secret_id.as_bytes());
        }
        let login = Login {
            role_id: &role.role_id,
            secret_id,
        };
        // Escaping takes at most 6 bytes per byte: with this capacity the body never grows,
        // so no unzeroized copy is left behind.
        let room = 64 + 6 * (role.role_id.len() + secret_id.map_or(0, str::len));
        let mut body = Zeroizing::new(Vec::with_capacity(room));
        serde_json::to_writer(&mut *body, &login)
            .map_err(|_| Failure::Provider("cannot encode the AppRole login".into()))?;
        let mount = role.mount.trim_matches('/');
        let what = format!("the AppRole login at auth/{mount}");
        let segments = std::iter::once("auth")
            .chain(mount.split('/').filter(|s| !s.is_empty()))
            .chain(std::iter::once("login"));
        let request = self
            .request(conn, Method::POST, segments)
            .header(CONTENT_TYPE, "application/json")
            .body(http::secret_body(body));
        let mut response = self.send(conn, request).await?;
        let status = response.status();
        if !status.is_success() {
            let detail = vault_errors(&http::error_text(&mut response).await);
            return Err(match status.as_u16() {
                400 | 401 | 403 => Failure::PermissionDenied(format!(
                    "{what} was refused ({}{})",
                    status.as_u16(),
                    detail
                )),
                _ => status_failure(status, &detail, &what),
            });
        }
        let body = read_small(&mut response, conn, &what).await?;
        let text = utf8(&body)?;
        let answer: Answer<'_> = serde_json::from_str(text).map_err(|e| unexpected(&what, &e))?;
        let token = answer.auth.ok_or_else(|| {
            Failure::PermissionDenied(format!("{what} gave no token (no \"auth\" in the answer)"))
        })?;
        let token = json::value(token.client_token, 4096)
            .map_err(|_| Failure::Provider(format!("{what} gave an unusable token")))?;
        credentials.register("the token of the Vault AppRole login", token.expose());
        token_header(token.expose(), &what)
    }

    /// Looks up the mount of `path`: a KV mount, or what was found instead when the lookup
    /// does not resolve it (refused, unknown, or another kind of mount).
    async fn lookup_mount(
        &self,
        conn: &Conn,
        token: &HeaderValue,
        path: &str,
    ) -> Result<Lookup, Failure> {
        #[derive(Deserialize)]
        struct Answer {
            data: Data,
        }
        #[derive(Deserialize)]
        struct Data {
            path: String,
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            options: Option<Options>,
        }
        #[derive(Deserialize)]
        struct Options {
            #[serde(default)]
            version: Option<String>,
        }
        let segments = ["sys", "internal", "ui", "mounts"]
            .into_iter()
            .chain(path.split('/'));
        let request = self
            .request(conn, Method::GET, segments)
            .header("X-Vault-Token", token.clone());
        let mut response = self.send(conn, request).await?;
        let status = response.status();
        let what = format!("the mount lookup of {path:?}");
        if !status.is_success() {
            let detail = vault_errors(&http::error_text(&mut response).await);
            return match status.as_u16() {
                400 | 401 | 403 | 404 => Ok(Lookup::Other(format!(
                    "{what} was refused ({}{detail})",
                    status.as_u16()
                ))),
                _ => Err(status_failure(status, &detail, &what)),
            };
        }
        let body = read_small(&mut response, conn, &what).await?;
        let answer: Answer =
            serde_json::from_str(utf8(&body)?).map_err(|e| unexpected(&what, &e))?;
        let data = answer.data;
        if !matches!(data.kind.as_str(), "kv" | "generic") || data.path.trim_matches('/').is_empty()
        {
            return Ok(Lookup::Other(format!(
                "{path:?} is under a {:?} mount, not a KV one",
                data.kind
            )));
        }
        let version = match data.options.and_then(|o| o.version).as_deref() {
            Some("2") => 2,
            _ => 1,
        };
        let mut mount_path = data.path.trim_matches('/').to_owned();
        mount_path.push('/');
        Ok(Lookup::Kv(Mount {
            path: mount_path,
            version,
        }))
    }

    /// A known KV mount that `path` is strictly under.
    fn known_mount(&self, path: &str) -> Option<Mount> {
        let mounts = self.mounts.lock().unwrap();
        mounts
            .kv
            .iter()
            .find(|m| path.len() > m.path.len() && path.starts_with(&m.path))
            .cloned()
    }

    fn remember(&self, mount: &Mount) {
        let mut mounts = self.mounts.lock().unwrap();
        if !mounts.kv.iter().any(|m| m.path == mount.path) {
            mounts.kv.push(mount.clone());
        }
    }

    /// Finds the mount, KV version and inner path for `path`.
    async fn locate(
        &self,
        conn: &Conn,
        token: &HeaderValue,
        path: &str,
    ) -> Result<Location, Failure> {
        let at = |mount: Mount, full: &str, note: Option<String>| Location {
            rest: full[mount.path.len()..].to_owned(),
            mount,
            note,
        };
        if let Some(mount) = self.known_mount(path) {
            return Ok(at(mount, path, None));
        }
        let known = self.mounts.lock().unwrap().not_kv.get(path).cloned();
        let why = match known {
            Some(why) => why,
            None => {
                let why = match self.lookup_mount(conn, token, path).await? {
                    Lookup::Kv(mount)
                        if path.len() > mount.path.len() && path.starts_with(&mount.path) =>
                    {
                        self.remember(&mount);
                        return Ok(at(mount, path, None));
                    }
                    Lookup::Kv(mount) if format!("{path}/") == mount.path => {
                        format!("{path:?} is the mount {:?} itself", mount.path)
                    }
                    Lookup::Kv(mount) => format!(
                        "the mount lookup of {path:?} answered the unrelated mount {:?}",
                        mount.path
                    ),
                    Lookup::Other(why) => why,
                };
                let mut mounts = self.mounts.lock().unwrap();
                mounts.not_kv.insert(path.to_owned(), why.clone());
                why
            }
        };
        let prefix = self.config.path_prefix.trim_matches('/');
        let full = format!("{prefix}/{path}");
        let note = Some(format!(
            "{why}, so it was read under VAULT_PATH_PREFIX {prefix:?}"
        ));
        if let Some(mount) = self.known_mount(&full) {
            return Ok(at(mount, &full, note));
        }
        let mount = match self.lookup_mount(conn, token, prefix).await? {
            Lookup::Kv(mount) if full.starts_with(&mount.path) => mount,
            _ => Mount {
                path: format!("{prefix}/"),
                version: 2,
            },
        };
        self.remember(&mount);
        Ok(at(mount, &full, note))
    }

    /// Reads `field` of the secret at `location`.
    async fn read(
        &self,
        conn: &Conn,
        token: &HeaderValue,
        location: &Location,
        field: &str,
        limit: usize,
    ) -> Result<SecretBytes, Failure> {
        let mount_segments = location.mount.path.split('/').filter(|s| !s.is_empty());
        let data = (location.mount.version == 2).then_some("data");
        let segments = mount_segments.chain(data).chain(location.rest.split('/'));
        let request = self
            .request(conn, Method::GET, segments)
            .header("X-Vault-Token", token.clone());
        let mut response = self.send(conn, request).await?;
        let status = response.status();
        let place = location.describe();
        if !status.is_success() {
            let detail = vault_errors(&http::error_text(&mut response).await);
            if status == StatusCode::NOT_FOUND {
                let hint = if location.mount.version == 2 && location.rest.starts_with("data/") {
                    "; paths are written without KV v2's \"data/\" segment"
                } else {
                    ""
                };
                return Err(Failure::NotFound(format!("no secret at {place}{hint}")));
            }
            return Err(status_failure(
                status,
                &detail,
                &format!("the secret at {place}"),
            ));
        }
        let body =
            http::read_body(&mut response, body_cap(limit), &conn.server, conn.timeouts).await?;
        extract(&body, location.mount.version, field, &place, limit)
    }
}

/// Takes `field` out of a KV read's answer.
fn extract(
    body: &SecretBytes,
    version: u8,
    field: &str,
    place: &str,
    limit: usize,
) -> Result<SecretBytes, Failure> {
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
    }
    let what = format!("the read of {place}");
    let text = utf8(body)?;
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|e| unexpected(&what, &e))?;
    let mut data = envelope.data.filter(|d| d.get() != "null");
    if version == 2 {
        data = match data {
            Some(outer) => {
                let inner: Envelope<'_> =
                    serde_json::from_str(outer.get()).map_err(|e| unexpected(&what, &e))?;
                inner.data.filter(|d| d.get() != "null")
            }
            None => None,
        };
    }
    let data = data.ok_or_else(|| {
        Failure::NotFound(format!(
            "the secret at {place} has no data (a deleted or destroyed version?)"
        ))
    })?;
    let fields: BTreeMap<String, &RawValue> =
        serde_json::from_str(data.get()).map_err(|e| unexpected(&what, &e))?;
    match fields.get(field) {
        Some(raw) => json::value(raw, limit),
        None => {
            let names: Vec<String> = fields.keys().map(|k| format!("{k:?}")).collect();
            Err(Failure::NotFound(format!(
                "the secret at {place} has no field {field:?} (its fields: {})",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )))
        }
    }
}

/// The body of a small answer (a lookup or a login) to `what`: at most `SMALL_BODY` bytes.
async fn read_small(
    response: &mut Response,
    conn: &Conn,
    what: &str,
) -> Result<SecretBytes, Failure> {
    http::read_body(response, SMALL_BODY, &conn.server, conn.timeouts)
        .await
        .map_err(|failure| match failure {
            Failure::TooLarge => {
                Failure::Provider(format!("the answer to {what} is larger than 64 KiB"))
            }
            other => other,
        })
}

/// A header holding a token, or a failure naming where the token came from.
fn token_header(token: &[u8], source: &str) -> Result<HeaderValue, Failure> {
    http::secret_header("", token).ok_or_else(|| {
        Failure::Provider(format!(
            "the token from {source} has characters not allowed in an HTTP header"
        ))
    })
}

fn utf8(body: &SecretBytes) -> Result<&str, Failure> {
    std::str::from_utf8(body.expose())
        .map_err(|_| Failure::Provider("Vault's answer is not UTF-8 text".into()))
}

/// A failure for an answer that is not the expected JSON. serde's message is left out: it
/// may quote the text it choked on, which could be a value.
fn unexpected(what: &str, err: &serde_json::Error) -> Failure {
    Failure::Provider(format!(
        "{what} answered with unexpected JSON (at line {}, column {})",
        err.line(),
        err.column()
    ))
}

/// Vault's `errors` array as `: a; b`, or a short excerpt of a body that is not Vault's.
fn vault_errors(text: &str) -> String {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    let detail = match serde_json::from_str::<Errors>(text) {
        Ok(e) => http::short(&e.errors.join("; ")),
        Err(_) => http::short(text),
    };
    if detail.is_empty() {
        detail
    } else {
        format!(": {detail}")
    }
}

/// Maps an error status to a failure kind; `detail` is [`vault_errors`]'s text.
fn status_failure(status: StatusCode, detail: &str, what: &str) -> Failure {
    let code = status.as_u16();
    match code {
        404 => Failure::NotFound(format!("{what} does not exist (404{detail})")),
        401 | 403 => {
            Failure::PermissionDenied(format!("Vault refused access to {what} ({code}{detail})"))
        }
        429 | 502 | 503 | 504 => Failure::Unreachable(format!(
            "Vault could not serve {what} ({code}{detail}; a sealed or standby server?)"
        )),
        _ => Failure::Provider(format!("Vault answered {code} to {what}{detail}")),
    }
}

#[async_trait]
impl Provider for VaultProvider {
    fn scheme(&self) -> &str {
        "vault"
    }

    fn check(&self, uri: &SecretUri) -> Result<(), String> {
        address::parse(uri.path()).map(|_| ())
    }

    async fn resolve(&self, uri: &SecretUri, ctx: &ResolveContext) -> Result<SecretBytes, Failure> {
        let address = address::parse(uri.path()).map_err(Failure::Provider)?;
        let conn = self.conn()?;
        let token = self.token(conn, &ctx.credentials).await?;
        let location = self.locate(conn, token, address.path).await?;
        self.read(conn, token, &location, address.field, ctx.limit)
            .await
    }
}

impl fmt::Debug for VaultProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultProvider")
            .field("config", &self.config)
            .field("has_token", &self.token.initialized())
            .finish()
    }
}
