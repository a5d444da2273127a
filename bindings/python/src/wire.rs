//! The client side of the session protocol: one JSON request frame, one JSON reply frame, each
//! a 4-byte big-endian length then the JSON text.

use std::os::unix::net::UnixStream as StdStream;

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::runtime::Runtime;
use tokio::sync::Mutex;

/// Largest frame accepted (a secret is at most a few hundred KiB; outputs are text).
const MAX_FRAME: usize = 64 << 20;

/// A reply: `{"ok": value}` or `{"error": {"kind", "message", "exit_code"}}`.
#[derive(Debug)]
pub enum Reply {
    Ok(Value),
    Error {
        kind: String,
        message: String,
        exit_code: Option<i64>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Frame {
    Ok(Value),
    Error(ErrorFrame),
}

#[derive(Deserialize)]
struct ErrorFrame {
    kind: String,
    message: String,
    #[serde(default)]
    exit_code: Option<i64>,
}

/// The channel to the session; requests are answered in order, one at a time.
pub struct Channel {
    stream: Mutex<UnixStream>,
    runtime: &'static Runtime,
}

impl Channel {
    /// Wraps a connected stream.
    pub fn new(stream: StdStream, runtime: &'static Runtime) -> std::io::Result<Self> {
        stream.set_nonblocking(true)?;
        let _entered = runtime.enter();
        Ok(Self {
            stream: Mutex::new(UnixStream::from_std(stream)?),
            runtime,
        })
    }

    /// Sends `request` and waits for its reply.
    pub async fn call(&self, request: Value) -> std::io::Result<Reply> {
        let body = serde_json::to_vec(&request)?;
        let mut stream = self.stream.lock().await;
        let length =
            u32::try_from(body.len()).map_err(|_| std::io::Error::other("request too large"))?;
        stream.write_all(&length.to_be_bytes()).await?;
        stream.write_all(&body).await?;
        let mut head = [0u8; 4];
        stream.read_exact(&mut head).await?;
        let length = u32::from_be_bytes(head) as usize;
        if length > MAX_FRAME {
            return Err(std::io::Error::other("reply frame too large"));
        }
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).await?;
        Ok(match serde_json::from_slice(&body)? {
            Frame::Ok(value) => Reply::Ok(value),
            Frame::Error(e) => Reply::Error {
                kind: e.kind,
                message: e.message,
                exit_code: e.exit_code,
            },
        })
    }

    /// [`Channel::call`] from synchronous code.
    pub fn call_blocking(&self, request: Value) -> std::io::Result<Reply> {
        self.runtime.block_on(self.call(request))
    }

    /// Shuts the channel down; the session sees end of input.
    pub fn close(&self) {
        self.runtime.block_on(async {
            // Already closed or broken: nothing more to do.
            let _ = self.stream.lock().await.shutdown().await;
        });
    }
}
