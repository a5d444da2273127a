//! `hush run`: a host command with secrets in its environment or in files on a private tmpfs,
//! its stdout and stderr scrubbed separately, its exit code passed through.

use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use clap::Args;
use hush_console::Stream;
use hush_secrets::Secret;
use hush_session::Session;
use tokio::signal::unix::{signal, SignalKind};

use crate::exit::Failure;

/// Arguments of `hush run`.
#[derive(Args)]
pub struct RunArgs {
    /// Set NAME in the command's environment to the secret's value.
    #[arg(long = "secret-variable", value_name = "NAME=URI")]
    secret_variables: Vec<String>,
    /// Write the secret to a 0400 file on a private tmpfs and set NAME to its path.
    #[arg(long = "secret-file", value_name = "NAME=URI")]
    secret_files: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Runs the command and returns its exit code.
pub async fn run(args: RunArgs, session: Arc<Session>) -> Result<u8, Failure> {
    let variables = parse_pairs(&args.secret_variables, "--secret-variable")?;
    let files = parse_pairs(&args.secret_files, "--secret-file")?;
    let names: Vec<&str> = variables
        .iter()
        .chain(&files)
        .map(|(n, _)| n.as_str())
        .collect();
    if let Some(dup) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        return Err(Failure::Usage(format!("variable {} is given twice", dup.1)));
    }
    let uris: Vec<&str> = variables
        .iter()
        .chain(&files)
        .map(|(_, u)| u.as_str())
        .collect();
    for uri in &uris {
        session.store().check(uri)?;
    }
    let mut secrets = Vec::with_capacity(uris.len());
    for result in session.store().resolve_all(&uris).await {
        secrets.push(result?);
    }
    let (var_secrets, file_secrets) = secrets.split_at(variables.len());

    let mut command = tokio::process::Command::new(&args.command[0]);
    command.args(&args.command[1..]);
    for secret in &secrets {
        if let Some(uri) = secret.uri().filter(|u| u.scheme() == "env") {
            command.env_remove(uri.path());
        }
    }
    for ((name, _), secret) in variables.iter().zip(var_secrets) {
        command.env(name, std::ffi::OsStr::from_bytes(secret.expose()));
    }
    let tmpfs = if files.is_empty() {
        None
    } else {
        let tmpfs = SecretTmpfs::prepare(&files, file_secrets)?;
        for (name, path) in tmpfs.paths() {
            command.env(name, path);
        }
        Some(tmpfs)
    };
    if let Some(tmpfs) = &tmpfs {
        let plan = tmpfs.plan();
        // SAFETY: the closure runs between fork and exec and only makes raw syscalls on
        // memory prepared before the fork; it allocates nothing.
        unsafe {
            command.pre_exec(move || plan.mount_and_write());
        }
    }
    let stdout = Output::for_fd(1)?;
    let stderr = Output::for_fd(2)?;
    command.stdin(Stdio::inherit());
    command.stdout(stdout.child_end()?);
    command.stderr(stderr.child_end()?);
    let mut child = command
        .spawn()
        .map_err(|e| Failure::Work(format!("cannot start {:?}: {}", args.command[0], e)))?;
    drop(command);
    let relays = [
        stdout.relay(Stream::Out, &session),
        stderr.relay(Stream::Err, &session),
    ];

    let pid = child.id().map(|p| p as libc::pid_t);
    let mut interrupt = signal(SignalKind::interrupt()).map_err(io_failure)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(io_failure)?;
    let mut hangup = signal(SignalKind::hangup()).map_err(io_failure)?;
    let status = loop {
        let forwarded = tokio::select! {
            status = child.wait() => break status.map_err(io_failure)?,
            _ = interrupt.recv() => libc::SIGINT,
            _ = terminate.recv() => libc::SIGTERM,
            _ = hangup.recv() => libc::SIGHUP,
        };
        if let Some(pid) = pid {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, forwarded) };
        }
    };
    for relay in relays {
        let _ = relay.await;
    }
    drop(tmpfs);
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.wrapping_add(sig as u8),
        (None, None) => 1,
    })
}

fn io_failure(e: std::io::Error) -> Failure {
    Failure::Work(format!("hush run: {e}"))
}

/// Splits `NAME=URI` words; NAME must be a valid environment variable name.
fn parse_pairs(words: &[String], flag: &str) -> Result<Vec<(String, String)>, Failure> {
    words
        .iter()
        .map(|word| {
            let (name, uri) = word.split_once('=').ok_or_else(|| {
                Failure::Usage(format!(
                    "{flag} takes NAME=URI, got {:?}",
                    redact_word(word)
                ))
            })?;
            let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(Failure::Usage(format!(
                    "{flag}: {name:?} is not a valid environment variable name"
                )));
            }
            Ok((name.to_owned(), uri.to_owned()))
        })
        .collect()
}

/// A malformed `NAME=URI` word could be a pasted value: show only its start.
fn redact_word(word: &str) -> String {
    match word.char_indices().nth(3) {
        Some((cut, _)) => format!("{}...", &word[..cut]),
        None => word.to_owned(),
    }
}

/// Where one of the command's output streams goes: a pseudo-terminal when hush's own stream
/// is a terminal (so colours and line buffering survive), else a pipe.
enum Output {
    Pty {
        master: OwnedFd,
        slave: Option<OwnedFd>,
    },
    Pipe {
        read: OwnedFd,
        write: Option<OwnedFd>,
    },
}

impl Output {
    fn for_fd(fd: i32) -> Result<Self, Failure> {
        // SAFETY: isatty and openpty/pipe only write into the out-parameters given.
        unsafe {
            let mut fds = [0; 2];
            if libc::isatty(fd) == 1 {
                let mut size: libc::winsize = std::mem::zeroed();
                let has_size = libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) == 0;
                let size_ptr = if has_size {
                    &mut size as *mut _
                } else {
                    std::ptr::null_mut()
                };
                if libc::openpty(
                    &mut fds[0],
                    &mut fds[1],
                    std::ptr::null_mut(),
                    std::ptr::null(),
                    size_ptr,
                ) == 0
                {
                    return Ok(Self::Pty {
                        master: OwnedFd::from_raw_fd(fds[0]),
                        slave: Some(OwnedFd::from_raw_fd(fds[1])),
                    });
                }
            }
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                return Err(io_failure(std::io::Error::last_os_error()));
            }
            Ok(Self::Pipe {
                read: OwnedFd::from_raw_fd(fds[0]),
                write: Some(OwnedFd::from_raw_fd(fds[1])),
            })
        }
    }

    /// The end the child writes to; the parent keeps no copy of it.
    fn child_end(&self) -> Result<Stdio, Failure> {
        let end = match self {
            Self::Pty { slave, .. } => slave,
            Self::Pipe { write, .. } => write,
        };
        let fd = end
            .as_ref()
            .expect("taken once")
            .try_clone()
            .map_err(io_failure)?;
        Ok(Stdio::from(fd))
    }

    /// Copies the stream to hush's `stream` through the session console, on a thread.
    fn relay(self, stream: Stream, session: &Session) -> tokio::task::JoinHandle<()> {
        let source = match self {
            Self::Pty { master, slave } => {
                drop(slave);
                master
            }
            Self::Pipe { read, write } => {
                drop(write);
                read
            }
        };
        session.console().relay(std::fs::File::from(source), stream)
    }
}

/// Secret files on a tmpfs mounted over an empty directory inside the command's own private
/// mount namespace: invisible to every other process and gone when the command's last
/// process exits. The empty directory is removed when hush is done.
struct SecretTmpfs {
    dir: PathBuf,
    names: Vec<(String, PathBuf)>,
    plan: Arc<MountPlan>,
}

/// Everything the child needs between fork and exec, prepared in advance.
struct MountPlan {
    dir: CString,
    files: Vec<(CString, Secret)>,
}

impl SecretTmpfs {
    fn prepare(files: &[(String, String)], secrets: &[Secret]) -> Result<Self, Failure> {
        let dir = std::env::temp_dir().join(format!("hush-run-{:016x}", rand_u64()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Failure::Work(format!("cannot create {}: {e}", dir.display())))?;
        let cstr = |p: &Path| CString::new(p.as_os_str().as_bytes()).expect("no NUL in paths");
        let names: Vec<(String, PathBuf)> = files
            .iter()
            .map(|(name, _)| (name.clone(), dir.join(name)))
            .collect();
        let plan = MountPlan {
            dir: cstr(&dir),
            files: names
                .iter()
                .zip(secrets)
                .map(|((_, path), secret)| (cstr(path), secret.clone()))
                .collect(),
        };
        Ok(Self {
            dir,
            names,
            plan: Arc::new(plan),
        })
    }

    fn paths(&self) -> impl Iterator<Item = &(String, PathBuf)> {
        self.names.iter()
    }

    fn plan(&self) -> Arc<MountPlan> {
        self.plan.clone()
    }
}

impl Drop for SecretTmpfs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.dir);
    }
}

impl MountPlan {
    /// Runs in the child: private mount namespace, tmpfs, 0400 files, read-only remount.
    fn mount_and_write(&self) -> std::io::Result<()> {
        let check = |rc: libc::c_int| {
            if rc < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(rc)
            }
        };
        let tmpfs = c"tmpfs";
        let flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
        // SAFETY: raw syscalls with pointers to memory prepared before the fork.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                tmpfs.as_ptr(),
                self.dir.as_ptr(),
                tmpfs.as_ptr(),
                flags,
                c"mode=0700".as_ptr().cast(),
            ))?;
            for (path, secret) in &self.files {
                let fd = check(libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o400,
                ))?;
                let bytes = secret.expose();
                let mut done = 0;
                while done < bytes.len() {
                    let n = libc::write(fd, bytes[done..].as_ptr().cast(), bytes.len() - done);
                    if n < 0 {
                        let err = std::io::Error::last_os_error();
                        libc::close(fd);
                        return Err(err);
                    }
                    done += n as usize;
                }
                libc::close(fd);
            }
            check(libc::mount(
                std::ptr::null(),
                self.dir.as_ptr(),
                std::ptr::null(),
                libc::MS_REMOUNT | libc::MS_RDONLY | flags,
                std::ptr::null(),
            ))?;
        }
        Ok(())
    }
}

fn rand_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: getrandom writes at most the given length into the buffer.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), 8, 0) };
    u64::from_ne_bytes(bytes)
}
