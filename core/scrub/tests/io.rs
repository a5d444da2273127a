//! The tokio and `std::io` adapters.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use hush_scrub::{Added, ScrubReader, ScrubWriter, Scrubber, SyncScrubWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

const TEXT: &[u8] =
    b"token=top-secret-value\nagain: top-secret-value, and base64 dG9wLXNlY3JldC12YWx1ZQ==\nbye";
// The last base64 character also depends on the padding, so it stays.
const SCRUBBED: &[u8] = b"token=***\nagain: ***, and base64 ***Q==\nbye";

fn scrubber() -> Scrubber {
    let s = Scrubber::new();
    assert_eq!(s.add_secret(b"top-secret-value"), Added::Registered);
    s
}

/// A reader that hands out one byte per read and is not ready every other poll.
struct Trickle {
    data: &'static [u8],
    stalled: bool,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.stalled = !self.stalled;
        if self.stalled {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if let Some((first, rest)) = self.data.split_first() {
            buf.put_slice(&[*first]);
            self.data = rest;
        }
        Poll::Ready(Ok(()))
    }
}

/// A writer that takes at most one byte per write and is not ready every other poll.
#[derive(Default)]
struct Sink {
    data: Vec<u8>,
    stalled: bool,
    flushes: usize,
    shut: bool,
}

impl AsyncWrite for Sink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.stalled = !self.stalled;
        if self.stalled {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.data.extend_from_slice(&buf[..1.min(buf.len())]);
        Poll::Ready(Ok(1.min(buf.len())))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flushes += 1;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.shut = true;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn reader_scrubs_a_tokio_reader() {
    let mut reader = ScrubReader::new(&scrubber(), TEXT);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, SCRUBBED);
}

#[tokio::test]
async fn reader_with_one_byte_reads_and_small_buffers() {
    let mut reader = ScrubReader::new(
        &scrubber(),
        Trickle {
            data: TEXT,
            stalled: false,
        },
    );
    let mut out = Vec::new();
    let mut buf = [0u8; 2];
    loop {
        let n = reader.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, SCRUBBED);
}

#[tokio::test]
async fn reader_releases_held_bytes_at_end_of_file() {
    let mut reader = ScrubReader::new(&scrubber(), &b"tail: top-secret"[..]);
    let mut out = Vec::new();
    reader.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"tail: top-secret");
}

#[tokio::test]
async fn writer_scrubs_into_a_tokio_writer() {
    let mut writer = ScrubWriter::new(&scrubber(), Vec::new());
    for chunk in TEXT.chunks(5) {
        writer.write_all(chunk).await.unwrap();
    }
    writer.shutdown().await.unwrap();
    assert_eq!(writer.get_ref().as_slice(), SCRUBBED);
    assert_eq!(writer.into_inner(), SCRUBBED);
}

#[tokio::test]
async fn writer_with_a_slow_inner_writer() {
    let mut writer = ScrubWriter::new(&scrubber(), Sink::default());
    writer.write_all(TEXT).await.unwrap();
    writer.flush().await.unwrap();
    writer.shutdown().await.unwrap();
    let sink = writer.into_inner();
    assert_eq!(sink.data, SCRUBBED);
    assert!(sink.flushes >= 1 && sink.shut);
}

#[tokio::test]
async fn flush_keeps_a_live_prefix_and_shutdown_releases_it() {
    let mut writer = ScrubWriter::new(&scrubber(), Vec::new());
    writer.write_all(b"prompt> top-sec").await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(writer.get_ref().as_slice(), b"prompt> ");
    writer.write_all(b"ret-value!").await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(writer.get_ref().as_slice(), b"prompt> ***!");
    writer.write_all(b" top-").await.unwrap();
    writer.shutdown().await.unwrap();
    assert_eq!(writer.get_ref().as_slice(), b"prompt> ***! top-");
    assert!(writer.write_all(b"more").await.is_err());
}

#[tokio::test]
async fn copy_between_tokio_streams() {
    let s = scrubber();
    let (mut tx, rx) = tokio::io::duplex(7);
    let producer = tokio::spawn(async move {
        for chunk in TEXT.chunks(3) {
            tx.write_all(chunk).await.unwrap();
        }
    });
    let mut reader = ScrubReader::new(&s, rx);
    let mut writer = ScrubWriter::new(&s, Vec::new());
    tokio::io::copy(&mut reader, &mut writer).await.unwrap();
    producer.await.unwrap();
    writer.shutdown().await.unwrap();
    // Scrubbed twice: nothing changes the second time.
    assert_eq!(writer.into_inner(), SCRUBBED);
}

#[test]
fn sync_writer_scrubs_and_finishes() {
    let mut writer = SyncScrubWriter::new(&scrubber(), Vec::new());
    for chunk in TEXT.chunks(4) {
        writer.write_all(chunk).unwrap();
    }
    writer.write_all(b" top-").unwrap();
    writer.flush().unwrap();
    assert_eq!(writer.get_ref().as_slice(), [SCRUBBED, b" "].concat());
    assert_eq!(writer.finish().unwrap(), [SCRUBBED, b" top-"].concat());
}

#[test]
fn sync_writer_releases_held_bytes_on_drop() {
    let mut out = Vec::new();
    {
        let mut writer = SyncScrubWriter::new(&scrubber(), &mut out);
        writer.write_all(b"ends with top-sec").unwrap();
    }
    assert_eq!(out, b"ends with top-sec");
}
