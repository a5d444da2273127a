//! The session side of the protocol: secret handles, and the requests of one SDK process.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hush_api::query::{Output, Selection};
use hush_query::{Client, Object};
use hush_secrets::Secret;
use hush_session::Session;
use serde_json::{json, Value};
use tokio::net::UnixStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::protocol::{read_frame, reply, write_frame, ProtoError};

/// The session an SDK process talks to: the core's query client (session, engine, and the
/// objects handed out by id).
pub struct SessionServer {
    client: Client,
}

impl SessionServer {
    /// A server over `session`, with its engine.
    pub fn new(session: Arc<Session>) -> Result<Self, ProtoError> {
        Ok(Self {
            client: Client::new(session).map_err(ProtoError::from)?,
        })
    }

    /// Gives the SDK process a handle on `secret`.
    pub fn adopt(&self, secret: Secret) -> Value {
        output(self.client.hand_out(Object::Secret(secret)))
    }

    /// The secret behind handle `id`.
    pub fn secret(&self, id: &str) -> Result<Secret, ProtoError> {
        match self.client.object(id)? {
            Object::Secret(secret) => Ok(secret),
            other => Err(ProtoError::query(format!(
                "{id:?} is a {}, not a Secret",
                other.type_name()
            ))),
        }
    }

    /// Answers requests on `stream`, each as soon as it is done, until the process closes
    /// it. A module process's `return` request is accepted when `returned` is given, and
    /// stores the result there.
    pub async fn serve(
        self: &Arc<Self>,
        stream: &mut UnixStream,
        returned: Option<&mut Option<Value>>,
    ) -> std::io::Result<()> {
        let (mut reader, mut writer) = stream.split();
        let (replies, mut outbox) = mpsc::unbounded_channel::<Value>();
        let read = async move {
            let mut returned = returned;
            let mut tasks = JoinSet::new();
            let result = async {
                while let Some(request) = read_frame(&mut reader).await? {
                    let seq = request["seq"].clone();
                    match (request["op"].as_str(), returned.as_deref_mut()) {
                        (Some("return"), Some(slot)) => {
                            *slot = Some(request["value"].clone());
                            let _ = replies.send(reply(&seq, Ok(Value::Null)));
                        }
                        _ => {
                            let (this, replies) = (self.clone(), replies.clone());
                            tasks.spawn(async move {
                                let result = this.handle(request).await.map_err(|mut e| {
                                    // The SDK process shows it, past hush's output scrubbing.
                                    e.message = this.client.session().scrub_text(&e.message);
                                    e
                                });
                                let _ = replies.send(reply(&seq, result));
                            });
                        }
                    }
                }
                Ok(())
            }
            .await;
            tasks.join_all().await;
            result
        };
        let write = async move {
            while let Some(reply) = outbox.recv().await {
                write_frame(&mut writer, &reply).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let (read, write) = tokio::join!(read, write);
        read.and(write)
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
                let chain: Vec<Selection> = serde_json::from_value(request["chain"].clone())
                    .map_err(|e| ProtoError::query(format!("the chain does not parse: {e}")))?;
                let root = match request["root"].as_str() {
                    Some(id) => self.client.object(id)?,
                    None => Object::Query,
                };
                Ok(output(self.client.evaluate_from(root, &chain).await?))
            }
            "set_secret" => {
                let value = B64
                    .decode(text("plaintext")?)
                    .map_err(|_| ProtoError::query("set_secret needs a base64 plaintext"))?;
                Ok(output(self.client.set_secret(&text("name")?, &value)?)["id"].clone())
            }
            "plaintext" => {
                let secret = self.secret(&text("id")?)?;
                Ok(json!(B64.encode(secret.expose())))
            }
            other => Err(ProtoError::query(format!("unknown request {other:?}"))),
        }
    }
}

fn output(output: Output) -> Value {
    serde_json::to_value(output).expect("outputs serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::protocol::{read_frame, write_frame};
    use hush_session::SessionConfig;

    async fn ask(stream: &mut UnixStream, request: Value) -> Value {
        write_frame(stream, &request).await.unwrap();
        read_frame(stream).await.unwrap().unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn secrets_by_handle_and_typed_errors() {
        let home = tempfile::tempdir().unwrap();
        let session = Session::new(SessionConfig {
            home: home.path().to_owned(),
            warnings: Some(Arc::new(|_| {})),
            ..SessionConfig::default()
        });
        let server = Arc::new(SessionServer::new(session.clone()).unwrap());
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        let serving = tokio::spawn(async move { server.serve(&mut theirs, None).await });

        let made = ask(
            &mut ours,
            json!({"seq": 1, "op": "set_secret", "name": "made", "plaintext": B64.encode("made-value-1")}),
        )
        .await;
        assert_eq!(made["seq"], 1);
        let id = made["ok"].as_str().unwrap().to_owned();
        assert_eq!(session.scrub_text("x made-value-1 y"), "x *** y");

        let value = ask(&mut ours, json!({"seq": 2, "op": "plaintext", "id": id})).await;
        assert_eq!(value["ok"], json!(B64.encode("made-value-1")));
        let name = ask(
            &mut ours,
            json!({"seq": 3, "op": "evaluate", "root": id, "chain": [{"field": "name"}]}),
        )
        .await;
        assert_eq!(name["ok"], "made");

        let missing = ask(
            &mut ours,
            json!({"seq": 4, "op": "evaluate", "root": null,
                   "chain": [{"field": "secret", "args": {"uri": "env://HUSH_SERVER_TEST_UNSET"}}, {"field": "name"}]}),
        )
        .await;
        assert_eq!(missing["error"]["kind"], "not_found");
        // Error messages are scrubbed: a failing command's stderr quotes a secret of the
        // session (control: the same stderr without it is shown as it is).
        let failing = |seq: i64, quoted: &str| {
            json!({"seq": seq, "op": "evaluate", "root": null, "chain": [{"field": "secret",
                   "args": {"uri": format!("cmd://echo {quoted} >&2; exit 3")}}]})
        };
        let echoed = ask(&mut ours, failing(7, "made-value-1")).await;
        let message = echoed["error"]["message"].as_str().unwrap();
        assert!(message.ends_with("stderr: ***"), "{message}");
        let echoed = ask(&mut ours, failing(8, "not-a-secret-value")).await;
        let message = echoed["error"]["message"].as_str().unwrap();
        assert!(message.ends_with("stderr: not-a-secret-value"), "{message}");
        let unknown = ask(
            &mut ours,
            json!({"seq": 5, "op": "plaintext", "id": "secret:999"}),
        )
        .await;
        assert_eq!(unknown["error"]["kind"], "query");
        let refused = ask(&mut ours, json!({"seq": 6, "op": "return", "value": 1})).await;
        assert_eq!(refused["error"]["kind"], "query");

        drop(ours);
        serving.await.unwrap().unwrap();
    }
}
