//! The exec shim: a single-threaded child process that owns a private mount namespace.
//!
//! It reads the exec description and the secret plaintexts from its stdin, mounts a tmpfs
//! that only its namespace sees, writes the runtime bundle (whose `config.json` holds secret
//! variables) and the secret files there, mounts the overlay root filesystem, runs the OCI
//! runtime with the container's stdout and stderr going straight to the engine, removes the
//! mount points the runtime created, and reports the exit code on fd 3. If its stdin reaches
//! EOF first (the engine died), it kills and deletes the container and exits; its mounts go
//! with its namespace.

use std::ffi::CString;
use std::fs;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use crate::proto::{self, RootfsReq, ShimRequest, Status, STATUS_FD};
use crate::spec;

type ShimResult<T> = std::result::Result<T, String>;

/// Entry point of the hidden `hush __shim` mode. Never returns.
///
/// The CLI calls this for its hidden `__shim` subcommand before starting any threads; the
/// engine starts that subcommand for every exec.
pub fn shim_main() -> ! {
    // SAFETY: fd 3 is the status pipe the engine set up; we own it from here on.
    let mut status_pipe = unsafe { fs::File::from_raw_fd(STATUS_FD) };
    // SAFETY: plain fcntl on our own fd; the runtime must not inherit it.
    unsafe { libc::fcntl(STATUS_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
    let status = match run() {
        Ok(status) => status,
        Err(message) => Status::Failed { message },
    };
    let body = serde_json::to_vec(&status).unwrap_or_default();
    let _ = proto::write_frame(&mut status_pipe, &body);
    let _ = status_pipe.flush();
    std::process::exit(0)
}

fn cstr(p: &Path) -> ShimResult<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("{} has a NUL", p.display()))
}

fn os_err(what: impl std::fmt::Display) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

fn mount(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> ShimResult<()> {
    let to_c = |s: Option<&str>| s.map(|s| CString::new(s).map_err(|_| "NUL in mount option"));
    let source = to_c(source).transpose()?;
    let fstype = to_c(fstype).transpose()?;
    let data = to_c(data).transpose()?;
    let target_c = cstr(target)?;
    let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: all pointers are valid C strings or null, as mount(2) allows.
    let rc = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    if rc != 0 {
        return Err(os_err(format!("mount {}", target.display())));
    }
    Ok(())
}

fn umount(target: &Path) {
    if let Ok(c) = cstr(target) {
        // SAFETY: valid C string.
        unsafe {
            if libc::umount2(c.as_ptr(), 0) != 0 {
                libc::umount2(c.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

fn mkdir(p: &Path, mode: u32) -> ShimResult<()> {
    fs::DirBuilder::new()
        .mode(mode)
        .create(p)
        .map_err(|e| format!("mkdir {}: {e}", p.display()))
}

/// Overlay mount data. Mount options fit in one page, so each lower directory is named by a
/// short symlink `<links>/<n>` (relative to the current directory, which is the tmpfs root;
/// overlayfs follows the link when mounting): hundreds of layers fit. Paths with `:` or `,`
/// cannot be expressed and are refused.
fn overlay_data(links: &Path, lower: &[PathBuf], upper: &Path, work: &Path) -> ShimResult<String> {
    let check = |p: &Path| {
        let s = p
            .to_str()
            .ok_or_else(|| format!("{} is not UTF-8", p.display()))?;
        if s.contains([':', ',']) {
            return Err(format!("overlay paths cannot contain ':' or ',': {s}"));
        }
        Ok(s.to_owned())
    };
    let mut names = Vec::with_capacity(lower.len().max(1));
    let mut add = |make: &dyn Fn(&Path) -> std::io::Result<()>| -> ShimResult<()> {
        let n = fs::read_dir(links).map_err(|e| e.to_string())?.count();
        let link = links.join(n.to_string());
        make(&link).map_err(|e| format!("link a layer: {e}"))?;
        let name = link
            .strip_prefix(std::env::current_dir().map_err(|e| e.to_string())?)
            .map_err(|_| "layer links must be under the current directory".to_owned())?
            .to_owned();
        names.push(check(&name)?);
        Ok(())
    };
    for dir in lower {
        check(dir)?;
        add(&|link| std::os::unix::fs::symlink(dir, link))?;
    }
    if lower.is_empty() {
        // The empty image (`scratch`): overlayfs needs a lower directory, so an empty one.
        add(&|link| fs::create_dir(link))?;
    }
    // `volatile`: no syncs of the upper layer. Each upper directory is fresh and used once,
    // later execs read it through the page cache, and a crash loses only this engine's
    // layers, which a new engine removes anyway; unmounting stays cheap instead of waiting
    // for a journal commit of the state directory's filesystem.
    Ok(format!(
        "lowerdir={},upperdir={},workdir={},volatile",
        names.join(":"),
        check(upper)?,
        check(work)?
    ))
}

fn hide_cgroup2() -> ShimResult<()> {
    let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split(' ').next() == Some("cgroup2") {
            if let Some(point) = left.split(' ').nth(4) {
                umount(Path::new(&point.replace("\\040", " ")));
            }
        }
    }
    Ok(())
}

/// A mount point inside the root filesystem: which of its path components the runtime will
/// create, so they can be removed afterwards.
struct Stub {
    /// Canonical components of the target inside the rootfs.
    comps: Vec<String>,
    /// Index of the first component that did not exist.
    first_missing: usize,
    /// atime/mtime of the deepest existing ancestor.
    times: [libc::timespec; 2],
}

/// Resolves `target` inside `root` the way runtimes do (symlinks followed within the root).
fn plan_stub(root: &Path, target: &str) -> Option<Stub> {
    let mut todo: Vec<String> = target
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_owned)
        .collect();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            cur.pop();
            continue;
        }
        let real = root.join(cur.join("/")).join(&c);
        match fs::symlink_metadata(&real) {
            Err(_) => {
                let first_missing = cur.len();
                let parent = root.join(cur.join("/"));
                cur.push(c);
                cur.extend(todo.into_iter().rev());
                let m = fs::metadata(parent).ok()?;
                let times = [
                    libc::timespec {
                        tv_sec: m.atime(),
                        tv_nsec: m.atime_nsec(),
                    },
                    libc::timespec {
                        tv_sec: m.mtime(),
                        tv_nsec: m.mtime_nsec(),
                    },
                ];
                return Some(Stub {
                    comps: cur,
                    first_missing,
                    times,
                });
            }
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = fs::read_link(&real).ok()?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    cur.clear();
                }
                todo.extend(
                    target
                        .split('/')
                        .filter(|c| !c.is_empty() && *c != ".")
                        .rev()
                        .map(str::to_owned),
                );
            }
            Ok(_) => cur.push(c),
        }
    }
    None
}

/// Removes what the runtime created for a mount point (empty files and directories only) and
/// restores the times of the parent that existed.
fn remove_stub(root: &Path, stub: &Stub) {
    for depth in (stub.first_missing + 1..=stub.comps.len()).rev() {
        let p = root.join(stub.comps[..depth].join("/"));
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                if fs::remove_dir(&p).is_err() {
                    return;
                }
            }
            Ok(m) if m.is_file() && m.len() == 0 => {
                if fs::remove_file(&p).is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
    let parent = root.join(stub.comps[..stub.first_missing].join("/"));
    if let Ok(c) = cstr(&parent) {
        // SAFETY: valid C string and two timespecs.
        unsafe {
            libc::utimensat(
                libc::AT_FDCWD,
                c.as_ptr(),
                stub.times.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
    }
}

/// Error messages from the runtime's JSON log (runc and crun both write
/// `{"level": ..., "msg": ...}` lines).
fn runtime_errors(log: &Path) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Line {
        level: String,
        msg: String,
    }
    let text = fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter(|l| matches!(l.level.as_str(), "error" | "fatal" | "panic"))
        .map(|l| l.msg)
        .collect()
}

fn run() -> ShimResult<Status> {
    // SAFETY: fd 0 is the request/control pipe from the engine; it is never closed here.
    let mut input = ManuallyDrop::new(unsafe { fs::File::from_raw_fd(0) });
    let header = proto::read_frame(&mut *input, proto::MAX_HEADER)
        .map_err(|e| format!("read request: {e}"))?;
    let req: ShimRequest =
        serde_json::from_slice(&header).map_err(|e| format!("bad request: {e}"))?;
    let mut secrets: Vec<Zeroizing<Vec<u8>>> = Vec::with_capacity(req.secrets);
    for _ in 0..req.secrets {
        secrets.push(
            proto::read_frame(&mut *input, proto::MAX_SECRET)
                .map_err(|e| format!("read secret: {e}"))?,
        );
    }

    // SAFETY: this process is single-threaded here, as unshare(CLONE_NEWNS) requires.
    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
        return Err(os_err("unshare the mount namespace"));
    }
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    if req.hide_cgroup2 {
        hide_cgroup2()?;
    }

    let run = &req.run_dir;
    let size: usize = secrets.iter().map(|s| s.len()).sum::<usize>() * 8 + (16 << 20);
    mount(
        Some("tmpfs"),
        run,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&format!("mode=0700,size={size}")),
    )?;
    let bundle = run.join("b");
    let rootfs = bundle.join("rootfs");
    let state = run.join("s");
    let keys = run.join("k");
    let dirs = run.join("d");
    let links = run.join("L");
    for d in [&bundle, &rootfs, &state, &keys, &dirs, &links] {
        mkdir(d, 0o700)?;
    }
    std::env::set_current_dir(run).map_err(|e| format!("enter the tmpfs: {e}"))?;
    fs::set_permissions(&rootfs, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;

    let mut mounted = Vec::new();
    match &req.rootfs {
        RootfsReq::Overlay { lower, upper, work } => {
            let data = overlay_data(&links, lower, upper, work)?;
            mount(Some("overlay"), &rootfs, Some("overlay"), 0, Some(&data))?;
        }
        RootfsReq::HostRoot => {
            mount(Some("/"), &rootfs, None, libc::MS_BIND, None)?;
            mount(
                None,
                &rootfs,
                None,
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                None,
            )?;
        }
    }
    mounted.push(rootfs.clone());

    let targets = req
        .secret_mounts
        .iter()
        .map(|m| m.target.as_str())
        .chain(req.dir_mounts.iter().map(|m| m.target.as_str()))
        .chain(req.file_mounts.iter().map(|m| m.target.as_str()))
        .chain(req.socket_mounts.iter().map(|m| m.target.as_str()))
        .chain(req.cache_mounts.iter().map(|m| m.target.as_str()))
        .chain(req.tmpfs_mounts.iter().map(|m| m.target.as_str()));
    let stubs: Vec<Stub> = targets.filter_map(|t| plan_stub(&rootfs, t)).collect();

    let mut secret_files = Vec::new();
    for (i, m) in req.secret_mounts.iter().enumerate() {
        let path = keys.join(i.to_string());
        let value = secrets
            .get(m.secret)
            .ok_or_else(|| "secret index out of range".to_owned())?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("create a secret file: {e}"))?;
        f.write_all(value)
            .map_err(|e| format!("write a secret file: {e}"))?;
        std::os::unix::fs::fchown(&f, Some(m.uid), Some(m.gid))
            .map_err(|e| format!("chown a secret file: {e}"))?;
        f.set_permissions(fs::Permissions::from_mode(m.mode))
            .map_err(|e| format!("chmod a secret file: {e}"))?;
        secret_files.push(path);
    }

    let mut dir_sources = Vec::new();
    for (i, m) in req.dir_mounts.iter().enumerate() {
        let point = dirs.join(i.to_string());
        let upper = dirs.join(format!("{i}u"));
        let work = dirs.join(format!("{i}w"));
        for d in [&point, &upper, &work] {
            mkdir(d, 0o755)?;
        }
        let data = overlay_data(&links, &m.lower, &upper, &work)?;
        mount(Some("overlay"), &point, Some("overlay"), 0, Some(&data))?;
        mounted.push(point.clone());
        dir_sources.push(point);
    }

    let mut env = Vec::with_capacity(req.env.len() + req.secret_env.len());
    env.extend(req.env.iter().cloned());
    for (name, index) in &req.secret_env {
        let value = secrets
            .get(*index)
            .ok_or_else(|| "secret index out of range".to_owned())?;
        let value = std::str::from_utf8(value)
            .map_err(|_| format!("secret variable {name} is not valid UTF-8"))?;
        let mut entry = String::with_capacity(name.len() + 1 + value.len());
        entry.push_str(name);
        entry.push('=');
        entry.push_str(value);
        env.push(entry);
    }
    let mut config = spec::build(&req, &rootfs, env, &secret_files, &dir_sources);
    let reserve = secrets.iter().map(|s| s.len() * 6).sum::<usize>() + (64 << 10);
    let mut json = Zeroizing::new(Vec::with_capacity(reserve));
    let written = serde_json::to_writer(&mut *json, &config);
    if let Some(process) = config.process_mut() {
        if let Some(env) = process.env_mut() {
            env.iter_mut().for_each(Zeroize::zeroize);
        }
    }
    written.map_err(|e| format!("serialise config.json: {e}"))?;
    drop(secrets);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(bundle.join("config.json"))
        .map_err(|e| format!("create config.json: {e}"))?;
    f.write_all(&json)
        .map_err(|e| format!("write config.json: {e}"))?;
    drop(f);
    drop(json);

    let pid_file = run.join("pid");
    let log = run.join("log");
    let mut log_arg = std::ffi::OsString::from("--log=");
    log_arg.push(&log);
    let runtime = |args: &[&std::ffi::OsStr]| {
        let mut cmd = Command::new(&req.runtime);
        cmd.arg("--root")
            .arg(&state)
            .arg(&log_arg)
            .arg("--log-format=json")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    let mut child = Command::new(&req.runtime)
        .arg("--root")
        .arg(&state)
        .arg(&log_arg)
        .arg("--log-format=json")
        .arg("run")
        .arg("--bundle")
        .arg(&bundle)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(&req.id)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("start {}: {e}", req.runtime.display()))?;

    let done = Arc::new(AtomicBool::new(false));
    let cancelled = Arc::new(AtomicBool::new(false));
    let runtime_pid = Arc::new(AtomicI32::new(child.id() as i32));
    {
        let (done, cancelled, runtime_pid) = (done.clone(), cancelled.clone(), runtime_pid);
        let id = req.id.clone();
        let mut kill = runtime(&[
            "kill".as_ref(),
            "--all".as_ref(),
            id.as_ref(),
            "KILL".as_ref(),
        ]);
        std::thread::spawn(move || {
            let mut sink = [0u8; 64];
            // SAFETY: a second handle on fd 0, never closed.
            let mut control = ManuallyDrop::new(unsafe { fs::File::from_raw_fd(0) });
            while matches!(control.read(&mut sink), Ok(n) if n > 0) {}
            cancelled.store(true, Ordering::SeqCst);
            for round in 0.. {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                let _ = kill.status();
                std::thread::sleep(Duration::from_millis(20));
                if round == 50 {
                    // SAFETY: signalling our own child, which has not been reaped yet
                    // (`done` is set only after the wait).
                    unsafe { libc::kill(runtime_pid.load(Ordering::SeqCst), libc::SIGKILL) };
                }
            }
        });
    }
    let exit = child
        .wait()
        .map_err(|e| format!("wait for the runtime: {e}"))?;
    done.store(true, Ordering::SeqCst);
    if cancelled.load(Ordering::SeqCst) {
        let _ = runtime(&["delete".as_ref(), "--force".as_ref(), req.id.as_ref()]).status();
        std::process::exit(1);
    }
    use std::os::unix::process::ExitStatusExt;
    let code = exit
        .code()
        .or_else(|| exit.signal().map(|s| 128 + s))
        .unwrap_or(1);
    let started = pid_file.exists();
    let errors = runtime_errors(&log);

    for stub in &stubs {
        remove_stub(&rootfs, stub);
    }
    let _ = std::env::set_current_dir("/");
    for m in mounted.iter().rev() {
        umount(m);
    }
    umount(run);
    Ok(Status::Exited {
        code,
        started,
        errors,
    })
}
