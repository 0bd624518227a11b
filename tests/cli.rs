//! The binary's contract: exit codes, stdout/stderr split, and no panic on bad input.

use serde_json::Value;
use std::process::{Command, Output};

fn codeless(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_codeless"))
        .env(
            "XDG_DATA_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
        )
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run codeless")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally (not by a signal)")
}

fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

#[test]
fn run_prints_the_run_document_and_exits_0() {
    let o = codeless(&[
        "run",
        "tests/fixtures/ok.yaml",
        "--incident",
        "tests/fixtures/incident.json",
        "--input",
        "suffix=?!",
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let doc = stdout_json(&o);
    assert_eq!(doc["playbook"], "Fixture OK");
    assert_eq!(doc["status"], "Successful");
    assert_eq!(doc["outputs"]["shout"], "Phish?!");
    let task = doc["tasks"]["shout"].as_object().unwrap();
    let keys: Vec<&str> = task.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "status",
            "returnData",
            "result",
            "keyFields",
            "rawData",
            "error",
            "runs",
            "retries",
            "duration_ms"
        ]
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("✔ shout Successful"),
        "progress goes to stderr: {err}"
    );
}

#[test]
fn a_failed_run_exits_1() {
    let o = codeless(&["run", "tests/fixtures/failing.yaml", "-q"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout_json(&o)["status"], "Failed");
}

#[test]
fn an_invalid_playbook_does_not_start_and_exits_2() {
    let o = codeless(&["run", "tests/fixtures/broken.yaml"]);
    assert_eq!(code(&o), 2);
    assert!(
        o.stdout.is_empty(),
        "no run document for an invalid playbook"
    );
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "broken.yaml:5:14: unknown command `concatToRaer`",
        "did you mean `concatToRear`?",
        "broken.yaml:10:21",
        "task `c`",
        "has no input `valeu`",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

#[test]
fn wrong_command_lines_exit_2() {
    assert_eq!(
        code(&codeless(&[
            "run",
            "tests/fixtures/ok.yaml",
            "--input",
            "sufix=x"
        ])),
        2
    );
    assert_eq!(
        code(&codeless(&[
            "run",
            "tests/fixtures/ok.yaml",
            "--input",
            "level=high"
        ])),
        2
    );
    assert_eq!(
        code(&codeless(&[
            "run",
            "tests/fixtures/ok.yaml",
            "--input",
            "novalue"
        ])),
        2
    );
    assert_eq!(code(&codeless(&["run", "tests/fixtures/missing.yaml"])), 2);
    assert_eq!(
        code(&codeless(&[
            "run",
            "tests/fixtures/ok.yaml",
            "--incident",
            "tests/fixtures/nope.json"
        ])),
        2
    );
    assert_eq!(
        code(&codeless(&[
            "run",
            "tests/fixtures/ok.yaml",
            "--concurrency",
            "0"
        ])),
        2
    );
    assert_eq!(code(&codeless(&["frobnicate"])), 2);
}

/// A YAML incident over a limit, or malformed, gets the words a playbook's YAML errors get:
/// the limit's name, how to raise it, and the line.
#[test]
fn yaml_incidents_get_the_same_messages_as_playbooks() {
    let dir = std::env::temp_dir().join(format!("codeless-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let deep = dir.join("deep.yaml");
    let d = 70;
    std::fs::write(
        &deep,
        format!("x: {}1{}\n", "{a: ".repeat(d), "}".repeat(d)),
    )
    .expect("written");
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "a:\n  b: [1, 2\nc: 3\n").expect("written");
    let run = |incident: &std::path::Path| {
        codeless(&[
            "run",
            "tests/fixtures/ok.yaml",
            "--incident",
            &incident.display().to_string(),
        ])
    };
    let o = run(&deep);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("deep.yaml:1: the document nests more than 64 levels deep (the yaml-depth limit) (flatten the document, or raise it with `--limit yaml-depth=N`"),
        "{err}"
    );
    let o = run(&bad);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml:3: "), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn drafts_run_only_with_the_draft_flag() {
    let o = codeless(&["run", "tests/fixtures/draft.yaml", "-q"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is a draft; run it with --draft"));
    assert_eq!(
        code(&codeless(&[
            "run",
            "tests/fixtures/draft.yaml",
            "--draft",
            "-q"
        ])),
        0
    );
}

#[test]
fn validate_reports_json_in_the_contract_shape() {
    let o = codeless(&[
        "validate",
        "tests/fixtures/broken.yaml",
        "tests/fixtures/ok.yaml",
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 1);
    let doc = stdout_json(&o);
    assert_eq!(doc["files"], 2);
    assert_eq!(doc["errors"], 4);
    let first = &doc["diagnostics"][0];
    assert_eq!(first["code"], "C001");
    assert_eq!(first["file"], "tests/fixtures/broken.yaml");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(5), Some(14))
    );
    assert_eq!(first["help"], "did you mean `concatToRear`?");
    assert_eq!(code(&codeless(&["validate", "tests/fixtures/ok.yaml"])), 0);
}

#[test]
fn validate_github_format() {
    let o = codeless(&[
        "validate",
        "tests/fixtures/broken.yaml",
        "--format",
        "github",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.starts_with(
            "::error file=tests/fixtures/broken.yaml,line=5,col=14,title=C001::unknown command"
        ),
        "{out}"
    );
}

#[test]
fn hostile_files_get_diagnostics_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let deep = format!(
        "kind: playbook\nname: x\ntasks: {}{}\n",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let mut lol = String::from("kind: playbook\nname: x\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        lol.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    let files = [
        write("binary.yaml", &[0, 159, 146, 150, 255, 0, 1]),
        write("empty.yaml", b""),
        write("deep.yaml", deep.as_bytes()),
        write("lol.yaml", lol.as_bytes()),
        write("scalar.yaml", b"kind: playbook\nname: x\ntasks: 5\n"),
        write("list.yaml", b"- kind: playbook\n"),
        write("tabs.yaml", b"kind: playbook\n\tname: x\n"),
    ];
    let mut args = vec!["validate", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let o = codeless(&args);
    assert_eq!(code(&o), 1, "{}", String::from_utf8_lossy(&o.stderr));
    let doc = stdout_json(&o);
    let diags = doc["diagnostics"].as_array().unwrap();
    let for_file = |f: &str| {
        diags
            .iter()
            .filter(|d| d["file"].as_str().unwrap().ends_with(f))
            .count()
    };
    for f in [
        "binary.yaml",
        "deep.yaml",
        "lol.yaml",
        "scalar.yaml",
        "tabs.yaml",
    ] {
        assert!(for_file(f) >= 1, "no diagnostic for {f}: {diags:?}");
    }
    assert_eq!(
        for_file("empty.yaml"),
        0,
        "an empty file has no kind and is ignored"
    );

    // 50 MB: refused before parsing, with the limit named.
    let big = dir.path().join("big.yaml");
    let mut text = String::from("kind: playbook\nname: big\ntasks:\n");
    while text.len() < 50 * 1024 * 1024 {
        text.push_str(
            "  # padding padding padding padding padding padding padding padding padding\n",
        );
    }
    std::fs::write(&big, &text).unwrap();
    let o = codeless(&["validate", "--format", "json", big.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    assert!(stdout_json(&o)["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .contains("more than the file-size limit of 10485760 bytes"));

    // A directory without YAML is a clear refusal, not a silent success.
    let empty_dir = dir.path().join("nothing");
    std::fs::create_dir(&empty_dir).unwrap();
    let o = codeless(&["validate", empty_dir.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no YAML files"));
}

#[test]
fn commands_are_listed_and_documented() {
    let o = codeless(&["commands"]);
    assert_eq!(code(&o), 0);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("concatToRear"));
    let o = codeless(&["commands", "show", "concatToRear"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("input (Input) — text, required"), "{out}");
    let o = codeless(&["commands", "show", "concatToraer"]);
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("did you mean `concatToRear`?"));
}

#[test]
fn trace_writes_one_json_line_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.jsonl");
    let o = codeless(&[
        "run",
        "tests/fixtures/ok.yaml",
        "--incident",
        "tests/fixtures/incident.json",
        "-q",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0);
    let events: Vec<Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "run_started",
            "task_started",
            "task_finished",
            "run_finished"
        ]
    );
    assert_eq!(
        events[1]["inputs"],
        serde_json::json!({"input": "Phish", "value": "!"})
    );
    assert_eq!(events[2]["output"]["returnData"], "Phish!");
    assert_eq!(events[3]["status"], "Successful");
    assert!(events[2]["duration_ms"].as_f64().is_some());
}

#[test]
fn test_files_report_expected_versus_actual_with_positions() {
    let o = codeless(&["test", "tests/fixtures/ok.test.yaml"]);
    assert_eq!(code(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    for want in [
        "PASS tests/fixtures/ok.test.yaml:4 › right",
        "FAIL tests/fixtures/ok.test.yaml:7 › wrong on purpose",
        "tests/fixtures/ok.test.yaml:11:15: run status: expected Failed, got Successful",
        "tests/fixtures/ok.test.yaml:12:23: task `shout`: expected Skipped, got Successful",
        "tests/fixtures/ok.test.yaml:12:38: there is no task `nope` in the playbook",
        "tests/fixtures/ok.test.yaml:13:32: `outputs.shout`: expected \"Phish!\", got \"Phish?\"",
        "1 passed, 1 failed",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    let o = codeless(&["test", "tests/fixtures/ok.test.yaml", "--format", "junit"]);
    let xml = String::from_utf8_lossy(&o.stdout);
    assert!(
        xml.contains("<testsuites name=\"codeless\" tests=\"2\" failures=\"1\">"),
        "{xml}"
    );
    assert!(xml.contains("<failure message=\"tests/fixtures/ok.test.yaml:11:15: run status: expected Failed, got Successful\">"), "{xml}");
    assert_eq!(
        code(&codeless(&["test", "tests/fixtures/incident.json"])),
        2,
        "no test cases"
    );
}

#[test]
fn ctrl_c_lets_running_tasks_end_and_still_reports() {
    let dir = tempfile::tempdir().unwrap();
    let pb = dir.path().join("slow.yaml");
    std::fs::write(
        &pb,
        "kind: playbook\nname: Slow\ntasks:\n  wait: { command: sleep, input: { seconds: 1.5 }, next: [after] }\n  other: { command: sleep, input: { seconds: 0.2 } }\n  after: { command: concatToRear, input: { input: a, value: b } }\n",
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_codeless"))
        .env(
            "XDG_DATA_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg"),
        )
        .args(["run", pb.to_str().unwrap(), "-q"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 130, "{}", String::from_utf8_lossy(&o.stderr));
    let doc = stdout_json(&o);
    assert_eq!(doc["status"], "Failed");
    assert_eq!(
        doc["tasks"]["wait"]["status"], "Successful",
        "the running task was allowed to end"
    );
    assert_eq!(doc["tasks"]["other"]["status"], "Successful");
    assert_eq!(doc["tasks"]["after"]["status"], "Cancelled");
}

#[test]
fn run_checks_the_playbooks_it_uses_and_not_those_merely_beside_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write(
        "main.yaml",
        "kind: playbook\nname: Main\ntasks:\n  a: { command: Shout, input: { text: hi } }\n",
    );
    write(
        "shout.yaml",
        "kind: playbook\nname: Shout\ninputs: [{ name: text, type: text }]\noutputs: { loud: <<tasks.up.returnData>> }\ntasks:\n  up: { command: toUpper, input: { input: <<input.text>> } }\n",
    );
    write(
        "broken.yaml",
        "kind: playbook\nname: Broken\ntasks:\n  x: { command: noSuchCommand }\n",
    );
    let main = dir.path().join("main.yaml");
    let o = codeless(&["run", main.to_str().unwrap(), "-q"]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(stdout_json(&o)["tasks"]["a"]["returnData"]["loud"], "HI");
    // The nested playbook breaks: now the run is refused, naming that file.
    write(
        "shout.yaml",
        "kind: playbook\nname: Shout\ninputs: [{ name: text, type: text }]\noutputs: { loud: <<tasks.up.returnData>> }\ntasks:\n  up: { command: toUpperr, input: { input: <<input.text>> } }\n",
    );
    let o = codeless(&["run", main.to_str().unwrap(), "-q"]);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("shout.yaml") && !err.contains("broken.yaml"),
        "{err}"
    );
}

/// DESIGN §6: a task's `passdown` is in the run document where it has one, and only there.
#[test]
fn the_run_document_carries_a_passdown_where_a_task_has_one() {
    let dir = tempfile::tempdir().unwrap();
    let mock = dir.path().join("m.yaml");
    std::fs::write(
        &mock,
        "shout: { returnData: ok, passdown: { StartTime: \"2026-12-01 00:00:00\" } }\n",
    )
    .unwrap();
    let o = codeless(&[
        "run",
        "tests/fixtures/ok.yaml",
        "--incident",
        "tests/fixtures/incident.json",
        "--mock",
        mock.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 0, "{}", String::from_utf8_lossy(&o.stderr));
    let doc = stdout_json(&o);
    assert_eq!(
        doc["tasks"]["shout"]["passdown"],
        serde_json::json!({"StartTime": "2026-12-01 00:00:00"})
    );
    for (id, task) in doc["tasks"].as_object().unwrap() {
        if id != "shout" {
            assert!(task.get("passdown").is_none(), "{id}: {task}");
        }
    }
}
