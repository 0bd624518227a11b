//! Every resource limit (`--limit NAME=VALUE`, `codeless limits`) is enforced through the binary
//! with a message that names the limit, and the default lets ordinary input through.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};

fn codeless(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codeless"))
        .env(
            "XDG_DATA_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
        )
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run codeless")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally (not by a signal)")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn doc(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}{}", stdout(o), stderr(o)))
}

/// A field (`message`, `help`) of the first diagnostic of a `validate --format json` document.
fn first_diagnostic(doc: &Value, field: &str) -> String {
    doc["diagnostics"][0][field]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn error_of(doc: &Value, task: &str) -> String {
    doc["tasks"][task]["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("task {task} has no error: {doc:#}"))
        .to_owned()
}

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

const SMALL: &str = "kind: playbook\nname: Small\ntasks:\n  a: { command: concatToRear, input: { input: x, value: y } }\n";

#[test]
fn limits_lists_every_limit_and_rejects_unknown_ones() {
    let dir = dir_with(&[]);
    let o = codeless(dir.path(), &["limits", "--limit", "batch-size=7"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    for name in [
        "file-size",
        "yaml-depth",
        "yaml-nodes",
        "loop-iterations",
        "batch-size",
        "response-size",
        "nesting-depth",
        "command-retries",
    ] {
        assert!(out.contains(name), "{out}");
    }
    assert!(
        out.contains("batch-size                7     100000"),
        "{out}"
    );

    let o = codeless(dir.path(), &["--limit", "batch_size=3", "limits"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("unknown limit `batch_size` (did you mean `batch-size`?)"),
        "{}",
        stderr(&o)
    );
    let o = codeless(dir.path(), &["limits", "--limit", "file-size=lots"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("not a whole number"), "{}", stderr(&o));
}

#[test]
fn file_size_refuses_large_playbooks_and_data_files() {
    let padding = format!("description: \"{}\"\n", "x".repeat(2000));
    let big = format!("{SMALL}{padding}");
    let dir = dir_with(&[
        ("big.yaml", &big),
        ("small.yaml", SMALL),
        (
            "incident.json",
            &format!("{{\"pad\": \"{}\"}}", "x".repeat(2000)),
        ),
    ]);
    let o = codeless(
        dir.path(),
        &[
            "validate",
            "big.yaml",
            "--limit",
            "file-size=1KiB",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), 1);
    let d = doc(&o);
    assert_eq!(d["diagnostics"][0]["code"], "Y001");
    assert!(
        first_diagnostic(&d, "message").contains("more than the file-size limit of 1024 bytes"),
        "{d:#}"
    );
    assert!(
        first_diagnostic(&d, "help").contains("--limit file-size=N"),
        "{d:#}"
    );
    // The default limit (10 MiB) lets it through.
    let o = codeless(dir.path(), &["validate", "big.yaml"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));

    // Data files are held to the same limit before they are read.
    let o = codeless(
        dir.path(),
        &[
            "run",
            "small.yaml",
            "-q",
            "--incident",
            "incident.json",
            "--limit",
            "file-size=1KiB",
        ],
    );
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains(
            "incident.json: the file is 2011 bytes, more than the file-size limit of 1024 bytes"
        ),
        "{}",
        stderr(&o)
    );
}

#[test]
fn yaml_depth_and_nodes_are_enforced_and_configurable() {
    // 20 levels of nested flow lists inside a description: fine by default, too deep at 10.
    let deep = format!("{SMALL}x_deep: {}1{}\n", "[".repeat(20), "]".repeat(20));
    let many = format!(
        "{SMALL}x_many: [{}]\n",
        (0..300)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dir = dir_with(&[("deep.yaml", &deep), ("many.yaml", &many)]);

    let o = codeless(
        dir.path(),
        &[
            "validate",
            "deep.yaml",
            "--format",
            "json",
            "--limit",
            "yaml-depth=10",
        ],
    );
    assert_eq!(code(&o), 1);
    let d = doc(&o);
    assert!(
        first_diagnostic(&d, "message")
            .contains("nests more than 10 levels deep (the yaml-depth limit)"),
        "{d:#}"
    );
    assert!(
        first_diagnostic(&d, "help").contains("--limit yaml-depth=N"),
        "{d:#}"
    );
    // Within the default depth the file loads (its only problem is the unknown key).
    let o = codeless(dir.path(), &["validate", "deep.yaml", "--format", "json"]);
    let d = doc(&o);
    assert_eq!(d["diagnostics"][0]["code"], "Y003", "{d:#}");

    let o = codeless(
        dir.path(),
        &[
            "validate",
            "many.yaml",
            "--format",
            "json",
            "--limit",
            "yaml-nodes=100",
        ],
    );
    let d = doc(&o);
    assert!(
        first_diagnostic(&d, "message").contains("more than 100 values"),
        "{d:#}"
    );
    let o = codeless(dir.path(), &["validate", "many.yaml", "--format", "json"]);
    assert_eq!(doc(&o)["diagnostics"][0]["code"], "Y003");
}

#[test]
fn the_deepest_yaml_depth_allowed_does_not_overflow_the_stack() {
    let deep = format!(
        "kind: playbook\nx: {}1{}\n",
        "[".repeat(999),
        "]".repeat(999)
    );
    let dir = dir_with(&[("deep.yaml", &deep)]);
    let o = codeless(
        dir.path(),
        &[
            "validate",
            "deep.yaml",
            "--format",
            "json",
            "--limit",
            "yaml-depth=1000",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    // Many such files are loaded on several threads: those have the main thread's stack too.
    for i in 0..24 {
        std::fs::write(dir.path().join(format!("deep{i}.yaml")), &deep).expect("write");
    }
    let o = codeless(
        dir.path(),
        &[
            "validate",
            ".",
            "--format",
            "json",
            "--limit",
            "yaml-depth=1000",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(doc(&o)["files"], 25);
    let o = codeless(dir.path(), &["limits", "--limit", "yaml-depth=1001"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("out of range (1 to 1000)"),
        "{}",
        stderr(&o)
    );
}

const LOOP: &str = "kind: playbook\nname: Loop\ntasks:\n  start: { command: concatToRear, input: { input: a, value: b }, next: [poll] }\n  poll: { command: concatToRear, input: { input: a, value: b }, next: [again] }\n  again:\n    type: conditional\n    command: equals\n    input: { input1: a, input2: b }\n    max_loops: 1000\n    branches: { \"false\": [poll], \"true\": [done] }\n  done: { command: concatToRear, input: { input: a, value: b } }\n";

#[test]
fn loop_iterations_caps_every_loop_whatever_its_max_loops() {
    let dir = dir_with(&[("loop.yaml", LOOP)]);
    let o = codeless(
        dir.path(),
        &["run", "loop.yaml", "-q", "--limit", "loop-iterations=3"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let d = doc(&o);
    assert_eq!(d["tasks"]["poll"]["runs"], 4);
    assert_eq!(d["tasks"]["again"]["runs"], 4);
    let msg = error_of(&d, "again");
    assert!(
        msg.contains("reached the loop-iterations limit of 3 (below its max_loops: 1000; raise it with `--limit loop-iterations=N`"),
        "{msg}"
    );
    // With the default limit (10,000) the playbook's own max_loops stops it.
    let o = codeless(dir.path(), &["run", "loop.yaml", "-q"]);
    let d = doc(&o);
    assert_eq!(d["tasks"]["poll"]["runs"], 1001);
    assert!(error_of(&d, "again").contains("reached its loop limit (max_loops: 1000)"));
}

#[test]
fn batch_size_caps_batches() {
    let pb = "kind: playbook\nname: Batch\ntasks:\n  each: { command: concatToRear, input: { input: [a, b, c, d, e], value: \"!\" } }\n";
    let dir = dir_with(&[("batch.yaml", pb)]);
    let o = codeless(
        dir.path(),
        &["run", "batch.yaml", "-q", "--limit", "batch-size=4"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let msg = error_of(&doc(&o), "each");
    assert!(
        msg.contains(
            "parameter `input` received a list of 5 elements, more than the batch-size limit of 4"
        ),
        "{msg}"
    );
    let o = codeless(
        dir.path(),
        &["run", "batch.yaml", "-q", "--limit", "batch-size=5"],
    );
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert_eq!(
        doc(&o)["tasks"]["each"]["returnData"],
        serde_json::json!(["a!", "b!", "c!", "d!", "e!"])
    );
}

#[test]
fn nesting_depth_caps_playbooks_calling_playbooks() {
    let inner = "kind: playbook\nname: Inner\ninputs:\n  - { name: v, type: text }\noutputs:\n  out: <<tasks.a.returnData>>\ntasks:\n  a: { command: concatToRear, input: { input: <<input.v>>, value: \"!\" } }\n";
    let middle = "kind: playbook\nname: Middle\ninputs:\n  - { name: v, type: text }\noutputs:\n  out: <<tasks.call.keyFields.out>>\ntasks:\n  call: { command: Inner, input: { v: <<input.v>> } }\n";
    let outer =
        "kind: playbook\nname: Outer\ntasks:\n  call: { command: Middle, input: { v: hi } }\n";
    let dir = dir_with(&[
        ("inner.yaml", inner),
        ("middle.yaml", middle),
        ("outer.yaml", outer),
    ]);
    let o = codeless(dir.path(), &["run", "outer.yaml", "-q"]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert_eq!(doc(&o)["tasks"]["call"]["keyFields"]["out"], "hi!");

    let o = codeless(
        dir.path(),
        &["run", "outer.yaml", "-q", "--limit", "nesting-depth=1"],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let msg = error_of(&doc(&o), "call");
    assert!(
        msg.contains("playbooks nest deeper than 1 levels, the nesting-depth limit"),
        "{msg}"
    );
}

#[test]
fn command_retries_caps_retry_requests() {
    let pb = "kind: playbook\nname: Retry\ntasks:\n  fetch: { command: concatToRear, input: { input: a, value: b } }\n";
    let mock = "fetch: { returnData: { __ACTION__: __RETRY__, __DELAY__: 0 } }\n";
    let dir = dir_with(&[("retry.yaml", pb), ("retry.mock.yaml", mock)]);
    let o = codeless(
        dir.path(),
        &[
            "run",
            "retry.yaml",
            "-q",
            "--mock",
            "retry.mock.yaml",
            "--limit",
            "command-retries=5",
        ],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let d = doc(&o);
    assert_eq!(d["tasks"]["fetch"]["retries"], 5);
    let msg = error_of(&d, "fetch");
    assert!(
        msg.contains("retried more than 5 times, the command-retries limit"),
        "{msg}"
    );
}

/// A server answering every request with `response` (status line, headers and body); returns
/// its base URL.
fn serve_response(response: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut s = stream;
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(response.as_bytes());
        }
    });
    url
}

/// A server answering every request with `body` and its Content-Length.
fn serve(body: &str) -> String {
    serve_response(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// A server answering every request with `body` chunked, `chunk` bytes per chunk, no length.
fn serve_chunked(body: &str, chunk: usize) -> String {
    let mut out = String::from("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    for piece in body.as_bytes().chunks(chunk) {
        let piece = std::str::from_utf8(piece).expect("ASCII body");
        out.push_str(&format!("{:x}\r\n{piece}\r\n", piece.len()));
    }
    out.push_str("0\r\n\r\n");
    serve_response(out)
}

/// A directory holding a REST API Callback connection `api` to `url`.
fn api_connection(url: &str) -> tempfile::TempDir {
    let conns = format!(
        "kind: connections\nconnections:\n  api:\n    integration: REST API Callback\n    params: {{ requesturl: \"{url}\" }}\n"
    );
    dir_with(&[("conns.yaml", &conns)])
}

/// `GET /x` through `RESTAPICallback.SendRequest` in `dir`, under `--limit response-size=LIMIT`.
fn send_request(dir: &Path, limit: &str) -> Output {
    let limit = format!("response-size={limit}");
    codeless(
        dir,
        &[
            "command",
            "RESTAPICallback.SendRequest",
            "--connections",
            "conns.yaml",
            "--input",
            "method=GET",
            "--input",
            "url=/x",
            "--limit",
            &limit,
        ],
    )
}

#[test]
fn response_size_caps_http_bodies() {
    let dir = api_connection(&serve(
        "{\"data\": \"0123456789012345678901234567890123456789\"}",
    ));
    let o = send_request(dir.path(), "16");
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("the response is 52 bytes, more than the response-size limit of 16 bytes"),
        "{out}"
    );
    let o = send_request(dir.path(), "1KiB");
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    // The announced length is compared with the limit to the byte.
    let o = send_request(dir.path(), "52");
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    let o = send_request(dir.path(), "51");
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o)
            .contains("the response is 52 bytes, more than the response-size limit of 51 bytes"),
        "{}",
        stdout(&o)
    );
}

/// Without a Content-Length the limit is checked while reading: a body of exactly the limit
/// passes whole, one byte more is refused.
#[test]
fn response_size_caps_chunked_bodies_at_the_exact_byte() {
    let body = "{\"data\": \"0123456789012345678901234567890123456789\"}";
    let dir = api_connection(&serve_chunked(body, 5));
    let o = send_request(dir.path(), "52");
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("0123456789012345678901234567890123456789"),
        "{}",
        stdout(&o)
    );
    let o = send_request(dir.path(), "51");
    assert_eq!(code(&o), 1, "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("the response is larger than the response-size limit of 51 bytes"),
        "{out}"
    );
}

/// The deepest nesting allowed (64 levels of playbooks calling playbooks) runs without
/// overflowing a stack; with the default limit (8) the same chain fails cleanly.
#[test]
fn the_deepest_nesting_allowed_does_not_overflow_the_stack() {
    let dir = tempfile::tempdir().expect("temp dir");
    let levels = 64;
    for i in 0..=levels {
        let (body, out) = if i == levels {
            (
                "  a: { command: concatToRear, input: { input: <<input.v>>, value: \"!\" } }\n"
                    .to_owned(),
                "<<tasks.a.returnData>>",
            )
        } else {
            (
                format!(
                    "  call: {{ command: P{}, input: {{ v: <<input.v>> }} }}\n",
                    i + 1
                ),
                "<<tasks.call.keyFields.out>>",
            )
        };
        let text = format!(
            "kind: playbook\nname: P{i}\ninputs:\n  - {{ name: v, type: text, default: hi }}\noutputs:\n  out: {out}\ntasks:\n{body}"
        );
        std::fs::write(dir.path().join(format!("p{i}.yaml")), text).expect("write");
    }
    let o = codeless(
        dir.path(),
        &["run", "p0.yaml", "-q", "--limit", "nesting-depth=64"],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(doc(&o)["outputs"]["out"], "hi!");
    let o = codeless(dir.path(), &["run", "p0.yaml", "-q"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("nest deeper than 8 levels"),
        "{}",
        stdout(&o)
    );
}
