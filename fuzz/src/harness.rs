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
    "http_response",
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
        "http_response" => http_response(data),
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

// ---- http_response: one HTTP response from a local server, through an integration command ----

/// The integration every `http_response` execution calls: bearer auth, `error_message` paths,
/// a retry policy honouring `Retry-After`, key fields (plural and descendant paths), a
/// download saved as a file, a `for_each` request and `return_data`/`result` paths. (Not REST
/// API Callback: its retry policy waits 1 and 2 s after a network error, a few executions a
/// second at best.)
const HTTP_INTEGRATION: &str = r#"kind: integration
name: Fuzz API
connection:
  - { name: url, display: URL, required: true }
  - { name: key, display: Key, required: true, sensitive: true }
http:
  base_url: <<connector.url>>
  auth: { bearer: <<connector.key>> }
  timeout: 2
  error_message: ["$.error.message", "$.errors[*].detail", "$.message"]
  retry: { on_status: [429, 503], attempts: 1, backoff: constant, base_delay: 0.01, max_delay: 0.02, respect_retry_after: true }
commands:
  Get:
    display: Get
    request: { path: /items }
    key_fields: { id: $.id, names: "$.items[*].name", urls: "$..url" }
  Download:
    display: Download
    request: { path: /download, save_file: report.bin }
  Each:
    display: Each
    inputs: [ { name: ids, display: IDs, type: text_array } ]
    request: { path: /items/<<item>>, for_each: <<input.ids>> }
    key_fields: { name: $.name }
  Post:
    display: Post
    request: { method: POST, path: /chat, body: { q: hi }, return_data: "$.choices[0].message.content", result: $.summary }
"#;

/// The commands an execution may call: bits 2-3 of the first byte choose.
const HTTP_COMMANDS: [&str; 4] = [
    "FuzzAPI.Get",
    "FuzzAPI.Download",
    "FuzzAPI.Each",
    "FuzzAPI.Post",
];

/// What every execution shares: a runtime, the server (which answers every connection with
/// `response`, then closes it), and the command services.
struct HttpFuzz {
    rt: tokio::runtime::Runtime,
    response: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    ws: Workspace,
    services: codeless::run::Services,
    files: std::path::PathBuf,
}

fn http_fuzz() -> &'static HttpFuzz {
    static STATE: std::sync::OnceLock<HttpFuzz> = std::sync::OnceLock::new();
    STATE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let response = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a port on 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        rt.spawn(serve(listener, response.clone()));
        let connections = format!(
            "kind: connections\nconnections:\n  fuzz: {{ integration: Fuzz API, params: {{ url: \"{url}\", key: tok-fuzz-secret-1 }} }}\n"
        );
        let ws = Workspace::new(vec![
            load_str("i.yaml", HTTP_INTEGRATION),
            load_str("c.yaml", connections),
        ]);
        let diags = ws.diagnostics();
        assert!(
            !Workspace::has_errors(&diags),
            "{:?}",
            diags.iter().map(|d| d.short()).collect::<Vec<_>>()
        );
        let files = std::env::temp_dir().join(format!("codeless-fuzz-files-{}", std::process::id()));
        let limits = codeless::limits::Limits {
            response_size: 64 * 1024,
            ..Default::default()
        };
        let services = codeless::run::Services::new(
            std::sync::Arc::new(ws.registry.clone()),
            codeless::files::FileStore::new(&files),
            codeless::run::Mocks::default(),
            4,
            codeless::run::ConnectionTable::build(&ws),
            (Value::Null, Value::Null),
        )
        .with_limits(limits);
        HttpFuzz {
            rt,
            response,
            ws,
            services,
            files,
        }
    })
}

/// Answers every connection with the current response: reads the request head (at most 64 KiB,
/// for at most a second), writes the bytes, closes.
async fn serve(
    listener: tokio::net::TcpListener,
    response: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            continue;
        };
        let bytes = response.lock().map(|r| r.clone()).unwrap_or_default();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            let read_head = async {
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), read_head).await;
            let _ = socket.write_all(&bytes).await;
            let _ = socket.shutdown().await;
        });
    }
}

/// The fuzzer's bytes as one HTTP response, and the command to call. Byte 0: bits 0-1 frame the
/// body (0 a right `Content-Length`, 1 a wrong one, 2 chunked, 3 the rest of the input sent as
/// it is, status line and all), bits 2-3 choose the command, bit 6 truncates (a short
/// `Content-Length`, no last chunk). Bytes 1-3: the status code (three digits, else any number
/// below 1000). Then header lines up to an empty line (`\n` or `\r\n`), then the body.
pub fn http_exchange(data: &[u8]) -> (&'static str, Vec<u8>) {
    let Some((&mode, rest)) = data.split_first() else {
        return (HTTP_COMMANDS[0], Vec::new());
    };
    let command = HTTP_COMMANDS[usize::from((mode >> 2) & 3)];
    if mode & 3 == 3 {
        return (command, rest.to_vec());
    }
    let (code, rest) = rest.split_at(rest.len().min(3));
    let status = match std::str::from_utf8(code)
        .ok()
        .and_then(|c| c.parse::<u16>().ok())
    {
        Some(s) if code.len() == 3 => s,
        _ => code.iter().fold(0u16, |n, &b| {
            ((u32::from(n) * 256 + u32::from(b)) % 1000) as u16
        }),
    };
    let split = rest.windows(2).position(|w| w == b"\n\n");
    let (headers, body) = match split {
        Some(i) => (&rest[..i], &rest[i + 2..]),
        None => (&rest[..0], rest),
    };
    let truncated = mode & 0x40 != 0;
    let mut out = format!("HTTP/1.1 {status} Fuzz\r\n").into_bytes();
    for line in headers.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    match mode & 3 {
        0 | 1 => {
            let len = match (mode & 3, truncated) {
                (0, _) => body.len(),
                (_, true) => body.len() / 2,
                (_, false) => body.len() + 1 + usize::from(mode >> 4),
            };
            out.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
            out.extend_from_slice(body);
        }
        _ => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            // Chunks of 1 to 64 bytes, their sizes taken from the body itself.
            let mut rest = body;
            while let Some(&first) = rest.first() {
                let n = (usize::from(first) % 64 + 1).min(rest.len());
                out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            if !truncated {
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
    }
    (command, out)
}

/// One HTTP response (`http_exchange`) served by a local server, one call of an integration
/// command through codeless's HTTP path. Besides not panicking (anywhere: libFuzzer's panic
/// hook aborts on a panic in any thread, the client's connection tasks included): an output
/// model always comes back, and a failed one says why.
pub fn http_response(data: &[u8]) {
    let fuzz = http_fuzz();
    let (name, response) = http_exchange(data);
    if let Ok(mut r) = fuzz.response.lock() {
        *r = response;
    }
    let Some(cmd) = fuzz.ws.registry.get(name).cloned() else {
        panic!("no command {name}");
    };
    let codeless::commands::Implementation::Integration { integration, .. } = &cmd.implementation
    else {
        panic!("{name} is not an integration command");
    };
    let prefix = codeless::workspace::integration_prefix(&integration.name.value);
    let conn = fuzz
        .services
        .connections
        .for_task(&prefix, integration, None)
        .expect("the fuzz connections resolve");
    let mut inputs = Map::new();
    if name == "FuzzAPI.Each" {
        inputs.insert("ids".into(), json!(["a", "b"]));
    }
    let calls = codeless::run::invoke::build_calls(&cmd, inputs, 10).expect("valid inputs");
    let (out, _) = fuzz.rt.block_on(codeless::run::invoke::call(
        &cmd,
        "fuzz",
        &std::sync::Arc::new(calls),
        Some(&conn),
        &fuzz.services,
    ));
    let doc = serde_json::to_value(&out).expect("an output model serializes");
    for key in [
        "status",
        "returnData",
        "result",
        "keyFields",
        "rawData",
        "error",
    ] {
        assert!(doc.get(key).is_some(), "no `{key}` in {doc}");
    }
    if out.status == codeless::output::Status::Failed {
        assert!(out.error.is_some(), "Failed without an error: {doc}");
    }
    if name == "FuzzAPI.Download" {
        // Each saved body is a new file: keep the disk as it was.
        let _ = std::fs::remove_dir_all(&fuzz.files);
    }
}
