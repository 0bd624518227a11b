//! Validation of scripts with Python's own `ast`, once per validate run for all scripts (one
//! process): DESIGN §11's list, at the `.py` file's line and column.

use super::interpreter::{clip, wait_with_timeout, Interpreter};
use super::PythonError;
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// How long checking every script of a run may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

/// A problem in a script, 1-based line and column (characters) of the original source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyDiagnostic {
    pub path: String,
    pub line: usize,
    pub column: usize,
    /// `python-syntax`, `python-reserved-name`, `python-import`, `python-unknown-utility`.
    pub code: &'static str,
    pub message: String,
}

/// A script to check.
#[derive(Debug, Clone, Copy)]
pub struct ScriptCheck<'a> {
    pub path: &'a str,
    pub source: &'a str,
}

/// What validation found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// In the order of the scripts given, then of their lines.
    pub diagnostics: Vec<PyDiagnostic>,
    /// Each script's module-level function names (by path), for "a declared Python command with
    /// no function" at the YAML line. A script with a syntax error has none listed.
    pub functions: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct Checked {
    path: String,
    #[serde(default)]
    functions: Vec<String>,
    #[serde(default)]
    findings: Vec<Finding>,
}

#[derive(Deserialize)]
struct Finding {
    code: String,
    line: usize,
    column: usize,
    #[serde(default)]
    name: String,
    #[serde(default)]
    detail: String,
}

/// Checks `scripts` in one Python process. `utilities` are the known utility command names (for
/// `D3.Utility.X`); imports of modules in the interpreter's library directory are allowed.
pub fn validate_scripts(
    python: &Interpreter,
    scripts: &[ScriptCheck<'_>],
    utilities: &[&str],
) -> Result<Validation, PythonError> {
    if scripts.is_empty() {
        return Ok(Validation::default());
    }
    let request = serde_json::json!({
        "scripts": scripts.iter().map(|s| serde_json::json!({"path": s.path, "source": s.source})).collect::<Vec<_>>(),
        "utilities": utilities,
        "library": python.library,
    });
    let program = format!(
        "{}\n{}\nmain(translate, original_column)\n",
        super::WORKER_PY,
        super::CHECK_PY
    );
    let out = run_checker(python, &program, &request)?;
    let checked: Vec<Checked> = serde_json::from_slice(&out).map_err(|e| {
        PythonError::Validation(format!(
            "the checker's answer is not JSON ({e}): {}",
            clip(&String::from_utf8_lossy(&out), 200)
        ))
    })?;
    let mut v = Validation::default();
    for c in checked {
        for f in c.findings {
            v.diagnostics.push(diagnostic(&c.path, f, utilities));
        }
        v.functions.insert(c.path, c.functions);
    }
    Ok(v)
}

fn run_checker(
    python: &Interpreter,
    program: &str,
    request: &serde_json::Value,
) -> Result<Vec<u8>, PythonError> {
    let fail = |e: std::io::Error| PythonError::Validation(format!("{}: {e}", python.named));
    let mut cmd = Command::new(&python.program);
    cmd.args(["-I", "-S", "-c", program])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    super::sandbox::limit_checker(&mut cmd, &super::PythonLimits::default());
    let mut child = cmd.spawn().map_err(fail)?;
    let input = serde_json::to_vec(request).map_err(|e| PythonError::Validation(e.to_string()))?;
    let writer = child.stdin.take().map(|mut stdin| {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        })
    });
    let (out, err) = wait_with_timeout(&mut child, CHECK_TIMEOUT).map_err(fail)?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    if out.is_empty() {
        let err = String::from_utf8_lossy(&err);
        return Err(PythonError::Validation(format!(
            "the checker failed: {}",
            clip(err.lines().last().unwrap_or("no output"), 300)
        )));
    }
    Ok(out)
}

fn diagnostic(path: &str, f: Finding, utilities: &[&str]) -> PyDiagnostic {
    let (code, message) = match f.code.as_str() {
        "python-syntax" => ("python-syntax", f.detail),
        "python-reserved-name" if f.detail == "class" => (
            "python-reserved-name",
            format!(
                "`{}` is reserved: the engine defines the class `{}` (D3's system script does); name yours otherwise",
                f.name, f.name
            ),
        ),
        "python-reserved-name" => (
            "python-reserved-name",
            format!(
                "`{}` is reserved for the engine (pb, runtime, args and input are defined for every call); a module-level definition would replace it (parameters and locals may use the name)",
                f.name
            ),
        ),
        "python-import" if f.detail == "relative" => (
            "python-import",
            format!(
                "`{}`: a relative import; a script is one file and may import the standard library, requests and pytz",
                f.name
            ),
        ),
        "python-import" => (
            "python-import",
            format!(
                "`{}` is not in the standard library: a script may import the standard library, requests and pytz (and modules of the configured Python library directory)",
                f.name
            ),
        ),
        "python-unknown-utility" => {
            let hint = crate::util::closest(&f.name, utilities.iter().copied())
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            (
                "python-unknown-utility",
                format!(
                    "unknown utility command `D3.Utility.{}`{hint}; `codeless commands` lists them",
                    f.name
                ),
            )
        }
        _ => ("python-syntax", format!("{}: {}", f.code, f.detail)),
    };
    PyDiagnostic {
        path: path.to_owned(),
        line: f.line.max(1),
        column: f.column.max(1),
        code,
        message,
    }
}
