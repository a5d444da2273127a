//! Git sources (build contexts and `ADD <git URL>`), with BuildKit's auth secrets:
//! `GIT_AUTH_HEADER.<host>`, `GIT_AUTH_TOKEN.<host>`, `GIT_AUTH_HEADER`, `GIT_AUTH_TOKEN`
//! (first found wins; `<host>` includes the port). A token becomes
//! `Authorization: basic base64("x-access-token:" + token)`, a header is used verbatim.
//!
//! Unlike BuildKit, the credential never reaches a command line: `git` gets it through
//! `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0` in its environment, scoped to the
//! exact remote URL (`http.<url>.extraheader`).
//!
//! SSH remotes (`ssh://`, `git@host:path`) are fetched through the `default` agent of
//! `--ssh`, served read-only on a socket in a private directory for the fetch, and only
//! through it: ssh runs with `-F /dev/null`, `IdentityFile=none` and `BatchMode=yes`. Unlike
//! BuildKit, which turns host key checking off when it has no known hosts, hush checks the
//! host key strictly, against `$HUSH_SSH_KNOWN_HOSTS` if set, else ssh's own known_hosts files.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use hush_secrets::{CredentialSink, Secret};
use hush_sshagent::SshSources;

use crate::error::DockerfileError;

/// Whether `s` names a git repository: `git@host:path`, `ssh://`, `git://`, or an
/// `http(s)://` URL whose path ends in `.git` (optionally followed by `#ref`).
pub fn is_git_url(s: &str) -> bool {
    let (url, _) = split_ref(s);
    url.starts_with("git@")
        || url.starts_with("git://")
        || url.starts_with("ssh://")
        || ((url.starts_with("https://") || url.starts_with("http://"))
            && url.trim_end_matches('/').ends_with(".git"))
}

/// `URL#ref` split into the URL and the ref.
fn split_ref(s: &str) -> (&str, Option<&str>) {
    match s.split_once('#') {
        Some((url, r)) if !r.is_empty() => (url, Some(r)),
        Some((url, _)) => (url, None),
        None => (s, None),
    }
}

/// Whether git fetches `url` over SSH.
fn is_ssh(url: &str) -> bool {
    url.starts_with("ssh://") || url.starts_with("git@")
}

/// `s` quoted for the shell that runs `GIT_SSH_COMMAND`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The ssh command git runs for SSH remotes: the forwarded agent only, strict host keys.
fn ssh_command() -> String {
    let mut cmd = String::from(
        "ssh -F /dev/null -o BatchMode=yes -o IdentityFile=none -o StrictHostKeyChecking=yes",
    );
    if let Some(known) = std::env::var_os("HUSH_SSH_KNOWN_HOSTS") {
        cmd.push_str(" -o UserKnownHostsFile=");
        cmd.push_str(&shell_quote(&known.to_string_lossy()));
    }
    cmd
}

/// The host (with port) of an `http(s)://` URL.
fn host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    Some(authority.rsplit_once('@').map_or(authority, |(_, h)| h))
}

/// The `Authorization` value for `url` from the build's secrets, if any.
fn auth_header(
    url: &str,
    secrets: &HashMap<String, Secret>,
) -> Result<Option<String>, DockerfileError> {
    let mut names = Vec::new();
    if let Some(h) = host(url).filter(|_| url.starts_with("http")) {
        names.push((format!("GIT_AUTH_HEADER.{h}"), true));
        names.push((format!("GIT_AUTH_TOKEN.{h}"), false));
    }
    names.push(("GIT_AUTH_HEADER".to_owned(), true));
    names.push(("GIT_AUTH_TOKEN".to_owned(), false));
    for (name, is_header) in names {
        let Some(secret) = secrets.get(&name) else {
            continue;
        };
        let value = std::str::from_utf8(secret.expose())
            .map_err(|_| DockerfileError::Build(format!("secret {name} is not valid UTF-8")))?;
        return Ok(Some(if is_header {
            value.to_owned()
        } else {
            let b64 =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{value}"));
            format!("basic {b64}")
        }));
    }
    Ok(None)
}

/// Clones `source` (`URL[#ref]`) into the empty or missing directory `dest`, without its
/// `.git` directory. Errors carry git's own message, with any `user:password@` of the URL
/// redacted; the user and password are registered with `credentials` first, so a server
/// echoing them is scrubbed too.
pub fn clone(
    source: &str,
    dest: &Path,
    secrets: &HashMap<String, Secret>,
    ssh: &SshSources,
    credentials: &CredentialSink,
) -> Result<(), DockerfileError> {
    let (url, reference) = split_ref(source);
    crate::http::register_userinfo(url, credentials);
    let mut cmd = Command::new("git");
    cmd.arg("clone").arg("--quiet").arg("--recurse-submodules");
    if let Some(r) = reference {
        cmd.arg("--branch").arg(r);
    }
    cmd.arg("--").arg(url).arg(dest);
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_CONFIG_PARAMETERS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match auth_header(url, secrets)? {
        Some(value) => {
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", format!("http.{url}.extraheader"))
                .env("GIT_CONFIG_VALUE_0", format!("Authorization: {value}"));
        }
        None => {
            cmd.env_remove("GIT_CONFIG_COUNT");
        }
    }
    // The agent serves only while git runs; its directory is private to this process's user.
    let mut _agent = None;
    cmd.env_remove("SSH_AUTH_SOCK");
    if is_ssh(url) {
        cmd.env("GIT_SSH_COMMAND", ssh_command())
            .env_remove("GIT_SSH")
            .env_remove("GIT_SSH_VARIANT");
        if let Some(agent) = ssh.get("default") {
            let dir = tempfile::Builder::new()
                .prefix("hush-ssh-")
                .tempdir()
                .map_err(|e| DockerfileError::Build(format!("cannot make an agent dir: {e}")))?;
            // The socket belongs to whoever made the directory: this process.
            let meta = std::fs::metadata(dir.path())
                .map_err(|e| DockerfileError::Build(format!("cannot stat the agent dir: {e}")))?;
            let (uid, gid) = (meta.uid(), meta.gid());
            let listener = agent
                .serve(&dir.path().join("agent"), uid, gid, 0o600)
                .map_err(|e| DockerfileError::Build(format!("ssh default: {e}")))?;
            cmd.env("SSH_AUTH_SOCK", listener.path());
            _agent = Some((listener, dir));
        }
    }
    let out = cmd
        .output()
        .map_err(|e| DockerfileError::Build(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        let hint = if is_ssh(url) && _agent.is_none() {
            " (no SSH agent was forwarded: pass --ssh default)"
        } else {
            ""
        };
        // Credentials written into the URL are never shown, in hush's words or git's.
        let shown = crate::http::redact(url);
        let stderr = String::from_utf8_lossy(&out.stderr).replace(url, &shown);
        return Err(DockerfileError::Build(format!(
            "git clone of {shown} failed: {}{hint}",
            stderr.trim()
        )));
    }
    std::fs::remove_dir_all(dest.join(".git"))
        .map_err(|e| DockerfileError::Build(format!("cannot remove .git of the clone: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_clones_do_not_show_url_credentials() {
        let dest = tempfile::tempdir().unwrap();
        let url = "http://user:hunter2-pw@127.0.0.1:9/none.git";
        let store = hush_secrets::SecretStore::new(hush_secrets::Registry::new(), 1024);
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = seen.clone();
        store.observe(std::sync::Arc::new(move |s: &Secret| {
            sink.lock().unwrap().push(s.expose().to_vec())
        }));
        let err = clone(
            url,
            &dest.path().join("x"),
            &HashMap::new(),
            &SshSources::default(),
            &store.credentials(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("git clone of http://xxxxx:xxxxx@127.0.0.1:9/none.git failed"),
            "{err}"
        );
        assert!(!err.contains("hunter2-pw"), "{err}");
        // The password became a secret of the session before git got the URL; a user alone
        // (a token written as the user) is one too, and a user with a password is not.
        assert_eq!(*seen.lock().unwrap(), [b"hunter2-pw"; 2]);
        seen.lock().unwrap().clear();
        crate::http::register_userinfo("https://ghp_tok%2Fen@h/r.git", &store.credentials());
        crate::http::register_userinfo("ssh://git@h/r.git", &store.credentials());
        assert_eq!(
            *seen.lock().unwrap(),
            [b"ghp_tok%2Fen".to_vec(), b"ghp_tok/en".to_vec()]
        );
    }

    #[test]
    fn git_urls_and_auth_lookup_order() {
        assert!(is_git_url("https://example.com/a/repo.git"));
        assert!(is_git_url("https://example.com/a/repo.git#main"));
        assert!(is_git_url("git@github.com:me/repo.git"));
        assert!(!is_git_url("https://example.com/file.tar.gz"));
        assert_eq!(host("http://127.0.0.1:8080/r.git"), Some("127.0.0.1:8080"));
        let store = hush_secrets::SecretStore::new(hush_secrets::Registry::builtin(), 1024);
        let mut secrets = HashMap::new();
        let url = "http://127.0.0.1:8080/r.git";
        assert_eq!(auth_header(url, &secrets).unwrap(), None);
        secrets.insert(
            "GIT_AUTH_TOKEN".into(),
            store.set_secret("a", b"tok").unwrap(),
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("x-access-token:tok");
        assert_eq!(
            auth_header(url, &secrets).unwrap(),
            Some(format!("basic {b64}"))
        );
        secrets.insert(
            "GIT_AUTH_HEADER".into(),
            store.set_secret("b", b"bearer x").unwrap(),
        );
        assert_eq!(
            auth_header(url, &secrets).unwrap().as_deref(),
            Some("bearer x")
        );
        secrets.insert(
            "GIT_AUTH_TOKEN.127.0.0.1:8080".into(),
            store.set_secret("c", b"host").unwrap(),
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode("x-access-token:host");
        assert_eq!(
            auth_header(url, &secrets).unwrap(),
            Some(format!("basic {b64}"))
        );
        secrets.insert(
            "GIT_AUTH_HEADER.127.0.0.1:8080".into(),
            store.set_secret("d", b"basic h").unwrap(),
        );
        assert_eq!(
            auth_header(url, &secrets).unwrap().as_deref(),
            Some("basic h")
        );
    }
}
