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
    let _ = codeless::jsonpath::parse(path);
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
    let _ = codeless::output::extract_key_fields_noted(&specs, &raw);
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
