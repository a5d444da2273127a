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
    assert!(any_process_environ_containing(
        &processes_with_cmdline(&sleep_cmd),
        value.as_bytes()
    ));

    driver.kill().unwrap();
    driver.wait().unwrap();

    let gone = wait_until(|| {
        processes_with_cmdline(&sleep_cmd).is_empty()
            && mounts_mentioning(&state_path).is_empty()
            && processes_with_cmdline(&[TESTBIN, "__shim"]).is_empty()
    });
    assert!(
        gone,
        "left behind: container {:?}, shims {:?}, mounts {:?}",
        processes_with_cmdline(&sleep_cmd),
        processes_with_cmdline(&[TESTBIN, "__shim"]),
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
