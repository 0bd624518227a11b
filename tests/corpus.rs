//! The validation corpus: every file (or directory of files validated together) under
//! `tests/corpus/err/` declares the exact diagnostics it must produce, one `# expect: CODE LINE`
//! comment each; every file under `tests/corpus/ok/` (and the shipped examples) must produce none.

use codeless::load::load_file;
use codeless::workspace::Workspace;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// (file name, code, line) expected by `# expect:` comments.
fn expectations(files: &[PathBuf]) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read(f)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("# expect:") {
                let mut parts = rest.split_whitespace();
                let code = parts.next().expect("# expect: CODE LINE").to_owned();
                let n = parts
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("# expect: CODE LINE");
                out.push((f.display().to_string(), code, n));
            }
        }
    }
    out.sort();
    out
}

fn actual(files: &[PathBuf]) -> Vec<(String, String, usize)> {
    let ws = Workspace::new(
        files
            .iter()
            .map(|f| load_file(f, &Default::default()))
            .collect(),
    );
    let mut out: Vec<_> = ws
        .diagnostics()
        .iter()
        .map(|d| (d.file.path.clone(), d.code.to_owned(), d.line_col().0))
        .collect();
    out.sort();
    out
}

/// Raised as the corpus grows; never lowered.
const MIN_BROKEN_FILES: usize = 120;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_broken_file_gets_exactly_its_expected_diagnostics() {
    let err = root().join("tests/corpus/err");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&err)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for case in &cases {
        let files = if case.is_dir() {
            yaml_files(case)
        } else {
            vec![case.clone()]
        };
        count += files.len();
        let want = expectations(&files);
        assert!(
            !want.is_empty(),
            "{} declares no `# expect: CODE LINE`",
            case.display()
        );
        let got = actual(&files);
        if want != got {
            failures.push(format!(
                "{}\n  expected {want:?}\n  got      {got:?}",
                case.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        count >= MIN_BROKEN_FILES,
        "the corpus has {count} broken files; it should have at least {MIN_BROKEN_FILES}"
    );
}

#[test]
fn valid_files_and_shipped_examples_produce_no_diagnostics() {
    for dir in ["tests/corpus/ok", "playbooks"] {
        let files = yaml_files(&root().join(dir));
        assert!(!files.is_empty(), "{dir} is empty");
        let got = actual(&files);
        assert!(got.is_empty(), "false positives in {dir}: {got:?}");
    }
}
