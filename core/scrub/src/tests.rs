//! Differential tests of the streaming scrubber against a naive reference implementation.

use proptest::prelude::*;

use crate::variants;
use crate::{Added, Scrubber, DEFAULT_MIN_LEN, REPLACEMENT};

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Op {
    /// `Scrubber::add_secret`.
    Secret(Vec<u8>),
    /// Registers one needle as is (no variants).
    Needle(Vec<u8>),
    /// `ScrubStream::write`.
    Write(Vec<u8>),
}

/// Renders `data[..upto]`: every maximal run of covered bytes becomes one `***`.
fn render(data: &[u8], covered: &[bool], upto: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..upto {
        if !covered[i] {
            out.push(data[i]);
        } else if i == 0 || !covered[i - 1] {
            out.extend_from_slice(REPLACEMENT);
        }
    }
    out
}

fn occurrences<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    hay.windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(p, _)| p)
}

/// The reference: what the crate documentation promises, computed the naive way.
/// Returns the output expected after each write (cumulative) and after `finish`.
fn reference(ops: &[Op], min_len: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
    let data: Vec<u8> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Write(b) => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    // (needle, threshold): occurrences starting at or after the threshold count.
    let mut known: Vec<(Vec<u8>, usize)> = Vec::new();
    let mut fresh: Vec<Vec<u8>> = Vec::new();
    let (mut e, mut t) = (0, 0);
    // Per write: (needles known, end of data, window start after the write).
    let mut writes = Vec::new();
    for op in ops {
        match op {
            Op::Secret(s) => {
                if s.trim_ascii().len() >= min_len {
                    fresh.extend(variants::needles(s, min_len).iter().map(|n| n.to_vec()));
                }
            }
            Op::Needle(n) => fresh.push(n.clone()),
            Op::Write(b) => {
                known.extend(fresh.drain(..).map(|n| (n, e)));
                t += b.len();
                e = (e..t)
                    .find(|&p| {
                        known
                            .iter()
                            .any(|(n, _)| n.len() > t - p && n.starts_with(&data[p..t]))
                    })
                    .unwrap_or(t);
                writes.push((known.len(), t, e));
            }
        }
    }
    known.extend(fresh.drain(..).map(|n| (n, e)));

    let cover = |needles: &[(Vec<u8>, usize)], end: usize| {
        let mut covered = vec![false; data.len()];
        for (n, threshold) in needles {
            for p in occurrences(&data[..end], n).filter(|p| p >= threshold) {
                covered[p..p + n.len()].iter_mut().for_each(|c| *c = true);
            }
        }
        covered
    };
    let all = cover(&known, data.len());
    let per_write = writes
        .iter()
        .map(|&(k, t, e)| {
            // Released: everything before the window start, plus the covered run there
            // (as far as the occurrences complete by then show).
            let now = cover(&known[..k], t);
            let release = (e..t).find(|&i| !now[i]).unwrap_or(t);
            render(&data, &all, release)
        })
        .collect();
    (per_write, render(&data, &all, data.len()))
}

fn run(ops: &[Op], scrubber: &Scrubber) -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut stream = scrubber.stream();
    let mut out = Vec::new();
    let mut per_write = Vec::new();
    for op in ops {
        match op {
            Op::Secret(s) => {
                let _ = scrubber.add_secret(s);
            }
            Op::Needle(n) => {
                scrubber.add_needle(n);
            }
            Op::Write(b) => {
                stream.write(b, &mut out);
                per_write.push(out.clone());
            }
        }
    }
    stream.finish(&mut out);
    (per_write, out)
}

/// Runs `ops` on a default scrubber and on one that uses 8-byte grams whenever it can, and
/// compares both with the reference.
fn check(ops: &[Op]) -> Result<(), TestCaseError> {
    let (want_writes, want) = reference(ops, DEFAULT_MIN_LEN);
    for scrubber in [Scrubber::new(), Scrubber::with_eager_long_grams()] {
        let (got_writes, got) = run(ops, &scrubber);
        for (i, (g, w)) in got_writes.iter().zip(&want_writes).enumerate() {
            prop_assert_eq!(
                String::from_utf8_lossy(g),
                String::from_utf8_lossy(w),
                "released after write {}",
                i
            );
        }
        prop_assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
    // Whole-buffer scrubbing with every secret known from the start.
    let mut all_first: Vec<Op> = ops
        .iter()
        .filter(|op| !matches!(op, Op::Write(_)))
        .cloned()
        .collect();
    let data: Vec<u8> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Write(b) => Some(b.as_slice()),
            _ => None,
        })
        .flatten()
        .copied()
        .collect();
    all_first.push(Op::Write(data.clone()));
    let whole = Scrubber::new();
    run(&all_first[..all_first.len() - 1], &whole);
    prop_assert_eq!(whole.scrub(&data), reference(&all_first, whole.min_len()).1);
    Ok(())
}

/// A scenario: `secrets` are registered before the write given by their slot (slot >= number
/// of writes: before `finish`), `data` is cut into writes of the given sizes.
fn scenario(
    secrets: Vec<(Vec<u8>, usize)>,
    data: Vec<u8>,
    sizes: Vec<usize>,
    raw: bool,
) -> Vec<Op> {
    let mut writes = Vec::new();
    let mut rest = data.as_slice();
    for size in sizes {
        let (head, tail) = rest.split_at(size.min(rest.len()));
        writes.push(head.to_vec());
        rest = tail;
    }
    writes.push(rest.to_vec());
    let mut ops = Vec::new();
    for (i, w) in writes
        .iter()
        .enumerate()
        .chain(std::iter::once((writes.len(), &Vec::new())))
    {
        for (s, slot) in &secrets {
            if slot % (writes.len() + 1) == i {
                ops.push(if raw {
                    Op::Needle(s.clone())
                } else {
                    Op::Secret(s.clone())
                });
            }
        }
        if i < writes.len() {
            ops.push(Op::Write(w.clone()));
        }
    }
    ops
}

fn bytes_from(
    alphabet: &'static [u8],
    len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(proptest::sample::select(alphabet), len)
}

/// Data built from random bytes and copies of (parts of) the needles, so that occurrences,
/// overlaps and near-misses are frequent.
fn data_with(needles: &[Vec<u8>], pieces: Vec<(u8, usize, usize, Vec<u8>)>) -> Vec<u8> {
    let mut data = Vec::new();
    for (kind, which, cut, filler) in pieces {
        match (kind % 3, needles.len()) {
            (0, n) if n > 0 => data.extend_from_slice(&needles[which % n]),
            (1, n) if n > 0 => {
                let needle = &needles[which % n];
                data.extend_from_slice(&needle[..cut % (needle.len() + 1)]);
            }
            _ => data.extend_from_slice(&filler),
        }
    }
    data
}

fn raw_scenarios(
    alphabet: &'static [u8],
    needle_len: std::ops::RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<Op>> {
    (
        proptest::collection::vec((bytes_from(alphabet, needle_len), 0usize..8), 1..5),
        proptest::collection::vec(
            (
                any::<u8>(),
                any::<usize>(),
                any::<usize>(),
                bytes_from(alphabet, 0..=6),
            ),
            0..12,
        ),
        proptest::collection::vec(0usize..12, 0..12),
    )
        .prop_map(|(needles, pieces, sizes)| {
            let plain: Vec<Vec<u8>> = needles.iter().map(|(n, _)| n.clone()).collect();
            let data = data_with(&plain, pieces);
            scenario(needles, data, sizes, true)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Short self-overlapping needles over a two-letter alphabet (stride 1).
    #[test]
    fn raw_needles_tiny_alphabet(ops in raw_scenarios(b"ab", 4..=7)) {
        check(&ops)?;
    }

    /// Longer needles, so the sampled scan uses strides up to 16.
    #[test]
    fn raw_needles_long(ops in raw_scenarios(b"abc", 9..=20)) {
        check(&ops)?;
    }

    /// Needles of 20 bytes or more (8-byte grams in the eager scrubber).
    #[test]
    fn raw_needles_eight_byte_grams(ops in raw_scenarios(b"ab", 20..=36)) {
        check(&ops)?;
    }

    /// Long and short needles, so that in the eager scrubber a short one added mid-stream
    /// switches the index from 8-byte back to 4-byte grams.
    #[test]
    fn raw_needles_mixed_lengths(ops in raw_scenarios(b"ab", 4..=30)) {
        check(&ops)?;
    }

    /// Real secrets with all their variants (whitespace, line breaks, characters that
    /// percent-encoding and JSON escape), added before and during the stream.
    #[test]
    fn secrets_with_variants(
        secrets in proptest::collection::vec((bytes_from(b"ab \n\r\"%=", 1..=12), 0usize..8), 1..4),
        pieces in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>(), bytes_from(b"abYW= \n\r%\"\\", 0..=6)), 0..12),
        sizes in proptest::collection::vec(0usize..12, 0..12),
    ) {
        let needles: Vec<Vec<u8>> = secrets
            .iter()
            .flat_map(|(s, _)| variants::needles(s, 4).into_iter().map(|n| n.to_vec()))
            .collect();
        let data = data_with(&needles, pieces);
        check(&scenario(secrets, data, sizes, false))?;
    }
}

#[test]
fn reference_examples() {
    let ops = |needles: &[&[u8]], data: &[u8]| {
        let mut ops: Vec<Op> = needles.iter().map(|n| Op::Needle(n.to_vec())).collect();
        ops.push(Op::Write(data.to_vec()));
        ops
    };
    assert_eq!(reference(&ops(&[b"aaab1234"], b"aaaab1234"), 4).1, b"a***");
    assert_eq!(reference(&ops(&[b"abcd", b"bcxy"], b"abcxy"), 4).1, b"a***");
    assert_eq!(
        reference(&ops(&[b"abcd", b"cdef"], b"abcdef!"), 4).1,
        b"***!"
    );
    assert_eq!(
        reference(&ops(&[b"abcd", b"efgh"], b"abcdefgh"), 4).1,
        b"***"
    );
}

#[test]
fn added_mid_stream_example() {
    // "xyz1" is held back when "1234" is added, so the occurrence that starts there counts;
    // the one in released bytes cannot be taken back.
    let ops = vec![
        Op::Needle(b"xyz19".to_vec()),
        Op::Write(b"1234 xyz1".to_vec()),
        Op::Needle(b"1234".to_vec()),
        Op::Write(b"234".to_vec()),
    ];
    let scrubber = Scrubber::new();
    let (writes, out) = run(&ops, &scrubber);
    assert_eq!(writes[0], b"1234 ");
    assert_eq!(out, b"1234 xyz***");
    assert_eq!(reference(&ops, 4), (writes, out));
}

#[test]
fn added_mid_stream_inside_a_long_held_prefix() {
    // 30 held bytes (a prefix of the 40-byte needle); the new needle starts 3 bytes in, far
    // from the end, where the last write's live prefixes were already enumerated.
    let ops = vec![
        Op::Needle(b"0123456789abcdefghijklmnopqrstuvwxyzABCD".to_vec()),
        Op::Write(b"0123456789abcdefghijklmnopqrst".to_vec()),
        Op::Needle(b"3456789abcdefghijklmnopqrst-B".to_vec()),
        Op::Write(b"-B".to_vec()),
    ];
    let (writes, out) = run(&ops, &Scrubber::new());
    assert_eq!(writes[0], b"");
    assert_eq!(out, b"012***");
    assert_eq!(reference(&ops, DEFAULT_MIN_LEN), (writes, out));
}

#[test]
fn long_secret_trickling_in_is_linear() {
    // A 512 KiB secret written 64 bytes at a time: each write only extends the live prefix.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let secret: Vec<u8> = (0..512 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect();
    let scrubber = Scrubber::new();
    scrubber.add_needle(&secret);
    let mut stream = scrubber.stream();
    let mut out = Vec::new();
    let started = std::time::Instant::now();
    for chunk in secret.chunks(64) {
        stream.write(chunk, &mut out);
    }
    stream.write(b"!", &mut out);
    assert_eq!(out, b"***!");
    // Rescanning the held bytes at every write would take minutes (debug build); extending
    // the live prefix takes well under a second.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn needles_are_deduplicated() {
    let scrubber = Scrubber::new();
    assert_eq!(scrubber.add_secret(b"abcdefgh"), Added::Registered);
    let count = scrubber.needles().len();
    assert_eq!(scrubber.add_secret(b"abcdefgh"), Added::AlreadyKnown);
    assert_eq!(scrubber.add_secret(b"abcdefgh\n"), Added::Registered);
    let needles = scrubber.needles();
    assert!(needles.len() > count);
    let mut sorted = needles.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), needles.len());
    // Percent-encoding and JSON are the value itself, standard and URL-safe base64 agree
    // (no `+` or `/`), and so do both hex cases (digits only): value, 3 x base64, hex.
    assert_eq!(count, 5);
}
