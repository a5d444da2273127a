//! The needle set and the q-gram index the scanner searches it with.
//!
//! Grams are `G` bytes long: 4 (every needle has at least [`MIN_NEEDLE`] bytes), or 8 once there
//! are [`LONG_GRAM_NEEDLES`] needles and all have at least [`LONG_NEEDLE`] bytes (tokens, keys
//! and their encodings): with that many needles, 4-byte grams of random-looking text would
//! match stored grams often enough for the verifications to dominate. For each
//! needle the index stores its grams at offsets `0..stride`, where `stride = min(shortest
//! needle - G + 1, MAX_STRIDE)`. Any occurrence of any needle then contains, at an offset
//! below `stride`, a position that is a multiple of `stride`; the scanner therefore only looks
//! up the gram at every `stride`-th position of its input and verifies the candidates the gram
//! names.
//!
//! Lookups go first through a bitmap (one bit per hashed gram, sized so that at most one bit in
//! sixteen is set) and then through an open-addressing multimap from a 32-bit hash of the gram
//! to (needle, offset). With a fixed `G` the stride only ever shrinks (the shortest needle only
//! gets shorter), so needles registered earlier always carry grams for every offset the
//! current stride needs. Changing `G` rebuilds the index; that happens at most twice (up to 8 when
//! the needle count reaches the threshold, down to 4 for good when a short needle comes).
//!
//! Every buffer here holds secret material or is derived from it; all of them are zeroized on
//! drop and whenever they are reallocated.

use zeroize::Zeroize;

/// The shortest needle the index accepts (and the short gram length).
pub(crate) const MIN_NEEDLE: usize = 4;
/// 8-byte grams need every needle to have at least this many bytes...
pub(crate) const LONG_NEEDLE: usize = 20;
/// ... and pay off from this many needles on.
pub(crate) const LONG_GRAM_NEEDLES: usize = 16 * 1024;
/// Upper bound of the sampling stride (and of the grams stored per needle).
pub(crate) const MAX_STRIDE: usize = 16;

const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const KEY_MUL: u64 = 0xD6E8_FEB8_6659_FD93;
const EMPTY_SLOT: u64 = u64::MAX;
const MIN_SLOTS_LOG2: u32 = 8;
const MIN_BITS_LOG2: u32 = 12;
/// Bitmap bits per stored gram (keeps the bitmap at most 1/16 full).
const BITS_PER_GRAM_LOG2: u32 = 4;
const MIN_SHORT_LOG2: u32 = 6;

/// The `G`-byte gram of `bytes` at `at`, little-endian in a `u64`.
#[inline(always)]
pub(crate) fn gram<const G: usize>(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b[..G].copy_from_slice(&bytes[at..at + G]);
    u64::from_le_bytes(b)
}

/// The 32-bit hash a gram is stored under; its top bits also place it in the bitmap and the
/// table. Collisions only cost a verification.
#[inline(always)]
pub(crate) fn key(g: u64) -> u32 {
    (g.wrapping_mul(KEY_MUL) >> 32) as u32
}

/// Key of a needle prefix shorter than a gram in the short-prefix set (never 0).
pub(crate) fn short_key(prefix: &[u8]) -> u64 {
    debug_assert!((1..8).contains(&prefix.len()));
    let mut k = (prefix.len() as u64) << 56;
    for (i, &b) in prefix.iter().enumerate() {
        k |= u64::from(b) << (8 * i);
    }
    k
}

/// Grows `v` so that `additional` more bytes fit, without leaving a copy of its contents in
/// freed memory: the old allocation is zeroized before it is released.
pub(crate) fn reserve_zeroizing<T: Zeroize + Copy>(v: &mut Vec<T>, additional: usize) {
    if v.capacity() - v.len() >= additional {
        return;
    }
    let mut grown = Vec::with_capacity((v.len() + additional).max(2 * v.capacity()));
    grown.extend_from_slice(v);
    v.zeroize();
    *v = grown;
}

/// All needles of a scrubber, indexed for scanning.
pub(crate) struct Index {
    /// Needle bytes, back to back.
    arena: Vec<u8>,
    /// `(offset in arena, length)` of each needle.
    spans: Vec<(u32, u32)>,
    /// Multimap gram -> `needle id << 4 | offset`, as `value << 32 | key(gram)`;
    /// `EMPTY_SLOT` is free.
    slots: Vec<u64>,
    slots_shift: u32,
    entries: usize,
    /// One bit per hashed gram present in `slots`.
    bits: Vec<u64>,
    bits_shift: u32,
    /// Set of `short_key`s of the prefixes shorter than a gram of all needles; 0 is free.
    short: Vec<u64>,
    short_len: usize,
    /// `G`: 4 or 8.
    gram_len: usize,
    /// Needle count from which 8-byte grams are used ([`LONG_GRAM_NEEDLES`]).
    long_gram_needles: usize,
    stride: usize,
    shortest: usize,
    /// Bumped whenever a needle is added.
    version: u64,
}

impl Index {
    pub(crate) fn new() -> Self {
        Index::with_long_gram_needles(LONG_GRAM_NEEDLES)
    }

    pub(crate) fn with_long_gram_needles(long_gram_needles: usize) -> Self {
        Index {
            arena: Vec::new(),
            spans: Vec::new(),
            slots: vec![EMPTY_SLOT; 1 << MIN_SLOTS_LOG2],
            slots_shift: 32 - MIN_SLOTS_LOG2,
            entries: 0,
            bits: vec![0; (1 << MIN_BITS_LOG2) / 64],
            bits_shift: 32 - MIN_BITS_LOG2,
            short: vec![0; 1 << MIN_SHORT_LOG2],
            short_len: 0,
            gram_len: 4,
            long_gram_needles,
            stride: MAX_STRIDE,
            shortest: usize::MAX,
            version: 0,
        }
    }

    /// Number of distinct needles.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The gram length `G` (8 or 4).
    pub(crate) fn gram_len(&self) -> usize {
        self.gram_len
    }

    /// Changes whenever a needle is added.
    pub(crate) fn version(&self) -> u64 {
        self.version
    }

    /// The sampling stride of the scanner (valid once a needle is registered).
    pub(crate) fn stride(&self) -> usize {
        self.stride
    }

    #[inline]
    pub(crate) fn needle(&self, id: u32) -> &[u8] {
        let (off, len) = self.spans[id as usize];
        &self.arena[off as usize..off as usize + len as usize]
    }

    /// Whether a gram with key `k` may be stored (no false negatives).
    #[inline(always)]
    pub(crate) fn may_have(&self, k: u32) -> bool {
        let h = (k >> self.bits_shift) as usize;
        self.bits[h >> 6] & (1u64 << (h & 63)) != 0
    }

    /// The `(needle id, offset)` pairs stored under key `k` (a superset of those of the gram).
    #[inline]
    pub(crate) fn entries(&self, k: u32) -> Entries<'_> {
        Entries {
            slots: &self.slots,
            at: (k >> self.slots_shift) as usize,
            key: k,
        }
    }

    /// Whether the string with key `k` (see [`short_key`]) begins a needle.
    pub(crate) fn has_short_prefix(&self, k: u64) -> bool {
        let mask = self.short.len() - 1;
        let mut at = self.short_slot(k);
        loop {
            match self.short[at] {
                0 => return false,
                s if s == k => return true,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Whether `needle` is registered.
    pub(crate) fn contains(&self, needle: &[u8]) -> bool {
        needle.len() >= self.gram_len
            && self
                .entries(key(self.gram_at(needle, 0)))
                .any(|(id, j)| j == 0 && self.needle(id) == needle)
    }

    /// Registers `needle` (at least [`MIN_NEEDLE`] bytes); returns false if it was known.
    pub(crate) fn insert(&mut self, needle: &[u8]) -> bool {
        assert!(
            needle.len() >= MIN_NEEDLE,
            "needles have at least {MIN_NEEDLE} bytes"
        );
        if self.contains(needle) {
            return false;
        }
        let id = u32::try_from(self.spans.len()).expect("needle count fits in u32");
        assert!(id < (1 << 28), "too many needles");
        let offset = u32::try_from(self.arena.len()).expect("needle bytes fit in u32");
        let len = u32::try_from(needle.len()).expect("needle length fits in u32");
        reserve_zeroizing(&mut self.arena, needle.len());
        self.arena.extend_from_slice(needle);
        self.spans.push((offset, len));
        self.version += 1;
        self.shortest = self.shortest.min(needle.len());
        if self.gram_len == 8 && self.shortest < LONG_NEEDLE {
            self.regram(4);
        } else if self.gram_len == 4
            && self.shortest >= LONG_NEEDLE
            && self.len() >= self.long_gram_needles
        {
            self.regram(8);
        } else {
            self.stride = self.stride.min(self.shortest - self.gram_len + 1);
            self.index_needle(id);
        }
        true
    }

    /// All needles, in registration order.
    #[cfg(test)]
    pub(crate) fn needles(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len() as u32).map(|id| self.needle(id))
    }

    fn gram_at(&self, bytes: &[u8], at: usize) -> u64 {
        if self.gram_len == 8 {
            gram::<8>(bytes, at)
        } else {
            gram::<4>(bytes, at)
        }
    }

    /// Stores the grams and short prefixes of needle `id`.
    fn index_needle(&mut self, id: u32) {
        let (off, len) = self.spans[id as usize];
        let (off, len) = (off as usize, len as usize);
        for j in 0..self.stride {
            let g = self.gram_at(&self.arena[off..off + len], j);
            self.put(key(g), (id << 4) | j as u32);
        }
        for l in 1..self.gram_len {
            let k = short_key(&self.arena[off..off + l]);
            self.put_short(k);
        }
    }

    /// Rebuilds the index (all needles) with grams of `gram_len` bytes.
    fn regram(&mut self, gram_len: usize) {
        self.gram_len = gram_len;
        self.slots.zeroize();
        self.slots = vec![EMPTY_SLOT; 1 << MIN_SLOTS_LOG2];
        self.slots_shift = 32 - MIN_SLOTS_LOG2;
        self.entries = 0;
        self.bits.zeroize();
        self.bits = vec![0; (1 << MIN_BITS_LOG2) / 64];
        self.bits_shift = 32 - MIN_BITS_LOG2;
        self.short.zeroize();
        self.short = vec![0; 1 << MIN_SHORT_LOG2];
        self.short_len = 0;
        self.stride = self
            .shortest
            .saturating_sub(gram_len - 1)
            .clamp(1, MAX_STRIDE);
        for id in 0..self.len() as u32 {
            self.index_needle(id);
        }
    }

    fn put(&mut self, k: u32, value: u32) {
        if 2 * (self.entries + 1) > self.slots.len() {
            self.rehash(self.slots.len().trailing_zeros() + 1);
        }
        self.put_slot((u64::from(value) << 32) | u64::from(k));
        self.entries += 1;
        let wanted_bits = (self.entries << BITS_PER_GRAM_LOG2).max(1 << MIN_BITS_LOG2);
        if wanted_bits > self.bits.len() * 64 {
            self.rebuild_bits(wanted_bits.next_power_of_two().trailing_zeros());
        } else {
            self.set_bit(k);
        }
    }

    fn put_slot(&mut self, slot: u64) {
        let mask = self.slots.len() - 1;
        let mut at = (slot as u32 >> self.slots_shift) as usize;
        while self.slots[at] != EMPTY_SLOT {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn rehash(&mut self, log2: u32) {
        let mut old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; 1 << log2]);
        self.slots_shift = 32 - log2;
        for &slot in old.iter().filter(|&&s| s != EMPTY_SLOT) {
            self.put_slot(slot);
        }
        old.zeroize();
    }

    fn set_bit(&mut self, k: u32) {
        let h = (k >> self.bits_shift) as usize;
        self.bits[h >> 6] |= 1u64 << (h & 63);
    }

    fn rebuild_bits(&mut self, log2: u32) {
        let mut old = std::mem::replace(&mut self.bits, vec![0; (1usize << log2) / 64]);
        old.zeroize();
        self.bits_shift = 32 - log2;
        for i in 0..self.slots.len() {
            let slot = self.slots[i];
            if slot != EMPTY_SLOT {
                self.set_bit(slot as u32);
            }
        }
    }

    fn short_slot(&self, k: u64) -> usize {
        (k.wrapping_mul(HASH_MUL) >> (64 - self.short.len().trailing_zeros())) as usize
    }

    fn put_short(&mut self, k: u64) {
        if self.has_short_prefix(k) {
            return;
        }
        if 2 * (self.short_len + 1) > self.short.len() {
            let log2 = self.short.len().trailing_zeros() + 1;
            let mut old = std::mem::replace(&mut self.short, vec![0; 1 << log2]);
            for &k in old.iter().filter(|&&k| k != 0) {
                self.put_short_slot(k);
            }
            old.zeroize();
        }
        self.put_short_slot(k);
        self.short_len += 1;
    }

    fn put_short_slot(&mut self, k: u64) {
        let mask = self.short.len() - 1;
        let mut at = self.short_slot(k);
        while self.short[at] != 0 {
            at = (at + 1) & mask;
        }
        self.short[at] = k;
    }
}

impl Drop for Index {
    fn drop(&mut self) {
        self.arena.zeroize();
        self.slots.zeroize();
        self.bits.zeroize();
        self.short.zeroize();
    }
}

/// Iterator over the `(needle id, offset)` pairs of one gram.
pub(crate) struct Entries<'a> {
    slots: &'a [u64],
    at: usize,
    key: u32,
}

impl Iterator for Entries<'_> {
    type Item = (u32, usize);

    #[inline]
    fn next(&mut self) -> Option<(u32, usize)> {
        loop {
            let slot = self.slots[self.at];
            if slot == EMPTY_SLOT {
                return None;
            }
            self.at = (self.at + 1) & (self.slots.len() - 1);
            if slot as u32 == self.key {
                let value = (slot >> 32) as u32;
                return Some((value >> 4, (value & 15) as usize));
            }
        }
    }
}
