//! What each fuzz target does with its input. Shared by the `cargo fuzz` targets in
//! `fuzz/fuzz_targets/` and the regression tests in `tests/fuzz_regressions.rs` (which include
//! this file with `#[path]`), so a crash input replays through exactly the code that found it.
//!
//! A finding is a panic (or an abort, a stack overflow, a hang). Errors returned as values are
//! the expected outcome for garbage input.

#![allow(dead_code)]

use codeless::commands::KeyFieldSpec;
use codeless::load::load_str;
use codeless::report::{render, Format};
use codeless::template::{
    parse_template, render_template, render_template_as_written, render_text, Context, Part, Scope,
    Template,
};
use codeless::workspace::Workspace;
use serde_json::{json, Map, Value};

/// The targets, by name, as `scripts/fuzz.sh` and the driver know them.
pub const TARGETS: &[&str] = &[
    "load_playbook",
    "load_integration",
    "load_connections",
    "load_test",
    "template",
    "text_template",
    "jsonpath",
    "validate",
    "engine",
];

/// Runs target `name` on `data`. Unknown names panic (a harness bug, not a finding).
pub fn run(name: &str, data: &[u8]) {
    match name {
        "load_playbook" => load("playbook", data),
        "load_integration" => load("integration", data),
        "load_connections" => load("connections", data),
        "load_test" => load("test", data),
        "template" => template(data),
        "text_template" => text_template(data),
        "jsonpath" => jsonpath(data),
        "validate" => validate(data),
        "engine" => engine(data),
        other => panic!("no fuzz target `{other}`"),
    }
}

/// Files are UTF-8 text (`load_file` refuses anything else before parsing).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// The loader for one file kind. Input without a `kind:` line gets `kind: KIND` put in front,
/// so mutations that drop the line still reach that kind's loader.
pub fn load(kind: &str, data: &[u8]) {
    let Some(t) = text(data) else { return };
    let owned;
    let t = if t.contains("kind") {
        t
    } else {
        owned = format!("kind: {kind}\n{t}");
        &owned
    };
    let l = load_str("fuzz.yaml", t);
    // Every diagnostic must point into the file (line/column computed as `validate` does).
    for d in &l.diagnostics {
        let _ = d.short();
    }
    let _ = render(&l.diagnostics, 1, Format::Json, false);
}

/// `validate` on arbitrary bytes: load, build the workspace (built-in integrations, the
/// registry, nested-playbook commands), every rule, and every output format.
pub fn validate(data: &[u8]) {
    let Some(t) = text(data) else { return };
    let ws = Workspace::new(vec![load_str("fuzz.yaml", t)]);
    let diags = ws.diagnostics();
    for format in [Format::Human, Format::Json, Format::Github, Format::Sarif] {
        let _ = render(&diags, 1, format, false);
    }
}

/// A context with something in every scope, shaped like real run data.
pub struct Ctx {
    incident: Value,
    event: Value,
    input: Value,
    task: Value,
    connector: Value,
    item: Value,
    index: Value,
    playbook: Value,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx {
            incident: json!({
                "title": "Phish <<connector.apikey>> {{connector.apikey}}",
                "score": 70, "ips": ["1.1.1.1", "2.2.2.2"], "empty": {}, "none": null,
                "Source IP": "10.0.0.1", "nested": {"a": [{"b": [1, 2, {"c": "d"}]}]},
                "é": "ü", "n": -1.5e300, "big": 18446744073709551615u64,
            }),
            event: json!([1, "two", {"three": 3}]),
            input: json!({"analyst": "soc", "n": 5, "list": ["a", "b"]}),
            task: json!({
                "status": "Successful", "returnData": "ok", "result": "<b>done</b>",
                "keyFields": {"ids": [1, 2], "ip": "1.2.3.4"},
                "rawData": {"data": [{"id": 1, "s": 5, "tags": ["x"]}, {"id": 2, "s": 9}], "total": 2},
                "error": null, "passdown": {}, "retries": 0, "runs": 1, "duration_ms": 3,
            }),
            connector: json!({"apikey": "sk-fuzz-secret", "serverurl": "http://127.0.0.1:9"}),
            item: json!({"id": 7, "name": "seven"}),
            index: json!(3),
            playbook: json!({"name": "Fuzz", "run_id": "r-1", "started_at": "2026-01-01 00:00:00"}),
        }
    }
}

impl Context for Ctx {
    fn scope(&self, s: &Scope) -> Result<&Value, String> {
        match s {
            Scope::Incident => Ok(&self.incident),
            Scope::Event => Ok(&self.event),
            Scope::Input => Ok(&self.input),
            Scope::Connector => Ok(&self.connector),
            Scope::Item => Ok(&self.item),
            Scope::Index => Ok(&self.index),
            Scope::Playbook => Ok(&self.playbook),
            Scope::Task { id, field } if id == "scan" || id == "x" => match field {
                Some(f) => self.task.get(f).ok_or_else(|| format!("no field {f}")),
                None => Ok(&self.task),
            },
            Scope::Task { id, .. } => Err(format!("task `{id}` has not run")),
        }
    }
}

impl Ctx {
    /// The Handlebars data object: the same scopes by name.
    pub fn scopes(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("incident".into(), self.incident.clone());
        m.insert("event".into(), self.event.clone());
        m.insert("input".into(), self.input.clone());
        m.insert(
            "tasks".into(),
            json!({"scan": self.task.clone(), "x": self.task.clone()}),
        );
        m.insert("connector".into(), self.connector.clone());
        m.insert("item".into(), self.item.clone());
        m.insert("index".into(), self.index.clone());
        m.insert("playbook".into(), self.playbook.clone());
        m
    }
}

/// The data `Scopes::data_for` would pass for `reads`: only the named scopes (`item` and
/// `index` always) and, under `tasks`, only the named tasks.
fn narrow(
    mut all: Map<String, Value>,
    reads: Option<codeless::template::ReadSet>,
) -> Map<String, Value> {
    let Some(reads) = reads else { return all };
    all.retain(|k, _| k == "item" || k == "index" || reads.roots.iter().any(|r| r == k));
    if let (Some(ids), Some(Value::Object(tasks))) = (&reads.tasks, all.get_mut("tasks")) {
        tasks.retain(|id, _| ids.iter().any(|i| i == id));
    }
    all
}

/// The `<<...>>` parser and resolver. Besides not panicking: a string without references is
/// its own literal (with `\<<` unescaped), and every reference's offsets lie inside the string.
pub fn template(data: &[u8]) {
    let Some(s) = text(data) else { return };
    match parse_template(s) {
        Ok(t) => {
            if let Some(lit) = t.literal() {
                assert_eq!(lit, unescape(s), "literal text changed");
            }
            for e in t.exprs() {
                assert!(e.offset + e.len <= s.len(), "reference outside the string");
                let _ = e.display();
                let _ = e.path.to_string();
            }
            let ctx = Ctx::default();
            let _ = t.resolve(&ctx);
            let _ = render_text(&t, &ctx);
        }
        Err(errors) => {
            for e in errors {
                assert!(e.offset + e.len <= s.len(), "error span outside the string");
            }
        }
    }
}

/// Handlebars `text_template` / `html_template` with our helpers. The first byte chooses HTML
/// escaping; the rest is the template, parsed as `<<...>>` first as the loader does (and, when
/// that fails, rendered as plain Handlebars text).
pub fn text_template(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Some(s) = text(rest) else { return };
    let html = first & 1 == 1;
    let ctx = Ctx::default();
    match parse_template(s) {
        // As the engine renders it: from the text as written (`raw`).
        Ok(t) => {
            // Differential: the data the engine narrows to (`read_set`, as in
            // `Scopes::data_for`) renders exactly what the whole data renders.
            let full = render_template_as_written(&t, Some(s), html, &ctx, |_| ctx.scopes());
            let narrowed = render_template_as_written(&t, Some(s), html, &ctx, |source| {
                narrow(ctx.scopes(), codeless::template::read_set(source))
            });
            assert_eq!(full, narrowed, "read_set left out data the template reads");
            let _ = codeless::template::read_set(s);
            let _ = render_template(&t, html, &ctx, ctx.scopes());
        }
        Err(_) => {
            let t = Template {
                parts: vec![Part::Text(s.to_owned())],
            };
            let _ = render_template(&t, html, &ctx, ctx.scopes());
        }
    }
}

/// JSONPath key-field extraction: the first line is the path, the rest a JSON document (a
/// fixed document when it is not JSON).
pub fn jsonpath(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let (path, doc) = s.split_once('\n').unwrap_or((s, ""));
    let raw: Value = serde_json::from_str(doc).unwrap_or_else(|_| {
        json!({"data": [{"id": 1, "s": 5, "v": "{\"a\":1}"}, {"id": 2, "s": 9, "v": "[1,"}],
               "error": {"message": "m"}, "n": null, "t": "text", "x": [[1, [2, [3]]]]})
    });
    // Differential: step by step, a query selects what serde_json_path selects for the whole
    // path.
    if let Ok(q) = codeless::jsonpath::parse(path) {
        assert!(q.is_stepwise(), "the path was not split into steps");
        assert!(
            q.agrees_with_whole(&raw),
            "step by step selects other values"
        );
    }
    let _ = codeless::output::is_plural(path);
    let specs = [
        KeyFieldSpec {
            name: "k".into(),
            path: path.to_owned(),
            parse_json: false,
        },
        KeyFieldSpec {
            name: "j".into(),
            path: path.to_owned(),
            parse_json: true,
        },
    ];
    let _ = codeless::output::extract_key_fields_noted(
        &specs,
        &raw,
        codeless::jsonpath::Budget::default(),
    );
}

/// What the template parser does with escapes, left to right: `\<<` → `<<`, `\{{` → `{{`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.starts_with("<<") || after.starts_with("{{") {
            out.push_str(&after[..2]);
            rest = &after[2..];
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

// ---- engine ---------------------------------------------------------------------------------

/// Reads choices from the fuzzer's bytes; past their end every choice is the first option.
struct Choices<'a> {
    data: &'a [u8],
    at: usize,
}

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }
    /// A number below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        let wide = usize::from(self.byte()) << 8 | usize::from(self.byte());
        wide % n
    }
    fn pick<'s, T>(&mut self, from: &'s [T]) -> &'s T {
        &from[self.below(from.len())]
    }
    fn chance(&mut self, in_256: u8) -> bool {
        self.byte() < in_256
    }
}

/// Texts an incident may hold: ordinary, large, template-like, and the seed's retry marker.
const TEXTS: &[&str] = &[
    "",
    "a",
    "Phish",
    "1.2.3.4",
    "10.0.0.1, 8.8.8.8",
    "http://evil.example/x?y=1",
    "user@example.com",
    "44d88612fea8a8f36de82e1278abb02f",
    "{\"__ACTION__\":\"__RETRY__\",\"__DELAY__\":[3600]}",
    "<<incident.a>> {{connector.apikey}}",
    "[1, 2, 3]",
    "{\"a\": {\"a\": 1}}",
    "2026-01-01 00:00:00",
    "12",
    "true",
    "é😀\u{1b}[2J",
];

const KEYS: &[&str] = &["a", "b", "url", "list", "s", "n", "__ACTION__"];

/// A random incident: nested objects and arrays of the texts above, numbers and booleans.
fn incident(c: &mut Choices, depth: usize) -> Value {
    let leaf = depth >= 12 || c.chance(90);
    if leaf {
        return match c.below(6) {
            0 => Value::String((*c.pick(TEXTS)).to_owned()),
            1 => json!(c.below(1000) as i64 - 10),
            2 => json!(c.chance(128)),
            3 => Value::Null,
            4 => Value::String("x".repeat(c.below(2000))),
            _ => json!(c.below(100) as f64 / 7.0),
        };
    }
    let n = c.below(6);
    if c.chance(128) {
        Value::Array((0..n).map(|_| incident(c, depth + 1)).collect())
    } else {
        let mut m = Map::new();
        for _ in 0..n {
            m.insert((*c.pick(KEYS)).to_owned(), incident(c, depth + 1));
        }
        Value::Object(m)
    }
}

/// Where a template may read: plain paths, wildcards, filters, descendant chains.
const PATHS: &[&str] = &[
    "incident",
    "incident.a",
    "incident.s",
    "incident.list",
    "incident.list[0]",
    "incident.list[*]",
    "incident..a",
    "incident..a..a",
    "incident..a..a..a..a",
    "incident..*",
    "incident..*..*",
    "incident..[?@ > 5]",
    "incident.list[?@.a]",
    "incident.url",
    "incident..url",
];

/// A value for parameter `p`: its sample, a literal of its type, or a template reading the
/// incident or the previous task (`prev`), `<<item>>`/`<<index>>` when a batch may happen.
fn param_value(c: &mut Choices, p: &codeless::commands::ParamSpec, prev: Option<&str>) -> Value {
    use codeless::commands::ParamType as T;
    let template = |c: &mut Choices| -> String {
        match (c.below(8), prev) {
            (0, Some(t)) => format!("<<tasks.{t}.returnData>>"),
            (1, Some(t)) => format!("<<tasks.{t}.rawData>>"),
            (2, _) => "<<item>>".into(),
            (3, _) => "x-<<index>>".into(),
            (4, _) => format!("pre <<{}>> post", c.pick(PATHS)),
            _ => format!("<<{}>>", c.pick(PATHS)),
        }
    };
    match c.below(4) {
        0 => Value::String(template(c)),
        1 if !p.options.is_empty() => Value::String(c.pick(&p.options).clone()),
        1 => p.sample.clone().unwrap_or(Value::Null),
        _ => match p.ty {
            T::Number => json!(c.below(20) as i64 - 5),
            T::Boolean => json!(c.chance(128)),
            T::JsonObject => json!({"a": 1, "list": [1, 2]}),
            T::JsonArray | T::TextArray => json!(["a", "1.2.3.4", "a"]),
            T::NumberArray => json!([3, 1, 2]),
            T::Datetime => json!("2026-01-01 00:00:00"),
            T::TextTemplate | T::HtmlTemplate => {
                json!("{{incident.a}} {{#each incident.list}}{{this}}{{/each}} {{jsonpath incident \"$..a\"}}")
            }
            _ => Value::String((*c.pick(TEXTS)).to_owned()),
        },
    }
}

/// Limits small enough that every bound is reachable from a few kilobytes of input.
pub fn engine_limits() -> codeless::limits::Limits {
    codeless::limits::Limits {
        batch_size: 64,
        loop_iterations: 10,
        command_retries: 3,
        jsonpath_results: 2_000,
        output_size: 256 * 1024,
        document_size: 1024 * 1024,
        ..codeless::limits::Limits::default()
    }
}

/// A random playbook of built-in utility commands over a random incident, run in process:
/// whatever the input, the run ends (within 10 s), every task has a status, and the document
/// stays within the limits it was given.
pub fn engine(data: &[u8]) {
    engine_ran(data);
}

/// `engine`; true when the generated playbook validated and ran.
pub fn engine_ran(data: &[u8]) -> bool {
    use codeless::commands::{Feature, ParamType, Registry};
    let mut c = Choices { data, at: 0 };
    let registry = Registry::builtin();
    // No sleeping, no files: the run must be quick and leave nothing behind.
    let commands: Vec<_> = registry
        .iter()
        .filter(|cmd| cmd.spec.category != "File" && cmd.spec.name != "sleep")
        .filter(|cmd| cmd.spec.inputs.iter().all(|p| p.ty != ParamType::File))
        .collect();
    let n = 1 + c.below(6);
    let ids: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let mut tasks = Map::new();
    for i in 0..n {
        let cmd = *c.pick(&commands);
        let prev = i.checked_sub(1).map(|p| ids[p].as_str());
        let mut input = Map::new();
        for p in &cmd.spec.inputs {
            if p.required || c.chance(80) {
                input.insert(p.name.clone(), param_value(&mut c, p, prev));
            }
        }
        let mut task = Map::new();
        task.insert("command".into(), json!(cmd.spec.name));
        task.insert("input".into(), Value::Object(input));
        let next: Vec<&String> = ids[i + 1..].iter().filter(|_| c.chance(100)).collect();
        let first_next = ids.get(i + 1);
        let conditional = cmd.spec.has_feature(Feature::Conditional) && c.chance(80);
        if conditional {
            task.insert("type".into(), json!("conditional"));
            let mut branches = Map::new();
            branches.insert(
                "true".into(),
                json!(first_next.into_iter().collect::<Vec<_>>()),
            );
            // Sometimes a loop back to the start, bounded by max_loops.
            if i > 0 && c.chance(60) {
                branches.insert("false".into(), json!([ids[0]]));
                task.insert("max_loops".into(), json!(1 + c.below(4)));
            } else {
                branches.insert("default".into(), json!(next));
            }
            task.insert("branches".into(), Value::Object(branches));
        } else {
            let mut all: Vec<&String> = first_next.into_iter().collect();
            all.extend(next.into_iter().filter(|id| Some(*id) != first_next));
            task.insert("next".into(), json!(all));
        }
        if c.chance(60) {
            task.insert("on_error".into(), json!("continue"));
        }
        if c.chance(40) {
            task.insert(
                "retry".into(),
                json!({"attempts": c.below(3), "delay": [0]}),
            );
        }
        if c.chance(40) {
            task.insert("timeout".into(), json!(5));
        }
        tasks.insert(ids[i].clone(), Value::Object(task));
    }
    let pb = json!({"kind": "playbook", "name": "Fuzz", "tasks": tasks}).to_string();
    let incident = incident(&mut c, 0);
    run_engine(&pb, incident)
}

/// Runs playbook `yaml` on `incident` and checks the result; false (nothing run) when the
/// playbook does not validate.
pub fn run_engine(yaml: &str, incident: Value) -> bool {
    use codeless::run::{run_document, run_playbook, RunData, RunOptions, TaskStatus};
    use std::sync::Arc;
    let Ok((pb, ws)) = codeless::cli::playbook_from_str("fuzz.yaml", yaml) else {
        return false;
    };
    let (plan, _) = codeless::plan::plan(&pb);
    let limits = engine_limits();
    let data = RunData {
        incident,
        inputs: json!({}),
        ..RunData::default()
    };
    let opts = RunOptions {
        limits,
        progress: codeless::run::Progress::default(),
        ..RunOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let run = run_playbook(
        pb.clone(),
        Arc::new(plan),
        Arc::new(ws.registry.clone()),
        data,
        opts,
    );
    let r = rt
        .block_on(async { tokio::time::timeout(std::time::Duration::from_secs(10), run).await })
        .unwrap_or_else(|_| panic!("the run did not end within 10 s:\n{yaml}"));
    assert_eq!(r.tasks.len(), pb.tasks.len(), "a task is missing:\n{yaml}");
    for t in &r.tasks {
        assert!(
            !matches!(t.status, TaskStatus::NotRun | TaskStatus::Cancelled),
            "task {} ended as {:?}:\n{yaml}",
            t.id,
            t.status
        );
        if let TaskStatus::Done(_) = t.status {
            assert!(
                t.output.get("status").is_some(),
                "task {} has no output:\n{yaml}",
                t.id
            );
        }
        let compact = serde_json::to_string(&t.output).expect("JSON").len() as u64;
        // The output model as measured, plus the counts the engine adds to it.
        assert!(
            compact <= limits.output_size + 1024,
            "task {}'s output is {compact} bytes:\n{yaml}",
            t.id
        );
    }
    let doc = run_document(&pb, &r);
    let printed = serde_json::to_string_pretty(&doc).expect("JSON").len() as u64;
    // Measured per task with a rough allowance for its fixed fields; the wrapper is small.
    assert!(
        printed <= limits.document_size + 1024,
        "the document is {printed} bytes:\n{yaml}"
    );
    true
}
