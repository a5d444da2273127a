//! Per-stream scrubbing state and the scanner.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use zeroize::Zeroize;

use crate::index::{gram, key, reserve_zeroizing, short_key, Index};
use crate::{Shared, REPLACEMENT};

/// The scrubbing state of one output stream (for example a process's stdout).
///
/// Created by [`Scrubber::stream`](crate::Scrubber::stream). Feed it with
/// [`write`](Self::write) and end it with [`finish`](Self::finish); both append scrubbed
/// output to a caller-provided buffer. A stream holds back only the bytes that are a live
/// prefix of some needle (see the [crate documentation](crate#streaming)); the held-back bytes
/// are zeroized when they are released and when the stream is dropped.
pub struct ScrubStream {
    shared: Arc<Shared>,
    /// `held[skip..]`: the bytes from the window start `E` on, the only ones an occurrence may
    /// still start in. (`held[..skip]` is released; it is dropped when it grows large.)
    held: Vec<u8>,
    skip: usize,
    /// Covered ranges within `held` (sorted, merged).
    covered: Vec<(usize, usize)>,
    /// `held[..done]` has already been emitted (all covered).
    done: usize,
    /// Whether the last emitted byte was covered (so a continuing run emits nothing).
    in_run: bool,
    /// Every `(start, needle)` such that `held[start..]` is a proper prefix of the needle, for
    /// the starts below `fresh`, as of index version `version`.
    live: Vec<(usize, u32)>,
    /// Starts from here on were not enumerated into `live`.
    fresh: usize,
    version: u64,
    /// Scratch: covered ranges and live prefixes of the current window.
    ranges: Vec<(usize, usize)>,
    next: Vec<(usize, u32)>,
}

impl ScrubStream {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        ScrubStream {
            shared,
            held: Vec::new(),
            skip: 0,
            covered: Vec::new(),
            done: 0,
            in_run: false,
            live: Vec::new(),
            fresh: 0,
            version: 0,
            ranges: Vec::new(),
            next: Vec::new(),
        }
    }

    /// Scrubs `input`, the next bytes of the stream, appending everything that can be released
    /// to `out`. Bytes that may be the beginning of a secret are held back until a later write
    /// or [`finish`](Self::finish) decides them.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let shared = Arc::clone(&self.shared);
        let index = shared.read();
        self.process(&index, input, out, false);
    }

    /// Ends the stream: scrubs and appends the held-back bytes to `out`. The stream can then
    /// be used again for a new, independent sequence of bytes.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let shared = Arc::clone(&self.shared);
        let index = shared.read();
        self.process(&index, &[], out, true);
        self.in_run = false;
    }

    /// Number of bytes currently held back.
    pub fn held_back(&self) -> usize {
        self.held.len() - self.skip - self.done
    }

    fn process(&mut self, index: &Index, input: &[u8], out: &mut Vec<u8>, eof: bool) {
        if index.is_empty() {
            // Needles are never removed, so nothing was held back either.
            out.extend_from_slice(input);
        } else if index.gram_len() == 8 {
            self.process_with::<8>(index, input, out, eof);
        } else {
            self.process_with::<4>(index, input, out, eof);
        }
    }

    /// Scrubs the window (held bytes + `input`) with the index's grams of `G` bytes.
    fn process_with<const G: usize>(
        &mut self,
        index: &Index,
        input: &[u8],
        out: &mut Vec<u8>,
        eof: bool,
    ) {
        let win = Win {
            h: &self.held[self.skip..],
            i: input,
        };
        let (h_len, len) = (win.h.len(), win.len());
        let ranges = &mut self.ranges;
        ranges.clear();
        ranges.extend_from_slice(&self.covered);
        let next = &mut self.next;
        next.clear();
        let track = !eof;
        // Live prefixes shorter than this are not enumerated by the sampled scan.
        let unlisted = index.stride() + G - 2;

        // 1. Occurrences and live prefixes starting in the held bytes: extend the ones known
        //    from the last write, look up the starts it did not enumerate (all of them if
        //    needles were added since).
        let mut from = 0;
        if self.version == index.version() {
            from = self.fresh;
            for &(p, id) in &self.live {
                let needle = index.needle(id);
                let rest = &needle[h_len - p..];
                if rest.len() <= input.len() {
                    if input[..rest.len()] == *rest {
                        push_range(ranges, p, p + needle.len());
                    }
                } else if track && rest[..input.len()] == *input {
                    next.push((p, id));
                }
            }
        }
        for p in from..h_len {
            let avail = len - p;
            if avail < G {
                break;
            }
            let k = key(win.gram::<G>(p));
            if !index.may_have(k) {
                continue;
            }
            for (id, j) in index.entries(k) {
                if j != 0 {
                    continue;
                }
                let needle = index.needle(id);
                if needle.len() <= avail {
                    if win.eq_at(p, needle) {
                        push_range(ranges, p, p + needle.len());
                    }
                } else if track && win.eq_at(p, &needle[..avail]) {
                    next.push((p, id));
                }
            }
        }

        // 2. Occurrences and long live prefixes starting in the input, sampled by stride.
        scan::<G>(index, input, h_len, track, ranges, next);

        // 3. The earliest live prefix: the earliest listed one, or a short one at the end.
        let mut start = next.iter().map(|&(p, _)| p).min().unwrap_or(len);
        if track {
            for l in (1..=unlisted.min(len)).rev() {
                let p = len - l;
                if p >= start {
                    break;
                }
                if is_live_prefix::<G>(index, &win, p) {
                    start = p;
                    break;
                }
            }
        } else {
            start = len;
        }

        // Coverage is the union of the ranges; a maximal covered run is emitted as one `***`.
        ranges.sort_unstable();
        let mut merged = 0;
        for i in 0..ranges.len() {
            let (a, b) = ranges[i];
            if merged > 0 && a <= ranges[merged - 1].1 {
                ranges[merged - 1].1 = ranges[merged - 1].1.max(b);
            } else {
                ranges[merged] = (a, b);
                merged += 1;
            }
        }
        ranges.truncate(merged);

        // Release everything before the earliest live prefix, plus the covered run that starts
        // there (its bytes are covered whatever comes next).
        let release = ranges
            .iter()
            .find(|&&(a, b)| a <= start && start < b)
            .map_or(start, |&(_, b)| b);
        let mut pos = self.done;
        for &(a, b) in ranges.iter() {
            if a >= release {
                break;
            }
            if b <= pos {
                continue;
            }
            if a > pos {
                win.copy_to(pos..a, out);
                self.in_run = false;
            }
            if !self.in_run {
                out.extend_from_slice(REPLACEMENT);
                self.in_run = true;
            }
            pos = b;
        }
        if pos < release {
            win.copy_to(pos..release, out);
            self.in_run = false;
        }

        // The new window starts at the earliest live prefix.
        self.done = release - start;
        self.covered.clear();
        self.covered.extend(
            ranges
                .iter()
                .filter(|&&(_, b)| b > start)
                .map(|&(a, b)| (a.max(start) - start, b - start)),
        );
        let fresh = len.saturating_sub(unlisted).max(start);
        next.sort_unstable();
        next.dedup();
        self.live.clear();
        self.live.extend(
            next.iter()
                .filter(|&&(p, _)| p < fresh)
                .map(|&(p, id)| (p - start, id)),
        );
        self.fresh = fresh - start;
        self.version = index.version();
        if start >= h_len {
            self.held.zeroize();
            self.skip = 0;
            reserve_zeroizing(&mut self.held, len - start);
            self.held.extend_from_slice(&input[start - h_len..]);
        } else {
            self.skip += start;
            if self.skip > self.held.len() / 2 {
                // Drop the released bytes (amortized: at most as many as are kept).
                let keep = self.held.len() - self.skip;
                self.held.copy_within(self.skip.., 0);
                self.held[keep..].zeroize();
                self.held.truncate(keep);
                self.skip = 0;
            }
            reserve_zeroizing(&mut self.held, input.len());
            self.held.extend_from_slice(input);
        }
    }
}

impl Drop for ScrubStream {
    fn drop(&mut self) {
        self.held.zeroize();
    }
}

impl fmt::Debug for ScrubStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrubStream")
            .field("held_back", &self.held_back())
            .finish_non_exhaustive()
    }
}

/// Adds the covered range `a..b`, merging it with the previous one when they touch (this
/// bounds the list on inputs that match everywhere).
#[inline]
fn push_range(ranges: &mut Vec<(usize, usize)>, a: usize, b: usize) {
    if let Some(last) = ranges.last_mut() {
        if a <= last.1 && b >= last.0 {
            *last = (last.0.min(a), last.1.max(b));
            return;
        }
    }
    ranges.push((a, b));
}

/// Finds the occurrences that start in `input` and end inside it, and (when `track`) the live
/// prefixes starting there that are long enough to contain a sampled position (see below).
/// `base` is the window position of `input[0]`.
///
/// Only every `stride`-th position is looked up: an occurrence of a needle of length
/// `>= stride + G - 1` contains such a position at an offset below `stride`, and the index
/// holds the needle's gram at that offset. Live prefixes of that length are found the same way.
fn scan<const G: usize>(
    index: &Index,
    input: &[u8],
    base: usize,
    track: bool,
    ranges: &mut Vec<(usize, usize)>,
    live: &mut Vec<(usize, u32)>,
) {
    if input.len() < G {
        return;
    }
    let stride = index.stride();
    let last = input.len() - G;
    let mut q = 0;
    while q <= last {
        let k = key(gram::<G>(input, q));
        if index.may_have(k) {
            candidates(index, input, q, k, base, track, ranges, live);
        }
        q += stride;
    }
}

#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn candidates(
    index: &Index,
    input: &[u8],
    q: usize,
    k: u32,
    base: usize,
    track: bool,
    ranges: &mut Vec<(usize, usize)>,
    live: &mut Vec<(usize, u32)>,
) {
    for (id, j) in index.entries(k) {
        // An occurrence starting before the input starts in the held bytes: found there.
        let Some(start) = q.checked_sub(j) else {
            continue;
        };
        let needle = index.needle(id);
        let end = start + needle.len();
        if end <= input.len() {
            if input[start..end] == *needle {
                push_range(ranges, base + start, base + end);
            }
        } else if track && input[start..] == needle[..input.len() - start] {
            live.push((base + start, id));
        }
    }
}

/// Whether the window's suffix from `p` is a proper prefix of some needle.
fn is_live_prefix<const G: usize>(index: &Index, win: &Win<'_>, p: usize) -> bool {
    let l = win.len() - p;
    if l < G {
        let mut prefix = [0u8; 7];
        for (i, b) in prefix[..l].iter_mut().enumerate() {
            *b = win.byte(p + i);
        }
        let found = index.has_short_prefix(short_key(&prefix[..l]));
        prefix.zeroize();
        return found;
    }
    let k = key(win.gram::<G>(p));
    index.may_have(k)
        && index.entries(k).any(|(id, j)| {
            let needle = index.needle(id);
            j == 0 && needle.len() > l && win.eq_at(p, &needle[..l])
        })
}

/// The window: the held bytes followed by the new input, without copying either.
struct Win<'a> {
    h: &'a [u8],
    i: &'a [u8],
}

impl Win<'_> {
    fn len(&self) -> usize {
        self.h.len() + self.i.len()
    }

    fn byte(&self, p: usize) -> u8 {
        match p.checked_sub(self.h.len()) {
            Some(q) => self.i[q],
            None => self.h[p],
        }
    }

    fn gram<const G: usize>(&self, p: usize) -> u64 {
        let h = self.h.len();
        if p + G <= h {
            gram::<G>(self.h, p)
        } else if p >= h {
            gram::<G>(self.i, p - h)
        } else {
            let mut b = [0u8; 8];
            for (i, x) in b[..G].iter_mut().enumerate() {
                *x = self.byte(p + i);
            }
            let g = u64::from_le_bytes(b);
            b.zeroize();
            g
        }
    }

    /// Whether the window holds `pat` at `p` (`p + pat.len() <= len`).
    fn eq_at(&self, p: usize, pat: &[u8]) -> bool {
        let h = self.h.len();
        if p >= h {
            return self.i[p - h..p - h + pat.len()] == *pat;
        }
        let k = (h - p).min(pat.len());
        self.h[p..p + k] == pat[..k] && self.i[..pat.len() - k] == pat[k..]
    }

    fn copy_to(&self, r: Range<usize>, out: &mut Vec<u8>) {
        let h = self.h.len();
        if r.start < h {
            out.extend_from_slice(&self.h[r.start..r.end.min(h)]);
        }
        if r.end > h {
            out.extend_from_slice(&self.i[r.start.max(h) - h..r.end - h]);
        }
    }
}
