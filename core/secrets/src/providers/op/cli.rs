//! Reading with the 1Password CLI: `op read --no-newline op://...`.
//!
//! The reference goes on argv (it names the secret, it is not one); the value comes from
//! stdout. The process is killed with its process group after the timeout.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::error::Failure;
use crate::providers::read_limited;
use crate::uri::Trim;
use crate::value::SecretBytes;

/// Most stderr bytes kept for an error message.
const STDERR_KEPT: usize = 2048;

/// The first executable `op` in the directories of `search_path` (`PATH` syntax).
pub(super) fn find(search_path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(search_path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join("op"))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Runs `op read --no-newline op://ADDRESS` and returns its stdout.
pub(super) async fn read(
    op: &Path,
    address: &str,
    limit: usize,
    timeout: Duration,
) -> Result<SecretBytes, Failure> {
    let reference = format!("op://{address}");
    let mut child = Command::new(op)
        .args(["read", "--no-newline", &reference])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::from_io(&format!("cannot run {}", op.display()), &e))?;
    let pgid = child.id().map(|id| id as libc::pid_t);
    let kill_group = || {
        if let Some(pgid) = pgid {
            // SAFETY: plain syscall on the child's own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let work = async {
        let mut kept = Vec::new();
        let read_err = async {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut chunk).await {
                let room = STDERR_KEPT.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        };
        let (out, ()) = tokio::join!(read_limited(stdout, limit, "op's output"), read_err);
        let status = child.wait().await;
        (out, kept, status)
    };
    let Ok((out, err_bytes, status)) = tokio::time::timeout(timeout, work).await else {
        kill_group();
        return Err(Failure::Timeout(timeout));
    };
    let out = out.inspect_err(|_| kill_group())?;
    let status = status.map_err(|e| Failure::from_io("waiting for op", &e))?;
    if status.success() {
        return Ok(out);
    }
    let how = match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            format!("was killed by signal {}", status.signal().unwrap_or(0))
        }
    };
    let stderr = redacted_stderr(&err_bytes, out.expose());
    let reason = format!("`op read {reference}` {how}{}", describe(&stderr));
    Err(classify(&stderr, reason))
}

/// stderr as text, trimmed, with any echo of stdout (the would-be value) replaced by `***`.
fn redacted_stderr(stderr: &[u8], stdout: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(stderr).trim().to_owned();
    let out = String::from_utf8_lossy(Trim::Space.apply(stdout)).into_owned();
    if out.len() >= 4 {
        text = text.replace(&out, "***");
    }
    text
}

fn describe(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; stderr: {stderr}")
    }
}

/// The failure kind that op's stderr tells, where it is recognisable.
fn classify(stderr: &str, reason: String) -> Failure {
    let lower = stderr.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if any(&[
        "isn't an item",
        "isn't a vault",
        "isn't a field",
        "isn't a section",
        "not found",
        "could not find",
        "does not have a field",
        "no item found",
    ]) {
        Failure::NotFound(reason)
    } else if any(&[
        "not signed in",
        "not currently signed in",
        "unauthorized",
        "forbidden",
        "permission denied",
        "authentication",
    ]) {
        Failure::PermissionDenied(reason)
    } else {
        Failure::Provider(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_is_classified_and_stdout_echoes_redacted() {
        let err = redacted_stderr(b"  [ERROR] got value-1234 back\n", b"value-1234");
        assert_eq!(err, "[ERROR] got *** back");
        assert!(matches!(
            classify("\"db\" isn't an item in the \"Dev\" vault", String::new()),
            Failure::NotFound(_)
        ));
        assert!(matches!(
            classify("You are not currently signed in.", String::new()),
            Failure::PermissionDenied(_)
        ));
        assert!(matches!(
            classify("something else", String::new()),
            Failure::Provider(_)
        ));
    }

    #[test]
    fn find_skips_missing_and_non_executable_candidates() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let exec = dir.path().join("exec");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&exec).unwrap();
        std::fs::write(plain.join("op"), "").unwrap();
        std::fs::write(exec.join("op"), "").unwrap();
        std::fs::set_permissions(exec.join("op"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([dir.path().join("none"), plain, exec.clone()]).unwrap();
        assert_eq!(find(Some(&path)), Some(exec.join("op")));
        assert_eq!(find(None), None);
    }
}
