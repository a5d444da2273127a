//! The session protocol between the CLI and SDK processes, over a Unix socketpair: frames of a
//! 4-byte big-endian length and JSON text. Every request carries a `seq` number that its one
//! reply echoes; requests are served concurrently, so replies may come in any order.
//!
//! Requests (`op`):
//! - `evaluate {root: id|null, chain}`: a chain of the query protocol (`hush_api::query`),
//!   from the API root or from an object handle; replies with the output.
//! - `set_secret {name, plaintext: base64}`: replies with the new secret's handle id.
//! - `plaintext {id}`: replies with the value, base64.
//! - `describe {module}` (module processes): the module's functions; replies with the call to
//!   make, `{function, args}`, or `null`.
//! - `return {value}` (module processes): the function's result as an output.
//!
//! Replies: `{"ok": value}` or `{"error": {"kind", "message", "exit_code"?}}`; messages never
//! contain secret values.

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest frame accepted.
const MAX_FRAME: usize = 64 << 20;

/// Reads one frame; `None` at a clean end of input.
pub async fn read_frame(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Value>> {
    let mut head = [0u8; 4];
    match stream.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_be_bytes(head) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other("session frame too large"));
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(Some(serde_json::from_slice(&body)?))
}

/// Writes one frame.
pub async fn write_frame(
    stream: &mut (impl AsyncWrite + Unpin),
    value: &Value,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(value)?;
    let length =
        u32::try_from(body.len()).map_err(|_| std::io::Error::other("session frame too large"))?;
    stream.write_all(&length.to_be_bytes()).await?;
    stream.write_all(&body).await
}

/// A failed request, as the error reply carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError {
    /// The error kind, one per Python/TypeScript/Go error class (`not_found`, `exec`, ...).
    pub kind: &'static str,
    /// One sentence, without secret values.
    pub message: String,
    /// The exit code of a failed exec.
    pub exit_code: Option<i64>,
}

impl ProtoError {
    /// A malformed or unsupported request.
    pub fn query(message: impl Into<String>) -> Self {
        Self {
            kind: "query",
            message: message.into(),
            exit_code: None,
        }
    }
}

impl From<hush_query::QueryError> for ProtoError {
    fn from(err: hush_query::QueryError) -> Self {
        use hush_query::{QueryError, QueryErrorKind};
        let (kind, exit_code) = match &err {
            QueryError::Secret(e) => return e.clone().into(),
            QueryError::Engine(hush_engine::EngineError::ExecFailed { exit_code, .. }) => {
                ("exec", Some(i64::from(*exit_code)))
            }
            _ => match err.kind() {
                QueryErrorKind::Invalid => ("query", None),
                QueryErrorKind::Exec => ("exec", None),
                QueryErrorKind::Secret(_) | QueryErrorKind::Engine => ("engine", None),
            },
        };
        Self {
            kind,
            message: err.to_string(),
            exit_code,
        }
    }
}

impl From<hush_secrets::SecretError> for ProtoError {
    fn from(err: hush_secrets::SecretError) -> Self {
        use hush_secrets::ErrorKind as K;
        let kind = match err.kind() {
            K::InvalidUri => "invalid_uri",
            K::NotFound => "not_found",
            K::PermissionDenied => "permission_denied",
            K::Unreachable => "unreachable",
            K::Timeout => "timeout",
            K::TooLarge => "too_large",
            K::Provider => "provider",
        };
        Self {
            kind,
            message: err.to_string(),
            exit_code: None,
        }
    }
}

/// The reply to the request numbered `seq`.
pub fn reply(seq: &Value, result: Result<Value, ProtoError>) -> Value {
    let mut reply = match result {
        Ok(value) => json!({ "ok": value }),
        Err(e) => {
            json!({ "error": { "kind": e.kind, "message": e.message, "exit_code": e.exit_code } })
        }
    };
    reply["seq"] = seq.clone();
    reply
}
