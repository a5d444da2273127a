//! The `--ssh` grammar, its errors, and what errors and `Debug` show of keys.

mod common;

use std::os::unix::net::UnixListener;
use std::path::Path;

use common::*;
use hush_sshagent::{Agent, SshError, SshSources};

fn add(spec: &str, auth_sock: Option<&Path>) -> Result<SshSources, SshError> {
    let mut sources = SshSources::default();
    sources.add(spec, auth_sock, &|_| {})?;
    Ok(sources)
}

fn add_err(spec: &str, auth_sock: Option<&Path>) -> String {
    add(spec, auth_sock).unwrap_err().to_string()
}

fn debug(sources: &SshSources, id: &str) -> String {
    format!("{:?}", sources.get(id).unwrap())
}

#[test]
fn ids_and_the_default_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("auth.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let forward = format!("Agent {{ forward: {sock:?} }}");

    assert!(SshSources::default().is_empty());
    for spec in ["", "default", "=", "default="] {
        let sources = add(spec, Some(&sock)).unwrap();
        assert!(!sources.is_empty());
        assert_eq!(debug(&sources, "default"), forward, "{spec:?}");
        assert_eq!(debug(&sources, ""), forward, "{spec:?}");
        assert!(sources.get("other").is_none());
    }
    let sources = add("gh", Some(&sock)).unwrap();
    assert_eq!(debug(&sources, "gh"), forward);
    assert!(sources.get("default").is_none());
    let sources = add(&format!("gh={}", sock.display()), None).unwrap();
    assert_eq!(debug(&sources, "gh"), forward);

    let empty = "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set";
    for spec in ["", "default", "gh=", "gh=,"] {
        assert_eq!(add_err(spec, None), empty, "{spec:?}");
        assert_eq!(add_err(spec, Some(Path::new(""))), empty, "{spec:?}");
    }
    assert!(matches!(add("x", None), Err(SshError::EmptySocket)));
}

#[test]
fn rules_for_paths() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("a.sock");
    let sock2 = dir.path().join("b.sock");
    let _l1 = UnixListener::bind(&sock).unwrap();
    let _l2 = UnixListener::bind(&sock2).unwrap();
    let key = keygen(dir.path(), "key", &["-t", "ed25519"]);
    let key2 = keygen(dir.path(), "key2", &["-t", "rsa", "-b", "2048"]);
    let (s, s2, k, k2) = (
        sock.display(),
        sock2.display(),
        key.display(),
        key2.display(),
    );

    let mut sources = SshSources::default();
    sources
        .add(&format!("keys={k},{k2}"), None, &|_| {})
        .unwrap();
    let keys = debug(&sources, "keys");
    assert!(
        keys.contains(&fingerprint(&key)) && keys.contains(&fingerprint(&key2)),
        "{keys}"
    );
    sources.add(&format!("sock={s}"), None, &|_| {}).unwrap();
    assert_eq!(
        sources
            .add("keys", Some(&sock), &|_| {})
            .unwrap_err()
            .to_string(),
        r#"duplicate agent ID "keys""#
    );
    sources.add("", Some(&sock), &|_| {}).unwrap();
    assert_eq!(
        sources
            .add(&format!("default={k}"), None, &|_| {})
            .unwrap_err()
            .to_string(),
        r#"duplicate agent ID "default""#
    );

    assert_eq!(
        add_err(&format!("x={s},{s2}"), None),
        "only single socket allowed"
    );
    assert_eq!(add_err("x=,", Some(&sock)), "only single socket allowed");
    assert_eq!(
        add_err(&format!("x={s},{k}"), None),
        "invalid combination of keys and sockets"
    );
    assert_eq!(
        add_err(&format!("x={k},"), Some(&sock)),
        "invalid combination of keys and sockets"
    );

    let missing = dir.path().join("missing");
    assert_eq!(
        add_err(&format!("x={}", missing.display()), None),
        format!(
            "ssh agent source {}: no such socket or key file",
            missing.display()
        )
    );
    assert_eq!(
        add_err("x", Some(&missing)),
        format!(
            "ssh agent source {}: no such socket or key file",
            missing.display()
        )
    );
    assert_eq!(
        add_err(&format!("x={}", dir.path().display()), None),
        format!(
            "ssh agent source {} is neither a unix socket nor a regular file",
            dir.path().display()
        )
    );
}

#[test]
fn unusable_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let parse_err = |path: &Path| {
        let err = Agent::from_key_files(&[path.to_path_buf()], &|_| {})
            .unwrap_err()
            .to_string();
        let prefix = format!("failed to parse {}: ", path.display());
        assert!(
            err.starts_with(&prefix) && err.len() > prefix.len(),
            "{err}"
        );
        assert_eq!(add_err(&format!("x={}", path.display()), None), err);
        err
    };
    let protected =
        keygen_with_passphrase(dir.path(), "protected", "secret pw", &["-t", "ed25519"]);
    assert!(parse_err(&protected).contains("passphrase"));
    let protected_pem = keygen_with_passphrase(
        dir.path(),
        "protected-pem",
        "secret pw",
        &["-t", "rsa", "-b", "2048", "-m", "PEM"],
    );
    assert!(parse_err(&protected_pem).contains("passphrase"));

    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "not a key\n").unwrap();
    parse_err(&garbage);
    std::fs::write(&garbage, [0xff, 0xfe, 0]).unwrap();
    parse_err(&garbage);
    std::fs::write(&garbage, "").unwrap();
    parse_err(&garbage);
    std::fs::write(&garbage, vec![b'A'; 100 * 1024 + 1]).unwrap();
    assert!(parse_err(&garbage).contains("100 KiB"));

    let dsa_like = dir.path().join("public-only");
    std::fs::copy(
        keygen(dir.path(), "k", &["-t", "ed25519"]).with_extension("pub"),
        &dsa_like,
    )
    .unwrap();
    parse_err(&dsa_like);

    let unreadable = dir.path().join("missing");
    let err = Agent::from_key_files(std::slice::from_ref(&unreadable), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(&format!("failed to read {}: ", unreadable.display())),
        "{err}"
    );
}

/// The base64 body of a PEM-armored key file.
fn key_body(key_file: &str) -> String {
    key_file
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .collect()
}

/// Asserts that `shown` holds no run of the key file `key_file`: neither of its base64 body, nor
/// of its decoded bytes, raw or in hex (runs of printable characters, like names, excepted).
fn assert_no_leak(shown: &str, key_file: &str) {
    let body = key_body(key_file);
    let chars: Vec<char> = body.chars().collect();
    for window in chars.windows(16) {
        let window: String = window.iter().collect();
        assert!(
            !shown.contains(&window),
            "{window} of the key shows in: {shown}"
        );
    }
    let decoded =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &body).unwrap();
    let shown_hex = shown.to_lowercase();
    for window in decoded
        .windows(8)
        .filter(|w| w.iter().any(|b| !b.is_ascii_graphic()))
    {
        assert!(
            !shown.as_bytes().windows(8).any(|w| w == window),
            "raw key bytes show in: {shown:?}"
        );
        let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!shown_hex.contains(&hex), "hex key bytes show in: {shown}");
    }
}

/// Errors and `Debug` output show fingerprints, comments and paths, never key material.
#[test]
fn no_key_material_in_errors_or_debug() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        keygen(dir.path(), "ed25519", &["-t", "ed25519"]),
        keygen(dir.path(), "ecdsa", &["-t", "ecdsa"]),
        keygen(dir.path(), "rsa", &["-t", "rsa", "-b", "2048"]),
        keygen(dir.path(), "pem", &["-t", "rsa", "-b", "2048", "-m", "PEM"]),
    ];
    let agent = Agent::from_key_files(&keys, &|_| {}).unwrap();
    let expected = format!(
        "Agent {{ keys: [{}] }}",
        keys.iter()
            .map(|k| {
                let comment = if k.ends_with("pem") {
                    k.display().to_string()
                } else {
                    k.file_name().unwrap().to_str().unwrap().to_owned()
                };
                format!(
                    "Key {{ fingerprint: {:?}, comment: {comment:?}, .. }}",
                    fingerprint(k)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    assert_eq!(format!("{agent:?}"), expected);
    let mut sources = SshSources::default();
    let spec = format!(
        "k={}",
        keys.iter()
            .map(|k| k.display().to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    sources.add(&spec, None, &|_| {}).unwrap();
    let shown = format!("{sources:?} {sources:#?} {agent:#?}");
    for key in &keys {
        assert_no_leak(&shown, &std::fs::read_to_string(key).unwrap());
    }

    // Damaged keys: errors name the file and a reason, never its content.
    for key in &keys {
        let content = std::fs::read_to_string(key).unwrap();
        let lines: Vec<&str> = content.lines().collect();
        let damaged = dir.path().join(format!(
            "{}-damaged",
            key.file_name().unwrap().to_str().unwrap()
        ));
        for variant in [
            // Truncated, a line left out, a character changed.
            lines[..lines.len() / 2].join("\n"),
            [&lines[..2], &lines[3..]].concat().join("\n"),
            content.replacen(&lines[2][..8], "AAAAAAAA", 1),
            lines[1..].join("\n"),
        ] {
            std::fs::write(&damaged, &variant).unwrap();
            if let Err(err) = Agent::from_key_files(std::slice::from_ref(&damaged), &|_| {}) {
                let shown = format!("{err} {err:?}");
                assert!(shown.contains(damaged.to_str().unwrap()), "{shown}");
                assert_no_leak(&shown, &content);
            }
        }
    }
}

#[test]
fn key_files_are_learnt_before_they_are_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "key", &["-t", "ed25519"]);
    let broken = dir.path().join("broken");
    std::fs::write(
        &broken,
        "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-at-all\n",
    )
    .unwrap();
    let learnt = std::sync::Mutex::new(Vec::new());
    let learn = |bytes: &[u8]| learnt.lock().unwrap().push(bytes.to_vec());
    let mut sources = SshSources::default();
    sources
        .add(&format!("k={}", key.display()), None, &learn)
        .unwrap();
    assert!(sources
        .add(&format!("b={}", broken.display()), None, &learn)
        .is_err());
    // Forwarded sockets hold no key material here: nothing to learn.
    let sock = dir.path().join("agent.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    sources.add("s", Some(&sock), &learn).unwrap();
    assert_eq!(
        *learnt.lock().unwrap(),
        [
            std::fs::read(&key).unwrap(),
            std::fs::read(&broken).unwrap()
        ]
    );
}
