//! `validate` of a generated corpus: 1,000 playbooks of 50 tasks, loaded from text, checked
//! together in one workspace (what `codeless validate DIR` does after reading the files).

mod common;

use codeless::load::load_str;
use codeless::workspace::Workspace;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

fn validate(c: &mut Criterion) {
    let corpus: Vec<(String, String)> = (0..1_000)
        .map(|i| (format!("corpus/p{i:04}.yaml"), common::corpus_playbook(i)))
        .collect();
    let check = || {
        let loaded = corpus
            .iter()
            .map(|(p, t)| load_str(p, t.as_str()))
            .collect();
        let ws = Workspace::new(loaded);
        ws.diagnostics()
    };
    let diags = check();
    assert!(
        diags.is_empty(),
        "the corpus must be valid: {:?}",
        diags.iter().take(5).map(|d| d.short()).collect::<Vec<_>>()
    );
    let mut g = c.benchmark_group("validate");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Elements(corpus.len() as u64));
    g.bench_function("corpus_1000x50_tasks", |b| b.iter(check));
    let one = &corpus[0];
    g.throughput(Throughput::Elements(1));
    g.bench_function("one_50_task_playbook", |b| {
        b.iter(|| Workspace::new(vec![load_str(&one.0, one.1.as_str())]).diagnostics())
    });
    g.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
