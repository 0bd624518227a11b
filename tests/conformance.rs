//! Conformance against real servers (../shared/oracles), through the `codeless` binary.
//! Ignored by default; `scripts/conformance.sh` starts the servers and runs these.

use serde_json::Value;
use std::process::{Command, Output};

const SECRETS: &[&str] = &[
    "tok-conformance-5150",
    "pw-conformance-8080",
    "sk-conformance-openai-4242",
];

fn codeless(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_codeless"))
        .env(
            "XDG_DATA_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
        )
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run codeless");
    // Secrets never leak, in any form.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for s in SECRETS {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(s);
        for form in [s.to_string(), b64] {
            assert!(!all.contains(&form), "secret {s} leaked as {form}:\n{all}");
        }
    }
    o
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[test]
#[ignore = "needs the oracles: scripts/conformance.sh"]
fn send_request_against_httpbin() {
    let incident = std::env::temp_dir().join("codeless-conformance-incident.json");
    let trace = std::env::temp_dir().join("codeless-conformance-trace.jsonl");
    std::fs::write(
        &incident,
        r#"{"id": "INC-7", "title": "Phish <<connector.bearertoken>>", "ips": ["203.0.113.7"]}"#,
    )
    .unwrap();
    let o = codeless(&[
        "run",
        "tests/conformance/rest-api-callback.yaml",
        "--connections",
        "tests/conformance/connections.yaml",
        "--incident",
        incident.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
        "-q",
    ]);
    // The trace shows the HTTP retries, and no secret in any form.
    let lines = std::fs::read_to_string(&trace).unwrap();
    let retries: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "http_retry")
        .collect();
    assert_eq!(retries.len(), 2, "{lines}");
    assert_eq!(retries[0]["status"], 429);
    assert_eq!(retries[0]["task"], "rate_limited");
    for s in SECRETS {
        assert!(!lines.contains(s), "secret {s} in the trace");
    }
    let doc = json(&o);
    let t = |id: &str| doc["tasks"][id].clone();

    // /anything echoes exactly what was sent.
    let echo = t("echo")["rawData"].clone();
    assert_eq!(echo["method"], "PATCH");
    assert_eq!(
        echo["url"],
        "http://127.0.0.1:18080/anything/alerts?source=codeless"
    );
    assert_eq!(echo["headers"]["X-Tenant"], "acme-soc");
    assert_eq!(echo["headers"]["X-Case"], "INC-7");
    assert_eq!(echo["headers"]["Authorization"], "Bearer *****");
    assert_eq!(echo["headers"]["Content-Type"], "application/json");
    // The incident's text that looks like a template is sent as is; null fields are dropped.
    assert_eq!(
        echo["json"],
        serde_json::json!({"alert": "Phish <<connector.bearertoken>>", "ips": ["203.0.113.7"]})
    );

    assert_eq!(t("bearer_ok")["status"], "Successful");
    assert_eq!(t("bearer_ok")["rawData"]["authenticated"], true);
    assert_eq!(t("bearer_missing")["error"]["status_code"], 401);
    assert_eq!(
        t("bearer_missing")["error"]["indicator"],
        "Send Request failed."
    );

    assert_eq!(t("basic_ok")["status"], "Successful");
    assert_eq!(t("basic_ok")["rawData"]["user"], "analyst");
    assert_eq!(t("basic_wrong")["error"]["status_code"], 401);

    assert_eq!(
        t("server_error")["result"],
        "Send Request failed. Status Code: 500. Message: Internal Server Error"
    );
    assert_eq!(t("rate_limited")["error"]["status_code"], 429);
    assert_eq!(
        t("rate_limited")["retries"],
        2,
        "429 is retried twice by the integration's policy"
    );

    assert_eq!(t("slow")["status"], "Failed");
    assert_eq!(
        t("slow")["error"]["message"],
        "task `slow` timed out after 1 s"
    );
    assert!(t("slow")["duration_ms"].as_u64().unwrap() < 3000);

    assert_eq!(
        t("absolute")["rawData"]["url"],
        "http://127.0.0.1:18080/anything/absolute"
    );
    assert_eq!(doc["status"], "Partially Successful");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
#[ignore = "needs the oracles: scripts/conformance.sh"]
fn test_command_and_connection_test_against_httpbin() {
    let o = codeless(&[
        "command",
        "RESTAPICallback.SendRequest",
        "--connection",
        "httpbin",
        "--connections",
        "tests/conformance/connections.yaml",
        "--input",
        "url=/anything/cmd",
        "--input",
        "method=PUT",
        "--input",
        r#"header={"X-Tenant": "{{connector.tenant}}"}"#,
        "--input",
        r#"body={"k": 1}"#,
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = json(&o);
    assert_eq!(out["rawData"]["method"], "PUT");
    assert_eq!(out["rawData"]["headers"]["X-Tenant"], "acme-soc");
    assert_eq!(out["rawData"]["json"], serde_json::json!({"k": 1}));

    let o = codeless(&[
        "connection",
        "test",
        "httpbin_basic",
        "--connections",
        "tests/conformance/connections.yaml",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("connection `httpbin_basic` (REST API Callback): passed"));
    let o = codeless(&[
        "command",
        "RESTAPICallback.SendRequest",
        "--connection",
        "httpbin_wrong_password",
        "--connections",
        "tests/conformance/connections.yaml",
        "--input",
        "url=/basic-auth/analyst/pw-conformance-8080",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json(&o)["error"]["status_code"], 401);
}

const OPENAI_KEY: &str = "sk-conformance-openai-4242";

/// `codeless command NAME --connection CONN --input k=v...` → (exit code, output model).
fn command(name: &str, conn: &str, inputs: &[(&str, &str)]) -> (i32, Value) {
    let mut args = vec![
        "command".to_owned(),
        name.to_owned(),
        "--connections".into(),
        "tests/conformance/connections.yaml".into(),
    ];
    if !conn.is_empty() {
        args.extend(["--connection".to_owned(), conn.to_owned()]);
    }
    for (k, v) in inputs {
        args.extend(["--input".to_owned(), format!("{k}={v}")]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = codeless(&refs);
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains(OPENAI_KEY)
            && !String::from_utf8_lossy(&o.stderr).contains(OPENAI_KEY)
    );
    let code = o.status.code().unwrap_or(-1);
    if o.stdout.is_empty() {
        return (
            code,
            Value::String(String::from_utf8_lossy(&o.stderr).into_owned()),
        );
    }
    (code, json(&o))
}

fn local_file(name: &str, inputs: &[(&str, &str)]) -> String {
    let (code, out) = command(name, "", inputs);
    assert_eq!(code, 0, "{out}");
    out["returnData"].as_str().unwrap().to_owned()
}

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

#[test]
#[ignore = "needs the oracles: scripts/conformance.sh"]
fn every_chatgpt_command_is_spec_valid_against_prism() {
    let image = local_file(
        "createFileFromBase64",
        &[("input", PNG), ("file_name", "screenshot.png")],
    );
    let training = local_file(
        "CreateFileFromTextArray",
        &[
            ("input", r#"["{\"prompt\": \"a\", \"completion\": \"b\"}"]"#),
            ("file_name", "train.jsonl"),
        ],
    );
    let messages = r#"[{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello!"}]"#;
    let functions = r#"[{"name": "send_email", "description": "template to have an email sent.", "parameters": {"type": "object", "properties": {"to_address": {"type": "string", "description": "To address for email"}, "body": {"type": "string", "description": "Body of the email"}}}}]"#;
    let image_id = image.as_str();
    let training_ids = format!(r#"["{training}"]"#);
    let image_ids = format!(r#"["{image_id}"]"#);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("ChatGPT.TestConnection", vec![]),
        ("ChatGPT.ListModels", vec![]),
        (
            "ChatGPT.ListModels",
            vec![("model_ids", r#"["gpt-4o", "ada"]"#)],
        ),
        ("ChatGPT.ListFiles", vec![("purpose", "fine-tune")]),
        (
            "ChatGPT.GenerateConversation",
            vec![
                ("model_id", "gpt-3.5-turbo"),
                ("messages", messages),
                ("max_words", "10"),
                ("temperature", "0.5"),
                ("top_p", "0.5"),
                ("response_number", "1"),
                ("response_format", "JSON Object"),
            ],
        ),
        (
            "ChatGPT.CreateEmbeddings",
            vec![
                ("texts", r#"["Hello World"]"#),
                ("model_id", "text-embedding-3-small"),
                ("encoding_format", "Float"),
                ("dimensions", "10"),
            ],
        ),
        (
            "ChatGPT.TrainModel",
            vec![
                ("training_file_id", "file-abc123"),
                ("validation_file_id", "file-def456"),
                ("model_name", "gpt-4o-mini-2024-07-18"),
                ("suffix", "cyberLab"),
            ],
        ),
        (
            "ChatGPT.CreateImages",
            vec![
                ("prompts", r#"["A cute baby sea otter", "A red fox"]"#),
                ("response_number", "2"),
                ("image_size", "512x512"),
                ("response_format", "URL"),
            ],
        ),
        (
            "ChatGPT.FunctionCalling",
            vec![
                ("model_id", "gpt-3.5-turbo"),
                ("messages", messages),
                ("functions_summary", functions),
                ("tool_choice", "Auto"),
                ("temperature", "0.5"),
            ],
        ),
        (
            "ChatGPT.FunctionCalling",
            vec![
                ("model_id", "gpt-3.5-turbo"),
                ("messages", messages),
                ("functions_summary", functions),
                ("tool_choice", "send_email"),
            ],
        ),
        (
            "ChatGPT.GetFileContent",
            vec![("file_ids", r#"["file-abc123", "file-def456"]"#)],
        ),
        (
            "ChatGPT.UploadFiles",
            vec![
                ("purpose", "fine-tune"),
                ("file_ids", training_ids.as_str()),
                ("file_source", "Playbook File"),
            ],
        ),
        (
            "ChatGPT.AnalyzeImage",
            vec![
                ("model_id", "gpt-4-turbo"),
                ("messages", messages),
                (
                    "instructions",
                    r#"["Analyze the image to determine if it contains phishing advertisements"]"#,
                ),
                ("image_urls", r#"["https://www.apple.com/ca/"]"#),
                ("file_ids", image_ids.as_str()),
                ("max_words", "10"),
                ("temperature", "0.5"),
                ("top_p", "0.5"),
            ],
        ),
    ];
    for (name, inputs) in &cases {
        let (code, out) = command(name, "openai_prism", inputs);
        assert_eq!(code, 0, "{name} {inputs:?}: {out}");
        assert_eq!(out["status"], "Successful", "{name}: {out}");
        assert!(out["error"].is_null(), "{name}: {out}");
    }
    // Prism's placeholders come through the key fields; `arguments` is "string", not JSON,
    // and stays text rather than failing.
    let (_, fc) = command("ChatGPT.FunctionCalling", "openai_prism", &cases[8].1);
    assert_eq!(
        fc["keyFields"]["function_names"],
        serde_json::json!(["string"])
    );
    assert_eq!(fc["keyFields"]["arguments"], serde_json::json!(["string"]));
    let (_, gc) = command("ChatGPT.GetFileContent", "openai_prism", &cases[10].1);
    assert_eq!(
        gc["returnData"].as_array().unwrap().len(),
        2,
        "two files saved: {gc}"
    );
    // A missing key never leaves the machine: the seed's message.
    let (code, out) = command("ChatGPT.ListModels", "openai_prism_nokey", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.as_str()
            .unwrap()
            .contains("Server URL, API Key, API Version are all required."),
        "{out}"
    );
    // A model that does not exist (an id that is not a valid path segment): the error in the seed's form.
    let (code, out) = command(
        "ChatGPT.ListModels",
        "openai_prism",
        &[("model_ids", r#"["gpt-4o", ""]"#)],
    );
    assert_eq!(code, 0, "one of two models succeeded: {out}");
    assert_eq!(out["status"], "Partially Successful", "{out}");
}

#[test]
#[ignore = "needs the oracles: scripts/conformance.sh"]
fn chatgpt_requests_have_the_exact_shape_on_the_wire() {
    let image = local_file(
        "createFileFromBase64",
        &[("input", PNG), ("file_name", "shot.png")],
    );
    let text = local_file(
        "CreateFileFromTextArray",
        &[("input", r#"["hello"]"#), ("file_name", "notes.jsonl")],
    );
    let (_, out) = command(
        "ChatGPT.GenerateConversation",
        "openai_echo",
        &[
            ("model_id", "gpt-4o"),
            ("messages", r#"[{"role": "user", "content": "Hi"}]"#),
            ("max_words", "50"),
            ("response_format", "JSON Object"),
        ],
    );
    let raw = &out["rawData"];
    assert_eq!(raw["method"], "POST");
    assert_eq!(
        raw["url"],
        "http://127.0.0.1:18080/anything/v1/chat/completions"
    );
    assert_eq!(raw["headers"]["Authorization"], "Bearer *****");
    assert_eq!(raw["headers"]["Content-Type"], "application/json");
    assert_eq!(
        raw["json"],
        serde_json::json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}], "response_format": {"type": "json_object"}, "max_tokens": 50, "n": 1})
    );

    let (_, out) = command(
        "ChatGPT.FunctionCalling",
        "openai_echo",
        &[
            ("model_id", "gpt-4o"),
            ("messages", r#"[{"role": "user", "content": "mail"}]"#),
            (
                "functions_summary",
                r#"[{"name": "send_email", "parameters": {"type": "object"}}]"#,
            ),
            ("tool_choice", "send_email"),
        ],
    );
    assert_eq!(
        out["rawData"]["json"]["tools"],
        serde_json::json!([{"type": "function", "function": {"name": "send_email", "parameters": {"type": "object"}}}])
    );
    assert_eq!(
        out["rawData"]["json"]["tool_choice"],
        serde_json::json!({"type": "function", "function": {"name": "send_email"}})
    );

    let image_ids = format!(r#"["{image}"]"#);
    let (_, out) = command(
        "ChatGPT.AnalyzeImage",
        "openai_echo",
        &[
            ("model_id", "gpt-4o"),
            ("instructions", r#"["Is this phishing?"]"#),
            ("image_urls", r#"["https://example.org/a.png"]"#),
            ("file_ids", image_ids.as_str()),
        ],
    );
    let content = &out["rawData"]["json"]["messages"][0]["content"];
    assert_eq!(
        content[0],
        serde_json::json!({"type": "text", "text": "Is this phishing?"})
    );
    assert_eq!(
        content[1],
        serde_json::json!({"type": "image_url", "image_url": {"url": "https://example.org/a.png"}})
    );
    assert_eq!(
        content[2]["image_url"]["url"],
        format!("data:image/png;base64,{PNG}")
    );
    // Only images may be analysed.
    let text_ids = format!(r#"["{text}"]"#);
    let (code, out) = command(
        "ChatGPT.AnalyzeImage",
        "openai_echo",
        &[
            ("model_id", "gpt-4o"),
            ("instructions", r#"["x"]"#),
            ("file_ids", text_ids.as_str()),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        out["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only image/* files are accepted"),
        "{out}"
    );

    let (_, out) = command(
        "ChatGPT.UploadFiles",
        "openai_echo",
        &[("file_ids", text_ids.as_str()), ("purpose", "fine-tune")],
    );
    let up = &out["rawData"][0];
    assert_eq!(up["url"], "http://127.0.0.1:18080/anything/v1/files");
    assert!(up["headers"]["Content-Type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data"));
    assert_eq!(up["files"]["file"], "hello");
    assert_eq!(up["form"]["purpose"], "fine-tune");

    let (_, out) = command(
        "ChatGPT.ListModels",
        "openai_echo",
        &[("model_ids", r#"["ft:gpt-4o:acme/x?y"]"#)],
    );
    // httpbin shows the path decoded except for `?`: still `%3F` (and no query) proves the
    // ID was encoded as one path segment rather than changing the URL's shape.
    assert_eq!(
        out["rawData"][0]["url"], "http://127.0.0.1:18080/anything/v1/models/ft:gpt-4o:acme/x%3Fy",
        "IDs are encoded into the path"
    );
    assert_eq!(out["rawData"][0]["args"], serde_json::json!({}));
}

#[test]
#[ignore = "needs the oracles: scripts/conformance.sh"]
fn the_ai_triage_example_runs_against_prism() {
    let o = codeless(&[
        "run",
        "playbooks/ai-alert-triage.yaml",
        "--incident",
        "playbooks/ai-alert-triage.incident.json",
        "--connections",
        "tests/conformance/openai-prism.yaml",
        "-q",
    ]);
    let doc = json(&o);
    assert_eq!(o.status.code(), Some(0), "{doc}");
    assert_eq!(doc["status"], "Successful", "{doc}");
    // Prism answers with placeholders: the function name "string" is not escalate_incident,
    // and the arguments "string" are not JSON: kept as text, with a note, no crash.
    assert_eq!(doc["tasks"]["close"]["status"], "Successful");
    assert_eq!(doc["tasks"]["escalate"]["status"], "Skipped");
    assert_eq!(doc["outputs"]["arguments"], serde_json::json!(["string"]));
    let result = doc["tasks"]["decide"]["result"].as_str().unwrap();
    assert!(
        result
            .contains("key field `arguments`: 1 value(s) were not valid JSON and are kept as text"),
        "{result}"
    );
}
