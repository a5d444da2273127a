//! Exit codes and error reporting: 0 success, 1 failure of the work, 2 usage error; errors are
//! one clear sentence on stderr.

use std::process::ExitCode;

use std::sync::Arc;

use hush_console::Console;
use hush_secrets::{ErrorKind, SecretError};
use hush_session::{Session, SessionConfig};

/// A command's failure, classified for the exit code.
#[derive(Debug)]
pub enum Failure {
    /// The user asked for something malformed (exit 2).
    Usage(String),
    /// The work failed (exit 1).
    Work(String),
}

impl From<SecretError> for Failure {
    fn from(err: SecretError) -> Self {
        match err.kind() {
            ErrorKind::InvalidUri => Self::Usage(err.to_string()),
            _ => Self::Work(err.to_string()),
        }
    }
}

/// Prints the error, if any, through the console (scrubbed), and picks the exit code.
pub fn finish(result: Result<u8, Failure>, console: &Console) -> ExitCode {
    let (message, code) = match result {
        Ok(code) => return ExitCode::from(code),
        Err(Failure::Usage(message)) => (message, 2),
        Err(Failure::Work(message)) => (message, 1),
    };
    console.error(&message);
    ExitCode::from(code)
}

/// The session of this invocation, configured from the environment.
pub fn session() -> Result<Arc<Session>, Failure> {
    Ok(Session::new(SessionConfig {
        limit: secret_limit()?,
        ..SessionConfig::default()
    }))
}

/// Keeps secrets in this process out of core dumps and away from non-root tracers.
pub fn harden_process() {
    // SAFETY: plain prctl/setrlimit calls on this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
    }
}

/// The per-secret size limit: `HUSH_SECRET_MAX_BYTES`, else the default of 512000 bytes.
fn secret_limit() -> Result<usize, Failure> {
    match std::env::var("HUSH_SECRET_MAX_BYTES") {
        Err(_) => Ok(hush_secrets::DEFAULT_LIMIT),
        Ok(text) => text.parse().map_err(|_| {
            Failure::Usage(format!(
                "HUSH_SECRET_MAX_BYTES must be a number of bytes, not {text:?}"
            ))
        }),
    }
}
