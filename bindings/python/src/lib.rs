//! `hush._native`: the Python SDK's connection to a hush session.
//!
//! The session (secret store, scrubber, engine) lives in a `hush` process, never in Python:
//! inside `hush call` the module process inherits one end of a private socketpair from the
//! CLI (its fd number in `HUSH_SESSION_FD`); a plain script starts `hush __session` as a child
//! over a fresh socketpair. Either way the SDK speaks the session protocol of
//! `cli/src/module/protocol.rs`: length-prefixed JSON frames carrying query-protocol chains
//! (`hush_api::query`) out and outputs back. Secret values cross only in `set_secret` and
//! `plaintext` frames, never in a chain.

mod awaitable;
use hush_wire as wire;

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream as StdStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::{json, Value};

use wire::{Channel, Reply};

/// A connection to a hush session.
#[pyclass(frozen, module = "hush._native")]
struct Connection {
    channel: Arc<Channel>,
    /// The `hush __session` child of a plain script; ends when the connection does.
    child: Mutex<Option<Child>>,
}

#[pymethods]
impl Connection {
    /// Connects over the inherited channel `fd` (inside `hush call`), or when `fd` is `None`
    /// starts `hush __session` (the `hush` binary named by `hush_bin`) and connects to it.
    #[staticmethod]
    #[pyo3(signature = (fd, hush_bin))]
    fn open(fd: Option<i32>, hush_bin: &str) -> PyResult<Self> {
        let runtime = pyo3_async_runtimes::tokio::get_runtime();
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
                let child = spawn_session(hush_bin, theirs)?;
                (ours, Some(child))
            }
        };
        let channel = Channel::new(stream, runtime)
            .map_err(|e| error("session", &format!("cannot use the session channel: {e}")))?;
        Ok(Self {
            channel: Arc::new(channel),
            child: Mutex::new(child),
        })
    }

    /// Evaluates a query-protocol chain (JSON), from the root or from the object `root` (an
    /// id the session handed out); returns the output as JSON.
    #[pyo3(signature = (chain_json, root=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        chain_json: &str,
        root: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let chain: Value = serde_json::from_str(chain_json)
            .map_err(|e| error("query", &format!("the chain is not JSON: {e}")))?;
        let channel = self.channel.clone();
        awaitable::spawn(py, async move {
            let value = reply(
                channel
                    .call(json!({"op": "evaluate", "root": root, "chain": chain}))
                    .await,
            )?;
            Ok(value.to_string())
        })
    }

    /// [`Connection::evaluate`] for a caller without an event loop (a coroutine that
    /// `hush._driver` runs before it needs one): waits in place, without the GIL.
    #[pyo3(signature = (chain_json, root=None))]
    fn evaluate_blocking(
        &self,
        py: Python<'_>,
        chain_json: &str,
        root: Option<String>,
    ) -> PyResult<String> {
        let chain: Value = serde_json::from_str(chain_json)
            .map_err(|e| error("query", &format!("the chain is not JSON: {e}")))?;
        let request = json!({"op": "evaluate", "root": root, "chain": chain});
        let value = reply(py.detach(|| self.channel.call_blocking(request)))?;
        Ok(value.to_string())
    }

    /// Makes a secret from a value in the session; returns its id.
    fn set_secret(&self, py: Python<'_>, name: &str, plaintext: &[u8]) -> PyResult<String> {
        let request = json!({"op": "set_secret", "name": name, "plaintext": B64.encode(plaintext)});
        let value = reply(py.detach(|| self.channel.call_blocking(request)))?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| error("session", "the session answered set_secret without an id"))
    }

    /// The value of the secret `secret_id`: the only way to it.
    fn plaintext<'py>(&self, py: Python<'py>, secret_id: String) -> PyResult<Bound<'py, PyAny>> {
        let channel = self.channel.clone();
        awaitable::spawn(py, async move {
            let value = reply(
                channel
                    .call(json!({"op": "plaintext", "id": secret_id}))
                    .await,
            )?;
            let bytes = value
                .as_str()
                .and_then(|text| B64.decode(text).ok())
                .ok_or_else(|| {
                    error("session", "the session answered plaintext without a value")
                })?;
            Ok(Python::attach(|py| PyBytes::new(py, &bytes).unbind()))
        })
    }

    /// [`Connection::plaintext`] for a caller without an event loop, as `evaluate_blocking`.
    fn plaintext_blocking<'py>(
        &self,
        py: Python<'py>,
        secret_id: &str,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let request = json!({"op": "plaintext", "id": secret_id});
        let value = reply(py.detach(|| self.channel.call_blocking(request)))?;
        let bytes = value
            .as_str()
            .and_then(|text| B64.decode(text).ok())
            .ok_or_else(|| error("session", "the session answered plaintext without a value"))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Inside `hush call`: sends the module's description (JSON) and returns the call asked
    /// for (JSON `{"function": ..., "args": {...}}`), or `None` when nothing is to be called.
    fn module_describe(&self, py: Python<'_>, description_json: &str) -> PyResult<Option<String>> {
        let module: Value = serde_json::from_str(description_json)
            .map_err(|e| error("query", &format!("the description is not JSON: {e}")))?;
        let value = reply(py.detach(|| {
            self.channel
                .call_blocking(json!({"op": "describe", "module": module}))
        }))?;
        Ok((!value.is_null()).then(|| value.to_string()))
    }

    /// Inside `hush call`: reports the function's result (output JSON).
    fn module_return(&self, py: Python<'_>, output_json: &str) -> PyResult<()> {
        let value: Value = serde_json::from_str(output_json)
            .map_err(|e| error("query", &format!("the result is not JSON: {e}")))?;
        reply(py.detach(|| {
            self.channel
                .call_blocking(json!({"op": "return", "value": value}))
        }))
        .map(drop)
    }

    /// Ends the connection; a `hush __session` child exits when its channel closes.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.channel.close();
        let child = self.child.lock().map(|mut c| c.take()).unwrap_or(None);
        if let Some(mut child) = child {
            py.detach(|| child.wait())
                .map_err(|e| error("session", &format!("the session did not end: {e}")))?;
        }
        Ok(())
    }
}

/// Starts `hush __session` with `theirs` as its fd 3.
fn spawn_session(hush_bin: &str, theirs: StdStream) -> PyResult<Child> {
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

/// Turns a session reply into its value or the typed Python exception.
fn reply(result: std::io::Result<Reply>) -> PyResult<Value> {
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
        }) => Err(Python::attach(|py| {
            typed_error(py, &kind, &message, exit_code)
        })),
    }
}

fn error(kind: &str, message: &str) -> PyErr {
    Python::attach(|py| typed_error(py, kind, message, None))
}

/// The exception of `hush._errors` for an error kind (see `hush._errors.KINDS`).
fn typed_error(py: Python<'_>, kind: &str, message: &str, exit_code: Option<i64>) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let errors = py.import("hush._errors")?;
        let instance = errors
            .getattr("from_kind")?
            .call1((kind, message, exit_code))?;
        Ok(PyErr::from_value(instance))
    })();
    made.unwrap_or_else(|e| e)
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Connection>()?;
    m.add_function(wrap_pyfunction!(awaitable::drain, m)?)
}
