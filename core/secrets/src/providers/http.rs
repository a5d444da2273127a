//! What the HTTP providers (`vault://`, `op://`) share: one client per provider, transport
//! errors mapped to failure kinds, response bodies read into secret memory.
//!
//! The bytes hyper and rustls hold while a response is in flight are outside our control;
//! from the first chunk on, a body lives only in zeroized (and, where allowed, locked) memory.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Response, Url};
use zeroize::Zeroizing;

use crate::error::{describe_causes, Failure};
use crate::value::{SecretBuf, SecretBytes};

/// Most bytes of an error response kept for its message.
const ERROR_BODY_KEPT: usize = 64 * 1024;

/// How long a provider waits to connect and for a whole request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

/// A client with rustls, the platform's roots plus `extra_roots_pem`, the timeouts, and
/// redirects followed at most 3 times and never from https to http.
pub(crate) fn client(
    timeouts: Timeouts,
    extra_roots_pem: Option<&[u8]>,
) -> Result<reqwest::Client, String> {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt.url().scheme() != "https"
            && attempt.previous().iter().any(|u| u.scheme() == "https");
        if downgrade {
            attempt.error("refusing to follow a redirect from https to http")
        } else if attempt.previous().len() > 3 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .redirect(redirects);
    if let Some(pem) = extra_roots_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| format!("not a PEM certificate bundle ({})", describe_causes(&e)))?;
        if certs.is_empty() {
            return Err("no certificate in the PEM bundle".into());
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", describe_causes(&e)))
}

/// Maps a transport error to a failure kind: timeouts, unreachable servers (refused, DNS,
/// TLS), or a provider failure. `server` names what was asked (never a URL with a token).
pub(crate) fn transport_failure(err: &reqwest::Error, server: &str, t: Timeouts) -> Failure {
    if err.is_timeout() {
        return Failure::Timeout(if err.is_connect() {
            t.connect
        } else {
            t.request
        });
    }
    if err.is_body() || err.is_decode() || err.is_builder() {
        return Failure::Provider(format!(
            "bad exchange with {server}: {}",
            describe_causes(err)
        ));
    }
    if err.is_connect() {
        return Failure::Unreachable(format!(
            "cannot connect to {server}: {}",
            describe_causes(err)
        ));
    }
    Failure::Unreachable(format!(
        "request to {server} failed: {}",
        describe_causes(err)
    ))
}

/// Reads a response body into secret memory, failing with `TooLarge` past `cap` bytes.
pub(crate) async fn read_body(
    response: &mut Response,
    cap: usize,
    server: &str,
    t: Timeouts,
) -> Result<SecretBytes, Failure> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(Failure::TooLarge);
    }
    let mut buf = SecretBuf::new(cap);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_failure(&e, server, t))?
    {
        buf.push(&chunk).map_err(|_| Failure::TooLarge)?;
    }
    Ok(buf.freeze())
}

/// The start of an error response's body, as text, for a message. Error bodies of Vault
/// and 1Password Connect describe the error and never carry secret values.
pub(crate) async fn error_text(response: &mut Response) -> String {
    let mut kept = Zeroizing::new(Vec::new());
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ERROR_BODY_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Shortens a server's message for an error: one line, at most 300 characters.
pub(crate) fn short(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(300) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line,
    }
}

/// A sensitive header value holding `prefix` + `secret` in one zeroized allocation that
/// every clone of the header shares. `None` if the bytes are not allowed in a header.
pub(crate) fn secret_header(prefix: &str, secret: &[u8]) -> Option<HeaderValue> {
    let mut owned = Zeroizing::new(Vec::with_capacity(prefix.len() + secret.len()));
    owned.extend_from_slice(prefix.as_bytes());
    owned.extend_from_slice(secret);
    let mut value = HeaderValue::from_maybe_shared(Bytes::from_owner(owned)).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// A request body whose bytes are zeroized when the request is done with them.
pub(crate) fn secret_body(bytes: Zeroizing<Vec<u8>>) -> reqwest::Body {
    reqwest::Body::from(Bytes::from_owner(bytes))
}

/// `scheme://host[:port]` of `url`, without any user name or password, for messages.
pub(crate) fn origin(url: &Url) -> String {
    let mut shown = format!("{}://{}", url.scheme(), url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    shown
}

/// `base` with `segments` appended to its path, each percent-encoded as needed.
pub(crate) fn join<'a>(base: &Url, segments: impl IntoIterator<Item = &'a str>) -> Url {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Parses a server address from the environment variable `var`: an http or https URL.
pub(crate) fn parse_base(var: &str, value: &str) -> Result<Url, Failure> {
    let url = Url::parse(value).map_err(|e| {
        Failure::Provider(format!(
            "{var} must be a URL like https://host:port, not a value that fails to parse ({e})"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(Failure::Provider(format!(
            "{var} must be an http:// or https:// URL"
        )));
    }
    Ok(url)
}
