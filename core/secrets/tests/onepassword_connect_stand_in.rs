//! The `op://` provider against stand-ins, since neither a 1Password Connect server nor the
//! 1Password CLI can run on the machines these tests run on:
//!
//! - a stand-in for the Connect server's REST API, served by the test on 127.0.0.1: vault
//!   lookup by name (`GET /v1/vaults?filter=name eq "..."`), item lookup by title, full items
//!   with `fields[]` and `sections[]`, bearer-token checks answering 401, and 404s;
//! - a stand-in `op` shell script put on a temporary PATH, which checks its argv and answers
//!   `op read --no-newline REFERENCE` on stdout (or fails like the real CLI on stderr).

// Each test file uses its own part of the shared stand-in server.
#[allow(dead_code)]
mod stand_in;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hush_secrets::providers::{OpConfig, OpProvider};
use hush_secrets::{
    ErrorKind, Failure, Provider, Registry, ResolveContext, SecretStore, SecretUri,
};
use serde_json::{json, Value};
use stand_in::{Reply, Request, Server};
use zeroize::Zeroizing;

const CONNECT_TOKEN: &str = "stand-in-connect-token-3f9a";
const VAULT_ID: &str = "abcdefghijklmnopqrstuvwxyz";
const DB_ID: &str = "zyxwvutsrqponmlkjihgfedcb2";
const WEB_ID: &str = "0123456789abcdefghijklmnop";
const ESCAPED_VALUE: &str = "quote\" backslash\\ newline\n emoji😀";

/// The stand-in's items, full.
fn items() -> Vec<Value> {
    vec![
        json!({
            "id": DB_ID, "title": "db", "vault": { "id": VAULT_ID }, "category": "DATABASE",
            "sections": [
                { "id": "admin-section", "label": "admin" },
                { "id": "app-section", "label": "app" },
            ],
            "fields": [
                { "id": "username", "type": "STRING", "label": "username",
                  "value": "db-user-value" },
                { "id": "password", "type": "CONCEALED", "purpose": "PASSWORD",
                  "label": "password", "value": "db-password-value" },
                { "id": "adminpw", "type": "CONCEALED", "label": "password",
                  "section": { "id": "admin-section" }, "value": "admin-password-value" },
                { "id": "apptoken", "type": "CONCEALED", "label": "token",
                  "section": { "id": "app-section" }, "value": "app-token-value" },
                { "id": "note1", "type": "STRING", "label": "note",
                  "section": { "id": "admin-section" }, "value": "note-one-value" },
                { "id": "note2", "type": "STRING", "label": "note",
                  "section": { "id": "app-section" }, "value": "note-two-value" },
                { "id": "empty", "type": "STRING", "label": "empty" },
                { "id": "big", "type": "STRING", "label": "big", "value": "z".repeat(3000) },
            ],
        }),
        json!({
            "id": WEB_ID, "title": "Web Login", "vault": { "id": VAULT_ID }, "category": "LOGIN",
            "fields": [
                { "id": "username", "label": "username", "value": "me@example.com" },
                { "id": "password", "label": "password", "value": ESCAPED_VALUE },
            ],
        }),
    ]
}

/// The value of a `KEY eq "VALUE"` filter.
fn filter(r: &Request, key: &str) -> Option<String> {
    let expr = r.param("filter")?;
    let quoted = expr
        .strip_prefix(&format!("{key} eq \""))?
        .strip_suffix('"')?;
    Some(quoted.replace("\\\"", "\"").replace("\\\\", "\\"))
}

/// A stand-in 1Password Connect server.
fn connect_handler(slow: Duration) -> impl Fn(&Request) -> Reply + Send + Sync + 'static {
    move |r: &Request| {
        if r.header("authorization") != Some(&format!("Bearer {CONNECT_TOKEN}")) {
            return Reply::json(
                401,
                json!({ "status": 401, "message": "Invalid token signature" }),
            );
        }
        let not_found = |what: &str| {
            Reply::json(
                404,
                json!({ "status": 404, "message": format!("{what} not found") }),
            )
        };
        let path = r.path.strip_prefix("/v1/").unwrap_or_default();
        let parts: Vec<&str> = path.split('/').collect();
        let reply = match parts[..] {
            ["vaults"] => {
                let vaults = [json!({ "id": VAULT_ID, "name": "Dev", "type": "USER_CREATED" })];
                let wanted = filter(r, "name");
                let found: Vec<&Value> = vaults
                    .iter()
                    .filter(|v| wanted.as_deref().is_none_or(|n| v["name"] == n))
                    .collect();
                Reply::json(200, json!(found))
            }
            ["vaults", vault, "items"] if vault == VAULT_ID => {
                let wanted = filter(r, "title");
                let found: Vec<Value> = items()
                    .iter()
                    .filter(|i| wanted.as_deref().is_none_or(|t| i["title"] == t))
                    .map(|i| json!({ "id": i["id"], "title": i["title"], "vault": i["vault"] }))
                    .collect();
                Reply::json(200, json!(found))
            }
            ["vaults", vault, "items", item] if vault == VAULT_ID => {
                match items().into_iter().find(|i| i["id"] == item) {
                    Some(full) => Reply::json(200, full),
                    None => not_found("item"),
                }
            }
            ["vaults", ..] => not_found("vault"),
            _ => not_found("path"),
        };
        reply.after(slow)
    }
}

async fn start(slow: Duration) -> Server {
    stand_in::serve(connect_handler(slow), None).await
}

fn connect_config(server: &Server) -> OpConfig {
    OpConfig {
        connect_host: Some(server.url.clone()),
        connect_token: Some(Zeroizing::new(CONNECT_TOKEN.into())),
        ..OpConfig::default()
    }
}

async fn read(provider: &OpProvider, raw: &str, limit: usize) -> Result<Vec<u8>, Failure> {
    let uri = SecretUri::parse(raw).unwrap();
    provider.check(&uri).unwrap();
    let credentials = SecretStore::new(Registry::new(), limit).credentials();
    let ctx = ResolveContext { limit, credentials };
    let value = provider.resolve(&uri, &ctx).await?;
    Ok(value.expose().to_vec())
}

#[tokio::test]
async fn op_connect_stand_in_reads_a_field_by_vault_and_item_names() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    assert_eq!(
        read(&provider, "op://Dev/db/username", 1000).await.unwrap(),
        b"db-user-value"
    );
    let requests = server.requests();
    assert_eq!(
        server.paths(),
        [
            "GET /v1/vaults".to_string(),
            format!("GET /v1/vaults/{VAULT_ID}/items"),
            format!("GET /v1/vaults/{VAULT_ID}/items/{DB_ID}"),
        ]
    );
    assert_eq!(requests[0].param("filter"), Some("name eq \"Dev\""));
    assert_eq!(requests[1].param("filter"), Some("title eq \"db\""));
    for request in &requests {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {CONNECT_TOKEN}").as_str())
        );
    }
}

#[tokio::test]
async fn op_connect_stand_in_ids_skip_the_lookups() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    let raw = format!("op://{VAULT_ID}/{DB_ID}/password");
    assert_eq!(
        read(&provider, &raw, 1000).await.unwrap(),
        b"db-password-value"
    );
    assert_eq!(
        server.paths(),
        [format!("GET /v1/vaults/{VAULT_ID}/items/{DB_ID}")]
    );
}

#[tokio::test]
async fn op_connect_stand_in_section_form_matches_labels_or_ids() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    assert_eq!(
        read(&provider, "op://Dev/db/admin/password", 1000)
            .await
            .unwrap(),
        b"admin-password-value"
    );
    assert_eq!(
        read(&provider, "op://Dev/db/app-section/token", 1000)
            .await
            .unwrap(),
        b"app-token-value"
    );
    assert_eq!(
        read(&provider, "op://Dev/db/app/note", 1000).await.unwrap(),
        b"note-two-value"
    );
    assert_eq!(
        read(&provider, "op://Dev/db/token", 1000).await.unwrap(),
        b"app-token-value",
        "without a section, fields of every section match"
    );
}

#[tokio::test]
async fn op_connect_stand_in_field_ids_win_and_ambiguous_labels_are_errors() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    assert_eq!(
        read(&provider, "op://Dev/db/password", 1000).await.unwrap(),
        b"db-password-value",
        "the field whose id is \"password\" beats the one only labelled so"
    );
    assert_eq!(
        read(&provider, "op://Dev/db/note2", 1000).await.unwrap(),
        b"note-two-value"
    );
    let err = read(&provider, "op://Dev/db/note", 1000).await.unwrap_err();
    let Failure::Provider(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("2 fields"), "{reason}");
    assert!(reason.contains("op://VAULT/ITEM/SECTION/FIELD"), "{reason}");
    assert!(!reason.contains("note-one-value"), "{reason}");
    assert_eq!(
        read(&provider, "op://Dev/db/empty", 1000).await.unwrap(),
        b""
    );
}

#[tokio::test]
async fn op_connect_stand_in_titles_with_spaces_and_escaped_values() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    assert_eq!(
        read(&provider, "op://Dev/Web Login/password", 1000)
            .await
            .unwrap(),
        ESCAPED_VALUE.as_bytes()
    );
    assert_eq!(
        server.requests()[1].param("filter"),
        Some("title eq \"Web Login\"")
    );
}

#[tokio::test]
async fn op_connect_stand_in_missing_parts_are_not_found_and_named() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    let cases = [
        ("op://Nope/db/password", "no vault named \"Nope\""),
        (
            "op://Dev/nope/password",
            "no item titled \"nope\" in vault \"Dev\"",
        ),
        (
            "op://Dev/db/nope",
            "item \"db\" in vault \"Dev\" has no field \"nope\" (its fields: \"username\"",
        ),
        (
            "op://Dev/db/nosection/password",
            "has no section \"nosection\" (its sections: \"admin\", \"app\")",
        ),
        (
            "op://Dev/db/admin/token",
            "section \"admin\" of the item \"db\" in vault \"Dev\" has no field \"token\"",
        ),
        (
            "op://zzzzzzzzzzzzzzzzzzzzzzzzzz/db/password",
            "(404: vault not found)",
        ),
        (
            "op://Dev/zzzzzzzzzzzzzzzzzzzzzzzzzz/password",
            "(404: item not found)",
        ),
    ];
    for (raw, expected) in cases {
        let err = read(&provider, raw, 1000).await.unwrap_err();
        let Failure::NotFound(reason) = &err else {
            panic!("{raw}: {err:?}")
        };
        assert!(reason.contains(expected), "{raw}: {reason}");
        stand_in::assert_hidden(
            std::slice::from_ref(reason),
            &["db-user-value", "db-password-value", "admin-password-value"],
        );
    }
}

#[tokio::test]
async fn op_connect_stand_in_bad_token_is_permission_denied() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(OpConfig {
        connect_token: Some(Zeroizing::new("wrong-connect-token-value".into())),
        ..connect_config(&server)
    });
    let err = read(&provider, "op://Dev/db/password", 1000)
        .await
        .unwrap_err();
    let Failure::PermissionDenied(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("(401: Invalid token signature)"),
        "{reason}"
    );
    assert!(
        reason.contains("1Password Connect at http://127.0.0.1:"),
        "{reason}"
    );
}

#[tokio::test]
async fn op_connect_stand_in_slow_server_times_out() {
    let server = start(Duration::from_secs(5)).await;
    let provider = OpProvider::new(OpConfig {
        request_timeout: Duration::from_millis(300),
        ..connect_config(&server)
    });
    let started = std::time::Instant::now();
    let err = read(&provider, "op://Dev/db/password", 1000)
        .await
        .unwrap_err();
    assert_eq!(err, Failure::Timeout(Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn op_connect_closed_port_is_unreachable() {
    let port = stand_in::closed_port().await;
    let provider = OpProvider::new(OpConfig {
        connect_host: Some(format!("http://127.0.0.1:{port}")),
        connect_token: Some(Zeroizing::new(CONNECT_TOKEN.into())),
        ..OpConfig::default()
    });
    let err = read(&provider, "op://Dev/db/password", 1000)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Failure::Unreachable(r) if r.starts_with("cannot connect to 1Password Connect")),
        "{err:?}"
    );
}

#[tokio::test]
async fn op_connect_stand_in_values_past_the_limit_are_too_large() {
    let server = start(Duration::ZERO).await;
    let provider = OpProvider::new(connect_config(&server));
    assert_eq!(
        read(&provider, "op://Dev/db/big", 3000)
            .await
            .unwrap()
            .len(),
        3000
    );
    assert_eq!(
        read(&provider, "op://Dev/db/big", 2999).await.unwrap_err(),
        Failure::TooLarge
    );
}

/// The stand-in `op` CLI (the real one cannot be installed on the test machines). It checks
/// that it is called as `op read --no-newline REFERENCE`, logs its argv, and answers the
/// references the tests use like the real CLI: the value on stdout, errors on stderr.
const OP_STAND_IN: &str = r#"#!/bin/sh
dir=$(dirname "$0")
printf '%s\n' "$@" > "$dir/argv-$(printf '%s' "$3" | tr -c 'A-Za-z0-9' '_')"
if [ "$#" -ne 3 ] || [ "$1" != read ] || [ "$2" != --no-newline ]; then
  echo "[ERROR] stand-in: unexpected arguments: $*" >&2
  exit 64
fi
case "$3" in
  'op://Dev/db/password') printf 'cli-secret-value' ;;
  'op://Dev/db/admin/password') printf 'cli-admin-value' ;;
  'op://Dev/nope/password')
    echo "[ERROR] 2024/05/01 12:00:00 could not read secret 'op://Dev/nope/password': \"nope\" isn't an item in the \"Dev\" vault. Specify the item with its UUID, name, or domain." >&2
    exit 1 ;;
  'op://Dev/signed-out/password')
    echo "[ERROR] 2024/05/01 12:00:00 You are not currently signed in. Please run \`op signin --help\` for instructions" >&2
    exit 1 ;;
  'op://Dev/echo/password')
    printf 'echoed-cli-value'
    echo "[ERROR] unexpected failure after reading echoed-cli-value" >&2
    exit 3 ;;
  'op://Dev/slow/password')
    (sleep 1; touch "$dir/slow-survived") &
    sleep 5
    printf 'too-late' ;;
  *)
    echo "[ERROR] stand-in: unknown reference $3" >&2
    exit 1 ;;
esac
"#;

/// The directory holding the stand-in `op`. It is written once, before any test can run it,
/// so that no concurrently forked child holds it open for writing ("text file busy").
fn cli_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("op-cli-stand-in");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("op");
        std::fs::write(&script, OP_STAND_IN).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
}

/// A configuration whose PATH has an empty directory, then the stand-in's.
fn cli_config(empty: &Path) -> OpConfig {
    OpConfig {
        search_path: Some(std::env::join_paths([empty, cli_dir()]).unwrap()),
        ..OpConfig::default()
    }
}

#[tokio::test]
async fn op_cli_stand_in_value_comes_from_stdout_and_the_reference_from_argv() {
    let empty = tempfile::tempdir().unwrap();
    let provider = OpProvider::new(cli_config(empty.path()));
    assert_eq!(
        read(&provider, "op://Dev/db/password", 1000).await.unwrap(),
        b"cli-secret-value"
    );
    assert_eq!(
        read(&provider, "op://Dev/db/admin/password", 1000)
            .await
            .unwrap(),
        b"cli-admin-value"
    );
    let argv = std::fs::read_to_string(cli_dir().join("argv-op___Dev_db_password")).unwrap();
    assert_eq!(argv, "read\n--no-newline\nop://Dev/db/password\n");
}

#[tokio::test]
async fn op_cli_stand_in_failures_keep_exit_code_and_stderr_mapped_to_kinds() {
    let empty = tempfile::tempdir().unwrap();
    let provider = OpProvider::new(cli_config(empty.path()));
    let err = read(&provider, "op://Dev/nope/password", 1000)
        .await
        .unwrap_err();
    let Failure::NotFound(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.starts_with("`op read op://Dev/nope/password` exited with code 1; stderr: [ERROR]"),
        "{reason}"
    );
    assert!(
        reason.contains("isn't an item in the \"Dev\" vault"),
        "{reason}"
    );

    let err = read(&provider, "op://Dev/signed-out/password", 1000)
        .await
        .unwrap_err();
    assert!(matches!(err, Failure::PermissionDenied(_)), "{err:?}");

    let err = read(&provider, "op://Dev/echo/password", 1000)
        .await
        .unwrap_err();
    let Failure::Provider(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(reason.ends_with("after reading ***"), "{reason}");
    assert!(!reason.contains("echoed-cli-value"), "{reason}");
}

#[tokio::test]
async fn op_cli_stand_in_timeout_kills_the_process_group() {
    let empty = tempfile::tempdir().unwrap();
    let provider = OpProvider::new(OpConfig {
        cli_timeout: Duration::from_millis(300),
        ..cli_config(empty.path())
    });
    let marker = cli_dir().join("slow-survived");
    let _ = std::fs::remove_file(&marker);
    let started = std::time::Instant::now();
    let err = read(&provider, "op://Dev/slow/password", 1000)
        .await
        .unwrap_err();
    assert_eq!(err, Failure::Timeout(Duration::from_millis(300)));
    assert!(started.elapsed() < Duration::from_secs(3));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!marker.exists(), "a child of the timed-out op kept running");
}

#[tokio::test]
async fn op_connect_is_preferred_over_the_cli() {
    let server = start(Duration::ZERO).await;
    let empty = tempfile::tempdir().unwrap();
    let provider = OpProvider::new(OpConfig {
        search_path: cli_config(empty.path()).search_path,
        ..connect_config(&server)
    });
    assert_eq!(
        read(&provider, "op://Dev/db/password", 1000).await.unwrap(),
        b"db-password-value"
    );
}

#[tokio::test]
async fn op_without_connect_or_cli_says_what_to_set() {
    let empty = tempfile::tempdir().unwrap();
    let provider = OpProvider::new(OpConfig {
        search_path: Some(OsString::from(empty.path())),
        ..OpConfig::default()
    });
    let err = read(&provider, "op://Dev/db/password", 1000)
        .await
        .unwrap_err();
    let Failure::Provider(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("OP_CONNECT_HOST and OP_CONNECT_TOKEN"),
        "{reason}"
    );
    assert!(
        reason.contains("(OP_CONNECT_HOST and OP_CONNECT_TOKEN not set)"),
        "{reason}"
    );
    assert!(reason.contains("CLI `op` on PATH"), "{reason}");
}

#[test]
fn op_uris_need_three_or_four_parts() {
    let registry = Registry::builtin();
    assert!(registry.schemes().any(|s| s == "op"));
    for raw in ["op://Dev/db", "op://Dev//password", "op://a/b/c/d/e"] {
        let err = registry.parse(raw).map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUri, "{raw}: {err}");
    }
    assert!(registry.parse("op://Dev/db/password?ttl=5m").is_ok());
    assert!(registry.parse("op://Dev/db/admin/password").is_ok());
}

#[tokio::test]
async fn op_errors_and_debug_never_show_values_or_tokens() {
    let server = start(Duration::ZERO).await;
    let empty = tempfile::tempdir().unwrap();
    let values = [
        CONNECT_TOKEN,
        "wrong-connect-token-value",
        "db-user-value",
        "db-password-value",
        "admin-password-value",
        "note-one-value",
        "note-two-value",
        "zzzzzzzzzz",
        "echoed-cli-value",
    ];
    let store_with = |config: OpConfig| {
        let provider = Arc::new(OpProvider::new(config));
        let mut registry = Registry::new();
        registry.register(provider.clone());
        (SecretStore::new(registry, 1000), provider)
    };
    let mut texts = Vec::new();
    let (store, provider) = store_with(connect_config(&server));
    let secret = store.resolve("op://Dev/db/password").await.unwrap();
    texts.push(format!("{secret:?} {secret} {provider:?}"));
    for raw in [
        "op://Dev/db/nope",
        "op://Dev/db/note",
        "op://Dev/db/big",
        "op://Dev/db/nosection/password",
    ] {
        let err = store.resolve(raw).await.unwrap_err();
        texts.push(format!("{err} {err:?}"));
    }
    let wrong = OpConfig {
        connect_token: Some(Zeroizing::new("wrong-connect-token-value".into())),
        ..connect_config(&server)
    };
    texts.push(format!("{wrong:?}"));
    let (store, provider) = store_with(wrong);
    let err = store.resolve("op://Dev/db/password").await.unwrap_err();
    texts.push(format!("{err} {err:?} {provider:?}"));
    let (store, _) = store_with(cli_config(empty.path()));
    let err = store.resolve("op://Dev/echo/password").await.unwrap_err();
    texts.push(format!("{err} {err:?}"));
    assert_eq!(texts.len(), 8);
    stand_in::assert_hidden(&texts, &values);
}

#[tokio::test]
async fn op_connect_stand_in_token_is_registered_before_it_is_sent() {
    let server = Arc::new(start(Duration::ZERO).await);
    let provider = Arc::new(OpProvider::new(connect_config(&server)));
    let mut registry = Registry::new();
    registry.register(provider);
    let store = SecretStore::new(registry, 1000);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (sink, log) = (seen.clone(), server.clone());
    store.observe(Arc::new(move |secret: &hush_secrets::Secret| {
        if secret.provider() != "credential" {
            return;
        }
        let bearer = format!("Bearer {}", String::from_utf8_lossy(secret.expose()));
        let sent = log
            .requests()
            .iter()
            .any(|r| r.header("authorization") == Some(bearer.as_str()));
        sink.lock()
            .unwrap()
            .push((secret.label(), secret.provider().to_owned(), sent));
    }));
    store.resolve("op://Dev/db/username").await.unwrap();
    store
        .resolve("op://Dev/db/username?trim=space")
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            "OP_CONNECT_TOKEN".to_owned(),
            "credential".to_owned(),
            false
        )]
    );
    // Control: the recorder does see a value the server was sent before.
    store
        .credentials()
        .register("replayed", CONNECT_TOKEN.as_bytes());
    assert_eq!(
        seen.lock().unwrap()[1],
        ("replayed".to_owned(), "credential".to_owned(), true)
    );
}
