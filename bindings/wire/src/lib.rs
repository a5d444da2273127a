//! The client side of the session protocol: JSON request frames numbered by `seq`, each a
//! 4-byte big-endian length then the JSON text; a reader task hands every reply to the request
//! it answers, so many requests are in flight at once.

use std::collections::HashMap;
use std::os::unix::net::UnixStream as StdStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;
use tokio::runtime::Runtime;
use tokio::sync::{oneshot, Mutex};

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
struct Frame {
    seq: u64,
    #[serde(default)]
    ok: Option<Value>,
    #[serde(default)]
    error: Option<ErrorFrame>,
}

#[derive(Deserialize)]
struct ErrorFrame {
    kind: String,
    message: String,
    #[serde(default)]
    exit_code: Option<i64>,
}

type Waiters = Arc<StdMutex<Option<HashMap<u64, oneshot::Sender<Reply>>>>>;

/// The channel to the session.
pub struct Channel {
    writer: Mutex<OwnedWriteHalf>,
    /// Requests awaiting their reply; `None` once the session has gone.
    waiters: Waiters,
    next: AtomicU64,
    runtime: &'static Runtime,
}

impl Channel {
    /// Wraps a connected stream and starts reading replies.
    pub fn new(stream: StdStream, runtime: &'static Runtime) -> std::io::Result<Self> {
        stream.set_nonblocking(true)?;
        let _entered = runtime.enter();
        let (reader, writer) = UnixStream::from_std(stream)?.into_split();
        let waiters: Waiters = Arc::new(StdMutex::new(Some(HashMap::new())));
        runtime.spawn(read_replies(reader, waiters.clone()));
        Ok(Self {
            writer: Mutex::new(writer),
            waiters,
            next: AtomicU64::new(1),
            runtime,
        })
    }

    /// Sends `request` and waits for its reply.
    pub async fn call(&self, mut request: Value) -> std::io::Result<Reply> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        request["seq"] = seq.into();
        let body = serde_json::to_vec(&request)?;
        let length =
            u32::try_from(body.len()).map_err(|_| std::io::Error::other("request too large"))?;
        let (tx, rx) = oneshot::channel();
        match self
            .waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(waiters) => waiters.insert(seq, tx),
            None => return Err(gone()),
        };
        {
            let mut writer = self.writer.lock().await;
            writer.write_all(&length.to_be_bytes()).await?;
            writer.write_all(&body).await?;
        }
        rx.await.map_err(|_| gone())
    }

    /// [`Channel::call`] from synchronous code.
    pub fn call_blocking(&self, request: Value) -> std::io::Result<Reply> {
        self.runtime.block_on(self.call(request))
    }

    /// Shuts the channel down; the session sees end of input.
    pub fn close(&self) {
        self.runtime.block_on(async {
            // Already closed or broken: nothing more to do.
            let _ = self.writer.lock().await.shutdown().await;
        });
    }
}

fn gone() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::BrokenPipe,
        "the session closed the connection",
    )
}

/// Hands each reply to its waiter; on end of input or a bad frame, fails every waiter.
async fn read_replies(mut reader: OwnedReadHalf, waiters: Waiters) {
    while let Ok(Some(frame)) = read_frame(&mut reader).await {
        let reply = match frame.error {
            Some(e) => Reply::Error {
                kind: e.kind,
                message: e.message,
                exit_code: e.exit_code,
            },
            None => Reply::Ok(frame.ok.unwrap_or(Value::Null)),
        };
        let waiter = waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .and_then(|w| w.remove(&frame.seq));
        if let Some(waiter) = waiter {
            let _ = waiter.send(reply);
        }
    }
    // Dropping the senders wakes every waiter with an error.
    waiters.lock().unwrap_or_else(|e| e.into_inner()).take();
}

async fn read_frame(reader: &mut OwnedReadHalf) -> std::io::Result<Option<Frame>> {
    let mut head = [0u8; 4];
    match reader.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let length = u32::from_be_bytes(head) as usize;
    if length > MAX_FRAME {
        return Err(std::io::Error::other("reply frame too large"));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(serde_json::from_slice(&body)?))
}
