//! Mounted secrets: owner, mode, tmpfs, read-only, and no trace afterwards.

mod common;

use common::*;
use hush_engine::Container;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/tmp:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:1001:\nstaff:x:50:app\n";

fn with_users() -> Container {
    Container::new()
        .from("busybox")
        .unwrap()
        .with_new_file("/etc/passwd", PASSWD)
        .unwrap()
        .with_new_file("/etc/group", GROUP)
        .unwrap()
}

#[tokio::test]
async fn owner_and_mode_as_seen_by_stat() {
    let t = engine();
    let token = secret("owned", random_value(30).as_bytes());
    let cases: [(Option<&str>, Option<u32>, &str); 5] = [
        (None, None, "0 0 400"),
        (Some("1234"), Some(0o440), "1234 1234 440"),
        (Some("12:34"), None, "12 34 400"),
        (Some("app"), Some(0o600), "1000 1001 600"),
        (Some("app:staff"), Some(0o040), "1000 50 40"),
    ];
    for (owner, mode, expected) in cases {
        let out = with_users()
            .with_mounted_secret("/run/secrets/token", &token, owner, mode)
            .unwrap()
            .with_exec(&["stat", "-c", "%u %g %a", "/run/secrets/token"])
            .unwrap()
            .stdout(&t.engine)
            .await
            .unwrap();
        assert_eq!(out.trim_end(), expected, "owner {owner:?} mode {mode:?}");
    }
}

#[tokio::test]
async fn mounted_secret_is_a_read_only_tmpfs_file_with_the_value() {
    let t = engine();
    let value = random_value(40);
    let token = secret("mounted", value.as_bytes());
    let ctr = with_users()
        .with_mounted_secret("/etc/app/token", &token, Some("app"), None)
        .unwrap();
    let out = ctr
        .with_exec(&[
            "sh",
            "-c",
            "stat -f -c %T /etc/app/token; \
             grep ' /etc/app/token ' /proc/mounts | cut -d' ' -f3,4 | tr ' ,' '\\n\\n' | grep -E '^(tmpfs|ro|nosuid|nodev|noexec)' | sort | tr '\\n' ' '; echo; \
             sha256sum < /etc/app/token; cat /etc/app/token; echo; \
             if echo x > /etc/app/token; then echo writable; else echo read-only; fi; \
             if touch /etc/app/other 2>/dev/null; then echo parent-writable; fi",
        ])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    let expected = format!(
        "tmpfs\nnodev noexec nosuid ro tmpfs \n{}  -\n***\nread-only\nparent-writable\n",
        sha256_hex(value.as_bytes())
    );
    assert_eq!(out, expected);
    // As the owner (not root, so no capability bypasses the mode): readable, not writable.
    let as_app = ctr
        .with_user("app")
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat /etc/app/token >/dev/null && echo readable; echo x >> /etc/app/token || echo refused",
        ])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(as_app, "readable\nrefused\n");
    // Another user cannot read a 0400 secret it does not own.
    let other = ctr
        .with_user("4321")
        .unwrap()
        .with_exec(&["sh", "-c", "cat /etc/app/token || echo denied"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(other, "denied\n");
}

#[tokio::test]
async fn exec_bit_lifts_noexec() {
    let t = engine();
    let script = secret("script", b"#!/bin/sh\necho script-ran\n");
    let out = with_users()
        .with_mounted_secret("/run/secrets/run.sh", &script, None, Some(0o500))
        .unwrap()
        .with_exec(&["/run/secrets/run.sh"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(out, "script-ran\n");
}

#[tokio::test]
async fn no_file_and_no_mount_point_remain() {
    let t = engine();
    let value = random_value(36);
    let token = secret("traceless", value.as_bytes());
    // The image has no /run: the runtime creates /run/secrets/deep/token as mount points.
    let used = with_users()
        .with_mounted_secret("/run/secrets/deep/token", &token, None, None)
        .unwrap()
        .with_mounted_secret("/etc/token", &token, None, None)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat /run/secrets/deep/token /etc/token >/dev/null && echo used > /etc/marker",
        ])
        .unwrap();
    used.sync(&t.engine).await.unwrap();
    let listing = used
        .without_mount("/run/secrets/deep/token")
        .unwrap()
        .without_mount("/etc/token")
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat /etc/marker; ls /run 2>&1 || true; ls /etc; grep -c token /proc/mounts || true",
        ])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert!(listing.starts_with("used\n"), "{listing}");
    assert!(
        listing.contains("No such file or directory"),
        "/run was left: {listing}"
    );
    assert!(!listing.contains("token"), "{listing}");
    assert!(listing.ends_with("\n0\n"), "a mount is left: {listing}");
    // And nothing in the engine's layers on disk holds the value or a stub.
    let state = t.engine.state_dir();
    assert!(files_containing(&[state], value.as_bytes()).is_empty());
    let dir = used.directory(&t.engine, "/etc").await.unwrap();
    assert!(!dir.entries().unwrap().contains(&"token".to_owned()));
    assert!(matches!(
        used.directory(&t.engine, "/run").await,
        Err(hush_engine::EngineError::NotFound { .. })
    ));
}
