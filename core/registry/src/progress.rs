//! Per-blob progress lines on the console, shown only when its stderr is a terminal.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use hush_console::Console;

/// How often a progress line is redrawn.
const REDRAW: Duration = Duration::from_millis(100);

/// Where progress is drawn, if anywhere; decided once per pull.
#[derive(Clone)]
pub(crate) struct Progress {
    console: Option<Console>,
}

impl Progress {
    /// Progress on `console` if there is one and its stderr is a terminal.
    pub fn new(console: Option<&Console>) -> Self {
        Self {
            console: console.filter(|c| c.shows_progress()).cloned(),
        }
    }

    /// Prints one finished line.
    pub fn line(&self, text: &str) {
        if let Some(console) = &self.console {
            console.progress(text);
        }
    }

    /// Wraps a blob download, redrawing `label: done / total` as bytes arrive.
    pub fn reader<R: Read>(&self, label: String, total: u64, inner: R) -> ProgressReader<R> {
        ProgressReader {
            inner,
            console: self.console.clone(),
            label,
            total,
            done: 0,
            drawn: None,
        }
    }
}

/// A reader that draws a progress line; [`ProgressReader::finish`] ends the line.
pub(crate) struct ProgressReader<R> {
    inner: R,
    console: Option<Console>,
    label: String,
    total: u64,
    done: u64,
    drawn: Option<Instant>,
}

impl<R> ProgressReader<R> {
    fn draw(&mut self, last: bool) {
        let Some(console) = &self.console else {
            return;
        };
        let now = Instant::now();
        if !last && self.drawn.is_some_and(|t| now.duration_since(t) < REDRAW) {
            return;
        }
        console.redraw(
            &format!(
                "{}: {} / {}",
                self.label,
                human(self.done),
                human(self.total)
            ),
            last,
        );
        self.drawn = Some(now);
    }

    /// Ends the progress line (if one was drawn).
    pub fn finish(mut self) {
        if self.drawn.is_some() {
            self.draw(true);
        }
    }
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        self.draw(false);
        Ok(n)
    }
}

/// `1.5 MiB`-style sizes.
pub(crate) fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_human() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(3 << 20), "3.0 MiB");
    }

    #[test]
    fn disabled_progress_passes_bytes_through() {
        let progress = Progress::new(None);
        let mut reader = progress.reader("blob".into(), 5, &b"hello"[..]);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello");
        assert!(reader.drawn.is_none());
        reader.finish();
    }
}
