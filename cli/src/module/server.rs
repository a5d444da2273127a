//! The session side of the protocol: secret handles, and the requests of one SDK process.

use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hush_secrets::Secret;
use hush_session::Session;
use serde_json::{json, Value};
use tokio::net::UnixStream;

use super::protocol::{read_frame, reply, write_frame, ProtoError};

/// The session an SDK process talks to, with the secret handles it was given.
pub struct SessionServer {
    session: Arc<Session>,
    handles: Mutex<Vec<Secret>>,
}

impl SessionServer {
    /// A server over `session`.
    pub fn new(session: Arc<Session>) -> Self {
        Self {
            session,
            handles: Mutex::new(Vec::new()),
        }
    }

    /// Gives the SDK process a handle on `secret`.
    pub fn adopt(&self, secret: Secret) -> String {
        let mut handles = self.handles.lock().unwrap();
        handles.push(secret);
        format!("secret:{}", handles.len())
    }

    /// The secret behind handle `id`.
    pub fn secret(&self, id: &str) -> Result<Secret, ProtoError> {
        id.strip_prefix("secret:")
            .and_then(|n| n.parse::<usize>().ok())
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| self.handles.lock().unwrap().get(n).cloned())
            .ok_or_else(|| ProtoError::query(format!("{id:?} is not a secret of this session")))
    }

    /// Answers requests on `stream` until the process closes it. A module process's `return`
    /// request is accepted when `returned` is given, and stores the result there.
    pub async fn serve(
        &self,
        stream: &mut UnixStream,
        mut returned: Option<&mut Option<Value>>,
    ) -> std::io::Result<()> {
        while let Some(request) = read_frame(stream).await? {
            let result = match (request["op"].as_str(), returned.as_deref_mut()) {
                (Some("return"), Some(slot)) => {
                    *slot = Some(request["value"].clone());
                    Ok(Value::Null)
                }
                _ => self.handle(request).await,
            };
            write_frame(stream, &reply(result)).await?;
        }
        Ok(())
    }

    async fn handle(&self, request: Value) -> Result<Value, ProtoError> {
        let text = |key: &str| {
            request[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| ProtoError::query(format!("the request needs a string {key:?}")))
        };
        match request["op"].as_str().unwrap_or_default() {
            "evaluate" => {
                let root = request["root"].as_str().map(str::to_owned);
                let chain = request["chain"].as_array().cloned().unwrap_or_default();
                self.evaluate(root.as_deref(), &chain).await
            }
            "set_secret" => {
                let value = B64
                    .decode(text("plaintext")?)
                    .map_err(|_| ProtoError::query("set_secret needs a base64 plaintext"))?;
                let secret = self.session.set_secret(&text("name")?, &value)?;
                Ok(json!(self.adopt(secret)))
            }
            "plaintext" => {
                let secret = self.secret(&text("id")?)?;
                Ok(json!(B64.encode(secret.expose())))
            }
            other => Err(ProtoError::query(format!("unknown request {other:?}"))),
        }
    }

    /// Evaluates a chain. The secret fields are answered here, against this session's
    /// handles; container, directory and file chains go to the core evaluator.
    async fn evaluate(&self, root: Option<&str>, chain: &[Value]) -> Result<Value, ProtoError> {
        let mut secret = match root {
            Some(id) => Some(self.secret(id)?),
            None => None,
        };
        for (i, step) in chain.iter().enumerate() {
            let field = step["field"].as_str().unwrap_or_default();
            let args = &step["args"];
            match (field, &secret) {
                ("secret", None) if i == 0 => {
                    let uri = args["uri"]
                        .as_str()
                        .ok_or_else(|| ProtoError::query("secret needs a uri"))?;
                    let uri = match args["cache_key"].as_str() {
                        Some(key) => with_cache_key(uri, key),
                        None => uri.to_owned(),
                    };
                    secret = Some(self.session.resolve(&uri).await?);
                }
                ("name", Some(s)) if i + 1 == chain.len() => return Ok(json!(s.label())),
                ("plaintext", Some(_)) => {
                    return Err(ProtoError::query(
                        "plaintext is read with the plaintext request, never in a chain",
                    ))
                }
                _ => {
                    return Err(ProtoError {
                        kind: "engine",
                        message: format!(
                            "{field} cannot be evaluated: container evaluation is not wired into this session yet"
                        ),
                    })
                }
            }
        }
        match secret {
            Some(s) => Ok(json!({"type": "Secret", "id": self.adopt(s)})),
            None => Err(ProtoError::query("an empty chain has no value")),
        }
    }
}

/// `uri` with `cacheKey=key` added to its parameters.
fn with_cache_key(uri: &str, key: &str) -> String {
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}cacheKey={key}")
}
