//! `cmd://COMMAND`: the standard output of `sh -c COMMAND`.
//!
//! Trailing newlines are trimmed by default, like `$(...)`; `?trim=none` keeps them. The
//! command is killed (with its whole process group) after `?timeout=` (default 30 s). A
//! non-zero exit is an error with the exit code and the command's stderr, never its stdout.

use std::time::Duration;

use async_trait::async_trait;
use tokio::process::Command;

use super::process::{exit_reason, run_capturing, Labels};
use crate::error::Failure;
use crate::provider::{Provider, ResolveContext};
use crate::uri::{SecretUri, Trim};
use crate::value::SecretBytes;

/// Default time a command may run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs shell commands on the host.
#[derive(Debug, Default)]
pub struct CmdProvider;

#[async_trait]
impl Provider for CmdProvider {
    fn scheme(&self) -> &str {
        "cmd"
    }

    fn params(&self) -> &[&str] {
        &["timeout"]
    }

    fn default_trim(&self) -> Trim {
        Trim::Newline
    }

    fn check(&self, uri: &SecretUri) -> Result<(), String> {
        match uri.duration_param("timeout") {
            Ok(Some(d)) if d.is_zero() => Err("parameter \"timeout\" must be more than 0s".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(match e {
                crate::SecretError::InvalidUri { reason, .. } => reason,
                other => other.to_string(),
            }),
        }
    }

    async fn resolve(&self, uri: &SecretUri, ctx: &ResolveContext) -> Result<SecretBytes, Failure> {
        let timeout = uri
            .duration_param("timeout")
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_TIMEOUT);
        let mut command = Command::new("sh");
        command.arg("-c").arg(uri.path());
        let labels = Labels {
            start: "cannot start sh",
            output: "command output",
            wait: "waiting for sh",
        };
        let run = run_capturing(command, timeout, ctx.limit, &labels).await?;
        if run.status.success() {
            return Ok(run.stdout);
        }
        let stderr = run.redacted_stderr();
        Err(Failure::Provider(exit_reason(
            "command", run.status, &stderr,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn resolve(raw: &str) -> Result<SecretBytes, Failure> {
        let uri = SecretUri::parse(raw).unwrap();
        CmdProvider
            .resolve(&uri, &ResolveContext::unobserved(1024))
            .await
    }

    #[tokio::test]
    async fn returns_stdout_only() {
        let v = resolve("cmd://printf 'tok\\n\\n'; echo noise >&2")
            .await
            .unwrap();
        assert_eq!(
            v.expose(),
            b"tok\n\n",
            "the provider returns raw bytes; the store trims"
        );
    }

    #[tokio::test]
    async fn nonzero_exit_reports_code_and_stderr_never_stdout() {
        let err = resolve("cmd://echo the-stdout-value; echo 'boom: bad auth' >&2; exit 3")
            .await
            .unwrap_err();
        let Failure::Provider(reason) = err else {
            panic!("{err:?}")
        };
        assert_eq!(reason, "command exited with code 3; stderr: boom: bad auth");
    }

    #[tokio::test]
    async fn stderr_echoing_the_stdout_is_redacted() {
        let err = resolve("cmd://echo the-stdout-value; echo 'got the-stdout-value' >&2; exit 1")
            .await
            .unwrap_err();
        let Failure::Provider(reason) = err else {
            panic!("{err:?}")
        };
        assert!(!reason.contains("the-stdout-value"), "{reason}");
        assert!(reason.ends_with("stderr: got ***"), "{reason}");
    }

    #[tokio::test]
    async fn timeout_kills_the_command_and_its_children() {
        let marker = tempfile::tempdir().unwrap();
        let flag = marker.path().join("survived");
        let raw = format!(
            "cmd://(sleep 1; touch {}) %26 sleep 5?timeout=200ms",
            flag.display()
        );
        let started = std::time::Instant::now();
        let err = resolve(&raw).await.unwrap_err();
        assert_eq!(err, Failure::Timeout(Duration::from_millis(200)));
        assert!(started.elapsed() < Duration::from_secs(4));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !flag.exists(),
            "a child of the timed-out command kept running"
        );
    }

    #[tokio::test]
    async fn output_past_the_limit_is_too_large() {
        let err = resolve("cmd://head -c 5000 /dev/zero").await.unwrap_err();
        assert_eq!(err, Failure::TooLarge);
    }

    #[tokio::test]
    async fn killed_by_signal_is_reported() {
        let err = resolve("cmd://kill -9 $$").await.unwrap_err();
        assert_eq!(
            err,
            Failure::Provider("command was killed by signal 9".into())
        );
    }

    #[test]
    fn zero_timeout_is_invalid() {
        let uri = SecretUri::parse("cmd://true?timeout=0s").unwrap();
        assert!(CmdProvider
            .check(&uri)
            .unwrap_err()
            .contains("more than 0s"));
    }
}
