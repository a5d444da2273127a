//! Shared test helpers: a busybox root filesystem, engines, secrets, leak scanners.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use hush_engine::{DirImages, Engine, ImageConfig, LocalExecutor, RuntimeChoice};
use hush_secrets::{Registry, Secret, SecretStore, DEFAULT_LIMIT};

/// The test helper executable (the shim).
pub const TESTBIN: &str = env!("CARGO_BIN_EXE_hush-engine-testbin");

/// A busybox root filesystem built from Debian's busybox-static, with no `/run` (so mounts
/// there exercise mount-point cleanup). Built once under cargo's per-target test directory
/// and reused by later test processes (built aside, then renamed into place).
pub fn busybox_rootfs() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let done = tmp.join("hush-engine-busybox-rootfs");
        if done.join("bin/busybox").exists() {
            return done;
        }
        let dir = tempfile::Builder::new()
            .prefix("hush-engine-rootfs")
            .tempdir_in(tmp)
            .unwrap();
        let root = dir.path();
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static must be installed (apt-get install busybox-static)");
        let list = std::process::Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8(list.stdout).unwrap().lines() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
            }
        }
        std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777))
            .unwrap();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another process may have won the race; its copy is as good as ours.
        let ours = dir.keep();
        if std::fs::rename(&ours, &done).is_err() {
            let _ = std::fs::remove_dir_all(&ours);
        }
        done
    })
}

/// An engine over the busybox image with its state in a fresh directory under `/tmp`.
pub struct TestEngine {
    pub engine: Engine,
    pub home: tempfile::TempDir,
}

pub fn engine_with(choice: RuntimeChoice) -> TestEngine {
    let home = tempfile::Builder::new()
        .prefix("hush-engine-home")
        .tempdir()
        .unwrap();
    let images = Arc::new(DirImages::new());
    images.insert(
        "busybox",
        busybox_rootfs().to_path_buf(),
        ImageConfig::default(),
    );
    images.insert(
        "busybox-configured",
        busybox_rootfs().to_path_buf(),
        ImageConfig {
            env: vec!["FROM_IMAGE=yes".into(), "PATH=/bin".into()],
            workdir: Some("/tmp".into()),
            user: Some("4242:4343".into()),
        },
    );
    let executor = LocalExecutor::new(home.path().join("scratch"), choice)
        .unwrap()
        .with_shim_exe(PathBuf::from(TESTBIN));
    let engine = Engine::with_executor(
        Arc::new(hush_scrub::Scrubber::new()),
        images,
        Arc::new(executor),
        home.path().join("engine"),
    )
    .unwrap();
    TestEngine { engine, home }
}

pub fn engine() -> TestEngine {
    engine_with(RuntimeChoice::Runc)
}

/// A `set_secret` secret.
pub fn secret(name: &str, value: &[u8]) -> Secret {
    static STORE: OnceLock<SecretStore> = OnceLock::new();
    STORE
        .get_or_init(|| SecretStore::new(Registry::builtin(), DEFAULT_LIMIT))
        .set_secret(name, value)
        .unwrap()
}

/// A random alphanumeric value of `len` bytes.
pub fn random_value(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .unwrap();
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Whether `needle` occurs in `haystack` (glibc's memmem: fast even in debug builds).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    // SAFETY: both pointers and lengths describe live slices.
    !unsafe {
        libc::memmem(
            haystack.as_ptr().cast(),
            haystack.len(),
            needle.as_ptr().cast(),
            needle.len(),
        )
    }
    .is_null()
}

/// Files under `roots` (not following symlinks, not crossing into /proc or /sys) whose
/// contents contain `needle`.
pub fn files_containing(roots: &[&Path], needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo: Vec<PathBuf> = roots.iter().map(|p| p.to_path_buf()).collect();
    while let Some(p) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            if p.starts_with("/proc") || p.starts_with("/sys") {
                continue;
            }
            if let Ok(list) = std::fs::read_dir(&p) {
                todo.extend(list.flatten().map(|e| e.path()));
            }
        } else if m.is_file() && m.len() < (64 << 20) {
            if let Ok(data) = std::fs::read(&p) {
                if contains(&data, needle) {
                    found.push(p);
                }
            }
        }
    }
    found
}

fn pid_ns(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// Processes in this process's pid namespace whose argv or environment contains `needle`.
/// (Processes in other pid namespaces are containers, which may legitimately hold it.)
pub fn host_processes_containing(needle: &[u8]) -> Vec<String> {
    let own = pid_ns("self");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid_ns(&pid) != own {
            continue;
        }
        for what in ["cmdline", "environ"] {
            if let Ok(data) = std::fs::read(format!("/proc/{pid}/{what}")) {
                if contains(&data, needle) {
                    found.push(format!("{pid}/{what}"));
                }
            }
        }
    }
    found
}

/// Pids of processes (any namespace) whose cmdline is exactly `args`.
pub fn processes_with_cmdline(args: &[&str]) -> Vec<String> {
    let mut want = Vec::new();
    for a in args {
        want.extend_from_slice(a.as_bytes());
        want.push(0);
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid.bytes().all(|b| b.is_ascii_digit())
            && std::fs::read(format!("/proc/{pid}/cmdline"))
                .ok()
                .as_deref()
                == Some(&want[..])
        {
            found.push(pid);
        }
    }
    found
}

/// Mount table lines, of every process, that mention `needle`.
pub fn mounts_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")) {
            for line in info.lines().filter(|l| l.contains(needle)) {
                found.push(format!("{pid}: {line}"));
            }
        }
    }
    found
}

/// Polls `cond` every 20 ms until it holds or 60 s pass (a liveness bound, not a timing
/// assertion); returns whether it held.
pub fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// A `sleep` argument no other test uses, to find a container's process by its cmdline.
pub fn unique_seconds() -> String {
    let n: u64 = random_value(8)
        .bytes()
        .fold(0u64, |acc, b| acc.wrapping_mul(31).wrapping_add(b as u64));
    format!("{}", 100_000 + n % 800_000)
}

/// Whether any process's environment (any namespace) contains `needle`.
pub fn any_process_environ_containing(pids: &[String], needle: &[u8]) -> bool {
    pids.iter().any(|pid| {
        std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|e| contains(&e, needle))
    })
}
