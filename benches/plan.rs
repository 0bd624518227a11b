//! Graph planning (`codeless::plan::plan`) of chains and of a 1 → 1,000 → 1 fan-out.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn planning(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let cases = [
        ("chain", 100, common::chain(100)),
        ("chain", 1_000, common::chain(1_000)),
        ("chain", 10_000, common::chain(10_000)),
        ("fan_out", 1_002, common::fan_out(1_000)),
    ];
    for (name, tasks, text) in &cases {
        let (pb, _) = codeless::cli::playbook_from_str("p.yaml", text).expect("valid playbook");
        g.throughput(Throughput::Elements(*tasks as u64));
        g.bench_with_input(BenchmarkId::new(*name, tasks), &pb, |b, pb| {
            b.iter(|| codeless::plan::plan(black_box(pb)))
        });
    }
    g.finish();
}

criterion_group!(benches, planning);
criterion_main!(benches);
