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
    "mask",
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
        "http_response" => http_response(data),
        "mask" => mask(data),
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

// ---- mask ------------------------------------------------------------------------------------

/// Secret masking (`codeless::secrets`): random secrets, encoded as the promise says they
/// are recognised (DESIGN §5, README "Integrations, connections and secrets"), placed in random
/// text. No encoded secret may come out of `mask`, `mask_value` or a cut (`Secrets::head`,
/// what summaries and clipped messages use), and a cut that falls inside a secret ends in
/// `*****`. The encodings are written here from their definitions, not with the crates the
/// masker uses.
///
/// Input: secrets (one per line, at most 3, up to 48 characters; those with `*` or fewer than
/// 4 characters are dropped, as the mask itself is `*****`), a 0 byte, then up to 8
/// placements of 3 bytes (encoding, position, variant), a 0xFF byte, and the text around them.
pub fn mask(data: &[u8]) {
    use codeless::secrets::{Secrets, MASK};
    let (spec, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut secrets: Vec<String> = String::from_utf8_lossy(spec)
        .split('\n')
        .map(|s| s.chars().take(48).collect::<String>())
        .filter(|s| s.chars().count() >= 4 && !s.contains('*'))
        .take(3)
        .collect();
    if secrets.is_empty() {
        secrets.push("sk-fuzz/secret=+1".into());
    }
    let (moves, filler) = match rest.iter().position(|&b| b == 0xFF) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..rest.len().min(24)], &rest[rest.len().min(24)..]),
    };
    let filler: String = String::from_utf8_lossy(filler)
        .chars()
        .filter(|c| *c != '*')
        .take(2000)
        .collect();
    let mut masker = Secrets::default();
    for s in &secrets {
        masker.add(s);
    }
    masker.add_basic("fuzz-user", &secrets[0]);

    // The placements, in order of position, each with the bytes that must not show.
    let mut placed: Vec<(usize, Placement)> = moves
        .chunks_exact(3)
        .take(8)
        .map(|m| {
            let secret = &secrets[m[2] as usize % secrets.len()];
            let at = boundary(&filler, m[1] as usize * filler.len().max(1) / 255);
            (at, encode(secret, m[0], m[2]))
        })
        .collect();
    placed.sort_by_key(|(at, _)| *at);
    let mut text = String::new();
    let mut spans = Vec::new();
    let mut from = 0;
    for (at, p) in &placed {
        text.push_str(&filler[from..*at]);
        spans.push((text.len(), text.len() + p.text.len(), p));
        text.push_str(&p.text);
        from = *at;
    }
    text.push_str(&filler[from..]);

    let mut forbidden: Vec<String> = placed.iter().map(|(_, p)| p.shown.clone()).collect();
    for s in &secrets {
        forbidden.extend(fixed_forms(s));
    }
    forbidden.push(base64(
        format!("fuzz-user:{}", secrets[0]).as_bytes(),
        STANDARD_B64,
        true,
    ));
    let check = |what: &str, out: &str| {
        for f in &forbidden {
            assert!(
                !out.contains(f.as_str()),
                "{what}: {f:?} is in {out:?} (text {text:?}, secrets {secrets:?})"
            );
        }
    };

    let masked = masker.mask(&text);
    check("mask", &masked);
    let mut v = json!({ "k": [text.clone(), {"inner": text.clone()}] });
    v[text.as_str()] = json!(1);
    masker.mask_value(&mut v);
    let mut strings = Vec::new();
    collect_strings(&v, &mut strings);
    for s in &strings {
        check("mask_value", s);
    }
    // Cuts at several places, one at each placement's middle.
    let mut cuts: Vec<usize> = vec![0, 1, 200, text.len() / 2, text.len()];
    cuts.extend(spans.iter().map(|(start, end, _)| (start + end) / 2));
    for max in cuts {
        let (head, _) = masker.head(&text, max);
        check("head", &head);
        let cut = boundary(&text, max);
        for (start, end, p) in &spans {
            if *start < cut && cut < *end && p.whole {
                assert!(
                    head.ends_with(MASK),
                    "a cut at {cut} inside {:?} shows {head:?}",
                    p.text
                );
            }
        }
    }
}

/// A secret as placed in the text, and what of it must not show after masking.
struct Placement {
    text: String,
    /// The secret's own bytes as they appear (for base64 inside a longer text: the characters
    /// that encode only the secret's bits).
    shown: String,
    /// Whether `text` is all secret (a cut inside it must end in the mask).
    whole: bool,
}

fn boundary(s: &str, at: usize) -> usize {
    let mut at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                collect_strings(x, out);
            }
        }
        _ => {}
    }
}

/// Forms every secret is checked for, wherever they come from.
fn fixed_forms(s: &str) -> Vec<String> {
    let mut forms = vec![
        s.to_owned(),
        percent(s, |c| !c.is_ascii_alphanumeric(), false),
        percent(s, |c| !c.is_ascii_alphanumeric(), true),
        html(s, |c| format!("&#{};", c as u32)),
        html(s, |c| format!("&#x{:x};", c as u32)),
        hex(s.as_bytes(), false),
        hex(s.as_bytes(), true),
        base64(s.as_bytes(), STANDARD_B64, true),
        base64(s.as_bytes(), URL_SAFE_B64, false),
    ];
    if s.is_ascii() {
        forms.push(s.to_ascii_uppercase());
        forms.push(s.to_ascii_lowercase());
    }
    forms
}

/// `secret` in one of the promised encodings; `variant` picks details (which characters, the
/// hex case, what surrounds it in base64).
fn encode(secret: &str, how: u8, variant: u8) -> Placement {
    let whole = |text: String| Placement {
        shown: text.clone(),
        text,
        whole: true,
    };
    let upper = variant & 1 == 1;
    match how % 18 {
        0 => whole(secret.to_owned()),
        1 if secret.is_ascii() => whole(secret.to_ascii_uppercase()),
        2 if secret.is_ascii() => whole(secret.to_ascii_lowercase()),
        3 => whole(percent(secret, |c| !c.is_ascii_alphanumeric(), upper)),
        // Some characters encoded, others not: servers re-quote URLs in their own ways (and
        // leave ASCII letters and digits as they are).
        4 => {
            let mut i = 0u32;
            whole(percent(
                secret,
                |c| {
                    i += 1;
                    !c.is_ascii_alphanumeric() && variant.rotate_left(i) & 1 == 1
                },
                upper,
            ))
        }
        // Form encoding: a space is `+`.
        5 => whole(
            percent(
                secret,
                |c| !(c.is_ascii_alphanumeric() || "*-._ ".contains(c)),
                true,
            )
            .replace(' ', "+"),
        ),
        // httpbin's `url` field (werkzeug's uri_to_iri): only ` #%&+=` and controls stay encoded.
        6 => whole(percent(
            secret,
            |c| " #%&+=".contains(c) || c.is_control(),
            true,
        )),
        // Handlebars' html_template escaping.
        7 => whole(
            secret
                .chars()
                .map(|c| match c {
                    '&' => "&amp;".into(),
                    '<' => "&lt;".into(),
                    '>' => "&gt;".into(),
                    '"' => "&quot;".into(),
                    '\'' => "&#x27;".into(),
                    '`' => "&#x60;".into(),
                    '=' => "&#x3D;".into(),
                    c => c.to_string(),
                })
                .collect(),
        ),
        8 => whole(html(secret, |c| format!("&#{};", c as u32))),
        9 => whole(html(secret, |c| {
            if upper {
                format!("&#X{:X};", c as u32)
            } else {
                format!("&#x{:x};", c as u32)
            }
        })),
        10 => whole(html(secret, |c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c => c.to_string(),
        })),
        11 => whole(json_escaped(secret)),
        12 => whole(
            secret
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_string()
                    } else {
                        let mut units = [0u16; 2];
                        c.encode_utf16(&mut units)
                            .iter()
                            .map(|u| format!("\\u{u:04x}"))
                            .collect()
                    }
                })
                .collect(),
        ),
        13 => whole(hex(secret.as_bytes(), upper)),
        14 => whole(base64(secret.as_bytes(), STANDARD_B64, upper)),
        15 => whole(base64(secret.as_bytes(), URL_SAFE_B64, upper)),
        // Inside a longer base64 text, at any alignment (an HTTP Basic pair of any user).
        _ => {
            let before = (variant % 3) as usize;
            let after = (variant / 3 % 3) as usize;
            let mut bytes = b"u:x".to_vec()[..before].to_vec();
            bytes.extend_from_slice(secret.as_bytes());
            bytes.extend_from_slice(&b"\"}x"[..after]);
            let alphabet = if how & 1 == 0 {
                STANDARD_B64
            } else {
                URL_SAFE_B64
            };
            let text = base64(&bytes, alphabet, true);
            // The characters holding only the secret's bits.
            let first = (8 * before).div_ceil(6);
            let end = 8 * (before + secret.len()) / 6;
            let shown = text
                .get(first..end.max(first))
                .unwrap_or_default()
                .to_owned();
            Placement {
                text,
                shown,
                whole: false,
            }
        }
    }
}

/// Each character `pick` chooses as `%XX` per UTF-8 byte.
fn percent(s: &str, mut pick: impl FnMut(char) -> bool, upper: bool) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if pick(c) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                });
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every character but ASCII letters and digits as `reference` writes it.
fn html(s: &str, reference: impl Fn(char) -> String) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                reference(c)
            }
        })
        .collect()
}

fn hex(bytes: &[u8], upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

const STANDARD_B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE_B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 in `alphabet`, with `=` padding when `pad`.
fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.len();
        let v = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= n {
                out.push(alphabet[(v >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// `secret` as it appears inside a JSON string (serialized, without its two quotes).
fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
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
