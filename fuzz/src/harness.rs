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
    "mask",
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
        "mask" => mask(data),
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
