//! Named cases of SPEC section 4, through the public API.

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hush_scrub::{Added, ScrubError, Scrubber, DEFAULT_MIN_LEN, REPLACEMENT};

fn scrubber(secrets: &[&[u8]]) -> Scrubber {
    let s = Scrubber::new();
    for secret in secrets {
        assert_eq!(s.add_secret(secret), Added::Registered);
    }
    s
}

fn scrub(secrets: &[&[u8]], text: &[u8]) -> String {
    String::from_utf8_lossy(&scrubber(secrets).scrub(text)).into_owned()
}

/// Writes `text` one byte at a time.
fn scrub_bytewise(s: &Scrubber, text: &[u8]) -> Vec<u8> {
    let mut stream = s.stream();
    let mut out = Vec::new();
    for b in text {
        stream.write(std::slice::from_ref(b), &mut out);
    }
    stream.finish(&mut out);
    out
}

#[test]
fn replacement_is_three_stars() {
    assert_eq!(REPLACEMENT, b"***");
    assert_eq!(scrub(&[b"s3cr3t-value"], b"x=s3cr3t-value;"), "x=***;");
}

#[test]
fn every_occurrence_is_scrubbed() {
    assert_eq!(
        scrub(&[b"tok-12345"], b"tok-12345 tok-12345tok-12345 end"),
        "*** *** end"
    );
}

#[test]
fn short_secrets_are_reported_and_not_scrubbed() {
    let s = Scrubber::new();
    assert_eq!(s.min_len(), DEFAULT_MIN_LEN);
    assert_eq!(s.add_secret(b""), Added::TooShort);
    assert_eq!(s.add_secret(b"abc"), Added::TooShort);
    // Whitespace does not count towards the length.
    assert_eq!(s.add_secret(b"  ab \n"), Added::TooShort);
    assert_eq!(s.add_secret(b"abcd"), Added::Registered);
    assert_eq!(s.scrub(b"abc ab abcd"), b"abc ab ***");
}

#[test]
fn minimum_length_is_configurable_but_not_below_four() {
    assert!(matches!(
        Scrubber::with_min_len(3),
        Err(ScrubError::MinLenTooSmall(3))
    ));
    let s = Scrubber::with_min_len(8).unwrap();
    assert_eq!(s.add_secret(b"seven77"), Added::TooShort);
    assert_eq!(s.add_secret(b"eight888"), Added::Registered);
}

#[test]
fn adding_a_secret_twice_is_already_known() {
    let s = Scrubber::new();
    assert_eq!(s.add_secret(b"same-secret"), Added::Registered);
    assert_eq!(s.add_secret(b"same-secret"), Added::AlreadyKnown);
    // A clone shares the secrets.
    assert_eq!(s.clone().add_secret(b"same-secret"), Added::AlreadyKnown);
}

#[test]
fn self_overlapping_secret() {
    assert_eq!(scrub(&[b"aaab1234"], b"aaaab1234"), "a***");
    assert_eq!(scrub(&[b"abac"], b"ababac"), "ab***");
    assert_eq!(scrub(&[b"abcabd"], b"xabcabcabd"), "xabc***");
    assert_eq!(scrub(&[b"aaaa"], b"aaaaaaa"), "***");
}

#[test]
fn secret_that_is_a_prefix_of_another() {
    // After "abc" only "abcd" is still possible; the scrubber must still find "bc".
    assert_eq!(scrub(&[b"abcdef", b"bcxy"], b"abcxyz"), "a***z");
    assert_eq!(
        scrub(&[b"token", b"token-extended"], b"token-ext"),
        "***-ext"
    );
    assert_eq!(
        scrub(&[b"token", b"token-extended"], b"token-extended!"),
        "***!"
    );
}

#[test]
fn secret_inside_a_failed_longer_candidate() {
    // SPEC example: secrets `abcd` and `bc`, output `abce` must scrub `bc`; the 2-byte `bc`
    // is below the minimum length, so here the same shape with longer needles.
    assert_eq!(scrub(&[b"xxabcdyy", b"abcd"], b"xxabcdzz"), "xx***zz");
    assert_eq!(scrub(&[b"abcdefgh", b"cdef"], b"abcdefgX"), "ab***gX");
}

#[test]
fn pem_key_printed_right_after_a_dash() {
    let key = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
    let s = scrubber(&[key]);
    for dashes in 1..=6 {
        let text = ["-".repeat(dashes).as_bytes(), key, b"\ndone"].concat();
        let want = ["-".repeat(dashes).as_bytes(), b"***\ndone"].concat();
        assert_eq!(s.scrub(&text), want);
        assert_eq!(scrub_bytewise(&s, &text), want);
    }
}

#[test]
fn overlapping_and_adjacent_secrets_become_one_replacement() {
    assert_eq!(scrub(&[b"abcdef", b"defghi"], b"xabcdefghix"), "x***x");
    assert_eq!(
        scrub(&[b"first-1", b"second-2"], b"first-1second-2!"),
        "***!"
    );
    assert_eq!(
        scrub(&[b"outer-inner-outer", b"inner"], b"<outer-inner-outer>"),
        "<***>"
    );
}

#[test]
fn trimmed_value() {
    let s = scrubber(&[b"  padded-secret\n"]);
    assert_eq!(s.scrub(b"v=padded-secret;"), b"v=***;");
    assert_eq!(s.scrub(b"v=  padded-secret\n;"), b"v=***;");
}

#[test]
fn base64_in_all_three_alignments() {
    let secret = b"correct horse battery staple";
    let s = scrubber(&[secret]);
    for prefix in ["", "u", "us", "user:", "user:pw", "Authorization: x"] {
        for suffix in ["", "!", "!!"] {
            let plain = [prefix.as_bytes(), secret, suffix.as_bytes()].concat();
            for encoded in [STANDARD.encode(&plain), URL_SAFE.encode(&plain)] {
                let out = s.scrub(encoded.as_bytes());
                // The secret's ~35 characters became `***`.
                assert!(
                    out.windows(3).any(|w| w == b"***")
                        && out.len() + secret.len() <= encoded.len(),
                    "{prefix:?}+secret+{suffix:?}: {encoded} -> {}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
}

#[test]
fn base64_wrapped_at_76_and_64_columns() {
    // A service-account key: long enough that `base64` and `openssl base64` wrap it.
    let secret: Vec<u8> = (0..150u32).map(|i| b'!' + (i * 7 % 90) as u8).collect();
    let encoded = STANDARD.encode(&secret);
    for width in [76, 64] {
        let wrapped: Vec<String> = encoded
            .as_bytes()
            .chunks(width)
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect();
        for newline in ["\n", "\r\n"] {
            let text = format!("key:\n{}\ndone", wrapped.join(newline));
            let out = scrub(&[&secret], text.as_bytes());
            for line in &wrapped[..wrapped.len() - 1] {
                assert!(!out.contains(line.as_str()), "{width}: {out}");
            }
            // The last line keeps only what depends on the padding.
            let last = wrapped.last().unwrap();
            assert!(!out.contains(&last[..last.len() - 3]), "{width}: {out}");
            assert!(
                out.starts_with("key:\n***") && out.ends_with("\ndone"),
                "{out}"
            );
        }
    }
}

#[test]
fn url_safe_base64_without_padding() {
    let secret = b"\xfb\xff\xfe-binary-token-\xfb\xff";
    let s = scrubber(&[secret]);
    let encoded = URL_SAFE_NO_PAD.encode(secret);
    assert!(encoded.contains('-') || encoded.contains('_'));
    let out = s.scrub(format!("jwt={encoded}.").as_bytes());
    assert!(
        out.starts_with(b"jwt=***"),
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn hex_lower_and_upper() {
    let s = scrubber(&[b"hex-me-please"]);
    assert_eq!(s.scrub(b"[6865782d6d652d706c65617365]"), b"[***]");
    assert_eq!(s.scrub(b"[6865782D6D652D706C65617365]"), b"[***]");
}

#[test]
fn percent_encoding() {
    let s = scrubber(&[b"p@ss/w0rd!(x) y"]);
    // encodeURIComponent
    assert_eq!(s.scrub(b"?p=p%40ss%2Fw0rd!(x)%20y&"), b"?p=***&");
    // Python urllib.parse.quote
    assert_eq!(s.scrub(b"?p=p%40ss/w0rd%21%28x%29%20y&"), b"?p=***&");
    // Python quote_plus / form encoding
    assert_eq!(s.scrub(b"?p=p%40ss%2Fw0rd%21%28x%29+y&"), b"?p=***&");
}

#[test]
fn json_string_escaping() {
    let secret = "line1 \"quoted\" \\ tab\t\u{e9}\nline2";
    let s = scrubber(&[secret.as_bytes()]);
    // JSON.stringify / serde_json
    let json = r#"{"v":"line1 \"quoted\" \\ tab\t"#.to_string() + "\u{e9}" + r#"\nline2"}"#;
    assert_eq!(s.scrub(json.as_bytes()), br#"{"v":"***"}"#);
    // Python json.dumps (ensure_ascii)
    let ascii = r#"{"v":"line1 \"quoted\" \\ tab\t\u00e9\nline2"}"#;
    assert_eq!(s.scrub(ascii.as_bytes()), br#"{"v":"***"}"#);
    // Go encoding/json escapes <, > and &.
    let s = scrubber(&[b"<a&b>-token"]);
    assert_eq!(
        s.scrub(br#"{"v":"\u003ca\u0026b\u003e-token"}"#),
        br#"{"v":"***"}"#
    );
}

#[test]
fn multi_line_secret_matches_with_lf_and_crlf() {
    let lf = b"line-one-abc\nline-two-def\nxyz";
    let crlf = b"line-one-abc\r\nline-two-def\r\nxyz";
    for (stored, printed) in [
        (&lf[..], &crlf[..]),
        (&crlf[..], &lf[..]),
        (&lf[..], &lf[..]),
    ] {
        let s = scrubber(&[stored]);
        let text = [b"before\n".as_slice(), printed, b"\nafter"].concat();
        assert_eq!(s.scrub(&text), b"before\n***\nafter");
        assert_eq!(scrub_bytewise(&s, &text), b"before\n***\nafter");
    }
}

#[test]
fn each_long_line_of_a_multi_line_secret_is_scrubbed_alone() {
    let s =
        scrubber(&[b"-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\nshort\n-----END KEY-----\n"]);
    assert_eq!(s.scrub(b"grep: MIIEvQIBADANBgkqhkiG9w0B"), b"grep: ***");
    assert_eq!(s.scrub(b"a -----END KEY----- b"), b"a *** b");
    // Lines shorter than 8 bytes are not scrubbed on their own.
    assert_eq!(s.scrub(b"short"), b"short");
}

#[test]
fn bytes_that_cannot_start_a_secret_are_released_at_once() {
    let s = scrubber(&[b"secret-token"]);
    let mut stream = s.stream();
    let mut out = Vec::new();
    stream.write(b"hello ", &mut out);
    assert_eq!(out, b"hello ");
    assert_eq!(stream.held_back(), 0);
    stream.write(b"sec", &mut out);
    assert_eq!(out, b"hello ");
    assert_eq!(stream.held_back(), 3);
    stream.write(b"x", &mut out);
    assert_eq!(out, b"hello secx");
    assert_eq!(stream.held_back(), 0);
    // Only the live prefix is held: "se" is released, "sec" is kept.
    stream.write(b"sesec", &mut out);
    assert_eq!(out, b"hello secxse");
    stream.write(b"ret-token", &mut out);
    assert_eq!(out, b"hello secxse***");
    assert_eq!(stream.held_back(), 0);
    stream.finish(&mut out);
    assert_eq!(out, b"hello secxse***");
}

#[test]
fn a_complete_secret_is_released_even_if_a_longer_one_may_follow() {
    let s = scrubber(&[b"token-1234", b"token-1234-long"]);
    let mut stream = s.stream();
    let mut out = Vec::new();
    stream.write(b"t=token-1234", &mut out);
    assert_eq!(out, b"t=***");
    stream.write(b"-lo", &mut out);
    assert_eq!(out, b"t=***");
    stream.write(b"ng!", &mut out);
    assert_eq!(out, b"t=***!");
}

#[test]
fn finish_releases_held_bytes_and_resets_the_stream() {
    let s = scrubber(&[b"secret-token"]);
    let mut stream = s.stream();
    let mut out = Vec::new();
    stream.write(b"ends with secret-to", &mut out);
    assert_eq!(out, b"ends with ");
    stream.finish(&mut out);
    assert_eq!(out, b"ends with secret-to");
    out.clear();
    stream.write(b"ken", &mut out);
    stream.finish(&mut out);
    assert_eq!(out, b"ken");
}

#[test]
fn any_write_boundaries_give_the_same_output() {
    let s = scrubber(&[b"aaab1234", b"secret-token", b"multi\nline-secret"]);
    let text = b"xaaaab1234 secret-tokensecret-token multi\r\nline-secret aaab123 end";
    let whole = s.scrub(text);
    assert_eq!(whole, b"xa*** *** *** aaab123 end");
    assert_eq!(scrub_bytewise(&s, text), whole);
    for split in 0..=text.len() {
        let mut stream = s.stream();
        let mut out = Vec::new();
        stream.write(&text[..split], &mut out);
        stream.write(&text[split..], &mut out);
        stream.finish(&mut out);
        assert_eq!(out, whole, "split at {split}");
    }
}

#[test]
fn secrets_added_mid_stream_apply_from_the_next_write() {
    let s = Scrubber::new();
    let mut stream = s.stream();
    let mut out = Vec::new();
    stream.write(b"early late-secret ", &mut out);
    assert_eq!(s.add_secret(b"late-secret"), Added::Registered);
    stream.write(b"then late-secret", &mut out);
    stream.finish(&mut out);
    assert_eq!(out, b"early late-secret then ***");
}

#[test]
fn secret_added_while_its_start_is_held_back() {
    let s = scrubber(&[b"abc-first"]);
    let mut stream = s.stream();
    let mut out = Vec::new();
    stream.write(b"x abc-", &mut out);
    assert_eq!(out, b"x ");
    // "abc-" is still held back, so a secret starting there is caught.
    assert_eq!(s.add_secret(b"abc-second"), Added::Registered);
    stream.write(b"second.", &mut out);
    assert_eq!(out, b"x ***.");
}

#[test]
fn scrubber_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Scrubber>();
    assert_send_sync::<hush_scrub::ScrubStream>();

    let s = Scrubber::new();
    let secrets: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("thread-secret-{i:04}").into_bytes())
        .collect();
    let text: Vec<u8> = secrets
        .iter()
        .flat_map(|x| [x.as_slice(), b" "].concat())
        .collect();
    std::thread::scope(|scope| {
        let adder = scope.spawn(|| {
            for secret in &secrets {
                assert_eq!(s.add_secret(secret), Added::Registered);
            }
        });
        // Streams run while secrets are being added.
        for _ in 0..4 {
            let s = s.clone();
            let text = &text;
            scope.spawn(move || {
                let out = s.scrub(text);
                assert!(out.len() <= text.len());
            });
        }
        adder.join().unwrap();
    });
    let out = s.scrub(&text);
    assert_eq!(out, "*** ".repeat(200).as_bytes());
}

#[test]
fn debug_output_never_shows_secrets() {
    let s = scrubber(&[b"debug-secret-value"]);
    let mut stream = s.stream();
    let mut out = Vec::new();
    stream.write(b"debug-secret-val", &mut out);
    let shown = format!("{s:?} {stream:?}");
    assert!(!shown.contains("debug"), "{shown}");
    assert!(shown.contains("held_back: 16"), "{shown}");
}
