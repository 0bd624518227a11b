//! The store's journal: append latency with `synchronous=FULL` (one task appending one entry at a
//! time, each awaited: median, p99) and throughput with concurrent appenders (entries per second
//! and per commit: the group commit). `cargo bench --bench store`; the store goes in
//! `CODELESS_BENCH_DIR` (else the system's temporary directory): put it on the disk you mean to
//! measure, since a tmpfs makes fsync free. `STORE_BENCH_APPENDS` sets the appends per case.

use std::time::{Duration, Instant};

use chrono::Utc;
use codeless::store::{
    Durability, NewEntry, NewRun, OpenOptions, RunId, SqliteStore, Store, Trigger,
};
use serde_json::json;

fn entry(n: u64) -> NewEntry {
    // About the size of a utility task's finish event (output model, branch).
    NewEntry::now(
        "task_finished",
        json!({
            "task": format!("Task {n}"),
            "status": "Successful",
            "output": {"result": "ok", "returnData": {"value": n, "text": "x".repeat(120)}},
            "branch": null,
            "duration_ms": 0.004
        }),
    )
}

async fn runs(store: &SqliteStore, count: usize) -> Vec<RunId> {
    let def = store.put_definition(b"bench".to_vec()).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..count {
        let run = NewRun {
            playbook: "Bench".to_string(),
            definition: def.clone(),
            trigger: Trigger::Cli,
            trigger_data: json!({}),
            inputs: json!({}),
            connections: vec![],
            started_at: Utc::now(),
        };
        ids.push(store.create_run(run).await.unwrap().id);
    }
    ids
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn latency(dir: &std::path::Path, durability: Durability, appends: u64) {
    let options = OpenOptions {
        durability,
        ..OpenOptions::default()
    };
    let store = SqliteStore::open(
        dir.join(format!("latency-{}.db", durability.name())),
        options,
    )
    .unwrap();
    let run = runs(&store, 1).await.remove(0);
    for n in 0..20 {
        store.append(&run, vec![entry(n)]).await.unwrap(); // warm-up
    }
    let mut times = Vec::with_capacity(appends as usize);
    for n in 0..appends {
        let started = Instant::now();
        store.append(&run, vec![entry(n)]).await.unwrap();
        times.push(started.elapsed());
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "append latency, synchronous={:<6} 1 task, 1 entry per append, {appends} appends: median {:.3} ms, p99 {:.3} ms, mean {:.3} ms, max {:.3} ms",
        durability.name().to_uppercase(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.99)),
        ms(mean),
        ms(times[times.len() - 1]),
    );
}

/// One task issuing appends without awaiting each (the engine's pattern for steps with no
/// outside effect), awaiting the last: what a journaled chain pays per entry.
async fn pipelined(dir: &std::path::Path, appends: u64) {
    let store = SqliteStore::open(dir.join("pipelined.db"), OpenOptions::default()).unwrap();
    let run = runs(&store, 1).await.remove(0);
    let before = store.commit_stats();
    let started = Instant::now();
    let pending: Vec<_> = (0..appends)
        .map(|n| store.append(&run, vec![entry(n)]))
        .collect();
    for future in pending {
        future.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = store.commit_stats();
    let commits = stats.commits - before.commits;
    println!(
        "pipelined, synchronous=FULL, 1 task, {appends} appends awaited at the end: {:.4} ms per entry, {:.1} entries per commit ({commits} commits)",
        ms(elapsed) / appends as f64,
        (stats.entries - before.entries) as f64 / commits as f64,
    );
}

async fn throughput(dir: &std::path::Path, tasks: usize, appends: u64) {
    let path = dir.join(format!("throughput-{tasks}.db"));
    let store = SqliteStore::open(&path, OpenOptions::default()).unwrap();
    let ids = runs(&store, tasks.min(100)).await;
    let per_task = (appends / tasks as u64).max(1);
    let before = store.commit_stats();
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        let run = ids[t % ids.len()].clone();
        handles.push(tokio::spawn(async move {
            for n in 0..per_task {
                store.append(&run, vec![entry(n)]).await.unwrap();
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = store.commit_stats();
    let entries = stats.entries - before.entries;
    let commits = stats.commits - before.commits;
    let commit_ms = (stats.commit_nanos - before.commit_nanos) as f64 / 1e6 / commits as f64;
    println!(
        "throughput, synchronous=FULL, {tasks:>3} tasks on {:>3} runs, 1 entry per append: {:>7.0} entries/s, {:>6.1} entries per commit ({commits} commits, {commit_ms:.3} ms per COMMIT)",
        ids.len(),
        entries as f64 / elapsed.as_secs_f64(),
        entries as f64 / commits as f64,
    );
}

fn main() {
    // `cargo bench` passes --bench; a filter argument is not used here.
    let appends: u64 = std::env::var("STORE_BENCH_APPENDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let base = std::env::var_os("CODELESS_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("codeless-store-bench")
        .tempdir_in(&base)
        .unwrap();
    println!("store bench in {}", dir.path().display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        latency(dir.path(), Durability::Full, appends).await;
        latency(dir.path(), Durability::Normal, appends).await;
        pipelined(dir.path(), appends * 5).await;
        for tasks in [1, 8, 64, 256] {
            throughput(dir.path(), tasks, appends * 5).await;
        }
    });
}
