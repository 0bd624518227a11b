//! The HTTP client codeless is built on, alone: `bench_reqwest PORT [CONCURRENCY [ROUNDS]]`
//! sends 1,000 GETs to `http://127.0.0.1:PORT/item/N` with reqwest, CONCURRENCY at a time
//! (default 16), parses each body as JSON, and prints one JSON line per round with its req/s.
//! The client and its connections are warmed up first. `bench/compare.sh` runs it beside wrk
//! and codeless's batch, to show how much of wrk's rate the client library itself reaches.

use futures::StreamExt;
use std::time::Instant;

fn main() {
    let arg = |i: usize, default: usize| -> usize {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (port, concurrency, rounds) = (arg(1, 0), arg(2, 16), arg(3, 3));
    if port == 0 {
        eprintln!("usage: bench_reqwest PORT [CONCURRENCY [ROUNDS]]");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().build().expect("an HTTP client");
    let get = |i: usize| {
        let c = client.clone();
        async move {
            let Ok(r) = c
                .get(format!("http://127.0.0.1:{port}/item/{i}"))
                .send()
                .await
            else {
                return 0;
            };
            match r.bytes().await {
                Ok(b) => usize::from(serde_json::from_slice::<serde_json::Value>(&b).is_ok()),
                Err(_) => 0,
            }
        }
    };
    rt.block_on(async {
        // Warm-up: the client, and as many connections as requests in flight.
        futures::stream::iter(0..concurrency * 4)
            .map(get)
            .buffer_unordered(concurrency)
            .for_each(|_| async {})
            .await;
        for _ in 0..rounds {
            let started = Instant::now();
            let ok = futures::stream::iter(0..1000)
                .map(get)
                .buffer_unordered(concurrency)
                .fold(0, |a, b| async move { a + b })
                .await;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{{\"ok\": {ok}, \"ms\": {:.3}, \"rps\": {:.0}}}",
                secs * 1e3,
                1000.0 / secs
            );
        }
    });
}
