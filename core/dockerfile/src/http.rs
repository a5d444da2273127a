//! `ADD <http(s) URL> DEST`, fetched on the host (build containers have no network), with
//! BuildKit's best-effort per-host auth secrets: `HTTP_AUTH_HEADER_<hostname>` (the
//! `Authorization` value, verbatim), then `HTTP_AUTH_TOKEN_<hostname>` (sent as
//! `Bearer <token>`); `<hostname>` has no port. A missing secret is not an error.
//!
//! The file is saved with mode 0600 under the URL path's basename (`__unnamed__` if it has
//! none, as in BuildKit) and never unpacked. Redirects are followed (at most 10, never from
//! https to http; reqwest drops `Authorization` when the host changes), downloads are capped at
//! [`MAX_SIZE`], and `--checksum=sha256:<hex>` is verified. Messages name the URL with any
//! credentials in it redacted, never the header or the response body.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Duration;

use hush_secrets::{CredentialSink, Secret};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::Url;
use sha2::{Digest as _, Sha256};

use crate::error::DockerfileError;

/// The largest download `ADD` accepts (1 GiB).
pub const MAX_SIZE: u64 = 1 << 30;
/// Redirects followed per download.
const MAX_REDIRECTS: usize = 10;
/// How long to wait for a connection, and for each read of the response.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether an `ADD` source is an `http://` or `https://` URL (as BuildKit's `isHTTPSource`).
pub fn is_http_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// `url` with the user and password of its userinfo replaced by `xxxxx`, as BuildKit's
/// `RedactCredentials` does (`https://xxxxx:xxxxx@host/path`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = if userinfo.contains(':') {
                "xxxxx:xxxxx"
            } else {
                "xxxxx"
            };
            format!("{scheme}://{user}@{host}{}", &rest[end..])
        }
        None => url.to_owned(),
    }
}

/// Registers the password in the userinfo of an `http(s)://` `url`, or its user when there is
/// no password (a token written as the user, `https://TOKEN@host/`), as written and
/// percent-decoded, with `credentials`.
pub(crate) fn register_userinfo(url: &str, credentials: &CredentialSink) {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return;
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some((userinfo, _)) = rest[..end].rsplit_once('@') else {
        return;
    };
    let secret = userinfo
        .split_once(':')
        .map_or(userinfo, |(_, password)| password);
    let decoded: Vec<u8> = percent_encoding::percent_decode_str(secret).collect();
    credentials.register("the credential in a source URL", secret.as_bytes());
    credentials.register("the credential in a source URL", &decoded);
}

/// The name a download is saved under: the basename of the URL's path (Go's `path.Base`, so
/// trailing slashes are ignored), or `__unnamed__` if it has none.
fn file_name(url: &Url) -> String {
    url.path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|b| !b.is_empty() && *b != "." && *b != "..")
        .map_or_else(|| "__unnamed__".to_owned(), str::to_owned)
}

/// The `Authorization` value for `hostname` (no port) from the build's secrets, if any.
fn auth_header(
    hostname: &str,
    secrets: &HashMap<String, Secret>,
) -> Result<Option<HeaderValue>, DockerfileError> {
    for (prefix, bearer) in [("HTTP_AUTH_HEADER_", false), ("HTTP_AUTH_TOKEN_", true)] {
        let name = format!("{prefix}{hostname}");
        let Some(secret) = secrets.get(&name) else {
            continue;
        };
        let value = if bearer {
            [b"Bearer ", secret.expose()].concat()
        } else {
            secret.expose().to_vec()
        };
        let mut header = HeaderValue::from_bytes(&value).map_err(|_| {
            DockerfileError::Build(format!("secret {name} is not a valid HTTP header value"))
        })?;
        header.set_sensitive(true);
        return Ok(Some(header));
    }
    Ok(None)
}

/// The hex digest of an `ADD --checksum` value (`sha256:<64 hex digits>`), lower-cased.
fn expected_sha256(checksum: &str) -> Result<String, DockerfileError> {
    match checksum.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(hex.to_ascii_lowercase())
        }
        _ => Err(DockerfileError::Build(format!(
            "invalid checksum {checksum:?}: expected sha256:<64 hex digits>"
        ))),
    }
}

/// An error and its causes, `: `-separated.
fn causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Downloads `url` into the directory `dir` (mode 0600) and returns the file's name. With
/// `checksum` (`sha256:<hex>`), a download with another digest is an error naming both.
pub async fn download(
    url: &str,
    dir: &Path,
    checksum: Option<&str>,
    secrets: &HashMap<String, Secret>,
) -> Result<String, DockerfileError> {
    let shown = redact(url);
    let fail = |message: String| DockerfileError::Build(format!("ADD {shown}: {message}"));
    let expected = checksum.map(expected_sha256).transpose()?;
    let parsed = Url::parse(url).map_err(|e| fail(format!("invalid URL: {e}")))?;
    let hostname = parsed
        .host_str()
        .ok_or_else(|| fail("the URL has no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let auth = auth_header(hostname, secrets)?;
    let name = file_name(&parsed);
    let client = client().map_err(|e| fail(causes(&e.without_url())))?;
    let mut request = client
        .get(parsed)
        .build()
        .map_err(|e| fail(causes(&e.without_url())))?;
    if let Some(value) = auth {
        // Replaces any basic auth taken from the URL's userinfo.
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| fail(causes(&e.without_url())))?;
    let status = response.status();
    if !status.is_success() {
        return Err(fail(format!("the server answered {status}")));
    }
    let too_big = || {
        fail(format!(
            "the download is larger than {} MiB",
            MAX_SIZE >> 20
        ))
    };
    if response.content_length().is_some_and(|n| n > MAX_SIZE) {
        return Err(too_big());
    }
    let path = dir.join(&name);
    let io = |e: std::io::Error| fail(format!("cannot write {}: {e}", path.display()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io)?;
    let (mut hasher, mut size) = (Sha256::new(), 0u64);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| fail(causes(&e.without_url())))?
    {
        size += chunk.len() as u64;
        if size > MAX_SIZE {
            return Err(too_big());
        }
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(io)?;
    }
    file.sync_all().map_err(io)?;
    let actual = format!("{:x}", hasher.finalize());
    if let Some(expected) = expected.filter(|e| *e != actual) {
        return Err(fail(format!(
            "checksum mismatch: expected sha256:{expected}, got sha256:{actual}"
        )));
    }
    Ok(name)
}

/// The download client: timeouts, at most [`MAX_REDIRECTS`] redirects, never https to http.
fn client() -> reqwest::Result<reqwest::Client> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() != "https"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            attempt.error("refusing to follow a redirect from https to http")
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(redirects)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_lookup_header_beats_token_by_hostname_without_port() {
        let store = hush_secrets::SecretStore::new(hush_secrets::Registry::builtin(), 1024);
        let mut secrets = HashMap::new();
        let get = |s: &HashMap<String, Secret>| {
            auth_header("127.0.0.1", s)
                .unwrap()
                .map(|v| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get(&secrets), None);
        // The git names, a port or a `.` separator do not apply.
        for id in [
            "GIT_AUTH_TOKEN",
            "HTTP_AUTH_TOKEN",
            "HTTP_AUTH_TOKEN_127.0.0.1:8080",
            "HTTP_AUTH_TOKEN.127.0.0.1",
        ] {
            secrets.insert(id.into(), store.set_secret(id, b"no").unwrap());
        }
        assert_eq!(get(&secrets), None);
        secrets.insert(
            "HTTP_AUTH_TOKEN_127.0.0.1".into(),
            store.set_secret("t", b"tok").unwrap(),
        );
        assert_eq!(get(&secrets).as_deref(), Some("Bearer tok"));
        secrets.insert(
            "HTTP_AUTH_HEADER_127.0.0.1".into(),
            store.set_secret("h", b"Basic abc").unwrap(),
        );
        assert_eq!(get(&secrets).as_deref(), Some("Basic abc"));
        assert!(auth_header("127.0.0.1", &secrets)
            .unwrap()
            .unwrap()
            .is_sensitive());
        secrets.insert(
            "HTTP_AUTH_HEADER_127.0.0.1".into(),
            store.set_secret("bad", b"a\nb").unwrap(),
        );
        let e = auth_header("127.0.0.1", &secrets).unwrap_err().to_string();
        assert_eq!(
            e,
            "secret HTTP_AUTH_HEADER_127.0.0.1 is not a valid HTTP header value"
        );
    }

    #[test]
    fn urls_are_redacted_like_buildkit() {
        assert_eq!(
            redact("https://user:pw@host.tld/path.git"),
            "https://xxxxx:xxxxx@host.tld/path.git"
        );
        assert_eq!(
            redact("http://tok@host:8080?a=b@c"),
            "http://xxxxx@host:8080?a=b@c"
        );
        assert_eq!(
            redact("https://host/a@b/c"),
            "https://host/a@b/c",
            "an @ in the path is not userinfo"
        );
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn files_are_named_by_the_url_basename() {
        let name = |u: &str| file_name(&Url::parse(u).unwrap());
        assert_eq!(name("https://h/dir/app.tar.gz?x=1#f"), "app.tar.gz");
        assert_eq!(name("http://h:81/file"), "file");
        assert_eq!(name("https://h/"), "__unnamed__");
        assert_eq!(name("https://h"), "__unnamed__");
        assert_eq!(name("https://h/dir/"), "dir");
        assert_eq!(name("https://h//"), "__unnamed__");
    }

    #[test]
    fn checksums_are_sha256_hex() {
        let hex = "AB".repeat(32);
        assert_eq!(
            expected_sha256(&format!("sha256:{hex}")).unwrap(),
            hex.to_lowercase()
        );
        for bad in ["sha256:abc", "md5:00", &hex, &format!("sha512:{hex}")] {
            assert!(expected_sha256(bad).is_err(), "{bad}");
        }
    }
}
