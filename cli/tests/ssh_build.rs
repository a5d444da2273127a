//! `hush build --ssh` and `RUN --mount=type=ssh`, against a real `ssh-agent`, real OpenSSH
//! clients in the build container and a real `sshd` on loopback serving git repositories:
//! BuildKit's ssh conformance cases (`testSSHMount`, `testSSHSocketParams`) plus git sources
//! over SSH with strict host keys.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use common::{git, import_busybox, import_busybox_with, text};

/// A HUSH_HOME with `busybox` and `ssh-tools` (busybox plus `ssh-add`) imported.
fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = tempfile::tempdir().unwrap();
        import_busybox(home.path());
        import_busybox_with(home.path(), "ssh-tools", &["/usr/bin/ssh-add"]);
        home
    })
    .path()
}

/// Test keys, made once by `ssh-keygen`: an ed25519 key and a PEM RSA key (as BuildKit's
/// testSSHSocketParams uses).
struct Keys {
    _dir: tempfile::TempDir,
    ed25519: PathBuf,
    rsa_pem: PathBuf,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let gen = |name: &str, args: &[&str]| {
            let path = dir.path().join(name);
            let out = Command::new("ssh-keygen")
                .args(args)
                .args(["-q", "-N", "", "-C", name, "-f"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success(), "ssh-keygen: {}", text(&out.stderr));
            path
        };
        Keys {
            ed25519: gen("id_ed25519", &["-t", "ed25519"]),
            rsa_pem: gen("id_rsa", &["-t", "rsa", "-b", "2048", "-m", "PEM"]),
            _dir: dir,
        }
    })
}

/// The `ssh-keygen -l` fingerprint (SHA256:...) of a key.
fn fingerprint(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key)
        .output()
        .unwrap();
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// Waits until `ready` holds (a server started), at most 10 s.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process killed when dropped.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A real `ssh-agent` holding `key`, on a socket in `dir`.
fn ssh_agent(dir: &Path, key: &Path) -> (Daemon, PathBuf) {
    let sock = dir.join("agent.sock");
    let child = Command::new("ssh-agent")
        .arg("-D")
        .arg("-a")
        .arg(&sock)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_for("ssh-agent", || sock.exists());
    let out = Command::new("ssh-add")
        .arg(key)
        .env("SSH_AUTH_SOCK", &sock)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-add: {}", text(&out.stderr));
    (daemon, sock)
}

fn context(dockerfile: &str, files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    dir
}

fn build(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let mut cmd = common::command(home(), &all, env);
    if !env.iter().any(|(k, _)| *k == "SSH_AUTH_SOCK") {
        cmd.env_remove("SSH_AUTH_SOCK");
    }
    cmd.output().expect("hush runs")
}

fn ok(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(out.status.success(), "hush build failed: {err}");
    err
}

#[test]
fn forwarded_agent_lists_keys_and_refuses_changes() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let (_agent, sock) = ssh_agent(dir.path(), &keys.ed25519);
    let extra = std::fs::read(&keys.rsa_pem).unwrap();
    let ctx = context(
        "FROM ssh-tools\n\
         COPY extra /extra\n\
         RUN chmod 600 /extra\n\
         RUN --mount=type=ssh echo \"sock=$SSH_AUTH_SOCK\" && ssh-add -l && \
             (ssh-add /extra 2>&1 || true) && (ssh-add -D 2>&1 || true)\n\
         RUN echo \"after=[$SSH_AUTH_SOCK]\" && ls -a /run\n",
        &[("extra", &extra)],
    );
    let sock = sock.to_str().unwrap();
    let out = build(
        &[
            "--ssh",
            "default",
            "-t",
            "ssh-forward",
            ctx.path().to_str().unwrap(),
        ],
        &[("SSH_AUTH_SOCK", sock)],
    );
    let err = ok(&out);
    assert!(err.contains("sock=/run/buildkit/ssh_agent.0"), "{err}");
    assert!(err.contains(&fingerprint(&keys.ed25519)), "{err}");
    assert!(err.contains("agent refused operation"), "{err}");
    assert!(
        err.contains("Failed to remove all identities"),
        "removing must be refused: {err}"
    );
    let (_, after) = err.split_once("after=[]").expect("the next step ran");
    assert!(
        !after.contains("buildkit"),
        "no mount point left in /run: {err}"
    );
    // The real agent still holds exactly its key: nothing was added or removed.
    let listed = Command::new("ssh-add")
        .arg("-l")
        .env("SSH_AUTH_SOCK", sock)
        .output()
        .unwrap();
    let listed = text(&listed.stdout);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(&fingerprint(&keys.ed25519)));
}

#[test]
fn key_file_agent_with_socket_params() {
    // testSSHSocketParams: mode=741,uid=100,gid=102 gives `100 102 c1e1`; the provider is a
    // PEM key file.
    let keys = keys();
    let ctx = context(
        "FROM ssh-tools\n\
         RUN --mount=type=ssh,mode=741,uid=100,gid=102 stat -c 'params=%u %g %f' $SSH_AUTH_SOCK && ssh-add -l\n\
         RUN --mount=type=ssh,id=other,target=/tmp/agent.sock,required \
             echo \"other=$SSH_AUTH_SOCK\" && SSH_AUTH_SOCK=/tmp/agent.sock ssh-add -l\n",
        &[],
    );
    let rsa = format!("default={}", keys.rsa_pem.display());
    let ed = format!("other={}", keys.ed25519.display());
    let out = build(
        &["--ssh", &rsa, "--ssh", &ed, ctx.path().to_str().unwrap()],
        &[],
    );
    let err = ok(&out);
    assert!(err.contains("params=100 102 c1e1"), "{err}");
    assert!(err.contains(&fingerprint(&keys.rsa_pem)), "{err}");
    assert!(err.contains("(RSA)"), "{err}");
    assert!(err.contains("other=/tmp/agent.sock"), "{err}");
    assert!(err.contains(&fingerprint(&keys.ed25519)), "{err}");
}

#[test]
fn missing_agents_follow_buildkit() {
    let keys = keys();
    let dockerfile = |mount: &str| {
        context(
            &format!("FROM busybox\nRUN --mount={mount} echo \"sock=[$SSH_AUTH_SOCK]\"\n"),
            &[],
        )
    };
    // Required, and no agent at all.
    let ctx = dockerfile("type=ssh,required");
    let out = build(&[ctx.path().to_str().unwrap()], &[]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("line 2: no SSH key \"default\" forwarded from the client"),
        "{err}"
    );
    // Required, unknown ID.
    let ctx = dockerfile("type=ssh,id=customID,required=true");
    let key = format!("default={}", keys.ed25519.display());
    let out = build(&["--ssh", &key, ctx.path().to_str().unwrap()], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("unset ssh forward key customID"),
        "{}",
        text(&out.stderr)
    );
    // Optional and unknown: the step runs, with no socket and no SSH_AUTH_SOCK.
    let ctx = dockerfile("type=ssh,id=customID");
    let out = build(&["--ssh", &key, ctx.path().to_str().unwrap()], &[]);
    assert!(ok(&out).contains("sock=[]"));
    // Grammar errors of the flag and the mount.
    let out = build(&["--ssh", "default", ctx.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr)
        .contains("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"));
    let out = build(
        &["--ssh", &key, "--ssh", &key, ctx.path().to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("duplicate agent ID \"default\""));
    let ctx = dockerfile("type=ssh,src=/x");
    let out = build(&["--ssh", &key, ctx.path().to_str().unwrap()], &[]);
    assert!(text(&out.stderr).contains("line 2: ssh does not support source"));
}

/// A real `sshd` on a loopback port, accepting `key` for root, with its host key in a
/// known_hosts file.
struct Sshd {
    _daemon: Daemon,
    port: u16,
    known_hosts: PathBuf,
}

fn sshd(dir: &Path, key: &Path) -> Sshd {
    std::fs::create_dir_all("/run/sshd").unwrap();
    let host_key = dir.join("host_key");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&host_key)
        .output()
        .unwrap();
    assert!(out.status.success());
    let authorized = dir.join("authorized_keys");
    std::fs::copy(key.with_extension("pub"), &authorized).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PidFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nLogLevel ERROR\n",
            host_key.display(),
            authorized.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    let child = Command::new("/usr/sbin/sshd")
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let daemon = Daemon(child);
    wait_for("sshd", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let public = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
    let known_hosts = dir.join("known_hosts");
    std::fs::write(&known_hosts, format!("[127.0.0.1]:{port} {public}")).unwrap();
    Sshd {
        _daemon: daemon,
        port,
        known_hosts,
    }
}

/// A bare repository at `dir/name.git` with the given files committed.
fn bare_repo(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let work = dir.join(format!("{name}-work"));
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    for (file, contents) in files {
        std::fs::write(work.join(file), contents).unwrap();
    }
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "init"]);
    let bare = dir.join(format!("{name}.git"));
    git(
        dir,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    bare
}

#[test]
fn git_sources_over_ssh_through_the_forwarded_agent() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let server = sshd(dir.path(), &keys.ed25519);
    let repo = bare_repo(dir.path(), "private", &[("hello.txt", "hello over ssh\n")]);
    let url = format!("ssh://root@127.0.0.1:{}{}", server.port, repo.display());
    let known = server.known_hosts.to_str().unwrap();
    let ctx = context(
        &format!("FROM busybox\nADD {url} /src\nRUN cat /src/hello.txt\n"),
        &[],
    );
    let ctx = ctx.path().to_str().unwrap();
    // A key file loaded into an in-memory agent.
    let key = format!("default={}", keys.ed25519.display());
    let out = build(&["--ssh", &key, ctx], &[("HUSH_SSH_KNOWN_HOSTS", known)]);
    assert!(ok(&out).contains("hello over ssh"));
    // A real ssh-agent, forwarded read-only.
    let (_agent, sock) = ssh_agent(dir.path(), &keys.ed25519);
    let sock = sock.to_str().unwrap();
    let ctx2 = context(
        &format!("FROM busybox\nADD {url} /src\nRUN cat /src/hello.txt && echo agent\n"),
        &[],
    );
    let out = build(
        &["--ssh", "default", ctx2.path().to_str().unwrap()],
        &[("SSH_AUTH_SOCK", sock), ("HUSH_SSH_KNOWN_HOSTS", known)],
    );
    assert!(ok(&out).contains("hello over ssh"));
    // No agent: the user's own agent is not used behind their back, and the error says why.
    let out = build(
        &[ctx],
        &[("SSH_AUTH_SOCK", sock), ("HUSH_SSH_KNOWN_HOSTS", known)],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("pass --ssh default"), "{err}");
    // An unknown host key is refused (BuildKit turns checking off).
    let empty = dir.path().join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let out = build(
        &["--ssh", &key, ctx],
        &[("HUSH_SSH_KNOWN_HOSTS", empty.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Host key verification failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn git_context_over_ssh() {
    let keys = keys();
    let dir = tempfile::tempdir().unwrap();
    let server = sshd(dir.path(), &keys.rsa_pem);
    let repo = bare_repo(
        dir.path(),
        "context",
        &[
            (
                "Dockerfile",
                "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt\n",
            ),
            ("app.txt", "context fetched over ssh\n"),
        ],
    );
    let url = format!(
        "ssh://root@127.0.0.1:{}{}#main",
        server.port,
        repo.display()
    );
    let key = format!("default={}", keys.rsa_pem.display());
    let out = build(
        &["--ssh", &key, &url],
        &[("HUSH_SSH_KNOWN_HOSTS", server.known_hosts.to_str().unwrap())],
    );
    assert!(ok(&out).contains("context fetched over ssh"));
}

#[test]
fn ssh_steps_are_cached_by_agent_id_owner_and_mode() {
    let keys = keys();
    let ctx = context(
        "FROM busybox\nRUN --mount=type=ssh,uid=7 echo uuid=$(cat /proc/sys/kernel/random/uuid)\n",
        &[],
    );
    let uuid = |spec: &str| {
        let out = build(&["--ssh", spec, ctx.path().to_str().unwrap()], &[]);
        let err = ok(&out);
        let line = err
            .lines()
            .find(|l| l.contains("uuid=") && !l.contains("RUN"))
            .unwrap();
        line.rsplit("uuid=").next().unwrap().to_owned()
    };
    let key = format!("default={}", keys.ed25519.display());
    let first = uuid(&key);
    // Every build serves the agent on a new socket path: still a hit.
    assert_eq!(uuid(&key), first, "a rebuild is a hit");
    // The step's ID is what the key holds; another agent under the ID `other` does not
    // satisfy this step's `default` mount, so the step runs without a socket: a miss.
    let other = format!("other={}", keys.ed25519.display());
    assert_ne!(uuid(&other), first);
}
