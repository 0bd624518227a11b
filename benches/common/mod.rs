//! Generated inputs shared by the criterion benches (`benches/*.rs`) and the driver of
//! `bench/compare.sh` (`examples/bench_driver.rs`). Everything is made here, nothing is checked in.
#![allow(dead_code)]

use std::fmt::Write as _;

// The `codeless` binary's allocator (src/main.rs), so these figures are the binary's.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A chain of `n` utility-command tasks; each upper-cases what the previous one returned, so
/// every task resolves one template against the run's state and calls one command.
pub fn chain(n: usize) -> String {
    let mut s = format!(
        "kind: playbook\nname: Chain {n}\noutputs:\n  last: <<tasks.t{}.returnData>>\ntasks:\n",
        n - 1
    );
    chain_tasks(&mut s, n, None);
    s
}

/// Tasks `t0`..`t{n-1}` of a chain; the last leads to `then` if given.
fn chain_tasks(s: &mut String, n: usize, then: Option<&str>) {
    for i in 0..n {
        let input = if i == 0 {
            "<<incident.title>>".to_owned()
        } else {
            format!("<<tasks.t{}.returnData>>", i - 1)
        };
        let next = match (i + 1 < n, then) {
            (true, _) => format!(", next: [t{}]", i + 1),
            (false, Some(t)) => format!(", next: [{t}]"),
            (false, None) => String::new(),
        };
        let _ = writeln!(
            s,
            "  t{i}: {{ command: toUpper, input: {{ input: \"{input}\" }}{next} }}"
        );
    }
}

/// A chain of `n` `formatText` tasks; each renders a Handlebars template that reads the
/// previous task's status. Every render once copied every finished task's output, which made
/// this chain quadratic.
pub fn format_text_chain(n: usize) -> String {
    let mut s = format!("kind: playbook\nname: Format chain {n}\ntasks:\n");
    for i in 0..n {
        let read = if i == 0 {
            "{{incident.title}}".to_owned()
        } else {
            format!("{{{{tasks.t{}.status}}}}", i - 1)
        };
        let next = if i + 1 < n {
            format!(", next: [t{}]", i + 1)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  t{i}: {{ command: formatText, input: {{ template: \"step {i}: {read}\" }}{next} }}"
        );
    }
    s
}

/// 1 → `n` → 1: a start task, `n` independent tasks reading it, and a join (`wait: all`).
pub fn fan_out(n: usize) -> String {
    let mut s = format!("kind: playbook\nname: Fan out {n}\ntasks:\n  start: {{ command: toUpper, input: {{ input: \"<<incident.title>>\" }}, next: [");
    for i in 0..n {
        let _ = write!(s, "{}f{i}", if i == 0 { "" } else { ", " });
    }
    s.push_str("] }\n");
    for i in 0..n {
        let _ = writeln!(s, "  f{i}: {{ command: concatToRear, input: {{ input: \"<<tasks.start.returnData>>\", value: \" #{i}\" }}, next: [join] }}");
    }
    s.push_str("  join: { command: toLower, wait: all, input: { input: \"<<tasks.start.returnData>>\" } }\n");
    s
}

/// One task given a list of `n` words: batch execution, one `toUpper` call per element (on
/// `--concurrency` worker tasks), aggregated in element order.
pub fn batch(n: usize) -> String {
    let mut s =
        "kind: playbook\nname: Batch\ntasks:\n  each: { command: toUpper, input: { input: ["
            .to_owned();
    for i in 0..n {
        let _ = write!(s, "{}w{i}", if i == 0 { "" } else { ", " });
    }
    s.push_str("] } }\n");
    s
}

/// A realistic 50-task playbook (five segments of ten: case, concatenation, IP extraction,
/// counting, a conditional with two branches re-joined by `wait: any_once`, a batch, hashing, a
/// transform), number `i` of a corpus. Valid: `validate` reports nothing for it.
pub fn corpus_playbook(i: usize) -> String {
    let mut s = format!(
        "kind: playbook\nname: Corpus playbook {i:04}\ndescription: Generated for the validate benchmark\n\
         inputs:\n  - {{ name: analyst, type: text, default: soc-tier1 }}\n\
         outputs:\n  digest: <<tasks.s4_b64.returnData>>\ntasks:\n"
    );
    for k in 0..5 {
        let src = if k == 0 {
            "<<incident.title>>".to_owned()
        } else {
            format!("<<tasks.s{}_b64.returnData>>", k - 1)
        };
        let p = format!("s{k}_");
        let _ = write!(
            s,
            "  {p}upper:\n    command: toUpper\n    input: {{ input: \"{src}\" }}\n    next: [{p}concat]\n\
             \x20 {p}concat:\n    command: concatToRear\n    input:\n      input: <<tasks.{p}upper.returnData>>\n      value: \" by <<input.analyst>> in <<playbook.run_id>>\"\n    next: [{p}ips]\n\
             \x20 {p}ips:\n    command: extractIPs\n    input: {{ input: \"<<incident.body>>\" }}\n    next: [{p}count]\n\
             \x20 {p}count:\n    command: count\n    input: {{ input: \"<<tasks.{p}ips.returnData>>\" }}\n    next: [{p}cond]\n\
             \x20 {p}cond:\n    type: conditional\n    command: greaterThan\n    input: {{ input1: \"<<tasks.{p}count.returnData>>\", input2: 0 }}\n    branches: {{ \"true\": [{p}defang], \"false\": [{p}none] }}\n\
             \x20 {p}defang:\n    command: defang\n    input: {{ input: \"<<tasks.{p}ips.returnData>>\" }}\n    next: [{p}join]\n\
             \x20 {p}none:\n    command: concatToRear\n    input: {{ input: no IPs, value: \" found\" }}\n    next: [{p}join]\n\
             \x20 {p}join:\n    command: toLower\n    wait: any_once\n    input: {{ input: \"<<tasks.{p}concat.returnData>>\" }}\n    next: [{p}hash]\n\
             \x20 {p}hash:\n    command: sha256Hash\n    input: {{ input: \"<<tasks.{p}join.returnData>>\" }}\n    on_error: continue\n    next: [{p}b64]\n\
             \x20 {p}b64:\n    type: transform\n    input: <<tasks.{p}hash.returnData>>\n    steps:\n      - base64Encode\n      - {{ command: concatToFront, with: {{ value: \"sha256:\" }} }}\n"
        );
        if k < 4 {
            let _ = writeln!(s, "    next: [s{}_upper]", k + 1);
        }
    }
    s
}

/// 20 tasks: 19 chained utility commands, then `sleep` for `sleep_s` seconds, so that many runs
/// started together are all alive at once, each holding 19 task outputs.
pub fn twenty_tasks(sleep_s: f64) -> String {
    let mut s = String::from("kind: playbook\nname: Twenty tasks\ntasks:\n");
    chain_tasks(&mut s, 19, Some("wait"));
    let _ = writeln!(
        s,
        "  wait: {{ command: sleep, input: {{ seconds: {sleep_s}, value: \"<<tasks.t18.returnData>>\" }} }}"
    );
    s
}

/// An incident for the generated playbooks.
pub fn incident() -> serde_json::Value {
    serde_json::json!({
        "title": "Phishing report from finance",
        "body": "Mail relayed by 203.0.113.7 and 198.51.100.23; link to hxxp://bad[.]example/login",
        "severity": 3,
        "name": "INC-1042",
    })
}

/// A JSON API response of about `bytes` bytes: `{"data": [{"id", "name", "score", "tags",
/// "attributes"}...], "meta": {...}}`.
pub fn big_response(bytes: usize) -> serde_json::Value {
    let mut data = Vec::new();
    let mut size = 0;
    let mut i = 0u64;
    while size < bytes {
        let item = serde_json::json!({
            "id": format!("ioc-{i:08}"),
            "name": format!("indicator number {i}"),
            "score": (i * 37) % 100,
            "tags": ["phishing", "finance", if i.is_multiple_of(3) { "c2" } else { "benign" }],
            "attributes": { "first_seen": "2026-01-01T00:00:00Z", "asn": 64500 + (i % 500) },
        });
        size += item.to_string().len() + 1;
        data.push(item);
        i += 1;
    }
    serde_json::json!({ "data": data, "meta": { "count": i, "page": 1 } })
}
