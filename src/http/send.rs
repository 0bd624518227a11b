//! Sending a prepared request. Redirects are followed here rather than inside reqwest, so each
//! hop goes out on the client that fits its URL:
//! - a plain `http://` hop goes straight to hyper's pooled client (the one reqwest is built on),
//!   which costs about half of reqwest's instructions per request, and never needs TLS roots
//!   (loading them costs 4–20 ms per process);
//! - an `https://` hop, a multipart upload, or any hop while a proxy is configured goes through
//!   reqwest, which brings TLS, proxies and multipart encoding.
//!
//! Both send the same request: reqwest's default headers (`user-agent`, `accept: */*`) unless
//! the request has its own, the headers in order, basic auth, and the same body encodings.
//! The rules are reqwest's own (`redirect::Policy::limited(10)`): at most 10 redirects;
//! 301/302 turn a POST into a GET, 303 turns anything but HEAD into a GET; 307/308 repeat the
//! request as it was; credentials (and headers carrying the connection's secrets) are dropped
//! when the host, port or scheme changes, and whenever the hop leaves the origin of the
//! integration's base URL, where a body holding a secret is not re-sent (the call fails); a
//! `Referer` is sent unless going from https to http, and to another origin it names only the
//! origin (reqwest sends the whole URL). The timeout covers the whole chain.

use super::{Away, Body, Part, Prepared};
use crate::secrets::Secrets;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body as _, Bytes, Incoming};
use reqwest::header::{
    HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, USER_AGENT,
};
use reqwest::{Method, StatusCode, Url};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const AGENT: &str = concat!("codeless/", env!("CARGO_PKG_VERSION"));

/// hyper's pooled HTTP/1.1 client over plain TCP.
type Direct = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Full<Bytes>,
>;

/// Most redirects one request follows.
const MAX_REDIRECTS: usize = 10;

/// HTTP clients, each built on first use.
#[derive(Default)]
pub struct Clients {
    /// Verifies TLS certificates against the system's roots.
    verifying: OnceLock<Result<reqwest::Client, String>>,
    /// For connections that turn verification off.
    insecure: OnceLock<Result<reqwest::Client, String>>,
    /// Plain `http://` multipart uploads: it has no TLS roots, so it could not complete a TLS
    /// handshake even if a URL reached it by mistake.
    plain: OnceLock<Result<reqwest::Client, String>>,
    /// Every other plain `http://` hop.
    direct: OnceLock<Direct>,
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
                .user_agent(AGENT)
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

    /// The reqwest client for a hop. A proxy may itself speak TLS, so with a proxy
    /// configured every hop uses a client with roots.
    fn for_hop(&self, p: &Prepared) -> Result<&reqwest::Client, String> {
        let kind = if plain_http(p) {
            Kind::Plain
        } else if p.verify_tls {
            Kind::Verifying
        } else {
            Kind::Insecure
        };
        self.get(kind)
    }

    fn direct(&self) -> &Direct {
        self.direct.get_or_init(|| {
            // reqwest's socket and pool settings, so both paths treat connections alike: TCP
            // keepalive finds a connection a NAT dropped silently; idle ones close after 90 s.
            let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
            tcp.set_nodelay(true);
            tcp.set_keepalive(Some(Duration::from_secs(15)));
            tcp.set_keepalive_interval(Some(Duration::from_secs(15)));
            tcp.set_keepalive_retries(Some(3));
            #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
            tcp.set_tcp_user_timeout(Some(Duration::from_secs(30)));
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_timer(hyper_util::rt::TokioTimer::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(tcp)
        })
    }
}

/// Whether a hop can go straight to hyper: plain HTTP without a proxy, and no multipart body
/// (reqwest encodes those).
fn goes_direct(p: &Prepared) -> bool {
    plain_http(p) && !matches!(p.body, Body::Multipart(_))
}

/// A plain `http://` hop with no proxy in the way: it needs no TLS. (On macOS and Windows
/// reqwest also reads the system's proxy settings, which we cannot see: there, never.)
fn plain_http(p: &Prepared) -> bool {
    static NO_PROXY: OnceLock<bool> = OnceLock::new();
    p.url.scheme() == "http"
        && *NO_PROXY.get_or_init(|| {
            !cfg!(any(target_os = "macos", windows))
                && !PROXY_VARIABLES
                    .iter()
                    .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
        })
}

/// The environment variables reqwest takes proxies from.
pub const PROXY_VARIABLES: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Why a request got no response, whichever client sent it.
#[derive(Debug)]
pub enum SendError {
    Client(String),
    /// The connection could not be made (`connect`), or the exchange failed; `hop` names the
    /// host when it was not the request's own but one a redirect led to.
    Failed {
        connect: bool,
        cause: String,
        hop: Option<String>,
    },
    TimedOut,
    TooManyRedirects,
    BadRedirect(String),
}

impl SendError {
    /// Whether trying again may succeed: a network failure or a timeout may pass, a redirect
    /// loop, a redirect to another scheme or a request that cannot be built will not.
    pub fn may_pass(&self) -> bool {
        matches!(self, SendError::Failed { .. } | SendError::TimedOut)
    }
}

/// A response whose body has not been read yet.
pub enum Response {
    Reqwest(reqwest::Response),
    Direct {
        head: hyper::http::response::Parts,
        body: Incoming,
        deadline: Instant,
    },
}

/// Why a body could not be read to its end.
pub enum BodyError {
    TimedOut,
    Broken(String),
}

impl Response {
    pub fn status(&self) -> StatusCode {
        match self {
            Response::Reqwest(r) => r.status(),
            Response::Direct { head, .. } => head.status,
        }
    }

    pub fn headers(&self) -> &HeaderMap {
        match self {
            Response::Reqwest(r) => r.headers(),
            Response::Direct { head, .. } => &head.headers,
        }
    }

    pub fn content_length(&self) -> Option<u64> {
        match self {
            Response::Reqwest(r) => r.content_length(),
            Response::Direct { body, .. } => body.size_hint().exact(),
        }
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, BodyError> {
        match self {
            Response::Reqwest(r) => r.chunk().await.map_err(|e| {
                if e.is_timeout() {
                    BodyError::TimedOut
                } else {
                    BodyError::Broken(super::root_cause(&e))
                }
            }),
            Response::Direct { body, deadline, .. } => loop {
                let frame = tokio::time::timeout_at((*deadline).into(), body.frame())
                    .await
                    .map_err(|_| BodyError::TimedOut)?;
                match frame {
                    None => return Ok(None),
                    Some(Err(e)) => return Err(BodyError::Broken(super::root_cause(&e))),
                    // Trailers are not part of the body.
                    Some(Ok(f)) => {
                        if let Ok(data) = f.into_data() {
                            return Ok(Some(data));
                        }
                    }
                }
            },
        }
    }
}

/// Sends `p`, following redirects; the response is the last hop's. `secrets` are the
/// connection's: a hop away from the integration's origin carries none of them.
pub async fn send(
    clients: &Clients,
    p: &Prepared,
    secrets: &Secrets,
) -> Result<Response, SendError> {
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
        // A hop a redirect led to fails under its own host's name.
        let on_hop = |e: SendError| match e {
            SendError::Failed { connect, cause, .. } if changed.is_some() => SendError::Failed {
                connect,
                cause,
                hop: Some(cur.url.host_str().unwrap_or("?").to_owned()),
            },
            other => other,
        };
        let resp = if goes_direct(cur) {
            send_direct(clients.direct(), cur, deadline)
                .await
                .map_err(on_hop)?
        } else {
            let client = clients.for_hop(cur).map_err(SendError::Client)?;
            Response::Reqwest(
                reqwest_request(client, cur)
                    .timeout(left)
                    .send()
                    .await
                    .map_err(|e| {
                        on_hop(if e.is_timeout() {
                            SendError::TimedOut
                        } else {
                            SendError::Failed {
                                connect: e.is_connect(),
                                cause: super::root_cause(&e),
                                hop: None,
                            }
                        })
                    })?,
            )
        };
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
        changed = Some(redirected(cur, status, next, p, secrets)?);
    }
}

/// The request to send after `status` pointed from `cur` to `next` (`first`: the request as
/// first sent).
fn redirected(
    cur: &Prepared,
    status: StatusCode,
    next: Url,
    first: &Prepared,
    secrets: &Secrets,
) -> Result<Prepared, SendError> {
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
            !one_of(
                k,
                &[
                    "content-type",
                    "content-length",
                    "content-encoding",
                    "transfer-encoding",
                ],
            )
        });
    }
    let cross_origin = !super::same_origin(&next, &cur.url);
    let home = first.home.origin(&first.url);
    if !home.is_some_and(|h| super::same_origin(h, &next)) {
        // Credentials stay with the integration's origin (DESIGN §5).
        let away = Away::new(&first.home, &first.url, &next, secrets);
        away.check_body(&n.body).map_err(SendError::BadRedirect)?;
        away.strip(&mut n.headers, &mut n.secret_headers, &mut n.basic, true);
    }
    if cross_origin {
        // reqwest's list, and the headers that carry this connection's credentials (an API
        // key in `X-Api-Key` must not follow a redirect to another host).
        n.basic = None;
        n.headers.retain(|(k, _)| {
            !one_of(
                k,
                &[
                    "authorization",
                    "cookie",
                    "cookie2",
                    "proxy-authorization",
                    "www-authenticate",
                ],
            ) && !one_of(k, &cur.secret_headers)
        });
    }
    // The browsers' default policy (strict-origin-when-cross-origin), stricter than reqwest's:
    // another origin learns only where the request came from, not its path and query, which
    // may carry an API key.
    n.headers.retain(|(k, _)| !one_of(k, &["referer"]));
    if !(next.scheme() == "http" && cur.url.scheme() == "https") {
        let mut referer = cur.url.clone();
        let _ = referer.set_username("");
        let _ = referer.set_password(None);
        referer.set_fragment(None);
        if cross_origin {
            referer.set_path("/");
            referer.set_query(None);
        }
        if HeaderValue::from_str(referer.as_str()).is_ok() {
            n.headers.push(("Referer".into(), referer.into()));
        }
    }
    n.url = next;
    Ok(n)
}

async fn send_direct(
    client: &Direct,
    p: &Prepared,
    deadline: Instant,
) -> Result<Response, SendError> {
    let request = direct_request(p).map_err(|e| {
        SendError::Client(format!(
            "cannot build the request to {}: {e}",
            p.url.host_str().unwrap_or("?")
        ))
    })?;
    let sent = tokio::time::timeout_at(deadline.into(), client.request(request))
        .await
        .map_err(|_| SendError::TimedOut)?;
    let resp = sent.map_err(|e| SendError::Failed {
        connect: e.is_connect(),
        cause: super::root_cause(&e),
        hop: None,
    })?;
    let (head, body) = resp.into_parts();
    Ok(Response::Direct {
        head,
        body,
        deadline,
    })
}

/// The request as reqwest would put it on the wire (its `RequestBuilder` appends each header).
fn direct_request(p: &Prepared) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
    // Built in place rather than with `Request::builder()`, whose every step moves the whole
    // request through a `Result` (2.6k instructions a request, callgrind).
    // `try_`: a map past http's size limit (some 24,000 headers, from a template that resolves
    // to a huge object) is an error, as with the builder, not a panic.
    let mut headers = HeaderMap::try_with_capacity(p.headers.len() + 4)?;
    for (k, v) in &p.headers {
        headers.try_append(
            HeaderName::from_bytes(k.as_bytes())?,
            HeaderValue::from_str(v)?,
        )?;
    }
    if let Some((user, password)) = &p.basic {
        headers.try_append(AUTHORIZATION, basic_auth(user, password))?;
    }
    let body = match &p.body {
        Body::None => Bytes::new(),
        Body::Json(v) => {
            headers.try_append(CONTENT_TYPE, HeaderValue::from_static("application/json"))?;
            Bytes::from(v.to_string())
        }
        Body::Form(pairs) => {
            if !has_header(&p.headers, "content-type") {
                headers.try_append(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                )?;
            }
            Bytes::from(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish(),
            )
        }
        // Never here (see `goes_direct`); sent empty rather than wrong if it ever were.
        Body::Multipart(_) => Bytes::new(),
    };
    // reqwest's client-wide defaults, which a request's own headers replace.
    if !has_header(&p.headers, "user-agent") {
        headers.try_append(USER_AGENT, HeaderValue::from_static(AGENT))?;
    }
    if !has_header(&p.headers, "accept") {
        headers.try_append(ACCEPT, HeaderValue::from_static("*/*"))?;
    }
    let mut request = hyper::Request::new(Full::new(body));
    *request.method_mut() = p.method.clone();
    *request.uri_mut() = hyper::Uri::try_from(p.url.as_str())?;
    *request.headers_mut() = headers;
    Ok(request)
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// Whether header `name` is one of `names` (header names ignore case).
fn one_of(name: &str, names: &[impl AsRef<str>]) -> bool {
    names.iter().any(|n| name.eq_ignore_ascii_case(n.as_ref()))
}

/// `Basic base64(user:password)`, as reqwest's `basic_auth` writes it.
fn basic_auth(user: &str, password: &str) -> HeaderValue {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut v = HeaderValue::from_str(&format!("Basic {encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
    v.set_sensitive(true);
    v
}

/// The same request through reqwest.
fn reqwest_request(client: &reqwest::Client, p: &Prepared) -> reqwest::RequestBuilder {
    let mut b = client.request(p.method.clone(), p.url.clone());
    for (k, v) in &p.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    if let Some((u, pw)) = &p.basic {
        b = b.basic_auth(u, Some(pw));
    }
    match &p.body {
        Body::None => b,
        Body::Json(v) => b
            .header(CONTENT_TYPE, "application/json")
            .body(v.to_string()),
        Body::Form(pairs) => b.form(pairs),
        Body::Multipart(parts) => {
            let mut form = reqwest::multipart::Form::new();
            for part in parts {
                form = match part {
                    Part::Text(k, v) => form.text(k.clone(), v.clone()),
                    Part::File {
                        field,
                        name,
                        content_type,
                        bytes,
                    } => {
                        let p =
                            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone());
                        let p = p.mime_str(content_type).unwrap_or_else(|_| {
                            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.clone())
                        });
                        form.part(field.clone(), p)
                    }
                };
            }
            b.multipart(form)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn prepared(url: &str, method: Method, headers: &[(&str, &str)], body: Body) -> Prepared {
        Prepared {
            method,
            url: Url::parse(url).expect("a test URL"),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            secret_headers: Vec::new(),
            basic: None,
            home: super::super::Home::Request,
            body,
            timeout: Duration::from_secs(5),
            verify_tls: true,
        }
    }

    /// A hop that a redirect led to fails under its own host's name, not the first one's.
    #[tokio::test]
    async fn a_failed_redirect_hop_names_its_host() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::path("/away"))
            .respond_with(
                ResponseTemplate::new(302).insert_header("Location", "http://localhost:9/x"),
            )
            .mount(&server)
            .await;
        let p = prepared(
            &format!("{}/away", server.uri()),
            Method::GET,
            &[],
            Body::None,
        );
        match send(&Clients::default(), &p, &Secrets::default()).await {
            Err(SendError::Failed { hop, connect, .. }) => {
                assert_eq!(hop.as_deref(), Some("localhost"));
                assert!(connect);
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("port 9 answered"),
        }
        // The first hop failing has no other host to name.
        let p = prepared("http://127.0.0.1:9/x", Method::GET, &[], Body::None);
        assert!(matches!(
            send(&Clients::default(), &p, &Secrets::default()).await,
            Err(SendError::Failed { hop: None, .. })
        ));
    }

    /// Past http's header-map limit, building the request is an error, as it was with
    /// `Request::builder()`, not a panic.
    #[test]
    fn too_many_headers_are_an_error_not_a_panic() {
        let names: Vec<String> = (0..30_000).map(|i| format!("x-h{i}")).collect();
        let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        let p = prepared("http://127.0.0.1:9/", Method::GET, &headers, Body::None);
        assert!(direct_request(&p).is_err());
        let few = prepared(
            "http://127.0.0.1:9/",
            Method::GET,
            &headers[..100],
            Body::None,
        );
        assert_eq!(
            direct_request(&few).map(|r| r.headers().len()).ok(),
            Some(102)
        );
    }

    /// What the server saw, headers sorted by name (hyper and reqwest may order them apart).
    fn seen(r: &wiremock::Request) -> (String, String, Vec<(String, String)>, Vec<u8>) {
        let mut headers: Vec<(String, String)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_owned()))
            .collect();
        headers.sort();
        (
            r.method.to_string(),
            r.url.to_string(),
            headers,
            r.body.clone(),
        )
    }

    /// The direct path and reqwest put the same request on the wire.
    #[tokio::test]
    async fn both_transports_send_the_same_request() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        let base = server.uri();
        let mut with_basic = prepared(
            &format!("{base}/form?q=1"),
            Method::POST,
            &[("X-Tenant", "acme")],
            Body::Form(vec![("a".into(), "1 2".into()), ("b".into(), "é&=".into())]),
        );
        with_basic.basic = Some(("analyst".into(), "pa:ss".into()));
        let cases = [
            prepared(&format!("{base}/plain"), Method::GET, &[], Body::None),
            prepared(&format!("{base}/empty-post"), Method::POST, &[], Body::None),
            prepared(
                &format!("{base}/delete?x=1"),
                Method::DELETE,
                &[],
                Body::None,
            ),
            prepared(&format!("{base}/head"), Method::HEAD, &[], Body::None),
            prepared(
                &format!("{base}/json"),
                Method::POST,
                &[
                    ("Authorization", "Bearer t-1"),
                    ("X-Many", "1"),
                    ("x-many", "2"),
                ],
                Body::Json(serde_json::json!({"alert": "x", "n": [1, 2]})),
            ),
            with_basic,
            prepared(
                &format!("{base}/own"),
                Method::PUT,
                &[
                    ("User-Agent", "mine/1"),
                    ("Accept", "application/json"),
                    ("Content-Type", "text/plain"),
                ],
                Body::Form(vec![("k".into(), "v".into())]),
            ),
        ];
        let clients = Clients::default();
        let reqwest_client = clients.get(Kind::Plain).expect("a client");
        for p in &cases {
            let direct = send_direct(clients.direct(), p, Instant::now() + p.timeout).await;
            assert!(direct.is_ok_and(|r| r.status() == StatusCode::OK));
            let via_reqwest = reqwest_request(reqwest_client, p).send().await;
            assert!(via_reqwest.is_ok_and(|r| r.status() == StatusCode::OK));
        }
        let got = server.received_requests().await.unwrap_or_default();
        assert_eq!(got.len(), 2 * cases.len());
        for pair in got.chunks(2) {
            assert_eq!(seen(&pair[0]), seen(&pair[1]));
        }
        // And the request is the one meant.
        let (_, _, headers, body) = seen(&got[10]);
        assert_eq!(body, b"a=1+2&b=%C3%A9%26%3D");
        assert!(headers.contains(&("authorization".into(), "Basic YW5hbHlzdDpwYTpzcw==".into())));
        assert!(headers.contains(&("user-agent".into(), AGENT.into())));
        let (_, _, headers, _) = seen(&got[12]);
        assert!(headers.contains(&("user-agent".into(), "mine/1".into())));
        assert!(!headers.iter().any(|(_, v)| v == AGENT));
    }

    #[tokio::test]
    async fn the_direct_path_times_out_and_reports_connection_failures() {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
            .mount(&server)
            .await;
        let clients = Clients::default();
        let mut p = prepared(
            &format!("{}/slow", server.uri()),
            Method::GET,
            &[],
            Body::None,
        );
        p.timeout = Duration::from_millis(200);
        let started = Instant::now();
        assert!(matches!(
            send(&clients, &p, &Secrets::default()).await,
            Err(SendError::TimedOut)
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        let p = prepared("http://127.0.0.1:9/x", Method::GET, &[], Body::None);
        match send(&clients, &p, &Secrets::default()).await {
            Err(SendError::Failed { connect, cause, .. }) => {
                assert!(connect, "{cause}");
                assert!(!cause.is_empty());
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("port 9 answered"),
        }
    }
}
