//! Adapters that scrub tokio readers and writers and `std::io` writers.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use zeroize::Zeroize;

use crate::{ScrubStream, Scrubber};

/// Size of the raw read buffer of [`ScrubReader`].
const READ_CHUNK: usize = 16 * 1024;

pin_project! {
    /// Scrubs everything written to it before passing it on to the inner [`AsyncWrite`].
    ///
    /// A write is accepted whole: it is scrubbed into an internal buffer, which is passed on
    /// as far as the inner writer takes it and otherwise by the next write, flush or shutdown.
    /// `poll_flush` passes on everything that is released but keeps the bytes that may be the
    /// start of a secret (see the [crate documentation](crate#streaming));
    /// `poll_shutdown` releases those too, then shuts the inner writer down.
    pub struct ScrubWriter<W> {
        #[pin]
        inner: W,
        stream: ScrubStream,
        pending: Vec<u8>,
        written: usize,
        finished: bool,
    }
}

impl<W> ScrubWriter<W> {
    /// Wraps `inner`, scrubbing with `scrubber`'s secrets.
    pub fn new(scrubber: &Scrubber, inner: W) -> Self {
        ScrubWriter {
            inner,
            stream: scrubber.stream(),
            pending: Vec::new(),
            written: 0,
            finished: false,
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer; bytes not yet passed on (see [`AsyncWrite::poll_shutdown`]) are lost.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: AsyncWrite> ScrubWriter<W> {
    /// Passes the scrubbed bytes in `pending` on to the inner writer.
    fn poll_drain(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut this = self.project();
        while *this.written < this.pending.len() {
            let n = ready!(this
                .inner
                .as_mut()
                .poll_write(cx, &this.pending[*this.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *this.written += n;
        }
        this.pending.clear();
        *this.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite> AsyncWrite for ScrubWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.as_mut().poll_drain(cx))?;
        if self.finished {
            return Poll::Ready(Err(io::Error::other("write after shutdown")));
        }
        let this = self.as_mut().project();
        this.stream.write(buf, this.pending);
        // Pass the output on now if the inner writer takes it; otherwise (pending, or an
        // error, which the next call reports) it goes with the next write, flush or shutdown.
        let _ = self.poll_drain(cx);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_drain(cx))?;
        self.project().inner.poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.finished {
            let this = self.as_mut().project();
            this.stream.finish(this.pending);
            *this.finished = true;
        }
        ready!(self.as_mut().poll_drain(cx))?;
        self.project().inner.poll_shutdown(cx)
    }
}

impl<W> fmt::Debug for ScrubWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrubWriter")
            .field("stream", &self.stream)
            .field("pending", &(self.pending.len() - self.written))
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Scrubs everything read from the inner [`AsyncRead`].
    ///
    /// Bytes that may be the start of a secret are delivered once later input (or the inner
    /// reader's end of file) decides them. The raw input buffer is zeroized after each chunk
    /// is scrubbed and on drop.
    pub struct ScrubReader<R> {
        #[pin]
        inner: R,
        stream: ScrubStream,
        raw: Vec<u8>,
        ready: Vec<u8>,
        read: usize,
        eof: bool,
    }

    impl<R> PinnedDrop for ScrubReader<R> {
        fn drop(this: Pin<&mut Self>) {
            this.project().raw.zeroize();
        }
    }
}

impl<R> ScrubReader<R> {
    /// Wraps `inner`, scrubbing with `scrubber`'s secrets.
    pub fn new(scrubber: &Scrubber, inner: R) -> Self {
        ScrubReader {
            inner,
            stream: scrubber.stream(),
            raw: vec![0; READ_CHUNK],
            ready: Vec::new(),
            read: 0,
            eof: false,
        }
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

impl<R: AsyncRead> AsyncRead for ScrubReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self.project();
        loop {
            if *this.read < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - *this.read);
                buf.put_slice(&this.ready[*this.read..*this.read + n]);
                *this.read += n;
                if *this.read == this.ready.len() {
                    this.ready.clear();
                    *this.read = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if *this.eof || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut raw = ReadBuf::new(this.raw);
            ready!(this.inner.as_mut().poll_read(cx, &mut raw))?;
            let n = raw.filled().len();
            if n == 0 {
                this.stream.finish(this.ready);
                *this.eof = true;
            } else {
                this.stream.write(&this.raw[..n], this.ready);
                this.raw[..n].zeroize();
            }
        }
    }
}

impl<R> fmt::Debug for ScrubReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrubReader")
            .field("stream", &self.stream)
            .field("ready", &(self.ready.len() - self.read))
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

/// Scrubs everything written to it before passing it on to the inner [`io::Write`].
///
/// Each write is scrubbed and the released bytes are written through at once. `flush` keeps
/// the bytes that may be the start of a secret; [`finish`](Self::finish) (or, ignoring
/// errors, dropping the writer) releases them.
pub struct SyncScrubWriter<W: io::Write> {
    inner: Option<W>,
    stream: ScrubStream,
    pending: Vec<u8>,
    written: usize,
}

impl<W: io::Write> SyncScrubWriter<W> {
    /// Wraps `inner`, scrubbing with `scrubber`'s secrets.
    pub fn new(scrubber: &Scrubber, inner: W) -> Self {
        SyncScrubWriter {
            inner: Some(inner),
            stream: scrubber.stream(),
            pending: Vec::new(),
            written: 0,
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        self.inner
            .as_ref()
            .expect("inner writer present until finish")
    }

    /// Releases the held-back bytes, flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.stream.finish(&mut self.pending);
        self.drain()?;
        let mut inner = self
            .inner
            .take()
            .expect("inner writer present until finish");
        inner.flush()?;
        Ok(inner)
    }

    fn drain(&mut self) -> io::Result<()> {
        let inner = self
            .inner
            .as_mut()
            .expect("inner writer present until finish");
        while self.written < self.pending.len() {
            match inner.write(&self.pending[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.written = 0;
        Ok(())
    }
}

impl<W: io::Write> io::Write for SyncScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.drain()?;
        self.stream.write(buf, &mut self.pending);
        // `buf` is consumed; an error passing it on is reported by the next call.
        let _ = self.drain();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner
            .as_mut()
            .expect("inner writer present until finish")
            .flush()
    }
}

impl<W: io::Write> Drop for SyncScrubWriter<W> {
    fn drop(&mut self) {
        if self.inner.is_some() {
            self.stream.finish(&mut self.pending);
            let _ = self.drain();
        }
    }
}

impl<W: io::Write> fmt::Debug for SyncScrubWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncScrubWriter")
            .field("stream", &self.stream)
            .field("pending", &(self.pending.len() - self.written))
            .finish_non_exhaustive()
    }
}
