//! hush's streaming secret scrubber.
//!
//! One session-wide [`Scrubber`] knows every secret of the session; every byte hush shows or
//! stores passes through one of its [`ScrubStream`]s (or the [`ScrubWriter`] /
//! [`ScrubReader`] / [`SyncScrubWriter`] adapters, or [`Scrubber::scrub`] for whole buffers),
//! which replace secrets by `***`.
//!
//! ```
//! use hush_scrub::{Added, Scrubber};
//!
//! let scrubber = Scrubber::new();
//! assert_eq!(scrubber.add_secret(b"hunter2-hunter2"), Added::Registered);
//! assert_eq!(scrubber.add_secret(b"abc"), Added::TooShort);
//!
//! let mut stream = scrubber.stream();
//! let mut out = Vec::new();
//! stream.write(b"password: hunter2", &mut out);
//! assert_eq!(out, b"password: "); // "hunter2" may be the start of the secret
//! stream.write(b"-hunter2\n", &mut out);
//! stream.finish(&mut out);
//! assert_eq!(out, b"password: ***\n");
//! // Encoded forms are scrubbed too: base64("hunter2-hunter2") is aHVudGVyMi1odW50ZXIy.
//! assert_eq!(scrubber.scrub(b"Basic aHVudGVyMi1odW50ZXIy"), b"Basic ***");
//! ```
//!
//! # What is scrubbed
//!
//! Each secret contributes a set of *needles* (byte strings), each at least the minimum
//! length ([`DEFAULT_MIN_LEN`], 4 bytes, unless set with [`Scrubber::with_min_len`]):
//!
//! - the value, and the value with surrounding ASCII whitespace trimmed; for each of these:
//!   - if it spans several lines, its form with every line break written as `\n` and its form
//!     with every line break written as `\r\n` (so a secret stored with `\n` is found when a
//!     terminal prints it with `\r\n`, and the other way round);
//!   - standard and URL-safe base64 in all three byte alignments: the characters of the
//!     encoding that depend only on the secret's bytes when it begins at offset 0, 1 or 2 of
//!     a 3-byte group (partial characters at both edges and padding dropped), so that
//!     `base64(prefix + secret + suffix)` is caught whatever the prefix; and, for a secret
//!     encoded alone, each line of its standard encoding wrapped at 76 columns (`base64`,
//!     MIME) or 64 (PEM, `openssl base64`), so `base64 key.json` is scrubbed line by line
//!     (wrapped encodings of a secret inside longer data are not recognised);
//!   - lower- and upper-case hex;
//!   - percent-encoding as produced by `encodeURIComponent`, Python's `quote` and
//!     `quote_plus` (upper-case hex digits);
//!   - JSON string escaping (the text between the quotes) as produced by
//!     `JSON.stringify`/serde_json, Python's `json.dumps` (ASCII-only) and Go's
//!     `encoding/json` (HTML-safe);
//! - for a multi-line secret, each of its lines (whitespace-trimmed) that is at least 8 bytes
//!   long.
//!
//! A secret whose trimmed value is shorter than the minimum length is not scrubbed at all
//! (it would wreck the output); [`Scrubber::add_secret`] returns [`Added::TooShort`] so that
//! the caller can warn, naming the secret but never its value. Needles are deduplicated.
//!
//! # Semantics
//!
//! Let `S` be the whole stream and `N` the needles. A byte `S[i]` is *covered* if some needle
//! `n` occurs at some `p` with `p <= i < p + n.len()` (all occurrences count, overlapping and
//! nested ones included, of needles that are prefixes of others too). The output is `S` with
//! every maximal run of consecutive covered bytes replaced by one `***`; so overlapping or
//! adjacent occurrences become a single `***`. This does not depend on how `S` is split into
//! writes.
//!
//! Secrets added while a stream is open apply to it from its next write on: every occurrence
//! that starts at or after the stream's window start at that point is scrubbed, the window
//! start being the earliest byte that could still begin a needle (bytes before it are
//! released and cannot be taken back). Formally, each write `w` has a window start
//! `E_w` (`E_0 = 0`): the smallest `p >= E_{w-1}` such that the bytes from `p` to the end of
//! the data written so far are a proper prefix of a needle known at write `w` (or the end of
//! that data if there is none). An occurrence of a needle counts if it starts at or after
//! `E_{w-1}`, `w` being the first write (or [`ScrubStream::finish`]) after the needle's secret
//! was added. For needles known when the stream starts, `E_0 = 0`: every occurrence counts.
//!
//! # Streaming
//!
//! A stream holds back exactly the bytes from `E_w` on, the longest suffix of the data that
//! is a proper prefix of some needle; all other bytes are released by the write that brings
//! them, and covered bytes at the start of the held-back suffix are released as `***` too
//! (nothing can uncover them). Hence a byte that cannot be part of a live prefix of a needle
//! is never delayed, and there is no timer or "idle flush": holding back less would be wrong.
//! [`ScrubStream::finish`] releases the rest.
//!
//! # Design
//!
//! The needles are kept in an index keyed by `G`-byte grams (module `index`; `G` is 4, or 8
//! once there are 16,384 needles of at least 20 bytes each). With `L` the shortest needle, each
//! needle stores its grams at offsets `0..s`, `s = min(L - G + 1, 16)`, and the scanner looks
//! up only every `s`-th position of its input: one multiplication and one test in a bitmap of
//! hashed grams (at most 1/16 full) per `s` bytes, and only on a hit a probe of a hash table
//! and the verification of the candidates it names. Every occurrence of a needle contains a
//! sampled position at an offset below `s`, so none is missed. The live prefix is found by
//! the same scan (candidates that run off the end of the input) plus a check of the last
//! `s + G - 2` positions. The scan has no loop-carried state, so it is not bound by one
//! dependent table lookup per byte like a DFA (`aho-corasick`'s), and adding a secret is
//! incremental: a few hash-table insertions per needle, no automaton to rebuild (the index is
//! rebuilt at most twice, when `G` changes). A stream remembers the live prefixes in its
//! held-back bytes and only extends them with the next write, so a long secret arriving in
//! small writes costs linear time; after secrets were added it looks the held-back bytes up
//! again once, which is how it picks up secrets added mid-stream.
//!
//! Costs to know: a needle shorter than 19 bytes lowers the stride for all (a 4-byte secret
//! makes it 1); a needle that repeats itself with a short period (`abab...`) keeps one live
//! prefix per period while it is being printed; memory is about 450 bytes per needle (a
//! 30-byte token has 6 to 9 needles), 25 MiB for 10,000 such secrets.
//!
//! The scrubber's own memory is zeroized on drop and whenever one of its buffers grows
//! (`zeroize`): the needle bytes, the gram table and bitmap, the short-prefix set, the
//! held-back bytes of every stream and the raw read buffer of [`ScrubReader`]. No third-party
//! automaton (whose memory could not be wiped) holds secret material. The caller's own
//! buffers and the plaintext passed to [`Scrubber::add_secret`] remain the caller's
//! responsibility.

mod index;
mod io;
mod stream;
mod variants;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use index::Index;

pub use io::{ScrubReader, ScrubWriter, SyncScrubWriter};
pub use stream::ScrubStream;

/// What scrubbed bytes are replaced with.
pub const REPLACEMENT: &[u8] = b"***";

/// Secrets (after trimming whitespace) shorter than this many bytes are not scrubbed.
pub const DEFAULT_MIN_LEN: usize = 4;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrubError {
    /// [`Scrubber::with_min_len`] was asked for a minimum below [`DEFAULT_MIN_LEN`].
    #[error("the minimum secret length must be at least {DEFAULT_MIN_LEN} bytes, got {0}")]
    MinLenTooSmall(usize),
}

/// The outcome of [`Scrubber::add_secret`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Added {
    /// The secret is scrubbed from now on.
    Registered,
    /// Every needle of the secret was already registered (e.g. the same secret twice).
    AlreadyKnown,
    /// The secret is shorter than the minimum length and is not scrubbed; warn the user
    /// (naming the secret, never its value).
    TooShort,
}

pub(crate) struct Shared {
    min_len: usize,
    index: RwLock<Index>,
}

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The session-wide set of secrets to scrub. Cheap to clone: clones share the same set.
///
/// `Scrubber` is `Send + Sync`; secrets can be added from any thread at any time, including
/// while streams are open (see the [crate documentation](crate#semantics)).
#[derive(Clone)]
pub struct Scrubber {
    shared: Arc<Shared>,
}

impl Scrubber {
    /// An empty scrubber with the default minimum secret length.
    pub fn new() -> Self {
        Scrubber::build(DEFAULT_MIN_LEN)
    }

    /// An empty scrubber that ignores secrets shorter than `min_len` bytes (at least
    /// [`DEFAULT_MIN_LEN`]).
    pub fn with_min_len(min_len: usize) -> Result<Self, ScrubError> {
        if min_len < DEFAULT_MIN_LEN {
            return Err(ScrubError::MinLenTooSmall(min_len));
        }
        Ok(Scrubber::build(min_len))
    }

    fn build(min_len: usize) -> Self {
        Scrubber::with_index(min_len, Index::new())
    }

    fn with_index(min_len: usize, index: Index) -> Self {
        Scrubber {
            shared: Arc::new(Shared {
                min_len,
                index: RwLock::new(index),
            }),
        }
    }

    /// A scrubber that switches to 8-byte grams as soon as every needle is long enough.
    #[cfg(test)]
    pub(crate) fn with_eager_long_grams() -> Self {
        Scrubber::with_index(DEFAULT_MIN_LEN, Index::with_long_gram_needles(1))
    }

    /// The minimum secret length of this scrubber.
    pub fn min_len(&self) -> usize {
        self.shared.min_len
    }

    /// Registers a secret and all its variants (see the [crate documentation](crate)).
    /// Open streams apply it from their next write on.
    pub fn add_secret(&self, plaintext: &[u8]) -> Added {
        let min_len = self.shared.min_len;
        if plaintext.trim_ascii().len() < min_len {
            return Added::TooShort;
        }
        let needles = variants::needles(plaintext, min_len);
        let mut index = self
            .shared
            .index
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut added = false;
        for needle in &needles {
            added |= index.insert(needle);
        }
        if added {
            Added::Registered
        } else {
            Added::AlreadyKnown
        }
    }

    /// A new stream (for example for one process's stdout) scrubbed with this scrubber's
    /// secrets, including those added later.
    pub fn stream(&self) -> ScrubStream {
        ScrubStream::new(Arc::clone(&self.shared))
    }

    /// Scrubs a whole buffer (an error message, a function result, ...).
    pub fn scrub(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let mut stream = self.stream();
        stream.write(input, &mut out);
        stream.finish(&mut out);
        out
    }

    #[cfg(test)]
    pub(crate) fn needles(&self) -> Vec<Vec<u8>> {
        self.shared.read().needles().map(<[u8]>::to_vec).collect()
    }

    /// Registers one needle as is (tests of the streaming logic without variants).
    #[cfg(test)]
    pub(crate) fn add_needle(&self, needle: &[u8]) -> bool {
        self.shared.index.write().unwrap().insert(needle)
    }
}

impl Default for Scrubber {
    fn default() -> Self {
        Scrubber::new()
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("min_len", &self.shared.min_len)
            .field("needles", &self.shared.read().len())
            .finish()
    }
}
