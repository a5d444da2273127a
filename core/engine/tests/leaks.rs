//! No plaintext on disk or in other processes during an exec; concurrent execs see only their
//! own secrets. Each scan is first shown to find a planted plaintext (control case).

mod common;

use std::path::{Path, PathBuf};

use common::*;
use hush_engine::Container;

fn scan_roots(t: &TestEngine) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["/tmp", "/var", "/run"].iter().map(PathBuf::from).collect();
    roots.push(t.home.path().to_path_buf());
    let home = hush_secrets::hush_home();
    if home.exists() {
        roots.push(home);
    }
    roots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_on_disk_or_in_other_processes_during_an_exec() {
    let t = engine();
    let value = random_value(40);
    let token = secret("leak-scan", value.as_bytes());
    let seconds = unique_seconds();
    let ctr = Container::new()
        .from("busybox")
        .unwrap()
        .with_secret_variable("TOKEN", &token)
        .unwrap()
        .with_mounted_secret("/run/secrets/token", &token, None, None)
        .unwrap()
        .with_exec(&["sleep", &seconds])
        .unwrap();
    let engine = t.engine.clone();
    let running = tokio::spawn(async move { ctr.exit_code(&engine).await });
    let sleep_cmd = ["sleep", seconds.as_str()];
    assert!(wait_until(|| !processes_with_cmdline(&sleep_cmd).is_empty()));

    let roots = scan_roots(&t);
    let roots: Vec<&Path> = roots.iter().map(PathBuf::as_path).collect();

    // Control: a planted file and a planted process environment are found.
    let planted = PathBuf::from(format!("/tmp/hush-leak-control-{seconds}"));
    std::fs::write(&planted, format!("x{value}y")).unwrap();
    assert_eq!(
        files_containing(&roots, value.as_bytes()),
        vec![planted.clone()]
    );
    std::fs::remove_file(&planted).unwrap();
    let mut planted_proc = std::process::Command::new("sleep")
        .arg("600")
        .env("PLANTED", &value)
        .spawn()
        .unwrap();
    // The kernel lets `spawn` return before the child's new environment is readable, so the
    // control waits for it to appear.
    let want = vec![format!("{}/environ", planted_proc.id())];
    assert!(
        wait_until(|| host_processes_containing(value.as_bytes()) == want),
        "{:?}",
        host_processes_containing(value.as_bytes())
    );
    planted_proc.kill().unwrap();
    planted_proc.wait().unwrap();

    // The real scan, while the exec sleeps.
    assert_eq!(
        files_containing(&roots, value.as_bytes()),
        Vec::<PathBuf>::new()
    );
    assert_eq!(
        host_processes_containing(value.as_bytes()),
        Vec::<String>::new()
    );
    // The host mount table shows none of the exec's mounts (they live in the shim's namespace).
    let own = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let state = t.home.path().to_string_lossy().into_owned();
    assert!(!own.contains(&state), "{own}");
    // The bundle (config.json), the runtime state and the secret file live on a tmpfs that
    // only the shim's mount namespace has; on the host the mount point is an empty directory.
    let shims = processes_with_cmdline(&[TESTBIN, "__shim"]);
    let mut private_tmpfs = 0;
    for shim in &shims {
        // Shims of other tests may come and go meanwhile.
        let Ok(info) = std::fs::read_to_string(format!("/proc/{shim}/mountinfo")) else {
            continue;
        };
        for line in info.lines().filter(|l| l.contains(&state)) {
            let (left, right) = line.split_once(" - ").unwrap();
            let point = left.split(' ').nth(4).unwrap();
            if !right.starts_with("tmpfs ") {
                continue;
            }
            private_tmpfs += 1;
            let host_view: Vec<_> = std::fs::read_dir(point).unwrap().collect();
            assert!(host_view.is_empty(), "{point} is not empty on the host");
            let inside = format!("/proc/{shim}/root{point}");
            let config = std::fs::read(format!("{inside}/b/config.json")).unwrap();
            assert!(
                contains(&config, value.as_bytes()),
                "control: config.json holds it"
            );
            assert!(std::path::Path::new(&format!("{inside}/s")).is_dir());
            assert_eq!(
                std::fs::read(format!("{inside}/k/0")).unwrap(),
                value.as_bytes()
            );
        }
    }
    assert_eq!(private_tmpfs, 1, "shims {shims:?}");
    // The exec itself does have the value (so the process scan looks at the right place).
    let pids = processes_with_cmdline(&sleep_cmd);
    assert!(any_process_environ_containing(&pids, value.as_bytes()));

    for pid in pids {
        // SAFETY: signalling a process by pid.
        unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
    }
    assert_eq!(running.await.unwrap().unwrap(), 137);
    assert_eq!(
        files_containing(&roots, value.as_bytes()),
        Vec::<PathBuf>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_execs_see_only_their_own_secrets() {
    let t = engine();
    let values: Vec<String> = (0..20).map(|_| random_value(32)).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, value) in values.iter().enumerate() {
        let token = secret(&format!("concurrent-{i}"), value.as_bytes());
        let ctr = Container::new()
            .from("busybox")
            .unwrap()
            .with_secret_variable("TOKEN", &token)
            .unwrap()
            .with_mounted_secret("/run/secrets/token", &token, None, None)
            .unwrap()
            .with_exec(&[
                "sh",
                "-c",
                "printf %s \"$TOKEN\" | sha256sum; sha256sum < /run/secrets/token; echo $TOKEN",
            ])
            .unwrap();
        let engine = t.engine.clone();
        tasks.spawn(async move { (i, ctr.stdout(&engine).await) });
    }
    let mut seen = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, out) = joined.unwrap();
        let hash = sha256_hex(values[i].as_bytes());
        assert_eq!(
            out.unwrap(),
            format!("{hash}  -\n{hash}  -\n***\n"),
            "exec {i}"
        );
        seen += 1;
    }
    assert_eq!(seen, 20);
}
