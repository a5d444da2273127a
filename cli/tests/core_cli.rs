//! `hush core`: the API chain on the command line, on a real OCI runtime, with a busybox image
//! built from Debian's busybox-static by `scripts/busybox-rootfs.sh`.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;

use common::{hush, import_busybox, text};

const SECRET: &str = "core-cli-secret-Vw27";

/// A HUSH_HOME with the busybox image imported, shared by the tests of this file.
fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let home = tempfile::tempdir().unwrap();
        import_busybox(home.path());
        home
    })
    .path()
}

fn core(args: &[&str]) -> Output {
    let mut all = vec!["core"];
    all.extend_from_slice(args);
    hush(home(), &all, &[("CORE_CLI_TOKEN", SECRET)])
}

#[test]
fn seed_example_prints_the_secret_scrubbed() {
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-secret-variable",
        "--name=MY_SECRET",
        "--secret=env://CORE_CLI_TOKEN",
        "with-exec",
        "--args=sh,-c,echo this is the secret: $MY_SECRET",
        "stdout",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "this is the secret: ***\n");
}

#[test]
fn the_process_sees_the_real_value() {
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-secret-variable",
        "--name=S",
        "--secret=env://CORE_CLI_TOKEN",
        "with-exec",
        "--args=sh,-c,printf %s \"$S\" | wc -c; printf %s \"$S\" | sha256sum",
        "stdout",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let expected = Command::new("sh")
        .args(["-c", "printf %s \"$S\" | sha256sum"])
        .env("S", SECRET)
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("{}\n{}", SECRET.len(), text(&expected.stdout))
    );
}

#[test]
fn mounted_secret_owner_and_mode_through_the_chain() {
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-mounted-secret",
        "--path=/run/secrets/token",
        "--source=env://CORE_CLI_TOKEN",
        "--owner=ci",
        "--mode=0o440",
        "with-exec",
        "--args=sh,-c,stat -c %u:%g:%a /run/secrets/token; cat /run/secrets/token",
        "stdout",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "1000:1000:440\n***");
}

#[test]
fn files_directories_and_exit_codes() {
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-new-file",
        "--path=/work/a.txt",
        "--contents=hello",
        "with-exec",
        "--args=sh,-c,echo $CORE > /work/b.txt",
        "directory",
        "--path=/work",
        "entries",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "a.txt\nb.txt\n");
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-exec",
        "--args=sh,-c,exit 3",
        "exit-code",
    ]);
    assert_eq!(text(&out.stdout), "3\n");
}

#[test]
fn a_failing_exec_is_a_work_error_with_scrubbed_stderr() {
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-secret-variable",
        "--name=S",
        "--secret=env://CORE_CLI_TOKEN",
        "with-exec",
        "--args=sh,-c,echo bad $S >&2; exit 4",
        "stdout",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("exited with code 4"), "{stderr}");
    assert!(stderr.contains("bad ***"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}

#[test]
fn bad_chains_are_usage_errors_and_missing_images_work_errors() {
    let out = core(&["container", "frm", "--address=busybox", "stdout"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Container has no field \"frm\""));
    let out = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-mounted-secret",
        "--path=relative/path",
        "--source=env://CORE_CLI_TOKEN",
        "sync",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("\"relative/path\" must be an absolute path"));
    let out = core(&[
        "container",
        "from",
        "--address=no-such-image",
        "with-exec",
        "--args=true",
        "stdout",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-image"),
        "{}",
        text(&out.stderr)
    );
    let out = core(&["secret", "--uri=env://CORE_CLI_UNSET", "name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("\"CORE_CLI_UNSET\" is not set"));
}

#[test]
fn help_and_secret_results_never_show_plaintext() {
    let out = core(&["container", "with-mounted-secret", "--help"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("--owner String"));
    let out = core(&["secret", "--uri=env://CORE_CLI_TOKEN", "plaintext"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "***",
        "every byte hush shows is scrubbed"
    );
    let out = core(&[
        "set-secret",
        "--name=gh",
        "--plaintext=set-secret-value-1",
        "name",
    ]);
    assert_eq!(text(&out.stdout), "gh");
}

#[test]
fn cache_volumes_are_named_by_key_on_the_command_line() {
    let run = |n: &str| {
        core(&[
            "container",
            "from",
            "--address=busybox",
            "with-mounted-cache",
            "--path=/cache",
            "--cache=core-cli-volume",
            "with-exec",
            &format!("--args=sh,-c,echo {n} >> /cache/runs; cat /cache/runs"),
            "stdout",
        ])
    };
    let first = run("1");
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(text(&first.stdout), "1\n");
    let second = run("2");
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert_eq!(text(&second.stdout), "1\n2\n");
    // A secret written into the volume fails the call, names the secret, and is removed.
    let leak = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-mounted-cache",
        "--path=/cache",
        "--cache=core-cli-volume",
        "with-secret-variable",
        "--name=S",
        "--secret=env://CORE_CLI_TOKEN",
        "with-exec",
        "--args=sh,-c,echo $S > /cache/token",
        "sync",
    ]);
    assert!(!leak.status.success());
    let err = text(&leak.stderr);
    assert!(
        err.contains("secret env://CORE_CLI_TOKEN was written to /token"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    let after = run("3");
    assert_eq!(text(&after.stdout), "1\n2\n3\n");
    let listed = core(&[
        "container",
        "from",
        "--address=busybox",
        "with-mounted-cache",
        "--path=/cache",
        "--cache=core-cli-volume",
        "with-exec",
        "--args=ls,/cache",
        "stdout",
    ]);
    assert_eq!(text(&listed.stdout), "runs\n");
}

#[test]
fn a_failing_secret_is_scrubbed_of_secrets_named_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later");
    std::fs::write(&later, "later-file-secret-Jm52").unwrap();
    let failing = format!("--secret=cmd://cat {} >&2; exit 3", later.display());
    let named = format!("--secret=file://{}", later.display());
    let chain = |a: [&str; 2]| {
        core(&[
            "container",
            "from",
            "--address=busybox",
            "with-secret-variable",
            "--name=B",
            &failing,
            a[0],
            "--name=A",
            a[1],
            "with-exec",
            "--args=true",
            "stdout",
        ])
    };
    let out = chain(["with-secret-variable", &named]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exited with code 3; stderr: ***"),
        "{stderr}"
    );
    assert!(!stderr.contains("later-file-secret-Jm52"), "{stderr}");
    // Also when the later secret sits in a nested chain of a later argument.
    let out = core(&[
        "container",
        "with-secret-variable",
        "--name=B",
        &failing,
        "with-mounted-secret",
        "--path=/s",
        &named.replace("--secret=", "--source="),
        "stdout",
    ]);
    assert!(
        !text(&out.stderr).contains("later-file-secret-Jm52"),
        "{}",
        text(&out.stderr)
    );
    // Control: the same value passed as a plain variable is not a secret and is shown.
    let out = chain(["with-env-variable", "--value=later-file-secret-Jm52"]);
    assert!(
        text(&out.stderr).contains("stderr: later-file-secret-Jm52"),
        "{}",
        text(&out.stderr)
    );
}
