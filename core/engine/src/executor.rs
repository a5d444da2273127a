//! Executors: where an exec runs. [`LocalExecutor`] runs it with a real OCI runtime on this
//! host through the shim; a remote executor can implement [`Executor`] later.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use hush_scrub::{ScrubStream, Scrubber};
use hush_secrets::Secret;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::error::{EngineError, Result};
use crate::proto::{
    self, CacheMountReq, DirMountReq, FileMountReq, RootfsReq, SecretMountReq, ShimRequest,
    SocketMountReq, Status, TmpfsMountReq,
};

/// A secret file to mount for one exec.
#[derive(Clone, Debug)]
pub struct ExecSecretMount {
    /// Absolute path in the container.
    pub target: String,
    /// The secret.
    pub secret: Secret,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
}

/// A directory to mount for one exec; writes there are discarded.
#[derive(Clone, Debug)]
pub struct ExecDirMount {
    /// Absolute path in the container.
    pub target: String,
    /// The directories merged into it, lowest first.
    pub lower: Vec<PathBuf>,
}

/// A file to mount read-only for one exec.
#[derive(Clone, Debug)]
pub struct ExecFileMount {
    /// Absolute path in the container.
    pub target: String,
    /// Absolute host path of the file.
    pub source: PathBuf,
}

/// A host unix socket to mount for one exec (bind-mounted read-only; connecting works).
#[derive(Clone, Debug)]
pub struct ExecSocketMount {
    /// Absolute path in the container.
    pub target: String,
    /// Absolute host path of the socket.
    pub source: PathBuf,
}

/// A cache volume to mount for one exec: a host directory, read-write unless `readonly`.
#[derive(Clone, Debug)]
pub struct ExecCacheMount {
    /// Absolute path in the container.
    pub target: String,
    /// Absolute host path of the volume.
    pub source: PathBuf,
    /// Mount it read-only.
    pub readonly: bool,
}

/// A fresh tmpfs to mount for one exec.
#[derive(Clone, Debug)]
pub struct ExecTmpfsMount {
    /// Absolute path in the container.
    pub target: String,
    /// Size limit in bytes (the kernel's default if `None`).
    pub size: Option<u64>,
}

/// One exec, fully resolved.
#[derive(Clone, Debug)]
pub struct ExecSpec {
    /// Command and arguments.
    pub args: Vec<String>,
    /// Plain variables, `NAME=value`.
    pub env: Vec<String>,
    /// Secret variables: injected into the process environment only.
    pub secret_env: Vec<(String, Secret)>,
    /// Working directory.
    pub cwd: String,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Root filesystem layers, lowest first.
    pub layers: Vec<PathBuf>,
    /// An empty directory that receives the exec's filesystem changes.
    pub upper: PathBuf,
    /// Secret files.
    pub secret_mounts: Vec<ExecSecretMount>,
    /// Directories.
    pub dir_mounts: Vec<ExecDirMount>,
    /// Files (read-only).
    pub file_mounts: Vec<ExecFileMount>,
    /// Host unix sockets.
    pub socket_mounts: Vec<ExecSocketMount>,
    /// Cache volumes.
    pub cache_mounts: Vec<ExecCacheMount>,
    /// Temporary filesystems.
    pub tmpfs_mounts: Vec<ExecTmpfsMount>,
}

/// What an exec produced. Output is already scrubbed.
#[derive(Clone, Debug)]
pub struct ExecOutput {
    /// Scrubbed stdout.
    pub stdout: Vec<u8>,
    /// Scrubbed stderr.
    pub stderr: Vec<u8>,
    /// Exit code (128 + signal number when killed by a signal).
    pub exit_code: i32,
}

/// Runs execs. Implementations scrub stdout and stderr (separately) with `scrubber` before
/// returning them, and never write secret values to persistent storage.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// Runs one exec.
    async fn exec(&self, spec: &ExecSpec, scrubber: &Scrubber) -> Result<ExecOutput>;
}

/// Which OCI runtime to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeChoice {
    /// crun when a probe shows it works on this host, else runc.
    Auto,
    /// runc.
    Runc,
    /// crun.
    Crun,
}

impl RuntimeChoice {
    /// `HUSH_RUNTIME` (`runc` or `crun`), else [`RuntimeChoice::Auto`].
    pub fn from_env() -> Result<Self> {
        match std::env::var("HUSH_RUNTIME").ok().as_deref() {
            None | Some("") => Ok(Self::Auto),
            Some("runc") => Ok(Self::Runc),
            Some("crun") => Ok(Self::Crun),
            Some(other) => Err(EngineError::BadRuntime(other.to_owned())),
        }
    }
}

/// The runtime picked for this host.
#[derive(Clone, Debug)]
struct Runtime {
    path: PathBuf,
    name: &'static str,
    hide_cgroup2: bool,
}

const SEARCH_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(SEARCH_PATH.split(':'))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Whether cgroup v1 controllers and a cgroup2 mount coexist (crun refuses that layout).
fn hybrid_cgroups() -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let fstypes: Vec<&str> = info
        .lines()
        .filter_map(|l| l.split_once(" - ")?.1.split(' ').next())
        .collect();
    fstypes.contains(&"cgroup2") && fstypes.contains(&"cgroup")
}

/// Runs execs with runc or crun on this host, each through a shim process that keeps the
/// bundle, the runtime state and the secret files on a tmpfs in a private mount namespace.
pub struct LocalExecutor {
    choice: RuntimeChoice,
    runtime: OnceCell<Runtime>,
    shim_exe: PathBuf,
    scratch: PathBuf,
    /// Random tag making container ids (and so cgroup paths) unique across executors.
    tag: String,
    counter: AtomicU64,
}

impl LocalExecutor {
    /// An executor keeping its scratch directories (overlay work dirs, tmpfs mount points;
    /// never secrets) under `scratch` (created by the first exec). The shim executable is
    /// `HUSH_SHIM_EXE`, else this executable (which must call
    /// [`shim_main`](crate::shim_main) for `__shim`).
    pub fn new(scratch: PathBuf, choice: RuntimeChoice) -> Result<Self> {
        let shim_exe = match std::env::var_os("HUSH_SHIM_EXE").filter(|v| !v.is_empty()) {
            Some(exe) => PathBuf::from(exe),
            None => std::env::current_exe().map_err(EngineError::io("find the hush executable"))?,
        };
        Ok(Self {
            choice,
            runtime: OnceCell::new(),
            shim_exe,
            scratch,
            tag: crate::engine::random_tag(),
            counter: AtomicU64::new(0),
        })
    }

    /// Uses `exe` as the shim executable (it must call [`shim_main`](crate::shim_main) when
    /// its first argument is `__shim`).
    pub fn with_shim_exe(mut self, exe: PathBuf) -> Self {
        self.shim_exe = exe;
        self
    }

    /// The runtime in use (`runc` or `crun`), detecting it on first use.
    pub async fn runtime_name(&self) -> Result<&'static str> {
        Ok(self.runtime().await?.name)
    }

    async fn runtime(&self) -> Result<&Runtime> {
        self.runtime.get_or_try_init(|| self.detect()).await
    }

    async fn detect(&self) -> Result<Runtime> {
        let runc = || {
            which("runc").map(|path| Runtime {
                path,
                name: "runc",
                hide_cgroup2: false,
            })
        };
        let crun = || {
            which("crun").map(|path| Runtime {
                path,
                name: "crun",
                hide_cgroup2: hybrid_cgroups(),
            })
        };
        let missing = |name: &str| EngineError::Runtime {
            runtime: name.to_owned(),
            message: "not found in PATH (install it, e.g. apt-get install runc)".into(),
        };
        match self.choice {
            RuntimeChoice::Runc => runc().ok_or_else(|| missing("runc")),
            RuntimeChoice::Crun => crun().ok_or_else(|| missing("crun")),
            RuntimeChoice::Auto => {
                if let Some(crun) = crun() {
                    if self.probe(&crun).await {
                        return Ok(crun);
                    }
                }
                runc().ok_or_else(|| missing("runc"))
            }
        }
    }

    /// Runs the host's `true` under `runtime` on a read-only view of `/`.
    async fn probe(&self, runtime: &Runtime) -> bool {
        let Some(true_bin) = which("true") else {
            return false;
        };
        let id = self.next_id();
        let run_dir = self.scratch.join(format!("r{id}"));
        if hush_secrets::ensure_private_dir(&self.scratch).is_err()
            || std::fs::create_dir(&run_dir).is_err()
        {
            return false;
        }
        let req = ShimRequest {
            runtime: runtime.path.clone(),
            hide_cgroup2: runtime.hide_cgroup2,
            id: format!("hush-probe-{}-{}-{id}", std::process::id(), self.tag),
            run_dir: run_dir.clone(),
            rootfs: RootfsReq::HostRoot,
            args: vec![true_bin.display().to_string()],
            env: vec![format!("PATH={SEARCH_PATH}")],
            secret_env: Vec::new(),
            cwd: "/".into(),
            uid: 0,
            gid: 0,
            secret_mounts: Vec::new(),
            dir_mounts: Vec::new(),
            file_mounts: Vec::new(),
            socket_mounts: Vec::new(),
            cache_mounts: Vec::new(),
            tmpfs_mounts: Vec::new(),
            secrets: 0,
        };
        let scrubber = Scrubber::new();
        let result = self.run_shim(&req, &[], &scrubber).await;
        let _ = std::fs::remove_dir(&run_dir);
        matches!(
            result,
            Ok((
                Status::Exited {
                    code: 0,
                    started: true,
                    ..
                },
                _,
                _
            ))
        )
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// Starts the shim, sends it `req` and the secrets, collects scrubbed output and status.
    async fn run_shim(
        &self,
        req: &ShimRequest,
        secrets: &[&[u8]],
        scrubber: &Scrubber,
    ) -> Result<(Status, Vec<u8>, Vec<u8>)> {
        let shim_err = |what: &str| {
            let what = what.to_owned();
            move |e: std::io::Error| EngineError::Shim(format!("{what}: {e}"))
        };
        let header = serde_json::to_vec(req).map_err(|e| EngineError::Shim(e.to_string()))?;
        let total = 4 + header.len() + secrets.iter().map(|s| 4 + s.len()).sum::<usize>();
        let mut frames = Zeroizing::new(Vec::with_capacity(total));
        proto::push_frame(&mut frames, &header);
        for s in secrets {
            proto::push_frame(&mut frames, s);
        }

        let mut fds = [0i32; 2];
        // SAFETY: pipe2 fills two fds.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(shim_err("create a pipe")(std::io::Error::last_os_error()));
        }
        // SAFETY: both fds were just created and are owned here.
        let (status_r, status_w) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let raw_w = status_w.as_raw_fd();

        let mut cmd = tokio::process::Command::new(&self.shim_exe);
        cmd.arg("__shim")
            .env_clear()
            .env("PATH", SEARCH_PATH)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        // SAFETY: only async-signal-safe calls (dup2, fcntl, setsid) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if raw_w == proto::STATUS_FD {
                    libc::fcntl(raw_w, libc::F_SETFD, 0);
                } else if libc::dup2(raw_w, proto::STATUS_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::setsid();
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(shim_err(&format!("start {}", self.shim_exe.display())))?;
        drop(status_w);
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");

        let status = async move {
            let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(status_r)?;
            let mut frame = Vec::new();
            pipe.read_to_end(&mut frame).await?;
            proto::read_frame(&mut frame.as_slice(), proto::MAX_HEADER)
        };
        let send = async {
            let r = stdin.write_all(&frames).await;
            drop(frames);
            r
        };
        let (sent, out, err, status) = tokio::join!(
            send,
            read_scrubbed(stdout, scrubber.stream()),
            read_scrubbed(stderr, scrubber.stream()),
            status
        );
        drop(stdin);
        let _ = child.wait().await;
        let (out, err) = (
            out.map_err(shim_err("read stdout"))?,
            err.map_err(shim_err("read stderr"))?,
        );
        let status = match status {
            Ok(frame) => serde_json::from_slice::<Status>(&frame)
                .map_err(|e| EngineError::Shim(format!("bad status: {e}")))?,
            Err(e) => {
                sent.map_err(shim_err("send the request"))?;
                let detail = String::from_utf8_lossy(&scrubber.scrub(&err)).into_owned();
                return Err(EngineError::Shim(format!(
                    "no status ({e}); is {} a hush executable that calls shim_main for __shim? {detail}",
                    self.shim_exe.display()
                )));
            }
        };
        Ok((status, out, err))
    }
}

impl Drop for LocalExecutor {
    fn drop(&mut self) {
        // Only succeeds when empty: every exec removes its own scratch directories.
        let _ = std::fs::remove_dir(&self.scratch);
    }
}

async fn read_scrubbed(
    mut reader: impl AsyncRead + Unpin,
    mut stream: ScrubStream,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write(&buf[..n], &mut out);
    }
    stream.finish(&mut out);
    Ok(out)
}

pub(crate) fn output_tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    String::from_utf8_lossy(&bytes[start..])
        .trim_end()
        .to_owned()
}

#[async_trait::async_trait]
impl Executor for LocalExecutor {
    async fn exec(&self, spec: &ExecSpec, scrubber: &Scrubber) -> Result<ExecOutput> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(EngineError::NotRoot);
        }
        let runtime = self.runtime().await?.clone();
        let id = self.next_id();
        let run_dir = self.scratch.join(format!("r{id}"));
        let work = self.scratch.join(format!("w{id}"));
        hush_secrets::ensure_private_dir(&self.scratch).map_err(EngineError::io(format!(
            "create {}",
            self.scratch.display()
        )))?;
        for d in [&run_dir, &work] {
            std::fs::create_dir(d).map_err(EngineError::io(format!("create {}", d.display())))?;
        }
        let secrets: Vec<&[u8]> = spec
            .secret_env
            .iter()
            .map(|(_, s)| s.expose())
            .chain(spec.secret_mounts.iter().map(|m| m.secret.expose()))
            .collect();
        let secret_env = spec
            .secret_env
            .iter()
            .enumerate()
            .map(|(i, (n, _))| (n.clone(), i))
            .collect();
        let secret_mounts = spec
            .secret_mounts
            .iter()
            .enumerate()
            .map(|(i, m)| SecretMountReq {
                target: m.target.clone(),
                secret: spec.secret_env.len() + i,
                uid: m.uid,
                gid: m.gid,
                mode: m.mode,
            })
            .collect();
        let req = ShimRequest {
            runtime: runtime.path.clone(),
            hide_cgroup2: runtime.hide_cgroup2,
            id: format!("hush-{}-{}-{id}", std::process::id(), self.tag),
            run_dir: run_dir.clone(),
            rootfs: RootfsReq::Overlay {
                lower: spec.layers.iter().rev().cloned().collect(),
                upper: spec.upper.clone(),
                work: work.clone(),
            },
            args: spec.args.clone(),
            env: spec.env.clone(),
            secret_env,
            cwd: spec.cwd.clone(),
            uid: spec.uid,
            gid: spec.gid,
            secret_mounts,
            dir_mounts: spec
                .dir_mounts
                .iter()
                .map(|m| DirMountReq {
                    target: m.target.clone(),
                    lower: m.lower.iter().rev().cloned().collect(),
                })
                .collect(),
            socket_mounts: spec
                .socket_mounts
                .iter()
                .map(|m| SocketMountReq {
                    target: m.target.clone(),
                    source: m.source.clone(),
                })
                .collect(),
            file_mounts: spec
                .file_mounts
                .iter()
                .map(|m| FileMountReq {
                    target: m.target.clone(),
                    source: m.source.clone(),
                })
                .collect(),
            cache_mounts: spec
                .cache_mounts
                .iter()
                .map(|m| CacheMountReq {
                    target: m.target.clone(),
                    source: m.source.clone(),
                    readonly: m.readonly,
                })
                .collect(),
            tmpfs_mounts: spec
                .tmpfs_mounts
                .iter()
                .map(|m| TmpfsMountReq {
                    target: m.target.clone(),
                    size: m.size,
                })
                .collect(),
            secrets: secrets.len(),
        };
        let result = self.run_shim(&req, &secrets, scrubber).await;
        let _ = std::fs::remove_dir(&run_dir);
        let _ = std::fs::remove_dir_all(&work);
        let (status, stdout, mut stderr) = result?;
        match status {
            Status::Exited {
                code,
                started,
                errors,
            } if started => {
                if code != 0 {
                    for e in errors {
                        stderr.extend_from_slice(&scrubber.scrub(e.as_bytes()));
                        stderr.push(b'\n');
                    }
                }
                Ok(ExecOutput {
                    stdout,
                    stderr,
                    exit_code: code,
                })
            }
            Status::Exited { code, errors, .. } => {
                let mut message = errors.join("; ");
                if message.is_empty() {
                    message = format!("exited with code {code} without starting the container");
                }
                Err(EngineError::Runtime {
                    runtime: runtime.name.into(),
                    message: format!(
                        "{}{}",
                        String::from_utf8_lossy(&scrubber.scrub(message.as_bytes())),
                        match output_tail(&stderr, 2048) {
                            t if t.is_empty() => String::new(),
                            t => format!("; stderr: {t}"),
                        }
                    ),
                })
            }
            Status::Failed { message } => Err(EngineError::Shim(
                String::from_utf8_lossy(&scrubber.scrub(message.as_bytes())).into_owned(),
            )),
        }
    }
}
