//! Host unix sockets mounted into execs (`with_unix_socket`): owner and mode, data flow, no
//! trace of the mount point, digests and cache keys, and a missing socket (needs root, runc,
//! busybox-static and a C compiler that links statically).

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use hush_cache::Cache;
use hush_engine::{
    Container, DirImages, Engine, EngineError, ImageConfig, LocalExecutor, PersistentCache,
    RuntimeChoice, Socket,
};
use hush_secrets::MacKey;

const AGENT: &str = "/run/buildkit/ssh_agent.0";

fn busybox() -> Container {
    Container::new().from("busybox").unwrap()
}

/// A listening socket `name` in a fresh directory, owned by 100:102 with mode 0741.
fn listener(name: &str) -> (tempfile::TempDir, PathBuf, UnixListener) {
    let dir = tempfile::Builder::new()
        .prefix("hush-engine-socket")
        .tempdir()
        .unwrap();
    let path = dir.path().join(name);
    let listener = UnixListener::bind(&path).unwrap();
    std::os::unix::fs::chown(&path, Some(100), Some(102)).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o741)).unwrap();
    (dir, path, listener)
}

#[tokio::test]
async fn socket_keeps_host_owner_and_mode_and_is_read_only() {
    let t = engine();
    let (_dir, path, _listener) = listener("agent.sock");
    let socket = Socket::new("ssh:default", &path);
    let out = busybox()
        .with_unix_socket(AGENT, &socket)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "stat -c '%u %g %f' /run/buildkit/ssh_agent.0; \
             test -S /run/buildkit/ssh_agent.0 && echo socket; \
             grep ' /run/buildkit/ssh_agent.0 ' /proc/mounts | cut -d' ' -f4 | tr ',' '\\n' \
               | grep -E '^(ro|nosuid|nodev|noexec)$' | sort | tr '\\n' ' '; echo; \
             chmod 777 /run/buildkit/ssh_agent.0 2>/dev/null || echo chmod-refused; \
             chown 0:0 /run/buildkit/ssh_agent.0 2>/dev/null || echo chown-refused",
        ])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(
        out,
        "100 102 c1e1\nsocket\nnodev noexec nosuid ro \nchmod-refused\nchown-refused\n"
    );
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(&path).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (100, 102, 0o741));
}

#[tokio::test]
async fn mount_point_leaves_no_trace() {
    let t = engine();
    let (_dir, path, _listener) = listener("agent.sock");
    let socket = Socket::new("ssh:default", &path);
    // The image has no /run: the runtime creates /run/buildkit/ssh_agent.0 as a mount point;
    // /etc exists, so only the file /etc/agent.sock is created there.
    let used = busybox()
        .with_unix_socket(AGENT, &socket)
        .unwrap()
        .with_unix_socket("/etc/agent.sock", &socket)
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "test -S /run/buildkit/ssh_agent.0 && test -S /etc/agent.sock && echo used > /etc/marker",
        ])
        .unwrap();
    used.sync(&t.engine).await.unwrap();
    let later = used
        .without_mount(AGENT)
        .unwrap()
        .without_mount("/etc/agent.sock")
        .unwrap()
        .with_exec(&[
            "sh",
            "-c",
            "cat /etc/marker; [ ! -e /run/buildkit/ssh_agent.0 ] && echo no-socket; \
             [ ! -e /run ] && echo no-run; [ ! -e /etc/agent.sock ] && echo no-etc-socket; \
             grep -c sock /proc/mounts || true",
        ])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(later, "used\nno-socket\nno-run\nno-etc-socket\n0\n");
    // The committed layers have no entry for the mount points.
    assert!(matches!(
        used.directory(&t.engine, "/run").await,
        Err(EngineError::NotFound { .. })
    ));
    let etc = used
        .directory(&t.engine, "/etc")
        .await
        .unwrap()
        .entries()
        .unwrap();
    assert!(etc.contains(&"marker".to_owned()), "{etc:?}");
    assert!(!etc.contains(&"agent.sock".to_owned()), "{etc:?}");
    let mut todo = vec![t.engine.state_dir().to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                !["run", "buildkit", "ssh_agent.0", "agent.sock"].contains(&name.as_str()),
                "{} is left in a layer",
                entry.path().display()
            );
            if entry.file_type().unwrap().is_dir() {
                todo.push(entry.path());
            }
        }
    }
}

/// A static C client: connects to `argv[1]`, writes `argv[2]`, shuts down writing and copies
/// the answer to stdout.
const CLIENT_C: &str = r#"
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc != 3) return 2;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {0};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return 3;
    size_t len = strlen(argv[2]);
    if (write(fd, argv[2], len) != (ssize_t)len) return 4;
    shutdown(fd, SHUT_WR);
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) write(1, buf, n);
    return n < 0 ? 5 : 0;
}
"#;

fn static_client() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("client.c");
    let exe = dir.path().join("client");
    std::fs::write(&src, CLIENT_C).unwrap();
    let built = std::process::Command::new("cc")
        .args(["-static", "-Os", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("a C compiler (cc) is needed to build the socket client");
    assert!(
        built.status.success(),
        "cc -static failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::fs::read(&exe).unwrap()
}

#[tokio::test]
async fn data_flows_through_the_socket() {
    let client = static_client();
    for choice in [RuntimeChoice::Runc, RuntimeChoice::Crun] {
        let t = engine_with(choice);
        let (_dir, path, listener) = listener("agent.sock");
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            conn.write_all(b"agent says hi").unwrap();
            got
        });
        let message = format!("hello from the container {}", random_value(8));
        // Connecting needs write permission on the socket file: uid 100 owns it (rwx).
        let out = busybox()
            .with_new_file_mode("/bin/sockclient", &client, 0o755)
            .unwrap()
            .with_unix_socket(AGENT, &Socket::new("ssh:default", &path))
            .unwrap()
            .with_user("100:102")
            .unwrap()
            .with_exec(&["/bin/sockclient", AGENT, &message])
            .unwrap()
            .stdout(&t.engine)
            .await
            .unwrap();
        assert_eq!(out, "agent says hi", "{choice:?}");
        assert_eq!(server.join().unwrap(), message.as_bytes(), "{choice:?}");
    }
}

#[test]
fn digest_follows_the_key_not_the_host_path() {
    let base = busybox();
    let at = |key: &str, host: &str, target: &str| {
        base.with_unix_socket(target, &Socket::new(key, host))
            .unwrap()
            .with_exec(&["true"])
            .unwrap()
            .digest()
    };
    let first = at("ssh:default", "/tmp/a/agent.sock", AGENT);
    assert_eq!(first, at("ssh:default", "/tmp/b/other.sock", AGENT));
    assert_ne!(first, at("ssh:other", "/tmp/a/agent.sock", AGENT));
    assert_ne!(first, at("ssh:default", "/tmp/a/agent.sock", "/run/agent"));
    assert_ne!(first, base.with_exec(&["true"]).unwrap().digest());
    let removed = base
        .with_unix_socket(AGENT, &Socket::new("ssh:default", "/tmp/a"))
        .unwrap()
        .without_mount(AGENT)
        .unwrap();
    assert_ne!(removed.digest(), base.digest());
    for bad in ["relative/path", "/", "/a/../b"] {
        assert!(matches!(
            base.with_unix_socket(bad, &Socket::new("k", "/tmp/a")),
            Err(EngineError::BadPath { .. })
        ));
    }
}

#[tokio::test]
async fn missing_or_wrong_host_socket_is_a_typed_error() {
    let t = engine();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone.sock");
    let file = dir.path().join("plain");
    std::fs::write(&file, b"not a socket").unwrap();
    for (host, reason) in [
        (&missing, "no such file or directory"),
        (&file, "not a unix socket"),
    ] {
        let err = busybox()
            .with_unix_socket(AGENT, &Socket::new("ssh:default", host))
            .unwrap()
            .with_exec(&["true"])
            .unwrap()
            .sync(&t.engine)
            .await
            .unwrap_err();
        match &err {
            EngineError::SocketUnavailable {
                target,
                host: shown,
                reason: why,
            } => {
                assert_eq!(target, AGENT);
                assert_eq!(shown, &host.display().to_string());
                assert_eq!(why, reason);
            }
            other => panic!("unexpected error: {other}"),
        }
        assert!(err.to_string().contains(AGENT), "{err}");
    }
}

#[tokio::test]
async fn same_key_at_a_new_path_reuses_results_and_later_execs_use_the_new_path() {
    let t = engine();
    let (_a_dir, a_path, a) = listener("a.sock");
    let (_b_dir, b_path, _b) = listener("b.sock");
    let print = ["sh", "-c", "cat /proc/sys/kernel/random/uuid"];
    let first = busybox()
        .with_unix_socket(AGENT, &Socket::new("ssh:default", &a_path))
        .unwrap()
        .with_exec(&print)
        .unwrap();
    let first_out = first.stdout(&t.engine).await.unwrap();
    // The first socket goes away; the same key at another path is the same exec.
    drop(a);
    std::fs::remove_file(&a_path).unwrap();
    let second = busybox()
        .with_unix_socket(AGENT, &Socket::new("ssh:default", &b_path))
        .unwrap()
        .with_exec(&print)
        .unwrap();
    assert_eq!(first.digest(), second.digest());
    assert_eq!(second.stdout(&t.engine).await.unwrap(), first_out);
    // A later exec of that chain mounts the socket at its own path, not the first one's.
    let later = second
        .with_exec(&["sh", "-c", "test -S /run/buildkit/ssh_agent.0 && echo ok"])
        .unwrap()
        .stdout(&t.engine)
        .await
        .unwrap();
    assert_eq!(later, "ok\n");
}

/// A new engine, as a new process would build it, over the persistent cache in `home`.
fn cached_engine(home: &Path) -> Engine {
    let images = Arc::new(DirImages::new());
    images.insert(
        "busybox",
        busybox_rootfs().to_path_buf(),
        ImageConfig::default(),
    );
    let executor = LocalExecutor::new(
        home.join(format!("scratch-{}", random_value(6))),
        RuntimeChoice::Runc,
    )
    .unwrap()
    .with_shim_exe(PathBuf::from(TESTBIN));
    let cache = PersistentCache::new(
        Arc::new(Cache::open(&home.join("cache")).unwrap()),
        Arc::new(MacKey::load_or_create(home).unwrap()),
        Arc::new(|w: &str| panic!("unexpected warning: {w}")),
    );
    Engine::with_executor_and_cache(
        Arc::new(hush_scrub::Scrubber::new()),
        images,
        Arc::new(executor),
        home.join("engine"),
        cache,
    )
    .unwrap()
}

#[tokio::test]
async fn persistent_cache_keys_on_the_socket_key_and_target() {
    let home = tempfile::Builder::new()
        .prefix("hush-engine-socket-cache")
        .tempdir()
        .unwrap();
    let (_dir, path, _listener) = listener("agent.sock");
    let (_dir2, path2, _listener2) = listener("moved.sock");
    let run = |key: &str, host: &Path, target: &str| {
        busybox()
            .with_unix_socket(target, &Socket::new(key, host))
            .unwrap()
            .with_exec(&[
                "sh",
                "-c",
                "cat /proc/sys/kernel/random/uuid; echo changed > /etc/changed",
            ])
            .unwrap()
    };
    let first = run("ssh:default", &path, AGENT)
        .stdout(&cached_engine(home.path()))
        .await
        .unwrap();
    // Another process, the agent at a new path: a hit (the same output, the stored layer).
    let moved = run("ssh:default", &path2, AGENT);
    let engine = cached_engine(home.path());
    assert_eq!(moved.stdout(&engine).await.unwrap(), first);
    let file = moved.file(&engine, "/etc/changed").await.unwrap();
    assert_eq!(file.contents().unwrap(), b"changed\n");
    // A different key, or a different target: a miss.
    let other_key = run("ssh:other", &path, AGENT)
        .stdout(&cached_engine(home.path()))
        .await
        .unwrap();
    assert_ne!(other_key, first);
    let other_target = run("ssh:default", &path, "/run/agent.sock")
        .stdout(&cached_engine(home.path()))
        .await
        .unwrap();
    assert_ne!(other_target, first);
}
