//! Reading with the 1Password CLI: `op read --no-newline op://...`.
//!
//! The reference goes on argv (it names the secret, it is not one); the value comes from
//! stdout. The process is killed with its process group after the timeout.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::process::Command;

use crate::error::Failure;
use crate::providers::process::{exit_reason, run_capturing, Labels};
use crate::value::SecretBytes;

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
    let mut command = Command::new(op);
    command.args(["read", "--no-newline", &reference]);
    let labels = Labels {
        start: &format!("cannot run {}", op.display()),
        output: "op's output",
        wait: "waiting for op",
    };
    let run = run_capturing(command, timeout, limit, &labels).await?;
    if run.status.success() {
        return Ok(run.stdout);
    }
    let stderr = run.redacted_stderr();
    let reason = exit_reason(&format!("`op read {reference}`"), run.status, &stderr);
    Err(classify(&stderr, reason))
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
    use crate::providers::process::redacted_stderr;

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
