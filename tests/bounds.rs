//! Bounds on what a run may select, hold and wait for, through the binary (issue 16 items 4,
//! 5, 9, 10 and 15): JSONPath amplification, task and document sizes, `__RETRY__` from data,
//! retry waits against the timeout and Ctrl-C, and batches that are long, large or cancelled.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    dir
}

fn start(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_codeless"))
        .env(
            "XDG_DATA_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
        )
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start codeless")
}

/// What a finished run gave, and the most memory it held (VmHWM, KiB; 0 without /proc).
struct Ran {
    out: Output,
    peak_kb: u64,
    took: Duration,
}

impl Ran {
    fn code(&self) -> i32 {
        self.out
            .status
            .code()
            .unwrap_or_else(|| panic!("killed by a signal: {}", self.stderr()))
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    fn doc(&self) -> Value {
        serde_json::from_slice(&self.out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}{}",
                String::from_utf8_lossy(&self.out.stdout),
                self.stderr()
            )
        })
    }
}

/// Runs codeless to its end, reading its peak memory as it goes; kills it after `limit` (the
/// test then fails on the time it took).
fn run_bounded(dir: &Path, args: &[&str], limit: Duration) -> Ran {
    let t = Instant::now();
    let mut child = start(dir, args);
    let pid = child.id();
    // Both pipes are drained as the child writes, so a large document cannot block it.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let mut peak_kb = 0;
    let status = loop {
        if let Some(kb) = peak_memory_kb(pid) {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let out = Output {
        status,
        stdout: out_reader.join().expect("stdout"),
        stderr: err_reader.join().expect("stderr"),
    };
    Ran {
        out,
        peak_kb,
        took: t.elapsed(),
    }
}

fn peak_memory_kb(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn error_of(doc: &Value, task: &str) -> String {
    doc["tasks"][task]["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("task {task} has no error: {doc:#}"))
        .to_owned()
}

fn interrupt(child: &Child) {
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
}

/// Waits for a child started with `start`, at most `limit` (then kills it).
fn finish(mut child: Child, limit: Duration) -> Output {
    let t = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

fn doc_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

const RESULTS_LIMIT: &str = "the JSONPath selects more than 100000 values, the jsonpath-results limit (raise it with `--limit jsonpath-results=N` if the input is trusted)";
const BYTES_LIMIT: &str = "the values the JSONPath selects take more than 64 MiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)";

// ---- item 4: JSONPath amplification, output-size, document-size ------------------------------

/// `url` nested 120 deep around a 40,000-element list (1.4 MB): `$..url` selects 120 values
/// that each hold nearly the whole incident. It took 4.6 GB and printed a 1.5 GB document.
#[test]
fn a_descendant_query_over_a_deep_incident_fails_its_task_in_bounded_memory() {
    let mut incident = json!({ "url": (0..40_000).map(|i| format!("https://example.com/item/{i:06}")).collect::<Vec<_>>() });
    for _ in 0..119 {
        incident = json!({ "url": incident });
    }
    let pb = "kind: playbook\nname: Amplify\ntasks:\n  by_template: { command: count, input: { input: <<incident..url>> }, on_error: continue }\n  by_command: { command: jsonPathQuery, input: { input: <<incident>>, path: \"$..url\" }, on_error: continue }\n  fine: { command: jsonPathQuery, input: { input: <<incident>>, path: \"$..url[1]\" } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--incident", "i.json", "-q"],
        Duration::from_secs(120),
    );
    assert_eq!(r.code(), 0, "Partially Successful: {}", r.stderr());
    let doc = r.doc();
    assert_eq!(
        error_of(&doc, "by_template"),
        format!("parameter `input`: <<incident..url>>: {BYTES_LIMIT}")
    );
    assert_eq!(
        error_of(&doc, "by_command"),
        format!("\"$..url\": {BYTES_LIMIT}")
    );
    assert_eq!(
        doc["tasks"]["fine"]["returnData"],
        json!(["https://example.com/item/000001"])
    );
    assert!(r.out.stdout.len() < 200_000, "{} bytes", r.out.stdout.len());
    if r.peak_kb > 0 {
        assert!(r.peak_kb < 400_000, "peak memory {} KiB", r.peak_kb);
    }
}

/// `a` nested 120 deep (about 800 bytes): `$..a..a..a` selects ~280,000 repeated nodes, and each
/// further `..a` multiplies that again. It aborted out of memory (exit 134).
#[test]
fn a_descendant_chain_over_a_small_incident_fails_its_task_not_the_process() {
    let mut incident = json!(1);
    for _ in 0..120 {
        incident = json!({ "a": incident });
    }
    let pb = "kind: playbook\nname: Chain\ntasks:\n  by_template: { command: count, input: { input: <<incident..a..a..a>> }, on_error: continue }\n  by_command: { command: jsonPathQuery, input: { input: <<incident>>, path: \"$..a..a..a..a..a\" }, on_error: continue }\n  leaves: { command: count, input: { input: \"<<incident..a..a..a..[?@ == 1]>>\" }, on_error: continue }\n";
    let leaves = "kind: playbook\nname: Leaves\ntasks:\n  leaves: { command: count, input: { input: \"<<incident..a..a..a..[?@ == 1]>>\" } }\n";
    let dir = dir_with(&[
        ("p.yaml", pb),
        ("leaves.yaml", leaves),
        ("i.json", &incident.to_string()),
    ]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--incident", "i.json", "-q"],
        Duration::from_secs(120),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(
        error_of(&doc, "by_template"),
        format!("parameter `input`: <<incident..a..a..a>>: {RESULTS_LIMIT}")
    );
    assert_eq!(
        error_of(&doc, "by_command"),
        format!("\"$..a..a..a..a..a\": {RESULTS_LIMIT}")
    );
    assert_eq!(
        error_of(&doc, "leaves"),
        format!("parameter `input`: <<incident..a..a..a..[?@ == 1]>>: {RESULTS_LIMIT}")
    );
    if r.peak_kb > 0 {
        assert!(r.peak_kb < 100_000, "peak memory {} KiB", r.peak_kb);
    }
    // Raised, a query past the default passes: the leaf under each of the 280,840 chains of
    // three nested `a`s but the 7,021 that end on the leaf itself.
    let r = run_bounded(
        dir.path(),
        &[
            "run",
            "leaves.yaml",
            "--incident",
            "i.json",
            "-q",
            "--limit",
            "jsonpath-results=300000",
        ],
        Duration::from_secs(120),
    );
    assert_eq!(r.doc()["tasks"]["leaves"]["returnData"], 273_819);
}

/// A filter's own query is evaluated whole for every node it tests, out of the step-by-step
/// bound's reach: `[?@..a..a..a..a..a]` over the chain built 200 million nodes. A filter may
/// descend once; the path comes from data here, so the command fails (validation reports such
/// a path written in a playbook).
#[test]
fn a_filter_that_chains_descendants_is_refused() {
    let mut chain = json!(1);
    for _ in 0..120 {
        chain = json!({ "a": chain });
    }
    let incident = json!({ "q": "$[?@..a..a..a..a..a]", "a": chain });
    let pb = "kind: playbook\nname: Filter\ntasks:\n  q: { command: jsonPathQuery, input: { input: <<incident>>, path: <<incident.q>> }, on_error: continue }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--incident", "i.json", "-q"],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(
        error_of(&r.doc(), "q"),
        "parameter `path` is not a valid JSONPath: \"$[?@..a..a..a..a..a]\" (a filter may use `..` only once (each more `..` multiplies what it selects))"
    );
    if r.peak_kb > 0 {
        assert!(r.peak_kb < 100_000, "peak memory {} KiB", r.peak_kb);
    }
}

#[test]
fn the_new_limits_are_listed_with_their_defaults() {
    let dir = dir_with(&[]);
    let r = run_bounded(dir.path(), &["limits"], Duration::from_secs(30));
    let out = String::from_utf8_lossy(&r.out.stdout);
    for row in [
        "jsonpath-results     100000     100000  values one JSONPath query may select",
        "output-size           64MiB      64MiB  bytes of one task's output model (compact JSON), and of what one query copies",
        "document-size        256MiB     256MiB  bytes of the run document as printed",
    ] {
        assert!(out.contains(row), "missing {row:?} in:\n{out}");
    }
}

#[test]
fn an_output_over_the_output_size_limit_fails_its_task() {
    let incident = json!({ "text": "x".repeat(3000) });
    let pb = "kind: playbook\nname: Big\ntasks:\n  big: { command: toUpper, input: { input: <<incident.text>> }, next: [after] }\n  after: { command: concatToRear, input: { input: a, value: b } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let args = [
        "run",
        "p.yaml",
        "--incident",
        "i.json",
        "-q",
        "--limit",
        "output-size=2KiB",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(30));
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(
        error_of(&doc, "big"),
        "its output takes more than 2 KiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)"
    );
    assert_eq!(doc["tasks"]["after"]["status"], "Blocked");
    let r = run_bounded(
        dir.path(),
        &[
            "run",
            "p.yaml",
            "--incident",
            "i.json",
            "-q",
            "--limit",
            "output-size=16KiB",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), 0, "{}", r.stderr());
}

/// Each task's output fits, but together they would pass the document-size limit: the task
/// that would pass it fails instead, and the printed document stays under the limit.
#[test]
fn outputs_that_would_pass_the_document_size_limit_fail_the_task_that_passes_it() {
    let incident = json!({ "text": "y".repeat(3000) });
    let pb = "kind: playbook\nname: Doc\ntasks:\n  one: { command: toUpper, input: { input: <<incident.text>> }, next: [two] }\n  two: { command: toLower, input: { input: <<incident.text>> }, on_error: continue, next: [three] }\n  three: { command: concatToRear, input: { input: a, value: b } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let args = [
        "run",
        "p.yaml",
        "--incident",
        "i.json",
        "-q",
        "--limit",
        "document-size=8KiB",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(30));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(doc["tasks"]["one"]["status"], "Successful");
    assert_eq!(
        error_of(&doc, "two"),
        "its output would make the run document larger than 8 KiB, the document-size limit (raise it with `--limit document-size=N` if the input is trusted)"
    );
    assert_eq!(doc["tasks"]["three"]["returnData"], "ab");
    assert!(
        r.out.stdout.len() < 8 * 1024,
        "{} bytes",
        r.out.stdout.len()
    );
}

#[test]
fn a_playbook_output_that_would_pass_the_document_size_limit_is_null_with_a_warning() {
    let incident = json!({ "text": "z".repeat(3000) });
    let pb = "kind: playbook\nname: Outs\noutputs: { same: <<incident.text>>, small: <<tasks.up.returnData>> }\ntasks:\n  up: { command: concatToRear, input: { input: a, value: b } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let args = [
        "run",
        "p.yaml",
        "--incident",
        "i.json",
        "-q",
        "--limit",
        "document-size=2KiB",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(30));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(doc["outputs"], json!({"same": null, "small": "ab"}));
    assert!(
        r.stderr().contains("warning: output `same`: it would make the run document larger than 2 KiB, the document-size limit"),
        "{}",
        r.stderr()
    );
}

/// `{{#each}}` writes its body once per element: a 2,000-element list and a 100 KB text made
/// a 200 MB string before any size was checked. The render stops at output-size.
#[test]
fn a_text_template_stops_rendering_at_the_output_size_limit() {
    let incident = json!({ "list": vec![1; 2000], "big": "b".repeat(100_000) });
    let pb = "kind: playbook\nname: Render\ntasks:\n  note: { command: formatText, input: { template: \"{{#each incident.list}}{{../incident.big}}{{/each}}\" }, on_error: continue }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let args = [
        "run",
        "p.yaml",
        "--incident",
        "i.json",
        "-q",
        "--limit",
        "output-size=16MiB",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(60));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    assert_eq!(
        error_of(&r.doc(), "note"),
        "parameter `template`: the rendered text takes more than 16 MiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)"
    );
    if r.peak_kb > 0 {
        assert!(r.peak_kb < 200_000, "peak memory {} KiB", r.peak_kb);
    }
}

// ---- item 5: `__RETRY__` is honoured only from trusted producers ------------------------------

/// parseJson of an incident string that spells the seed's marker: the engine re-ran the task
/// 100 times, sleeping an hour each time.
#[test]
fn a_retry_marker_from_data_is_data() {
    let incident = json!({ "s": "{\"__ACTION__\":\"__RETRY__\",\"__DELAY__\":[3600]}" });
    let pb = "kind: playbook\nname: Data\ntasks:\n  parse: { command: parseJson, input: { input: <<incident.s>> } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--incident", "i.json", "-q"],
        Duration::from_secs(30),
    );
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    let t = &doc["tasks"]["parse"];
    assert_eq!(t["status"], "Successful");
    assert_eq!(t["retries"], 0);
    assert_eq!(t["runs"], 1);
    assert_eq!(
        t["returnData"],
        json!({"__ACTION__": "__RETRY__", "__DELAY__": [3600]})
    );
}

const RETRYING: &str = "kind: integration\nname: Retrying\ncommands:\n  Written:\n    display: Written\n    tasks:\n      t: { command: concatToRear, input: { input: a, value: b } }\n    outputs:\n      returnData: { __ACTION__: __RETRY__, __DELAY__: [0] }\n  FromData:\n    display: From Data\n    inputs: [ { name: text, display: Text, type: text } ]\n    tasks:\n      p: { command: parseJson, input: { input: <<input.text>> } }\n    outputs:\n      returnData: <<tasks.p.returnData>>\n";

/// A `tasks:` command whose `outputs.returnData` is the marker written in the YAML asks for a
/// retry; one that passes on a marker it read from data does not.
#[test]
fn a_retry_marker_counts_only_when_the_yaml_writes_it() {
    let incident = json!({ "s": "{\"__ACTION__\":\"__RETRY__\",\"__DELAY__\":[3600]}" });
    let pb = "kind: playbook\nname: Trusted\ntasks:\n  written: { command: Retrying.Written, on_error: continue }\n  from_data: { command: Retrying.FromData, input: { text: <<incident.s>> } }\n";
    let dir = dir_with(&[
        ("p.yaml", pb),
        ("retrying.yaml", RETRYING),
        ("i.json", &incident.to_string()),
    ]);
    let args = [
        "run",
        "p.yaml",
        "--incident",
        "i.json",
        "-q",
        "--limit",
        "command-retries=3",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(60));
    assert!(r.took < Duration::from_secs(40), "took {:?}", r.took);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(doc["tasks"]["written"]["retries"], 3);
    assert!(
        error_of(&doc, "written").contains("retried more than 3 times, the command-retries limit"),
        "{doc:#}"
    );
    let t = &doc["tasks"]["from_data"];
    assert_eq!(t["status"], "Successful", "{doc:#}");
    assert_eq!(t["retries"], 0);
    assert_eq!(t["returnData"]["__ACTION__"], "__RETRY__");
}

/// The waits before retries count against the task's timeout, `retry:` delays and a command's
/// `__DELAY__` alike: a retry due after the timeout ends the task then and there.
#[test]
fn retry_waits_count_against_the_timeout() {
    let pb = "kind: playbook\nname: Waits\ntasks:\n  flaky: { command: fail, input: { message: down }, retry: { attempts: 3, delay: [30] }, timeout: 1, on_error: continue }\n  asks: { command: concatToRear, input: { input: a, value: b }, timeout: 1 }\n";
    let mock = "asks: { returnData: { __ACTION__: __RETRY__, __DELAY__: [0.2, 60] } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("m.yaml", mock)]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--mock", "m.yaml", "-q"],
        Duration::from_secs(60),
    );
    assert!(r.took < Duration::from_secs(10), "took {:?}", r.took);
    assert_eq!(r.code(), 1, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(
        error_of(&doc, "flaky"),
        "task `flaky` timed out after 1 s: retry 1 was due 30 s later, past the timeout"
    );
    assert_eq!(doc["tasks"]["flaky"]["retries"], 1);
    assert_eq!(
        error_of(&doc, "asks"),
        "task `asks` timed out after 1 s: retry 2 was due 60 s later, past the timeout"
    );
    assert_eq!(doc["tasks"]["asks"]["retries"], 2);
}

/// The first Ctrl-C ends a wait before a retry: no new attempt, the run reports at once.
#[test]
fn ctrl_c_ends_the_waits_between_retries() {
    let pb = "kind: playbook\nname: Waits\ntasks:\n  flaky: { command: fail, input: { message: down }, retry: { attempts: 5, delay: [30] } }\n  asks: { command: concatToRear, input: { input: a, value: b } }\n";
    let mock = "asks: { returnData: { __ACTION__: __RETRY__, __DELAY__: [30] } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("m.yaml", mock)]);
    let child = start(dir.path(), &["run", "p.yaml", "--mock", "m.yaml", "-q"]);
    std::thread::sleep(Duration::from_millis(800));
    let t = Instant::now();
    interrupt(&child);
    let o = finish(child, Duration::from_secs(60));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = doc_of(&o);
    assert_eq!(
        error_of(&doc, "flaky"),
        "the run was cancelled (Ctrl-C) while task `flaky` waited to retry; its last try: Fail failed. Message: down"
    );
    assert_eq!(doc["tasks"]["flaky"]["retries"], 1);
    assert_eq!(
        error_of(&doc, "asks"),
        "the run was cancelled (Ctrl-C) while task `asks` waited to retry"
    );
}

// ---- item 9: batches whose inputs read <<item>>/<<index>> -------------------------------------

fn list_incident(n: usize) -> String {
    json!({ "list": (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>() }).to_string()
}

/// Building each element's inputs copied the whole list once per element: 10,000 elements
/// took 1.9 s, 40,000 took 28 s, 100,000 over 120 s (release builds).
#[test]
fn a_per_item_batch_is_built_in_linear_time() {
    let pb = "kind: playbook\nname: Long\ntasks:\n  each: { command: concatToRear, input: { input: <<incident.list>>, value: \"-<<index>>\" } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &list_incident(20_000))]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--incident", "i.json", "-q"],
        Duration::from_secs(120),
    );
    assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(doc["tasks"]["each"]["returnData"][19_999], "v19999-19999");
}

/// Building the elements happened on the engine's loop before the timeout started (`timeout: 2`
/// ignored, other branches stalled, Ctrl-C took 27 s): it is the task's work now.
#[test]
fn building_a_per_item_batch_counts_against_the_timeout() {
    let pb = "kind: playbook\nname: Long\ntasks:\n  each: { command: concatToRear, input: { input: <<incident.list>>, value: \"<<item>>-<<index>>\" }, timeout: 1, on_error: continue }\n  other: { command: concatToRear, input: { input: a, value: b } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &list_incident(100_000))]);
    let r = run_bounded(
        dir.path(),
        &["run", "p.yaml", "--incident", "i.json", "-q"],
        Duration::from_secs(120),
    );
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    assert_eq!(error_of(&doc, "each"), "task `each` timed out after 1 s");
    assert_eq!(doc["tasks"]["other"]["returnData"], "ab");
}

#[test]
fn ctrl_c_stops_a_per_item_batch_at_once() {
    let pb = "kind: playbook\nname: Long\ntasks:\n  each: { command: concatToRear, input: { input: <<incident.list>>, value: \"-<<index>>\" } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &list_incident(100_000))]);
    let child = start(dir.path(), &["run", "p.yaml", "--incident", "i.json", "-q"]);
    std::thread::sleep(Duration::from_millis(700));
    let t = Instant::now();
    interrupt(&child);
    let o = finish(child, Duration::from_secs(120));
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(doc_of(&o)["tasks"]["each"]["status"], "Failed");
}

// ---- item 10: a batch's outputs against output-size ------------------------------------------

/// A server answering every request with `body` (text); counts the requests.
fn serve_text(body: String) -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let count = Arc::new(AtomicUsize::new(0));
    let served = count.clone();
    let response = Arc::new(format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            served.fetch_add(1, Ordering::SeqCst);
            let response = response.clone();
            std::thread::spawn(move || {
                let mut s = stream;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(response.as_bytes());
            });
        }
    });
    (url, count)
}

/// 80 elements of 15 MB responses: all were kept (1.2 GB), the process aborted (exit 134) and
/// the run document was lost. The batch now stops once its outputs pass output-size.
#[test]
fn a_batch_stops_once_its_outputs_pass_the_output_size_limit() {
    let (url, served) = serve_text("r".repeat(15_000_000));
    let conns = format!(
        "kind: connections\nconnections:\n  api: {{ integration: REST API Callback, params: {{ requesturl: \"{url}\" }} }}\n"
    );
    let paths: Vec<String> = (0..80).map(|i| format!("/item/{i}")).collect();
    let incident = json!({ "paths": paths }).to_string();
    let pb = "kind: playbook\nname: Large\ntasks:\n  fetch: { command: RESTAPICallback.SendRequest, input: { url: <<incident.paths>>, method: GET }, on_error: continue, next: [after] }\n  after: { command: concatToRear, input: { input: a, value: b } }\n";
    let dir = dir_with(&[("p.yaml", pb), ("c.yaml", &conns), ("i.json", &incident)]);
    let args = [
        "run",
        "p.yaml",
        "--incident",
        "i.json",
        "--connections",
        "c.yaml",
        "--concurrency",
        "4",
        "-q",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(120));
    assert_eq!(r.code(), 0, "{}", r.stderr());
    let doc = r.doc();
    let msg = error_of(&doc, "fetch");
    assert!(
        msg.starts_with(
            "the outputs of its elements took more than 64 MiB, the output-size limit, after "
        ),
        "{msg}"
    );
    assert!(
        msg.ends_with(" of 80 elements; no further element was started (raise it with `--limit output-size=N` if the input is trusted)"),
        "{msg}"
    );
    assert_eq!(doc["tasks"]["after"]["returnData"], "ab");
    // Four 15 MB outputs fit in 64 MiB; the fifth passes it, and at most three more were
    // running then.
    let n = served.load(Ordering::SeqCst);
    assert!(n <= 8, "{n} requests");
    assert!(r.out.stdout.len() < 100_000, "{} bytes", r.out.stdout.len());
}

// ---- item 15: Ctrl-C and a running batch -----------------------------------------------------

/// 20 elements of 2 s on 2 workers: all 20 ran after a Ctrl-C (20 s). Now the two running end
/// and the others never start.
#[test]
fn ctrl_c_starts_no_new_batch_element() {
    let pb = "kind: playbook\nname: Naps\ntasks:\n  naps: { command: sleep, input: { seconds: <<incident.waits>> } }\n";
    let incident = json!({ "waits": vec![2; 20] }).to_string();
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident)]);
    let child = start(
        dir.path(),
        &[
            "run",
            "p.yaml",
            "--incident",
            "i.json",
            "-q",
            "--concurrency",
            "2",
        ],
    );
    std::thread::sleep(Duration::from_millis(1000));
    let t = Instant::now();
    interrupt(&child);
    let o = finish(child, Duration::from_secs(60));
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let doc = doc_of(&o);
    let t = &doc["tasks"]["naps"];
    assert_eq!(t["status"], "Partially Successful", "{doc:#}");
    let returned = t["returnData"].as_array().expect("a list");
    assert_eq!(returned.len(), 20);
    assert_eq!(returned[..2], [json!(null), json!(null)]);
    assert!(
        returned[2..].iter().all(|v| v == "Cancelled"),
        "{returned:?}"
    );
    assert_eq!(
        t["result"],
        "2 of 20 items succeeded\n18 items not started: the run was cancelled (Ctrl-C)"
    );
}

/// `codeless command` holds one call's output to `output-size` as a run's task is held.
#[test]
fn a_command_output_over_the_output_size_limit_fails_the_command() {
    let dir = dir_with(&[]);
    let text = format!("input={}", "x".repeat(3000));
    let args = [
        "command",
        "toUpper",
        "--input",
        text.as_str(),
        "--limit",
        "output-size=2KiB",
    ];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(30));
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(
        r.doc()["error"]["message"],
        "its output takes more than 2 KiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)"
    );
}

/// A batch whose per-element parameter repeats a large value: the elements' arguments count
/// against `output-size` as they are built, so memory does not grow with the list (3,000 × 1 MB
/// reached 3 GB before any output was measured; 10,000 aborted).
#[test]
fn per_item_arguments_count_against_the_output_size_limit() {
    let incident = json!({ "l": vec!["e"; 3000], "big": "y".repeat(1_000_000) });
    let pb = "kind: playbook\nname: Wide\ntasks:\n  b: { command: concatToRear, input: { input: <<incident.l>>, value: \"<<index>><<incident.big>>\" }, timeout: 60 }\n";
    let dir = dir_with(&[("p.yaml", pb), ("i.json", &incident.to_string())]);
    let args = ["run", "p.yaml", "--incident", "i.json", "-q"];
    let r = run_bounded(dir.path(), &args, Duration::from_secs(60));
    assert_eq!(r.code(), 1, "{}", r.stderr());
    assert_eq!(
        error_of(&r.doc(), "b"),
        "the arguments of its 3000 elements take more than 64 MiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)"
    );
    assert!(r.peak_kb < 400_000, "peak {} KiB", r.peak_kb);
}
