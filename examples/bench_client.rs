//! HTTP client libraries alone, for `bench/compare.sh`: how much of wrk's rate each reaches on
//! the loopback server, without codeless around it.
//!
//! ```text
//! bench_client PORT CLIENT [CONCURRENCY [ROUNDS]]
//!   CLIENT: reqwest      reqwest (what codeless uses for https, proxies and multipart)
//!           hyper-pool   hyper-util's pooled client (what codeless uses for plain http://)
//!           hyper-conn   hyper's bare connections, one task per connection driving it and its
//!                        requests: about the least a Rust async client can spend per request
//! ```
//!
//! Each round sends 1,000 GETs to `http://127.0.0.1:PORT/item/N`, CONCURRENCY at a time (default
//! 16), parses each body as JSON, and prints one JSON line with its req/s. The client and its
//! connections are warmed up first, so this is a ceiling for codeless, whose run also opens them.

use futures::StreamExt;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

const REQUESTS: usize = 1000;

// The `codeless` binary's allocator (src/main.rs), so a client's ceiling is read on equal terms.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn parsed(body: &[u8]) -> usize {
    usize::from(serde_json::from_slice::<serde_json::Value>(body).is_ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    let (port, concurrency, rounds) = (num(1, 0), num(3, 16), num(4, 3));
    let client = args.get(2).map(String::as_str).unwrap_or("");
    if port == 0 || !matches!(client, "reqwest" | "hyper-pool" | "hyper-conn") {
        eprintln!("usage: bench_client PORT reqwest|hyper-pool|hyper-conn [CONCURRENCY [ROUNDS]]");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        // The first round warms up the client and its connections and is not printed.
        for round in 0..=rounds {
            let started = Instant::now();
            let ok = match client {
                "reqwest" => reqwest_round(port, concurrency).await,
                "hyper-pool" => hyper_pool_round(port, concurrency).await,
                _ => hyper_conn_round(port, concurrency).await,
            };
            let secs = started.elapsed().as_secs_f64();
            if round > 0 {
                println!(
                    "{{\"ok\": {ok}, \"ms\": {:.3}, \"rps\": {:.0}}}",
                    secs * 1e3,
                    REQUESTS as f64 / secs
                );
            }
        }
    });
}

async fn reqwest_round(port: usize, concurrency: usize) -> usize {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().build().expect("an HTTP client")
    });
    futures::stream::iter(0..REQUESTS)
        .map(|i| async move {
            let url = format!("http://127.0.0.1:{port}/item/{i}");
            match client.get(url).send().await {
                Ok(r) => r.bytes().await.map_or(0, |b| parsed(&b)),
                Err(_) => 0,
            }
        })
        .buffer_unordered(concurrency)
        .fold(0, |a, b| async move { a + b })
        .await
}

type Pool = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Empty<Bytes>,
>;

async fn hyper_pool_round(port: usize, concurrency: usize) -> usize {
    static CLIENT: std::sync::OnceLock<Pool> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
        tcp.set_nodelay(true);
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(tcp)
    });
    futures::stream::iter(0..REQUESTS)
        .map(|i| async move {
            let Ok(uri) = format!("http://127.0.0.1:{port}/item/{i}").parse() else {
                return 0;
            };
            match client.get(uri).await {
                Ok(r) => r
                    .into_body()
                    .collect()
                    .await
                    .map_or(0, |b| parsed(&b.to_bytes())),
                Err(_) => 0,
            }
        })
        .buffer_unordered(concurrency)
        .fold(0, |a, b| async move { a + b })
        .await
}

/// One connection per slot, opened each round; each task drives its connection and sends its
/// share of the requests, so no wake-up crosses tasks.
async fn hyper_conn_round(port: usize, concurrency: usize) -> usize {
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let next = next.clone();
        set.spawn(async move {
            let Ok(tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port as u16)).await else {
                return 0;
            };
            let _ = tcp.set_nodelay(true);
            let io = hyper_util::rt::TokioIo::new(tcp);
            let Ok((mut send, conn)) = hyper::client::conn::http1::handshake(io).await else {
                return 0;
            };
            let work = async move {
                let mut ok = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= REQUESTS {
                        return ok;
                    }
                    let Ok(req) = hyper::Request::get(format!("/item/{i}"))
                        .header("host", format!("127.0.0.1:{port}"))
                        .body(Empty::<Bytes>::new())
                    else {
                        continue;
                    };
                    if let Ok(r) = send.send_request(req).await {
                        if let Ok(b) = r.into_body().collect().await {
                            ok += parsed(&b.to_bytes());
                        }
                    }
                }
            };
            tokio::pin!(conn);
            tokio::select! {
                ok = work => ok,
                _ = &mut conn => 0,
            }
        });
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        ok += r.unwrap_or(0);
    }
    ok
}
