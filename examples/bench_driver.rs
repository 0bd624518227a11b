//! The codeless side of `bench/compare.sh` (built with `cargo build --release --examples`).
//!
//! ```text
//! bench_driver gen DIR PORT        write the generated inputs (chains, corpus, 1 MB JSON, HTTP playbooks)
//! bench_driver template N          render the short template N times; prints seconds and the text
//! bench_driver keyfields FILE N    extract `$.data[*].id` from FILE N times; prints seconds and the count
//! bench_driver memory RUNS         RUNS concurrent runs of a 20-task playbook; prints peak RSS
//! bench_driver phases FILE INCIDENT [CONNECTIONS [CONCURRENCY]]
//!                                  the steps of `codeless run FILE`, each timed
//! ```
//! Every result is one JSON line on stdout.

#[path = "../benches/common/mod.rs"]
mod common;

use codeless::commands::KeyFieldSpec;
use codeless::run::{run_playbook, RunData, RunOptions};
use codeless::template::{parse_template, Context, Scope};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The template of the Jinja2 comparison; Jinja2 renders
/// `Alert {{ incident.name }}: {{ incident.title }} (severity {{ incident.severity }})`.
pub const SHORT_TEMPLATE: &str =
    "Alert <<incident.name>>: <<incident.title>> (severity <<incident.severity>>)";

struct Incident(Value);

impl Context for Incident {
    fn scope(&self, s: &Scope) -> Result<&Value, String> {
        match s {
            Scope::Incident => Ok(&self.0),
            _ => Err("only incident".into()),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i).map(String::as_str).unwrap_or_else(|| {
            eprintln!("usage: see the top of examples/bench_driver.rs");
            std::process::exit(2)
        })
    };
    let number = |i: usize| -> usize {
        arg(i).parse().unwrap_or_else(|_| {
            eprintln!("`{}` is not a number", arg(i));
            std::process::exit(2)
        })
    };
    match arg(0) {
        "gen" => generate(Path::new(arg(1)), number(2)),
        "template" => template(number(1)),
        "keyfields" => keyfields(Path::new(arg(1)), number(2)),
        "memory" => memory(number(1)),
        "phases" => phases(
            Path::new(arg(1)),
            Path::new(arg(2)),
            args.get(3).map(Path::new),
            args.get(4).and_then(|c| c.parse().ok()).unwrap_or(16),
        ),
        other => {
            eprintln!("unknown subcommand `{other}`");
            std::process::exit(2)
        }
    }
}

fn write(path: PathBuf, text: &str) {
    if let Err(e) = std::fs::write(&path, text) {
        eprintln!("cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}

fn generate(dir: &Path, port: usize) {
    let mkdir = |p: &Path| {
        std::fs::create_dir_all(p).unwrap_or_else(|e| {
            eprintln!("cannot create {}: {e}", p.display());
            std::process::exit(1)
        })
    };
    for sub in ["corpus", "http/batch", "http/fanout"] {
        mkdir(&dir.join(sub));
    }
    // One directory per chain: `codeless run` also loads the playbooks beside the one it runs.
    for n in [10, 100, 1_000, 10_000] {
        let d = dir.join("chains").join(n.to_string());
        mkdir(&d);
        write(d.join("chain.yaml"), &common::chain(n));
    }
    write(dir.join("incident.json"), &common::incident().to_string());
    for i in 0..1_000 {
        write(
            dir.join("corpus").join(format!("playbook-{i:04}.yaml")),
            &common::corpus_playbook(i),
        );
    }
    write(
        dir.join("response.json"),
        &common::big_response(1 << 20).to_string(),
    );
    // HTTP: one task given 1,000 URLs (a batch), and 1,000 tasks between a start and a join.
    let urls: Vec<String> = (0..1_000).map(|i| format!("/item/{i}")).collect();
    write(
        dir.join("http").join("urls.json"),
        &json!({ "urls": urls }).to_string(),
    );
    write(
        dir.join("http").join("connections.yaml"),
        &format!("kind: connections\nconnections:\n  loopback:\n    integration: REST API Callback\n    params: {{ requesturl: \"http://127.0.0.1:{port}\" }}\n"),
    );
    write(
        dir.join("http").join("batch").join("playbook.yaml"),
        "kind: playbook\nname: HTTP batch\ntasks:\n  send:\n    command: RESTAPICallback.SendRequest\n    connection: loopback\n    input:\n      url: <<incident.urls>>\n      method: GET\n",
    );
    let mut fan = String::from("kind: playbook\nname: HTTP fan-out\ntasks:\n  start: { command: count, input: { input: \"<<incident.urls>>\" }, next: [");
    fan.push_str(
        &(0..1_000)
            .map(|i| format!("r{i}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    fan.push_str("] }\n");
    for i in 0..1_000 {
        fan.push_str(&format!("  r{i}: {{ command: RESTAPICallback.SendRequest, connection: loopback, input: {{ url: /item/{i} }}, next: [join] }}\n"));
    }
    fan.push_str("  join: { command: count, input: { input: \"<<incident.urls>>\" } }\n");
    write(dir.join("http").join("fanout").join("playbook.yaml"), &fan);
    println!("{}", json!({"generated": dir.display().to_string()}));
}

fn template(n: usize) {
    let t = parse_template(SHORT_TEMPLATE).expect("the template parses");
    let ctx = Incident(common::incident());
    let started = Instant::now();
    let mut last = Value::Null;
    for _ in 0..n {
        last = std::hint::black_box(t.resolve(std::hint::black_box(&ctx)).expect("resolves"));
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{}", json!({"seconds": secs, "n": n, "text": last}));
}

fn keyfields(file: &Path, n: usize) {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| {
        eprintln!("cannot read {}: {e}", file.display());
        std::process::exit(1)
    });
    let raw: Value = serde_json::from_str(&text).expect("valid JSON");
    let specs = [KeyFieldSpec {
        name: "ids".into(),
        path: "$.data[*].id".into(),
        parse_json: false,
    }];
    let started = Instant::now();
    let mut count = 0;
    for _ in 0..n {
        let kf = codeless::output::extract_key_fields(
            &specs,
            std::hint::black_box(&raw),
            codeless::jsonpath::Budget::default(),
        )
        .expect("within the limits");
        count = kf["ids"].as_array().map(Vec::len).unwrap_or(0);
        std::hint::black_box(kf);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({"seconds": secs, "n": n, "count": count, "bytes": text.len()})
    );
}

/// Peak resident set size of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn memory(runs: usize) {
    let (pb, ws) = codeless::cli::playbook_from_str("twenty.yaml", &common::twenty_tasks(5.0))
        .unwrap_or_else(|d| panic!("{:?}", d.iter().map(|d| d.short()).collect::<Vec<_>>()));
    let (plan, _) = codeless::plan::plan(&pb);
    let plan = Arc::new(plan);
    let registry = Arc::new(ws.registry.clone());
    let incident = common::incident();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let before = peak_rss_kib();
    let alive = Arc::new(AtomicUsize::new(0));
    let most_alive = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let statuses = rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..runs {
            let (pb, plan, registry) = (pb.clone(), plan.clone(), registry.clone());
            let (alive, most_alive) = (alive.clone(), most_alive.clone());
            let data = RunData {
                incident: incident.clone(),
                ..RunData::default()
            };
            set.spawn(async move {
                let now = alive.fetch_add(1, Ordering::SeqCst) + 1;
                most_alive.fetch_max(now, Ordering::SeqCst);
                let r = run_playbook(pb, plan, registry, data, RunOptions::default()).await;
                alive.fetch_sub(1, Ordering::SeqCst);
                r.status
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            if r.map(|s| s == codeless::output::Status::Successful)
                .unwrap_or(false)
            {
                ok += 1;
            }
        }
        ok
    });
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
    println!(
        "{}",
        json!({
            "runs": runs,
            "successful": statuses,
            "most_alive_at_once": most_alive.load(Ordering::SeqCst),
            "seconds": secs,
            "peak_rss_kib": peak,
            "rss_before_runs_kib": before,
            "kib_per_run": (peak.saturating_sub(before)) as f64 / runs.max(1) as f64,
        })
    );
}

/// The steps `codeless run` takes (cli::run), each timed: where whole-process time goes.
fn phases(file: &Path, incident: &Path, connections: Option<&Path>, concurrency: usize) {
    let mut times = serde_json::Map::new();
    let mut lap = {
        let mut t = Instant::now();
        move |name: &str, times: &mut serde_json::Map<String, Value>| {
            times.insert(name.into(), json!(t.elapsed().as_secs_f64() * 1e3));
            t = Instant::now();
        }
    };
    let mut paths = vec![file.to_path_buf()];
    paths.extend(connections.map(Path::to_path_buf));
    let files = codeless::cli::walk(&paths).expect("readable");
    let ws = codeless::workspace::Workspace::load(&files);
    lap("load_ms", &mut times);
    let diags = ws.diagnostics_for(&file.display().to_string());
    assert!(!codeless::workspace::Workspace::has_errors(&diags));
    lap("validate_ms", &mut times);
    let pb = ws.playbook(file).expect("a playbook");
    let (plan, _) = codeless::plan::plan(&pb);
    lap("plan_ms", &mut times);
    let incident = codeless::cli::read_data(incident, &Default::default()).expect("incident");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = RunData {
        incident,
        ..RunData::default()
    };
    let registry = Arc::new(ws.registry.clone());
    let opts = RunOptions {
        concurrency,
        connections: codeless::run::ConnectionTable::build(&ws),
        ..RunOptions::default()
    };
    lap("setup_ms", &mut times);
    let faults = minor_faults();
    let fut = run_playbook(pb.clone(), Arc::new(plan), registry, data, opts);
    let r = rt.block_on(fut);
    lap("run_ms", &mut times);
    if let (Some(before), Some(after)) = (faults, minor_faults()) {
        times.insert(
            "run_page_faults".into(),
            json!(after.saturating_sub(before)),
        );
    }
    let doc = codeless::run::run_document(&pb, &r);
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    lap("document_ms", &mut times);
    times.insert("tasks".into(), json!(r.tasks.len()));
    times.insert("status".into(), json!(r.status.as_str()));
    times.insert("document_bytes".into(), json!(text.len()));
    println!("{}", Value::Object(times));
}

/// The process's minor page faults so far (`/proc/self/stat`, field 10), where Linux gives them.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let after_name = &stat[stat.rfind(')')? + 2..];
    after_name.split(' ').nth(7)?.parse().ok()
}
