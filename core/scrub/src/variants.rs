//! The needles a secret is scrubbed by: its value and the forms a program may print it in.
//!
//! Every buffer built here holds secret material and is [`Zeroizing`].

use zeroize::Zeroizing;

/// Lines of a multi-line secret are scrubbed on their own from this length on.
pub(crate) const LINE_MIN_LEN: usize = 8;

/// Line widths base64 encoders wrap at: 76 (`base64`, MIME) and 64 (PEM, `openssl base64`).
const BASE64_WRAP_WIDTHS: [usize; 2] = [76, 64];

const B64_STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// A secret buffer.
pub(crate) type Bytes = Zeroizing<Vec<u8>>;

/// The needles of `secret`, possibly with duplicates, each at least `min_len` bytes long.
///
/// For the value and, if it differs, the value with surrounding ASCII whitespace trimmed:
/// - the bytes themselves, plus (if it contains `\n`) its all-`\n` and all-`\r\n` forms;
/// - standard and URL-safe base64 at the three byte alignments ([`base64_aligned`]), and the
///   lines of the standard encoding wrapped at 76 and 64 columns (the secret encoded alone);
/// - lower- and upper-case hex;
/// - percent-encoding as done by `encodeURIComponent`, Python's `quote` and `quote_plus`;
/// - the inside of a JSON string as written by `JSON.stringify`/serde_json, by Python's
///   `json.dumps` (`ensure_ascii`) and by Go's `encoding/json` (HTML-safe).
///
/// For a multi-line secret, also every line (whitespace-trimmed) of at least
/// [`LINE_MIN_LEN`] bytes.
pub(crate) fn needles(secret: &[u8], min_len: usize) -> Vec<Bytes> {
    let trimmed = secret.trim_ascii();
    let mut out = Vec::new();
    for value in [secret, trimmed] {
        if value.len() < min_len || (value.len() == secret.len() && !out.is_empty()) {
            continue;
        }
        out.push(copy(value));
        if value.contains(&b'\n') {
            let lf = newlines(value, false);
            out.push(newlines(&lf, true));
            out.push(lf);
        }
        for align in 0..3 {
            out.push(base64_aligned(value, align, B64_STD));
            out.push(base64_aligned(value, align, B64_URL));
        }
        let encoded = base64_aligned(value, 0, B64_STD);
        for width in BASE64_WRAP_WIDTHS {
            if encoded.len() > width {
                out.extend(encoded.chunks(width).map(copy));
            }
        }
        out.push(hex(value, HEX_LOWER));
        out.push(hex(value, HEX_UPPER));
        for flavour in [Percent::UriComponent, Percent::Quote, Percent::QuotePlus] {
            out.push(percent(value, flavour));
        }
        for flavour in [Json::Minimal, Json::Ascii, Json::Html] {
            out.push(json(value, flavour));
        }
    }
    if secret.contains(&b'\n') {
        for line in secret.split(|&b| b == b'\n') {
            let line = line.trim_ascii();
            if line.len() >= LINE_MIN_LEN {
                out.push(copy(line));
            }
        }
    }
    out.retain(|n| n.len() >= min_len);
    out
}

fn copy(value: &[u8]) -> Bytes {
    Zeroizing::new(value.to_vec())
}

/// `value` with every line break (`\n` or `\r\n`) written as `\r\n` (`crlf`) or `\n`.
fn newlines(value: &[u8], crlf: bool) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(2 * value.len()));
    for (i, &b) in value.iter().enumerate() {
        if b == b'\r' && value.get(i + 1) == Some(&b'\n') {
            continue;
        }
        if b == b'\n' && crlf {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The base64 characters of `value` when it starts at byte `align` (0, 1 or 2) of a 3-byte
/// group, keeping only the characters all of whose 6 bits come from `value`: the partial
/// characters at both edges (which depend on neighbouring bytes) and padding are dropped.
pub(crate) fn base64_aligned(value: &[u8], align: usize, alphabet: &[u8; 64]) -> Bytes {
    let start_bit = 8 * align;
    let end_bit = 8 * (align + value.len());
    let (first, end) = (start_bit.div_ceil(6), end_bit / 6);
    let mut out = Zeroizing::new(Vec::with_capacity(end.saturating_sub(first)));
    for c in first..end {
        let rel = 6 * c - start_bit;
        let (byte, shift) = (rel / 8, rel % 8);
        let hi = u16::from(value[byte]) << 8;
        let lo = value.get(byte + 1).map_or(0, |&b| u16::from(b));
        let sextet = ((hi | lo) >> (10 - shift)) & 0x3f;
        out.push(alphabet[usize::from(sextet)]);
    }
    out
}

fn hex(value: &[u8], digits: &[u8; 16]) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(2 * value.len()));
    for &b in value {
        out.push(digits[usize::from(b >> 4)]);
        out.push(digits[usize::from(b & 15)]);
    }
    out
}

#[derive(Clone, Copy)]
enum Percent {
    /// JavaScript `encodeURIComponent`: keeps `A-Za-z0-9-_.!~*'()`.
    UriComponent,
    /// Python `urllib.parse.quote` (default `safe='/'`): keeps `A-Za-z0-9_.-~/`.
    Quote,
    /// Python `quote_plus` / HTML forms: keeps `A-Za-z0-9_.-~`, space becomes `+`.
    QuotePlus,
}

fn percent(value: &[u8], flavour: Percent) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(3 * value.len()));
    for &b in value {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || match flavour {
                Percent::UriComponent => matches!(b, b'!' | b'*' | b'\'' | b'(' | b')'),
                Percent::Quote => b == b'/',
                Percent::QuotePlus => false,
            };
        if keep {
            out.push(b);
        } else if b == b' ' && matches!(flavour, Percent::QuotePlus) {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 15)],
            ]);
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Json {
    /// `JSON.stringify`, serde_json, Python `json.dumps(ensure_ascii=False)`.
    Minimal,
    /// Python `json.dumps` default: everything outside printable ASCII as `\uXXXX`.
    Ascii,
    /// Go `encoding/json`: also `<`, `>`, `&`, U+2028 and U+2029 as `\uXXXX`.
    Html,
}

/// The text between the quotes of the JSON string of `value`. Bytes that are not valid UTF-8
/// are kept as they are.
fn json(value: &[u8], flavour: Json) -> Bytes {
    let mut out = Zeroizing::new(Vec::with_capacity(6 * value.len()));
    for chunk in value.utf8_chunks() {
        let text = chunk.valid();
        for (i, c) in text.char_indices() {
            let short = match c {
                '"' => Some(b'"'),
                '\\' => Some(b'\\'),
                '\u{8}' => Some(b'b'),
                '\u{c}' => Some(b'f'),
                '\n' => Some(b'n'),
                '\r' => Some(b'r'),
                '\t' => Some(b't'),
                _ => None,
            };
            let escape = match flavour {
                _ if c < ' ' => true,
                Json::Minimal => false,
                Json::Ascii => !(' '..='~').contains(&c),
                Json::Html => matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'),
            };
            if let Some(s) = short {
                out.extend_from_slice(&[b'\\', s]);
            } else if escape {
                let mut units = [0u16; 2];
                for &unit in c.encode_utf16(&mut units).iter() {
                    out.extend_from_slice(b"\\u");
                    for shift in [12, 8, 4, 0] {
                        out.push(HEX_LOWER[usize::from((unit >> shift) & 15)]);
                    }
                }
            } else {
                out.extend_from_slice(&text.as_bytes()[i..i + c.len_utf8()]);
            }
        }
        out.extend_from_slice(chunk.invalid());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(needles: &[Bytes], want: &[u8]) -> bool {
        needles.iter().any(|n| n.as_slice() == want)
    }

    #[test]
    fn base64_alignments_match_a_real_encoder() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        use base64::Engine;
        let secret = b"s3cr3t-\xff\xfe value?>";
        for prefix_len in 0..6 {
            for suffix_len in 0..4 {
                let mut text = vec![b'x'; prefix_len];
                text.extend_from_slice(secret);
                text.extend(std::iter::repeat_n(b'y', suffix_len));
                let align = prefix_len % 3;
                let std_variant = base64_aligned(secret, align, B64_STD);
                let url_variant = base64_aligned(secret, align, B64_URL);
                let std_text = STANDARD.encode(&text);
                let url_text = URL_SAFE.encode(&text);
                assert!(std_text
                    .as_bytes()
                    .windows(std_variant.len())
                    .any(|w| w == std_variant.as_slice()));
                assert!(url_text
                    .as_bytes()
                    .windows(url_variant.len())
                    .any(|w| w == url_variant.as_slice()));
                // Only characters that depend on the secret alone are kept: every secret byte
                // contributes 8 bits, so at most two partial characters (edges) are dropped.
                let full_chars = 8 * secret.len() / 6;
                assert!(std_variant.len() + 2 >= full_chars && std_variant.len() <= full_chars);
            }
        }
    }

    #[test]
    fn base64_known_values() {
        // "hello world" at offset 0: aGVsbG8gd29ybGQ= ; the last character 'Q' carries two
        // bits of padding and is dropped.
        assert_eq!(
            base64_aligned(b"hello world", 0, B64_STD).as_slice(),
            b"aGVsbG8gd29ybG"
        );
        // base64("x" + "hello world") = eGhlbGxvIHdvcmxk: 'e' and 'G' depend on 'x'.
        assert_eq!(
            base64_aligned(b"hello world", 1, B64_STD).as_slice(),
            b"hlbGxvIHdvcmxk"
        );
        // base64("xx" + "hello world") = eHhoZWxsbyB3b3JsZA==
        assert_eq!(
            base64_aligned(b"hello world", 2, B64_STD).as_slice(),
            b"oZWxsbyB3b3JsZ"
        );
    }

    #[test]
    fn hex_percent_and_json_forms() {
        let n = needles("p@ss w/rd\"\\\n\u{e9}<!>".as_bytes(), 4);
        assert!(has(&n, b"7040737320772f7264225c0ac3a93c213e"));
        assert!(has(&n, b"7040737320772F7264225C0AC3A93C213E"));
        assert!(has(&n, b"p%40ss%20w%2Frd%22%5C%0A%C3%A9%3C!%3E"));
        assert!(has(&n, b"p%40ss%20w/rd%22%5C%0A%C3%A9%3C%21%3E"));
        assert!(has(&n, b"p%40ss+w%2Frd%22%5C%0A%C3%A9%3C%21%3E"));
        assert!(has(&n, "p@ss w/rd\\\"\\\\\\n\u{e9}<!>".as_bytes()));
        assert!(has(&n, b"p@ss w/rd\\\"\\\\\\n\\u00e9<!>"));
        assert!(has(
            &n,
            "p@ss w/rd\\\"\\\\\\n\u{e9}\\u003c!\\u003e".as_bytes()
        ));
    }

    #[test]
    fn json_escapes_control_characters_and_astral_planes() {
        let n = needles("tab\there\u{1}\u{1F600}".as_bytes(), 4);
        assert!(has(&n, "tab\\there\\u0001\u{1F600}".as_bytes()));
        assert!(has(&n, b"tab\\there\\u0001\\ud83d\\ude00"));
    }

    #[test]
    fn trimmed_value_gets_its_own_encodings() {
        let n = needles(b"  token-1234\n", 4);
        assert!(has(&n, b"  token-1234\n"));
        assert!(has(&n, b"token-1234"));
        assert!(has(&n, b"746f6b656e2d31323334"));
        assert!(has(&n, b"dG9rZW4tMTIzN"));
    }

    #[test]
    fn multi_line_forms_and_lines() {
        let n = needles(b"first-line-123\r\nshort\nthird-line-456", 4);
        assert!(has(&n, b"first-line-123\r\nshort\nthird-line-456"));
        assert!(has(&n, b"first-line-123\nshort\nthird-line-456"));
        assert!(has(&n, b"first-line-123\r\nshort\r\nthird-line-456"));
        assert!(has(&n, b"first-line-123"));
        assert!(has(&n, b"third-line-456"));
        assert!(!has(&n, b"short"));
    }

    #[test]
    fn every_needle_meets_the_minimum_length() {
        let n = needles(b"long-enough-line\nnine-char", 10);
        assert!(n.iter().all(|n| n.len() >= 10));
        assert!(has(&n, b"long-enough-line"));
        assert!(!has(&n, b"nine-char"));
        assert!(needles(b"abc", 4).is_empty());
    }
}
