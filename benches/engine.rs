//! Engine overhead per task: whole runs (in process, plan and registry built once) of chains
//! of 100 / 1,000 / 10,000 utility-command tasks, of a 1 → 1,000 → 1 fan-out/fan-in, and of
//! chains of 100 / 1,000 `formatText` tasks (Handlebars renders), and of one task running a
//! command over a 1,000-element list (batch execution).
//! Throughput is in tasks, so criterion's "elem/s" inverted is the cost of one task.

mod common;

use codeless::run::{run_playbook, RunData, RunOptions};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::Duration;

fn engine(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("engine");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    let cases = [
        ("chain", 100, common::chain(100)),
        ("chain", 1_000, common::chain(1_000)),
        ("chain", 10_000, common::chain(10_000)),
        ("fan_out_fan_in", 1_002, common::fan_out(1_000)),
        // One task, 1,000 batch elements: "elem/s" here is per element.
        ("batch", 1_000, common::batch(1_000)),
        // Handlebars renders: linear since each render copies only what it reads.
        ("format_text_chain", 100, common::format_text_chain(100)),
        ("format_text_chain", 1_000, common::format_text_chain(1_000)),
    ];
    for (name, tasks, text) in &cases {
        let (pb, ws) = codeless::cli::playbook_from_str("p.yaml", text).expect("valid playbook");
        let (plan, _) = codeless::plan::plan(&pb);
        let plan = Arc::new(plan);
        let registry = Arc::new(ws.registry.clone());
        let incident = common::incident();
        g.throughput(Throughput::Elements(*tasks as u64));
        g.bench_function(BenchmarkId::new(*name, tasks), |b| {
            b.iter(|| {
                let data = RunData {
                    incident: incident.clone(),
                    ..RunData::default()
                };
                let r = rt.block_on(run_playbook(
                    pb.clone(),
                    plan.clone(),
                    registry.clone(),
                    data,
                    RunOptions::default(),
                ));
                assert_eq!(r.status, codeless::output::Status::Successful);
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
