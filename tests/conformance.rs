//! Conformance against real servers (../shared/oracles), through the `codeless` binary.
//! Ignored by default; `scripts/conformance.sh` starts the servers and runs these.

use serde_json::Value;
use std::process::{Command, Output};

const SECRETS: &[&str] = &["tok-conformance-5150", "pw-conformance-8080"];

fn codeless(args: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_codeless"))
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
