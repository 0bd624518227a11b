//! Secret leak check: every example playbook and every conformance playbook runs through the
//! `codeless` binary with known secret values in its connections (read from the environment
//! with `${env:...}`), and stdout, stderr, `--trace` files, `validate --format json` output and
//! error messages are scanned for those values, plain and encoded (base64 in four alphabets,
//! three flavours of URL encoding, HTTP Basic pairs). None may appear.
//!
//! The conformance oracles are not running under plain `cargo test`: their URLs are pointed
//! at a local echo server (wiremock) that reflects every header, the URL, the query and the
//! body back, and puts the Authorization header into its error messages — the most
//! talkative server a secret can meet. When the real oracles are up (ports 18080 and 4010),
//! the same runs also go to them.

use base64::Engine;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Output;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN_VAR: &str = "CODELESS_CONFORMANCE_TOKEN";
const PASSWORD_VAR: &str = "CODELESS_CONFORMANCE_PASSWORD";
const OPENAI_VAR: &str = "CODELESS_CONFORMANCE_OPENAI_KEY";
const EMPTY_VAR: &str = "CODELESS_CONFORMANCE_EMPTY";
const SPECIAL_VAR: &str = "CODELESS_LEAKCHECK_SPECIAL";

const TOKEN: &str = "tok-leakcheck-5f0c2a9e71";
const PASSWORD: &str = "pw-leakcheck-83d61b";
const OPENAI_KEY: &str = "sk-leakcheck-openai-c4e8a2f90b13";
/// A token in mixed case with the characters URL, HTML and form encodings change.
const SPECIAL: &str = "Tok=Leak/Chk+7d&e'9 <5a>";
const BASIC_USER: &str = "analyst";

const SECRETS: &[(&str, &str)] = &[
    (TOKEN_VAR, TOKEN),
    (PASSWORD_VAR, PASSWORD),
    (OPENAI_VAR, OPENAI_KEY),
    (SPECIAL_VAR, SPECIAL),
];

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Every form a secret could travel in.
fn forms(secret: &str) -> Vec<(String, String)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
    const SEGMENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let mut out = vec![
        ("plain".to_owned(), secret.to_owned()),
        ("base64".into(), STANDARD.encode(secret)),
        ("base64 (no padding)".into(), STANDARD_NO_PAD.encode(secret)),
        ("base64url".into(), URL_SAFE.encode(secret)),
        (
            "base64url (no padding)".into(),
            URL_SAFE_NO_PAD.encode(secret),
        ),
        (
            "percent-encoded".into(),
            utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string(),
        ),
        (
            "percent-encoded path segment".into(),
            utf8_percent_encode(secret, SEGMENT).to_string(),
        ),
        (
            "form-urlencoded".into(),
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        ),
        ("JSON-escaped".into(), json_escaped(secret)),
        (
            "percent-encoded, lower-case hex".into(),
            percent_encode_with(secret, |c| !c.is_ascii_alphanumeric(), true),
        ),
        (
            "httpbin's re-quoted query (werkzeug)".into(),
            werkzeug_query(secret),
        ),
        (
            "HTML-escaped (Handlebars)".into(),
            handlebars_escape(secret),
        ),
        (
            "HTML decimal references".into(),
            entities(secret, |c| format!("&#{};", c as u32)),
        ),
        (
            "HTML hex references".into(),
            entities(secret, |c| format!("&#x{:x};", c as u32)),
        ),
        ("hex".into(), hex::encode(secret)),
        ("hex, upper case".into(), hex::encode_upper(secret)),
        ("upper case".into(), secret.to_uppercase()),
        ("lower case".into(), secret.to_lowercase()),
    ];
    let mut seen = std::collections::HashSet::new();
    out.retain(|(_, f)| seen.insert(f.clone()));
    out
}

/// `secret` with the characters `encode` picks percent-encoded (UTF-8 bytes, hex in the case
/// asked for).
fn percent_encode_with(secret: &str, encode: impl Fn(char) -> bool, lower: bool) -> String {
    let mut out = String::new();
    for c in secret.chars() {
        if encode(c) {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&if lower {
                    format!("%{b:02x}")
                } else {
                    format!("%{b:02X}")
                });
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What httpbin 0.10.4 shows in its `url` field for a query value sent percent-encoded:
/// werkzeug's `uri_to_iri` decodes every escape but those of ` #%&+=` and control characters
/// (measured against httpbin under gunicorn, every ASCII character and two non-ASCII ones).
fn werkzeug_query(secret: &str) -> String {
    percent_encode_with(secret, |c| " #%&+=".contains(c) || c.is_control(), false)
}

/// Handlebars' `html_template` escaping (handlebars-rust `html_escape`).
fn handlebars_escape(secret: &str) -> String {
    secret
        .chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#x27;".to_owned(),
            '`' => "&#x60;".to_owned(),
            '=' => "&#x3D;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// Every character but letters and digits as an HTML character reference.
fn entities(secret: &str, reference: impl Fn(char) -> String) -> String {
    secret
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                reference(c)
            }
        })
        .collect()
}

/// Every needle to look for: each secret's forms, and HTTP Basic's `user:password` pair.
fn needles() -> Vec<(String, String)> {
    let mut n = Vec::new();
    for (_, s) in SECRETS {
        for (how, f) in forms(s) {
            n.push((format!("{s} ({how})"), f));
        }
    }
    let pair = format!("{BASIC_USER}:{PASSWORD}");
    for (how, f) in forms(&pair) {
        n.push((format!("basic pair ({how})"), f));
    }
    n
}

/// Fails if any secret, in any form, is in `text`.
fn scan(what: &str, text: &str) {
    for (name, needle) in needles() {
        if let Some(at) = text.find(&needle) {
            let from = text[..at]
                .char_indices()
                .rev()
                .nth(200)
                .map_or(0, |(i, _)| i);
            let to = (at + needle.len() + 200).min(text.len());
            let to = (to..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            panic!("secret {name} leaked in {what}:\n…{}…", &text[from..to]);
        }
    }
}

/// Runs the binary with the secrets in its environment; scans stdout, stderr and the trace.
fn codeless(what: &str, args: &[&str], trace: Option<&Path>) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codeless"));
    cmd.env(
        "XDG_DATA_HOME",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
    );
    cmd.args(args).current_dir(ROOT).env(EMPTY_VAR, "");
    for (var, value) in SECRETS {
        cmd.env(var, value);
    }
    let o = cmd.output().expect("run codeless");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !stderr.contains("panicked"),
        "{what}: codeless panicked:\n{stderr}"
    );
    scan(&format!("{what}: stdout"), &stdout);
    scan(&format!("{what}: stderr"), &stderr);
    if let Some(t) = trace {
        let lines = std::fs::read_to_string(t)
            .unwrap_or_else(|e| panic!("{what}: no trace at {}: {e}", t.display()));
        assert!(lines.contains("\"run_finished\""), "{what}: {lines}");
        scan(&format!("{what}: trace"), &lines);
    }
    o
}

fn stdout_json(what: &str, o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// A server that reflects everything it is sent (like httpbin's /anything) and repeats the
/// Authorization header in its error messages; `/status/N` answers N, `/delay/N` waits.
async fn echo_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(|req: &Request| {
            let headers: serde_json::Map<String, Value> = req
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("<bytes>"))))
                .collect();
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let args: serde_json::Map<String, Value> = req
                .url
                .query_pairs()
                .map(|(k, v)| (k.into_owned(), json!(v)))
                .collect();
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let echo = json!({
                "method": req.method.as_str(),
                "url": req.url.as_str(),
                "path": req.url.path(),
                "args": args,
                "headers": headers,
                "data": body,
                "json": serde_json::from_str::<Value>(&body).ok(),
                "token": auth.strip_prefix("Bearer ").unwrap_or(""),
                "authenticated": !auth.is_empty(),
                "message": format!("echo: {} {} with {auth}", req.method, req.url),
                // Shapes the ChatGPT commands read, so their key fields find something.
                "choices": [{"index": 0, "message": {"role": "assistant", "content": format!("you sent {auth}"),
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "escalate_incident", "arguments": format!("{{\"reason\": \"{auth}\"}}")}}]}}],
                "data_list": [{"id": auth}],
            });
            let segs: Vec<&str> = req.url.path().trim_start_matches('/').split('/').collect();
            match segs.as_slice() {
                ["status", code, ..] => {
                    ResponseTemplate::new(code.parse::<u16>().unwrap_or(500)).set_body_json(echo)
                }
                ["delay", secs, ..] => ResponseTemplate::new(200)
                    .set_body_json(echo)
                    .set_delay(std::time::Duration::from_secs(secs.parse().unwrap_or(1))),
                ["basic-auth", ..] | ["bearer", ..] if auth.is_empty() => {
                    ResponseTemplate::new(401).set_body_json(echo)
                }
                _ => ResponseTemplate::new(200).set_body_json(echo),
            }
        })
        .mount(&server)
        .await;
    server
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_millis(200),
    )
    .is_ok()
}

/// The conformance connections, pointed at `httpbin` and `prism` base URLs.
fn conformance_connections(dir: &Path, httpbin: &str, prism: &str) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(ROOT).join("tests/conformance/connections.yaml"))
        .unwrap()
        .replace("http://127.0.0.1:18080", httpbin)
        .replace("http://127.0.0.1:4010", prism);
    let p = dir.join("connections.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Every example playbook (`playbooks/*.yaml`) with its incident and mock, offline and against
/// `openai` (a ChatGPT connection), then the conformance playbooks and commands against
/// `httpbin`/`prism`, and `validate --format json` over all of it.
fn run_everything(label: &str, httpbin: &str, prism: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conns = conformance_connections(d, httpbin, prism);
    let conns = conns.to_str().unwrap();
    // The examples' ChatGPT tasks use the default (only) ChatGPT connection.
    let openai = d.join("openai.yaml");
    std::fs::write(
        &openai,
        format!("kind: connections\nconnections:\n  openai: {{ integration: ChatGPT, params: {{ serverurl: \"{prism}\", apikey: \"${{env:{OPENAI_VAR}}}\", apiversion: v1 }} }}\n"),
    )
    .unwrap();
    let openai = openai.to_str().unwrap();
    let mut examples: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("playbooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && !p.to_string_lossy().ends_with(".mock.yaml")
                && std::fs::read_to_string(p)
                    .unwrap()
                    .lines()
                    .any(|l| l.trim() == "kind: playbook")
        })
        .collect();
    examples.sort();
    assert!(examples.len() >= 4, "{examples:?}");
    let mut runs = 0;
    for pb in &examples {
        let stem = pb.file_stem().unwrap().to_str().unwrap();
        let incident = pb.with_file_name(format!("{stem}.incident.json"));
        let mock = pb.with_file_name(format!("{stem}.mock.yaml"));
        // With the mock when there is one (the documented offline run), and against the
        // server (every command for real).
        let mut variants = vec![false];
        if mock.exists() {
            variants.push(true);
        }
        for with_mock in variants {
            let trace = d.join(format!("{stem}-{with_mock}.jsonl"));
            let mut args = vec![
                "run".to_owned(),
                pb.to_str().unwrap().to_owned(),
                "--connections".into(),
                openai.into(),
                "--trace".into(),
                trace.to_str().unwrap().into(),
            ];
            if incident.exists() {
                args.extend(["--incident".into(), incident.to_str().unwrap().into()]);
            }
            if with_mock {
                args.extend(["--mock".into(), mock.to_str().unwrap().into()]);
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let what = format!("{label}: run {stem} (mock: {with_mock})");
            let o = codeless(&what, &refs, Some(&trace));
            let doc = stdout_json(&what, &o);
            assert!(doc["tasks"].is_object(), "{what}: {doc}");
            runs += 1;
        }
    }

    // The conformance playbook, with an incident whose title asks for the token.
    let incident = d.join("incident.json");
    std::fs::write(
        &incident,
        r#"{"id": "INC-7", "title": "Phish <<connector.bearertoken>> {{connector.password}}", "ips": ["203.0.113.7"]}"#,
    )
    .unwrap();
    let trace = d.join("conformance.jsonl");
    let what = format!("{label}: run conformance/rest-api-callback");
    let o = codeless(
        &what,
        &[
            "run",
            "tests/conformance/rest-api-callback.yaml",
            "--connections",
            conns,
            "--incident",
            incident.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ],
        Some(&trace),
    );
    let doc = stdout_json(&what, &o);
    assert_eq!(doc["tasks"]["basic_ok"]["status"], "Successful", "{doc}");
    assert_eq!(doc["tasks"]["bearer_ok"]["status"], "Successful", "{doc}");
    runs += 1;
    // The AI triage example against the Prism connection of the conformance tests.
    let prism_conns = d.join("prism.yaml");
    std::fs::write(
        &prism_conns,
        std::fs::read_to_string(Path::new(ROOT).join("tests/conformance/openai-prism.yaml"))
            .unwrap()
            .replace("http://127.0.0.1:4010", prism),
    )
    .unwrap();
    let trace = d.join("prism.jsonl");
    codeless(
        &format!("{label}: run ai-alert-triage against prism"),
        &[
            "run",
            "playbooks/ai-alert-triage.yaml",
            "--incident",
            "playbooks/ai-alert-triage.incident.json",
            "--connections",
            prism_conns.to_str().unwrap(),
            "--trace",
            trace.to_str().unwrap(),
        ],
        Some(&trace),
    );
    runs += 1;

    // "Test Command" and "Test Connection" for every conformance connection, and commands
    // whose errors carry what the server echoed.
    for conn in [
        "httpbin",
        "httpbin_basic",
        "httpbin_anonymous",
        "httpbin_wrong_password",
        "openai_prism",
        "openai_prism_nokey",
        "openai_echo",
    ] {
        codeless(
            &format!("{label}: connection test {conn}"),
            &["connection", "test", conn, "--connections", conns],
            None,
        );
    }
    for (conn, url) in [
        ("httpbin", "/anything/cmd?token={{connector.bearertoken}}"),
        ("httpbin", "/status/401"),
        (
            "httpbin_basic",
            "/basic-auth/analyst/{{connector.password}}",
        ),
        ("httpbin_basic", "/status/403"),
    ] {
        let o = codeless(
            &format!("{label}: command SendRequest {conn} {url}"),
            &[
                "command",
                "RESTAPICallback.SendRequest",
                "--connection",
                conn,
                "--connections",
                conns,
                "--input",
                &format!("url={url}"),
                "--input",
                r#"header={"X-Tenant": "{{connector.tenant}}"}"#,
            ],
            None,
        );
        assert!(!o.stdout.is_empty() || !o.stderr.is_empty());
    }
    for (cmd, inputs) in [
        ("ChatGPT.ListModels", vec![]),
        ("ChatGPT.ListFiles", vec![]),
        (
            "ChatGPT.GenerateConversation",
            vec!["text=say {{connector.apikey}} <<connector.apikey>>"],
        ),
    ] {
        let mut args = vec![
            "command",
            cmd,
            "--connection",
            "openai_echo",
            "--connections",
            conns,
        ];
        for i in &inputs {
            args.extend(["--input", i]);
        }
        codeless(&format!("{label}: command {cmd}"), &args, None);
    }

    // validate --format json over everything, with the connections (which hold only
    // references) and with a connections file that has the secrets written in it (a warning
    // that must not repeat them).
    let plain = d.join("plain-secrets.yaml");
    std::fs::write(
        &plain,
        format!("kind: connections\nconnections:\n  pasted: {{ integration: REST API Callback, params: {{ requesturl: \"{httpbin}\", auth: bearer, bearertoken: {TOKEN}, password: \"{PASSWORD}\" }} }}\n  pasted_ai: {{ integration: ChatGPT, params: {{ apikey: {OPENAI_KEY} }} }}\n"),
    )
    .unwrap();
    for extra in [conns, plain.to_str().unwrap()] {
        let o = codeless(
            &format!("{label}: validate --format json ({extra})"),
            &[
                "validate",
                "--format",
                "json",
                "playbooks",
                "tests/conformance",
                extra,
                "--connections",
                extra,
            ],
            None,
        );
        let v = stdout_json("validate", &o);
        assert!(v["files"].as_u64().unwrap() >= 5, "{v}");
    }
    assert!(runs >= 7, "{runs} runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaks_from_examples_or_conformance_playbooks() {
    let echo = echo_server().await;
    let uri = echo.uri();
    // The binary blocks; the echo server keeps running on the runtime's other threads.
    tokio::task::spawn_blocking(move || run_everything("echo server", &uri, &uri))
        .await
        .unwrap();
    // Every run really talked to the server.
    let seen = echo.received_requests().await.unwrap();
    assert!(seen.len() >= 15, "{} requests", seen.len());
    assert!(seen.iter().any(|r| r
        .headers
        .get("authorization")
        .is_some_and(|v| v.to_str().unwrap_or("") == format!("Bearer {TOKEN}"))));
}

#[test]
fn no_secret_leaks_against_the_real_oracles_when_they_are_up() {
    if !(port_open(18080) && port_open(4010)) {
        eprintln!("skipped: the oracles are not running (scripts/conformance.sh starts them)");
        return;
    }
    run_everything("oracles", "http://127.0.0.1:18080", "http://127.0.0.1:4010");
}

#[test]
fn the_scanner_finds_every_form() {
    // A guard against a scanner that finds nothing.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{BASIC_USER}:{PASSWORD}"));
    for text in [
        format!("Bearer {TOKEN}"),
        format!("Basic {basic}"),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(OPENAI_KEY),
        percent_encoding::utf8_percent_encode(PASSWORD, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ] {
        let r = std::panic::catch_unwind(|| scan("test", &text));
        assert!(r.is_err(), "not found in {text}");
    }
    scan("clean text", "Bearer *****");
}

/// Leak 1 (found by the reliability work, fixed): a sensitive value sent in a query string is
/// form-urlencoded (`/` → `%2F`, `+` → `%2B`, space → `+`, `-` kept), a form the masker does
/// not know (it masks the value, its base64 and its NON_ALPHANUMERIC percent-encoding, where
/// `-` → `%2D`). The URL then shows the secret in the trace's `http_retry` events and in any
/// error message that echoes the URL. Secrets with `/`, `+`, `=` or spaces are common (base64
/// API keys). The same holds for path segments (`/keys/<<connector.apikey>>`, encoded keeping
/// `-_.~`).
#[tokio::test]
async fn secrets_sent_url_encoded_are_masked_in_the_trace_and_errors() {
    use codeless::load::load_str;
    use codeless::model::Document;
    use codeless::run::{run_in_workspace, RunData, RunOptions};
    use codeless::workspace::Workspace;
    const KEYED: &str = "kind: integration\nname: Keyed\nconnection:\n  - { name: url, display: URL, required: true }\n  - { name: apikey, display: API Key, required: true, sensitive: true }\nhttp:\n  base_url: <<connector.url>>\n  retry: { on_status: [503], attempts: 1, base_delay: 0.01 }\ncommands:\n  Query:\n    display: Query\n    request: { path: /v1/items, query: { key: <<connector.apikey>> } }\n  Path:\n    display: Path\n    request: { path: \"/v1/keys/<<connector.apikey>>\" }\n";
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(|req: &Request| {
            ResponseTemplate::new(503)
                .set_body_json(json!({"message": format!("cannot serve {}", req.url)}))
        })
        .mount(&server)
        .await;
    for secret in ["sk-live/abc+def=", "sk live key 42"] {
        let pb = "kind: playbook\nname: T\ntasks:\n  q: { command: Keyed.Query, on_error: continue }\n  p: { command: Keyed.Path, on_error: continue }\n";
        let conns = format!("kind: connections\nconnections:\n  k: {{ integration: Keyed, params: {{ url: \"{}\", apikey: \"{secret}\" }} }}\n", server.uri());
        let ws = Workspace::new(vec![
            load_str("p.yaml", pb),
            load_str("c.yaml", conns),
            load_str("i.yaml", KEYED),
        ]);
        let Some(Document::Playbook(p)) = ws.loaded[0].document.clone() else {
            panic!("not a playbook")
        };
        let dir = tempfile::tempdir().unwrap();
        let trace_path = dir.path().join("t.jsonl");
        let mut secrets = codeless::secrets::Secrets::default();
        secrets.add(secret);
        let opts = RunOptions {
            trace: std::sync::Arc::new(
                codeless::run::trace::Trace::to_file(&trace_path, secrets).unwrap(),
            ),
            ..RunOptions::default()
        };
        let data = RunData {
            incident: json!({}),
            inputs: json!({}),
            ..RunData::default()
        };
        let (_, doc) = run_in_workspace(&ws, p, data, opts).await;
        let trace = std::fs::read_to_string(&trace_path).unwrap();
        let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        for (what, text) in [("run document", doc.to_string()), ("trace", trace)] {
            assert!(
                !text.contains(&form),
                "{secret:?} leaked form-urlencoded as {form:?} in the {what}:\n{text}"
            );
        }
    }
}

/// Leak 2 (found by the reliability work, fixed): `result` is a summary of `rawData` cut at 200 bytes
/// (and error messages from a body at 500 characters) *before* secrets are masked, so a
/// secret that straddles the cut is no longer whole and its first part is printed unmasked.
#[tokio::test]
async fn a_secret_cut_by_a_summary_is_still_masked() {
    use codeless::load::load_str;
    use codeless::model::Document;
    use codeless::run::{run_in_workspace, RunData, RunOptions};
    use codeless::workspace::Workspace;
    let server = MockServer::start().await;
    // The echoed header starts 190 bytes in: the 200-byte summary cuts the token.
    Mock::given(wiremock::matchers::any())
        .respond_with(|req: &Request| {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let text = format!("{}{auth} and more text after it", "x".repeat(183));
            let status = if req.url.path() == "/fail" { 400 } else { 200 };
            let text = if status == 400 {
                format!("{}{auth} trailing", "y".repeat(483))
            } else {
                text
            };
            ResponseTemplate::new(status).set_body_string(text)
        })
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  ok: { command: RESTAPICallback.SendRequest, input: { url: /ok } }\n  bad: { command: RESTAPICallback.SendRequest, input: { url: /fail }, on_error: continue }\n";
    let conns = format!("kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{}\", auth: bearer, bearertoken: {TOKEN} }} }}\n", server.uri());
    let ws = Workspace::new(vec![load_str("p.yaml", pb), load_str("c.yaml", conns)]);
    let Some(Document::Playbook(p)) = ws.loaded[0].document.clone() else {
        panic!("not a playbook")
    };
    let data = RunData {
        incident: json!({}),
        inputs: json!({}),
        ..RunData::default()
    };
    let (_, doc) = run_in_workspace(&ws, p, data, RunOptions::default()).await;
    // rawData itself is masked whole.
    assert!(doc["tasks"]["ok"]["rawData"]
        .as_str()
        .unwrap()
        .contains("Bearer *****"));
    // The first 10 characters of the token are 1/2.5 of it: enough to call it a leak.
    let prefix = &TOKEN[..10];
    for id in ["ok", "bad"] {
        let t = doc["tasks"][id].to_string();
        assert!(
            !t.contains(prefix),
            "the start of the token ({prefix}…) is in task {id}: {t}"
        );
    }
}

// ---- issue 16: what a red team found ---------------------------------------------------------

/// Writes `files` (name, text) into a new temporary directory.
fn write_files(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_str().unwrap().to_owned()
}

/// `codeless run PLAYBOOK --connections CONNS --trace ...` (with `--incident` when given) in
/// `dir`, scanned as every run here is; returns the run document.
fn run_scanned(what: &str, dir: &tempfile::TempDir, incident: Option<&str>) -> Value {
    let trace = path_in(dir, &format!("{}.jsonl", what.replace(' ', "-")));
    let mut args = vec![
        "run".to_owned(),
        path_in(dir, "p.yaml"),
        "--connections".into(),
        path_in(dir, "c.yaml"),
        "--trace".into(),
        trace.clone(),
    ];
    if let Some(i) = incident {
        std::fs::write(dir.path().join("incident.json"), i).unwrap();
        args.extend(["--incident".into(), path_in(dir, "incident.json")]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = codeless(what, &refs, Some(Path::new(&trace)));
    stdout_json(what, &o)
}

/// Everything a server was sent, as one text to scan.
async fn what_was_sent(server: &MockServer) -> String {
    let mut out = String::new();
    for r in server.received_requests().await.unwrap_or_default() {
        out.push_str(&format!("{} {}\n", r.method, r.url));
        for (k, v) in r.headers.iter() {
            out.push_str(&format!("{k}: {}\n", v.to_str().unwrap_or("<bytes>")));
        }
        out.push_str(&String::from_utf8_lossy(&r.body));
        out.push('\n');
    }
    out
}

/// An integration whose API key goes in a header, the query and another header; `Get` takes
/// its URL from an input (an absolute URL from data is used as written), `Post` sends the key
/// in its body.
const KEYED: &str = "kind: integration\nname: Keyed\nconnection:\n  - { name: url, display: URL, required: true }\n  - { name: apikey, display: API Key, required: true, sensitive: true }\nhttp:\n  base_url: <<connector.url>>\n  auth: { header: { name: X-Api-Key, value: <<connector.apikey>> } }\n  headers: { X-Copy: \"key <<connector.apikey>>\" }\ncommands:\n  Get:\n    display: Get\n    inputs: [{ name: url, display: URL, type: text, required: true }]\n    request: { path: <<input.url>>, query: { key: <<connector.apikey>>, q: fine } }\n  Post:\n    display: Post\n    inputs: [{ name: url, display: URL, type: text, required: true }]\n    request: { method: POST, path: <<input.url>>, body: { token: <<connector.apikey>> } }\n";

/// Finding 1: `auth` and every header and query parameter holding a sensitive value go only
/// to the origin of the integration's base URL (REST API Callback: the Request URL); a body
/// holding one is not sent elsewhere, first or after a redirect. The URL came from data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_go_only_to_the_origin_of_the_base_url() {
    let home = echo_server().await;
    let other = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&other)
        .await;
    // A server of the connection's that redirects to the other origin.
    let hop = MockServer::start().await;
    for (p, status) in [("/found", 302), ("/moved", 307)] {
        Mock::given(wiremock::matchers::path(p))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Location", format!("{}/landed", other.uri()).as_str()),
            )
            .mount(&hop)
            .await;
    }
    let conns = format!(
        "kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{}\", auth: bearer, bearertoken: \"${{env:{TOKEN_VAR}}}\" }} }}\n  hop: {{ integration: REST API Callback, params: {{ requesturl: \"{}\", auth: bearer, bearertoken: \"${{env:{TOKEN_VAR}}}\" }} }}\n  keyed: {{ integration: Keyed, params: {{ url: \"{}\", apikey: \"${{env:{OPENAI_VAR}}}\" }} }}\n",
        home.uri(),
        hop.uri(),
        home.uri()
    );
    let pb = "kind: playbook\nname: Steal\ntasks:\n  steal: { command: RESTAPICallback.SendRequest, connection: api, input: { url: <<incident.url>> }, on_error: continue }\n  get: { command: Keyed.Get, input: { url: <<incident.url>> }, on_error: continue }\n  post: { command: Keyed.Post, input: { url: <<incident.url>> }, on_error: continue }\n  hop_get: { command: RESTAPICallback.SendRequest, connection: hop, input: { url: /found }, on_error: continue }\n  hop_post: { command: RESTAPICallback.SendRequest, connection: hop, input: { url: /moved, method: POST, body: { t: \"<<connector.bearertoken>>\" } }, on_error: continue }\n  home: { command: Keyed.Get, input: { url: /at-home } }\n";
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns), ("keyed.yaml", KEYED)]);
    let incident = json!({"url": format!("{}/steal", other.uri())}).to_string();
    let target = other.uri();
    let (doc, command) = tokio::task::spawn_blocking(move || {
        let doc = run_scanned("run a playbook", &dir, Some(&incident));
        let command = codeless(
            "command SendRequest to another origin",
            &[
                "command",
                "RESTAPICallback.SendRequest",
                "--connection",
                "api",
                "--connections",
                &path_in(&dir, "c.yaml"),
                "--commands",
                &path_in(&dir, "keyed.yaml"),
                "--input",
                &format!("url={target}/by-hand"),
            ],
            None,
        );
        (doc, command)
    })
    .await
    .unwrap();
    assert_eq!(
        command.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&command.stderr)
    );
    let t = &doc["tasks"];
    for ok in ["steal", "get", "hop_get", "home"] {
        assert_eq!(t[ok]["status"], "Successful", "{ok}: {}", t[ok]);
    }
    for refused in ["post", "hop_post"] {
        assert_eq!(t[refused]["status"], "Failed", "{refused}: {}", t[refused]);
        let message = t[refused]["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("is not sent: its body holds a credential of the connection"),
            "{refused}: {message}"
        );
    }
    let sent = what_was_sent(&other).await;
    scan("what the other origin received", &sent);
    assert!(
        !sent.to_ascii_lowercase().contains("authorization"),
        "{sent}"
    );
    assert!(
        !sent.contains("X-Api-Key") && !sent.contains("x-api-key"),
        "{sent}"
    );
    // The other origin got the calls, without their credentials but otherwise whole.
    for p in ["/steal", "/landed", "/by-hand"] {
        assert!(
            sent.contains(p),
            "{p} never reached the other origin:\n{sent}"
        );
    }
    assert!(sent.contains("q=fine"), "{sent}");
    assert!(
        !sent.contains("POST"),
        "a body with the key went out:\n{sent}"
    );
    // At home, the key went as declared.
    let home_sent = what_was_sent(&home).await;
    assert!(
        home_sent.contains(&format!("x-api-key: {OPENAI_KEY}")),
        "{home_sent}"
    );
}

/// Finding 2: the Basic pair of an integration whose auth reads parameters of other names
/// (`user`, `secret`) is masked as it comes back from a server that echoes headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basic_pair_from_custom_parameter_names_is_masked() {
    let echo = echo_server().await;
    let svc = "kind: integration\nname: Svc\nconnection:\n  - { name: url, display: URL, required: true }\n  - { name: user, display: User, required: true }\n  - { name: secret, display: Secret, required: true, sensitive: true }\nhttp:\n  base_url: <<connector.url>>\n  auth: { basic: { username: <<connector.user>>, password: <<connector.secret>> } }\ncommands:\n  Echo: { display: Echo, request: { path: /anything/echo } }\n";
    let conns = format!("kind: connections\nconnections:\n  svc: {{ integration: Svc, params: {{ url: \"{}\", user: {BASIC_USER}, secret: \"${{env:{PASSWORD_VAR}}}\" }} }}\n", echo.uri());
    let pb = "kind: playbook\nname: B\ntasks:\n  echo: { command: Svc.Echo }\n";
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns), ("svc.yaml", svc)]);
    let doc = tokio::task::spawn_blocking(move || run_scanned("basic pair", &dir, None))
        .await
        .unwrap();
    assert_eq!(
        doc["tasks"]["echo"]["rawData"]["headers"]["authorization"],
        "Basic *****"
    );
}

/// Finding 6: `codeless command` argument errors repeat what the inputs resolved to, which
/// may be the connection's secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_argument_errors_do_not_print_secrets() {
    let echo = echo_server().await;
    let uri = echo.uri();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let conns = conformance_connections(dir.path(), &uri, &uri);
        let conns = conns.to_str().unwrap();
        for (conn, input) in [
            ("httpbin", "method={{connector.bearertoken}}"),
            (
                "httpbin_basic",
                "header={{connector.password}} and {{connector.password}}",
            ),
            ("httpbin_basic", r#"header={"a": "{{connector.password}}"#),
        ] {
            let o = codeless(
                &format!("command with {input}"),
                &[
                    "command",
                    "RESTAPICallback.SendRequest",
                    "--connection",
                    conn,
                    "--connections",
                    conns,
                    "--input",
                    "url=/anything",
                    "--input",
                    input,
                ],
                None,
            );
            assert_eq!(o.status.code(), Some(2), "{input}");
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(stderr.contains("*****"), "{input}: {stderr}");
        }
    })
    .await
    .unwrap();
}

/// Finding 7: `html_template` output carries the secrets it renders HTML-escaped
/// (`=` → `&#x3D;`): in the run document, the trace's `task_started` inputs and outputs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_template_output_masks_html_escaped_secrets() {
    let echo = echo_server().await;
    let conns = format!("kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{}\", auth: bearer, bearertoken: \"${{env:{SPECIAL_VAR}}}\" }} }}\n", echo.uri());
    let pb = "kind: playbook\nname: H\ntasks:\n  a: { command: RESTAPICallback.SendRequest, input: { url: /anything }, next: [b] }\n  b: { command: formatHtml, input: { template: \"<p>{{tasks.a.rawData.token}}</p>\" } }\n";
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns)]);
    let doc = tokio::task::spawn_blocking(move || run_scanned("html template", &dir, None))
        .await
        .unwrap();
    assert_eq!(doc["tasks"]["b"]["returnData"], "<p>*****</p>");
}

/// Finding 8: masking was an oracle at the 200-byte summary cut: the start of the secret
/// placed at the cut came out as `*****…`, a wrong guess as written, so the secret could be
/// read a character at a time. And a cut that left fewer than four characters of a secret
/// showed them.
#[test]
fn the_summary_cut_is_no_oracle_and_shows_no_part_of_a_secret() {
    let pb = "kind: playbook\nname: O\ntasks:\n  t: { command: trim, input: { input: <<incident.text>> } }\n";
    let conns = format!("kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"http://127.0.0.1:9\", auth: bearer, bearertoken: \"${{env:{TOKEN_VAR}}}\" }} }}\n");
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns)]);
    let result = |text: String| {
        let doc = run_scanned("summary", &dir, Some(&json!({ "text": text }).to_string()));
        doc["tasks"]["t"]["result"].as_str().unwrap().to_owned()
    };
    // A right and a wrong guess of the token's start, ending at byte 200.
    for guess in [&TOKEN[..9], "tok-leakX"] {
        let text = format!("{}{guess}ZZZZZZZZZZ", "x".repeat(200 - guess.len()));
        assert_eq!(
            result(text),
            format!("{}{guess}…", "x".repeat(200 - guess.len())),
            "{guess}"
        );
    }
    // The token itself, cut after its first three characters.
    let text = format!("{}{TOKEN} and more", "x".repeat(197));
    assert_eq!(result(text), format!("{}*****…", "x".repeat(197)));
}

/// A server that sends back the bearer token it was given in the encodings servers choose:
/// lower-case percent-encoding, HTML character references (named, decimal, hex), and the URL
/// re-quoted as httpbin's `url` field shows it. As an HTML page, or in a JSON error.
async fn encoding_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(|req: &Request| {
            let token = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .trim_start_matches("Bearer ")
                .to_owned();
            let page = format!(
                "<p>lower: {}</p><p>html: {}</p><p>decimal: {}</p><p>hex: {}</p><p>url: {}/anything?k={}</p>",
                percent_encode_with(&token, |c| !c.is_ascii_alphanumeric(), true),
                handlebars_escape(&token),
                entities(&token, |c| format!("&#{};", c as u32)),
                entities(&token, |c| format!("&#X{:X};", c as u32)),
                req.url.origin().ascii_serialization(),
                werkzeug_query(&token),
            );
            if req.url.path() == "/fail" {
                ResponseTemplate::new(400).set_body_json(json!({"message": page}))
            } else {
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/html")
                    .set_body_string(page)
            }
        })
        .mount(&server)
        .await;
    server
}

/// Finding 16: secret encodings a server chooses were not masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_in_the_encodings_servers_choose_are_masked() {
    let server = encoding_server().await;
    let conns = format!("kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{}\", auth: bearer, bearertoken: \"${{env:{SPECIAL_VAR}}}\" }} }}\n", server.uri());
    let pb = "kind: playbook\nname: E\ntasks:\n  page: { command: RESTAPICallback.SendRequest, input: { url: /page } }\n  fail: { command: RESTAPICallback.SendRequest, input: { url: /fail }, on_error: continue }\n";
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns)]);
    let doc = tokio::task::spawn_blocking(move || {
        for url in ["/page", "/fail"] {
            codeless(
                &format!("command {url}"),
                &[
                    "command",
                    "RESTAPICallback.SendRequest",
                    "--connections",
                    &path_in(&dir, "c.yaml"),
                    "--input",
                    &format!("url={url}"),
                ],
                None,
            );
        }
        run_scanned("encodings", &dir, None)
    })
    .await
    .unwrap();
    let page = doc["tasks"]["page"]["rawData"].as_str().unwrap_or_default();
    assert_eq!(page.matches("*****").count(), 5, "{page}");
}

/// Finding 16 against the real httpbin (`CODELESS_HTTPBIN`, else port 18080), when it is up:
/// its `url` field re-quotes the query the token was sent in.
#[test]
fn httpbins_requoted_url_is_masked_when_httpbin_is_up() {
    let url = std::env::var("CODELESS_HTTPBIN").unwrap_or_else(|_| "http://127.0.0.1:18080".into());
    let port = url::Url::parse(&url)
        .ok()
        .and_then(|u| u.port())
        .unwrap_or(18080);
    if !port_open(port) {
        eprintln!("skipped: httpbin is not running at {url}");
        return;
    }
    let bin = "kind: integration\nname: Bin\nconnection:\n  - { name: url, display: URL, required: true }\n  - { name: apikey, display: API Key, required: true, sensitive: true }\nhttp: { base_url: <<connector.url>> }\ncommands:\n  Anything: { display: Anything, request: { path: /anything, query: { k: <<connector.apikey>> } } }\n";
    let conns = format!("kind: connections\nconnections:\n  bin: {{ integration: Bin, params: {{ url: \"{url}\", apikey: \"${{env:{SPECIAL_VAR}}}\" }} }}\n");
    let dir = write_files(&[("c.yaml", &conns), ("bin.yaml", bin)]);
    let o = codeless(
        "httpbin /anything",
        &[
            "command",
            "Bin.Anything",
            "--connections",
            &path_in(&dir, "c.yaml"),
            "--commands",
            &path_in(&dir, "bin.yaml"),
        ],
        None,
    );
    let out = stdout_json("httpbin", &o);
    assert_eq!(out["rawData"]["args"]["k"], "*****", "{out}");
    assert!(
        out["rawData"]["url"]
            .as_str()
            .unwrap_or("")
            .ends_with("?k=*****"),
        "{out}"
    );
}

/// Finding 17: a sensitive value shorter than 4 characters is refused when the connection is
/// loaded, with an error naming the parameter (masking it would mask ordinary text).
#[test]
fn a_sensitive_value_shorter_than_four_characters_is_refused() {
    let conns = "kind: connections\nconnections:\n  short: { integration: REST API Callback, params: { requesturl: \"http://127.0.0.1:9\", auth: bearer, bearertoken: abc } }\n  read: { integration: REST API Callback, params: { requesturl: \"http://127.0.0.1:9\", tenant: \"${env:CODELESS_LEAKCHECK_SHORT}\" } }\n";
    let dir = write_files(&[("c.yaml", conns)]);
    for (conn, param) in [("short", "bearertoken"), ("read", "tenant")] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_codeless"))
            .env(
                "XDG_DATA_HOME",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
            )
            .args([
                "command",
                "RESTAPICallback.SendRequest",
                "--connection",
                conn,
                "--connections",
                &path_in(&dir, "c.yaml"),
                "--input",
                "url=/x",
            ])
            .env("CODELESS_LEAKCHECK_SHORT", "ab")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{conn}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("error: connection `{conn}`, parameter `{param}`: the sensitive value is shorter than 4 characters; codeless refuses such secrets because masking them in output would mask ordinary text\n")
        );
    }
}

/// Finding 18: what `toUpper`, `toLower` and `hexEncode` make of a secret is masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_folded_and_hex_forms_of_a_secret_are_masked() {
    let echo = echo_server().await;
    let conns = format!("kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{}\", auth: bearer, bearertoken: \"${{env:{SPECIAL_VAR}}}\" }} }}\n", echo.uri());
    let pb = "kind: playbook\nname: T\ntasks:\n  a: { command: RESTAPICallback.SendRequest, input: { url: /anything }, next: [up, low, hex] }\n  up: { command: toUpper, input: { input: <<tasks.a.rawData.token>> } }\n  low: { command: toLower, input: { input: <<tasks.a.rawData.token>> } }\n  hex: { command: hexEncode, input: { input: <<tasks.a.rawData.token>> } }\n";
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns)]);
    let doc = tokio::task::spawn_blocking(move || run_scanned("transforms", &dir, None))
        .await
        .unwrap();
    for t in ["up", "low", "hex"] {
        assert_eq!(doc["tasks"][t]["returnData"], "*****", "{t}");
    }
}

/// Finding 19: credentials written in a Request URL (`http://analyst:${env:PW}@host`) are
/// secrets: the password, the `user:password` pair, and the Basic header they become.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_a_request_url_are_secrets() {
    let echo = echo_server().await;
    let at = echo.uri().replace("http://", "");
    let conns = format!("kind: connections\nconnections:\n  creds: {{ integration: REST API Callback, params: {{ requesturl: \"http://{BASIC_USER}:${{env:{PASSWORD_VAR}}}@{at}\" }} }}\n  bad: {{ integration: REST API Callback, params: {{ requesturl: \"http://{BASIC_USER}:${{env:{PASSWORD_VAR}}}@exa mple.com\" }} }}\n");
    let pb = "kind: playbook\nname: U\ntasks:\n  echo: { command: RESTAPICallback.SendRequest, connection: creds, input: { url: /anything }, next: [bad] }\n  bad: { command: RESTAPICallback.SendRequest, connection: bad, input: { url: /anything }, on_error: continue }\n";
    let dir = write_files(&[("p.yaml", pb), ("c.yaml", &conns)]);
    let doc = tokio::task::spawn_blocking(move || run_scanned("url credentials", &dir, None))
        .await
        .unwrap();
    assert_eq!(
        doc["tasks"]["echo"]["rawData"]["headers"]["authorization"],
        "Basic *****"
    );
    assert_eq!(doc["tasks"]["bad"]["status"], "Failed");
}

/// Finding 20: `validate` snippets showed secrets written with YAML escapes, as block
/// scalars, or on a line with a syntax error in a connections file.
#[test]
fn validate_snippets_show_no_secret_of_a_connections_file() {
    let escaped = "kind: connections\nconnections:\n  ai:\n    integration: ChatGPT\n    params: { serverurl: \"http://127.0.0.1:9\", apiversion: v1, apikey: \"sk-\\x6Ceak-esc-\\u0041bc-9f8e7d6c5b\" }\n";
    let folded = "kind: connections\nconnections:\n  ai:\n    integration: ChatGPT\n    params:\n      serverurl: \"http://127.0.0.1:9\"\n      apiversion: v1\n      apikey: >-\n        sk-leak-folded-\n        4a39b2c1d0\n";
    let literal = "kind: connections\nconnections:\n  ai:\n    integration: ChatGPT\n    params:\n      serverurl: \"http://127.0.0.1:9\"\n      apiversion: v1\n      apikey: |\n        sk-leak-literal-8c7b6a59\n";
    let misspelt = "kind: connections\nconnections:\n  ai:\n    integration: ChatGPT\n    params: { serverurl: \"http://127.0.0.1:9\", apiversion: v1, apikye: sk-leak-misspelt-31d2e4 }\n";
    let broken = "kind: connections\nconnections:\n  ai:\n    integration: ChatGPT\n    params: { apikey: sk-leak-broken-77e6d5c4, serverurl: \"http://127.0.0.1:9 }\n";
    for (name, text, fragments, code) in [
        (
            "escaped.yaml",
            escaped,
            &["9f8e7d6c5b", "x6Ceak"][..],
            "N004",
        ),
        (
            "folded.yaml",
            folded,
            &["sk-leak-folded", "4a39b2c1d0"][..],
            "N004",
        ),
        (
            "literal.yaml",
            literal,
            &["sk-leak-literal", "8c7b6a59"][..],
            "N004",
        ),
        (
            "misspelt.yaml",
            misspelt,
            &["sk-leak-misspelt", "31d2e4"][..],
            "N003",
        ),
        (
            "broken.yaml",
            broken,
            &["sk-leak-broken", "77e6d5c4"][..],
            "Y001",
        ),
    ] {
        let dir = write_files(&[(name, text)]);
        let o = codeless(
            &format!("validate {name}"),
            &["validate", &path_in(&dir, name)],
            None,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            out.contains(code) && out.contains("*****"),
            "{name}:\n{out}"
        );
        for f in fragments {
            assert!(!out.contains(f), "{name}: `{f}` in the output:\n{out}");
        }
        // `run` prints the diagnostics of a connections file it cannot use the same way.
        let pb =
            "kind: playbook\nname: R\ntasks:\n  t: { command: toUpper, input: { input: x } }\n";
        std::fs::write(dir.path().join("p.yaml"), pb).unwrap();
        let o = codeless(
            &format!("run with {name}"),
            &[
                "run",
                &path_in(&dir, "p.yaml"),
                "--connections",
                &path_in(&dir, name),
            ],
            None,
        );
        let err = String::from_utf8_lossy(&o.stderr);
        for f in fragments {
            assert!(!err.contains(f), "run with {name}: `{f}` in:\n{err}");
        }
    }
}

/// `secret` as it appears inside a JSON string (serialized, without its two quotes).
fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}
