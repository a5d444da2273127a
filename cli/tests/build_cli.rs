//! `hush build`: Dockerfile builds on a real OCI runtime, mirroring BuildKit's secret
//! conformance cases (`dockerfile_secrets_test.go`, `client_mount_test.go`), plus the
//! frontend (stages, ARG, COPY, export) and the no-plaintext-in-the-image invariant.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

mod common;

use common::{context, files_containing, git, hush as hush_env, import_busybox, text};

const PW: &str = "pw";
const URI_SECRET: &str = "uri-secret-value-9Kq";
const AUTO_SECRET: &str = "auto-env-secret-Zt4";

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

fn hush(home: &Path, args: &[&str]) -> Output {
    hush_env(home, args, &[])
}

/// The stored image config of `tag`, as JSON.
fn image_config(tag: &str) -> serde_json::Value {
    let root = home().join("images");
    let blob = |digest: &str| {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let bytes = std::fs::read(root.join("blobs/sha256").join(hex)).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
    };
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .is_some_and(|n| n.ends_with(tag))
        })
        .expect("the tag is in the index");
    let manifest = blob(entry["digest"].as_str().unwrap());
    blob(manifest["config"]["digest"].as_str().unwrap())
}

/// BuildKit's secret cases in one Dockerfile, each RUN an assertion (a failing one fails
/// the build and names its line).
const CONFORMANCE: &str = r#"# syntax=docker/dockerfile:1
FROM busybox AS base
ENV SECRET_ENV=foo
# testSecretFileParams: mode/uid/gid, on tmpfs, read-only.
RUN --mount=type=secret,required=false,mode=741,uid=100,gid=102,target=/mysecret,id=mysecret \
    [ "$(stat -c '%u %g %f' /mysecret)" = "100 102 81e1" ] && \
    grep ' /mysecret ' /proc/mounts | grep -q ' tmpfs ro,' && [ "$(cat /mysecret)" = pw ]
# ... and no stub left behind.
RUN [ ! -e /mysecret ]
# testSecretAsEnviron: env only (overrides ENV), no file.
RUN --mount=type=secret,id=mysecret,env=SECRET_ENV [ "$SECRET_ENV" = pw ] && [ ! -e /run/secrets/mysecret ]
RUN [ "$SECRET_ENV" = foo ]
# testSecretAsEnvironWithFileMount: both.
RUN --mount=type=secret,id=mysecret,target=/run/secrets/secret,env=SECRET_ENV \
    [ "$SECRET_ENV" = pw ] && [ "$(cat /run/secrets/secret)" = pw ] && \
    [ "$(stat -c '%u %g %a' /run/secrets/secret)" = "0 0 400" ]
# Optional and missing: no file, no variable.
RUN --mount=type=secret,id=missing [ ! -e /run/secrets/missing ]
RUN --mount=type=secret,id=missing,env=MISSING_ENV [ -z "${MISSING_ENV+set}" ]
# An empty secret still mounts.
RUN --mount=type=secret,id=empty [ -f /run/secrets/empty ] && [ ! -s /run/secrets/empty ]
# Option order is free; default target is /run/secrets/<basename(id)>; relative targets use WORKDIR.
WORKDIR /app
RUN --mount=required,mode=0444,id=tok,type=secret \
    --mount=type=secret,id=AUTO_VAR,target=rel/auto \
    echo "token is $(cat /run/secrets/tok) and $(cat /app/rel/auto)"
RUN [ ! -e /run/secrets/tok ] && [ ! -e /app/rel ]
"#;

#[test]
fn buildkit_secret_conformance_and_nothing_in_the_image() {
    let ctx = context(CONFORMANCE, &[("pw.txt", PW), ("empty.txt", "")]);
    let dir = ctx.path().to_str().unwrap();
    let out = hush_env(
        home(),
        &[
            "build",
            "--secret",
            &format!("id=mysecret,src={dir}/pw.txt"),
            "--secret",
            &format!("id=empty,src={dir}/empty.txt"),
            "--secret",
            "id=tok,src=env://BUILD_URI_TOKEN",
            "--secret",
            "id=AUTO_VAR",
            "-t",
            "conformance:v1",
            dir,
        ],
        &[("BUILD_URI_TOKEN", URI_SECRET), ("AUTO_VAR", AUTO_SECRET)],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("token is *** and ***"), "{stderr}");
    assert!(stderr.contains("] RUN [ ! -e /mysecret ]"), "{stderr}");
    for value in [URI_SECRET, AUTO_SECRET] {
        assert!(!stderr.contains(value), "{stderr}");
        assert!(!text(&out.stdout).contains(value));
        // Not in any blob (layers, config, history, manifest) nor unpacked layer.
        assert_eq!(
            files_containing(home(), value.as_bytes()),
            Vec::<String>::new()
        );
    }
    assert!(
        text(&out.stdout).starts_with("sha256:"),
        "{}",
        text(&out.stdout)
    );
    let config = image_config("conformance:v1");
    let history = config["history"].to_string();
    assert!(history.contains("RUN [ ! -e /mysecret ]"), "{history}");
    assert!(!history.contains("--mount"), "{history}");
    assert_eq!(config["config"]["WorkingDir"], "/app");
    // The image runs, without the secrets.
    let run = hush(
        home(),
        &[
            "core",
            "container",
            "from",
            "--address=conformance:v1",
            "with-exec",
            "--args=sh,-c,echo $SECRET_ENV; ls /run/secrets 2>&1 | wc -l",
            "stdout",
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(text(&run.stdout), "foo\n1\n");
}

#[test]
fn required_missing_secret_fails_with_buildkits_error() {
    let ctx = context(
        "FROM busybox\nRUN --mount=type=secret,required,id=mysecret foo\n",
        &[],
    );
    let out = hush(home(), &["build", ctx.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 2: secret mysecret: not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn mount_and_flag_errors_are_clear() {
    let empty_env = context(
        "FROM busybox\nRUN --mount=type=secret,id=s,env= true\n",
        &[],
    );
    let out = hush(home(), &["build", empty_env.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 2: env= needs a variable name"),
        "{}",
        text(&out.stderr)
    );
    let unsupported = context("FROM busybox\nHEALTHCHECK CMD true\n", &[]);
    let out = hush(home(), &["build", unsupported.path().to_str().unwrap()]);
    assert!(
        text(&out.stderr).contains("line 2: unsupported instruction HEALTHCHECK"),
        "{}",
        text(&out.stderr)
    );
    let out = hush(
        home(),
        &[
            "build",
            "--secret",
            "id=x,type=ssh",
            unsupported.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unsupported secret type \"ssh\""));
    let out = hush(
        home(),
        &[
            "build",
            "--secret",
            "id=gone,env=HUSH_TEST_UNSET_VARIABLE",
            unsupported.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("HUSH_TEST_UNSET_VARIABLE is not set"));
}

/// `cat /stamp` in the image `tag`.
fn stamp(tag: &str) -> String {
    let out = hush(
        home(),
        &[
            "core",
            "container",
            "from",
            &format!("--address={tag}"),
            "with-exec",
            "--args=cat,/stamp",
            "stdout",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn steps_are_cached_by_secret_mac_and_context_contents() {
    let ctx = context(
        "FROM busybox\nCOPY input.txt /\n\
         RUN --mount=type=secret,id=s,env=S cat /proc/sys/kernel/random/uuid > /stamp\n",
        &[("input.txt", "one")],
    );
    let dir = ctx.path().to_str().unwrap();
    let build = |tag: &str, value: &str| {
        let out = hush_env(
            home(),
            &[
                "build",
                "--secret",
                "id=s,env=CACHE_TEST_SECRET",
                "-t",
                tag,
                dir,
            ],
            &[("CACHE_TEST_SECRET", value)],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        stamp(tag)
    };
    let first = build("cached:a", "cache-secret-value-1");
    assert_eq!(
        build("cached:b", "cache-secret-value-1"),
        first,
        "a rebuild is a hit"
    );
    // Another secret value has another MAC: a miss (the value itself is never in the key).
    let other = build("cached:c", "cache-secret-value-2");
    assert_ne!(other, first);
    // A changed context file busts the COPY and everything after it.
    std::fs::write(ctx.path().join("input.txt"), "two").unwrap();
    assert_ne!(build("cached:d", "cache-secret-value-1"), first);
    for value in ["cache-secret-value-1", "cache-secret-value-2"] {
        assert_eq!(
            files_containing(home(), value.as_bytes()),
            Vec::<String>::new()
        );
    }
}

#[test]
fn stages_args_copy_and_image_config() {
    let ctx = context(
        r#"ARG BASE=busybox
FROM ${BASE} AS build
ARG GREETING=hello
WORKDIR /work
COPY hello.txt sub ./
RUN echo "$GREETING from $(cat hello.txt) and $(cat nested.txt)" > out.txt
FROM busybox AS unused
RUN exit 1
FROM ${BASE}
COPY --from=build /work/out.txt /final/
LABEL org.example.kind="a label"
ENV APP=1
RUN echo same > /same
RUN echo same > /same
USER 1000
CMD ["cat", "/final/out.txt"]
ADD files.tar /unpacked/
COPY --chown=1000:1000 --chmod=600 hello.txt /owned
"#,
        &[("hello.txt", "context"), ("sub/nested.txt", "nested")],
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "in/tar.txt", &b"in tar"[..])
        .unwrap();
    std::fs::write(ctx.path().join("files.tar"), tar.into_inner().unwrap()).unwrap();
    let out = hush(
        home(),
        &[
            "build",
            "--build-arg",
            "GREETING=hi",
            "-t",
            "frontend-test:v1",
            ctx.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let run = hush(
        home(),
        &[
            "core",
            "container",
            "from",
            "--address=frontend-test:v1",
            "with-exec",
            "--args=sh,-c,cat /final/out.txt; id -u; stat -c %u /final/out.txt; cat /unpacked/in/tar.txt; echo; stat -c '%u %g %a' /owned; cat /same",
            "stdout",
        ],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    assert_eq!(
        text(&run.stdout),
        "hi from context and nested\n1000\n0\nin tar\n1000 1000 600\nsame\n"
    );
    let config = image_config("frontend-test:v1");
    let c = &config["config"];
    assert_eq!(c["User"], "1000");
    assert_eq!(c["Cmd"], serde_json::json!(["cat", "/final/out.txt"]));
    assert_eq!(c["Labels"]["org.example.kind"], "a label");
    assert!(c["Env"].to_string().contains("APP=1"));
    // ARG values reach RUN, never the image config.
    assert!(!c["Env"].to_string().contains("GREETING"), "{c}");
    // --target builds an earlier stage.
    let out = hush(
        home(),
        &[
            "build",
            "--target",
            "build",
            "-f",
            ctx.path().join("Dockerfile").to_str().unwrap(),
            ctx.path().to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());
}

/// A static file server on loopback that answers only requests carrying
/// `Authorization: <expected>` (compared case-insensitively, as git's `basic` is), and, while
/// serving each one, looks for `token` in every process's command line.
struct FileServer {
    /// `http://127.0.0.1:PORT`.
    base: String,
    authorized: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    leaked: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn token_in_a_cmdline(token: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        std::fs::read(p.path().join("cmdline"))
            .is_ok_and(|c| c.windows(token.len()).any(|w| w == token.as_bytes()))
    })
}

fn file_server(root: std::path::PathBuf, expected: String, token: &'static str) -> FileServer {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let authorized = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let leaked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (a, l) = (authorized.clone(), leaked.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or_default();
            let mut auth = None;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = Some(v.trim().to_owned());
                    }
                }
            }
            if token_in_a_cmdline(token) {
                l.store(true, Ordering::SeqCst);
            }
            let mut out = stream;
            let ok = auth.is_some_and(|v| v.eq_ignore_ascii_case(&expected));
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let path = path
                .split('?')
                .next()
                .unwrap()
                .trim_start_matches('/')
                .to_owned();
            let file = root.join(&path);
            let response = if !ok {
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"hush\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            } else if let Ok(body) = std::fs::read(&file) {
                a.fetch_add(1, Ordering::SeqCst);
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend(body);
                r
            } else {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            };
            let _ = out.write_all(&response);
        }
    });
    FileServer {
        base: format!("http://127.0.0.1:{port}"),
        authorized,
        leaked,
    }
}

/// A git server (git's "dumb" HTTP protocol: the static files of the bare repositories in
/// `root`) for `Authorization: basic base64(x-access-token:TOKEN)`.
fn git_server(root: std::path::PathBuf, token: &'static str) -> FileServer {
    use base64::Engine as _;
    let expected = format!(
        "basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"))
    );
    file_server(root, expected, token)
}

#[test]
fn git_context_and_add_with_auth_tokens_never_on_a_command_line() {
    use std::sync::atomic::Ordering;
    const TOKEN: &str = "git-auth-token-Pm81";
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(
        work.join("Dockerfile"),
        "FROM busybox\nARG REPO\nCOPY hello.txt /\nADD ${REPO} /added/\n",
    )
    .unwrap();
    std::fs::write(work.join("hello.txt"), "from git\n").unwrap();
    git(&work, &["init", "-q"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "init"]);
    git(tmp.path(), &["clone", "-q", "--bare", "work", "repo.git"]);
    git(&tmp.path().join("repo.git"), &["update-server-info"]);
    let server = git_server(tmp.path().to_path_buf(), TOKEN);
    let url = format!("{}/repo.git", server.base);
    let repo_arg = format!("REPO={url}");
    let build = |secret: &str, tag: &str| {
        hush_env(
            home(),
            &[
                "build",
                "--secret",
                secret,
                "--build-arg",
                &repo_arg,
                "-t",
                tag,
                &url,
            ],
            &[("GIT_TEST_TOKEN", TOKEN)],
        )
    };
    // No credential: the clone is refused.
    let out = build("id=OTHER,env=GIT_TEST_TOKEN", "git-test:none");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("git clone of"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.authorized.load(Ordering::SeqCst), 0);
    // GIT_AUTH_TOKEN, then its host-scoped form (the host includes the port).
    let host = server.base.split('/').nth(2).unwrap().to_owned();
    for (secret, tag) in [
        (
            "id=GIT_AUTH_TOKEN,env=GIT_TEST_TOKEN".to_owned(),
            "git-test:plain",
        ),
        (
            format!("id=GIT_AUTH_TOKEN.{host},env=GIT_TEST_TOKEN"),
            "git-test:host",
        ),
    ] {
        let out = build(&secret, tag);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let run = hush(
            home(),
            &[
                "core",
                "container",
                "from",
                &format!("--address={tag}"),
                "with-exec",
                "--args=cat,/hello.txt,/added/hello.txt,/added/Dockerfile",
                "stdout",
            ],
        );
        assert!(run.status.success(), "{}", text(&run.stderr));
        assert!(text(&run.stdout).starts_with("from git\nfrom git\nFROM busybox"));
    }
    assert!(server.authorized.load(Ordering::SeqCst) > 0);
    assert!(
        !server.leaked.load(Ordering::SeqCst),
        "the token was on a command line"
    );
    assert_eq!(
        files_containing(home(), TOKEN.as_bytes()),
        Vec::<String>::new()
    );
}

#[test]
fn add_of_a_url_with_http_auth_secrets_and_checksum() {
    use std::sync::atomic::Ordering;
    const TOKEN: &str = "http-auth-token-Wc73";
    let root = tempfile::tempdir().unwrap();
    // A tarball: ADD of a URL copies it as it is.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "in.txt", &b"in tar"[..])
        .unwrap();
    std::fs::write(root.path().join("app.tar"), tar.into_inner().unwrap()).unwrap();
    let sum = Command::new("sha256sum")
        .arg(root.path().join("app.tar"))
        .output()
        .unwrap();
    let sum = text(&sum.stdout)[..64].to_owned();
    let server = file_server(root.path().to_path_buf(), format!("Bearer {TOKEN}"), TOKEN);
    let ctx = context(
        "FROM busybox\nARG URL\nARG SUM\n\
         ADD --checksum=sha256:$SUM $URL/app.tar /dl/\n\
         ADD --chown=1:2 --chmod=640 $URL/app.tar /renamed.tar\n\
         RUN echo modes $(stat -c %a /dl/app.tar) $(stat -c '%u %g %a' /renamed.tar) \
             && cmp /dl/app.tar /renamed.tar && [ ! -e /dl/in.txt ]\n",
        &[],
    );
    let dir = ctx.path().to_str().unwrap();
    let url_arg = format!("URL={}", server.base);
    let bearer = format!("Bearer {TOKEN}");
    let build = |secrets: &[&str], url: &str, sum: &str| {
        let mut args = vec!["build".to_owned()];
        for s in secrets {
            args.extend(["--secret".to_owned(), s.to_string()]);
        }
        for a in [url.to_owned(), format!("SUM={sum}")] {
            args.extend(["--build-arg".to_owned(), a]);
        }
        args.push(dir.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = hush_env(
            home(),
            &args,
            &[
                ("HTTP_TEST_TOKEN", TOKEN),
                ("HTTP_TEST_HEADER", &bearer),
                ("HTTP_TEST_WRONG", "wrong"),
            ],
        );
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
            "{stderr}"
        );
        (out.status.success(), stderr)
    };
    let token = "id=HTTP_AUTH_TOKEN_127.0.0.1,env=HTTP_TEST_TOKEN";
    // No secret (and a port-scoped or `.`-separated one does not count): the server's 401,
    // with the URL's credentials redacted.
    let port = server.base.rsplit(':').next().unwrap();
    let scoped = format!("id=HTTP_AUTH_TOKEN_127.0.0.1:{port},env=HTTP_TEST_TOKEN");
    let creds = format!("URL=http://me:url-pw@127.0.0.1:{port}");
    let (ok, err) = build(&[&scoped], &creds, &sum);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "line 4: ADD http://xxxxx:xxxxx@127.0.0.1:{port}/app.tar: the server answered 401 Unauthorized"
        )),
        "{err}"
    );
    assert!(!err.contains("url-pw"), "{err}");
    assert_eq!(server.authorized.load(Ordering::SeqCst), 0);
    // The token becomes `Bearer TOKEN`; the file lands at DEST, mode 600 or --chmod.
    let (ok, err) = build(&[token], &url_arg, &sum);
    assert!(ok, "{err}");
    assert!(err.contains("modes 600 1 2 640"), "{err}");
    assert_eq!(server.authorized.load(Ordering::SeqCst), 2);
    // A header is used verbatim and beats the token.
    let header = |env: &str| format!("id=HTTP_AUTH_HEADER_127.0.0.1,env={env}");
    let (ok, err) = build(
        &[
            &header("HTTP_TEST_HEADER"),
            "id=HTTP_AUTH_TOKEN_127.0.0.1,env=HTTP_TEST_WRONG",
        ],
        &url_arg,
        &sum,
    );
    assert!(ok, "{err}");
    let (ok, err) = build(&[&header("HTTP_TEST_WRONG"), token], &url_arg, &sum);
    assert!(!ok);
    assert!(err.contains("401 Unauthorized"), "{err}");
    // A checksum mismatch names the URL and both digests.
    let zeros = "0".repeat(64);
    let (ok, err) = build(&[token], &url_arg, &zeros);
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "line 4: ADD {}/app.tar: checksum mismatch: expected sha256:{zeros}, got sha256:{sum}",
            server.base
        )),
        "{err}"
    );
    assert!(
        !server.leaked.load(Ordering::SeqCst),
        "the token was on a command line"
    );
    // --checksum is for URLs only.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM busybox\nADD --checksum=sha256:00 Dockerfile /x\n",
    )
    .unwrap();
    let (ok, err) = build(&[], &url_arg, &sum);
    assert!(!ok);
    assert!(
        err.contains("line 2: checksum can't be specified for non-HTTP(S) sources"),
        "{err}"
    );
}

#[test]
fn directory_docker_build_in_the_api_takes_a_secret_map_of_uris() {
    const VALUE: &str = "api-docker-build-secret-Q3";
    let ctx = context(
        "FROM busybox AS first\nARG A\n\
         RUN --mount=type=secret,id=tok,env=T echo \"$A $T\" && echo \"$A\" > /a\n\
         FROM busybox\nRUN exit 1\n",
        &[],
    );
    let dir = format!("--path={}", ctx.path().display());
    let out = hush_env(
        home(),
        &[
            "core",
            "host",
            "directory",
            &dir,
            "docker-build",
            "--build-args=A=from-arg",
            "--secret-map=tok=env://API_BUILD_SECRET",
            "--target=first",
            "with-exec",
            "--args=cat,/a",
            "stdout",
        ],
        &[("API_BUILD_SECRET", VALUE)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "from-arg\n");
    // Without the target, the failing last stage fails the call, naming its line.
    let out = hush(
        home(),
        &["core", "host", "directory", &dir, "docker-build", "sync"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("line 5"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn copy_and_add_need_no_shell_in_the_stage_image() {
    // An image with no shell and no tools at all: only /etc/passwd and a data file.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("etc")).unwrap();
    std::fs::write(
        root.path().join("etc/passwd"),
        "root:x:0:0::/:/nonexistent\napp:x:1000:1000::/:/nonexistent\n",
    )
    .unwrap();
    std::fs::write(root.path().join("data.txt"), "from the bare image").unwrap();
    let tarball = root.path().join("bare.tar.gz");
    let out = Command::new("tar")
        .args([
            "-czf",
            tarball.to_str().unwrap(),
            "-C",
            root.path().to_str().unwrap(),
            "etc",
            "data.txt",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = hush(
        home(),
        &[
            "image",
            "import",
            "--tag",
            "bare",
            tarball.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ctx = context(
        "FROM busybox AS build\n\
         RUN mkdir /out && echo built > /out/app.txt\n\
         FROM bare AS final\n\
         COPY --from=build /out /app/\n\
         COPY --chown=app --chmod=640 hello.txt /app/hello.txt\n\
         ADD files.tar /app/\n\
         FROM busybox\n\
         COPY --from=final / /check/\n\
         RUN cat /check/app/app.txt /check/app/hello.txt /check/app/in.txt /check/data.txt \
             && stat -c '%u %a' /check/app/hello.txt && ls -a /check\n",
        &[("hello.txt", "context file")],
    );
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "in.txt", &b"in tar"[..])
        .unwrap();
    std::fs::write(ctx.path().join("files.tar"), tar.into_inner().unwrap()).unwrap();
    let out = hush(home(), &["build", ctx.path().to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    for expected in [
        "built",
        "context file",
        "in tar",
        "from the bare image",
        "1000 640",
    ] {
        assert!(err.contains(expected), "{expected}: {err}");
    }
    // The copy tools were mounted for the copy only: nothing of them is in the image.
    let listing: Vec<&str> = err.lines().filter(|l| l.contains(".hush")).collect();
    assert!(
        listing.iter().all(|l| l.contains("RUN")),
        "no copy tools left in the image: {listing:?}"
    );
}

#[test]
fn from_scratch_builds_an_image_of_only_its_own_layers() {
    let ctx = context(
        "FROM busybox AS build\n\
         RUN mkdir /out && echo built > /out/app.txt\n\
         FROM scratch\n\
         COPY --from=build /out/app.txt /app.txt\n\
         ENV MODE=static\n\
         CMD [\"/app\"]\n",
        &[],
    );
    let out = hush(
        home(),
        &["build", "-t", "from-scratch", ctx.path().to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = image_config("from-scratch:latest");
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    assert_eq!(config["config"]["Env"], serde_json::json!(["MODE=static"]));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/app"]));
    let out = hush(
        home(),
        &[
            "core",
            "container",
            "from",
            "--address=from-scratch",
            "file",
            "--path=/app.txt",
            "contents",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "built\n");
    // `scratch` is reserved: nothing can be stored under that name.
    let tarball = ctx.path().join("x.tar");
    std::fs::write(
        &tarball,
        tar::Builder::new(Vec::new()).into_inner().unwrap(),
    )
    .unwrap();
    let out = hush(
        home(),
        &[
            "image",
            "import",
            "--tag",
            "scratch",
            tarball.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("'scratch' is a reserved name"));
}

#[test]
fn an_image_that_would_hold_a_secret_is_not_stored() {
    const LEAKED: &str = "leaky-secret-value-4Hd";
    // A step that copies the secret into its filesystem.
    let ctx = context(
        "FROM busybox\nRUN --mount=type=secret,id=s cp /run/secrets/s /leaked\n",
        &[],
    );
    let out = hush_env(
        home(),
        &[
            "build",
            "--secret",
            "id=s,env=LEAK_TEST",
            "-t",
            "leaky:1",
            ctx.path().to_str().unwrap(),
        ],
        &[("LEAK_TEST", LEAKED)],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("secret s would be stored in the image (file /leaked, written by `RUN cp /run/secrets/s /leaked`)"),
        "{err}"
    );
    assert!(!err.contains(LEAKED));
    // A build argument carrying a secret's value into ENV.
    let ctx = context(
        "FROM busybox\nARG API_TOKEN\nENV TOKEN_COPY=$API_TOKEN\nRUN true\n",
        &[],
    );
    let out = hush_env(
        home(),
        &[
            "build",
            "--secret",
            "id=s,env=LEAK_TEST",
            "--build-arg",
            "API_TOKEN",
            "-t",
            "leaky:2",
            ctx.path().to_str().unwrap(),
        ],
        &[("LEAK_TEST", LEAKED), ("API_TOKEN", LEAKED)],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    // BuildKit's lint warning for the name, then the refusal for the value.
    assert!(
        err.contains("WARN: SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"API_TOKEN\") (line 2)"),
        "{err}"
    );
    assert!(
        err.contains("secret s would be stored in the image (config:"),
        "{err}"
    );
    assert!(!err.contains(LEAKED));
    // Neither image was stored, and the value is nowhere in the store.
    let listed = text(&hush(home(), &["image", "ls"]).stdout);
    assert!(!listed.contains("leaky"), "{listed}");
    assert_eq!(
        files_containing(&home().join("images"), LEAKED.as_bytes()),
        Vec::<String>::new()
    );
}

#[test]
fn a_secret_holding_a_slash_used_as_a_path_keeps_the_image_out_of_the_store() {
    const VALUE: &str = "abc123def/ghi456jkl";
    let secret = context(
        "FROM busybox\nRUN --mount=type=secret,id=tok mkdir -p \"/opt/$(cat /run/secrets/tok)\"\n",
        &[],
    );
    let out = hush_env(
        home(),
        &[
            "build",
            "-t",
            "slash:1",
            "--secret",
            "id=tok,env=TOK",
            secret.path().to_str().unwrap(),
        ],
        &[("TOK", VALUE)],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("secret tok would be stored in the image (file /opt/***, written by"),
        "{err}"
    );
    assert!(!err.contains("ghi456jkl"), "{err}");
    let stored = |tag: &str| text(&hush(home(), &["image", "ls"]).stdout).contains(tag);
    assert!(!stored("slash"));
    let in_store = || files_containing(&home().join("images"), b"opt/abc123def/ghi456jkl");
    assert_eq!(in_store(), Vec::<String>::new());
    // Control: the same path from a build argument is stored, and the check finds it.
    let plain = context("FROM busybox\nARG P\nRUN mkdir -p \"/opt/$P\"\n", &[]);
    let out = hush_env(
        home(),
        &[
            "build",
            "-t",
            "slash-plain:1",
            "--build-arg",
            "P",
            plain.path().to_str().unwrap(),
        ],
        &[("P", VALUE)],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stored("slash-plain"));
    assert!(!in_store().is_empty());
    let out = hush(home(), &["image", "rm", "slash-plain:1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn dockerignore_and_wildcard_sources() {
    let ctx = context(
        "FROM busybox\n\
         COPY app/*.txt /txt/\n\
         COPY . /all/\n\
         RUN echo listing $(ls -A /all) docs: $(ls -A /all/docs) txt: $(ls /txt) \
             && echo stamp=$(cat /proc/sys/kernel/random/uuid)\n",
        &[
            (
                ".dockerignore",
                "# local files\n.env\n*.log\ndocs\n!docs/keep.md\n",
            ),
            ("app/a.txt", "a"),
            ("app/b.txt", "b"),
            ("app/c.md", "c"),
            (".env", "API_TOKEN=not-for-the-image"),
            ("debug.log", "noise"),
            ("docs/keep.md", "keep"),
            ("docs/drop.md", "drop"),
        ],
    );
    let dir = ctx.path().to_str().unwrap();
    let build = || {
        let out = hush(home(), &["build", dir]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        err
    };
    let first = build();
    assert!(
        first.contains("listing .dockerignore Dockerfile app docs docs: keep.md txt: a.txt b.txt"),
        "{first}"
    );
    let stamp = |err: &str| {
        err.rsplit("stamp=")
            .next()
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned()
    };
    // An excluded file is not part of any step's input: changing it is a cache hit.
    std::fs::write(ctx.path().join(".env"), "API_TOKEN=changed").unwrap();
    assert_eq!(stamp(&build()), stamp(&first));
    // An included one is a miss.
    std::fs::write(ctx.path().join("app/c.md"), "changed").unwrap();
    assert_ne!(stamp(&build()), stamp(&first));
    // Excluded and unmatched sources are errors in Docker's words.
    for (source, message) in [
        (".env", "line 2: lstat .env: no such file or directory"),
        ("*.nothing", "line 2: no source files were specified"),
        (
            "../outside",
            "line 2: ../outside is outside the build context",
        ),
    ] {
        std::fs::write(
            ctx.path().join("Dockerfile"),
            format!("FROM busybox\nCOPY {source} /x\n"),
        )
        .unwrap();
        let out = hush(home(), &["build", dir]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(message), "{}", text(&out.stderr));
    }
}

#[test]
fn metadata_instructions_and_shell() {
    let ctx = context(
        "FROM busybox\n\
         ARG PORT=8080\n\
         EXPOSE $PORT 53/udp 9000-9001\n\
         VOLUME [\"/data\"]\n\
         VOLUME /cache /logs\n\
         STOPSIGNAL SIGTERM\n\
         MAINTAINER hush team <team@example.com>\n\
         SHELL [\"/bin/sh\", \"-xc\"]\n\
         RUN echo shell-form\n\
         CMD echo default\n",
        &[],
    );
    let out = hush(
        home(),
        &["build", "-t", "metadata", ctx.path().to_str().unwrap()],
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    // `sh -x` traces the command: the RUN went through the SHELL.
    assert!(err.contains("+ echo shell-form"), "{err}");
    let config = image_config("metadata:latest");
    let c = &config["config"];
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&c["ExposedPorts"]),
        ["53/udp", "8080/tcp", "9000/tcp", "9001/tcp"]
    );
    assert_eq!(keys(&c["Volumes"]), ["/cache", "/data", "/logs"]);
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["/bin/sh", "-xc", "echo default"])
    );
    assert_eq!(config["author"], "hush team <team@example.com>");
    let bad = context("FROM busybox\nEXPOSE 80/icmp\n", &[]);
    let out = hush(home(), &["build", bad.path().to_str().unwrap()]);
    assert!(text(&out.stderr).contains("line 2: invalid port \"80/icmp\" in EXPOSE"));
    let bad = context("FROM busybox\nSHELL /bin/bash -c\n", &[]);
    let out = hush(home(), &["build", bad.path().to_str().unwrap()]);
    assert!(text(&out.stderr).contains("line 2: SHELL requires the arguments to be in JSON form"));
}

#[test]
fn a_failing_secret_is_scrubbed_of_secrets_given_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let later = dir.path().join("later");
    std::fs::write(&later, "later-file-secret-Qx81").unwrap();
    let ctx = context("FROM busybox\n", &[]);
    let failing = format!("id=b,src=cmd://cat {} >&2; exit 3", later.display());
    let run = |extra: &[&str]| {
        let mut args = vec!["build", "--secret", &failing];
        args.extend_from_slice(extra);
        args.push(ctx.path().to_str().unwrap());
        hush(home(), &args)
    };
    let given = format!("id=a,src={}", later.display());
    let out = run(&["--secret", &given]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("exited with code 3; stderr: ***"),
        "{stderr}"
    );
    assert!(!stderr.contains("later-file-secret-Qx81"), "{stderr}");
    // Control: when the file is not a secret of the build, its content is shown.
    let out = run(&[]);
    assert!(
        text(&out.stderr).contains("stderr: later-file-secret-Qx81"),
        "{}",
        text(&out.stderr)
    );
}
