//! The container model: an immutable chain of operations, hashable into a stable digest.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use hush_secrets::Secret;
use sha2::{Digest as _, Sha256};

use crate::error::{EngineError, Result};
use crate::owner::Owner;
use crate::rootfs::Layer;

/// A 32-byte digest of an operation chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest(pub(crate) [u8; 32]);

impl Digest {
    /// Lower-case hex.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({})", self.hex())
    }
}

/// Default mode of a mounted secret.
pub const DEFAULT_SECRET_MODE: u32 = 0o400;
/// Default mode of a file made with `with_new_file`.
pub const DEFAULT_FILE_MODE: u32 = 0o644;

/// One step of a container chain.
#[derive(Clone)]
pub(crate) enum Op {
    From(String),
    Exec(Arc<[String]>),
    Env {
        name: String,
        value: String,
    },
    SecretEnv {
        name: String,
        secret: Secret,
    },
    WithoutSecretEnv(String),
    WithoutEnv(String),
    SecretMount {
        path: String,
        secret: Secret,
        owner: Option<Owner>,
        mode: u32,
    },
    Workdir(String),
    NewFile {
        path: String,
        contents: Arc<[u8]>,
        mode: u32,
    },
    MountDir {
        path: String,
        dir: Directory,
    },
    MountFile {
        path: String,
        file: File,
    },
    User(String),
    WithoutMount(String),
    SocketMount {
        path: String,
        socket: Socket,
    },
    CacheMount {
        path: String,
        cache: CacheVolume,
        options: CacheMountOptions,
    },
    TmpfsMount {
        path: String,
        size: Option<u64>,
    },
}

pub(crate) struct Node {
    pub(crate) parent: Option<Arc<Node>>,
    pub(crate) op: Op,
    pub(crate) digest: Digest,
}

/// A container: an immutable, lazily evaluated chain of operations.
///
/// Every `with_*` call returns a new container and leaves `self` as it was; cloning is cheap.
/// Nothing runs until a result (`stdout`, `exit_code`, `sync`, ...) is asked of an
/// [`Engine`](crate::Engine).
#[derive(Clone, Default)]
pub struct Container {
    pub(crate) head: Option<Arc<Node>>,
}

impl std::fmt::Debug for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Container({})", self.digest().hex())
    }
}

impl Container {
    /// An empty container; start it with [`from`](Self::from).
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&self, op: Op) -> Self {
        let parent_digest = self.digest();
        let mut hasher = Sha256::new();
        hasher.update(parent_digest.0);
        encode_op(&op, &mut hasher, &mut |secret, h| placeholder(secret, h));
        let digest = Digest(hasher.finalize().into());
        Self {
            head: Some(Arc::new(Node {
                parent: self.head.clone(),
                op,
                digest,
            })),
        }
    }

    /// The stable digest of the operation chain. Secrets contribute only their label (URI or
    /// name), never anything derived from their value.
    pub fn digest(&self) -> Digest {
        self.head
            .as_ref()
            .map_or(Digest(Sha256::digest(b"hush.container.v1").into()), |n| {
                n.digest
            })
    }

    /// Starts from the image at `address` (resolved when the container is evaluated).
    pub fn from(&self, address: &str) -> Result<Self> {
        if address.trim().is_empty() {
            return Err(EngineError::EmptyAddress);
        }
        no_nul(address, "the image address")?;
        Ok(self.push(Op::From(address.to_owned())))
    }

    /// Runs `args` (no shell; `args[0]` is looked up in the container's `PATH`).
    pub fn with_exec<S: AsRef<str>>(&self, args: &[S]) -> Result<Self> {
        if args.is_empty() {
            return Err(EngineError::EmptyArgs);
        }
        let args: Vec<String> = args.iter().map(|a| a.as_ref().to_owned()).collect();
        for arg in &args {
            no_nul(arg, "an exec argument")?;
        }
        Ok(self.push(Op::Exec(args.into())))
    }

    /// Sets a plain environment variable for later execs.
    pub fn with_env_variable(&self, name: &str, value: &str) -> Result<Self> {
        env_name(name, "with_env_variable")?;
        no_nul(value, "the variable value")?;
        Ok(self.push(Op::Env {
            name: name.to_owned(),
            value: value.to_owned(),
        }))
    }

    /// Removes the variable `name` (set by `with_env_variable` or the image) from later execs.
    pub fn without_env_variable(&self, name: &str) -> Result<Self> {
        env_name(name, "without_env_variable")?;
        Ok(self.push(Op::WithoutEnv(name.to_owned())))
    }

    /// Sets a secret environment variable: injected only into the process environment of later
    /// execs, never into image config or stored state.
    pub fn with_secret_variable(&self, name: &str, secret: &Secret) -> Result<Self> {
        env_name(name, "with_secret_variable")?;
        Ok(self.push(Op::SecretEnv {
            name: name.to_owned(),
            secret: secret.clone(),
        }))
    }

    /// Removes the secret variable `name` from later execs.
    pub fn without_secret_variable(&self, name: &str) -> Result<Self> {
        env_name(name, "without_secret_variable")?;
        Ok(self.push(Op::WithoutSecretEnv(name.to_owned())))
    }

    /// Mounts `secret` as a read-only file at the absolute `path` for later execs.
    ///
    /// `owner` is `uid`, `uid:gid`, `user` or `user:group` (names resolved in the container's
    /// `/etc/passwd` and `/etc/group`; default `0:0`); `mode` defaults to 0o400.
    pub fn with_mounted_secret(
        &self,
        path: &str,
        secret: &Secret,
        owner: Option<&str>,
        mode: Option<u32>,
    ) -> Result<Self> {
        let path = abs_path(path, "the secret mount path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the secret mount path",
                path,
            });
        }
        let owner = owner.map(|o| Owner::parse(o, "the owner")).transpose()?;
        let mode = mode.unwrap_or(DEFAULT_SECRET_MODE);
        check_mode(mode, "with_mounted_secret")?;
        Ok(self.push(Op::SecretMount {
            path,
            secret: secret.clone(),
            owner,
            mode,
        }))
    }

    /// Mounts the host unix socket `socket` at the absolute `path` for later execs (its owner and
    /// mode are the host socket file's own). `without_mount(path)` removes it.
    ///
    /// The socket file is bind-mounted read-only (`ro,nosuid,nodev,noexec`): processes can
    /// `connect(2)` to it (which a read-only mount does not prevent), but cannot change the
    /// host file's owner, mode or times through it. Only the socket's key reaches digests and
    /// cache keys, never its host path; execs with it are cached like any other exec. The host
    /// path is checked when an exec runs (a cache hit does not need the socket): a missing
    /// path, or one that is not a socket, is an [`EngineError::SocketUnavailable`]. What the runtime creates for the mount point (an
    /// empty file, missing parent directories) is removed after each exec, so nothing of it
    /// reaches the container's filesystem.
    pub fn with_unix_socket(&self, path: &str, socket: &Socket) -> Result<Self> {
        let path = abs_path(path, "the socket mount path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the socket mount path",
                path,
            });
        }
        Ok(self.push(Op::SocketMount {
            path,
            socket: socket.clone(),
        }))
    }

    /// Mounts the cache volume `cache` at the absolute `path` for later execs: a directory that
    /// outlives the container and is shared by every exec that mounts the same volume (package
    /// caches and the like). Only the volume's key reaches digests and cache keys, never its
    /// contents. The volume is created on first use, owned by `options.owner` with
    /// `options.mode`. After an exec that could see secrets, the files it changed in the
    /// volume are scanned for them: a file holding one is removed and the exec fails
    /// ([`EngineError::SecretInCacheVolume`]).
    pub fn with_mounted_cache(
        &self,
        path: &str,
        cache: &CacheVolume,
        options: CacheMountOptions,
    ) -> Result<Self> {
        let path = abs_path(path, "the cache mount path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the cache mount path",
                path,
            });
        }
        if let Some(owner) = &options.owner {
            Owner::parse(owner, "the owner")?;
        }
        check_mode(options.mode, "with_mounted_cache")?;
        Ok(self.push(Op::CacheMount {
            path,
            cache: cache.clone(),
            options,
        }))
    }

    /// Mounts a new, empty tmpfs at the absolute `path` for each later exec (at most `size`
    /// bytes if given); nothing written there outlives the exec.
    pub fn with_mounted_temp(&self, path: &str, size: Option<u64>) -> Result<Self> {
        let path = abs_path(path, "the tmpfs mount path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the tmpfs mount path",
                path,
            });
        }
        Ok(self.push(Op::TmpfsMount { path, size }))
    }

    /// Removes the secret, directory, file, socket, cache volume or tmpfs mounted at `path`
    /// from later execs.
    pub fn without_mount(&self, path: &str) -> Result<Self> {
        let path = abs_path(path, "the mount path")?;
        Ok(self.push(Op::WithoutMount(path)))
    }

    /// Sets the working directory (absolute) of later execs.
    pub fn with_workdir(&self, path: &str) -> Result<Self> {
        let path = abs_path(path, "the workdir")?;
        Ok(self.push(Op::Workdir(path)))
    }

    /// Writes a file (mode 0o644, owned by root) into the container's filesystem.
    pub fn with_new_file(&self, path: &str, contents: impl AsRef<[u8]>) -> Result<Self> {
        self.with_new_file_mode(path, contents, DEFAULT_FILE_MODE)
    }

    /// Writes a file with the given permissions into the container's filesystem.
    pub fn with_new_file_mode(
        &self,
        path: &str,
        contents: impl AsRef<[u8]>,
        mode: u32,
    ) -> Result<Self> {
        let path = abs_path(path, "the new file path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the new file path",
                path,
            });
        }
        check_mode(mode, "with_new_file")?;
        Ok(self.push(Op::NewFile {
            path,
            contents: contents.as_ref().into(),
            mode,
        }))
    }

    /// Mounts `dir` at the absolute `path` for later execs. Writes there are discarded.
    pub fn with_mounted_directory(&self, path: &str, dir: &Directory) -> Result<Self> {
        let path = abs_path(path, "the directory mount path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the directory mount path",
                path,
            });
        }
        Ok(self.push(Op::MountDir {
            path,
            dir: dir.clone(),
        }))
    }

    /// Mounts `file` read-only at the absolute `path` for later execs.
    pub fn with_mounted_file(&self, path: &str, file: &File) -> Result<Self> {
        let path = abs_path(path, "the file mount path")?;
        if path == "/" {
            return Err(EngineError::BadPath {
                what: "the file mount path",
                path,
            });
        }
        Ok(self.push(Op::MountFile {
            path,
            file: file.clone(),
        }))
    }

    /// Runs later execs as `user` (`uid`, `uid:gid`, `user` or `user:group`).
    pub fn with_user(&self, user: &str) -> Result<Self> {
        Owner::parse(user, "the user")?;
        Ok(self.push(Op::User(user.to_owned())))
    }

    /// The nodes from the first operation to the last.
    pub(crate) fn nodes(&self) -> Vec<Arc<Node>> {
        let mut nodes = Vec::new();
        let mut cur = self.head.clone();
        while let Some(node) = cur {
            cur = node.parent.clone();
            nodes.push(node);
        }
        nodes.reverse();
        nodes
    }
}

/// A unix socket on the host that execs can connect to (e.g. an SSH agent). `key` identifies it
/// in cache keys and digests (the host path does not, so a new socket path for the same agent
/// still hits the cache).
#[derive(Clone, Debug)]
pub struct Socket {
    key: String,
    path: PathBuf,
}

impl Socket {
    /// The socket at host `path`, identified by `key` (e.g. `ssh:default`). A relative `path`
    /// is taken from the current directory when the socket is mounted by an exec.
    pub fn new(key: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Self {
            key: key.into(),
            path: path.into(),
        }
    }

    /// The key that stands for the socket in digests and cache keys.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The host path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A persistent directory that execs mount by its key (see
/// [`Container::with_mounted_cache`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheVolume {
    key: String,
}

impl CacheVolume {
    /// The volume named `key` (not empty).
    pub fn new(key: &str) -> Result<Self> {
        if key.is_empty() {
            return Err(EngineError::EmptyCacheKey);
        }
        no_nul(key, "the cache volume key")?;
        Ok(Self {
            key: key.to_owned(),
        })
    }

    /// The volume's key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// How execs running at the same time share a cache volume.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sharing {
    /// Every exec uses the volume at once.
    #[default]
    Shared,
    /// An exec gets an instance of the volume no other running exec uses (a new, empty one if
    /// all are busy).
    Private,
    /// An exec waits until no other exec uses the volume.
    Locked,
}

impl Sharing {
    fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Private => "private",
            Self::Locked => "locked",
        }
    }
}

/// How a cache volume is mounted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheMountOptions {
    /// Concurrent use.
    pub sharing: Sharing,
    /// Owner of the volume when it is created (`uid`, `uid:gid`, `user` or `user:group`;
    /// default root).
    pub owner: Option<String>,
    /// Mode of the volume when it is created (default 0o755).
    pub mode: u32,
    /// Mount it read-only.
    pub readonly: bool,
}

impl Default for CacheMountOptions {
    fn default() -> Self {
        Self {
            sharing: Sharing::Shared,
            owner: None,
            mode: 0o755,
            readonly: false,
        }
    }
}

/// A directory: from the host, or from a container's filesystem.
#[derive(Clone)]
pub struct Directory(pub(crate) Arc<DirSource>);

pub(crate) enum DirSource {
    Host(PathBuf),
    Layers {
        /// Filesystem layers, lowest first.
        layers: Arc<[Arc<Layer>]>,
        /// Absolute path inside them.
        path: String,
        /// Digest of the container it came from.
        origin: Digest,
        /// The engine's evaluation key of that container (covers secret values through
        /// their MACs, unlike `origin`).
        key: [u8; 32],
    },
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            DirSource::Host(p) => write!(f, "Directory(host {})", p.display()),
            DirSource::Layers { path, origin, .. } => {
                write!(f, "Directory({path} of {})", origin.hex())
            }
        }
    }
}

impl Directory {
    /// A directory of the host (read when used; writes through mounts never reach it).
    pub fn host(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let abs = std::path::absolute(path)
            .map_err(EngineError::io(format!("resolve {}", path.display())))?;
        Ok(Self(Arc::new(DirSource::Host(abs))))
    }

    /// The host path, for a directory of the host.
    pub fn host_path(&self) -> Option<&Path> {
        match &*self.0 {
            DirSource::Host(p) => Some(p),
            DirSource::Layers { .. } => None,
        }
    }

    /// Names of the entries, sorted.
    pub fn entries(&self) -> Result<Vec<String>> {
        match &*self.0 {
            DirSource::Host(p) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(p)
                    .map_err(EngineError::io(format!("list {}", p.display())))?
                {
                    let entry = entry.map_err(EngineError::io(format!("list {}", p.display())))?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(names)
            }
            DirSource::Layers { layers, path, .. } => crate::rootfs::entries(layers, path),
        }
    }

    /// The file at `path` (relative to this directory).
    pub fn file(&self, path: &str) -> Result<File> {
        no_nul(path, "the file path")?;
        let rel = clean_relative(path).ok_or_else(|| EngineError::BadPath {
            what: "the file path",
            path: path.to_owned(),
        })?;
        Ok(File {
            dir: self.clone(),
            path: rel,
        })
    }

    pub(crate) fn encode(&self, h: &mut Sha256) {
        match &*self.0 {
            DirSource::Host(p) => {
                field(h, b"host");
                field(h, p.as_os_str().as_encoded_bytes());
            }
            DirSource::Layers { path, origin, .. } => {
                field(h, b"layers");
                field(h, path.as_bytes());
                field(h, &origin.0);
            }
        }
    }
}

/// A file of a [`Directory`] or container.
#[derive(Clone, Debug)]
pub struct File {
    dir: Directory,
    /// Relative to `dir`.
    path: String,
}

impl File {
    /// Checks that the file exists and is a regular file.
    pub(crate) fn check(&self) -> Result<()> {
        match &*self.dir.0 {
            DirSource::Host(p) => {
                let full = p.join(&self.path);
                match std::fs::metadata(&full) {
                    Ok(m) if m.is_file() => Ok(()),
                    Ok(_) => Err(EngineError::WrongKind {
                        path: full.display().to_string(),
                        expected: "file",
                    }),
                    Err(_) => Err(EngineError::NotFound {
                        path: full.display().to_string(),
                    }),
                }
            }
            DirSource::Layers { layers, path, .. } => {
                crate::rootfs::check_file(layers, &join_abs(path, &self.path))
            }
        }
    }

    /// The file's directory and its path relative to it.
    pub(crate) fn parts(&self) -> (&Directory, &str) {
        (&self.dir, &self.path)
    }

    /// Where the file's bytes are on the host (for a container's file, in one of its layers).
    pub(crate) fn host_source(&self) -> Result<PathBuf> {
        self.check()?;
        match &*self.dir.0 {
            DirSource::Host(p) => Ok(p.join(&self.path)),
            DirSource::Layers { layers, path, .. } => {
                crate::rootfs::real_file(layers, &join_abs(path, &self.path))
            }
        }
    }

    /// The file's bytes, as stored (not scrubbed).
    pub fn contents(&self) -> Result<Vec<u8>> {
        match &*self.dir.0 {
            DirSource::Host(p) => {
                let full = p.join(&self.path);
                std::fs::read(&full).map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => EngineError::NotFound {
                        path: full.display().to_string(),
                    },
                    _ => EngineError::io(format!("read {}", full.display()))(e),
                })
            }
            DirSource::Layers { layers, path, .. } => {
                let full = join_abs(path, &self.path);
                crate::rootfs::read_file(layers, &full)
            }
        }
    }
}

pub(crate) fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// A secret's contribution to the public digest: its label (URI or name) only.
fn placeholder(secret: &Secret, h: &mut Sha256) {
    field(h, b"secret");
    field(h, secret.label().as_bytes());
}

/// Feeds one operation into a hasher; `secret` decides what a secret contributes.
pub(crate) fn encode_op(op: &Op, h: &mut Sha256, secret: &mut dyn FnMut(&Secret, &mut Sha256)) {
    match op {
        Op::From(a) => {
            field(h, b"from");
            field(h, a.as_bytes());
        }
        Op::Exec(args) => {
            field(h, b"exec");
            h.update((args.len() as u64).to_le_bytes());
            for a in args.iter() {
                field(h, a.as_bytes());
            }
        }
        Op::Env { name, value } => {
            field(h, b"env");
            field(h, name.as_bytes());
            field(h, value.as_bytes());
        }
        Op::SecretEnv { name, secret: s } => {
            field(h, b"secret-env");
            field(h, name.as_bytes());
            secret(s, h);
        }
        Op::WithoutSecretEnv(name) => {
            field(h, b"without-secret-env");
            field(h, name.as_bytes());
        }
        Op::WithoutEnv(name) => {
            field(h, b"without-env");
            field(h, name.as_bytes());
        }
        Op::SecretMount {
            path,
            secret: s,
            owner,
            mode,
        } => {
            field(h, b"secret-mount");
            field(h, path.as_bytes());
            field(h, owner.as_ref().map_or("", |o| o.spec()).as_bytes());
            h.update(mode.to_le_bytes());
            secret(s, h);
        }
        Op::Workdir(p) => {
            field(h, b"workdir");
            field(h, p.as_bytes());
        }
        Op::NewFile {
            path,
            contents,
            mode,
        } => {
            field(h, b"new-file");
            field(h, path.as_bytes());
            field(h, contents);
            h.update(mode.to_le_bytes());
        }
        Op::MountDir { path, dir } => {
            field(h, b"mount-dir");
            field(h, path.as_bytes());
            dir.encode(h);
        }
        Op::MountFile { path, file } => {
            field(h, b"mount-file");
            field(h, path.as_bytes());
            file.dir.encode(h);
            field(h, file.path.as_bytes());
        }
        Op::User(u) => {
            field(h, b"user");
            field(h, u.as_bytes());
        }
        Op::WithoutMount(p) => {
            field(h, b"without-mount");
            field(h, p.as_bytes());
        }
        Op::SocketMount { path, socket } => {
            field(h, b"socket-mount");
            field(h, path.as_bytes());
            field(h, socket.key.as_bytes());
        }
        Op::CacheMount {
            path,
            cache,
            options,
        } => {
            field(h, b"cache-mount");
            field(h, path.as_bytes());
            field(h, cache.key.as_bytes());
            field(h, options.sharing.name().as_bytes());
            field(h, options.owner.as_deref().unwrap_or("").as_bytes());
            h.update(options.mode.to_le_bytes());
            h.update([u8::from(options.readonly)]);
        }
        Op::TmpfsMount { path, size } => {
            field(h, b"tmpfs-mount");
            field(h, path.as_bytes());
            h.update(size.unwrap_or(0).to_le_bytes());
        }
    }
}

fn no_nul(s: &str, what: &'static str) -> Result<()> {
    if s.contains('\0') {
        return Err(EngineError::Nul { what });
    }
    Ok(())
}

fn env_name(name: &str, what: &'static str) -> Result<()> {
    if name.is_empty() {
        return Err(EngineError::EmptyEnvName { what });
    }
    no_nul(name, "the variable name")?;
    if name.contains('=') {
        return Err(EngineError::BadEnvName {
            what,
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn check_mode(mode: u32, what: &'static str) -> Result<()> {
    if mode & !0o7777 != 0 {
        return Err(EngineError::BadMode { what, mode });
    }
    Ok(())
}

/// Checks that `path` is absolute with no `..`, and normalises it (`/a//b/./c/` → `/a/b/c`).
pub(crate) fn abs_path(path: &str, what: &'static str) -> Result<String> {
    no_nul(path, what)?;
    let bad = || EngineError::BadPath {
        what,
        path: path.to_owned(),
    };
    if !path.starts_with('/') {
        return Err(bad());
    }
    let mut out = String::new();
    for c in Path::new(path).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => {
                out.push('/');
                out.push_str(n.to_str().ok_or_else(bad)?);
            }
            Component::ParentDir | Component::Prefix(_) => return Err(bad()),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// A relative path without `..`, normalised; `None` if it is absolute or escapes.
fn clean_relative(path: &str) -> Option<String> {
    let mut parts = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => parts.push(n.to_str()?),
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `base` (absolute) joined with `rel` (relative, clean).
pub(crate) fn join_abs(base: &str, rel: &str) -> String {
    if base == "/" {
        format!("/{rel}")
    } else {
        format!("{base}/{rel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_and_normalised() {
        assert_eq!(abs_path("/a//b/./c/", "x").unwrap(), "/a/b/c");
        assert_eq!(abs_path("/", "x").unwrap(), "/");
        assert!(matches!(
            abs_path("run/secret", "the secret mount path"),
            Err(EngineError::BadPath { .. })
        ));
        assert!(abs_path("/a/../b", "x").is_err());
        assert_eq!(clean_relative("a/./b").as_deref(), Some("a/b"));
        assert_eq!(clean_relative("../a"), None);
        assert_eq!(clean_relative("/a"), None);
    }

    #[test]
    fn chain_is_immutable_and_digest_stable() {
        let base = Container::new().from("busybox").unwrap();
        let a = base.with_exec(&["echo", "a"]).unwrap();
        let b = base.with_exec(&["echo", "b"]).unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_eq!(
            a.digest(),
            Container::new()
                .from("busybox")
                .unwrap()
                .with_exec(&["echo", "a"])
                .unwrap()
                .digest()
        );
        assert_eq!(base.nodes().len(), 1);
        assert_eq!(a.nodes().len(), 2);
    }

    #[test]
    fn secret_values_do_not_reach_the_digest() {
        let store = hush_secrets::SecretStore::new(hush_secrets::Registry::builtin(), 1024);
        let a = store.set_secret("token", b"first-value").unwrap();
        let b = store.set_secret("token", b"second-value").unwrap();
        let c = store.set_secret("other", b"first-value").unwrap();
        let base = Container::new().from("busybox").unwrap();
        let with = |s: &Secret| base.with_secret_variable("T", s).unwrap().digest();
        assert_eq!(with(&a), with(&b));
        assert_ne!(with(&a), with(&c));
        let shown = format!("{:?}", base.with_secret_variable("T", &a).unwrap());
        assert!(!shown.contains("first-value"), "{shown}");
    }

    #[test]
    fn bad_input_is_refused_eagerly() {
        let c = Container::new();
        assert!(matches!(c.from(" "), Err(EngineError::EmptyAddress)));
        assert!(matches!(
            c.with_exec::<&str>(&[]),
            Err(EngineError::EmptyArgs)
        ));
        let e = c.with_env_variable("", "v").unwrap_err();
        assert!(matches!(e, EngineError::EmptyEnvName { .. }));
        let e = c.with_env_variable("A=B", "value-never-shown").unwrap_err();
        assert!(!e.to_string().contains("value-never-shown"));
        assert!(c.with_workdir("rel").is_err());
        assert!(c.with_user("a:b:c").is_err());
        assert!(c.with_new_file_mode("/x", b"", 0o10000).is_err());
    }
}
