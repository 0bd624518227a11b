//! Finding the Python interpreter and checking it once: version 3.9 or newer, its real
//! executable (a pyenv shim or a wrapper script is resolved, so workers start without it), its
//! module path, and the library directory's `site-packages`.

use super::PythonError;
use serde::Deserialize;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The oldest Python the scripts are run with (D3 runs 3.9.12).
pub const MIN_VERSION: (u32, u32) = (3, 9);

/// How long the interpreter may take to answer the probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs with the interpreter's site enabled; prints what the workers need as one JSON object.
/// Written for any Python (2 included) so an old one is reported by version, not by a crash.
const PROBE: &str = r#"
import json, os, sys
out = {"version": list(sys.version_info[:3]), "executable": sys.executable,
       "prefixes": sorted(set([sys.prefix, getattr(sys, "base_prefix", sys.prefix),
                               sys.exec_prefix, getattr(sys, "base_exec_prefix", sys.exec_prefix)]))}
lib = sys.argv[1] if len(sys.argv) > 1 else ""
if lib and sys.version_info >= (3, 9):
    sp = lib
    if os.path.exists(os.path.join(lib, "pyvenv.cfg")):
        sp = os.path.join(lib, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
    if os.path.isdir(sp):
        import site
        before = list(sys.path)
        site.addsitedir(sp)
        added = [p for p in sys.path if p not in before]
        sys.path[:] = added + before
        out["library"] = os.path.abspath(sp)
    else:
        out["library_error"] = sp
out["path"] = [p for p in sys.path if p]
print(json.dumps(out))
"#;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpreter {
    /// The real executable (`sys.executable`), started directly by workers.
    pub program: PathBuf,
    /// How it was asked for, for messages (`python3`, `CODELESS_PYTHON=/opt/py/bin/python`).
    pub named: String,
    pub version: (u32, u32, u32),
    /// `sys.path` as the interpreter's site builds it, the library directory first.
    pub sys_path: Vec<String>,
    /// The library directory's `site-packages` (a venv's for this version), when one is given.
    pub library: Option<PathBuf>,
    /// `sys.prefix` and friends: where the interpreter's own files are.
    pub prefixes: Vec<PathBuf>,
}

#[derive(Deserialize)]
struct Probe {
    version: Vec<u32>,
    executable: String,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    path: Vec<String>,
    library: Option<String>,
    library_error: Option<String>,
}

impl Interpreter {
    /// The interpreter `explicit` names, else the one `codeless_python` (the variable's value)
    /// names, else `python3` on PATH; checked by running it once.
    pub fn find(
        explicit: Option<&Path>,
        codeless_python: Option<&OsStr>,
        library: Option<&Path>,
    ) -> Result<Interpreter, PythonError> {
        let (program, named) = match (explicit, codeless_python) {
            (Some(p), _) => (p.to_path_buf(), format!("`{}`", p.display())),
            (None, Some(v)) if !v.is_empty() => (
                PathBuf::from(v),
                format!("CODELESS_PYTHON=`{}`", Path::new(v).display()),
            ),
            _ => (PathBuf::from("python3"), "`python3`".to_owned()),
        };
        let default = explicit.is_none() && codeless_python.is_none_or(OsStr::is_empty);
        let probe = run_probe(&program, library).map_err(|e| {
            PythonError::Interpreter(if default && e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "no Python for Python commands: CODELESS_PYTHON is not set and `python3` is not on PATH (install Python {}.{} or newer, or set CODELESS_PYTHON to its path)",
                    MIN_VERSION.0, MIN_VERSION.1
                )
            } else {
                format!(
                    "{named} cannot be run as the Python for Python commands: {e} (set CODELESS_PYTHON to a Python {}.{} or newer{})",
                    MIN_VERSION.0,
                    MIN_VERSION.1,
                    if default { "" } else { ", or unset it to use `python3` on PATH" }
                )
            })
        })?;
        Self::from_probe(probe, named, library)
    }

    fn from_probe(
        probe: Probe,
        named: String,
        library: Option<&Path>,
    ) -> Result<Interpreter, PythonError> {
        let version = match probe.version[..] {
            [a, b, c, ..] => (a, b, c),
            _ => {
                return Err(PythonError::Interpreter(format!(
                    "{named} did not report its version"
                )))
            }
        };
        if (version.0, version.1) < MIN_VERSION {
            return Err(PythonError::Interpreter(format!(
                "{named} is Python {}.{}.{}; Python commands need Python {}.{} or newer (set CODELESS_PYTHON to a newer one)",
                version.0, version.1, version.2, MIN_VERSION.0, MIN_VERSION.1
            )));
        }
        if let (Some(dir), Some(missing)) = (library, probe.library_error) {
            return Err(PythonError::Interpreter(format!(
                "the Python library directory {} has no {missing} for Python {}.{} (a virtual environment made with another Python?)",
                dir.display(),
                version.0,
                version.1
            )));
        }
        if probe.executable.is_empty() {
            return Err(PythonError::Interpreter(format!(
                "{named} does not know its own executable (sys.executable is empty)"
            )));
        }
        Ok(Interpreter {
            program: PathBuf::from(probe.executable),
            named,
            version,
            sys_path: probe.path,
            library: probe.library.map(PathBuf::from),
            prefixes: probe.prefixes.into_iter().map(PathBuf::from).collect(),
        })
    }

    pub fn version_text(&self) -> String {
        format!("{}.{}.{}", self.version.0, self.version.1, self.version.2)
    }
}

/// Runs the probe with the caller's environment (a pyenv shim needs it); its answer names the
/// real executable, which workers then start with a clean one.
fn run_probe(program: &Path, library: Option<&Path>) -> std::io::Result<Probe> {
    let mut cmd = Command::new(program);
    cmd.arg("-I").arg("-c").arg(PROBE);
    if let Some(lib) = library {
        cmd.arg(lib);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let (out, err) = wait_with_timeout(&mut child, PROBE_TIMEOUT)?;
    serde_json::from_slice::<Probe>(&out).map_err(|_| {
        let err = String::from_utf8_lossy(&err);
        let last = err.lines().last().unwrap_or("").trim();
        std::io::Error::other(if last.is_empty() {
            "it did not answer as Python 3 does".to_owned()
        } else {
            format!("it did not answer as Python 3 does ({})", clip(last, 200))
        })
    })
}

/// Waits for `child` (killing it after `timeout`), returning its stdout and stderr (each read
/// on its own thread so neither pipe can fill and stall it).
pub(super) fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(64 * 1024 * 1024).read_to_end(&mut v);
        }
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(1024 * 1024).read_to_end(&mut v);
        }
        v
    });
    let start = Instant::now();
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("it did not answer within {} s", timeout.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    Ok((out, err))
}

pub(super) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
