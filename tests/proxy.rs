//! A proxy set in the environment carries plain `http://` requests too: the direct path (hyper's
//! pooled client) must not bypass it. Runs the binary, so the proxy variables are its own.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;

/// A one-shot HTTP proxy on loopback: returns its address and a handle yielding the request
/// line it received.
fn proxy() -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address").to_string();
    let handle = std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return String::new();
        };
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        let _ = reader.read_line(&mut request_line);
        // Skip the headers.
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
            line.clear();
        }
        let body = r#"{"via":"proxy"}"#;
        let mut stream = reader.into_inner();
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        request_line.trim_end().to_owned()
    });
    (addr, handle)
}

#[test]
fn an_http_proxy_from_the_environment_carries_plain_http_requests() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(
        dir.path().join("p.yaml"),
        "kind: playbook\nname: Via proxy\ntasks:\n  call: { command: RESTAPICallback.SendRequest, input: { url: /x } }\n",
    )
    .expect("the playbook");
    std::fs::write(
        dir.path().join("c.yaml"),
        "kind: connections\nconnections:\n  api: { integration: REST API Callback, params: { requesturl: \"http://upstream.invalid:8080\" } }\n",
    )
    .expect("the connections");
    let (addr, seen) = proxy();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codeless"));
    cmd.env(
        "XDG_DATA_HOME",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
    );
    for var in codeless::http::PROXY_VARIABLES
        .iter()
        .chain(&["NO_PROXY", "no_proxy"])
    {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("HTTP_PROXY", format!("http://{addr}"))
        .args(["run", "p.yaml", "--connections", "c.yaml", "-q"])
        .current_dir(dir.path())
        .output()
        .expect("run codeless");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        doc["tasks"]["call"]["rawData"],
        serde_json::json!({"via": "proxy"}),
        "{doc}"
    );
    assert_eq!(
        seen.join().unwrap_or_default(),
        "GET http://upstream.invalid:8080/x HTTP/1.1"
    );
}
