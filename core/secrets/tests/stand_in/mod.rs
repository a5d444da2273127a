//! A small HTTP/1.1 server on 127.0.0.1 (a random port), plain or TLS, for the stand-ins of
//! Vault and 1Password Connect. No real Vault or Connect server can run on the machines these
//! tests run on, so each test file serves the documented API subset itself, with this.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The percent-decoded path.
    pub path: String,
    /// The decoded query pairs.
    pub query: Vec<(String, String)>,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The stand-in's answer.
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// The same answer, sent after `delay`.
    pub fn after(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }
}

/// A running stand-in; it stops with the test's runtime.
pub struct Server {
    /// `http://127.0.0.1:PORT` or `https://...`.
    pub url: String,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The paths requested so far, as `METHOD PATH`.
    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// Serves `handler` on 127.0.0.1, over TLS when `tls` is given.
pub async fn serve(
    handler: impl Fn(&Request) -> Reply + Send + Sync + 'static,
    tls: Option<TlsAcceptor>,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let handler: Arc<Handler> = Arc::new(handler);
    let log = Arc::new(Mutex::new(Vec::new()));
    let server = Server {
        url: format!("{scheme}://{addr}"),
        log: log.clone(),
    };
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (handler, log, tls) = (handler.clone(), log.clone(), tls.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, handler.clone(), log.clone()));
                let http = hyper::server::conn::http1::Builder::new();
                match tls {
                    Some(acceptor) => {
                        // A client that rejects the certificate ends the handshake here.
                        if let Ok(stream) = acceptor.accept(stream).await {
                            let _ = http.serve_connection(TokioIo::new(stream), service).await;
                        }
                    }
                    None => {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
            });
        }
    });
    server
}

async fn handle(
    req: hyper::Request<Incoming>,
    handler: Arc<Handler>,
    log: Arc<Mutex<Vec<Request>>>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let query = parts
        .uri
        .query()
        .map(|q| {
            reqwest::Url::parse(&format!("http://stand-in/?{q}"))
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let request = Request {
        method: parts.method.to_string(),
        path: percent_encoding::percent_decode_str(parts.uri.path())
            .decode_utf8_lossy()
            .into_owned(),
        query,
        headers: parts.headers,
        body,
    };
    log.lock().unwrap().push(request.clone());
    let reply = handler(&request);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    Ok(hyper::Response::builder()
        .status(reply.status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap())
}

/// A port on 127.0.0.1 that nothing listens on.
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// Fails if any of `texts` contains any of `secrets`.
pub fn assert_hidden(texts: &[String], secrets: &[&str]) {
    for text in texts {
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{secret:?} leaked into an error or Debug text: {text}"
            );
        }
    }
}
