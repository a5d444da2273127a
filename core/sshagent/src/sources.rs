//! `--ssh` flags: agent sources by ID.

use std::collections::BTreeMap;
use std::fmt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::{Agent, SshError};

/// The ID of an agent given without one.
const DEFAULT_ID: &str = "default";

/// Agent sources by ID, from `--ssh` flags.
#[derive(Default)]
pub struct SshSources {
    agents: BTreeMap<String, Arc<Agent>>,
}

impl fmt::Debug for SshSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(&self.agents).finish()
    }
}

impl SshSources {
    /// Adds one `--ssh` value: `ID`, `ID=PATH[,PATH...]`. An empty ID means `default`; no paths or an
    /// empty path means `ssh_auth_sock` (the caller passes `$SSH_AUTH_SOCK`). Each path is stat'ed: a unix socket is
    /// forwarded read-only; a regular file is a private key loaded into an in-memory agent, and
    /// `learn` gets its bytes before they are parsed (hush makes them a secret of the session,
    /// so that output quoting the key is scrubbed).
    pub fn add(
        &mut self,
        spec: &str,
        ssh_auth_sock: Option<&Path>,
        learn: &dyn Fn(&[u8]),
    ) -> Result<(), SshError> {
        let (id, paths) = match spec.split_once('=') {
            Some((id, paths)) => (id, paths.split(',').collect()),
            None => (spec, Vec::new()),
        };
        let id = if id.is_empty() { DEFAULT_ID } else { id };
        if self.agents.contains_key(id) {
            return Err(SshError::DuplicateId(id.to_owned()));
        }
        let auth_sock = || {
            ssh_auth_sock
                .filter(|p| !p.as_os_str().is_empty())
                .map(Path::to_path_buf)
                .ok_or(SshError::EmptySocket)
        };
        let paths = if paths.is_empty() {
            vec![auth_sock()?]
        } else {
            paths
                .into_iter()
                .map(|p| {
                    if p.is_empty() {
                        auth_sock()
                    } else {
                        Ok(PathBuf::from(p))
                    }
                })
                .collect::<Result<Vec<_>, _>>()?
        };

        let mut socket = None;
        let mut keys = Vec::new();
        for path in paths {
            let meta = std::fs::metadata(&path).map_err(|source| {
                if source.kind() == std::io::ErrorKind::NotFound {
                    SshError::NotFound(path.clone())
                } else {
                    SshError::Stat {
                        path: path.clone(),
                        source,
                    }
                }
            })?;
            if meta.file_type().is_socket() {
                if socket.is_some() {
                    return Err(SshError::MultipleSockets);
                }
                socket = Some(path);
            } else if meta.is_file() {
                keys.push(path);
            } else {
                return Err(SshError::NotSocketOrFile(path));
            }
        }
        let agent = match socket {
            Some(_) if !keys.is_empty() => return Err(SshError::KeysAndSockets),
            Some(socket) => Agent::forward(socket),
            None => Agent::from_key_files(&keys, learn)?,
        };
        self.agents.insert(id.to_owned(), Arc::new(agent));
        Ok(())
    }

    /// The agent for `id` (an empty ID means `default`).
    pub fn get(&self, id: &str) -> Option<&Arc<Agent>> {
        self.agents.get(if id.is_empty() { DEFAULT_ID } else { id })
    }

    /// Whether no agent was added.
    pub fn is_empty(&self) -> bool {
        self.agents.is_empty()
    }
}
