//! Python custom commands (DESIGN.md §11): D3's scripts run unchanged in a warm pool of `python3`
//! worker processes, each isolated from the engine and from the others, speaking JSON lines.
//!
//! The interface the engine uses is small:
//! - [`PythonRuntime::new`] finds and checks the interpreter once; [`PythonRuntime::warm`] starts
//!   the pool's spare workers ahead of the first call.
//! - [`Script`] is an integration's (or utility file's) script, loaded once.
//! - [`PythonRuntime::call`] runs one command's function with its inputs in declaration order and
//!   returns a [`PythonOutcome`]: the output model as `pb.returnOutputModel`'s rules make it, and
//!   the `__RETRY__` request when (and only when) the script returned one. Logs and call-backs
//!   (`D3.Utility`, `D3.Integration`, `conn.sendRequest`) go to the caller's [`Host`] as they happen.
//! - [`validate_scripts`] checks every script of a validate run in one Python process.
//!
//! Module map: `config` (settings and limits), `interpreter` (finding Python), `sandbox` (what a
//! worker process may do, applied between fork and exec), `worker` (one process and the protocol),
//! `pool` (warm workers, replacement), `outcome` (the output model from the script's return),
//! `host` (the call-back trait and helpers), `validate` (the `ast` checks).

mod config;
mod host;
mod interpreter;
mod outcome;
mod pool;
mod sandbox;
mod validate;
mod worker;

pub use config::{Isolation, PythonConfig, PythonLimits};
pub use host::Host;
pub use host::{
    escape_controls, positional_args, HostFuture, HttpReply, HttpRequest, IntegrationCall,
    UtilityCall,
};
pub use interpreter::Interpreter;
pub use outcome::PythonOutcome;
pub use validate::{validate_scripts, PyDiagnostic, ScriptCheck, Validation};

use crate::commands::{Lifecycle, ParamType};
use crate::secrets::Secrets;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The worker's source, run with `python3 -I -S -c`.
const WORKER_PY: &str = include_str!("worker.py");
/// The validator's source (it reuses the worker's `translate`).
const CHECK_PY: &str = include_str!("check.py");

/// Whose script it is: D3's call-back rules depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOwner {
    /// An integration's script (`kind: integration`, `script:`): `conn` and `D3.Integration` of
    /// this integration only.
    Integration(String),
    /// A `kind: utility` file's script: no `conn`, no `D3.Integration`.
    Utility,
}

/// One script file, loaded once and shared by every call of its commands.
#[derive(Debug)]
pub struct Script {
    /// The path shown in tracebacks and diagnostics (as the workspace names the file).
    pub path: String,
    pub source: String,
    /// All Python commands of one integration share it (DESIGN §11); the engine decides what a
    /// draft may do (`--draft`).
    pub status: Lifecycle,
    pub owner: ScriptOwner,
    /// The key workers cache the compiled script by: SHA-256 of the path and the source.
    hash: String,
}

impl Script {
    pub fn new(
        path: impl Into<String>,
        source: impl Into<String>,
        status: Lifecycle,
        owner: ScriptOwner,
    ) -> Arc<Script> {
        let path = path.into();
        let source = source.into();
        let mut h = Sha256::new();
        h.update(path.as_bytes());
        h.update([0]);
        h.update(source.as_bytes());
        Arc::new(Script {
            hash: hex::encode(&h.finalize()[..16]),
            path,
            source,
            status,
            owner,
        })
    }

    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// One input of a call, in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct PyArg {
    pub name: String,
    pub ty: ParamType,
    /// As the engine coerced it; `datetime` as text in any form the date/time utilities accept.
    pub value: Value,
}

/// One call of a Python command.
pub struct PythonCall<'a> {
    pub script: &'a Arc<Script>,
    /// The function: the command's internal name.
    pub function: &'a str,
    /// The command's display name, for the error's indicator (`<Display> failed.`).
    pub display: &'a str,
    pub args: Vec<PyArg>,
    /// `runtime['connector']`: the connection's parameters (a JSON object; `Null` for none).
    pub connector: Value,
    /// `pb.runtime.get('retrycount', 0)`.
    pub retrycount: u32,
    /// The task's `timeout:`; the process is killed when it passes.
    pub timeout: Option<Duration>,
    /// Masked in logs and error messages (tracebacks included).
    pub secrets: &'a Secrets,
    pub host: &'a dyn Host,
    /// A call the host makes while serving a `D3.Integration` call-back: it takes no pool slot
    /// (its caller holds one and waits for it), so nesting cannot exhaust the pool and hang.
    pub nested: bool,
}

/// Why a call produced no output model of the script's own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PythonError {
    /// No suitable interpreter, or it cannot run the sandbox asked for.
    #[error("{0}")]
    Interpreter(String),
    /// A worker process could not be started.
    #[error("cannot start a Python worker: {0}")]
    Start(String),
    /// An input cannot be given to Python (a date/time that is none).
    #[error("{0}")]
    Input(String),
    /// The script raised, exited, cannot be loaded, or lacks the function (masked).
    #[error("{0}")]
    Script(String),
    /// The task's timeout passed.
    #[error("the Python command timed out after {seconds} s; its process was killed")]
    Timeout { seconds: f64 },
    /// The task's timeout passed while every worker was busy.
    #[error("the Python command timed out after {seconds} s waiting for a free Python worker ({workers} of {workers} busy)")]
    Busy { seconds: f64, workers: usize },
    /// A `python-*` limit was passed and the process killed.
    #[error("{0}")]
    Limit(String),
    /// The process died during the call (masked stderr tail included).
    #[error("{0}")]
    Crashed(String),
    /// The worker sent something that is not the protocol.
    #[error("the Python worker broke the protocol ({0}); its process was killed")]
    Protocol(String),
    /// Validation could not run.
    #[error("cannot check Python scripts: {0}")]
    Validation(String),
}

impl PythonError {
    /// The failed output model a task shows for this error (`<Display> failed. Message: ...`).
    pub fn output_model(&self, display: &str) -> crate::output::OutputModel {
        crate::output::OutputModel::failure(crate::output::CommandError::new(
            display,
            self.to_string(),
        ))
    }
}

/// The runtime: the interpreter, the limits and the pool of warm workers.
#[derive(Clone)]
pub struct PythonRuntime {
    pool: Arc<pool::Pool>,
}

impl PythonRuntime {
    /// Finds the interpreter (`config.interpreter`, else `CODELESS_PYTHON`, else `python3` on
    /// PATH), checks it is Python 3.9 or newer and that the isolation asked for works here.
    /// Starts no worker: [`PythonRuntime::warm`] does, or the first call.
    pub fn new(config: PythonConfig) -> Result<PythonRuntime, PythonError> {
        let env = std::env::var_os("CODELESS_PYTHON");
        let interpreter = Interpreter::find(
            config.interpreter.as_deref(),
            env.as_deref(),
            config.library.as_deref(),
        )?;
        let sandbox = sandbox::Plan::new(&config, &interpreter)?;
        Ok(PythonRuntime {
            pool: pool::Pool::new(config, interpreter, sandbox)?,
        })
    }

    pub fn interpreter(&self) -> &Interpreter {
        self.pool.interpreter()
    }

    pub fn config(&self) -> &PythonConfig {
        self.pool.config()
    }

    /// What the isolation level in force protects against here, one line per measure.
    pub fn isolation_summary(&self) -> Vec<String> {
        self.pool.sandbox().summary()
    }

    /// Starts the pool's spare workers and waits until they are ready (an error if one cannot
    /// start: a broken interpreter, a sandbox the machine refuses).
    pub async fn warm(&self) -> Result<(), PythonError> {
        self.pool.warm().await
    }

    /// Runs `call.function` of `call.script` in a worker. `Err` when the call produced no output
    /// model of its own (the script raised or exited, a timeout, a limit, a crash); the pool
    /// replaces a worker that was killed or died, and nothing else is affected.
    pub async fn call(&self, call: PythonCall<'_>) -> Result<PythonOutcome, PythonError> {
        self.pool.call(call).await
    }

    /// Workers alive now (idle or busy), for tests and diagnostics.
    pub fn live_workers(&self) -> usize {
        self.pool.live()
    }

    /// Process ids of the idle workers (for tests that kill one).
    pub fn idle_worker_pids(&self) -> Vec<u32> {
        self.pool.idle_pids()
    }
}
