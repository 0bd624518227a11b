//! `codeless test`: runs the cases of `kind: test` files against their playbooks with mocked
//! commands, and compares the run with the expectations (status, task statuses, branches taken,
//! run counts, values at JSONPaths of the run document). Owns no rendering beyond its report.

use crate::diagnostic::SourceFile;
use crate::files::FileStore;
use crate::limits::Limits;
use crate::load::node::Span;
use crate::model::{Document, Playbook, TestCase, TestFile};
use crate::run::{prepare_inputs, run_in_workspace, Mocks, RunData, RunOptions, RunResult};
use crate::workspace::Workspace;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One case's outcome.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    /// Line of the case in the test file.
    pub line: usize,
    pub failures: Vec<String>,
    pub duration: Duration,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs every case of a test file; the playbook's workspace is its directory (nested
/// playbooks, integrations). Files the playbook creates go to `store`.
pub async fn run_test_file(tf: &TestFile, limits: &Limits, store: &FileStore) -> Vec<CaseResult> {
    let file = &tf.file;
    let at = |span: Span| -> String {
        let (l, c) = file.line_col(span.start);
        format!("{}:{l}:{c}", file.path)
    };
    let base = Path::new(&file.path).parent().unwrap_or(Path::new("."));
    let playbook_path = base.join(&tf.playbook.value);
    let setup: Result<(Arc<Playbook>, Workspace), String> = (|| {
        if !playbook_path.is_file() {
            return Err(format!(
                "{}: playbook `{}` not found (paths are relative to the test file)",
                at(tf.playbook.span),
                tf.playbook.value
            ));
        }
        let files = crate::cli::run_files(&playbook_path, None, &[]);
        let ws = Workspace::load_with(&files, limits);
        let shown = playbook_path.display().to_string();
        let diags = ws.diagnostics_for(&shown);
        if Workspace::has_errors(&diags) {
            let list: Vec<String> = diags.iter().map(|d| d.short()).collect();
            return Err(format!("the playbook is invalid:\n{}", list.join("\n")));
        }
        match ws.playbook(&playbook_path) {
            Some(pb) => Ok((pb, ws)),
            None => Err(format!(
                "{}: `{}` is not a playbook",
                at(tf.playbook.span),
                tf.playbook.value
            )),
        }
    })();
    let mut out = Vec::new();
    for case in &tf.cases {
        let started = Instant::now();
        let failures = match &setup {
            Err(e) => vec![e.clone()],
            Ok((pb, ws)) => run_case(pb, ws, case, file, limits, store).await,
        };
        out.push(CaseResult {
            file: file.path.clone(),
            name: case.name.value.clone(),
            line: file.line_col(case.span.start).0,
            failures,
            duration: started.elapsed(),
        });
    }
    out
}

async fn run_case(
    pb: &Arc<Playbook>,
    ws: &Workspace,
    case: &TestCase,
    file: &Arc<SourceFile>,
    limits: &Limits,
    store: &FileStore,
) -> Vec<String> {
    let at = |span: Span| -> String {
        let (l, c) = file.line_col(span.start);
        format!("{}:{l}:{c}", file.path)
    };
    let mut failures = Vec::new();
    let inputs = match prepare_inputs(pb, case.inputs.clone().into_iter().collect()) {
        Ok(i) => i,
        Err(e) => return vec![format!("{}: {e}", at(case.span))],
    };
    let mocks: Map<String, Value> = case
        .mocks
        .iter()
        .map(|(k, (_, v))| (k.clone(), v.clone()))
        .collect();
    let mocks = match Mocks::from_json(&Value::Object(mocks)) {
        Ok(m) => m,
        Err(e) => return vec![format!("{}: {e}", at(case.span))],
    };
    let data = RunData {
        incident: case.incident.clone().unwrap_or(Value::Null),
        event: case.event.clone().unwrap_or(Value::Null),
        inputs,
        ..RunData::default()
    };
    let opts = RunOptions {
        mocks,
        limits: *limits,
        files: store.clone(),
        ..RunOptions::default()
    };
    let (result, doc) = run_in_workspace(ws, pb.clone(), data, opts).await;
    let e = &case.expect;
    if let Some(want) = &e.status {
        let got = doc["status"].as_str().unwrap_or("?");
        if got != want.value {
            failures.push(format!(
                "{}: run status: expected {}, got {got}{}",
                at(want.span),
                want.value,
                first_failure(&result)
            ));
        }
    }
    for (id, (span, want)) in &e.tasks {
        match doc["tasks"].get(id) {
            None => failures.push(format!(
                "{}: there is no task `{id}` in the playbook",
                at(*span)
            )),
            Some(t) => {
                let got = t["status"].as_str().unwrap_or("?");
                if got != want {
                    let why = t["error"]["message"]
                        .as_str()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default();
                    failures.push(format!(
                        "{}: task `{id}`: expected {want}, got {got}{why}",
                        at(*span)
                    ));
                }
            }
        }
    }
    for (id, (span, want)) in &e.branches {
        match result.tasks.iter().find(|t| &t.id == id) {
            None => failures.push(format!(
                "{}: there is no task `{id}` in the playbook",
                at(*span)
            )),
            Some(t) => {
                let got = t.branch.as_deref().unwrap_or("(none)");
                if got != want {
                    failures.push(format!(
                        "{}: task `{id}`: expected branch \"{want}\", took \"{got}\"",
                        at(*span)
                    ));
                }
            }
        }
    }
    for (id, (span, want)) in &e.runs {
        match result.tasks.iter().find(|t| &t.id == id) {
            None => failures.push(format!(
                "{}: there is no task `{id}` in the playbook",
                at(*span)
            )),
            Some(t) if u64::from(t.runs) != *want => failures.push(format!(
                "{}: task `{id}`: expected {want} runs, got {}",
                at(*span),
                t.runs
            )),
            Some(_) => {}
        }
    }
    for (path, (span, want)) in &e.values {
        let query = if path.starts_with('$') {
            path.clone()
        } else {
            format!("$.{path}")
        };
        match crate::jsonpath::parse(&query) {
            Err(err) => failures.push(format!(
                "{}: `{path}` is not a valid JSONPath: {err}",
                at(*span)
            )),
            Ok(q) => {
                let budget = crate::jsonpath::Budget::of(limits);
                let got = if crate::output::is_plural(&query) {
                    q.values(&doc, budget).map(Value::Array)
                } else {
                    q.first(&doc, budget)
                        .map(|v| v.cloned().unwrap_or(Value::Null))
                };
                let got = match got {
                    Ok(got) => got,
                    Err(e) => {
                        failures.push(format!("{}: `{path}`: {e}", at(*span)));
                        continue;
                    }
                };
                if &got != want {
                    failures.push(format!(
                        "{}: `{path}`: expected {}, got {}",
                        at(*span),
                        clip(want),
                        clip(&got)
                    ));
                }
            }
        }
    }
    failures
}

fn first_failure(r: &RunResult) -> String {
    r.tasks
        .iter()
        .find_map(|t| {
            t.output
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(|m| format!(" (task `{}`: {m})", t.id))
        })
        .unwrap_or_default()
}

fn clip(v: &Value) -> String {
    crate::secrets::clip(&v.to_string(), 200)
}

/// Loads and runs every test file under `paths`. Load problems of test files are failures.
/// Files the playbooks create go to `store`.
pub async fn run_paths(
    paths: &[PathBuf],
    limits: &Limits,
    store: &FileStore,
) -> Result<Vec<CaseResult>, String> {
    let files = crate::cli::walk(paths)?;
    let mut results = Vec::new();
    for f in files {
        let loaded = crate::load::load_file(&f, limits);
        if loaded.kind.as_deref() != Some("test") {
            continue;
        }
        if let Some(d) = loaded
            .diagnostics
            .iter()
            .find(|d| d.severity == crate::diagnostic::Severity::Error)
        {
            results.push(CaseResult {
                file: loaded.file.path.clone(),
                name: "(the test file)".into(),
                line: d.line_col().0,
                failures: loaded.diagnostics.iter().map(|d| d.short()).collect(),
                duration: Duration::ZERO,
            });
            continue;
        }
        if let Some(Document::Test(tf)) = &loaded.document {
            results.extend(run_test_file(tf, limits, store).await);
        }
    }
    Ok(results)
}

/// JUnit XML (one testsuite per test file).
pub fn junit(results: &[CaseResult]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut by_file: indexmap::IndexMap<&str, Vec<&CaseResult>> = indexmap::IndexMap::new();
    for r in results {
        by_file.entry(&r.file).or_default().push(r);
    }
    let failures = results.iter().filter(|r| !r.passed()).count();
    let mut x = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"codeless\" tests=\"{}\" failures=\"{failures}\">\n", results.len());
    for (file, cases) in by_file {
        let f = cases.iter().filter(|r| !r.passed()).count();
        let time: f64 = cases.iter().map(|c| c.duration.as_secs_f64()).sum();
        x.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" time=\"{time:.3}\">\n",
            esc(file),
            cases.len()
        ));
        for c in cases {
            x.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\" time=\"{:.3}\"",
                esc(file),
                esc(&c.name),
                esc(file),
                c.line,
                c.duration.as_secs_f64()
            ));
            if c.passed() {
                x.push_str("/>\n");
            } else {
                let msg = c.failures.first().map(String::as_str).unwrap_or("failed");
                x.push_str(&format!(
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    esc(msg),
                    esc(&c.failures.join("\n"))
                ));
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Human report; the last line is `N passed, M failed`.
pub fn human(results: &[CaseResult]) -> String {
    let mut s = String::new();
    for r in results {
        let ms = r.duration.as_secs_f64() * 1000.0;
        if r.passed() {
            s.push_str(&format!(
                "PASS {}:{} › {} ({ms:.0} ms)\n",
                r.file, r.line, r.name
            ));
        } else {
            s.push_str(&format!("FAIL {}:{} › {}\n", r.file, r.line, r.name));
            for f in &r.failures {
                for (i, line) in f.lines().enumerate() {
                    s.push_str(if i == 0 { "  ✘ " } else { "    " });
                    s.push_str(line);
                    s.push('\n');
                }
            }
        }
    }
    let failed = results.iter().filter(|r| !r.passed()).count();
    s.push_str(&format!(
        "{} passed, {failed} failed\n",
        results.len() - failed
    ));
    s
}
