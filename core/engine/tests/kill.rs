//! SIGKILL of the process running an exec leaves no container process and no mount behind.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

#[test]
fn sigkill_mid_exec_leaves_no_container_and_no_mount() {
    let state = tempfile::Builder::new()
        .prefix("hush-engine-kill")
        .tempdir()
        .unwrap();
    let state_path = state.path().to_string_lossy().into_owned();
    let value = random_value(40);
    let seconds = unique_seconds();
    let mut driver = Command::new(TESTBIN)
        .args(["run", &state_path])
        .arg(busybox_rootfs())
        .arg(&seconds)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    driver
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let sleep_cmd = ["sleep", seconds.as_str()];
    assert!(
        wait_until(|| !processes_with_cmdline(&sleep_cmd).is_empty()),
        "the exec never started"
    );
    // Control: while it runs, the exec's mounts are visible in some process's mount table
    // and the container holds the value, so the checks below can fail.
    assert!(!mounts_mentioning(&state_path).is_empty());
    assert!(!host_processes_containing(state_path.as_bytes()).is_empty());
    assert!(any_process_environ_containing(
        &processes_with_cmdline(&sleep_cmd),
        value.as_bytes()
    ));

    driver.kill().unwrap();
    driver.wait().unwrap();

    // The runtime's command line names the state directory; the shim's mount table does.
    let gone = wait_until(|| {
        processes_with_cmdline(&sleep_cmd).is_empty()
            && host_processes_containing(state_path.as_bytes()).is_empty()
            && mounts_mentioning(&state_path).is_empty()
    });
    assert!(
        gone,
        "left behind: container {:?}, runtime {:?}, mounts {:?}",
        processes_with_cmdline(&sleep_cmd),
        host_processes_containing(state_path.as_bytes()),
        mounts_mentioning(&state_path)
    );
    let holders: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    assert!(!any_process_environ_containing(&holders, value.as_bytes()));
    assert!(files_containing(&[state.path()], value.as_bytes()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_an_exec_midway_kills_its_container() {
    let t = engine();
    let seconds = unique_seconds();
    let ctr = hush_engine::Container::new()
        .from("busybox")
        .unwrap()
        .with_exec(&["sleep", &seconds])
        .unwrap();
    let engine = t.engine.clone();
    let task = tokio::spawn(async move { ctr.sync(&engine).await });
    let sleep_cmd = ["sleep", seconds.as_str()];
    assert!(wait_until(|| !processes_with_cmdline(&sleep_cmd).is_empty()));
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    let state = t.home.path().to_string_lossy().into_owned();
    assert!(
        wait_until(|| processes_with_cmdline(&sleep_cmd).is_empty()
            && mounts_mentioning(&state).is_empty()),
        "left behind: container {:?}, mounts {:?}",
        processes_with_cmdline(&sleep_cmd),
        mounts_mentioning(&state)
    );
}
