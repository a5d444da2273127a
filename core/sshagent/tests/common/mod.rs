//! Helpers running the real OpenSSH tools.
#![allow(dead_code)] // each test file uses a subset

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Runs `ssh-keygen -q -N '' -C NAME -f DIR/NAME ARGS` and returns the private key's path.
pub fn keygen(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    keygen_with_passphrase(dir, name, "", args)
}

pub fn keygen_with_passphrase(dir: &Path, name: &str, passphrase: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", passphrase, "-C", name, "-f"])
        .arg(&path)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen: {out:?}");
    path
}

/// The SHA256 fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -l: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

/// A copy of `KEY.pub` alone in a new directory, so tools cannot find the private key beside it.
pub fn lone_pub(dir: &Path, key: &Path) -> PathBuf {
    let lone = dir.join(format!(
        "lone-{}",
        key.file_name().unwrap().to_str().unwrap()
    ));
    fs::create_dir_all(&lone).unwrap();
    let path = lone.join("key.pub");
    fs::copy(key.with_extension("pub"), &path).unwrap();
    path
}

/// An OpenSSH tool with `SSH_AUTH_SOCK=sock` and no askpass or terminal.
pub fn tool(program: &str, sock: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env("SSH_AUTH_SOCK", sock)
        .env_remove("SSH_ASKPASS")
        .env_remove("DISPLAY")
        .stdin(Stdio::null());
    cmd
}

pub fn ssh_add(sock: &Path, args: &[&str]) -> Output {
    tool("ssh-add", sock).args(args).output().unwrap()
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that `ssh-add ARGS` through `sock` fails with `agent refused operation`.
pub fn assert_refused(sock: &Path, args: &[&str]) {
    assert_fails_with(sock, args, "agent refused operation");
}

/// Asserts that `ssh-add ARGS` through `sock` fails with `message`.
pub fn assert_fails_with(sock: &Path, args: &[&str], message: &str) {
    let out = ssh_add(sock, args);
    assert!(!out.status.success(), "ssh-add {args:?} succeeded: {out:?}");
    assert!(
        text(&out).contains(message),
        "ssh-add {args:?}: {}",
        text(&out)
    );
}

/// Asserts that `ssh-add -l` through `sock` lists exactly the keys `keys` (by fingerprint).
pub fn assert_lists(sock: &Path, keys: &[&Path]) {
    let out = ssh_add(sock, &["-l"]);
    assert!(out.status.success(), "ssh-add -l: {}", text(&out));
    let listed: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect();
    let expected: Vec<String> = keys.iter().map(|k| fingerprint(k)).collect();
    assert_eq!(listed, expected);
}

/// Signs a file with the agent at `sock` (`ssh-keygen -Y sign -U` with only the public key at hand)
/// and checks the signature with `ssh-keygen -Y check-novalidate`.
pub fn assert_signs(dir: &Path, sock: &Path, key: &Path) {
    let public = lone_pub(dir, key);
    let data = public.with_file_name("data");
    fs::write(&data, b"signed by the agent\n").unwrap();
    let out = tool("ssh-keygen", sock)
        .args(["-Y", "sign", "-U", "-n", "file", "-f"])
        .arg(&public)
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -Y sign: {}", text(&out));
    let out = tool("ssh-keygen", sock)
        .args(["-Y", "check-novalidate", "-n", "file", "-s"])
        .arg(data.with_file_name("data.sig"))
        .stdin(fs::File::open(&data).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh-keygen -Y check-novalidate: {}",
        text(&out)
    );
}

/// Signs a user certificate with the CA key `ca` in the agent at `sock`, with signature algorithm
/// `alg`, and returns `ssh-keygen -L` of it (which checks the CA's signature).
pub fn certify(dir: &Path, sock: &Path, ca: &Path, alg: &str) -> String {
    let public = lone_pub(dir, ca);
    let user = keygen(
        public.parent().unwrap(),
        &format!("user-{alg}"),
        &["-t", "ed25519"],
    );
    let out = tool("ssh-keygen", sock)
        .args(["-s"])
        .arg(&public)
        .args(["-U", "-t", alg, "-I", "test", "-n", "user"])
        .arg(user.with_extension("pub"))
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -s: {}", text(&out));
    let cert = user.with_file_name(format!("user-{alg}-cert.pub"));
    let out = Command::new("ssh-keygen")
        .arg("-Lf")
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "ssh-keygen -L: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until `path` exists.
pub fn wait_for(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{path:?} never appeared"
        );
        sleep(Duration::from_millis(20));
    }
}

/// A real `ssh-agent -d` (debug log to a file), killed on drop.
pub struct SshAgent {
    child: Child,
    pub sock: PathBuf,
    pub log: PathBuf,
}

impl SshAgent {
    pub fn start(dir: &Path) -> Self {
        let sock = dir.join("upstream.sock");
        let log = dir.join("ssh-agent.log");
        let child = Command::new("ssh-agent")
            .arg("-d")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        wait_for(&sock);
        Self { child, sock, log }
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap()
    }
}

impl Drop for SshAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
