//! The engine: evaluates container chains, once per chain and engine, with an executor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hush_cache::{Cache, Commit, LeakScanner, NewEntry};
use hush_console::Console;
use hush_scrub::Scrubber;
use hush_secrets::{MacKey, Secret};
use sha2::{Digest as _, Sha256};
use tokio::sync::OnceCell;

use crate::error::{EngineError, Result};
use crate::executor::{
    output_tail, ExecCacheMount, ExecDirMount, ExecFileMount, ExecOutput, ExecSecretMount,
    ExecSocketMount, ExecSpec, ExecTmpfsMount, Executor, LocalExecutor, RuntimeChoice,
};
use crate::images::{ImageConfig, ImageSource, ResolvedImage};
use crate::model::{
    encode_op, field, CacheMountOptions, CacheVolume, Container, DirSource, Directory, File, Op,
    Socket,
};
use crate::owner::Owner;
use crate::rootfs::{self, Layer};
use crate::volume;

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Clone)]
struct MountedSecret {
    path: String,
    secret: Secret,
    owner: Option<Owner>,
    mode: u32,
}

struct ExecRecord {
    command: String,
    output: ExecOutput,
}

/// The evaluated state after one operation of a chain.
#[derive(Clone, Default)]
struct State {
    layers: Arc<[Arc<Layer>]>,
    has_image: bool,
    config: Arc<ImageConfig>,
    env: Vec<(String, String)>,
    secret_env: Vec<(String, Secret)>,
    secret_mounts: Vec<MountedSecret>,
    dir_mounts: Vec<(String, Directory)>,
    file_mounts: Vec<(String, File)>,
    cache_mounts: Vec<(String, CacheVolume, CacheMountOptions)>,
    tmpfs_mounts: Vec<(String, Option<u64>)>,
    workdir: Option<String>,
    user: Option<String>,
    exec: Option<Arc<ExecRecord>>,
}

impl State {
    /// Removes whatever is mounted at `path`.
    fn unmount(&mut self, path: &str) {
        self.secret_mounts.retain(|m| m.path != path);
        self.dir_mounts.retain(|(p, _)| p != path);
        self.file_mounts.retain(|(p, _)| p != path);
        self.cache_mounts.retain(|(p, ..)| p != path);
        self.tmpfs_mounts.retain(|(p, _)| p != path);
    }
}

/// The secrets an exec in state `s` can see.
fn exec_secrets(s: &State) -> Vec<Secret> {
    s.secret_env
        .iter()
        .map(|(_, secret)| secret.clone())
        .chain(s.secret_mounts.iter().map(|m| m.secret.clone()))
        .collect()
}

/// Host sockets mounted at one point of the chain being evaluated: target and socket.
///
/// Not part of [`State`]: a memoised state may have been made by a chain with the same socket
/// keys (so the same key) at other host paths, and an exec must use its own chain's paths.
type Sockets = Vec<(String, Socket)>;

/// Updates `sockets` for one more operation of the chain.
fn track_sockets(sockets: &mut Sockets, op: &Op) {
    match op {
        Op::From(_) => sockets.clear(),
        Op::SocketMount { path, socket } => {
            sockets.retain(|(p, _)| p != path);
            sockets.push((path.clone(), socket.clone()));
        }
        Op::SecretMount { path, .. }
        | Op::MountDir { path, .. }
        | Op::MountFile { path, .. }
        | Op::CacheMount { path, .. }
        | Op::TmpfsMount { path, .. }
        | Op::WithoutMount(path) => sockets.retain(|(p, _)| p != path),
        _ => {}
    }
}

/// The absolute host path of a socket mounted at `target`, checked to be a unix socket.
fn check_socket(target: &str, socket: &Socket) -> Result<PathBuf> {
    use std::os::unix::fs::FileTypeExt;
    let unavailable = |reason: String| EngineError::SocketUnavailable {
        target: target.to_owned(),
        host: socket.path().display().to_string(),
        reason,
    };
    let path = std::path::absolute(socket.path()).map_err(|e| unavailable(e.to_string()))?;
    match std::fs::metadata(&path) {
        Ok(m) if m.file_type().is_socket() => Ok(path),
        Ok(_) => Err(unavailable("not a unix socket".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(unavailable("no such file or directory".into()))
        }
        Err(e) => Err(unavailable(e.to_string())),
    }
}

type Memo = Mutex<HashMap<[u8; 32], Arc<OnceCell<Arc<State>>>>>;

/// Receives warnings (never containing a secret value), e.g. a session's warning sink.
pub type Warnings = Arc<dyn Fn(&str) + Send + Sync>;

/// The persistent cache an engine stores exec results in, with what its keys need.
pub struct PersistentCache {
    cache: Arc<Cache>,
    mac: Arc<MacKey>,
    warnings: Warnings,
}

impl PersistentCache {
    /// Exec results go to `cache`, keyed with secrets' MACs under `mac` (the session's MAC
    /// key); a leak found before a commit, or a cache failure, is reported to `warnings`.
    pub fn new(cache: Arc<Cache>, mac: Arc<MacKey>, warnings: Warnings) -> Self {
        Self {
            cache,
            mac,
            warnings,
        }
    }
}

/// An image resolved once per engine, with its identity for keys.
struct Image {
    resolved: ResolvedImage,
    identity: [u8; 32],
}

struct Inner {
    scrubber: Arc<Scrubber>,
    /// Progress lines, through the scrubber.
    console: Console,
    images: Arc<dyn ImageSource>,
    executor: Arc<dyn Executor>,
    dir: PathBuf,
    /// Where cache volumes live (beside the state directories, so they outlive the engine).
    volumes: PathBuf,
    salt: [u8; 32],
    persist: Option<PersistentCache>,
    memo: Memo,
    resolved: Mutex<HashMap<String, Arc<Image>>>,
    host_dirs: Mutex<HashMap<PathBuf, [u8; 32]>>,
    next: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.memo.lock().unwrap().clear();
        let _ = std::fs::remove_dir(self.dir.join("l"));
        let _ = std::fs::remove_dir_all(self.dir.join("x"));
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Evaluates containers: resolves images, runs execs with an [`Executor`], scrubs their
/// output with the session's [`Scrubber`] and remembers results, so each exec of a chain
/// runs at most once per engine; with a [`PersistentCache`], at most once per key across
/// processes (see the [crate documentation](crate#design)).
///
/// Filesystem layers made by execs live under the engine's state directory and are removed
/// when nothing refers to them any more; those committed to the cache live there.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

fn random_bytes() -> [u8; 32] {
    let mut salt = [0u8; 32];
    let mut filled = 0;
    while filled < salt.len() {
        // SAFETY: writes at most the remaining length into the buffer.
        let n =
            unsafe { libc::getrandom(salt[filled..].as_mut_ptr().cast(), salt.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
    salt
}

/// Eight random hex digits.
pub(crate) fn random_tag() -> String {
    hex::encode(&random_bytes()[..4])
}

/// Removes state directories of engines whose process is gone (e.g. killed).
fn remove_stale(root: &Path) {
    let Ok(list) = std::fs::read_dir(root) else {
        return;
    };
    for entry in list.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Engine {
    /// The default engine of a session: images from the image store in
    /// `<hush home>/images`, state under `<hush home>/engine`, execs on this host with the
    /// runtime chosen by `HUSH_RUNTIME` (else detected). A home hush must not trust is refused.
    pub fn new(scrubber: Arc<Scrubber>) -> Result<Self> {
        let home = hush_secrets::hush_home();
        hush_secrets::open_home(&home)?;
        let images =
            hush_image::ImageStore::open(&home.join("images")).map_err(|e| EngineError::Image {
                image: String::new(),
                message: format!("cannot open the image store: {e}"),
            })?;
        Self::with_images(scrubber, Arc::new(images), home.join("engine"), None)
    }

    /// An engine over `images` running execs on this host, its state under `state_root`,
    /// storing exec results in `cache` if given (`state_root` must then be on the cache's
    /// filesystem, so committing a layer is a rename).
    pub fn with_images(
        scrubber: Arc<Scrubber>,
        images: Arc<dyn ImageSource>,
        state_root: PathBuf,
        cache: Option<PersistentCache>,
    ) -> Result<Self> {
        let dir = Self::make_dir(&state_root)?;
        let executor = LocalExecutor::new(dir.join("x"), RuntimeChoice::from_env()?)?;
        Ok(Self::build(
            scrubber,
            images,
            Arc::new(executor),
            dir,
            cache,
        ))
    }

    /// An engine with a given executor; its state lives under `state_root`.
    pub fn with_executor(
        scrubber: Arc<Scrubber>,
        images: Arc<dyn ImageSource>,
        executor: Arc<dyn Executor>,
        state_root: PathBuf,
    ) -> Result<Self> {
        let dir = Self::make_dir(&state_root)?;
        Ok(Self::build(scrubber, images, executor, dir, None))
    }

    /// An engine with a given executor that stores exec results in `cache`; its state lives
    /// under `state_root` (on the cache's filesystem).
    pub fn with_executor_and_cache(
        scrubber: Arc<Scrubber>,
        images: Arc<dyn ImageSource>,
        executor: Arc<dyn Executor>,
        state_root: PathBuf,
        cache: PersistentCache,
    ) -> Result<Self> {
        let dir = Self::make_dir(&state_root)?;
        Ok(Self::build(scrubber, images, executor, dir, Some(cache)))
    }

    /// This engine's state directory (created with the first layer: a run served from the
    /// cache writes nothing there).
    fn make_dir(state_root: &Path) -> Result<PathBuf> {
        remove_stale(state_root);
        Ok(state_root.join(format!("{}-{}", std::process::id(), random_tag())))
    }

    fn build(
        scrubber: Arc<Scrubber>,
        images: Arc<dyn ImageSource>,
        executor: Arc<dyn Executor>,
        dir: PathBuf,
        persist: Option<PersistentCache>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                console: Console::new(scrubber.clone()),
                scrubber,
                images,
                executor,
                volumes: dir
                    .parent()
                    .map_or_else(|| dir.join("volumes"), |root| root.join("volumes")),
                dir,
                salt: random_bytes(),
                persist,
                memo: Mutex::new(HashMap::new()),
                resolved: Mutex::new(HashMap::new()),
                host_dirs: Mutex::new(HashMap::new()),
                next: AtomicU64::new(0),
            }),
        }
    }

    /// The session scrubber.
    pub fn scrubber(&self) -> &Arc<Scrubber> {
        &self.inner.scrubber
    }

    /// This engine's state directory.
    pub fn state_dir(&self) -> &Path {
        &self.inner.dir
    }

    fn new_layer_path(&self) -> Result<PathBuf> {
        let layers = self.inner.dir.join("l");
        hush_secrets::ensure_private_dir(&layers)
            .map_err(EngineError::io(format!("create {}", layers.display())))?;
        let n = self.inner.next.fetch_add(1, Ordering::Relaxed);
        Ok(layers.join(n.to_string()))
    }

    /// The key of one more operation: the chain so far and the operation, where an image
    /// contributes its identity (layers and config), a host directory its contents, a
    /// directory of a container that container's key, and a secret its keyed MAC (the
    /// session's MAC key with a persistent cache, else a hash salted with this engine's
    /// random in-memory salt); never a plain hash of a secret value.
    fn key(&self, prev: &[u8; 32], op: &Op) -> Result<[u8; 32]> {
        let mut h = Sha256::new();
        field(&mut h, b"hush.key.v1");
        h.update(prev);
        match op {
            Op::From(address) => {
                encode_op(op, &mut h, &mut |_, _| {});
                h.update(self.image(address)?.identity);
            }
            Op::MountDir { path, dir } => {
                field(&mut h, b"mount-dir");
                field(&mut h, path.as_bytes());
                h.update(self.dir_identity(dir)?);
            }
            Op::MountFile { path, file } => {
                let (dir, rel) = file.parts();
                field(&mut h, b"mount-file");
                field(&mut h, path.as_bytes());
                h.update(self.dir_identity(dir)?);
                field(&mut h, rel.as_bytes());
            }
            _ => encode_op(op, &mut h, &mut |secret, h| match &self.inner.persist {
                Some(p) => field(h, p.mac.digest(secret).hex().as_bytes()),
                None => {
                    let mut v = Sha256::new();
                    v.update(self.inner.salt);
                    v.update(secret.expose());
                    h.update(v.finalize());
                }
            }),
        }
        Ok(h.finalize().into())
    }

    /// The image at `address`, resolved (and pulled if need be) once per engine.
    fn image(&self, address: &str) -> Result<Arc<Image>> {
        if let Some(image) = self.inner.resolved.lock().unwrap().get(address) {
            return Ok(image.clone());
        }
        let resolved = self
            .inner
            .images
            .resolve(address)?
            .ok_or_else(|| EngineError::ImageNotFound(address.to_owned()))?;
        let mut h = Sha256::new();
        field(&mut h, b"image");
        for layer in &resolved.layers {
            field(&mut h, layer.as_os_str().as_encoded_bytes());
        }
        let config = &resolved.config;
        for e in &config.env {
            field(&mut h, e.as_bytes());
        }
        field(&mut h, config.workdir.as_deref().unwrap_or("\0").as_bytes());
        field(&mut h, config.user.as_deref().unwrap_or("\0").as_bytes());
        let image = Arc::new(Image {
            resolved,
            identity: h.finalize().into(),
        });
        self.inner
            .resolved
            .lock()
            .unwrap()
            .insert(address.to_owned(), image.clone());
        Ok(image)
    }

    /// What a mounted directory contributes to keys: a host directory's contents (hashed
    /// once per engine), or the key of the container a directory came from.
    fn dir_identity(&self, dir: &Directory) -> Result<[u8; 32]> {
        match &*dir.0 {
            DirSource::Layers { path, key, .. } => {
                let mut h = Sha256::new();
                field(&mut h, b"layers");
                field(&mut h, path.as_bytes());
                h.update(key);
                Ok(h.finalize().into())
            }
            DirSource::Host(p) => {
                if let Some(d) = self.inner.host_dirs.lock().unwrap().get(p) {
                    return Ok(*d);
                }
                let d = host_dir_digest(p)?;
                self.inner.host_dirs.lock().unwrap().insert(p.clone(), d);
                Ok(d)
            }
        }
    }

    /// The final key and state of a chain.
    async fn evaluate(&self, ctr: &Container) -> Result<([u8; 32], Arc<State>)> {
        let mut state = Arc::new(State::default());
        let mut key = [0u8; 32];
        let mut sockets = Sockets::new();
        for node in ctr.nodes() {
            key = self.key(&key, &node.op)?;
            track_sockets(&mut sockets, &node.op);
            let cell = self
                .inner
                .memo
                .lock()
                .unwrap()
                .entry(key)
                .or_default()
                .clone();
            let prev = state;
            state = cell
                .get_or_try_init(|| self.apply(prev, &node.op, key, &sockets))
                .await?
                .clone();
        }
        Ok((key, state))
    }

    async fn apply(
        &self,
        prev: Arc<State>,
        op: &Op,
        key: [u8; 32],
        sockets: &[(String, Socket)],
    ) -> Result<Arc<State>> {
        let mut s = (*prev).clone();
        s.exec = prev.exec.clone();
        match op {
            Op::From(address) => {
                // An image may have no layers (`scratch`): execs then get an empty root.
                let image = self.image(address)?.resolved.clone();
                s = State {
                    layers: image
                        .layers
                        .into_iter()
                        .map(|p| Arc::new(Layer::external(p)))
                        .collect(),
                    has_image: true,
                    config: Arc::new(image.config),
                    ..State::default()
                };
            }
            Op::Env { name, value } => {
                s.env.retain(|(n, _)| n != name);
                s.env.push((name.clone(), value.clone()));
            }
            Op::SecretEnv { name, secret } => {
                let _ = self.inner.scrubber.add_secret(secret.expose());
                s.secret_env.retain(|(n, _)| n != name);
                s.secret_env.push((name.clone(), secret.clone()));
            }
            Op::WithoutSecretEnv(name) => s.secret_env.retain(|(n, _)| n != name),
            Op::WithoutEnv(name) => {
                s.env.retain(|(n, _)| n != name);
                let named = |e: &String| e.split('=').next() == Some(name.as_str());
                if s.config.env.iter().any(named) {
                    let mut config = (*s.config).clone();
                    config.env.retain(|e| !named(e));
                    s.config = Arc::new(config);
                }
            }
            Op::SecretMount {
                path,
                secret,
                owner,
                mode,
            } => {
                let _ = self.inner.scrubber.add_secret(secret.expose());
                s.unmount(path);
                s.secret_mounts.push(MountedSecret {
                    path: path.clone(),
                    secret: secret.clone(),
                    owner: owner.clone(),
                    mode: *mode,
                });
            }
            // Sockets are tracked by `evaluate` (see `Sockets`); a socket replaces what was
            // mounted at its path.
            Op::WithoutMount(path) | Op::SocketMount { path, .. } => s.unmount(path),
            Op::Workdir(path) => s.workdir = Some(path.clone()),
            Op::User(user) => s.user = Some(user.clone()),
            Op::MountDir { path, dir } => {
                s.unmount(path);
                s.dir_mounts.push((path.clone(), dir.clone()));
            }
            Op::MountFile { path, file } => {
                s.unmount(path);
                s.file_mounts.push((path.clone(), file.clone()));
            }
            Op::CacheMount {
                path,
                cache,
                options,
            } => {
                s.unmount(path);
                s.cache_mounts
                    .push((path.clone(), cache.clone(), options.clone()));
            }
            Op::TmpfsMount { path, size } => {
                s.unmount(path);
                s.tmpfs_mounts.push((path.clone(), *size));
            }
            Op::NewFile {
                path,
                contents,
                mode,
            } => {
                if !s.has_image {
                    return Err(EngineError::NoImage);
                }
                let dest = self.new_layer_path()?;
                let layer = Arc::new(Layer::owned(dest.clone()));
                rootfs::new_file_layer(&s.layers, &dest, path, contents, *mode)?;
                s.layers = s.layers.iter().cloned().chain([layer]).collect();
            }
            Op::Exec(args) => {
                if let Some(failed) = prev.exec.as_ref().filter(|r| r.output.exit_code != 0) {
                    return Err(failed_error(failed));
                }
                let (layer, record) = match &self.inner.persist {
                    Some(p) => self.cached_exec(p, key, &s, sockets, args).await?,
                    None => {
                        let (layer, record) = self.exec(&s, sockets, args).await?;
                        (Some(layer), record)
                    }
                };
                if let Some(layer) = layer {
                    s.layers = s.layers.iter().cloned().chain([layer]).collect();
                }
                s.exec = Some(Arc::new(record));
            }
        }
        Ok(Arc::new(s))
    }

    fn ids(&self, s: &State, spec: &str, what: &'static str) -> Result<crate::owner::Ids> {
        let passwd = rootfs::read_text(&s.layers, "/etc/passwd");
        let group = rootfs::read_text(&s.layers, "/etc/group");
        Owner::parse(spec, what)?.resolve(passwd.as_deref(), group.as_deref())
    }

    fn dir_lower(dir: &Directory) -> Result<Vec<PathBuf>> {
        match &*dir.0 {
            DirSource::Host(p) => {
                let m = std::fs::metadata(p).map_err(|_| EngineError::NotFound {
                    path: p.display().to_string(),
                })?;
                if !m.is_dir() {
                    return Err(EngineError::WrongKind {
                        path: p.display().to_string(),
                        expected: "directory",
                    });
                }
                Ok(vec![p.clone()])
            }
            DirSource::Layers { layers, path, .. } => {
                let canonical = rootfs::directory(layers, path)?;
                let mut dirs = rootfs::dir_sources(layers, &canonical);
                dirs.reverse();
                Ok(dirs)
            }
        }
    }

    async fn exec(
        &self,
        s: &State,
        sockets: &[(String, Socket)],
        args: &[String],
    ) -> Result<(Arc<Layer>, ExecRecord)> {
        if !s.has_image {
            return Err(EngineError::NoImage);
        }
        let user = s
            .user
            .as_deref()
            .or(s.config.user.as_deref())
            .unwrap_or("0");
        let ids = self.ids(s, user, "the user")?;
        let mut env: Vec<String> = Vec::new();
        let mut set = |entry: String| {
            let name = entry.split('=').next().unwrap_or_default().to_owned();
            env.retain(|e| e.split('=').next() != Some(name.as_str()));
            env.push(entry);
        };
        set(DEFAULT_PATH.to_owned());
        for e in &s.config.env {
            set(e.clone());
        }
        for (n, v) in &s.env {
            set(format!("{n}={v}"));
        }
        let secret_names: Vec<&str> = s.secret_env.iter().map(|(n, _)| n.as_str()).collect();
        env.retain(|e| !secret_names.contains(&e.split('=').next().unwrap_or_default()));
        let mut secret_mounts = Vec::new();
        for m in &s.secret_mounts {
            let ids = match &m.owner {
                None => crate::owner::Ids { uid: 0, gid: 0 },
                Some(o) => self.ids(s, o.spec(), "the owner")?,
            };
            secret_mounts.push(ExecSecretMount {
                target: m.path.clone(),
                secret: m.secret.clone(),
                uid: ids.uid,
                gid: ids.gid,
                mode: m.mode,
            });
        }
        let mut dir_mounts = Vec::new();
        for (target, dir) in &s.dir_mounts {
            dir_mounts.push(ExecDirMount {
                target: target.clone(),
                lower: Self::dir_lower(dir)?,
            });
        }
        let mut socket_mounts = Vec::new();
        for (target, socket) in sockets {
            socket_mounts.push(ExecSocketMount {
                target: target.clone(),
                source: check_socket(target, socket)?,
            });
        }
        let mut volumes = Vec::new();
        let mut cache_mounts = Vec::new();
        for (target, cache, options) in &s.cache_mounts {
            let ids = match &options.owner {
                None => crate::owner::Ids { uid: 0, gid: 0 },
                Some(o) => self.ids(s, o, "the owner")?,
            };
            let (root, key, sharing, mode) = (
                self.inner.volumes.clone(),
                cache.key().to_owned(),
                options.sharing,
                options.mode,
            );
            let lease =
                tokio::task::spawn_blocking(move || volume::lease(&root, &key, sharing, ids, mode))
                    .await
                    .map_err(|e| EngineError::Shim(format!("a cache volume task failed: {e}")))??;
            cache_mounts.push(ExecCacheMount {
                target: target.clone(),
                source: lease.path.clone(),
                readonly: options.readonly,
            });
            volumes.push((cache.key().to_owned(), lease, options.readonly));
        }
        let mut file_mounts = Vec::new();
        for (target, file) in &s.file_mounts {
            file_mounts.push(ExecFileMount {
                target: target.clone(),
                source: file.host_source()?,
            });
        }
        let tmpfs_mounts = s
            .tmpfs_mounts
            .iter()
            .map(|(target, size)| ExecTmpfsMount {
                target: target.clone(),
                size: *size,
            })
            .collect();
        let upper = self.new_layer_path()?;
        std::fs::create_dir(&upper).map_err(EngineError::io("create an exec layer"))?;
        let layer = Arc::new(Layer::owned(upper.clone()));
        let spec = ExecSpec {
            args: args.to_vec(),
            env,
            secret_env: s.secret_env.clone(),
            cwd: s
                .workdir
                .clone()
                .or_else(|| s.config.workdir.clone())
                .unwrap_or_else(|| "/".into()),
            uid: ids.uid,
            gid: ids.gid,
            layers: s.layers.iter().map(|l| l.path().to_path_buf()).collect(),
            upper,
            secret_mounts,
            dir_mounts,
            file_mounts,
            socket_mounts,
            cache_mounts,
            tmpfs_mounts,
        };
        let command = self.show_command(args);
        let console = &self.inner.console;
        let started = Instant::now();
        // Inode change times may lag the clock by a tick: a margin keeps the scan on the safe
        // side.
        let changed_since = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
        console.progress(&format!("hush: exec {command}"));
        let output = self
            .inner
            .executor
            .exec(&spec, &self.inner.scrubber)
            .await?;
        console.progress(&format!(
            "hush: exec {command}: exit {} in {:.2}s",
            output.exit_code,
            started.elapsed().as_secs_f64()
        ));
        self.check_volumes(s, &command, volumes, changed_since)
            .await?;
        Ok((layer, ExecRecord { command, output }))
    }

    /// Scans what an exec that could see secrets changed in its writable cache volumes; files
    /// holding a secret are removed and the exec fails.
    async fn check_volumes(
        &self,
        s: &State,
        command: &str,
        volumes: Vec<(String, volume::VolumeLease, bool)>,
        changed_since: std::time::SystemTime,
    ) -> Result<()> {
        let secrets = exec_secrets(s);
        if secrets.is_empty() || volumes.iter().all(|(_, _, readonly)| *readonly) {
            return Ok(());
        }
        let found = tokio::task::spawn_blocking(move || -> Result<Vec<(String, String)>> {
            let scanner = LeakScanner::new(secrets.iter().map(|s| (s.label(), s.expose())));
            let mut found = Vec::new();
            for (key, lease, _) in volumes.iter().filter(|(_, _, readonly)| !readonly) {
                let leaks = scanner
                    .scan(&lease.path, Some(changed_since))
                    .map_err(|e| EngineError::Shim(format!("scan a cache volume: {e}")))?;
                for leak in &leaks {
                    let path = lease.path.join(leak.relative_path());
                    let removed = match std::fs::symlink_metadata(&path) {
                        Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
                        Ok(_) => std::fs::remove_file(&path),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                        Err(e) => Err(e),
                    };
                    removed.map_err(EngineError::io(format!(
                        "remove a leaked file from cache volume {key:?}"
                    )))?;
                }
                if !leaks.is_empty() {
                    let shown: Vec<String> = leaks.iter().map(ToString::to_string).collect();
                    found.push((key.clone(), shown.join("; ")));
                }
            }
            Ok(found)
        })
        .await
        .map_err(|e| EngineError::Shim(format!("a cache volume scan failed: {e}")))??;
        match found.into_iter().next() {
            None => Ok(()),
            Some((volume, leaks)) => Err(EngineError::SecretInCacheVolume {
                command: command.to_owned(),
                volume,
                leaks: String::from_utf8_lossy(&self.inner.scrubber.scrub(leaks.as_bytes()))
                    .into_owned(),
            }),
        }
    }

    /// An exec through the persistent cache: a stored result if there is one; else, holding
    /// the key against other processes, run it and, if it exited 0, commit its output and
    /// (after a leak scan) its filesystem changes. Cache failures are warnings: the exec
    /// still runs.
    async fn cached_exec(
        &self,
        p: &PersistentCache,
        key: [u8; 32],
        s: &State,
        sockets: &[(String, Socket)],
        args: &[String],
    ) -> Result<(Option<Arc<Layer>>, ExecRecord)> {
        if !s.has_image {
            return Err(EngineError::NoImage);
        }
        let warn = |what: &str, e: &dyn std::fmt::Display| {
            let text = format!("cache {what}: {e}");
            (p.warnings)(&String::from_utf8_lossy(
                &self.inner.scrubber.scrub(text.as_bytes()),
            ));
        };
        let hit = |this: &Self| match p.cache.lookup(&key) {
            Ok(hit) => hit.map(|hit| this.use_hit(args, hit)),
            Err(e) => {
                warn("lookup failed", &e);
                None
            }
        };
        if let Some(found) = hit(self) {
            return Ok(found);
        }
        let cache = p.cache.clone();
        let claim = tokio::task::spawn_blocking(move || cache.lock_key(&key))
            .await
            .unwrap_or_else(|e| Err(task_failed(e)));
        let claim = match claim {
            Ok(claim) => Some(claim),
            Err(e) => {
                warn("lock failed", &e);
                None
            }
        };
        if let Some(found) = hit(self) {
            return Ok(found);
        }
        let (layer, record) = self.exec(s, sockets, args).await?;
        if record.output.exit_code != 0 {
            return Ok((Some(layer), record));
        }
        let secrets = exec_secrets(s);
        let cache = p.cache.clone();
        let upper = layer.path().to_path_buf();
        let what = record.command.clone();
        let output = record.output.clone();
        let committed = tokio::task::spawn_blocking(move || -> hush_cache::Result<_> {
            let changed = std::fs::read_dir(&upper)
                .map_err(|source| hush_cache::CacheError::Io {
                    context: "list the exec's changes".into(),
                    source,
                })?
                .next()
                .is_some();
            if changed {
                let scanner = LeakScanner::new(secrets.iter().map(|s| (s.label(), s.expose())));
                let leaks = scanner.scan(&upper, None)?;
                if !leaks.is_empty() {
                    return Ok(Err(leaks));
                }
            }
            let entry = NewEntry {
                what: &what,
                exit_code: output.exit_code,
                stdout: &output.stdout,
                stderr: &output.stderr,
                layer: changed.then_some(upper.as_path()),
            };
            Ok(Ok((changed, cache.commit(&key, entry)?)))
        })
        .await
        .unwrap_or_else(|e| Err(task_failed(e)));
        drop(claim);
        let layer = match committed {
            Ok(Ok((_, Commit::Stored(Some(lease))))) => Some(Arc::new(Layer::cached(lease))),
            Ok(Ok((false, _))) => None,
            Ok(Ok((true, _))) => Some(layer),
            Ok(Err(leaks)) => {
                for leak in leaks {
                    (p.warnings)(&format!(
                        "not cached: {leak} by {}; anything that copies this \
                         container's files can read it",
                        record.command
                    ));
                }
                Some(layer)
            }
            Err(e) => {
                warn("commit failed", &e);
                Some(layer)
            }
        };
        Ok((layer, record))
    }

    fn use_hit(&self, args: &[String], hit: hush_cache::Hit) -> (Option<Arc<Layer>>, ExecRecord) {
        let command = self.show_command(args);
        self.inner
            .console
            .progress(&format!("hush: exec {command}: cached"));
        let record = ExecRecord {
            command,
            output: ExecOutput {
                stdout: hit.stdout,
                stderr: hit.stderr,
                exit_code: hit.exit_code,
            },
        };
        (hit.layer.map(|l| Arc::new(Layer::cached(l))), record)
    }

    /// The command line as shown to people: quoted where needed, scrubbed.
    fn show_command(&self, args: &[String]) -> String {
        let shown: Vec<String> = args
            .iter()
            .map(|a| {
                let plain = !a.is_empty()
                    && a.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
                if plain {
                    a.clone()
                } else {
                    format!("'{}'", a.replace('\'', "'\\''"))
                }
            })
            .collect();
        let joined = shown.join(" ");
        String::from_utf8_lossy(&self.inner.scrubber.scrub(joined.as_bytes())).into_owned()
    }

    async fn last_exec(&self, ctr: &Container, what: &'static str) -> Result<Arc<ExecRecord>> {
        self.evaluate(ctr)
            .await?
            .1
            .exec
            .clone()
            .ok_or(EngineError::NoExec(what))
    }

    async fn succeeded(&self, ctr: &Container, what: &'static str) -> Result<Arc<ExecRecord>> {
        let record = self.last_exec(ctr, what).await?;
        if record.output.exit_code != 0 {
            return Err(failed_error(&record));
        }
        Ok(record)
    }
}

/// A cache task that panicked or was cancelled, as a cache error (reported as a warning).
fn task_failed(e: tokio::task::JoinError) -> hush_cache::CacheError {
    hush_cache::CacheError::Io {
        context: "run a cache task".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// The error for an exec that exited non-zero.
fn failed_error(record: &ExecRecord) -> EngineError {
    EngineError::ExecFailed {
        command: record.command.clone(),
        exit_code: record.output.exit_code,
        stderr_tail: output_tail(&record.output.stderr, 2048),
    }
}

impl Container {
    /// Scrubbed stdout of the last exec; fails if it exited non-zero.
    pub async fn stdout(&self, engine: &Engine) -> Result<String> {
        let r = engine.succeeded(self, "stdout").await?;
        Ok(String::from_utf8_lossy(&r.output.stdout).into_owned())
    }

    /// Scrubbed stderr of the last exec; fails if it exited non-zero.
    pub async fn stderr(&self, engine: &Engine) -> Result<String> {
        let r = engine.succeeded(self, "stderr").await?;
        Ok(String::from_utf8_lossy(&r.output.stderr).into_owned())
    }

    /// Exit code of the last exec (its non-zero code is not an error here; a non-zero exit of
    /// an earlier exec is, as later execs do not run on top of a failed one).
    pub async fn exit_code(&self, engine: &Engine) -> Result<i32> {
        Ok(engine
            .last_exec(self, "an exit code")
            .await?
            .output
            .exit_code)
    }

    /// Evaluates the chain; fails if the last exec exited non-zero.
    pub async fn sync(&self, engine: &Engine) -> Result<Container> {
        let (_, state) = engine.evaluate(self).await?;
        if state.exec.is_some() {
            engine.succeeded(self, "sync").await?;
        }
        Ok(self.clone())
    }

    /// The directory at absolute `path` of the evaluated container's filesystem.
    pub async fn directory(&self, engine: &Engine, path: &str) -> Result<Directory> {
        let path = crate::model::abs_path(path, "the directory path")?;
        let (key, state) = engine.evaluate(self).await?;
        if !state.has_image {
            return Err(EngineError::NoImage);
        }
        if state.exec.is_some() {
            engine.succeeded(self, "directory").await?;
        }
        let canonical = rootfs::directory(&state.layers, &path)?;
        Ok(Directory(Arc::new(DirSource::Layers {
            layers: state.layers.clone(),
            path: canonical,
            origin: self.digest(),
            key,
        })))
    }

    /// The file at absolute `path` of the evaluated container's filesystem.
    pub async fn file(&self, engine: &Engine, path: &str) -> Result<File> {
        let path = crate::model::abs_path(path, "the file path")?;
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", &path));
        let parent = if parent.is_empty() { "/" } else { parent };
        let dir = self.directory(engine, parent).await?;
        let file = dir.file(name)?;
        file.check()?;
        Ok(file)
    }
}

/// A digest of a host directory's contents: every entry's relative path, type, mode, owner,
/// and a regular file's bytes or a symlink's target (symlinks are not followed).
fn host_dir_digest(root: &Path) -> Result<[u8; 32]> {
    use std::os::unix::fs::MetadataExt;
    let io = |p: &Path| EngineError::io(format!("read {}", p.display()));
    let meta = std::fs::metadata(root).map_err(|_| EngineError::NotFound {
        path: root.display().to_string(),
    })?;
    if !meta.is_dir() {
        return Err(EngineError::WrongKind {
            path: root.display().to_string(),
            expected: "directory",
        });
    }
    let mut h = Sha256::new();
    field(&mut h, b"host-dir");
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .collect::<std::io::Result<_>>()
            .map_err(io(&dir))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let m = std::fs::symlink_metadata(&path).map_err(io(&path))?;
            let rel = path.strip_prefix(root).unwrap_or(&path);
            field(&mut h, rel.as_os_str().as_encoded_bytes());
            h.update(m.mode().to_le_bytes());
            h.update(m.uid().to_le_bytes());
            h.update(m.gid().to_le_bytes());
            if m.file_type().is_symlink() {
                let target = std::fs::read_link(&path).map_err(io(&path))?;
                field(&mut h, target.as_os_str().as_encoded_bytes());
            } else if m.is_file() {
                let mut file = std::fs::File::open(&path).map_err(io(&path))?;
                let mut content = Sha256::new();
                std::io::copy(&mut file, &mut content).map_err(io(&path))?;
                h.update(content.finalize());
            } else if m.is_dir() {
                todo.push(path);
            }
        }
    }
    Ok(h.finalize().into())
}
