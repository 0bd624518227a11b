//! The process boundary of the `codeless` binary (DESIGN.md §6): input files read through the
//! `file-size` limit however they arrive (devices, pipes, FIFOs), output to closed pipes and
//! full disks, terminal escapes from data on stderr, and SIGTERM/SIGHUP during a run.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_codeless");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn codeless() -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(ROOT);
    c
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally (not by a signal)")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Waits for `child` at most `secs` seconds, killing it past that (a hang is a failure, not a
/// test that never ends).
fn wait_at_most(mut child: Child, secs: u64) -> Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().expect("output");
            panic!(
                "still running after {secs} s; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Runs `args` with `input` on stdin (written from a thread: it may be larger than a pipe).
fn with_stdin(args: &[&str], input: Vec<u8>) -> Output {
    let mut child = codeless()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        // The reader may stop early (that is the point): a broken pipe here is expected.
        let _ = stdin.write_all(&input);
    });
    let o = wait_at_most(child, 60);
    writer.join().expect("writer");
    o
}

/// A JSON incident of about `n` bytes.
fn big_incident(n: usize) -> Vec<u8> {
    format!("{{\"title\": \"{}\"}}", "x".repeat(n)).into_bytes()
}

const HINT: &str = "(raise it with `--limit file-size=N` if the input is trusted)";

// ---- file-size: never trust metadata().len() ------------------------------------------------

/// `/dev/stdin` is a pipe (its metadata says 0 bytes): the limit still holds.
#[test]
fn an_incident_read_from_a_pipe_is_held_to_the_file_size_limit() {
    let o = with_stdin(
        &[
            "run",
            "tests/fixtures/ok.yaml",
            "-q",
            "--limit",
            "file-size=1KiB",
            "--incident",
            "/dev/stdin",
        ],
        big_incident(4000),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert_eq!(
        stderr(&o),
        format!("error: /dev/stdin: the file is larger than the file-size limit of 1024 bytes {HINT}\n")
    );
    // Under the limit, a pipe is read as any file.
    let o = with_stdin(
        &["run", "tests/fixtures/ok.yaml", "-q", "--incident", "/dev/stdin"],
        b"{\"title\": \"Piped\"}".to_vec(),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
    assert_eq!(doc["outputs"]["shout"], "Piped!");
}

/// `/dev/zero` never ends: reading it stops at the limit. Run under a 2 GB address-space limit
/// so that, if reading did not stop, the test fails (out of memory) instead of the machine.
#[test]
fn an_endless_device_as_incident_or_mock_stops_at_the_limit() {
    for flag in ["--incident", "--event", "--inputs", "--mock"] {
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -v 2000000; exec \"$0\" run tests/fixtures/ok.yaml -q {flag} /dev/zero"
            ))
            .arg(BIN)
            .current_dir(ROOT)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let o = wait_at_most(child, 60);
        assert_eq!(code(&o), 2, "{flag}: {}", stderr(&o));
        assert_eq!(
            stderr(&o),
            format!("error: /dev/zero: the file is larger than the file-size limit of 10485760 bytes {HINT}\n"),
            "{flag}"
        );
    }
}

/// A FIFO given as a YAML file: `validate` reads it through the limit too.
#[test]
fn a_fifo_given_as_a_playbook_is_held_to_the_file_size_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("pb.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let body = format!(
        "kind: playbook\nname: Big\ndescription: {}\ntasks:\n  a: {{ command: toUpper, input: {{ input: x }} }}\n",
        "y".repeat(4000)
    );
    let path = fifo.clone();
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open the FIFO");
        let _ = f.write_all(body.as_bytes());
    });
    let child = codeless()
        .args(["validate", "--format", "json", "--limit", "file-size=1KiB"])
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let o = wait_at_most(child, 60);
    writer.join().expect("writer");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(report["diagnostics"][0]["code"], "Y001", "{report}");
    assert_eq!(
        report["diagnostics"][0]["message"],
        "the file is larger than the file-size limit of 1024 bytes",
        "{report}"
    );
}

/// `${file:/dev/stdin}` in a connection: the secret file is read through the limit too (the
/// default one: 10 MiB).
#[test]
fn a_secret_file_that_is_a_pipe_is_held_to_the_file_size_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conns = dir.path().join("c.yaml");
    std::fs::write(
        &conns,
        "kind: connections\nconnections:\n  cb: { integration: REST API Callback, params: { requesturl: \"http://127.0.0.1:9\", token: \"${file:/dev/stdin}\" } }\n",
    )
    .expect("written");
    let o = with_stdin(
        &[
            "connection",
            "test",
            "cb",
            "--connections",
            conns.to_str().expect("utf-8"),
        ],
        vec![b'a'; 11 << 20],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cannot read secret file `/dev/stdin`: the file is larger than the file-size limit of 10485760 bytes"),
        "{}",
        stderr(&o)
    );
}

// ---- a UTF-8 byte order mark -----------------------------------------------------------------

#[test]
fn a_json_incident_with_a_byte_order_mark_is_accepted_as_a_yaml_one_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["bom.json", "bom.yaml"] {
        let incident = dir.path().join(name);
        std::fs::write(&incident, "\u{feff}{\"title\": \"Bom\"}\n").expect("written");
        let o = codeless()
            .args(["run", "tests/fixtures/ok.yaml", "-q", "--incident"])
            .arg(&incident)
            .output()
            .expect("run");
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
        assert_eq!(doc["outputs"]["shout"], "Bom!", "{name}");
    }
}
