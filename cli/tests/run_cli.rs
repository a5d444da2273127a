//! `hush run`, run as a user would: the built binary, real child processes.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

const SECRET: &str = "Zq8-secret-value-41d";

fn hush_run(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hush"));
    cmd.arg("run").args(args).env("HUSH_HOME", home.path());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).output().expect("hush runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn sh(script: &str) -> Vec<&str> {
    vec![
        "--secret-variable",
        "S=env://HUSH_RUN_TEST_SECRET",
        "--",
        "sh",
        "-c",
        script,
    ]
}

#[test]
fn secret_split_across_writes_with_pauses_is_scrubbed() {
    let out = hush_run(
        &[("HUSH_RUN_TEST_SECRET", SECRET)],
        &sh("printf 'before Zq8-sec'; sleep 0.3; printf 'ret-val'; sleep 0.3; printf 'ue-41d after\\n'"),
    );
    assert_eq!(text(&out.stdout), "before *** after\n");
    assert!(out.status.success());
}

#[test]
fn encoded_forms_are_scrubbed() {
    let script = r#"printf '%s' "$S" | base64;
        printf '%s' "x$S" | base64;
        printf '%s' "$S" | od -An -v -tx1 | tr -d ' \n'; echo;
        printf '%s' "$S" | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F; echo;
        python3 -c 'import json,os; print(json.dumps(os.environ["S"]))';
        python3 -c 'import os,urllib.parse; print(urllib.parse.quote(os.environ["S"], safe=""))'"#;
    let value = "pa\"ss word/with\nnewline+=&?";
    let out = hush_run(&[("HUSH_RUN_TEST_SECRET", value)], &sh(script));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in stdout.lines() {
        assert!(
            line.contains("***"),
            "an encoded form was not scrubbed: {line:?}"
        );
    }
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    for leak in ["pa\"ss", "with", "newline"] {
        assert!(!stdout.contains(leak), "{stdout}");
    }
}

#[test]
fn pem_key_after_a_dash_is_scrubbed_whole_and_by_line() {
    let body: Vec<String> = (0..6)
        .map(|i| {
            format!("b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAM{i}wAAAAtzc2gtZW")
        })
        .collect();
    let key = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        body.join("\n")
    );
    let script = r#"printf -- '-%s' "$S"; echo "line: $(printf '%s' "$S" | sed -n 3p)""#;
    let out = hush_run(&[("HUSH_RUN_TEST_SECRET", &key)], &sh(script));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains("b3BlbnNzaC1rZXkt"), "{stdout}");
    assert!(!stdout.contains("BEGIN OPENSSH"), "{stdout}");
    assert!(stdout.starts_with("-***"), "{stdout}");
    assert!(stdout.contains("line: ***"), "{stdout}");
}

#[test]
fn stdout_and_stderr_stay_separate_and_exit_code_passes_through() {
    let out = hush_run(
        &[("HUSH_RUN_TEST_SECRET", SECRET)],
        &sh("echo out $S; echo err $S >&2; exit 7"),
    );
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(text(&out.stdout), "out ***\n");
    assert_eq!(text(&out.stderr), "err ***\n");
}

#[test]
fn consumed_env_variables_are_not_passed_on() {
    let out = hush_run(
        &[("HUSH_RUN_TEST_SECRET", SECRET)],
        &sh("echo \"S=${#S} original=${HUSH_RUN_TEST_SECRET:-unset}\""),
    );
    assert_eq!(
        text(&out.stdout),
        format!("S={} original=unset\n", SECRET.len())
    );
}

#[test]
fn secret_file_is_private_read_only_0400_and_gone_afterwards() {
    let script = r#"echo "$F"; stat -c '%a %s' "$F"; cat "$F"; echo;
        grep -q " $(dirname "$F") tmpfs ro," /proc/self/mounts && echo on-ro-tmpfs;
        (echo x > "$F") 2>/dev/null || echo write-refused"#;
    let out = hush_run(
        &[("HUSH_RUN_TEST_SECRET", SECRET)],
        &[
            "--secret-file",
            "F=env://HUSH_RUN_TEST_SECRET",
            "--",
            "sh",
            "-c",
            script,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let path = std::path::Path::new(lines[0]);
    assert_eq!(lines[1], format!("400 {}", SECRET.len()));
    assert_eq!(
        lines[2], "***",
        "the child reads the value; hush shows it scrubbed"
    );
    assert_eq!(&lines[3..], ["on-ro-tmpfs", "write-refused"]);
    assert!(!path.exists(), "the secret file outlived hush");
    assert!(
        !path.parent().unwrap().exists(),
        "the mount point outlived hush"
    );
}

#[test]
fn secret_file_is_invisible_to_other_processes_and_removed_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args([
            "run",
            "--secret-file",
            "F=env://HUSH_RUN_TEST_SECRET",
            "--",
            "sh",
            "-c",
        ])
        .arg("echo \"$F\"; exec sleep 30")
        .env("HUSH_HOME", home.path())
        .env("HUSH_RUN_TEST_SECRET", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let path = std::path::PathBuf::from(line.trim());
    assert!(
        !path.exists(),
        "the secret file is visible outside the command's namespace"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    std::thread::sleep(Duration::from_millis(100));
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn bad_arguments_are_usage_errors() {
    for (args, expected) in [
        (
            vec!["--secret-variable", "S", "--", "true"],
            "takes NAME=URI",
        ),
        (
            vec!["--secret-variable", "1S=env://X", "--", "true"],
            "not a valid environment variable name",
        ),
        (
            vec!["--secret-variable", "S=nope://x", "--", "true"],
            "unknown scheme",
        ),
        (
            vec![
                "--secret-variable",
                "S=env://A",
                "--secret-file",
                "S=env://B",
                "--",
                "true",
            ],
            "given twice",
        ),
        (vec!["--secret-variable", "S=env://A"], "COMMAND"),
    ] {
        let out = hush_run(&[], &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = hush_run(
        &[],
        &[
            "--secret-variable",
            "S=env://HUSH_RUN_TEST_UNSET",
            "--",
            "true",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn output_on_a_terminal_goes_through_a_pty() {
    // `script` gives hush a terminal; the command must see one too, and output stays scrubbed.
    let home = tempfile::tempdir().unwrap();
    let hush = env!("CARGO_BIN_EXE_hush");
    let inner = format!(
        "{hush} run --secret-variable S=env://HUSH_RUN_TEST_SECRET -- sh -c 'test -t 1 && echo tty $S'"
    );
    let out = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("HUSH_HOME", home.path())
        .env("HUSH_RUN_TEST_SECRET", SECRET)
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from util-linux runs");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tty ***"), "{stdout:?}");
    assert!(!stdout.contains(SECRET));
}
