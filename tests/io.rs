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
    // Files stored by a test go under the target dir, not the user's data directory; tests
    // of the default location set their own.
    c.current_dir(ROOT).env(
        "XDG_DATA_HOME",
        concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
    );
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
        format!(
            "error: /dev/stdin: the file is larger than the file-size limit of 1024 bytes {HINT}\n"
        )
    );
    // Under the limit, a pipe is read as any file.
    let o = with_stdin(
        &[
            "run",
            "tests/fixtures/ok.yaml",
            "-q",
            "--incident",
            "/dev/stdin",
        ],
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

// ---- output to a closed pipe or a full disk ---------------------------------------------------

/// Runs `args` with stdout a pipe whose reader is gone before anything is written
/// (`codeless ... | head -0`): every write to it fails with EPIPE.
fn to_closed_pipe(args: &[&str]) -> Output {
    let mut child = codeless()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    wait_at_most(child, 60)
}

/// Runs `args` with stdout on `/dev/full` (every write fails with ENOSPC).
fn to_full_disk(args: &[&str]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    codeless()
        .args(args)
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .expect("run")
}

const INCIDENT: &str = "tests/fixtures/incident.json";
const ENOSPC: &str = "No space left on device (os error 28)";

#[test]
fn a_closed_pipe_ends_quietly_with_the_status_the_command_would_have_had() {
    for (args, status) in [
        (&["commands"][..], 0),
        (&["commands", "show", "toUpper"][..], 0),
        (&["command", "toUpper", "--input", "input=a"][..], 0),
        (&["command", "fail", "--input", "message=no"][..], 1),
        (&["schema", "playbook"][..], 0),
        (&["limits"][..], 0),
        (&["validate", "tests/fixtures/ok.yaml"][..], 0),
        (&["graph", "tests/fixtures/ok.yaml"][..], 0),
        (
            &[
                "run",
                "tests/fixtures/ok.yaml",
                "-q",
                "--incident",
                INCIDENT,
            ][..],
            0,
        ),
        (&["run", "tests/fixtures/failing.yaml", "-q"][..], 1),
        (&["test", "tests/fixtures/ok.test.yaml"][..], 1),
        (&["--help"][..], 0),
    ] {
        let o = to_closed_pipe(args);
        assert_eq!(code(&o), status, "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

#[test]
fn a_full_disk_on_stdout_is_an_error_with_exit_status_2() {
    for args in [
        &["commands"][..],
        &["command", "toUpper", "--input", "input=a"][..],
        &[
            "run",
            "tests/fixtures/ok.yaml",
            "-q",
            "--incident",
            INCIDENT,
        ][..],
        &["run", "tests/fixtures/failing.yaml", "-q"][..],
        &["validate", "tests/fixtures/ok.yaml"][..],
        &["--help"][..],
    ] {
        let o = to_full_disk(args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert_eq!(
            stderr(&o),
            format!("error: cannot write to stdout: {ENOSPC}\n"),
            "{args:?}"
        );
    }
}

#[test]
fn a_trace_that_cannot_be_written_is_an_error_with_exit_status_2() {
    let o = codeless()
        .args([
            "run",
            "tests/fixtures/ok.yaml",
            "-q",
            "--incident",
            INCIDENT,
        ])
        .args(["--trace", "/dev/full"])
        .output()
        .expect("run");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        format!("error: cannot write the trace to /dev/full: {ENOSPC}\n")
    );
    // The run itself is reported.
    let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
    assert_eq!(doc["status"], "Successful");
}

// ---- terminal escapes from data on stderr ------------------------------------------------------

/// What a hostile incident puts in a message: a window title (OSC 0), a screen clear, a carriage
/// return and a fake progress line, a C1 CSI, DEL, OSC 52 (the clipboard), a newline.
const HOSTILE: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2J\r✔ fake Successful\u{9b}31m\u{7f}\u{1b}]52;c;ZXZpbA==\u{7}\nnext";
const HOSTILE_ESCAPED_LINE: &str =
    "\\x1b]0;pwned\\x07\\x1b[2J\\r✔ fake Successful\\u{9b}31m\\x7f\\x1b]52;c;ZXZpbA==\\x07\\nnext";

/// Raw control characters in `text` (newline and tab aside).
fn controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect()
}

#[test]
fn control_characters_from_data_are_escaped_in_progress_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Hostile\ntasks:\n  t: { command: fail, input: { message: <<incident.title>> } }\n",
    )
    .expect("written");
    let incident = dir.path().join("incident.json");
    std::fs::write(
        &incident,
        serde_json::json!({ "title": HOSTILE }).to_string(),
    )
    .expect("written");
    let o = codeless()
        .arg("run")
        .arg(&pb)
        .arg("--incident")
        .arg(&incident)
        .output()
        .expect("run");
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(controls(&err), [], "{err:?}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "one line per event: {err}");
    assert_eq!(lines[0], "▶ t (fail)");
    assert!(lines[1].starts_with("✘ t Failed in "), "{err}");
    assert!(
        lines[1].ends_with(&format!(
            " ms: Fail failed. Message: {HOSTILE_ESCAPED_LINE}"
        )),
        "{err}"
    );
    // The run document keeps the data as it was (JSON escapes it).
    let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
    assert_eq!(doc["tasks"]["t"]["error"]["message"], HOSTILE);
}

#[test]
fn control_characters_are_escaped_in_error_messages_and_diagnostics() {
    let dir = tempfile::tempdir().expect("temp dir");
    // An error message holding a value from the command line and a file name.
    let o = codeless()
        .args(["run", "tests/fixtures/ok.yaml", "-q", "--input"])
        .arg(format!("level={HOSTILE}"))
        .output()
        .expect("run");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(controls(&stderr(&o)), [], "{:?}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: input `level`"),
        "{}",
        stderr(&o)
    );
    let missing = dir.path().join("\u{1b}[2Jgone.json");
    let o = codeless()
        .args(["run", "tests/fixtures/ok.yaml", "-q", "--incident"])
        .arg(&missing)
        .output()
        .expect("run");
    assert_eq!(code(&o), 2);
    assert_eq!(
        stderr(&o),
        format!(
            "error: cannot read {}/\\x1b[2Jgone.json: No such file or directory (os error 2)\n",
            dir.path().display()
        )
    );
    // Diagnostics of an invalid playbook on stderr: YAML escapes put controls in a command name.
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Hostile\ntasks:\n  t: { command: \"toUpper\\e]0;pwned\\a\\e[2J\\u009b\", input: { input: x } }\n",
    )
    .expect("written");
    let o = codeless().arg("run").arg(&pb).output().expect("run");
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(controls(&err), [], "{err:?}");
    assert!(
        err.contains("unknown command `toUpper\\x1b]0;pwned\\x07\\x1b[2J\\u{9b}`"),
        "{err}"
    );
}

// ---- SIGTERM and SIGHUP during a run: treated as the first Ctrl-C ----------------------------

/// Starts a run whose `wait` task sleeps 1.5 s (then `after` would run) and whose `other` task
/// is quick, waits until `wait` has started (its progress line), and sends `signal`.
fn run_and_signal(signal: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let pb = dir.path().join("slow.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Slow\ntasks:\n  wait: { command: sleep, input: { seconds: 1.5 }, next: [after] }\n  other: { command: sleep, input: { seconds: 0.2 } }\n  after: { command: concatToRear, input: { input: a, value: b } }\n",
    )
    .expect("written");
    let mut child = codeless()
        .arg("run")
        .arg(&pb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("▶ wait") {
        match err.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!(
                "the run ended before `wait` started: {}",
                String::from_utf8_lossy(&seen)
            ),
        }
    }
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let reader = std::thread::spawn(move || {
        let _ = err.read_to_end(&mut seen);
        seen
    });
    let mut o = wait_at_most(child, 30);
    o.stderr = reader.join().expect("stderr");
    o
}

#[test]
fn sigterm_and_sighup_during_a_run_are_treated_as_the_first_ctrl_c() {
    for signal in ["-TERM", "-HUP"] {
        let o = run_and_signal(signal);
        assert_eq!(
            o.status.code(),
            Some(130),
            "{signal}: {:?} {}",
            o.status,
            stderr(&o)
        );
        let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
        assert_eq!(doc["status"], "Failed", "{signal}");
        assert_eq!(
            doc["tasks"]["wait"]["status"], "Successful",
            "{signal}: the running task was allowed to end"
        );
        assert_eq!(doc["tasks"]["other"]["status"], "Successful", "{signal}");
        assert_eq!(doc["tasks"]["after"]["status"], "Cancelled", "{signal}");
    }
}

#[test]
fn a_second_signal_leaves_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pb = dir.path().join("slow.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Slow\ntasks:\n  wait: { command: sleep, input: { seconds: 30 } }\n",
    )
    .expect("written");
    let mut child = codeless()
        .arg("run")
        .arg(&pb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut err = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("▶ wait") {
        match err.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => panic!("the run ended early: {}", String::from_utf8_lossy(&seen)),
        }
    }
    let started = Instant::now();
    for signal in ["-TERM", "-INT"] {
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = wait_at_most(child, 10);
    assert_eq!(o.status.code(), Some(130), "{:?}", o.status);
    assert!(started.elapsed() < Duration::from_secs(10));
}

// ---- the file store: private to the user -------------------------------------------------------

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

/// `codeless command NAME --input ...` with `XDG_DATA_HOME` set to `xdg`, and more arguments.
fn command_in(xdg: &Path, name: &str, inputs: &[&str], more: &[&str]) -> Output {
    let mut c = codeless();
    c.env("XDG_DATA_HOME", xdg).args(["command", name]);
    for i in inputs {
        c.args(["--input", i]);
    }
    c.args(more).output().expect("run")
}

fn return_data(o: &Output) -> String {
    let doc: Value = serde_json::from_slice(&o.stdout).expect("an output model");
    doc["returnData"].as_str().expect("text").to_owned()
}

#[test]
fn files_go_to_a_private_directory_of_the_user_by_default() {
    let home = tempfile::tempdir().expect("temp dir");
    let xdg = home.path().join("data");
    let o = command_in(
        &xdg,
        "createFileFromText",
        &["input=hello", "file_name=a.txt"],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let id = return_data(&o);
    let dir = xdg.join("codeless/files");
    for created in [xdg.join("codeless"), dir.clone()] {
        assert_eq!(mode(&created), 0o700, "{}", created.display());
    }
    assert_eq!(mode(&dir.join(&id)), 0o600);
    assert_eq!(mode(&dir.join(format!("{id}.json"))), 0o600);
    let o = command_in(&xdg, "readFileText", &[&format!("file_id={id}")], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(return_data(&o), "hello");
}

#[test]
fn a_default_directory_others_may_enter_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("temp dir");
    let xdg = home.path().join("data");
    let dir = xdg.join("codeless/files");
    std::fs::create_dir_all(&dir).expect("created");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let o = command_in(
        &xdg,
        "createFileFromText",
        &["input=hello", "file_name=a.txt"],
        &[],
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("an output model");
    assert_eq!(
        doc["error"]["message"],
        format!(
            "refusing to use the file store directory {}: others may use it (mode 0755); make it yours alone with `chmod 700` (pass --files DIR to use another)",
            dir.display()
        )
    );
    assert_eq!(std::fs::read_dir(&dir).expect("listed").count(), 0);
    // `--files DIR` is used as given.
    let given = home.path().join("given");
    let o = command_in(
        &xdg,
        "createFileFromText",
        &["input=hello", "file_name=a.txt"],
        &["--files", given.to_str().expect("utf-8")],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(given.join(return_data(&o)).is_file());
    assert_eq!(mode(&given), 0o700);
}

/// `run` and `test` take `--files DIR` too.
#[test]
fn run_and_test_store_files_in_the_directory_given() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Files\noutputs: { id: <<tasks.f.returnData>> }\ntasks:\n  f: { command: CreateFileFromTextArray, input: { input: [a, b], file_name: ips.txt } }\n",
    )
    .expect("written");
    std::fs::write(
        dir.path().join("pb.test.yaml"),
        "kind: test\nplaybook: pb.yaml\ncases:\n  - name: stores\n    expect: { status: Successful }\n",
    )
    .expect("written");
    let store = dir.path().join("store");
    let nowhere = dir.path().join("unused-xdg");
    let o = codeless()
        .env("XDG_DATA_HOME", &nowhere)
        .arg("run")
        .arg(&pb)
        .args(["-q", "--files"])
        .arg(&store)
        .output()
        .expect("run");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
    let id = doc["outputs"]["id"].as_str().expect("an ID");
    assert_eq!(std::fs::read(store.join(id)).expect("stored"), b"a\nb");
    std::fs::remove_dir_all(&store).expect("removed");
    let o = codeless()
        .env("XDG_DATA_HOME", &nowhere)
        .arg("test")
        .arg(dir.path().join("pb.test.yaml"))
        .arg("--files")
        .arg(&store)
        .output()
        .expect("test");
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stdout));
    assert!(store.join(id).is_file());
    assert!(!nowhere.exists(), "nothing went to the default location");
}

/// A server that answers every request `503` with `Retry-After: 60`, counting the requests.
fn always_busy() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && s.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = s.write_all(
                b"HTTP/1.1 503 Busy\r\nRetry-After: 60\r\nContent-Length: 4\r\n\r\nbusy",
            );
        }
    });
    (url, count)
}

/// DESIGN §6: Ctrl-C lets running tasks end; a task waiting to retry an HTTP call ends its wait
/// at once and takes the answer it had (it waited the server's 60 s before).
#[test]
fn ctrl_c_ends_the_wait_before_an_http_retry() {
    use std::sync::atomic::Ordering;
    let (url, count) = always_busy();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("i.yaml"),
        format!(
            "kind: integration\nname: Busy\nconnection:\n  - {{ name: url, display: URL, default: \"{url}\" }}\nhttp:\n  base_url: <<connector.url>>\n  retry: {{ on_status: [503], attempts: 3, max_delay: 120, respect_retry_after: true }}\ncommands:\n  Ping: {{ display: Ping, request: {{ path: /ping }} }}\n"
        ),
    )
    .expect("written");
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Busy run\ntasks:\n  ping: { command: Busy.Ping, next: [after] }\n  after: { command: concatToRear, input: { input: a, value: b } }\n",
    )
    .expect("written");
    let child = codeless()
        .arg("run")
        .arg(&pb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while count.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no request reached the server");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let o = wait_at_most(child, 10);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
    assert_eq!(doc["tasks"]["ping"]["status"], "Failed", "{doc}");
    assert_eq!(doc["tasks"]["ping"]["error"]["status_code"], 503, "{doc}");
    // It failed (with stop): its successor is blocked, as after any failure.
    assert_eq!(doc["tasks"]["after"]["status"], "Blocked", "{doc}");
    assert_eq!(count.load(Ordering::SeqCst), 1, "no retry after the Ctrl-C");
}

/// A server that answers every request `200 ok` after a second, counting the requests.
fn slow_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let seen = seen.clone();
            std::thread::spawn(move || loop {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                seen.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs(1));
                if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .is_err()
                {
                    return;
                }
            });
        }
    });
    (url, count)
}

/// Ctrl-C stops an integration's `for_each` as it stops a batch: no request starts after it,
/// and the elements left are `Cancelled` (red team M5: all 10 requests were sent).
#[test]
fn ctrl_c_starts_no_further_for_each_request() {
    use std::sync::atomic::Ordering;
    let (url, count) = slow_server();
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("i.yaml"),
        format!(
            "kind: integration\nname: Slow\nconnection:\n  - {{ name: url, display: URL, default: \"{url}\" }}\nhttp:\n  base_url: <<connector.url>>\ncommands:\n  Each:\n    display: Each\n    inputs: [ {{ name: ids, display: IDs, type: text_array }} ]\n    request: {{ path: /items/<<item>>, for_each: <<input.ids>> }}\n"
        ),
    )
    .expect("written");
    let pb = dir.path().join("pb.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Slow run\ntasks:\n  each: { command: Slow.Each, input: { ids: [a, b, c, d, e, f, g, h, i, j] }, on_error: continue }\n",
    )
    .expect("written");
    let child = codeless()
        .arg("run")
        .arg(&pb)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while count.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "no request reached the server");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let o = wait_at_most(child, 10);
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let doc: Value = serde_json::from_slice(&o.stdout).expect("a run document");
    let made = count.load(Ordering::SeqCst);
    assert!(made <= 2, "{made} requests made after the Ctrl-C");
    let returned = doc["tasks"]["each"]["returnData"]
        .as_array()
        .expect("a list");
    assert_eq!(returned.len(), 10, "{doc}");
    let cancelled = returned.iter().filter(|r| *r == "Cancelled").count();
    assert_eq!(cancelled, 10 - made, "{doc}");
}
