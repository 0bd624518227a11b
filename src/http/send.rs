//! Sending a prepared request. Redirects are followed here rather than inside reqwest, so each
//! hop goes out on the client that fits its URL: a plain `http://` hop uses a client without
//! TLS roots, and a run that only talks plain HTTP never loads them (4–20 ms per process).
//! The rules are reqwest's own (`redirect::Policy::limited(10)`): at most 10 redirects;
//! 301/302 turn a POST into a GET, 303 turns anything but HEAD into a GET; 307/308 repeat the
//! request as it was; credentials are dropped when the host, port or scheme changes; a
//! `Referer` is sent unless going from https to http. The timeout covers the whole chain.

use super::{Body, Prepared};
use reqwest::header::{HeaderValue, LOCATION};
use reqwest::{Method, StatusCode, Url};
use std::sync::OnceLock;
use std::time::Instant;

/// Most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// HTTP clients, each built on first use.
#[derive(Default)]
pub struct Clients {
    /// Verifies TLS certificates against the system's roots.
    verifying: OnceLock<Result<reqwest::Client, String>>,
    /// For connections that turn verification off.
    insecure: OnceLock<Result<reqwest::Client, String>>,
    /// Plain `http://` only: it has no TLS roots, so it could not complete a TLS handshake
    /// even if a URL reached it by mistake.
    plain: OnceLock<Result<reqwest::Client, String>>,
}

#[derive(Clone, Copy)]
enum Kind {
    Verifying,
    Insecure,
    Plain,
}

impl Clients {
    fn get(&self, kind: Kind) -> Result<&reqwest::Client, String> {
        let cell = match kind {
            Kind::Verifying => &self.verifying,
            Kind::Insecure => &self.insecure,
            Kind::Plain => &self.plain,
        };
        cell.get_or_init(|| {
            // reqwest is built without a bundled crypto provider; install ring's once.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let b = reqwest::Client::builder()
                .user_agent(concat!("codeless/", env!("CARGO_PKG_VERSION")))
                .redirect(reqwest::redirect::Policy::none());
            let b = match kind {
                Kind::Verifying => b,
                Kind::Insecure => b.tls_danger_accept_invalid_certs(true),
                Kind::Plain => b.tls_certs_only([]),
            };
            b.build()
                .map_err(|e| format!("cannot create an HTTP client: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    /// The client for a hop to `url`. A proxy may itself speak TLS, so with a proxy
    /// configured every hop uses a client with roots. (On macOS and Windows reqwest also reads
    /// the system's proxy settings, which we cannot see: there, always.)
    fn for_url(&self, url: &Url, verify_tls: bool) -> Result<&reqwest::Client, String> {
        let kind = if url.scheme() == "http" && !proxy_configured() {
            Kind::Plain
        } else if verify_tls {
            Kind::Verifying
        } else {
            Kind::Insecure
        };
        self.get(kind)
    }
}

fn proxy_configured() -> bool {
    static CONFIGURED: OnceLock<bool> = OnceLock::new();
    *CONFIGURED.get_or_init(|| {
        cfg!(any(target_os = "macos", windows))
            || [
                "HTTP_PROXY",
                "http_proxy",
                "HTTPS_PROXY",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
            ]
            .iter()
            .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    })
}

#[derive(Debug)]
pub enum SendError {
    Client(String),
    Http(reqwest::Error),
    TimedOut,
    TooManyRedirects,
    BadRedirect(String),
}

/// Sends `p`, following redirects; the response is the last hop's.
pub async fn send(clients: &Clients, p: &Prepared) -> Result<reqwest::Response, SendError> {
    let deadline = Instant::now() + p.timeout;
    // The request as first prepared, until a redirect changes it.
    let mut changed: Option<Prepared> = None;
    let mut redirects = 0;
    loop {
        let cur = changed.as_ref().unwrap_or(p);
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SendError::TimedOut);
        }
        let client = clients
            .for_url(&cur.url, cur.verify_tls)
            .map_err(SendError::Client)?;
        let resp = super::build(client, cur)
            .timeout(left)
            .send()
            .await
            .map_err(SendError::Http)?;
        let status = resp.status();
        if !matches!(
            status,
            StatusCode::MOVED_PERMANENTLY
                | StatusCode::FOUND
                | StatusCode::SEE_OTHER
                | StatusCode::TEMPORARY_REDIRECT
                | StatusCode::PERMANENT_REDIRECT
        ) {
            return Ok(resp);
        }
        // A redirect we cannot follow is the answer, as with reqwest.
        let Some(next) = resp
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| cur.url.join(l).ok())
        else {
            return Ok(resp);
        };
        if !matches!(next.scheme(), "http" | "https") {
            return Err(SendError::BadRedirect(format!(
                "{} redirected to a `{}:` URL; only http and https are followed",
                cur.url.host_str().unwrap_or("?"),
                next.scheme()
            )));
        }
        if redirects == MAX_REDIRECTS {
            return Err(SendError::TooManyRedirects);
        }
        redirects += 1;
        changed = Some(redirected(cur, status, next));
    }
}

/// The request to send after `status` pointed from `cur` to `next`.
fn redirected(cur: &Prepared, status: StatusCode, next: Url) -> Prepared {
    let mut n = cur.clone();
    let to_get = match status {
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => n.method == Method::POST,
        StatusCode::SEE_OTHER => true,
        _ => false,
    };
    if to_get {
        if n.method != Method::HEAD {
            n.method = Method::GET;
        }
        n.body = Body::None;
        n.headers.retain(|(k, _)| {
            ![
                "content-type",
                "content-length",
                "content-encoding",
                "transfer-encoding",
            ]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        });
    }
    let cross_origin = next.host_str() != cur.url.host_str()
        || next.port_or_known_default() != cur.url.port_or_known_default()
        || next.scheme() != cur.url.scheme();
    if cross_origin {
        n.basic = None;
        n.headers.retain(|(k, _)| {
            ![
                "authorization",
                "cookie",
                "cookie2",
                "proxy-authorization",
                "www-authenticate",
            ]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        });
    }
    n.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("referer"));
    if !(next.scheme() == "http" && cur.url.scheme() == "https") {
        let mut referer = cur.url.clone();
        let _ = referer.set_username("");
        let _ = referer.set_password(None);
        referer.set_fragment(None);
        if HeaderValue::from_str(referer.as_str()).is_ok() {
            n.headers.push(("Referer".into(), referer.into()));
        }
    }
    n.url = next;
    n
}
