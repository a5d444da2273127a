//! Turning one JSON value, borrowed from a response in secret memory, into secret bytes
//! without passing through an ordinary allocation.

use serde_json::value::RawValue;
use zeroize::Zeroize;

use crate::error::Failure;
use crate::value::{SecretBuf, SecretBytes};

/// A string's unescaped text; any other value's compact JSON text. Fails with `TooLarge`
/// past `limit` bytes.
pub(crate) fn value(raw: &RawValue, limit: usize) -> Result<SecretBytes, Failure> {
    let text = raw.get().as_bytes();
    let mut out = SecretBuf::new(limit);
    match text {
        [b'"', inner @ .., b'"'] => unescape(inner, &mut out)?,
        _ => compact(text, &mut out)?,
    }
    Ok(out.freeze())
}

fn push(out: &mut SecretBuf, bytes: &[u8]) -> Result<(), Failure> {
    out.push(bytes).map_err(|_| Failure::TooLarge)
}

fn malformed() -> Failure {
    Failure::Provider("the server sent a malformed JSON string".into())
}

fn hex4(bytes: &[u8], at: usize) -> Result<u32, Failure> {
    let digits = bytes.get(at..at + 4).ok_or_else(malformed)?;
    let text = std::str::from_utf8(digits).map_err(|_| malformed())?;
    u32::from_str_radix(text, 16).map_err(|_| malformed())
}

/// Unescapes the inside of a JSON string literal into `out`.
fn unescape(inner: &[u8], out: &mut SecretBuf) -> Result<(), Failure> {
    let (mut i, mut run) = (0, 0);
    while i < inner.len() {
        if inner[i] != b'\\' {
            i += 1;
            continue;
        }
        push(out, &inner[run..i])?;
        let simple = match inner.get(i + 1).ok_or_else(malformed)? {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(malformed()),
        };
        if let Some(byte) = simple {
            push(out, &[byte])?;
            i += 2;
        } else {
            let high = hex4(inner, i + 2)?;
            let (code, used) = if (0xD800..0xDC00).contains(&high) {
                if inner.get(i + 6..i + 8) != Some(b"\\u") {
                    return Err(malformed());
                }
                let low = hex4(inner, i + 8)?;
                if !(0xDC00..0xE000).contains(&low) {
                    return Err(malformed());
                }
                (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 12)
            } else {
                (high, 6)
            };
            let ch = char::from_u32(code).ok_or_else(malformed)?;
            let mut utf8 = [0u8; 4];
            let pushed = push(out, ch.encode_utf8(&mut utf8).as_bytes());
            utf8.zeroize();
            pushed?;
            i += used;
        }
        run = i;
    }
    push(out, &inner[run..])
}

/// Copies JSON text into `out` without the whitespace between tokens.
fn compact(text: &[u8], out: &mut SecretBuf) -> Result<(), Failure> {
    let (mut in_string, mut escaped, mut run) = (false, false, 0);
    for (i, &b) in text.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            push(out, &text[run..i])?;
            run = i + 1;
        }
    }
    push(out, &text[run..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str, limit: usize) -> Result<Vec<u8>, Failure> {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        value(raw, limit).map(|v| v.expose().to_vec())
    }

    #[test]
    fn strings_are_unescaped() {
        let json = r#""a\"b\\c\/d\n\t\r\b\f é \u00e9 \ud83d\ude00 end""#;
        let expected: String = serde_json::from_str(json).unwrap();
        assert_eq!(decode(json, 100).unwrap(), expected.as_bytes());
        assert_eq!(decode(r#""plain""#, 100).unwrap(), b"plain");
        assert_eq!(decode(r#""""#, 100).unwrap(), b"");
    }

    #[test]
    fn lone_surrogates_are_malformed() {
        let raw = serde_json::value::RawValue::from_string(r#""\ud83d x""#.into()).unwrap();
        assert!(matches!(value(&raw, 100), Err(Failure::Provider(_))));
    }

    #[test]
    fn other_values_become_compact_json() {
        assert_eq!(
            decode("{ \"a\" : [1, 2 ],\n \"b c\": \"x y\" }", 100).unwrap(),
            br#"{"a":[1,2],"b c":"x y"}"#
        );
        assert_eq!(decode("42", 100).unwrap(), b"42");
        assert_eq!(decode("true", 100).unwrap(), b"true");
    }

    #[test]
    fn the_limit_applies_to_the_decoded_value() {
        assert_eq!(decode(r#""12345""#, 5).unwrap(), b"12345");
        assert_eq!(decode(r#""123456""#, 5), Err(Failure::TooLarge));
        assert_eq!(decode(r#""\u00e9\u00e9\u00e9""#, 5), Err(Failure::TooLarge));
    }
}
