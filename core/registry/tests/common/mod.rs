//! Test fixtures: Debian's `docker-registry` on loopback (once per test binary), a busybox
//! image built here and pushed over the distribution API, and small stand-in HTTP servers
//! for behaviours the real registry cannot be made to show (corrupt blobs, bearer tokens).

#![allow(dead_code)] // each test binary uses a different part of the fixtures

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use flate2::write::GzEncoder;
use hush_secrets::{CredentialSink, Registry as Providers, Secret, SecretStore, DEFAULT_LIMIT};
use serde_json::json;
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The user of the registry that requires basic auth.
pub const USER: &str = "hush-puller";
/// Its password: distinctive, so tests can look for it in any output.
pub const PASSWORD: &str = "Pw-9c1e5b7d-never-print-me";

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A secret holding `plaintext`, as the API would pass it.
pub fn secret(plaintext: &str) -> Secret {
    SecretStore::new(Providers::builtin(), DEFAULT_LIMIT)
        .set_secret("registry-password", plaintext.as_bytes())
        .unwrap()
}

/// Where a puller under test registers its credentials (a store no test observes).
pub fn credentials() -> CredentialSink {
    SecretStore::new(Providers::builtin(), DEFAULT_LIMIT).credentials()
}

/// A running `docker-registry` on `127.0.0.1:<port>`; killed when the test binary exits.
pub struct TestRegistry {
    pub addr: String,
    pub auth: Option<(&'static str, &'static str)>,
}

impl TestRegistry {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The registry without authentication.
pub fn anonymous_registry() -> &'static TestRegistry {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| start_registry("anon", None))
}

/// The registry that requires HTTP basic auth (`USER`/`PASSWORD`, bcrypt htpasswd).
pub fn basic_auth_registry() -> &'static TestRegistry {
    static REGISTRY: OnceLock<TestRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| start_registry("basic", Some((USER, PASSWORD))))
}

/// A directory for this process's registries under Cargo's test temp directory; those of
/// processes that are gone are removed.
fn work_dir(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hush-registry-tests");
    std::fs::create_dir_all(&root).unwrap();
    for entry in std::fs::read_dir(&root).unwrap().flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let pid = file_name.split('-').next().unwrap_or_default();
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = root.join(format!("{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_registry(name: &str, auth: Option<(&'static str, &'static str)>) -> TestRegistry {
    let dir = work_dir(name);
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
         http:\n  addr: {addr}\n",
        dir.join("storage").display()
    );
    if let Some((user, password)) = auth {
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd (apache2-utils) is installed by scripts/setup.sh");
        assert!(out.status.success());
        std::fs::write(dir.join("htpasswd"), &out.stdout).unwrap();
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: hush-test\n    path: {}\n",
            dir.join("htpasswd").display()
        ));
    }
    let config_path = dir.join("config.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.join("registry.log")).unwrap();
    // The registry is started from a thread that lives as long as the process, so that the
    // parent-death signal fires when the test binary exits, not when a test thread ends.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut command = Command::new("/usr/bin/docker-registry");
        command
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe and only sets this child's death signal.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .expect("docker-registry (Debian package) is installed by scripts/setup.sh");
        tx.send(()).unwrap();
        let _ = child.wait();
    });
    rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        if Instant::now() > deadline {
            panic!(
                "docker-registry did not start: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    TestRegistry { addr, auth }
}

/// An image to push: layer blobs (gzip tars), config and manifest, as exact bytes.
#[derive(Clone)]
pub struct TestImage {
    pub layers: Vec<Vec<u8>>,
    pub diff_ids: Vec<String>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
    pub media_type: &'static str,
}

impl TestImage {
    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    /// Every blob (config and layers) with its digest.
    pub fn blobs(&self) -> Vec<(String, Vec<u8>)> {
        std::iter::once(&self.config)
            .chain(&self.layers)
            .map(|b| (sha256(b), b.clone()))
            .collect()
    }
}

fn tar_gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> (Vec<u8>, String) {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    let tar = builder.into_inner().unwrap();
    let diff_id = sha256(&tar);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    (gz.finish().unwrap(), diff_id)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(1_700_000_000);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// The busybox layer: `/bin/busybox` from Debian's busybox-static and a few applet links.
fn busybox_layer() -> &'static (Vec<u8>, String) {
    static LAYER: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    LAYER.get_or_init(|| {
        tar_gz(|b| {
            let mut dir = header(tar::EntryType::Directory, 0o755, 0);
            b.append_data(&mut dir, "bin/", std::io::empty()).unwrap();
            let busybox = std::fs::read("/bin/busybox")
                .expect("busybox-static is installed by scripts/setup.sh");
            let mut file = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
            b.append_data(&mut file, "bin/busybox", busybox.as_slice())
                .unwrap();
            for applet in ["sh", "ls", "cat", "echo"] {
                let mut link = header(tar::EntryType::Symlink, 0o777, 0);
                b.append_link(&mut link, format!("bin/{applet}"), "busybox")
                    .unwrap();
            }
        })
    })
}

/// A layer with `/etc/marker` holding `marker`.
fn marker_layer(marker: &str) -> (Vec<u8>, String) {
    tar_gz(|b| {
        let mut dir = header(tar::EntryType::Directory, 0o755, 0);
        b.append_data(&mut dir, "etc/", std::io::empty()).unwrap();
        let mut file = header(tar::EntryType::Regular, 0o644, marker.len() as u64);
        b.append_data(&mut file, "etc/marker", marker.as_bytes())
            .unwrap();
    })
}

/// A two-layer busybox image whose `/etc/marker` holds `marker`, with Docker schema 2 or
/// OCI media types.
pub fn busybox_image(marker: &str, docker: bool) -> TestImage {
    let (base, base_diff) = busybox_layer().clone();
    let (top, top_diff) = marker_layer(marker);
    let config = serde_json::to_vec(&json!({
        "architecture": hush_registry::host_architecture(),
        "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"], "Labels": {"marker": marker}},
        "rootfs": {"type": "layers", "diff_ids": [base_diff, top_diff]},
    }))
    .unwrap();
    let (manifest_type, config_type, layer_type) = if docker {
        (
            DOCKER_MANIFEST,
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            OCI_MANIFEST,
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    };
    let descriptor = |media: &str, bytes: &[u8]| json!({"mediaType": media, "digest": sha256(bytes), "size": bytes.len()});
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": descriptor(config_type, &config),
        "layers": [descriptor(layer_type, &base), descriptor(layer_type, &top)],
    }))
    .unwrap();
    TestImage {
        layers: vec![base, top],
        diff_ids: vec![base_diff, top_diff],
        config,
        manifest,
        media_type: manifest_type,
    }
}

/// An OCI index with `image` for this host and a second manifest for another architecture.
pub fn index_of(image: &TestImage, other: &TestImage) -> Vec<u8> {
    let other_arch = if hush_registry::host_architecture() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let entry = |m: &TestImage, arch: &str| {
        json!({"mediaType": m.media_type, "digest": m.digest(), "size": m.manifest.len(),
               "platform": {"architecture": arch, "os": "linux"}})
    };
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry(other, other_arch), entry(image, hush_registry::host_architecture())],
    }))
    .unwrap()
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::new()
}

fn with_auth(
    request: reqwest::blocking::RequestBuilder,
    registry: &TestRegistry,
) -> reqwest::blocking::RequestBuilder {
    match registry.auth {
        Some((user, password)) => request.basic_auth(user, Some(password)),
        None => request,
    }
}

/// Pushes a blob with a monolithic upload (POST, then PUT with the digest).
pub fn push_blob(registry: &TestRegistry, repo: &str, bytes: &[u8]) {
    let base = registry.base();
    let started = with_auth(
        client().post(format!("{base}/v2/{repo}/blobs/uploads/")),
        registry,
    )
    .send()
    .unwrap();
    assert_eq!(started.status().as_u16(), 202, "upload start: {started:?}");
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let url = if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        location
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let done = with_auth(
        client()
            .put(format!("{url}{sep}digest={}", sha256(bytes)))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec()),
        registry,
    )
    .send()
    .unwrap();
    assert_eq!(done.status().as_u16(), 201, "upload end: {done:?}");
}

/// Pushes a manifest (or index) under `reference` (a tag or digest).
pub fn push_manifest(
    registry: &TestRegistry,
    repo: &str,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) {
    let response = with_auth(
        client()
            .put(format!(
                "{}/v2/{repo}/manifests/{reference}",
                registry.base()
            ))
            .header("content-type", media_type)
            .body(bytes.to_vec()),
        registry,
    )
    .send()
    .unwrap();
    let status = response.status().as_u16();
    assert_eq!(status, 201, "manifest push: {}", response.text().unwrap());
}

/// Pushes all of `image` and tags it `tag`.
pub fn push_image(registry: &TestRegistry, repo: &str, tag: &str, image: &TestImage) {
    for (_, blob) in image.blobs() {
        push_blob(registry, repo, &blob);
    }
    push_manifest(registry, repo, tag, image.media_type, &image.manifest);
}

/// What a stand-in server was asked.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

/// What it answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// A minimal HTTP/1.1 server on loopback standing in for a registry or a token service; it
/// records every request. TLS handshakes are refused by closing the connection.
pub struct StandIn {
    pub addr: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl StandIn {
    pub fn paths(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.path.clone())
            .collect()
    }
}

pub fn stand_in(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = requests.clone();
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = handler.clone();
            let log = log.clone();
            std::thread::spawn(move || serve_connection(stream, &*handler, &log));
        }
    });
    StandIn { addr, requests }
}

fn serve_connection(
    mut stream: TcpStream,
    handler: &dyn Fn(&Request) -> Reply,
    log: &Mutex<Vec<Request>>,
) {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).is_err() || first[0] == 0x16 {
        return; // a TLS ClientHello: this server speaks plain HTTP only
    }
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let request = Request {
        method,
        path,
        headers,
    };
    log.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
}

/// A handler serving `image` as `<repo>:<tag>` (and by digest), with `blob_override`
/// replacing the content served for some digests.
pub fn serve_image(
    image: &TestImage,
    repo: &str,
    tag: &str,
    blob_override: HashMap<String, Vec<u8>>,
) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    let mut routes: HashMap<String, (String, Vec<u8>)> = HashMap::new();
    for (digest, bytes) in image.blobs() {
        let bytes = blob_override.get(&digest).cloned().unwrap_or(bytes);
        routes.insert(
            format!("/v2/{repo}/blobs/{digest}"),
            ("application/octet-stream".into(), bytes),
        );
    }
    for reference in [tag.to_string(), image.digest()] {
        routes.insert(
            format!("/v2/{repo}/manifests/{reference}"),
            (image.media_type.into(), image.manifest.clone()),
        );
    }
    move |request: &Request| match routes.get(&request.path) {
        Some((media_type, bytes)) => {
            Reply::new(200, bytes.clone()).header("Content-Type", media_type)
        }
        None => Reply::new(
            404,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"stand-in has no such thing"}]}"#,
        ),
    }
}
