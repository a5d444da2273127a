//! The console: the one place hush writes to its standard output and standard error.
//!
//! Every byte goes through the session scrubber: results, relayed process output, warnings,
//! errors and progress. Nothing else in the workspace may print: `clippy.toml` forbids
//! `println!`, `eprintln!`, `print!`, `eprint!`, `dbg!` and `std::io::{stdout, stderr}`
//! everywhere but here, and `make lint` runs clippy with `-D warnings`.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

use std::io::{self, IsTerminal, Read, Write};
use std::sync::{Arc, Mutex};

use hush_scrub::Scrubber;

/// One of hush's two output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: results.
    Out,
    /// Standard error: diagnostics and the output of processes whose stderr is relayed.
    Err,
}

/// Writes to hush's stdout and stderr, scrubbed of every secret its scrubber knows.
#[derive(Clone)]
pub struct Console {
    scrubber: Arc<Scrubber>,
    target: Target,
}

/// Where a console's bytes go.
#[derive(Clone)]
enum Target {
    /// The process's fds 1 and 2.
    Process,
    /// Memory, for tests of code that prints.
    Memory(Arc<Mutex<Captured>>),
}

/// What a [`Console::capture`] console was given, per stream (already scrubbed).
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// Bytes written to stdout.
    pub out: Vec<u8>,
    /// Bytes written to stderr.
    pub err: Vec<u8>,
}

impl Console {
    /// A console on the process's stdout and stderr.
    pub fn new(scrubber: Arc<Scrubber>) -> Self {
        Self {
            scrubber,
            target: Target::Process,
        }
    }

    /// A console that keeps what it is given in memory, and that memory.
    pub fn capture(scrubber: Arc<Scrubber>) -> (Self, Arc<Mutex<Captured>>) {
        let memory = Arc::new(Mutex::new(Captured::default()));
        let console = Self {
            scrubber,
            target: Target::Memory(memory.clone()),
        };
        (console, memory)
    }

    /// The scrubber every byte goes through.
    pub fn scrubber(&self) -> &Arc<Scrubber> {
        &self.scrubber
    }

    /// Writes a result (whole) to stdout, scrubbed, and flushes.
    pub fn out(&self, bytes: &[u8]) -> io::Result<()> {
        self.write(Stream::Out, &self.scrubber.scrub(bytes))
    }

    /// Writes a secret's plaintext to stdout unscrubbed: only for `hush secret get --plaintext`,
    /// the one command whose purpose is to show a value to the user who asked for it.
    pub fn reveal(&self, plaintext: &[u8]) -> io::Result<()> {
        self.write(Stream::Out, plaintext)
    }

    /// Prints `hush: warning: TEXT` on stderr, scrubbed.
    pub fn warn(&self, text: &str) {
        self.line(&format!("hush: warning: {text}"));
    }

    /// Prints `hush: TEXT` (an error) on stderr, scrubbed.
    pub fn error(&self, text: &str) {
        self.line(&format!("hush: {text}"));
    }

    /// Prints a status line (e.g. a build step) on stderr, scrubbed.
    pub fn note(&self, text: &str) {
        self.line(text);
    }

    /// Whether progress is shown: stderr is a terminal (never for a capturing console).
    pub fn shows_progress(&self) -> bool {
        matches!(self.target, Target::Process) && io::stderr().is_terminal()
    }

    /// Prints a progress line on stderr, scrubbed, if progress is shown.
    pub fn progress(&self, text: &str) {
        if self.shows_progress() {
            self.line(text);
        }
    }

    /// Redraws the current progress line on a terminal (ending it when `last`), scrubbed.
    pub fn redraw(&self, text: &str, last: bool) {
        if self.shows_progress() {
            let end = if last { "\n" } else { "" };
            let line = self.scrubber.scrub(text.as_bytes());
            let mut bytes = b"\r\x1b[2K".to_vec();
            bytes.extend_from_slice(&line);
            bytes.extend_from_slice(end.as_bytes());
            let _ = self.write(Stream::Err, &bytes);
        }
    }

    /// Copies `input` to `stream` through the scrubber as it arrives, on a blocking thread,
    /// until end of file (or EIO, which a pseudo-terminal reports once its other end closed).
    pub fn relay(
        &self,
        mut input: impl Read + Send + 'static,
        stream: Stream,
    ) -> tokio::task::JoinHandle<()> {
        let console = self.clone();
        let mut scrub = self.scrubber.stream();
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut out = Vec::with_capacity(buf.len() + 64);
            loop {
                match input.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        out.clear();
                        scrub.write(&buf[..n], &mut out);
                        if console.write(stream, &out).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            out.clear();
            scrub.finish(&mut out);
            let _ = console.write(stream, &out);
        })
    }

    /// One line on stderr, scrubbed.
    fn line(&self, text: &str) {
        let mut bytes = self.scrubber.scrub(text.as_bytes());
        bytes.push(b'\n');
        let _ = self.write(Stream::Err, &bytes);
    }

    /// Writes already scrubbed bytes and flushes.
    fn write(&self, stream: Stream, bytes: &[u8]) -> io::Result<()> {
        match (&self.target, stream) {
            (Target::Process, Stream::Out) => {
                let mut out = io::stdout().lock();
                out.write_all(bytes).and_then(|()| out.flush())
            }
            (Target::Process, Stream::Err) => {
                let mut err = io::stderr().lock();
                err.write_all(bytes).and_then(|()| err.flush())
            }
            (Target::Memory(memory), stream) => {
                let mut memory = memory.lock().unwrap();
                match stream {
                    Stream::Out => memory.out.extend_from_slice(bytes),
                    Stream::Err => memory.err.extend_from_slice(bytes),
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &[u8] = b"console-canary-5521";

    fn console(secret: bool) -> (Console, Arc<Mutex<Captured>>) {
        let scrubber = Arc::new(Scrubber::new());
        if secret {
            let _ = scrubber.add_secret(VALUE);
        }
        Console::capture(scrubber)
    }

    fn holds(data: &[u8]) -> bool {
        data.windows(VALUE.len()).any(|w| w == VALUE)
    }

    #[test]
    fn results_warnings_and_errors_are_scrubbed() {
        for secret in [true, false] {
            let (c, memory) = console(secret);
            let text = format!("x {} y", String::from_utf8_lossy(VALUE));
            c.out(text.as_bytes()).unwrap();
            c.warn(&text);
            c.error(&text);
            c.note(&text);
            c.progress(&text);
            c.redraw(&text, true);
            let memory = memory.lock().unwrap();
            // The control (no secret registered) shows the check sees the value.
            assert_eq!(holds(&memory.out), !secret);
            assert_eq!(holds(&memory.err), !secret);
            if secret {
                assert_eq!(memory.out, b"x *** y");
                assert_eq!(
                    memory.err,
                    b"hush: warning: x *** y\nhush: x *** y\nx *** y\n"
                );
            }
        }
    }

    #[test]
    fn reveal_is_the_one_unscrubbed_path() {
        let (c, memory) = console(true);
        c.reveal(VALUE).unwrap();
        assert_eq!(memory.lock().unwrap().out, VALUE);
    }

    #[tokio::test]
    async fn relays_scrub_across_read_boundaries() {
        for secret in [true, false] {
            let (c, memory) = console(secret);
            let mut fds = [0; 2];
            // SAFETY: a pipe into a local array.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            // SAFETY: both fds are fresh and owned here.
            let (read, mut write) = unsafe {
                use std::os::fd::FromRawFd;
                (
                    std::fs::File::from_raw_fd(fds[0]),
                    std::fs::File::from_raw_fd(fds[1]),
                )
            };
            let relay = c.relay(read, Stream::Err);
            for chunk in [&b"a "[..], &VALUE[..7], &VALUE[7..], b" b\n"] {
                write.write_all(chunk).unwrap();
                write.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            drop(write);
            relay.await.unwrap();
            let memory = memory.lock().unwrap();
            assert_eq!(holds(&memory.err), !secret);
            if secret {
                assert_eq!(memory.err, b"a *** b\n");
            }
        }
    }
}
