//! The needle set and the q-gram index the scanner searches it with.
//!
//! Every needle is at least [`GRAM`] bytes long. For each needle the index stores the 4-byte
//! grams found at offsets `0..stride` of the needle, where `stride = min(shortest needle - GRAM
//! + 1, MAX_STRIDE)`. Any occurrence of any needle then contains, at an offset below `stride`,
//! a position that is a multiple of `stride`; the scanner therefore only looks up the gram at
//! every `stride`-th position of its input and verifies the candidates the gram names.
//!
//! Lookups go first through a bitmap (one bit per hashed gram, sized so that at most one bit in
//! sixteen is set) and then through an open-addressing multimap from gram to (needle, offset).
//! The stride only ever shrinks (the shortest needle only gets shorter), so needles registered
//! earlier always carry grams for every offset the current stride needs.
//!
//! Every buffer here holds secret material or is derived from it; all of them are zeroized on
//! drop and whenever they are reallocated.

use zeroize::Zeroize;

/// Length of the grams the index is keyed on; also the smallest possible needle.
pub(crate) const GRAM: usize = 4;
/// Upper bound of the sampling stride (and of the grams stored per needle).
pub(crate) const MAX_STRIDE: usize = 16;

const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
const EMPTY_SLOT: u64 = u64::MAX;
const MIN_SLOTS_LOG2: u32 = 8;
const MIN_BITS_LOG2: u32 = 12;
/// Bitmap bits per stored gram (keeps the bitmap at most 1/16 full).
const BITS_PER_GRAM_LOG2: u32 = 4;
const MIN_SHORT_LOG2: u32 = 6;

/// The little-endian 4-byte gram of `bytes` at `at`.
#[inline(always)]
pub(crate) fn gram(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[inline(always)]
fn hash(g: u32) -> u64 {
    u64::from(g).wrapping_mul(HASH_MUL)
}

/// Key of a 1- to 3-byte needle prefix in the short-prefix set (never 0).
pub(crate) fn short_key(prefix: &[u8]) -> u32 {
    debug_assert!((1..GRAM).contains(&prefix.len()));
    let mut key = (prefix.len() as u32) << 24;
    for (i, &b) in prefix.iter().enumerate() {
        key |= u32::from(b) << (8 * i);
    }
    key
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
    /// Multimap gram -> `needle id << 4 | offset`, as `value << 32 | gram`; `EMPTY_SLOT` is free.
    slots: Vec<u64>,
    slots_shift: u32,
    entries: usize,
    /// One bit per hashed gram present in `slots`.
    bits: Vec<u64>,
    bits_shift: u32,
    /// Set of `short_key`s of the 1-, 2- and 3-byte prefixes of all needles; 0 is free.
    short: Vec<u32>,
    short_len: usize,
    stride: usize,
    shortest: usize,
}

impl Index {
    pub(crate) fn new() -> Self {
        Index {
            arena: Vec::new(),
            spans: Vec::new(),
            slots: vec![EMPTY_SLOT; 1 << MIN_SLOTS_LOG2],
            slots_shift: 64 - MIN_SLOTS_LOG2,
            entries: 0,
            bits: vec![0; (1 << MIN_BITS_LOG2) / 64],
            bits_shift: 64 - MIN_BITS_LOG2,
            short: vec![0; 1 << MIN_SHORT_LOG2],
            short_len: 0,
            stride: MAX_STRIDE,
            shortest: usize::MAX,
        }
    }

    /// Number of distinct needles.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.spans.is_empty()
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

    /// Whether `g` may be a stored gram (no false negatives).
    #[inline(always)]
    pub(crate) fn may_have(&self, g: u32) -> bool {
        let h = (hash(g) >> self.bits_shift) as usize;
        self.bits[h >> 6] & (1u64 << (h & 63)) != 0
    }

    /// The `(needle id, offset)` pairs stored under gram `g`.
    #[inline]
    pub(crate) fn entries(&self, g: u32) -> Entries<'_> {
        Entries {
            slots: &self.slots,
            at: (hash(g) >> self.slots_shift) as usize,
            gram: g,
        }
    }

    /// Whether the 1- to 3-byte string with key `key` (see [`short_key`]) begins a needle.
    pub(crate) fn has_short_prefix(&self, key: u32) -> bool {
        let mask = self.short.len() - 1;
        let mut at = (hash(key) >> (64 - self.short.len().trailing_zeros())) as usize;
        loop {
            match self.short[at] {
                0 => return false,
                k if k == key => return true,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Whether `needle` is registered.
    pub(crate) fn contains(&self, needle: &[u8]) -> bool {
        needle.len() >= GRAM
            && self
                .entries(gram(needle, 0))
                .any(|(id, j)| j == 0 && self.needle(id) == needle)
    }

    /// Registers `needle` (at least [`GRAM`] bytes); returns false if it was already known.
    pub(crate) fn insert(&mut self, needle: &[u8]) -> bool {
        assert!(needle.len() >= GRAM, "needles are at least {GRAM} bytes");
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
        self.shortest = self.shortest.min(needle.len());
        self.stride = self.stride.min(self.shortest - GRAM + 1);
        for j in 0..self.stride {
            self.put(gram(needle, j), (id << 4) | j as u32);
        }
        for l in 1..GRAM {
            self.put_short(short_key(&needle[..l]));
        }
        true
    }

    /// All needles, in registration order.
    #[cfg(test)]
    pub(crate) fn needles(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len() as u32).map(|id| self.needle(id))
    }

    fn put(&mut self, g: u32, value: u32) {
        if 2 * (self.entries + 1) > self.slots.len() {
            self.rehash(self.slots.len().trailing_zeros() + 1);
        }
        self.put_slot(((u64::from(value)) << 32) | u64::from(g));
        self.entries += 1;
        let wanted_bits = (self.entries << BITS_PER_GRAM_LOG2).max(1 << MIN_BITS_LOG2);
        if wanted_bits > self.bits.len() * 64 {
            self.rebuild_bits(wanted_bits.next_power_of_two().trailing_zeros());
        } else {
            self.set_bit(g);
        }
    }

    fn put_slot(&mut self, slot: u64) {
        let mask = self.slots.len() - 1;
        let mut at = (hash(slot as u32) >> self.slots_shift) as usize;
        while self.slots[at] != EMPTY_SLOT {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }

    fn rehash(&mut self, log2: u32) {
        let mut old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; 1 << log2]);
        self.slots_shift = 64 - log2;
        for &slot in old.iter().filter(|&&s| s != EMPTY_SLOT) {
            self.put_slot(slot);
        }
        old.zeroize();
    }

    fn set_bit(&mut self, g: u32) {
        let h = (hash(g) >> self.bits_shift) as usize;
        self.bits[h >> 6] |= 1u64 << (h & 63);
    }

    fn rebuild_bits(&mut self, log2: u32) {
        let mut old = std::mem::replace(&mut self.bits, vec![0; (1usize << log2) / 64]);
        old.zeroize();
        self.bits_shift = 64 - log2;
        for i in 0..self.slots.len() {
            let slot = self.slots[i];
            if slot != EMPTY_SLOT {
                self.set_bit(slot as u32);
            }
        }
    }

    fn put_short(&mut self, key: u32) {
        if self.has_short_prefix(key) {
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
        self.put_short_slot(key);
        self.short_len += 1;
    }

    fn put_short_slot(&mut self, key: u32) {
        let mask = self.short.len() - 1;
        let mut at = (hash(key) >> (64 - self.short.len().trailing_zeros())) as usize;
        while self.short[at] != 0 {
            at = (at + 1) & mask;
        }
        self.short[at] = key;
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
    gram: u32,
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
            if slot as u32 == self.gram {
                let value = (slot >> 32) as u32;
                return Some((value >> 4, (value & 15) as usize));
            }
        }
    }
}
