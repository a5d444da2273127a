//! `hush.node`: the TypeScript SDK's connection to a hush session (napi-rs).
//!
//! The session (secret store, scrubber, engine) lives in a `hush` process, never in Node:
//! inside `hush call` the module process would inherit one end of a private socketpair from
//! the CLI (its fd number in `HUSH_SESSION_FD`); a plain script starts `hush __session` as a
//! child over a fresh socketpair. Either way the SDK speaks the session protocol of
//! `cli/src/module/protocol.rs`: length-prefixed JSON frames carrying query-protocol chains
//! (`hush_api::query`) out and outputs back. Secret values cross only in `set_secret` and
//! `plaintext` frames, as bytes (a Node `Buffer`), never in a chain.
//!
//! Failures reject (or throw) an `Error` whose message is the session's error frame as JSON,
//! `{"kind", "message", "exit_code"}`; `@hush/sdk` turns it into its typed error class.
//! Messages never contain secret values.

use hush_wire as wire;

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

use wire::{Channel, Reply};

/// The runtime that owns the session channel (its reader task and its writes).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hush-session")
            .enable_io()
            .build()
            .expect("a tokio runtime starts")
    })
}

/// A connection to a hush session.
#[napi]
pub struct Connection {
    channel: Arc<Channel>,
    /// The `hush __session` child of a plain script; ends when the connection does.
    child: Mutex<Option<Child>>,
}

#[napi]
impl Connection {
    /// Connects over the inherited channel `fd` (inside `hush call`), or when `fd` is `null`
    /// starts `hush __session` (the `hush` binary named by `hushBin`) and connects to it.
    #[napi(factory)]
    pub fn open(fd: Option<i32>, hush_bin: String) -> napi::Result<Self> {
        let (stream, child) = match fd {
            Some(fd) => {
                if fd < 3 {
                    return Err(error(
                        "session",
                        "HUSH_SESSION_FD must name an inherited fd",
                    ));
                }
                // SAFETY: the fd was inherited for this purpose and is owned from here on;
                // close-on-exec keeps it from the module's own child processes.
                let owned = unsafe {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    OwnedFd::from_raw_fd(fd)
                };
                (StdStream::from(owned), None)
            }
            None => {
                let (ours, theirs) = StdStream::pair()
                    .map_err(|e| error("session", &format!("cannot make a socketpair: {e}")))?;
                let child = spawn_session(&hush_bin, theirs)?;
                (ours, Some(child))
            }
        };
        let channel = Channel::new(stream, runtime())
            .map_err(|e| error("session", &format!("cannot use the session channel: {e}")))?;
        Ok(Self {
            channel: Arc::new(channel),
            child: Mutex::new(child),
        })
    }

    /// Evaluates a query-protocol chain (JSON), from the root or from the object `root` (an
    /// id the session handed out); resolves to the output as JSON.
    #[napi]
    pub async fn evaluate(&self, chain_json: String, root: Option<String>) -> napi::Result<String> {
        let chain: Value = serde_json::from_str(&chain_json)
            .map_err(|e| error("query", &format!("the chain is not JSON: {e}")))?;
        let value = self
            .request(json!({"op": "evaluate", "root": root, "chain": chain}))
            .await?;
        Ok(value.to_string())
    }

    /// Makes a secret from a value in the session; returns its id. Blocks until the session
    /// has it, so the scrubber knows the value before any chain can use the secret.
    #[napi]
    pub fn set_secret(&self, name: String, plaintext: Buffer) -> napi::Result<String> {
        let request =
            json!({"op": "set_secret", "name": name, "plaintext": B64.encode(&plaintext)});
        let value = reply(self.channel.call_blocking(request))?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| error("session", "the session answered set_secret without an id"))
    }

    /// The value of the secret `secretId`, as bytes: the only way to it.
    #[napi]
    pub async fn plaintext(&self, secret_id: String) -> napi::Result<Buffer> {
        let value = self
            .request(json!({"op": "plaintext", "id": secret_id}))
            .await?;
        let bytes = value
            .as_str()
            .and_then(|text| B64.decode(text).ok())
            .ok_or_else(|| error("session", "the session answered plaintext without a value"))?;
        Ok(bytes.into())
    }

    /// Ends the connection; a `hush __session` child exits when its channel closes.
    #[napi]
    pub fn close(&self) -> napi::Result<()> {
        self.channel.close();
        let child = self.child.lock().map(|mut c| c.take()).unwrap_or(None);
        if let Some(mut child) = child {
            child
                .wait()
                .map_err(|e| error("session", &format!("the session did not end: {e}")))?;
        }
        Ok(())
    }
}

impl Connection {
    /// Sends `request` on the channel's runtime and waits for the reply's value.
    async fn request(&self, request: Value) -> napi::Result<Value> {
        let channel = self.channel.clone();
        let outcome = runtime()
            .spawn(async move { channel.call(request).await })
            .await
            .map_err(|e| error("session", &format!("the session request failed: {e}")))?;
        reply(outcome)
    }
}

/// Starts `hush __session` with `theirs` as its fd 3.
fn spawn_session(hush_bin: &str, theirs: StdStream) -> napi::Result<Child> {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let fd = theirs.as_raw_fd();
    let mut command = Command::new(hush_bin);
    command
        .args(["__session", "--fd", "3"])
        .stdin(Stdio::null());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().map_err(|e| {
        error(
            "session",
            &format!("cannot start the hush session ({hush_bin} __session): {e}; put hush on PATH or set HUSH_BIN"),
        )
    })?;
    drop(theirs);
    Ok(child)
}

/// Turns a session reply into its value or the error the SDK maps to a typed class.
fn reply(result: std::io::Result<Reply>) -> napi::Result<Value> {
    match result {
        Err(e) => Err(error(
            "session",
            &format!("the session connection failed: {e}"),
        )),
        Ok(Reply::Ok(value)) => Ok(value),
        Ok(Reply::Error {
            kind,
            message,
            exit_code,
        }) => Err(typed_error(&kind, &message, exit_code)),
    }
}

fn error(kind: &str, message: &str) -> napi::Error {
    typed_error(kind, message, None)
}

/// An `Error` whose message is `{"kind", "message", "exit_code"}` (see `@hush/sdk`'s
/// `errors.ts`, `fromNative`).
fn typed_error(kind: &str, message: &str, exit_code: Option<i64>) -> napi::Error {
    let frame = json!({"kind": kind, "message": message, "exit_code": exit_code});
    napi::Error::new(napi::Status::GenericFailure, frame.to_string())
}
