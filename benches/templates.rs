//! Template resolution (lone reference, interpolation, JSONPath wildcard) and key-field
//! extraction on a 1 MB JSON response.

mod common;

use codeless::commands::KeyFieldSpec;
use codeless::jsonpath::Budget;
use codeless::template::{parse_template, Context, Scope};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::Duration;

/// An incident and one task's output, as the engine's scopes would hold them.
struct Scopes {
    incident: Value,
    scan: Value,
}

impl Context for Scopes {
    fn scope(&self, s: &Scope) -> Result<&Value, String> {
        match s {
            Scope::Incident => Ok(&self.incident),
            Scope::Task { id, field: Some(f) } if id == "scan" => {
                self.scan.get(f).ok_or_else(|| format!("no {f}"))
            }
            _ => Err("not available".into()),
        }
    }
}

fn templates(c: &mut Criterion) {
    let data: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("ioc-{i}"), "score": i}))
        .collect();
    let ctx = Scopes {
        incident: common::incident(),
        scan: json!({"returnData": "Successful", "rawData": {"data": data}}),
    };
    let mut g = c.benchmark_group("template");
    g.measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let cases = [
        ("lone_reference", "<<incident.title>>"),
        (
            "interpolation",
            "Alert <<incident.name>>: <<incident.title>> (severity <<incident.severity>>)",
        ),
        ("jsonpath_wildcard_100", "<<tasks.scan.rawData.data[*].id>>"),
        (
            "jsonpath_filter_100",
            "<<tasks.scan.rawData.data[?@.score > 50].id>>",
        ),
    ];
    for (name, text) in cases {
        let t = parse_template(text).expect("parses");
        g.bench_function(name, |b| b.iter(|| t.resolve(black_box(&ctx)).unwrap()));
    }
    g.bench_function("parse_interpolation", |b| {
        b.iter(|| parse_template(black_box(cases[1].1)).unwrap())
    });
    g.finish();
}

fn key_fields(c: &mut Criterion) {
    let raw = common::big_response(1 << 20);
    let bytes = raw.to_string().len() as u64;
    let specs = [KeyFieldSpec {
        name: "ids".into(),
        path: "$.data[*].id".into(),
        parse_json: false,
    }];
    let mut g = c.benchmark_group("key_fields_1MB");
    g.sample_size(30)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(bytes));
    g.bench_function("data[*].id", |b| {
        b.iter(|| codeless::output::extract_key_fields(&specs, black_box(&raw), Budget::default()))
    });
    let filter = [KeyFieldSpec {
        name: "hot".into(),
        path: "$.data[?@.score > 90].id".into(),
        parse_json: false,
    }];
    g.bench_function("data[?@.score > 90].id", |b| {
        b.iter(|| codeless::output::extract_key_fields(&filter, black_box(&raw), Budget::default()))
    });
    g.finish();
}

criterion_group!(benches, templates, key_fields);
criterion_main!(benches);
