//! The puller: the distribution protocol's read side (manifests, blobs, auth challenges).

use hush_secrets::{describe_causes, CredentialSink};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use hush_image::{Descriptor, Digest, ImageError, ImageRef, ImageStore, Ingest, Reference};
use oci_spec::image::{ImageIndex, ImageManifest};
use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, Zeroizing};

use crate::auth::{self, Challenge, Credentials, Login};
use crate::progress::Progress;
use crate::RegistryError;
use hush_console::Console;

/// The environment variable naming a mirror for Docker Hub images.
pub const MIRROR_ENV: &str = "HUSH_REGISTRY_MIRROR";
/// How long connecting to a registry may take before it counts as unreachable.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a request may wait for a response, or a download for its next bytes.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Where Docker Hub's registry API lives.
const DOCKER_HUB_HOST: &str = "registry-1.docker.io";
/// Most bytes of a manifest or index.
const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Most bytes of an error response or token response read.
const MAX_SMALL_BODY: u64 = 64 << 10;

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Pulls images from OCI registries into an [`ImageStore`].
///
/// Docker-style references are resolved as Docker does (`busybox` is
/// `registry-1.docker.io/library/busybox:latest`). Registries are spoken to over HTTPS, and
/// over plain HTTP only when they are on a loopback address (`localhost`, `127.0.0.0/8`,
/// `[::1]`) and HTTPS fails, as Docker does. Credentials come from the `pull` call, from
/// [`Puller::set_registry_auth`], or from Docker's `config.json`, in that order; the
/// registry's challenge decides between HTTP basic auth and a bearer token. Every password
/// and token is registered with the session's [`CredentialSink`] before it is first sent, so
/// a registry (or proxy) echoing it in an error is scrubbed.
///
/// `Debug` shows the configuration, never a password.
pub struct Puller {
    mirror: Option<Mirror>,
    docker_config: Option<PathBuf>,
    connect_timeout: Duration,
    console: Option<Console>,
    logins: RwLock<HashMap<String, Credentials>>,
    credentials: CredentialSink,
}

#[derive(Clone, Debug)]
struct Mirror {
    scheme: &'static str,
    host: String,
    prefix: String,
}

impl fmt::Debug for Puller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut registries: Vec<String> = self.logins.read().unwrap().keys().cloned().collect();
        registries.sort();
        f.debug_struct("Puller")
            .field("mirror", &self.mirror)
            .field("docker_config", &self.docker_config)
            .field("connect_timeout", &self.connect_timeout)
            .field("progress", &self.console.is_some())
            .field("credentials_for", &registries)
            .finish()
    }
}

impl Puller {
    /// A puller without a mirror or Docker configuration, with a 3 s connect timeout and no
    /// progress, registering the credentials it uses with `credentials`.
    pub fn new(credentials: CredentialSink) -> Self {
        Self {
            mirror: None,
            docker_config: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            console: None,
            logins: RwLock::new(HashMap::new()),
            credentials,
        }
    }

    /// A puller configured from the environment: the mirror in `HUSH_REGISTRY_MIRROR` (if
    /// set and not empty) and Docker's `config.json` in `$DOCKER_CONFIG` or `~/.docker`.
    pub fn from_env(credentials: CredentialSink) -> Result<Self, RegistryError> {
        let mut puller =
            Self::new(credentials).with_docker_config_dir(auth::default_docker_config_dir());
        if let Some(mirror) = std::env::var_os(MIRROR_ENV).filter(|m| !m.is_empty()) {
            let mirror = mirror
                .into_string()
                .map_err(|_| RegistryError::Config(format!("{MIRROR_ENV} is not valid UTF-8")))?;
            puller = puller.with_mirror(&mirror)?;
        }
        Ok(puller)
    }

    /// Uses `url` (`https://mirror.example`, `http://127.0.0.1:5000`) as a mirror for Docker
    /// Hub images: tried first, falling back to Docker Hub when the mirror does not have the
    /// image or cannot be reached. Plain HTTP is accepted only for loopback mirrors.
    pub fn with_mirror(mut self, url: &str) -> Result<Self, RegistryError> {
        let bad = |reason: &str| RegistryError::Config(format!("mirror {url:?}: {reason}"));
        let parsed = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let scheme = match parsed.scheme() {
            "https" => "https",
            "http" => "http",
            _ => return Err(bad("the scheme must be https or http")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad("credentials do not belong in the URL"));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("a mirror URL has no query or fragment"));
        }
        let host = match (parsed.host_str(), parsed.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => return Err(bad("there is no host")),
        };
        if scheme == "http" && !is_loopback(&host) {
            return Err(bad("plain http is only allowed for loopback addresses"));
        }
        self.mirror = Some(Mirror {
            scheme,
            host,
            prefix: parsed.path().trim_end_matches('/').to_string(),
        });
        Ok(self)
    }

    /// Reads credentials from `<dir>/config.json` (Docker's format), or from no file.
    pub fn with_docker_config_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.docker_config = dir;
        self
    }

    /// How long connecting may take before a registry counts as unreachable (default 3 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Shows progress through `console` (when its stderr is a terminal).
    pub fn with_console(mut self, console: Console) -> Self {
        self.console = Some(console);
        self
    }

    /// Uses `credentials` for the registry `address` (`host[:port]`, optionally with a
    /// scheme; `docker.io` for Docker Hub) in later pulls, replacing earlier ones for it.
    pub fn set_registry_auth(
        &self,
        address: &str,
        credentials: Credentials,
    ) -> Result<(), RegistryError> {
        let key = registry_key(address)?;
        self.logins.write().unwrap().insert(key, credentials);
        Ok(())
    }

    /// Pulls `reference` into `store` and tags it with the reference's `name:tag` (a digest
    /// reference is stored untagged). `auth`, if given, is used for the reference's registry
    /// instead of any configured credentials. Blobs already in the store are not downloaded;
    /// everything downloaded is verified against its digest and size.
    ///
    /// The pull runs on a thread of its own, so this may be called from async code too (it
    /// blocks the calling thread until the pull ends).
    pub fn pull(
        &self,
        store: &ImageStore,
        reference: &str,
        auth: Option<Credentials>,
    ) -> Result<ImageRef, RegistryError> {
        let reference = Reference::parse(reference)?;
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| self.pull_here(store, &reference, auth.as_ref()));
            match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    fn pull_here(
        &self,
        store: &ImageStore,
        reference: &Reference,
        auth: Option<&Credentials>,
    ) -> Result<ImageRef, RegistryError> {
        let client = self.client()?;
        let progress = Progress::new(self.console.as_ref());
        let mut endpoints = Vec::new();
        if reference.registry() == hush_image::DEFAULT_REGISTRY {
            if let Some(mirror) = &self.mirror {
                endpoints.push(Endpoint {
                    label: format!("{} (mirror)", mirror.host),
                    key: mirror.host.to_ascii_lowercase(),
                    mirror: true,
                    schemes: vec![mirror.scheme],
                    host: mirror.host.clone(),
                    prefix: mirror.prefix.clone(),
                });
            }
        }
        let registry = reference.registry().to_string();
        let host = if registry == hush_image::DEFAULT_REGISTRY {
            DOCKER_HUB_HOST.to_string()
        } else {
            registry.clone()
        };
        endpoints.push(Endpoint {
            key: registry.to_ascii_lowercase(),
            label: registry,
            mirror: false,
            schemes: if is_loopback(&host) {
                vec!["https", "http"]
            } else {
                vec!["https"]
            },
            host,
            prefix: String::new(),
        });
        let count = endpoints.len();
        for (i, endpoint) in endpoints.iter().enumerate() {
            // Credentials given for the image's registry are not shown to a mirror.
            let explicit = auth.filter(|_| !endpoint.mirror).map(Login::from);
            let mut session = Session {
                puller: self,
                client: &client,
                endpoint,
                repository: reference.repository(),
                base: None,
                authorization: None,
                login: explicit.map(Some),
            };
            match session.pull(store, reference, &progress) {
                Err(err) if i + 1 < count && err.falls_back() => {
                    progress.line(&format!("{err}; trying the next registry"));
                }
                result => return result,
            }
        }
        unreachable!("the last endpoint's result is returned")
    }

    fn client(&self) -> Result<Client, RegistryError> {
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            let downgrade = attempt.url().scheme() != "https"
                && attempt.previous().iter().any(|u| u.scheme() == "https");
            if downgrade {
                attempt.error("refusing to follow a redirect from https to http")
            } else if attempt.previous().len() > 5 {
                attempt.error("too many redirects")
            } else {
                attempt.follow()
            }
        });
        Client::builder()
            .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(self.connect_timeout)
            .timeout(STALL_TIMEOUT)
            .redirect(redirects)
            .build()
            .map_err(|e| {
                RegistryError::Config(format!(
                    "cannot set up the HTTP client: {}",
                    describe_causes(&e)
                ))
            })
    }

    /// The credentials for `key`: set through the API, else from Docker's configuration.
    fn configured_login(&self, key: &str) -> Result<Option<Login>, RegistryError> {
        if let Some(credentials) = self.logins.read().unwrap().get(key) {
            return Ok(Some(Login::from(credentials)));
        }
        match &self.docker_config {
            Some(dir) => auth::docker_config_login(dir, key),
            None => Ok(None),
        }
    }
}

/// Where one attempt of a pull goes: a registry or a mirror.
struct Endpoint {
    /// How errors name it.
    label: String,
    /// The key for credentials (`host[:port]` in lowercase, `docker.io`).
    key: String,
    /// Whether this is the Docker Hub mirror rather than the image's registry.
    mirror: bool,
    /// Schemes to try, in order.
    schemes: Vec<&'static str>,
    host: String,
    prefix: String,
}

/// One pull from one endpoint: its scheme once known, its authorization once obtained.
struct Session<'a> {
    puller: &'a Puller,
    client: &'a Client,
    endpoint: &'a Endpoint,
    repository: String,
    /// `scheme://host/prefix`, once a scheme has answered.
    base: Option<String>,
    authorization: Option<HeaderValue>,
    /// `None` until looked up; then the credentials, if any.
    login: Option<Option<Login>>,
}

impl Session<'_> {
    fn pull(
        &mut self,
        store: &ImageStore,
        reference: &Reference,
        progress: &Progress,
    ) -> Result<ImageRef, RegistryError> {
        let wanted = match (reference.digest(), reference.tag()) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.to_string(),
            (None, None) => unreachable!("a reference has a tag or a digest"),
        };
        let name = reference.to_string();
        let (mut bytes, mut media_type) =
            self.manifest(&wanted, reference.digest(), &format!("manifest {name}"))?;
        if is_index(&media_type, &bytes) {
            let chosen = self.choose_platform(&bytes)?;
            let what = format!("manifest {} of {name}", chosen.digest());
            (bytes, media_type) =
                self.manifest(chosen.digest().as_ref(), Some(chosen.digest()), &what)?;
            if is_index(&media_type, &bytes) {
                return Err(self.protocol(format!("{what} is an index inside an index")));
            }
        }
        if media_type.starts_with(DOCKER_SCHEMA1) {
            return Err(self.protocol(format!(
                "{name} has a Docker schema 1 manifest, which is not supported"
            )));
        }
        let manifest = ImageManifest::from_reader(bytes.as_slice())
            .map_err(|e| self.protocol(format!("malformed manifest for {name}: {e}")))?;
        let config_type = manifest.config().media_type().to_string();
        if config_type != OCI_CONFIG && config_type != DOCKER_CONFIG {
            return Err(self.protocol(format!(
                "{name} is not a container image (config media type {config_type})"
            )));
        }
        progress.line(&format!("pulling {name} from {}", self.endpoint.label));
        let ingest = store.ingest()?;
        self.blob(&ingest, manifest.config(), "config".to_string(), progress)?;
        let layers = manifest.layers().len();
        for (i, layer) in manifest.layers().iter().enumerate() {
            self.blob(
                &ingest,
                layer,
                format!("layer {}/{layers}", i + 1),
                progress,
            )?;
        }
        let stored = ingest.put_manifest(&bytes, reference.tagged_name().as_deref())?;
        progress.line(&format!("pulled {name}: {}", stored.digest));
        Ok(stored)
    }

    /// Fetches a manifest or index by tag or digest, verified against `expected` (or the
    /// registry's `Docker-Content-Digest` header), with its media type.
    fn manifest(
        &mut self,
        wanted: &str,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let response = self.get(&format!("manifests/{wanted}"), Some(&accept), what)?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_BYTES)
        {
            return Err(self.protocol(format!("{what} is larger than 4 MiB")));
        }
        let header_digest = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let mut bytes = Vec::new();
        response
            .take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| self.unreachable(format!("reading {what}: {e}")))?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(self.protocol(format!("{what} is larger than 4 MiB")));
        }
        let actual = format!("sha256:{}", hex_sha256(&bytes));
        let expected = expected
            .map(ToString::to_string)
            .or(header_digest.filter(|d| d.starts_with("sha256:")));
        if let Some(expected) = expected {
            if expected != actual {
                return Err(RegistryError::DigestMismatch {
                    registry: self.endpoint.label.clone(),
                    what: what.to_string(),
                    reason: format!("expected {expected}, got {actual}"),
                });
            }
        }
        #[derive(Deserialize)]
        struct Typed {
            #[serde(rename = "mediaType")]
            media_type: Option<String>,
        }
        let declared = serde_json::from_slice::<Typed>(&bytes)
            .ok()
            .and_then(|t| t.media_type);
        let media_type = declared
            .or(content_type)
            .unwrap_or_else(|| OCI_MANIFEST.to_string());
        Ok((bytes, media_type))
    }

    /// The index entry for this host's platform.
    fn choose_platform(&self, bytes: &[u8]) -> Result<Descriptor, RegistryError> {
        let index = ImageIndex::from_reader(bytes)
            .map_err(|e| self.protocol(format!("malformed image index: {e}")))?;
        let arch = host_architecture();
        let mut offered = Vec::new();
        for entry in index.manifests() {
            let media = entry.media_type().to_string();
            if media != OCI_MANIFEST && media != DOCKER_MANIFEST {
                continue;
            }
            let Some(platform) = entry.platform() else {
                continue;
            };
            let (os, entry_arch) = (
                platform.os().to_string(),
                platform.architecture().to_string(),
            );
            if os == "linux" && entry_arch == arch {
                return Ok(entry.clone());
            }
            offered.push(format!("{os}/{entry_arch}"));
        }
        Err(self.protocol(format!(
            "the image has no manifest for linux/{arch} (it has: {})",
            if offered.is_empty() {
                "none".to_string()
            } else {
                offered.join(", ")
            }
        )))
    }

    /// Downloads a blob into the store unless it is there, verifying digest and size.
    fn blob(
        &mut self,
        ingest: &Ingest<'_>,
        descriptor: &Descriptor,
        label: String,
        progress: &Progress,
    ) -> Result<(), RegistryError> {
        let digest = descriptor.digest();
        let label = format!("{label} {}", short(digest));
        if ingest.has_blob(digest) {
            progress.line(&format!("{label}: already present"));
            return Ok(());
        }
        let what = format!("blob {digest}");
        let response = self.get(&format!("blobs/{digest}"), None, &what)?;
        let mut network = NetReader {
            inner: response.take(descriptor.size().saturating_add(1)),
            failure: None,
        };
        let mut reader = progress.reader(label, descriptor.size(), &mut network);
        let result = ingest.write_blob(&mut reader, Some(descriptor));
        reader.finish();
        let mismatch = |reason: String| RegistryError::DigestMismatch {
            registry: self.endpoint.label.clone(),
            what: what.clone(),
            reason,
        };
        match result {
            Ok(_) => Ok(()),
            Err(_) if network.failure.is_some() => Err(self.unreachable(format!(
                "connection lost while downloading {what}: {}",
                network.failure.unwrap_or_default()
            ))),
            Err(ImageError::DigestMismatch { actual, .. }) => Err(mismatch(format!(
                "the registry sent content with digest {actual}"
            ))),
            Err(ImageError::SizeMismatch {
                expected, actual, ..
            }) => Err(mismatch(if actual > expected {
                format!("the registry sent more than the {expected} bytes of its descriptor")
            } else {
                format!("the registry sent {actual} bytes, its descriptor says {expected}")
            })),
            Err(other) => Err(other.into()),
        }
    }

    /// GETs `/v2/<repository>/<path>`, answering auth challenges once; any status but 200 is
    /// an error.
    fn get(
        &mut self,
        path: &str,
        accept: Option<&str>,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let mut response = self.send(path, accept)?;
        let mut authenticated = false;
        while response.status() == StatusCode::UNAUTHORIZED && !authenticated {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_challenge);
            let Some(challenge) = challenge else {
                break;
            };
            self.authenticate(challenge)?;
            authenticated = true;
            response = self.send(path, accept)?;
        }
        self.check(response, what, authenticated)
    }

    fn send(&mut self, path: &str, accept: Option<&str>) -> Result<Response, RegistryError> {
        let endpoint = self.endpoint;
        let candidates: Vec<String> = match &self.base {
            Some(base) => vec![base.clone()],
            None => endpoint
                .schemes
                .iter()
                .map(|scheme| format!("{scheme}://{}{}", endpoint.host, endpoint.prefix))
                .collect(),
        };
        let tried = candidates.len();
        let mut last = None;
        for base in candidates {
            let url = format!("{base}/v2/{}/{path}", self.repository);
            let mut request = self.client.get(&url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(authorization) = &self.authorization {
                request = request.header(AUTHORIZATION, authorization.clone());
            }
            match request.send() {
                Ok(response) => {
                    self.base = Some(base);
                    return Ok(response);
                }
                Err(err) => last = Some((base, err)),
            }
        }
        let (base, err) = last.expect("an endpoint has at least one scheme");
        let reason = if err.is_timeout() {
            format!(
                "no answer from {base} within {} s",
                self.puller.connect_timeout.as_secs_f32()
            )
        } else {
            format!("{base}: {}", describe_causes(&err))
        };
        Err(self.unreachable(if tried > 1 {
            format!("https failed, then {reason}")
        } else {
            reason
        }))
    }

    /// Answers a challenge: basic credentials, or a bearer token from the token endpoint.
    fn authenticate(&mut self, challenge: Challenge) -> Result<(), RegistryError> {
        if self.login.is_none() {
            self.login = Some(self.puller.configured_login(&self.endpoint.key)?);
        }
        let login = self.login.as_ref().and_then(Option::as_ref);
        if let Some(login) = login {
            let what = format!("the registry password of {:?}", login.username);
            self.puller
                .credentials
                .register(&what, login.password.expose());
        }
        match challenge {
            Challenge::Basic => {
                let login = login.ok_or_else(|| {
                    self.unauthorized(format!(
                        "the registry requires credentials and none are configured for {}",
                        self.endpoint.key
                    ))
                })?;
                self.authorization = Some(login.basic_header());
            }
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let token = self.token(&realm, service, scope, login)?;
                self.puller
                    .credentials
                    .register("a registry bearer token", token.as_bytes());
                let header = Zeroizing::new(format!("Bearer {}", token.as_str()));
                self.authorization = Some(auth::sensitive_header(&header));
            }
        }
        Ok(())
    }

    /// Gets a token from the challenge's realm, with basic credentials if there are any.
    fn token(
        &self,
        realm: &str,
        service: Option<String>,
        scope: Option<String>,
        login: Option<&Login>,
    ) -> Result<Zeroizing<String>, RegistryError> {
        let mut url = Url::parse(realm)
            .map_err(|e| self.protocol(format!("bad token realm {realm:?}: {e}")))?;
        let realm_host = url.host_str().unwrap_or_default().to_string();
        let secure =
            url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&realm_host));
        if !secure {
            return Err(self.protocol(format!(
                "refusing the token realm {realm:?}: plain http is only allowed for loopback addresses"
            )));
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &service {
                query.append_pair("service", service);
            }
            let scope = scope.unwrap_or_else(|| format!("repository:{}:pull", self.repository));
            query.append_pair("scope", &scope);
        }
        let mut request = self.client.get(url);
        if let Some(login) = login {
            request = request.header(AUTHORIZATION, login.basic_header());
        }
        let response = request.send().map_err(|err| {
            self.unreachable(format!("token endpoint {realm}: {}", describe_causes(&err)))
        })?;
        match response.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(self.unauthorized(match login {
                    Some(login) => format!(
                        "the token endpoint {realm} refused the credentials of {:?}",
                        login.username
                    ),
                    None => format!(
                        "the token endpoint {realm} requires credentials and none are configured for {}",
                        self.endpoint.key
                    ),
                }))
            }
            status => {
                return Err(self.protocol(format!(
                    "the token endpoint {realm} answered {status}"
                )))
            }
        }
        let mut body = Zeroizing::new(Vec::new());
        response
            .take(MAX_SMALL_BODY)
            .read_to_end(&mut body)
            .map_err(|e| self.unreachable(format!("reading a token from {realm}: {e}")))?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            self.protocol(format!("the token endpoint {realm} did not answer JSON"))
        })?;
        answer
            .token
            .as_deref()
            .or(answer.access_token.as_deref())
            .filter(|t| !t.is_empty())
            .map(|t| Zeroizing::new(t.to_string()))
            .ok_or_else(|| self.protocol(format!("the token endpoint {realm} answered no token")))
    }

    /// Turns any status but 200 into an error.
    fn check(
        &self,
        response: Response,
        what: &str,
        authenticated: bool,
    ) -> Result<Response, RegistryError> {
        let status = response.status();
        if status == StatusCode::OK {
            return Ok(response);
        }
        let detail = error_detail(response);
        let registry = self.endpoint.label.clone();
        Err(match status {
            StatusCode::NOT_FOUND => RegistryError::NotFound {
                registry,
                what: what.to_string(),
                detail,
            },
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                let login = self.login.as_ref().and_then(Option::as_ref);
                let reason = match (authenticated, login) {
                    (true, Some(login)) => {
                        format!("the credentials of {:?} were refused", login.username)
                    }
                    (true, None) => "anonymous access was refused".to_string(),
                    (false, _) => format!("access denied ({status})"),
                };
                RegistryError::Unauthorized {
                    registry,
                    reason: match detail {
                        Some(detail) => format!("{reason}: {detail}"),
                        None => reason,
                    },
                }
            }
            _ => RegistryError::Protocol {
                registry,
                reason: format!(
                    "unexpected status {status} for {what}{}",
                    detail.map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            },
        })
    }

    fn protocol(&self, reason: String) -> RegistryError {
        RegistryError::Protocol {
            registry: self.endpoint.label.clone(),
            reason,
        }
    }

    fn unauthorized(&self, reason: String) -> RegistryError {
        RegistryError::Unauthorized {
            registry: self.endpoint.label.clone(),
            reason,
        }
    }

    fn unreachable(&self, reason: String) -> RegistryError {
        RegistryError::Unreachable {
            registry: self.endpoint.label.clone(),
            reason,
        }
    }
}

/// A token endpoint's answer. Zeroized when dropped.
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Drop for TokenAnswer {
    fn drop(&mut self) {
        self.token.zeroize();
        self.access_token.zeroize();
    }
}

/// A response body reader that remembers transport failures, which the store would
/// otherwise report as its own I/O errors.
struct NetReader<R> {
    inner: R,
    failure: Option<String>,
}

impl<R: Read> Read for NetReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failure = Some(e.to_string());
        })
    }
}

/// The registry's explanation from an error response (`{"errors":[{"code","message"}]}`).
fn error_detail(response: Response) -> Option<String> {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let mut body = Vec::new();
    response.take(MAX_SMALL_BODY).read_to_end(&mut body).ok()?;
    let errors: Errors = serde_json::from_slice(&body).ok()?;
    let first = errors.errors.into_iter().next()?;
    let text = match (first.code.is_empty(), first.message.is_empty()) {
        (false, false) => format!("{}: {}", first.code, first.message),
        (false, true) => first.code,
        (true, false) => first.message,
        (true, true) => return None,
    };
    Some(text.chars().take(300).collect())
}

/// Whether the manifest bytes are an index (OCI) or manifest list (Docker).
fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    if media_type == OCI_INDEX || media_type == DOCKER_LIST {
        return true;
    }
    if media_type == OCI_MANIFEST || media_type == DOCKER_MANIFEST {
        return false;
    }
    #[derive(Deserialize)]
    struct Shape {
        manifests: Option<serde_json::Value>,
    }
    serde_json::from_slice::<Shape>(bytes).is_ok_and(|s| s.manifests.is_some())
}

/// The OCI architecture name of this host (`amd64`, `arm64` ...).
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "mips64" if cfg!(target_endian = "little") => "mips64le",
        "loongarch64" => "loong64",
        other => other,
    }
}

/// Whether `host[:port]` (or `[v6]:port`) is a loopback address or `localhost`.
pub(crate) fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port))
                if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                host
            }
            _ => host_port,
        }
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The credentials key of a registry address: `host[:port]`, `docker.io` for Docker Hub.
fn registry_key(address: &str) -> Result<String, RegistryError> {
    let rest = address
        .strip_prefix("https://")
        .or_else(|| address.strip_prefix("http://"))
        .unwrap_or(address);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains('@') {
        return Err(RegistryError::Config(format!(
            "{address:?} is not a registry address (host[:port])"
        )));
    }
    Ok(match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            hush_image::DEFAULT_REGISTRY.to_string()
        }
        _ => host,
    })
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sha256:0123456789ab`: the first 12 hex digits, as Docker shows.
fn short(digest: &Digest) -> String {
    let hex = digest.digest();
    format!("{}:{}", digest.algorithm(), &hex[..hex.len().min(12)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]:5000",
            "::1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1:5000",
            "[::2]:1",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    fn puller() -> Puller {
        let store = hush_secrets::SecretStore::new(hush_secrets::Registry::new(), 100);
        Puller::new(store.credentials())
    }

    #[test]
    fn mirrors_need_https_unless_loopback() {
        assert!(puller().with_mirror("http://127.0.0.1:5000").is_ok());
        assert!(puller().with_mirror("https://mirror.example/v").is_ok());
        let err = puller().with_mirror("http://mirror.example").unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
        assert!(puller().with_mirror("ftp://x").is_err());
        assert!(puller().with_mirror("https://u:p@x").is_err());
    }

    #[test]
    fn registry_keys() {
        assert_eq!(
            registry_key("https://index.docker.io/v1/").unwrap(),
            "docker.io"
        );
        assert_eq!(registry_key("Localhost:5000").unwrap(), "localhost:5000");
        assert!(registry_key("").is_err());
    }
}
