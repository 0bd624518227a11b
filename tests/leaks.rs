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

const TOKEN: &str = "tok-leakcheck-5f0c2a9e71";
const PASSWORD: &str = "pw-leakcheck-83d61b";
const OPENAI_KEY: &str = "sk-leakcheck-openai-c4e8a2f90b13";
const BASIC_USER: &str = "analyst";

const SECRETS: &[(&str, &str)] = &[
    (TOKEN_VAR, TOKEN),
    (PASSWORD_VAR, PASSWORD),
    (OPENAI_VAR, OPENAI_KEY),
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
        (
            "JSON-escaped".into(),
            serde_json::to_string(secret)
                .unwrap()
                .trim_matches('"')
                .to_owned(),
        ),
    ];
    out.dedup_by(|a, b| a.1 == b.1);
    out
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

/// Leak 1 (see docs/reliability.md): a sensitive value sent in a query string is
/// form-urlencoded (`/` → `%2F`, `+` → `%2B`, space → `+`, `-` kept), a form the masker does
/// not know (it masks the value, its base64 and its NON_ALPHANUMERIC percent-encoding, where
/// `-` → `%2D`). The URL then shows the secret in the trace's `http_retry` events and in any
/// error message that echoes the URL. Secrets with `/`, `+`, `=` or spaces are common (base64
/// API keys). The same holds for path segments (`/keys/<<connector.apikey>>`, encoded keeping
/// `-_.~`).
#[tokio::test]
#[ignore = "leak 1: see docs/reliability.md (form-urlencoded secrets are not masked)"]
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

/// Leak 2 (see docs/reliability.md): `result` is a summary of `rawData` cut at 200 bytes
/// (and error messages from a body at 500 characters) *before* secrets are masked, so a
/// secret that straddles the cut is no longer whole and its first part is printed unmasked.
#[tokio::test]
#[ignore = "leak 2: see docs/reliability.md (summaries cut a secret before masking)"]
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
