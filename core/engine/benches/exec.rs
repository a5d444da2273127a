//! Exec overhead (SPEC section 10): an exec of `true` with one secret variable and one mounted
//! secret through the engine, against a bare `<runtime> run` of an equivalent bundle (the same
//! busybox root filesystem, the runtime's default config running `true`, no secrets), run
//! alternately in one process so both see the same machine state. The hush side includes
//! everything: the shim process, its private namespace and tmpfs, the overlay root, secret
//! file, runtime, mount-point cleanup and scrubbed output capture.
//!
//! `cargo bench -p hush-engine --bench exec` (needs root, runc, crun, busybox-static).
// A test tool: prints its own figures, never a secret (hush output goes through hush_console).
#![allow(clippy::disallowed_macros)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hush_engine::{Container, RuntimeChoice};

const ROUNDS: usize = 60;
const WARMUP: usize = 5;

fn bare_bundle(dir: &Path, runtime: &str, rootfs: &Path) {
    let spec = Command::new(runtime)
        .arg("spec")
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(spec.success());
    let path = dir.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["true"]);
    config["root"]["path"] = rootfs.to_string_lossy().into_owned().into();
    std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
}

/// One bare run. runc runs directly; crun, which refuses this host's hybrid cgroup layout,
/// runs in a private mount namespace with cgroup2 unmounted (`unshare` + `sh`), as hush does.
fn bare_run(runtime: &str, bundle: &Path, hide_cgroup2: bool, i: usize) -> Duration {
    let state = bundle.join("state");
    let id = format!("hush-bench-bare-{}-{i}", std::process::id());
    let mut cmd = if hide_cgroup2 {
        let script = format!(
            "umount /sys/fs/cgroup/unified; exec {runtime} --root {} run --bundle {} {id}",
            state.display(),
            bundle.display()
        );
        let mut cmd = Command::new("unshare");
        cmd.args(["-m", "--propagation", "private", "sh", "-c", &script]);
        cmd
    } else {
        let mut cmd = Command::new(runtime);
        cmd.arg("--root")
            .arg(&state)
            .args(["run", "--bundle"])
            .arg(bundle)
            .arg(&id);
        cmd
    };
    let start = Instant::now();
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(status.success());
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let rootfs = common::busybox_rootfs();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "exec of `true` with one secret variable and one mounted secret, {ROUNDS} rounds, medians"
    );
    for (choice, runtime, hide) in [
        (RuntimeChoice::Runc, "runc", false),
        (RuntimeChoice::Crun, "crun", true),
    ] {
        let bundle = tempfile::tempdir().unwrap();
        bare_bundle(bundle.path(), runtime, rootfs);
        let t = common::engine_with(choice);
        let token = common::secret(
            &format!("bench-{runtime}"),
            b"bench-secret-value-0123456789",
        );
        let base = Container::new()
            .from("busybox")
            .unwrap()
            .with_secret_variable("TOKEN", &token)
            .unwrap()
            .with_mounted_secret("/run/secrets/token", &token, None, None)
            .unwrap();
        let (mut bare, mut hush) = (Vec::new(), Vec::new());
        for i in 0..WARMUP + ROUNDS {
            let b = bare_run(runtime, bundle.path(), hide, i);
            // A distinct chain each round, so nothing is memoised.
            let ctr = base
                .with_env_variable("ROUND", &i.to_string())
                .unwrap()
                .with_exec(&["true"])
                .unwrap();
            let start = Instant::now();
            tokio.block_on(ctr.sync(&t.engine)).unwrap();
            let h = start.elapsed();
            if i >= WARMUP {
                bare.push(b);
                hush.push(h);
            }
        }
        let (b, h) = (median(bare), median(hush));
        println!(
            "{runtime}: bare run {:.1} ms, hush exec {:.1} ms, ratio {:.2}x",
            b.as_secs_f64() * 1e3,
            h.as_secs_f64() * 1e3,
            h.as_secs_f64() / b.as_secs_f64()
        );
    }
}
