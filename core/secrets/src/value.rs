//! Secret plaintext buffers: zeroized on drop, locked against swap, never printed.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// An immutable secret plaintext.
///
/// The bytes live in one exactly-sized heap allocation that is `mlock`ed where the OS allows
/// and zeroized when dropped. `Debug` prints only the length.
pub struct SecretBytes {
    bytes: Box<[u8]>,
    locked: bool,
}

impl SecretBytes {
    /// Copies `plaintext` into a fresh locked allocation.
    pub fn new(plaintext: &[u8]) -> Self {
        let mut bytes = vec![0u8; plaintext.len()].into_boxed_slice();
        bytes.copy_from_slice(plaintext);
        let locked = lock(&bytes);
        Self { bytes, locked }
    }

    /// The plaintext. Callers must not copy it anywhere that outlives its use.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Returns a copy with the given transformation applied to the bytes (e.g. trimming).
    pub(crate) fn map(&self, f: impl FnOnce(&[u8]) -> &[u8]) -> Self {
        Self::new(f(&self.bytes))
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.bytes.zeroize();
        if self.locked {
            // SAFETY: the pointer and length describe the allocation locked in `lock`.
            unsafe { libc::munlock(self.bytes.as_ptr().cast(), self.bytes.len()) };
        }
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.bytes.len())
    }
}

fn lock(bytes: &[u8]) -> bool {
    if bytes.is_empty() {
        return false;
    }
    // SAFETY: mlock only reads the address range, which is a live allocation.
    unsafe { libc::mlock(bytes.as_ptr().cast(), bytes.len()) == 0 }
}

/// A growable buffer for reading a secret whose size is not known in advance.
///
/// Growing never leaves an unzeroized copy behind: the old allocation is zeroized before it is
/// freed. Pushing past `limit` bytes fails.
pub struct SecretBuf {
    buf: Zeroizing<Vec<u8>>,
    limit: usize,
}

/// Returned by [`SecretBuf::push`] when the limit would be exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitExceeded;

impl SecretBuf {
    /// An empty buffer accepting at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            buf: Zeroizing::new(Vec::with_capacity(limit.min(4096))),
            limit,
        }
    }

    /// Appends bytes, failing (and keeping what was there) if that would pass the limit.
    pub fn push(&mut self, data: &[u8]) -> Result<(), LimitExceeded> {
        let needed = self.buf.len() + data.len();
        if needed > self.limit {
            return Err(LimitExceeded);
        }
        if needed > self.buf.capacity() {
            let capacity = needed.max(self.buf.capacity() * 2).min(self.limit);
            let mut grown = Zeroizing::new(Vec::with_capacity(capacity));
            grown.extend_from_slice(&self.buf);
            self.buf = grown;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Freezes the buffer into a [`SecretBytes`]; this buffer is zeroized.
    pub fn freeze(self) -> SecretBytes {
        SecretBytes::new(&self.buf)
    }
}

impl fmt::Debug for SecretBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBuf({} bytes, redacted)", self.buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_length_only() {
        let s = SecretBytes::new(b"hunter2-password");
        let shown = format!("{s:?} {:?}", {
            let mut b = SecretBuf::new(100);
            b.push(b"hunter2-password").unwrap();
            b
        });
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("16 bytes"));
    }

    #[test]
    fn buf_grows_and_enforces_limit() {
        let mut b = SecretBuf::new(10_000);
        for _ in 0..9 {
            b.push(&[7u8; 1000]).unwrap();
        }
        assert_eq!(b.push(&[7u8; 1001]), Err(LimitExceeded));
        b.push(&[7u8; 1000]).unwrap();
        let s = b.freeze();
        assert_eq!(s.len(), 10_000);
        assert!(s.expose().iter().all(|&x| x == 7));
    }
}
