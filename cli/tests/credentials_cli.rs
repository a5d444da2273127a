//! The credentials hush uses itself (provider tokens, registry passwords and tokens, git URL
//! passwords, SSH keys) are secrets of the session: a server or proxy that echoes them in an
//! error body is scrubbed from everything hush shows. Each test has an echo server on
//! 127.0.0.1 and a control: a value the server echoes that is not a credential (the planted
//! names below) is shown, so the check would see the credential if it leaked.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::json;

mod common;

use common::{hush, text};

/// A name the servers echo that is no credential: it must be shown.
const PLANTED: &str = "planted-name-Kd83";

/// One request as the echo server read it.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The request's credential-carrying parts, as an echoing server writes them back.
    fn echo(&self) -> String {
        let basic = self
            .header("authorization")
            .strip_prefix("Basic ")
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        format!(
            "{} {} auth=[{}] basic=[{basic}] vault=[{}] body=[{}]",
            self.method,
            self.target,
            self.header("authorization"),
            self.header("x-vault-token"),
            self.body
        )
    }
}

/// A reply: status, extra headers, body.
type Reply = (u16, Vec<(&'static str, String)>, String);

/// Serves `handler` on 127.0.0.1 (one request per connection) until the test ends; TLS
/// attempts are closed at once, so clients fall back to plain HTTP.
fn serve(handler: impl Fn(&Request, &str) -> Reply + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handler = Arc::new(handler);
    let base = format!("http://{addr}");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (handler, base) = (handler.clone(), base.clone());
            std::thread::spawn(move || answer(stream, &*handler, &base));
        }
    });
    addr
}

fn answer(stream: TcpStream, handler: &dyn Fn(&Request, &str) -> Reply, base: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    if reader.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
        return;
    }
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let request = Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, extra, body) = handler(&request, base);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if !extra
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let _ = out.write_all(format!("{head}\r\n{body}").as_bytes());
}

/// Runs hush in a fresh HUSH_HOME with `env`, and without the provider variables of the
/// environment running the tests.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    run_in(tempfile::tempdir().unwrap().path(), args, env)
}

/// [`run`] with `home` as HUSH_HOME and HOME.
fn run_in(home: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = common::command(home, args, env);
    for var in [
        "VAULT_TOKEN",
        "VAULT_NAMESPACE",
        "VAULT_APPROLE_ROLE_ID",
        "VAULT_APPROLE_SECRET_ID",
        "OP_CONNECT_HOST",
        "OP_CONNECT_TOKEN",
        "OP_SERVICE_ACCOUNT_TOKEN",
        "DOCKER_CONFIG",
        "HUSH_REGISTRY_MIRROR",
    ] {
        if !env.iter().any(|(k, _)| *k == var) {
            cmd.env_remove(var);
        }
    }
    cmd.env("HOME", home);
    cmd.output().unwrap()
}

/// Everything hush showed.
fn shown(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// The credential is not shown; the planted name the same echo carries is (the control).
fn assert_scrubbed(out: &Output, credentials: &[&str]) {
    let shown = shown(out);
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains(PLANTED),
        "the echo did not reach the output: {shown}"
    );
    for credential in credentials {
        assert!(!shown.contains(credential), "{credential} leaked: {shown}");
    }
}

fn vault_error(r: &Request) -> Reply {
    let message = format!("denied: {}", r.echo());
    (403, vec![], json!({ "errors": [message] }).to_string())
}

#[test]
fn vault_token_echoed_by_the_server_is_scrubbed() {
    let addr = serve(|r, _| vault_error(r));
    let out = run(
        &["secret", "get", &format!("vault://kv/{PLANTED}#f")],
        &[
            ("VAULT_ADDR", &format!("http://{addr}")),
            ("VAULT_TOKEN", "hvs.vault-token-canary-31"),
        ],
    );
    assert_scrubbed(&out, &["vault-token-canary-31"]);
    // The token `vault login` left in ~/.vault-token.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join(".vault-token"),
        "hvs.token-file-canary-26\n",
    )
    .unwrap();
    let out = run_in(
        home.path(),
        &["secret", "get", &format!("vault://kv/{PLANTED}#f")],
        &[("VAULT_ADDR", &format!("http://{addr}"))],
    );
    assert_scrubbed(&out, &["token-file-canary-26"]);
}

#[test]
fn approle_ids_and_the_issued_token_echoed_are_scrubbed() {
    // The login is refused, quoting the role and secret ids.
    let addr = serve(|r, _| vault_error(r));
    let out = run(
        &["secret", "get", &format!("vault://kv/{PLANTED}#f")],
        &[
            ("VAULT_ADDR", &format!("http://{addr}")),
            ("VAULT_APPROLE_ROLE_ID", "role-id-canary-58"),
            ("VAULT_APPROLE_SECRET_ID", "secret-id-canary-77"),
        ],
    );
    assert_scrubbed(&out, &["role-id-canary-58", "secret-id-canary-77"]);
    // The login succeeds; the read is refused, quoting the token the login issued.
    let addr = serve(|r, _| {
        if r.method == "POST" && r.target.ends_with("/login") {
            let auth = json!({ "auth": { "client_token": "hvs.issued-token-canary-12" } });
            return (200, vec![], auth.to_string());
        }
        vault_error(r)
    });
    let out = run(
        &["secret", "get", &format!("vault://kv/{PLANTED}#f")],
        &[
            ("VAULT_ADDR", &format!("http://{addr}")),
            ("VAULT_APPROLE_ROLE_ID", "role-id-canary-58"),
            ("VAULT_APPROLE_SECRET_ID", "secret-id-canary-77"),
        ],
    );
    assert_scrubbed(&out, &["issued-token-canary-12", "secret-id-canary-77"]);
}

#[test]
fn onepassword_connect_token_echoed_is_scrubbed() {
    let addr = serve(|r, _| {
        let message = format!("invalid token: {}", r.echo());
        (
            401,
            vec![],
            json!({ "status": 401, "message": message }).to_string(),
        )
    });
    let out = run(
        &["secret", "get", &format!("op://{PLANTED}/item/field")],
        &[
            ("OP_CONNECT_HOST", &format!("http://{addr}")),
            ("OP_CONNECT_TOKEN", "op-connect-token-canary-44"),
        ],
    );
    assert_scrubbed(&out, &["op-connect-token-canary-44"]);
}

#[test]
fn op_cli_service_account_token_echoed_is_scrubbed() {
    let bin = tempfile::tempdir().unwrap();
    let op = bin.path().join("op");
    std::fs::write(
        &op,
        "#!/bin/sh\necho \"[ERROR] token $OP_SERVICE_ACCOUNT_TOKEN cannot read $3\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&op, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = run(
        &["secret", "get", &format!("op://{PLANTED}/item/field")],
        &[
            ("PATH", &path),
            ("OP_SERVICE_ACCOUNT_TOKEN", "ops_service-token-canary-63"),
        ],
    );
    assert_scrubbed(&out, &["service-token-canary-63"]);
}

/// A registry that wants basic auth and echoes the credentials it gets in its error.
fn basic_registry(r: &Request, _: &str) -> Reply {
    if r.header("authorization").is_empty() {
        return (
            401,
            vec![("WWW-Authenticate", "Basic realm=\"r\"".into())],
            String::new(),
        );
    }
    let errors = json!({ "errors": [{ "code": "DENIED", "message": r.echo() }] });
    (401, vec![], errors.to_string())
}

/// `hush core` pulling `ADDR/repo:1` (nothing is imported), with `env`.
fn pull(addr: &str, env: &[(&str, &str)], before: &[&str]) -> Output {
    let image = format!("--address={addr}/repo:1");
    let mut args = vec!["core", "container"];
    args.extend_from_slice(before);
    args.extend_from_slice(&["from", &image, "with-exec", "--args=true", "stdout"]);
    run(&args, env)
}

#[test]
fn registry_passwords_from_docker_config_and_helpers_echoed_are_scrubbed() {
    let addr = serve(basic_registry);
    let config = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{PLANTED}:config-auth-canary-19"));
    std::fs::write(
        config.path().join("config.json"),
        json!({ "auths": { addr.clone(): { "auth": auth } } }).to_string(),
    )
    .unwrap();
    let dir = config.path().to_str().unwrap();
    let out = pull(&addr, &[("DOCKER_CONFIG", dir)], &[]);
    assert_scrubbed(&out, &["config-auth-canary-19"]);

    // A credential helper's answer.
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-hushtest");
    let answer = json!({ "Username": PLANTED, "Secret": "helper-secret-canary-27" });
    std::fs::write(
        &helper,
        format!("#!/bin/sh\ncat >/dev/null\necho '{answer}'\n"),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        config.path().join("config.json"),
        json!({ "credHelpers": { addr.clone(): "hushtest" } }).to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let out = pull(&addr, &[("DOCKER_CONFIG", dir), ("PATH", &path)], &[]);
    assert_scrubbed(&out, &["helper-secret-canary-27"]);
}

#[test]
fn registry_auth_through_the_api_echoed_is_scrubbed() {
    let addr = serve(basic_registry);
    let username = format!("--username={PLANTED}");
    let registry = format!("--address={addr}");
    let out = pull(
        &addr,
        &[("REG_PASSWORD", "api-registry-password-canary-85")],
        &[
            "with-registry-auth",
            &registry,
            &username,
            "--secret=env://REG_PASSWORD",
        ],
    );
    assert_scrubbed(&out, &["api-registry-password-canary-85"]);
}

#[test]
fn registry_bearer_token_echoed_is_scrubbed() {
    let addr = serve(|r, base| {
        if r.target.starts_with("/token") {
            return (
                200,
                vec![],
                json!({ "token": "bearer-token-canary-36" }).to_string(),
            );
        }
        if r.header("authorization").is_empty() {
            let challenge = format!("Bearer realm=\"{base}/token\",service=\"{PLANTED}\"");
            return (401, vec![("WWW-Authenticate", challenge)], String::new());
        }
        let message = format!("{PLANTED} refused {}", r.echo());
        let errors = json!({ "errors": [{ "code": "DENIED", "message": message }] });
        (401, vec![], errors.to_string())
    });
    let out = pull(&addr, &[], &[]);
    assert_scrubbed(&out, &["bearer-token-canary-36"]);
}

#[test]
fn git_url_password_echoed_by_the_server_is_scrubbed() {
    let addr = serve(|r, _| {
        if r.header("authorization").is_empty() {
            return (
                401,
                vec![("WWW-Authenticate", "Basic realm=\"git\"".into())],
                String::new(),
            );
        }
        let line = format!("ERR {PLANTED} refused {}\n", r.echo());
        let packet = format!("{:04x}{line}", line.len() + 4);
        let kind = "application/x-git-upload-pack-advertisement".to_owned();
        (200, vec![("Content-Type", kind)], packet)
    });
    let url = format!("http://{PLANTED}:git-url-password-canary-90@{addr}/repo.git");
    let out = run(&["build", &url], &[]);
    assert_scrubbed(&out, &["git-url-password-canary-90"]);
    // GIT_AUTH_TOKEN, sent as basic auth of x-access-token, echoed decoded.
    let url = format!("http://{addr}/{PLANTED}.git");
    let out = run(
        &["build", "--secret", "id=GIT_AUTH_TOKEN,env=GIT_TOKEN", &url],
        &[("GIT_TOKEN", "git-auth-token-canary-48")],
    );
    assert_scrubbed(&out, &["git-auth-token-canary-48"]);
}

/// Whether `shown` holds a line of the key's body (its base64 lines).
fn shows_key(shown: &str, key: &Path) -> bool {
    let key = std::fs::read_to_string(key).unwrap();
    key.lines()
        .filter(|l| l.len() >= 8 && !l.starts_with("-----"))
        .any(|l| shown.contains(l))
}

#[test]
fn ssh_key_material_printed_by_a_build_step_is_scrubbed() {
    let ctx = common::context("FROM busybox\nCOPY id_key /k\nRUN cat /k\n", &[]);
    let key = ctx.path().join("id_key");
    let keygen = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", PLANTED, "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    let ssh = format!("default={}", key.display());
    // Each build in a home of its own: a step's output is cached.
    let build = |extra: &[&str]| {
        let home = tempfile::tempdir().unwrap();
        common::import_busybox(home.path());
        let mut args = vec!["build"];
        args.extend_from_slice(extra);
        args.push(ctx.path().to_str().unwrap());
        hush(home.path(), &args, &[])
    };
    let out = build(&["--ssh", &ssh]);
    assert!(!shows_key(&shown(&out), &key), "{}", shown(&out));
    // Control: without --ssh the file is no credential, and the step shows it.
    let out = build(&[]);
    assert!(shows_key(&shown(&out), &key), "{}", shown(&out));
}
