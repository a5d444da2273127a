//! Running a program and capturing its output, for `cmd://` and `op read`.
//!
//! The program runs in its own process group; on a timeout, or once its stdout passes the
//! limit, the whole group is killed. Its stdout is read into secret memory only; a little of
//! its stderr is kept for messages, with any echo of stdout redacted.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::read_limited;
use crate::error::Failure;
use crate::uri::Trim;
use crate::value::SecretBytes;

/// Most stderr bytes kept for an error message.
const STDERR_KEPT: usize = 2048;

/// How a program is named in failures.
pub(crate) struct Labels<'a> {
    /// Context of a failure to start it, e.g. `cannot start sh`.
    pub start: &'a str,
    /// What its stdout is, e.g. `command output`.
    pub output: &'a str,
    /// Context of a failure to wait for it, e.g. `waiting for sh`.
    pub wait: &'a str,
}

/// A finished run: how it ended, all of its stdout and the start of its stderr.
pub(crate) struct Captured {
    pub status: ExitStatus,
    pub stdout: SecretBytes,
    pub stderr: Vec<u8>,
}

impl Captured {
    /// stderr as text, trimmed, with any echo of stdout replaced by `***`.
    pub(crate) fn redacted_stderr(&self) -> String {
        redacted_stderr(&self.stderr, self.stdout.expose())
    }
}

/// Runs `command` with stdin from /dev/null, in its own process group, killed with that
/// group after `timeout` or once stdout passes `limit` bytes (`Failure::TooLarge`).
pub(crate) async fn run_capturing(
    mut command: Command,
    timeout: Duration,
    limit: usize,
    labels: &Labels<'_>,
) -> Result<Captured, Failure> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::from_io(labels.start, &e))?;
    let pgid = child.id().map(|id| id as libc::pid_t);
    let kill_group = || {
        if let Some(pgid) = pgid {
            // SAFETY: plain syscall on the child's own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let deadline = tokio::time::Instant::now() + timeout;
    let work = async {
        tokio::join!(
            read_limited(stdout, limit, labels.output),
            read_kept(stderr)
        )
    };
    let Ok((stdout, stderr)) = tokio::time::timeout_at(deadline, work).await else {
        kill_group();
        return Err(Failure::Timeout(timeout));
    };
    let stdout = stdout.inspect_err(|_| kill_group())?;
    let Ok(status) = tokio::time::timeout_at(deadline, child.wait()).await else {
        kill_group();
        return Err(Failure::Timeout(timeout));
    };
    let status = status.map_err(|e| Failure::from_io(labels.wait, &e))?;
    Ok(Captured {
        status,
        stdout,
        stderr,
    })
}

/// Reads `stderr` to its end (or first error), keeping the first `STDERR_KEPT` bytes.
async fn read_kept(mut stderr: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
        let room = STDERR_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
    kept
}

/// stderr as text, trimmed, with any echo of stdout (the would-be secret) replaced by `***`.
pub(crate) fn redacted_stderr(stderr: &[u8], stdout: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(stderr).trim().to_owned();
    let out = String::from_utf8_lossy(Trim::Space.apply(stdout)).into_owned();
    if out.len() >= 4 {
        text = text.replace(&out, "***");
    }
    text
}

/// The reason of a failed run: `{what} exited with code N` or `{what} was killed by signal
/// N`, then `; stderr: {stderr}` unless `stderr` (already redacted) is empty.
pub(crate) fn exit_reason(what: &str, status: ExitStatus, stderr: &str) -> String {
    let how = match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => format!("was killed by signal {}", status.signal().unwrap_or(0)),
    };
    if stderr.is_empty() {
        format!("{what} {how}")
    } else {
        format!("{what} {how}; stderr: {stderr}")
    }
}
