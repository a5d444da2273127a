//! `hush secret get`, run as a user would: the built binary, a private HUSH_HOME.

use std::process::{Command, Output};

const VALUE: &str = "s3cr3t-Value-7f2a";

fn hush(args: &[&str], home: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(args)
        .env("HUSH_HOME", home)
        .env("HUSH_CLI_TEST_TOKEN", VALUE)
        .env_remove("HUSH_SECRET_MAX_BYTES")
        .output()
        .expect("hush runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn describes_without_the_value() {
    let home = tempfile::tempdir().unwrap();
    let out = hush(&["secret", "get", "env://HUSH_CLI_TEST_TOKEN"], home.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "env secret env://HUSH_CLI_TEST_TOKEN: 17 bytes, cache digest hmac-sha256:"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains(VALUE));
    assert!(out.stderr.is_empty());
}

#[test]
fn json_has_the_documented_keys_and_a_stable_digest() {
    let home = tempfile::tempdir().unwrap();
    let get = |uri: &str| {
        let out = hush(&["secret", "get", "--json", uri], home.path());
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!text(&out.stdout).contains(VALUE));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let a = get("env://HUSH_CLI_TEST_TOKEN");
    assert_eq!(a["uri"], "env://HUSH_CLI_TEST_TOKEN");
    assert_eq!(a["provider"], "env");
    assert_eq!(a["name"], serde_json::Value::Null);
    assert_eq!(a["length"], 17);
    let same_value = get("cmd://printf %s \"$HUSH_CLI_TEST_TOKEN\"");
    assert_eq!(
        a["digest"], same_value["digest"],
        "the digest depends on the value only"
    );
    let keyed = get("env://HUSH_CLI_TEST_TOKEN?cacheKey=gh");
    assert_ne!(a["digest"], keyed["digest"]);
    let mut keys: Vec<_> = a.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["digest", "length", "name", "provider", "uri"]);
}

#[test]
fn plaintext_writes_exactly_the_bytes() {
    let home = tempfile::tempdir().unwrap();
    let out = hush(
        &["secret", "get", "--plaintext", "cmd://printf 'a\\nb\\n\\n'"],
        home.path(),
    );
    assert!(out.status.success());
    assert_eq!(
        out.stdout, b"a\nb",
        "cmd:// trims trailing newlines like $(...)"
    );
    let out = hush(
        &[
            "secret",
            "get",
            "--plaintext",
            "cmd://printf 'a\\n'?trim=none",
        ],
        home.path(),
    );
    assert_eq!(out.stdout, b"a\n");
}

#[test]
fn unresolvable_secret_exits_1_with_one_sentence() {
    let home = tempfile::tempdir().unwrap();
    let out = hush(
        &["secret", "get", "env://HUSH_CLI_TEST_MISSING"],
        home.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "hush: secret \"env://HUSH_CLI_TEST_MISSING\" not found: environment variable \"HUSH_CLI_TEST_MISSING\" is not set\n"
    );
}

#[test]
fn failing_command_error_has_code_and_stderr_never_the_value() {
    let home = tempfile::tempdir().unwrap();
    let uri = "cmd://printf %s \"$HUSH_CLI_TEST_TOKEN\"; echo \"auth failed for $HUSH_CLI_TEST_TOKEN\" >&2; exit 4";
    let out = hush(&["secret", "get", uri], home.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("command exited with code 4; stderr: auth failed for ***"),
        "{stderr}"
    );
    assert!(!stderr.contains(VALUE), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["secret", "get", "HUSH_CLI_TEST_TOKEN"],
            "expected SCHEME://ADDRESS",
        ),
        (vec!["secret", "get", "nope://x"], "unknown scheme \"nope\""),
        (
            vec!["secret", "get", "env://X?color=red"],
            "unknown parameter \"color\"",
        ),
        (vec!["secret", "get"], "URI"),
        (
            vec!["secret", "get", "--plaintext", "--json", "env://X"],
            "cannot be used with",
        ),
    ] {
        let out = hush(&args, home.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn size_limit_is_configurable() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hush"))
        .args(["secret", "get", "cmd://head -c 100 /dev/zero"])
        .env("HUSH_HOME", home.path())
        .env("HUSH_SECRET_MAX_BYTES", "99")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is larger than the limit of 99 bytes"));
}

#[test]
fn mac_key_is_created_private_on_first_use() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let home = home.path().join("fresh");
    assert!(hush(&["secret", "get", "env://HUSH_CLI_TEST_TOKEN"], &home)
        .status
        .success());
    let key = std::fs::metadata(home.join("mac.key")).unwrap();
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    assert_eq!(key.len(), 32);
}

#[test]
fn uri_query_values_are_masked_in_errors_and_descriptions() {
    let home = tempfile::tempdir().unwrap();
    let canary = "AIzaCanary123";
    for key in ["key", "pwd", "private_key", "session", "token", "code"] {
        let uri = format!("env://HOME?{key}={canary}");
        let out = hush(&["secret", "get", &uri], home.path());
        assert_eq!(out.status.code(), Some(2), "{key}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(&format!("{key}=***")), "{key}: {stderr}");
        assert!(!stderr.contains(canary), "{key}: {stderr}");
    }
    // Control: the same check finds a planted value in parameters that are shown (cmd://'s
    // timeout and the cacheKey label).
    let uri = format!("cmd://echo hi?timeout=5s&cacheKey={canary}");
    let out = hush(&["secret", "get", &uri], home.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("timeout=5s&cacheKey={canary}")));
}
