//! In-memory agents of key files, served to the real OpenSSH tools.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;

use common::*;
use hush_sshagent::Agent;

#[test]
fn keyring_lists_signs_and_refuses_changes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        keygen(dir.path(), "ed25519", &["-t", "ed25519"]),
        keygen(dir.path(), "ecdsa256", &["-t", "ecdsa", "-b", "256"]),
        keygen(dir.path(), "ecdsa384", &["-t", "ecdsa", "-b", "384"]),
        keygen(dir.path(), "rsa", &["-t", "rsa", "-b", "2048"]),
    ];
    let agent = Arc::new(Agent::from_key_files(&keys, &|_| {}).unwrap());
    let served = agent
        .serve(&dir.path().join("agent.sock"), 0, 0, 0o600)
        .unwrap();
    let sock = served.path();

    assert_lists(sock, &keys.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    for key in &keys {
        assert_signs(dir.path(), sock, key);
    }
    let other = keygen(dir.path(), "other", &["-t", "ed25519"]);
    assert_refused(sock, &[other.to_str().unwrap()]);
    assert_refused(sock, &["-d", keys[0].to_str().unwrap()]);
    assert_fails_with(sock, &["-D"], "Failed to remove all identities");
    assert_lists(sock, &keys.iter().map(PathBuf::as_path).collect::<Vec<_>>());
}

/// RSA signatures use the hash the client asks for: a CA key in the agent signs certificates with
/// each algorithm, and `ssh-keygen -L` checks them.
#[test]
fn keyring_rsa_signature_algorithms() {
    let dir = tempfile::tempdir().unwrap();
    let ca = keygen(dir.path(), "ca", &["-t", "rsa", "-b", "2048"]);
    let agent = Arc::new(Agent::from_key_files(std::slice::from_ref(&ca), &|_| {}).unwrap());
    let served = agent
        .serve(&dir.path().join("agent.sock"), 0, 0, 0o600)
        .unwrap();
    for alg in ["rsa-sha2-256", "rsa-sha2-512", "ssh-rsa"] {
        let listing = certify(dir.path(), served.path(), &ca, alg);
        assert!(
            listing.contains(&format!("(using {alg})")),
            "{alg}: {listing}"
        );
        assert!(listing.contains(&fingerprint(&ca)), "{alg}: {listing}");
    }
}

/// PEM RSA keys (BuildKit's testSSHSocketParams uses one), PKCS#1 and PKCS#8.
#[test]
fn keyring_pem_rsa_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keys = [
        keygen(
            dir.path(),
            "pkcs1",
            &["-t", "rsa", "-b", "2048", "-m", "PEM"],
        ),
        keygen(
            dir.path(),
            "pkcs8",
            &["-t", "rsa", "-b", "2048", "-m", "PKCS8"],
        ),
    ];
    assert!(std::fs::read_to_string(&keys[0])
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&keys[1])
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
    let agent = Arc::new(Agent::from_key_files(&keys, &|_| {}).unwrap());
    let served = agent
        .serve(&dir.path().join("agent.sock"), 0, 0, 0o600)
        .unwrap();
    assert_lists(served.path(), &[&keys[0], &keys[1]]);
    for key in &keys {
        assert_signs(dir.path(), served.path(), key);
    }
    // A PEM key has no comment: ssh-add shows its path instead, as for keys it loads itself.
    let listing = text(&ssh_add(served.path(), &["-l"]));
    assert!(listing.contains(keys[0].to_str().unwrap()), "{listing}");
}

/// BuildKit's testSSHSocketParams: `mode=741,uid=100,gid=102`.
#[test]
fn socket_owner_and_mode() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "key", &["-t", "ed25519"]);
    let agent = Arc::new(Agent::from_key_files(&[key], &|_| {}).unwrap());
    let served = agent
        .serve(&dir.path().join("agent.sock"), 100, 102, 0o741)
        .unwrap();
    let meta = std::fs::symlink_metadata(served.path()).unwrap();
    assert_eq!((meta.uid(), meta.gid(), meta.mode()), (100, 102, 0o140741));
}

#[test]
fn serving_on_an_existing_path_fails() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Arc::new(Agent::from_key_files(&[], &|_| {}).unwrap());
    let path = dir.path().join("taken");
    std::fs::write(&path, "").unwrap();
    let err = agent.serve(&path, 0, 0, 0o600).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("failed to listen on {}: ", path.display())),
        "{err}"
    );
}

/// Dropping the listener removes the socket and stops accepting; a connection already accepted is
/// served until its client closes it.
#[test]
fn dropping_the_listener_stops_serving() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "key", &["-t", "ed25519"]);
    let agent = Arc::new(Agent::from_key_files(std::slice::from_ref(&key), &|_| {}).unwrap());
    let path = dir.path().join("agent.sock");
    let served = agent.serve(&path, 0, 0, 0o600).unwrap();
    assert_lists(&path, &[&key]);
    // SSH_AGENTC_REQUEST_IDENTITIES on a connection, before and after the drop.
    let mut open = UnixStream::connect(&path).unwrap();
    let mut list = || {
        open.write_all(&[0, 0, 0, 1, 11]).unwrap();
        let mut head = [0u8; 5];
        open.read_exact(&mut head).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(head[..4].try_into().unwrap()) as usize - 1];
        open.read_exact(&mut body).unwrap();
        assert_eq!(head[4], 12);
    };
    list();
    drop(served);
    assert!(!path.exists());
    assert!(UnixStream::connect(&path).is_err());
    list();

    // The path can be served again.
    let served = agent.serve(&path, 0, 0, 0o600).unwrap();
    assert_lists(served.path(), &[&key]);
}

/// Raw protocol edge cases: unknown and malformed requests fail, oversized frames close the connection.
#[test]
fn protocol_edge_cases() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "key", &["-t", "ed25519"]);
    let agent = Arc::new(Agent::from_key_files(&[key], &|_| {}).unwrap());
    let served = agent
        .serve(&dir.path().join("agent.sock"), 0, 0, 0o600)
        .unwrap();
    let mut conn = UnixStream::connect(served.path()).unwrap();
    let failure = [0, 0, 0, 1, 5];
    for request in [
        &[0, 0, 0, 1, 99][..],
        &[0, 0, 0, 1, 27],
        // A sign request without its body, then one for an unknown key.
        &[0, 0, 0, 1, 13],
        &[0, 0, 0, 14, 13, 0, 0, 0, 1, b'x', 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        conn.write_all(request).unwrap();
        let mut reply = [0u8; 5];
        conn.read_exact(&mut reply).unwrap();
        assert_eq!(reply, failure, "{request:?}");
    }
    // A frame over 256 KiB closes the connection.
    conn.write_all(&(256 * 1024 + 1u32).to_be_bytes()).unwrap();
    let mut rest = Vec::new();
    conn.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}
