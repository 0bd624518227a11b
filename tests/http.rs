//! Integration commands over HTTP against a local mock server (wiremock): URL joining, auth,
//! headers, bodies, the seed's error shape, retries with Retry-After, timeouts, for_each,
//! response limits, and secrets that never appear in the run document.

use codeless::load::load_str;
use codeless::model::Document;
use codeless::run::{run_in_workspace, RunData, RunOptions};
use codeless::workspace::Workspace;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Runs `playbook` (YAML) with `connections` (YAML) and optional extra files.
async fn run(playbook: &str, connections: &str, extra: &[(&str, &str)]) -> Value {
    let mut loaded = vec![
        load_str("p.yaml", playbook),
        load_str("c.yaml", connections),
    ];
    for (name, text) in extra {
        loaded.push(load_str(name, *text));
    }
    let ws = Workspace::new(loaded);
    let diags = ws.diagnostics();
    assert!(
        !Workspace::has_errors(&diags),
        "{:?}",
        diags.iter().map(|d| d.short()).collect::<Vec<_>>()
    );
    let Some(Document::Playbook(pb)) = ws.loaded[0].document.clone() else {
        panic!("not a playbook")
    };
    let data = RunData {
        incident: json!({"title": "t"}),
        inputs: json!({}),
        ..RunData::default()
    };
    // Files the commands store go under the target dir, not the user's data directory.
    let options = RunOptions {
        files: codeless::files::FileStore::new(concat!(env!("CARGO_TARGET_TMPDIR"), "/files")),
        ..RunOptions::default()
    };
    run_in_workspace(&ws, pb, data, options).await.1
}

fn conn(url: &str, extra: &str) -> String {
    format!("kind: connections\nconnections:\n  api:\n    integration: REST API Callback\n    params: {{ requesturl: \"{url}\"{extra} }}\n")
}

fn send(input: &str) -> String {
    format!("kind: playbook\nname: T\ntasks:\n  call:\n    command: RESTAPICallback.SendRequest\n    input: {input}\n")
}

#[tokio::test]
async fn send_request_joins_the_url_and_sends_bearer_auth_headers_and_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/alerts"))
        .and(header("authorization", "Bearer tok-abcdef-123"))
        .and(header("x-tenant", "acme"))
        .and(body_json(json!({"alert": "t", "n": 3})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "A-1", "ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    let doc = run(
        &send("{ url: /alerts, method: POST, header: { X-Tenant: \"{{connector.tenant}}\" }, body: { alert: <<incident.title>>, n: 3, gone: null } }"),
        &conn(&format!("{}/api/v2/", server.uri()), ", auth: bearer, bearertoken: tok-abcdef-123, tenant: acme"),
        &[],
    )
    .await;
    let t = &doc["tasks"]["call"];
    assert_eq!(t["status"], "Successful", "{t}");
    assert_eq!(t["returnData"], "Successful");
    assert_eq!(t["rawData"], json!({"id": "A-1", "ok": true}));
}

/// A `Content-Length` (or `Transfer-Encoding`) among the request's headers does not frame the
/// body: the whole body arrives, with the length the client computed.
#[tokio::test]
async fn framing_headers_from_the_playbook_are_left_to_the_client() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/alerts"))
        .and(header("content-length", "19"))
        .and(body_json(json!({"alert": "t", "n": 3})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    let doc = run(
        &send("{ url: /alerts, method: POST, header: { Content-Length: \"5\", Transfer-Encoding: chunked }, body: { alert: <<incident.title>>, n: 3 } }"),
        &conn(&server.uri(), ""),
        &[],
    )
    .await;
    assert_eq!(
        doc["tasks"]["call"]["status"], "Successful",
        "{}",
        doc["tasks"]["call"]
    );
}

/// An absolute URL on the connection's origin gets its credentials; one on another origin
/// does not (DESIGN §5; tests/leaks.rs has the hostile cases).
#[tokio::test]
async fn basic_auth_and_absolute_urls() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/elsewhere"))
        .and(header(
            "authorization",
            "Basic YW5hbHlzdDpzM2NyZXQtcGFzcw==",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string("plain ok"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200).set_body_string("no credentials here"))
        .expect(1)
        .mount(&other)
        .await;
    let basic = ", auth: basic, username: analyst, password: s3cret-pass";
    let doc = run(
        &send(&format!("{{ url: \"{}/elsewhere\" }}", server.uri())),
        &conn(&format!("{}/unused", server.uri()), basic),
        &[],
    )
    .await;
    assert_eq!(doc["tasks"]["call"]["rawData"], "plain ok");
    let doc = run(
        &send(&format!("{{ url: \"{}/elsewhere\" }}", other.uri())),
        &conn(&format!("{}/unused", server.uri()), basic),
        &[],
    )
    .await;
    assert_eq!(doc["tasks"]["call"]["rawData"], "no credentials here");
    let seen = other.received_requests().await.unwrap_or_default();
    assert!(seen
        .iter()
        .all(|r| r.headers.get("authorization").is_none()));
}

#[tokio::test]
async fn http_errors_take_the_seeds_shape_with_the_api_message() {
    let server = MockServer::start().await;
    Mock::given(path("/json"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "bad field `x`"}})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/text"))
        .respond_with(ResponseTemplate::new(500).set_body_string("Internal Server Error"))
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  a: { command: RESTAPICallback.SendRequest, input: { url: /json }, on_error: continue }\n  b: { command: RESTAPICallback.SendRequest, input: { url: /text }, on_error: continue }\n";
    let doc = run(pb, &conn(&server.uri(), ""), &[]).await;
    let a = &doc["tasks"]["a"]["error"];
    assert_eq!(
        a,
        &json!({"indicator": "Send Request failed.", "status_code": 400, "message": "bad field `x`"})
    );
    let b = &doc["tasks"]["b"];
    assert_eq!(b["error"]["message"], "Internal Server Error");
    assert_eq!(
        b["result"],
        "Send Request failed. Status Code: 500. Message: Internal Server Error"
    );
    assert_eq!(doc["status"], "Partially Successful");
}

#[tokio::test]
async fn retries_honour_retry_after_and_are_counted() {
    let server = MockServer::start().await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
        .mount(&server)
        .await;
    let t = Instant::now();
    let doc = run(&send("{ url: /busy }"), &conn(&server.uri(), ""), &[]).await;
    let waited = t.elapsed();
    assert_eq!(doc["tasks"]["call"]["status"], "Successful");
    assert_eq!(doc["tasks"]["call"]["retries"], 1);
    assert!(
        waited >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured ({waited:?})"
    );
}

const SLOW_INTEGRATION: &str = "kind: integration\nname: Slow API\nconnection:\n  - { name: url, display: URL, required: true }\nhttp:\n  base_url: <<connector.url>>\n  timeout: 0.3\ncommands:\n  Get:\n    display: Get\n    inputs: [ { name: ids, display: IDs, type: text_array } ]\n    request: { path: /items/<<item>>, for_each: <<input.ids>> }\n    key_fields: { name: $.name }\n";

#[tokio::test]
async fn request_timeouts_and_for_each_partial_success() {
    let server = MockServer::start().await;
    Mock::given(path("/items/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "one"})))
        .mount(&server)
        .await;
    Mock::given(path("/items/2"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    Mock::given(path("/items/3"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"detail": "no item 3"})))
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  get: { command: SlowAPI.Get, input: { ids: [\"1\", \"2\", \"3\"] } }\n";
    let conns = format!("kind: connections\nconnections:\n  slow: {{ integration: Slow API, params: {{ url: \"{}\" }} }}\n", server.uri());
    let t = Instant::now();
    let doc = run(pb, &conns, &[("i.yaml", SLOW_INTEGRATION)]).await;
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "the 0.3 s request timeout was not applied"
    );
    let g = &doc["tasks"]["get"];
    assert_eq!(g["status"], "Partially Successful", "{g}");
    assert_eq!(g["keyFields"]["name"], json!(["one", null, null]));
    let result = g["result"].as_str().unwrap();
    assert!(result.contains("1 of 3 items succeeded"), "{result}");
    assert!(result.contains("timed out after 0.3 s"), "{result}");
    assert!(
        result.contains("Status Code: 404. Message: no item 3"),
        "{result}"
    );
}

#[tokio::test]
async fn garbage_and_oversized_responses_do_not_break_the_run() {
    let server = MockServer::start().await;
    Mock::given(path("/garbage"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string("{not json"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 17 * 1024 * 1024]))
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  g: { command: RESTAPICallback.SendRequest, input: { url: /garbage }, next: [h] }\n  h: { command: RESTAPICallback.SendRequest, input: { url: /huge } }\n";
    let doc = run(pb, &conn(&server.uri(), ""), &[]).await;
    assert_eq!(doc["tasks"]["g"]["rawData"], "{not json");
    assert_eq!(doc["tasks"]["h"]["status"], "Failed");
    let msg = doc["tasks"]["h"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("more than the response-size limit of 16777216 bytes"),
        "{msg}"
    );
}

#[tokio::test]
async fn network_errors_are_clear() {
    let doc = run(&send("{ url: /x }"), &conn("http://127.0.0.1:9", ""), &[]).await;
    let msg = doc["tasks"]["call"]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.starts_with("cannot connect to 127.0.0.1"), "{msg}");
    // Retried twice by the integration's policy, and the message says so.
    assert!(msg.ends_with(" (3 attempts)"), "{msg}");
    assert_eq!(doc["tasks"]["call"]["retries"], 2);
    let doc = run(&send("{ url: /x }"), &conn("not a url", ""), &[]).await;
    let msg = doc["tasks"]["call"]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("is not a valid URL") || msg.contains("is not an absolute URL"),
        "{msg}"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_the_run_document() {
    let server = MockServer::start().await;
    // An echo server: it returns the request's headers, as httpbin's /anything does.
    Mock::given(path("/echo"))
        .respond_with(|req: &Request| {
            let headers: serde_json::Map<String, Value> = req.headers.iter().map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("")))).collect();
            ResponseTemplate::new(401).set_body_json(json!({"headers": headers, "message": format!("bad token {}", req.headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or(""))}))
        })
        .mount(&server)
        .await;
    Mock::given(path("/q"))
        .and(query_param("key", "sk-topsecret-987654"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"echo": "sk-topsecret-987654"})),
        )
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\noutputs:\n  leak: <<tasks.q.rawData.echo>>\ntasks:\n  e: { command: RESTAPICallback.SendRequest, input: { url: /echo }, on_error: continue, next: [q] }\n  q: { command: RESTAPICallback.SendRequest, input: { url: \"/q?key={{connector.bearertoken}}\" } }\n";
    let doc = run(
        pb,
        &conn(
            &server.uri(),
            ", auth: bearer, bearertoken: sk-topsecret-987654",
        ),
        &[],
    )
    .await;
    let text = doc.to_string();
    assert!(
        !text.contains("sk-topsecret-987654"),
        "secret leaked: {text}"
    );
    assert!(text.contains("Bearer *****"), "{text}");
    assert_eq!(doc["outputs"]["leak"], "*****");
    assert_eq!(doc["tasks"]["q"]["status"], "Successful");
}

#[tokio::test]
async fn missing_required_connection_parameters_fail_the_task() {
    let integration = "kind: integration\nname: Needy\nconnection:\n  - { name: serverurl, display: Server URL, required: true, default: \"http://127.0.0.1:9\" }\n  - { name: apikey, display: API Key, required: true, sensitive: true }\ncommands:\n  Ping: { request: { path: /ping } }\n";
    let pb = "kind: playbook\nname: T\ntasks:\n  p: { command: Needy.Ping }\n";
    let doc = run(
        pb,
        "kind: connections\nconnections: {}\n",
        &[("i.yaml", integration)],
    )
    .await;
    assert_eq!(
        doc["tasks"]["p"]["error"]["message"],
        "Server URL, API Key are all required. Missing in connection `(defaults)`: API Key."
    );
}

#[tokio::test]
async fn tls_failures_redirect_loops_and_bad_headers_fail_clearly() {
    let server = MockServer::start().await;
    Mock::given(path("/loop"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/loop"))
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  tls: { command: RESTAPICallback.SendRequest, input: { url: /x }, connection: tls, on_error: continue }\n  loop: { command: RESTAPICallback.SendRequest, input: { url: /loop }, connection: plain, on_error: continue }\n  hdr: { command: RESTAPICallback.SendRequest, input: { url: /x, header: { X-Bad: \"a\\nb\" } }, connection: plain, on_error: continue }\n";
    let plain = server.uri();
    let tls = plain.replace("http://", "https://");
    let conns = format!("kind: connections\nconnections:\n  plain: {{ integration: REST API Callback, params: {{ requesturl: \"{plain}\" }} }}\n  tls: {{ integration: REST API Callback, params: {{ requesturl: \"{tls}\" }} }}\n");
    let doc = run(pb, &conns, &[]).await;
    let msg = |t: &str| {
        doc["tasks"][t]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        msg("tls").starts_with("cannot connect to 127.0.0.1")
            || msg("tls").starts_with("request to 127.0.0.1 failed"),
        "{}",
        msg("tls")
    );
    assert_eq!(
        msg("loop"),
        "too many redirects from 127.0.0.1 (a redirect loop?)"
    );
    assert_eq!(
        msg("hdr"),
        "the value of header `X-Bad` has characters a header cannot carry"
    );
    assert_eq!(doc["status"], "Partially Successful");
}

/// A header object too large to send fails the task with a message, over http and https
/// alike (http's header map, which both clients use, panics past ~24,000 entries).
#[tokio::test]
async fn too_many_headers_fail_the_task_clearly() {
    let server = MockServer::start().await;
    let headers: Vec<String> = (0..1_001).map(|i| format!("X-H{i}: v")).collect();
    let input = format!("{{ url: /x, header: {{ {} }} }}", headers.join(", "));
    let pb = format!("kind: playbook\nname: T\ntasks:\n  plain: {{ command: RESTAPICallback.SendRequest, input: {input}, connection: plain, on_error: continue }}\n  tls: {{ command: RESTAPICallback.SendRequest, input: {input}, connection: tls, on_error: continue }}\n");
    let plain = server.uri();
    let tls = plain.replace("http://", "https://");
    let conns = format!("kind: connections\nconnections:\n  plain: {{ integration: REST API Callback, params: {{ requesturl: \"{plain}\" }} }}\n  tls: {{ integration: REST API Callback, params: {{ requesturl: \"{tls}\" }} }}\n");
    let doc = run(&pb, &conns, &[]).await;
    for t in ["plain", "tls"] {
        assert_eq!(
            doc["tasks"][t]["error"]["message"],
            "the request has 1001 headers, more than the 1000 a request may carry: check what its headers resolve to",
            "{t}"
        );
    }
    assert!(server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

const FILES_INTEGRATION: &str = r#"kind: integration
name: Files API
connection:
  - { name: url, display: URL, required: true }
  - { name: team, display: Team, default: blue }
http:
  base_url: <<connector.url>>
commands:
  Upload:
    display: Upload
    inputs:
      - { name: file_id, display: File ID, type: file, required: true }
      - { name: purpose, display: Purpose, type: text, default: evidence }
    request:
      method: POST
      path: /upload
      multipart: { file: { file: <<input.file_id>> }, purpose: <<input.purpose>> }
  Note:
    display: Note
    inputs: [ { name: text, display: Text, type: text, required: true } ]
    request: { method: POST, path: /note, form: { text: <<input.text>>, skip: null } }
  Download:
    display: Download
    inputs: [ { name: name, display: Name, type: text, required: true } ]
    request: { path: /download, save_file: <<input.name>> }
  Describe:
    display: Describe
    inputs: [ { name: what, display: What, type: text, required: true } ]
    tasks:
      say:
        command: concatToRear
        input: { input: "<<input.what>> for team ", value: <<connector.team>> }
    outputs:
      returnData: <<tasks.say.returnData>>
      rawData: { said: <<tasks.say.returnData>> }
"#;

#[tokio::test]
async fn files_travel_as_multipart_and_come_back_from_downloads() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/upload"))
        .respond_with(|req: &Request| {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            let ct = req
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            ResponseTemplate::new(200).set_body_json(json!({"content_type": ct, "body": body}))
        })
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/note"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(|req: &Request| {
            ResponseTemplate::new(200)
                .set_body_json(json!({"form": String::from_utf8_lossy(&req.body)}))
        })
        .mount(&server)
        .await;
    Mock::given(path("/download"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/plain")
                .set_body_string("line one\nline two"),
        )
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  make: { command: CreateFileFromTextArray, input: { input: [\"alpha\", \"beta\"], file_name: triage.log }, next: [upload, note, download, describe] }\n  upload: { command: FilesAPI.Upload, input: { file_id: <<tasks.make.returnData>> } }\n  note: { command: FilesAPI.Note, input: { text: \"a&b c\" } }\n  download: { command: FilesAPI.Download, input: { name: report.txt }, next: [read] }\n  read: { command: readFileText, input: { file_id: <<tasks.download.returnData>> } }\n  describe: { command: FilesAPI.Describe, input: { what: Phish } }\n";
    let conns = format!("kind: connections\nconnections:\n  f: {{ integration: Files API, params: {{ url: \"{}\" }} }}\n", server.uri());
    let doc = run(pb, &conns, &[("i.yaml", FILES_INTEGRATION)]).await;
    assert_eq!(doc["status"], "Successful", "{doc}");
    let up = &doc["tasks"]["upload"]["rawData"];
    assert!(up["content_type"]
        .as_str()
        .unwrap()
        .starts_with("multipart/form-data; boundary="));
    let body = up["body"].as_str().unwrap();
    assert!(
        body.contains("name=\"file\"; filename=\"triage.log\""),
        "{body}"
    );
    assert!(body.contains("alpha\nbeta"), "{body}");
    assert!(body.contains("name=\"purpose\"\r\n\r\nevidence"), "{body}");
    assert_eq!(doc["tasks"]["note"]["rawData"]["form"], "text=a%26b+c");
    let dl = &doc["tasks"]["download"];
    assert_eq!(dl["rawData"]["name"], "report.txt");
    assert_eq!(dl["rawData"]["content_type"], "text/plain");
    assert_eq!(dl["rawData"]["size"], 17);
    assert_eq!(doc["tasks"]["read"]["returnData"], "line one\nline two");
    let d = &doc["tasks"]["describe"];
    assert_eq!(d["returnData"], "Phish for team blue");
    assert_eq!(d["rawData"], json!({"said": "Phish for team blue"}));
}

#[tokio::test]
async fn chatgpt_errors_take_the_seeds_form_from_openai_error_bodies() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/models/gpt-9"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"message": "The model `gpt-9` does not exist", "type": "invalid_request_error", "code": "model_not_found"}})))
        .mount(&server)
        .await;
    Mock::given(path("/v1/models/gpt-4o"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "gpt-4o", "object": "model"})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/v1/files"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "Incorrect API key provided: sk-wrong*******1234.", "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .mount(&server)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  models: { command: ChatGPT.ListModels, input: { model_ids: [gpt-4o, gpt-9] } }\n  files: { command: ChatGPT.ListFiles, on_error: continue }\n";
    let conns = format!("kind: connections\nconnections:\n  o: {{ integration: ChatGPT, params: {{ serverurl: \"{}\", apikey: sk-wrong-key-1234 }} }}\n", server.uri());
    let doc = run(pb, &conns, &[]).await;
    let m = &doc["tasks"]["models"];
    assert_eq!(m["status"], "Partially Successful", "{m}");
    assert_eq!(m["keyFields"]["id"], json!(["gpt-4o", null]));
    assert!(
        m["result"].as_str().unwrap().contains(
            "List Models failed. Status Code: 404. Message: The model `gpt-9` does not exist"
        ),
        "{m}"
    );
    assert_eq!(doc["tasks"]["files"]["result"], "List Files failed. Status Code: 401. Message: Incorrect API key provided: sk-wrong*******1234.");
}

/// Redirects are followed by codeless (one client per hop), with reqwest's rules: 303 turns a
/// POST into a GET without its body, 307 repeats the POST with its body, credentials stay on
/// the same origin only, and a `Referer` names the page that redirected.
#[tokio::test]
async fn redirects_follow_the_usual_rules() {
    let a = MockServer::start().await;
    let b = MockServer::start().await; // another port: another origin
    Mock::given(method("POST"))
        .and(path("/see-other"))
        .respond_with(ResponseTemplate::new(303).insert_header("Location", "/landing"))
        .mount(&a)
        .await;
    Mock::given(method("GET"))
        .and(path("/landing"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"at": "landing"})))
        .mount(&a)
        .await;
    Mock::given(method("POST"))
        .and(path("/temporary"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", "/kept"))
        .mount(&a)
        .await;
    Mock::given(method("POST"))
        .and(path("/kept"))
        .and(body_json(json!({"n": 1})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"at": "kept"})))
        .mount(&a)
        .await;
    Mock::given(method("GET"))
        .and(path("/away"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", format!("{}/there", b.uri())),
        )
        .mount(&a)
        .await;
    Mock::given(method("GET"))
        .and(path("/there"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"at": "there"})))
        .mount(&b)
        .await;
    Mock::given(path("/ftp"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "ftp://files.example/x"))
        .mount(&a)
        .await;
    let pb = "kind: playbook\nname: T\ntasks:\n  see: { command: RESTAPICallback.SendRequest, input: { url: /see-other, method: POST, body: { n: 1 } }, connection: api, on_error: continue }\n  temp: { command: RESTAPICallback.SendRequest, input: { url: /temporary, method: POST, body: { n: 1 } }, connection: api, on_error: continue }\n  away: { command: RESTAPICallback.SendRequest, input: { url: \"/away?apikey=k-123\" }, connection: api, on_error: continue }\n  ftp: { command: RESTAPICallback.SendRequest, input: { url: /ftp }, connection: api, on_error: continue }\n";
    let doc = run(
        pb,
        &conn(&a.uri(), ", auth: bearer, bearertoken: tok-secret-1"),
        &[],
    )
    .await;
    let t = |id: &str| doc["tasks"][id].clone();
    assert_eq!(
        t("see")["rawData"],
        json!({"at": "landing"}),
        "{}",
        t("see")
    );
    assert_eq!(t("temp")["rawData"], json!({"at": "kept"}), "{}", t("temp"));
    assert_eq!(
        t("away")["rawData"],
        json!({"at": "there"}),
        "{}",
        t("away")
    );
    assert_eq!(
        t("ftp")["error"]["message"],
        "127.0.0.1 redirected to a `ftp:` URL; only http and https are followed"
    );
    let received = a.received_requests().await.unwrap_or_default();
    let landing = received
        .iter()
        .find(|r| r.url.path() == "/landing")
        .expect("GET /landing");
    assert!(landing.body.is_empty());
    assert!(landing.headers.get("content-type").is_none());
    assert_eq!(
        landing.headers.get("authorization").map(|v| v.as_bytes()),
        Some(&b"Bearer tok-secret-1"[..])
    );
    assert_eq!(
        landing
            .headers
            .get("referer")
            .map(|v| v.to_str().unwrap_or_default().to_owned()),
        Some(format!("{}/see-other", a.uri()))
    );
    let there = &b.received_requests().await.unwrap_or_default()[0];
    assert!(
        there.headers.get("authorization").is_none(),
        "credentials crossed origins"
    );
    // Another origin learns where the request came from, not its path or query.
    assert_eq!(
        there
            .headers
            .get("referer")
            .map(|v| v.to_str().unwrap_or_default().to_owned()),
        Some(format!("{}/", a.uri()))
    );
}

/// Credentials written in a connection's URL authenticate the request (as HTTP Basic), whichever
/// client sends it, and are not sent in the URL.
#[tokio::test]
async fn credentials_in_the_url_become_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(path("/who"))
        .and(header("authorization", "Basic YWxpY2U6czNjcmV0IQ=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"user": "alice"})))
        .expect(1)
        .mount(&server)
        .await;
    let url = server.uri().replace("http://", "http://alice:s3cret%21@");
    let doc = run(&send("{ url: /who }"), &conn(&url, ""), &[]).await;
    let t = &doc["tasks"]["call"];
    assert_eq!(t["rawData"], json!({"user": "alice"}), "{t}");
}

const KEYED_INTEGRATION: &str = "kind: integration\nname: Keyed API\nconnection:\n  - { name: url, display: URL, required: true }\n  - { name: apikey, display: API Key, required: true, sensitive: true }\nhttp:\n  base_url: <<connector.url>>\n  auth: { header: { name: X-Api-Key, value: <<connector.apikey>> } }\ncommands:\n  Get:\n    display: Get\n    inputs: [ { name: path, display: Path, type: text } ]\n    request: { path: <<input.path>>, headers: { X-Signed: \"key=<<connector.apikey>>\", X-Plain: visible } }\n";

/// A redirect to another origin does not carry the connection's API key along, whether it is
/// the integration's key header or any other header holding a sensitive value; the same
/// origin still gets them.
#[tokio::test]
async fn api_key_headers_do_not_follow_redirects_to_other_origins() {
    let a = MockServer::start().await;
    let b = MockServer::start().await;
    Mock::given(path("/away"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", format!("{}/there", b.uri())),
        )
        .mount(&a)
        .await;
    Mock::given(path("/near"))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", "/here"))
        .mount(&a)
        .await;
    for server in [&a, &b] {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
            .mount(server)
            .await;
    }
    let pb = "kind: playbook\nname: T\ntasks:\n  away: { command: KeyedAPI.Get, input: { path: /away } }\n  near: { command: KeyedAPI.Get, input: { path: /near } }\n";
    let conns = format!("kind: connections\nconnections:\n  k: {{ integration: Keyed API, params: {{ url: \"{}\", apikey: key-0123456789 }} }}\n", a.uri());
    let doc = run(pb, &conns, &[("i.yaml", KEYED_INTEGRATION)]).await;
    assert_eq!(doc["status"], "Successful", "{doc}");
    let there = &b.received_requests().await.unwrap_or_default()[0];
    assert!(there.headers.get("x-api-key").is_none());
    assert!(there.headers.get("x-signed").is_none());
    assert_eq!(
        there.headers.get("x-plain").map(|v| v.as_bytes()),
        Some(&b"visible"[..])
    );
    let received = a.received_requests().await.unwrap_or_default();
    let here = received
        .iter()
        .find(|r| r.url.path() == "/here")
        .expect("GET /here");
    assert_eq!(
        here.headers.get("x-api-key").map(|v| v.as_bytes()),
        Some(&b"key-0123456789"[..])
    );
    assert_eq!(
        here.headers.get("x-signed").map(|v| v.as_bytes()),
        Some(&b"key=key-0123456789"[..])
    );
}

/// A custom REST API Callback parameter read from a file (or the environment) is a secret: it
/// is masked in the run document and its header does not follow a redirect to another origin.
#[tokio::test]
async fn custom_parameters_read_from_a_secret_store_are_secrets() {
    let a = MockServer::start().await;
    let b = MockServer::start().await;
    Mock::given(path("/away"))
        .and(header("d3key", "custom-key-5150"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", format!("{}/there", b.uri())),
        )
        .expect(1)
        .mount(&a)
        .await;
    Mock::given(path("/there"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"echo": "custom-key-5150"})))
        .mount(&b)
        .await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, "custom-key-5150\n").expect("the key file");
    let doc = run(
        &send("{ url: /away, header: { d3key: \"{{connector.apikey}}\" } }"),
        &conn(
            &a.uri(),
            &format!(", apikey: \"${{file:{}}}\"", key_file.display()),
        ),
        &[],
    )
    .await;
    let t = &doc["tasks"]["call"];
    assert_eq!(t["status"], "Successful", "{t}");
    assert!(!doc.to_string().contains("custom-key-5150"), "{doc}");
    assert_eq!(t["rawData"], json!({"echo": "*****"}));
    let there = &b.received_requests().await.unwrap_or_default()[0];
    assert!(there.headers.get("d3key").is_none());
}
