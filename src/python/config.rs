//! The runtime's settings: interpreter, library directory, limits, pool shape, isolation level.

use std::path::PathBuf;

/// The `python-*` limits (DESIGN §11), each per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PythonLimits {
    /// `python-memory`: bytes of address space of a worker process (RLIMIT_AS).
    pub memory: u64,
    /// `python-cpu`: seconds of CPU time one call may use.
    pub cpu_seconds: u64,
    /// `python-output`: bytes one call may send back (logs, call-backs and its result together;
    /// a single line over it too).
    pub output: u64,
}

impl PythonLimits {
    pub const DEFAULT_MEMORY: u64 = 1024 * 1024 * 1024;
    pub const DEFAULT_CPU_SECONDS: u64 = 60;
    pub const DEFAULT_OUTPUT: u64 = 16 * 1024 * 1024;
}

impl Default for PythonLimits {
    fn default() -> Self {
        PythonLimits {
            memory: Self::DEFAULT_MEMORY,
            cpu_seconds: Self::DEFAULT_CPU_SECONDS,
            output: Self::DEFAULT_OUTPUT,
        }
    }
}

/// How far a worker is shut in. See docs/python.md for what each level protects against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// A clean environment, its own temporary directory, rlimits, its own process group killed
    /// on timeout, no new processes (seccomp), killed with the engine (parent-death signal).
    #[default]
    Basic,
    /// Basic, and: Landlock lets the script write only in its directory and read only the Python
    /// installation, its libraries and system files; no network (a network namespace, else
    /// Landlock's TCP rules); no signals to processes outside (Landlock ABI 6). Refused with a
    /// message where the kernel cannot do it.
    Strict,
}

impl Isolation {
    pub fn parse(s: &str) -> Option<Isolation> {
        match s {
            "basic" => Some(Isolation::Basic),
            "strict" => Some(Isolation::Strict),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Isolation::Basic => "basic",
            Isolation::Strict => "strict",
        }
    }
}

#[derive(Debug, Clone)]
pub struct PythonConfig {
    /// The interpreter; `None`: `CODELESS_PYTHON`, else `python3` on PATH.
    pub interpreter: Option<PathBuf>,
    /// Libraries for scripts: a virtual environment (its `site-packages` for the interpreter's
    /// version is used) or a directory of packages. Searched before the interpreter's own.
    pub library: Option<PathBuf>,
    pub limits: PythonLimits,
    /// Most worker processes alive at once (and so calls running at once).
    pub pool_size: usize,
    /// Unused workers kept started ahead of need.
    pub spares: usize,
    /// A worker that ran one script is reused only for that script unless this is set.
    pub share_workers_between_scripts: bool,
    /// A worker is retired after this many calls (bounds what a script leaks across calls).
    pub max_calls_per_worker: u32,
    pub isolation: Isolation,
    /// Where workers' temporary directories are made; `None`: the system's temporary directory.
    pub temp_root: Option<PathBuf>,
}

impl Default for PythonConfig {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
        PythonConfig {
            interpreter: None,
            library: None,
            limits: PythonLimits::default(),
            pool_size: cpus.clamp(2, 8),
            spares: 1,
            share_workers_between_scripts: false,
            max_calls_per_worker: 1000,
            isolation: Isolation::Basic,
            temp_root: None,
        }
    }
}
