//! Read-only forwarding of a real `ssh-agent`.

mod common;

use std::sync::Arc;
use std::thread::sleep;
use std::time::Duration;

use common::*;
use hush_sshagent::Agent;

/// The message types ssh-agent's debug log says it processed.
fn message_types(log: &str) -> Vec<u32> {
    log.lines()
        .filter(|l| l.contains("process_message: "))
        .map(|l| l.trim_end().rsplit(' ').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn forward_lists_signs_and_refuses_changes() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = SshAgent::start(dir.path());
    let key = keygen(dir.path(), "forwarded", &["-t", "ed25519"]);
    let other = keygen(dir.path(), "other", &["-t", "ed25519"]);
    let out = ssh_add(&upstream.sock, &[key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));

    let log_before = upstream.log().len();

    let agent = Arc::new(Agent::forward(upstream.sock.clone()));
    let proxy = agent
        .serve(&dir.path().join("proxy.sock"), 0, 0, 0o600)
        .unwrap();
    let sock = proxy.path();

    assert_lists(sock, &[&key]);
    assert_signs(dir.path(), sock, &key);

    assert_refused(sock, &[other.to_str().unwrap()]);
    assert_refused(sock, &["-d", key.to_str().unwrap()]);
    // ssh-add gives no reason here.
    assert_fails_with(sock, &["-D"], "Failed to remove all identities");
    // Locking, with the password from an askpass program.
    let askpass = dir.path().join("askpass");
    std::fs::write(&askpass, "#!/bin/sh\necho lockpw\n").unwrap();
    std::fs::set_permissions(
        &askpass,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let out = tool("ssh-add", sock)
        .arg("-x")
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .output()
        .unwrap();
    assert!(!out.status.success(), "ssh-add -x: {}", text(&out));
    assert!(
        text(&out).contains("agent refused operation"),
        "ssh-add -x: {}",
        text(&out)
    );

    // Upstream never saw the refused requests, and nothing changed there.
    let log = upstream.log()[log_before..].to_owned();
    assert_lists(&upstream.sock, &[&key]);
    assert_eq!(message_types(&log), [11, 11, 13], "{log}");
}

/// BuildKit's testSSHFileDescriptorsClosed: each client's upstream connection is closed with it,
/// so ssh-agent only ever uses its first connection slot.
#[test]
fn forward_closes_upstream_connections() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = SshAgent::start(dir.path());
    let key = keygen(dir.path(), "forwarded", &["-t", "ed25519"]);
    assert!(ssh_add(&upstream.sock, &[key.to_str().unwrap()])
        .status
        .success());
    let agent = Arc::new(Agent::forward(upstream.sock.clone()));
    let proxy = agent
        .serve(&dir.path().join("proxy.sock"), 0, 0, 0o600)
        .unwrap();
    for _ in 0..3 {
        assert_lists(proxy.path(), &[&key]);
        sleep(Duration::from_millis(300));
    }
    let log = upstream.log();
    assert!(log.contains("process_message: socket 1 "), "{log}");
    assert!(!log.contains("socket 2 "), "{log}");
}

#[test]
fn forward_to_a_dead_upstream_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = SshAgent::start(dir.path());
    let key = keygen(dir.path(), "key", &["-t", "ed25519"]);
    let agent = Arc::new(Agent::forward(upstream.sock.clone()));
    drop(upstream);
    let proxy = agent
        .serve(&dir.path().join("proxy.sock"), 0, 0, 0o600)
        .unwrap();
    let out = ssh_add(proxy.path(), &["-l"]);
    assert!(!out.status.success(), "{}", text(&out));
    // Refused requests are still answered.
    assert_refused(proxy.path(), &[key.to_str().unwrap()]);
}
