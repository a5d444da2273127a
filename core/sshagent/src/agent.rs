//! An agent (forward or keyring), served on unix sockets.

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::keys::Key;
use crate::proto::{self, Reader};
use crate::SshError;

/// How long connecting to an upstream agent may take (BuildKit's dial timeout).
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One agent: a read-only forward of an upstream agent socket, or an in-memory keyring.
pub struct Agent {
    kind: Kind,
}

enum Kind {
    Forward(PathBuf),
    Keyring(Vec<Key>),
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Forward(upstream) => f.debug_struct("Agent").field("forward", upstream).finish(),
            Kind::Keyring(keys) => f.debug_struct("Agent").field("keys", keys).finish(),
        }
    }
}

impl Agent {
    /// An agent that forwards identity listing and signing to the agent socket `upstream` and refuses
    /// every other request (adding, removing, locking, extensions) without contacting it. Each client
    /// connection gets one upstream connection, opened on its first forwarded request (2 s connect
    /// timeout) and closed with it; an unreachable upstream closes the client connection.
    pub fn forward(upstream: PathBuf) -> Self {
        Self {
            kind: Kind::Forward(upstream),
        }
    }

    /// An in-memory agent holding the private keys of `paths` (OpenSSH Ed25519, ECDSA and RSA keys,
    /// PEM RSA keys; without passphrase), which lists and signs with them and refuses everything else.
    /// `learn` gets each key file's bytes before they are parsed.
    pub fn from_key_files(paths: &[PathBuf], learn: &dyn Fn(&[u8])) -> Result<Self, SshError> {
        let keys = paths
            .iter()
            .map(|p| Key::load(p, learn))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            kind: Kind::Keyring(keys),
        })
    }

    /// Serves this agent on a new unix socket at `path` (its parent exists), chowned `uid:gid` and chmod `mode`,
    /// until the returned listener is dropped.
    pub fn serve(
        self: &Arc<Self>,
        path: &Path,
        uid: u32,
        gid: u32,
        mode: u32,
    ) -> Result<AgentListener, SshError> {
        let listener = UnixListener::bind(path).map_err(|source| SshError::Bind {
            path: path.to_path_buf(),
            source,
        })?;
        let listener = AgentListener::start(listener, path, self.clone())?;
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|source| SshError::Chown {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| SshError::Chmod {
                path: path.to_path_buf(),
                source,
            },
        )?;
        Ok(listener)
    }

    /// Serves one client connection until it closes or breaks the protocol.
    fn serve_connection(&self, mut client: UnixStream) -> io::Result<()> {
        // Forward mode: the single upstream connection of this client, opened on its first request.
        let mut upstream: Option<UnixStream> = None;
        while let Some(request) = proto::read_frame(&mut client)? {
            let response = match &self.kind {
                Kind::Forward(path) => match request[0] {
                    proto::AGENTC_REQUEST_IDENTITIES | proto::AGENTC_SIGN_REQUEST => {
                        let up = match &mut upstream {
                            Some(up) => up,
                            None => upstream.insert(connect_upstream(path)?),
                        };
                        proto::write_frame(up, &request)?;
                        proto::read_frame(up)?
                            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?
                    }
                    _ => vec![proto::AGENT_FAILURE],
                },
                Kind::Keyring(keys) => keyring_response(keys, &request),
            };
            proto::write_frame(&mut client, &response)?;
        }
        Ok(())
    }
}

/// Connects to the upstream agent at `path`, giving up after [`UPSTREAM_CONNECT_TIMEOUT`].
fn connect_upstream(path: &Path) -> io::Result<UnixStream> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    thread::Builder::new()
        .name("hush-ssh-upstream".into())
        .spawn(move || {
            let _ = tx.send(UnixStream::connect(path));
        })?;
    rx.recv_timeout(UPSTREAM_CONNECT_TIMEOUT)
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// The keyring's answer to `request` (message type and body).
fn keyring_response(keys: &[Key], request: &[u8]) -> Vec<u8> {
    let failure = vec![proto::AGENT_FAILURE];
    match request[0] {
        proto::AGENTC_REQUEST_IDENTITIES => {
            let mut out = vec![proto::AGENT_IDENTITIES_ANSWER];
            out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
            for key in keys {
                proto::put_string(&mut out, &key.blob);
                proto::put_string(&mut out, key.comment.as_bytes());
            }
            out
        }
        proto::AGENTC_SIGN_REQUEST => {
            let mut body = Reader(&request[1..]);
            let (Some(blob), Some(data), Some(flags)) = (body.string(), body.string(), body.u32())
            else {
                return failure;
            };
            let signature = keys
                .iter()
                .find(|k| k.blob == blob)
                .and_then(|k| k.sign(data, flags));
            match signature {
                Some(signature) => {
                    let mut out = vec![proto::AGENT_SIGN_RESPONSE];
                    proto::put_string(&mut out, &signature);
                    out
                }
                None => failure,
            }
        }
        _ => failure,
    }
}

/// A served agent socket; dropping it stops accepting and removes the socket file.
///
/// Connections already accepted are served until their clients close them.
pub struct AgentListener {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    listener: Arc<UnixListener>,
    accept: Option<JoinHandle<()>>,
}

impl fmt::Debug for AgentListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentListener")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AgentListener {
    /// Starts the accept loop of `listener`, bound at `path`.
    fn start(listener: UnixListener, path: &Path, agent: Arc<Agent>) -> Result<Self, SshError> {
        let listener = Arc::new(listener);
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (listener.clone(), stop.clone());
        let mut this = Self {
            path: path.to_path_buf(),
            stop,
            listener,
            accept: None,
        };
        let accept = thread::Builder::new()
            .name("hush-ssh-accept".into())
            .spawn(move || accept_loop(&l, &s, &agent))
            .map_err(SshError::Thread)?;
        this.accept = Some(accept);
        Ok(this)
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn accept_loop(listener: &UnixListener, stop: &AtomicBool, agent: &Arc<Agent>) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else {
            // For example out of descriptors: let some connections end.
            thread::sleep(Duration::from_millis(50));
            continue;
        };
        let agent = agent.clone();
        // A connection that cannot get a thread is dropped, which closes it.
        let _ = thread::Builder::new()
            .name("hush-ssh-conn".into())
            .spawn(move || {
                let _ = agent.serve_connection(client);
            });
    }
}

impl Drop for AgentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            // Wake the blocked accept: shutting the listening socket down makes Linux's accept
            // return; connecting covers systems where it does not.
            // SAFETY: the descriptor is owned by `self.listener`, which outlives this call.
            unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
            let _ = UnixStream::connect(&self.path);
            let _ = accept.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}
