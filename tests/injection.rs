//! Template injection check (property tests): any string that arrives as data — in an
//! incident field, in an API response (wiremock), or as the content of a file of the file
//! store — comes out of every kind of template byte for byte, never evaluated: a lone
//! `<<...>>` (type kept), `<<...>>` inside text, a run's `outputs:`, and `text_template`
//! (`formatText`, `<<...>>` and `{{...}}`). `html_template` (`formatHtml`) gives the same
//! string HTML-escaped, and nothing more.
//!
//! `PROPTEST_CASES` sets the number of cases (default 96 per property).

use codeless::files::FileStore;
use codeless::load::load_str;
use codeless::model::{Document, Playbook};
use codeless::run::{run_in_workspace, RunData, RunOptions};
use codeless::workspace::Workspace;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Three sources of data, each read by every kind of template.
const SOURCES: &[(&str, &str)] = &[
    ("inc", "incident.payload"),
    ("api", "tasks.call.rawData.payload"),
    ("file", "tasks.read.returnData"),
];

fn playbook() -> String {
    let mut outputs = String::new();
    let mut tasks = String::from(
        "  call: { command: RESTAPICallback.SendRequest, input: { url: /echo, method: POST, body: { v: <<incident.payload>> } } }\n  read: { command: readFileText, input: { file_id: <<input.file_id>> } }\n",
    );
    for (name, src) in SOURCES {
        outputs.push_str(&format!(
            "  {name}_lone: <<{src}>>\n  {name}_text: \"(<<{src}>>)\"\n"
        ));
        tasks.push_str(&format!(
            "  {name}_lone: {{ command: concatToRear, input: {{ input: <<{src}>>, value: \"|\" }} }}\n"
        ));
        tasks.push_str(&format!(
            "  {name}_text: {{ command: concatToRear, input: {{ input: \"[<<{src}>>]\", value: \"|\" }} }}\n"
        ));
        tasks.push_str(&format!(
            "  {name}_fmt: {{ command: formatText, input: {{ template: \"(<<{src}>>)(%{{{{{src}}}}}%)\" }} }}\n"
        ));
        tasks.push_str(&format!(
            "  {name}_html: {{ command: formatHtml, input: {{ template: \"<i><<{src}>></i>{{{{{src}}}}}\" }} }}\n"
        ));
    }
    // Every reader of `call` or `read` follows it.
    let mut body = String::new();
    for line in tasks.lines() {
        let id = line.trim().split(':').next().unwrap();
        let line = match id {
            "call" => line.replacen(
                "} } }",
                "} }, next: [api_lone, api_text, api_fmt, api_html] }",
                1,
            ),
            "read" => line.replacen(
                "} }",
                "}, next: [file_lone, file_text, file_fmt, file_html] }",
                1,
            ),
            _ => line.to_owned(),
        };
        body.push_str(&line);
        body.push('\n');
    }
    format!("kind: playbook\nname: Injection\ninputs:\n  - {{ name: file_id, type: text, required: true }}\noutputs:\n{outputs}tasks:\n{body}")
}

struct Harness {
    rt: tokio::runtime::Runtime,
    ws: Workspace,
    pb: Arc<Playbook>,
    files: tempfile::TempDir,
    _server: MockServer,
}

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(async {
            let s = MockServer::start().await;
            // The API answers with what it was sent: `{"payload": <the request's v>}`.
            Mock::given(path("/echo"))
                .respond_with(|req: &Request| {
                    let sent: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                    ResponseTemplate::new(200).set_body_json(json!({"payload": sent["v"]}))
                })
                .mount(&s)
                .await;
            s
        });
        let conns = format!(
            "kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{}\" }} }}\n",
            server.uri()
        );
        let ws = Workspace::new(vec![
            load_str("p.yaml", playbook()),
            load_str("c.yaml", conns),
        ]);
        let diags = ws.diagnostics();
        assert!(
            !Workspace::has_errors(&diags),
            "{}\n{:?}",
            playbook(),
            diags.iter().map(|d| d.short()).collect::<Vec<_>>()
        );
        let Some(Document::Playbook(pb)) = ws.loaded[0].document.clone() else {
            panic!("not a playbook")
        };
        Harness {
            rt,
            ws,
            pb,
            files: tempfile::tempdir().unwrap(),
            _server: server,
        }
    }

    /// Runs the playbook with `s` as the incident's payload and as a file's content (the API
    /// echoes it back); returns the run document.
    fn run(&self, s: &str) -> Value {
        let files = FileStore::new(self.files.path());
        let meta = files
            .put("payload.txt", "text/plain", s.as_bytes(), "test")
            .unwrap();
        let data = RunData {
            incident: json!({"payload": s, "title": "t"}),
            inputs: json!({"file_id": meta.id}),
            ..RunData::default()
        };
        let opts = RunOptions {
            files,
            ..RunOptions::default()
        };
        self.rt
            .block_on(run_in_workspace(&self.ws, self.pb.clone(), data, opts))
            .1
    }
}

/// Checks every template's output for `s`.
fn check(doc: &Value, s: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(&doc["status"], "Successful", "{}", doc);
    let escaped = handlebars::html_escape(s);
    for (name, _) in SOURCES {
        let t = |suffix: &str| doc["tasks"][format!("{name}_{suffix}")]["returnData"].clone();
        prop_assert_eq!(
            &doc["outputs"][format!("{name}_lone")],
            &json!(s),
            "{} outputs lone",
            name
        );
        prop_assert_eq!(
            &doc["outputs"][format!("{name}_text")],
            &json!(format!("({s})")),
            "{} outputs text",
            name
        );
        prop_assert_eq!(t("lone"), json!(format!("{s}|")), "{} lone", name);
        prop_assert_eq!(t("text"), json!(format!("[{s}]|")), "{} text", name);
        prop_assert_eq!(
            t("fmt"),
            json!(format!("({s})(%{s}%)")),
            "{} formatText",
            name
        );
        prop_assert_eq!(
            t("html"),
            json!(format!("<i>{escaped}</i>{escaped}")),
            "{} formatHtml",
            name
        );
    }
    Ok(())
}

/// Strings made of the pieces templates are made of, and arbitrary text.
fn payload() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "<<",
        ">>",
        "{{",
        "}}",
        "{{{",
        "}}}",
        "{{{{",
        "\\<<",
        "\\",
        "\\{{",
        "<<connector.apikey>>",
        "{{connector.apikey}}",
        "<<incident.payload>>",
        "<<input.file_id>>",
        "{{incident.title}}",
        "{{#each incident}}x{{/each}}",
        "{{#if true}}",
        "{{/if}}",
        "{{> partial}}",
        "{{!-- comment --}}",
        "{{json incident}}",
        "{{__cl.[0]}}",
        "{{{__cl.[0]}}}",
        "<<tasks.call.rawData>>",
        "$.",
        "${env:HOME}",
        "é",
        "𝄞",
        "✅",
        "\u{0}",
        "\u{202e}",
        "\n",
        "\r\n",
        "\t",
        "\"",
        "'",
        "&<>=`",
        " ",
        "a",
    ]);
    prop_oneof![
        prop::collection::vec(pieces, 0..10).prop_map(|v| v.concat()),
        any::<String>(),
        "[<>{}\\\\$.a-z ]{0,24}",
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(96)
}

#[test]
fn data_comes_out_of_every_template_byte_for_byte() {
    let h = Harness::new();
    // The fixed cases first: each would reveal evaluation if data were re-parsed.
    for s in [
        "",
        "<<connector.apikey>>",
        "{{connector.apikey}}",
        "\\<<incident.title>>",
        "{{{__cl.[0]}}}",
        "{{#each incident}}{{@key}}{{/each}}",
        "<<tasks.call.rawData>> {{json incident}}",
        "}}}{{{",
        "5",
        "null",
        "{\"a\": 1}",
    ] {
        let doc = h.run(s);
        if let Err(e) = check(&doc, s) {
            panic!("{s:?}: {e}");
        }
    }
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    runner
        .run(&payload(), |s| {
            let doc = h.run(&s);
            check(&doc, &s)
        })
        .unwrap();
}

/// Injection 1 (see docs/reliability.md): `<<...>>` parts of a text template are bound as
/// `{{__cl.[N]}}` (HTML) or `{{{__cl.[N]}}}` (text) spliced next to the author's text, so
/// braces around a reference merge with the placeholder. In `html_template`,
/// `{<<incident.title>>}` becomes the triple-stash `{{{__cl.[0]}}}`: the title is inserted
/// **unescaped** (and the braces vanish) — attacker-controlled HTML in a report.
#[test]
#[ignore = "injection 1: see docs/reliability.md (braces around a reference defeat HTML escaping)"]
fn html_template_escapes_a_reference_wrapped_in_braces() {
    let s = "<script>alert(1)</script>";
    // What formatHtml renders for a template `{<<incident.payload>>}`.
    let t = codeless::template::parse_template("{<<incident.payload>>}").unwrap();
    struct Ctx(Value);
    impl codeless::template::Context for Ctx {
        fn scope(&self, _: &codeless::template::Scope) -> Result<&Value, String> {
            Ok(&self.0)
        }
    }
    let ctx = Ctx(json!({"payload": s}));
    let html = codeless::template::render_template(&t, true, &ctx, serde_json::Map::new());
    assert_eq!(
        html,
        Ok("{&lt;script&gt;alert(1)&lt;/script&gt;}".to_owned()),
        "HTML escaping bypassed"
    );
}

/// Injection 2 (see docs/reliability.md): in `text_template`, `{<<x>>}` splices to
/// `{{{{__cl.[0]}}}}`, which Handlebars reads as a raw block: the task fails with a
/// Handlebars syntax error pointing at text the author never wrote.
#[test]
#[ignore = "injection 2: see docs/reliability.md (braces around a reference break text templates)"]
fn text_template_keeps_braces_around_a_reference() {
    struct Ctx(Value);
    impl codeless::template::Context for Ctx {
        fn scope(&self, _: &codeless::template::Scope) -> Result<&Value, String> {
            Ok(&self.0)
        }
    }
    let ctx = Ctx(json!({"severity": "high"}));
    let t = codeless::template::parse_template("level {<<incident.severity>>}").unwrap();
    let out = codeless::template::render_template(&t, false, &ctx, serde_json::Map::new());
    assert_eq!(out, Ok("level {high}".to_owned()));
}
