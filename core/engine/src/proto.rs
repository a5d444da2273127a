//! The engine ↔ shim protocol: length-prefixed frames over pipes.
//!
//! The engine writes one JSON header frame (no secret values in it) followed by one frame per
//! secret plaintext to the shim's stdin, and keeps stdin open as a control channel: EOF means
//! the engine is gone and the container must die. The shim answers with one JSON status frame
//! on fd 3. The container's stdout and stderr are the shim's.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The fd on which the shim reports its [`Status`].
pub(crate) const STATUS_FD: i32 = 3;

/// Largest header frame accepted.
pub(crate) const MAX_HEADER: usize = 64 << 20;
/// Largest secret frame accepted.
pub(crate) const MAX_SECRET: usize = 64 << 20;

/// Writes one frame: a little-endian u32 length, then the bytes.
pub(crate) fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

/// Encodes a frame into `out` (for async writers).
pub(crate) fn push_frame(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reads one frame into an exactly-sized zeroizing buffer.
pub(crate) fn read_frame(r: &mut impl Read, max: usize) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "frame larger than allowed",
        ));
    }
    let mut buf = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// What the shim mounts as the container's root.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum RootfsReq {
    /// An overlay: `lower` topmost first.
    Overlay {
        lower: Vec<PathBuf>,
        upper: PathBuf,
        work: PathBuf,
    },
    /// A read-only bind of the host's `/` (runtime probe).
    HostRoot,
}

/// A secret file to mount.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct SecretMountReq {
    pub(crate) target: String,
    /// Index of the secret frame.
    pub(crate) secret: usize,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mode: u32,
}

/// A directory to mount (an overlay of `lower`, topmost first, with a throwaway upper).
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct DirMountReq {
    pub(crate) target: String,
    pub(crate) lower: Vec<PathBuf>,
}

/// A host unix socket to bind-mount (the socket file itself, read-only).
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct SocketMountReq {
    pub(crate) target: String,
    /// Absolute host path of the socket.
    pub(crate) source: PathBuf,
}

/// A host file to bind-mount read-only.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct FileMountReq {
    pub(crate) target: String,
    pub(crate) source: PathBuf,
}

/// A cache volume to bind-mount (a host directory).
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct CacheMountReq {
    pub(crate) target: String,
    pub(crate) source: PathBuf,
    pub(crate) readonly: bool,
}

/// A fresh tmpfs to mount.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct TmpfsMountReq {
    pub(crate) target: String,
    pub(crate) size: Option<u64>,
}

/// The exec description sent to the shim (secrets travel in separate frames).
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct ShimRequest {
    /// Absolute path of `runc` or `crun`.
    pub(crate) runtime: PathBuf,
    /// Unmount cgroup2 in the private namespace (crun on a hybrid host).
    pub(crate) hide_cgroup2: bool,
    pub(crate) id: String,
    /// An empty directory on which the shim mounts its private tmpfs.
    pub(crate) run_dir: PathBuf,
    pub(crate) rootfs: RootfsReq,
    pub(crate) args: Vec<String>,
    /// Plain `NAME=value` variables.
    pub(crate) env: Vec<String>,
    /// Secret variables: name and secret frame index.
    pub(crate) secret_env: Vec<(String, usize)>,
    pub(crate) cwd: String,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) secret_mounts: Vec<SecretMountReq>,
    pub(crate) dir_mounts: Vec<DirMountReq>,
    #[serde(default)]
    pub(crate) socket_mounts: Vec<SocketMountReq>,
    #[serde(default)]
    pub(crate) file_mounts: Vec<FileMountReq>,
    #[serde(default)]
    pub(crate) cache_mounts: Vec<CacheMountReq>,
    #[serde(default)]
    pub(crate) tmpfs_mounts: Vec<TmpfsMountReq>,
    /// Number of secret frames that follow.
    pub(crate) secrets: usize,
}

/// The shim's answer.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) enum Status {
    /// The runtime ran; `started` tells whether the container was created; `errors` are the
    /// runtime's own error messages (from its log, not the container's output).
    Exited {
        code: i32,
        started: bool,
        errors: Vec<String>,
    },
    /// The shim could not set the exec up.
    Failed { message: String },
}
