//! One worker process: starting it (clean environment, its own directory, the sandbox), the
//! JSON-lines conversation of a call with its call-backs, and reading why it died.

use super::host::{escape_controls, HttpRequest, IntegrationCall, UtilityCall};
use super::interpreter::clip;
use super::outcome::Done;
use super::sandbox::Plan;
use super::{Host, PythonError, Script, ScriptOwner};
use crate::secrets::Secrets;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// How long a new worker may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a message outside a call (the ready line) may be.
const SMALL_LINE: u64 = 64 * 1024;
/// Bytes of the worker's stderr kept for the message when it dies.
const STDERR_TAIL: usize = 4096;
/// The only variables a worker's environment has (with HOME and TMPDIR, its directory).
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A message from a worker.
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum FromWorker {
    Ready {
        #[allow(dead_code)]
        version: String,
    },
    NeedSource,
    Log {
        text: String,
    },
    Utility {
        id: u64,
        name: String,
        #[serde(rename = "type", default)]
        type_hint: String,
        #[serde(default)]
        args: Vec<Value>,
        #[serde(default)]
        named: Map<String, Value>,
    },
    Integration {
        id: u64,
        integration: String,
        command: String,
        #[serde(default)]
        args: Vec<Value>,
        #[serde(default)]
        named: Map<String, Value>,
    },
    Request {
        id: u64,
        #[serde(default)]
        method: Value,
        #[serde(default)]
        path: Value,
        #[serde(default)]
        params: Value,
        #[serde(default)]
        json: Value,
        #[serde(default)]
        data: Value,
        #[serde(default)]
        headers: Value,
    },
    Done(Done),
}

/// How a conversation ended without a `done`.
#[derive(Debug)]
pub(super) enum Broken {
    /// The process closed its output (it exited or was killed).
    Ended,
    /// The call's output passed `python-output`.
    Output,
    Protocol(String),
}

/// What a call needs besides the message.
pub(super) struct CallContext<'a> {
    pub script: &'a Script,
    pub host: &'a dyn Host,
    pub secrets: &'a Secrets,
    /// `python-output`, in bytes.
    pub output_limit: u64,
}

pub(super) struct Worker {
    child: Option<Child>,
    pid: u32,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    dir: Option<WorkDir>,
    /// The script this worker has run (it is reused only for it, by default).
    pub(super) affinity: Option<String>,
    pub(super) calls: u32,
    /// Whether the process may still be signalled by its pid (not yet reaped).
    signallable: bool,
}

impl Worker {
    /// Starts a worker and waits for its `ready`.
    pub(super) async fn start(
        program: &Path,
        source: &str,
        sys_path: &[String],
        plan: &Plan,
        root: &Path,
    ) -> Result<Worker, PythonError> {
        let dir = WorkDir::create(root)
            .map_err(|e| PythonError::Start(format!("its directory in {}: {e}", root.display())))?;
        let config = json!({ "path": sys_path }).to_string();
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("-I")
            .arg("-S")
            .arg("-c")
            .arg(source)
            .arg(config)
            .env_clear()
            .env("PATH", PATH)
            .env("LANG", "C.UTF-8")
            .env("HOME", dir.path())
            .env("TMPDIR", dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let sandbox = plan.for_worker(dir.path(), plan.cpu_rlimit());
        // SAFETY: `apply` makes system calls only, on data prepared before the fork.
        unsafe {
            cmd.pre_exec(move || sandbox.apply());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| PythonError::Start(format!("{}: {e}", program.display())))?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(PythonError::Start("its pipes were not made".into()));
        };
        let tail = Arc::new(Mutex::new(Vec::new()));
        let stderr_task = tokio::spawn(keep_tail(stderr, tail.clone()));
        let mut worker = Worker {
            child: Some(child),
            pid,
            stdin,
            stdout: BufReader::with_capacity(64 * 1024, stdout),
            stderr: tail,
            stderr_task: Some(stderr_task),
            dir: Some(dir),
            affinity: None,
            calls: 0,
            signallable: true,
        };
        match tokio::time::timeout(START_TIMEOUT, worker.read_message(SMALL_LINE)).await {
            Ok(Ok((FromWorker::Ready { .. }, _))) => Ok(worker),
            Ok(Ok((other, _))) => Err(PythonError::Start(format!(
                "it sent {other:?} before ready"
            ))),
            Ok(Err(_)) => Err(PythonError::Start(worker.death_note().await)),
            Err(_) => Err(PythonError::Start(format!(
                "it was not ready within {} s",
                START_TIMEOUT.as_secs()
            ))),
        }
    }

    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process has already ended (killed while idle, say); it is reaped then.
    pub(super) fn has_exited(&mut self) -> bool {
        let exited = self
            .child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
        if exited {
            self.signallable = false;
        }
        exited
    }

    /// CPU seconds the process has used (user and system, all threads); Linux only.
    pub(super) fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid)
    }

    /// Runs one call: sends `message` and answers the worker's call-backs until it is done.
    pub(super) async fn converse(
        &mut self,
        message: &[u8],
        ctx: &CallContext<'_>,
    ) -> Result<Done, Broken> {
        self.send(message).await?;
        let mut used: u64 = 0;
        loop {
            let room = ctx.output_limit.saturating_sub(used);
            let (msg, len) = self.read_message(room).await?;
            used += len;
            match msg {
                FromWorker::Done(done) => return Ok(done),
                FromWorker::Log { text } => {
                    ctx.host.log(&escape_controls(&ctx.secrets.mask(&text)));
                }
                FromWorker::NeedSource => {
                    let reply = json!({"op": "source", "source": ctx.script.source});
                    self.send_value(&reply).await?;
                }
                FromWorker::Utility {
                    id,
                    name,
                    type_hint,
                    args,
                    named,
                } => {
                    let r = ctx
                        .host
                        .utility(UtilityCall {
                            name,
                            type_hint,
                            args,
                            named,
                        })
                        .await;
                    self.reply(id, r).await?;
                }
                FromWorker::Integration {
                    id,
                    integration,
                    command,
                    args,
                    named,
                } => {
                    let r = match own_integration(&ctx.script.owner, &integration) {
                        Ok(own) => ctx
                            .host
                            .integration(IntegrationCall {
                                integration: own.to_owned(),
                                command,
                                args,
                                named,
                            })
                            .await
                            .and_then(|out| serde_json::to_value(out).map_err(|e| e.to_string())),
                        Err(e) => Err(e),
                    };
                    self.reply(id, r).await?;
                }
                FromWorker::Request {
                    id,
                    method,
                    path,
                    params,
                    json,
                    data,
                    headers,
                } => {
                    let r = match (&ctx.script.owner, method, path) {
                        (ScriptOwner::Utility, _, _) => Err(
                            "conn.sendRequest is available in integration scripts only; this is a utility script"
                                .to_owned(),
                        ),
                        (_, Value::String(method), Value::String(path)) => {
                            let reply = ctx
                                .host
                                .send_request(HttpRequest {
                                    method,
                                    path,
                                    params,
                                    json,
                                    data,
                                    headers,
                                })
                                .await;
                            Ok(json!({"body": reply.body, "error": reply.error}))
                        }
                        _ => Err("conn.sendRequest: the method and the path must be text".into()),
                    };
                    self.reply(id, r).await?;
                }
                FromWorker::Ready { .. } => {
                    return Err(Broken::Protocol("`ready` during a call".into()))
                }
            }
        }
    }

    async fn reply(&mut self, id: u64, r: Result<Value, String>) -> Result<(), Broken> {
        let msg = match r {
            Ok(v) => json!({"op": "reply", "id": id, "value": v}),
            Err(e) => json!({"op": "reply", "id": id, "error": e}),
        };
        self.send_value(&msg).await
    }

    async fn send_value(&mut self, v: &Value) -> Result<(), Broken> {
        let bytes = serde_json::to_vec(v).map_err(|e| Broken::Protocol(e.to_string()))?;
        self.send(&bytes).await
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), Broken> {
        let write = async {
            self.stdin.write_all(bytes).await?;
            self.stdin.write_all(b"\n").await?;
            self.stdin.flush().await
        };
        write.await.map_err(|_| Broken::Ended)
    }

    /// One message, at most `room` bytes; returns it and the bytes it took.
    async fn read_message(&mut self, room: u64) -> Result<(FromWorker, u64), Broken> {
        let line = read_line(&mut self.stdout, room).await?;
        let len = line.len() as u64 + 1;
        let msg = serde_json::from_slice(&line).map_err(|e| {
            Broken::Protocol(format!(
                "{e} in {}",
                clip(&String::from_utf8_lossy(&line), 80)
            ))
        })?;
        Ok((msg, len))
    }

    /// Kills the worker's process group (its process, and anything it left in the group).
    pub(super) fn kill(&mut self) {
        if self.signallable && self.pid > 0 {
            // SAFETY: a signal to our own child's group; its pid is not reused before we reap it.
            unsafe {
                libc::killpg(self.pid as libc::pid_t, libc::SIGKILL);
            }
        }
    }

    /// Why the process is gone: its exit status or signal, and the end of its stderr (kills it
    /// first if it is not gone yet).
    pub(super) async fn death_note(&mut self) -> String {
        self.kill();
        let status = match self.child.as_mut() {
            Some(c) => tokio::time::timeout(Duration::from_secs(2), c.wait())
                .await
                .ok()
                .and_then(Result::ok),
            None => None,
        };
        if status.is_some() {
            self.signallable = false;
        }
        if let Some(t) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), t).await;
        }
        let how = match status {
            Some(s) => describe_exit(s),
            None => "stopped answering".to_owned(),
        };
        let tail = self.stderr_tail();
        if tail.is_empty() {
            how
        } else {
            format!("{how}; its last output: {tail}")
        }
    }

    fn stderr_tail(&self) -> String {
        let bytes = self.stderr.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let start = lines.len().saturating_sub(6);
        lines[start..].join(" | ")
    }

    /// Empties the worker's directory for the next call; false when it cannot.
    pub(super) fn clear_dir(&self) -> bool {
        self.dir.as_ref().is_some_and(WorkDir::clear)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
        let child = self.child.take();
        let dir = self.dir.take();
        // Reap the process, then remove its directory (it may write until it is dead).
        if let (Some(mut child), Ok(rt)) = (child, tokio::runtime::Handle::try_current()) {
            rt.spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                drop(dir);
            });
        }
    }
}

/// `D3.Integration.{Integration}.{Command}`: D3 lets a utility script call none, and an
/// integration script only its own integration's commands. Names compare without case, spaces
/// or punctuation (a Python name cannot hold the integration's spaces).
fn own_integration<'a>(owner: &'a ScriptOwner, written: &str) -> Result<&'a str, String> {
    match owner {
        ScriptOwner::Utility => Err(format!(
            "a utility script cannot call integration commands (D3.Integration.{written}...)"
        )),
        ScriptOwner::Integration(own) if same_name(own, written) => Ok(own),
        ScriptOwner::Integration(own) => Err(format!(
            "a script calls only its own integration's commands: `{written}` is not `{own}`"
        )),
    }
}

fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    norm(a) == norm(b)
}

/// A line of at most `room` bytes (without its newline).
async fn read_line(r: &mut BufReader<ChildStdout>, room: u64) -> Result<Vec<u8>, Broken> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await.map_err(|_| Broken::Ended)?;
        if buf.is_empty() {
            return Err(Broken::Ended);
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            if (line.len() + i) as u64 >= room {
                return Err(Broken::Output);
            }
            line.extend_from_slice(&buf[..i]);
            r.consume(i + 1);
            return Ok(line);
        }
        let n = buf.len();
        if (line.len() + n) as u64 >= room {
            return Err(Broken::Output);
        }
        line.extend_from_slice(buf);
        r.consume(n);
    }
}

/// Drains the worker's stderr, keeping its last bytes.
async fn keep_tail(mut stderr: tokio::process::ChildStderr, tail: Arc<Mutex<Vec<u8>>>) {
    let mut buf = vec![0u8; 8192];
    loop {
        match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut t) = tail.lock() {
                    t.extend_from_slice(&buf[..n]);
                    if t.len() > STDERR_TAIL {
                        let cut = t.len() - STDERR_TAIL;
                        t.drain(..cut);
                    }
                }
            }
        }
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig} ({})", signal_name(sig)),
        _ => "ended".to_owned(),
    }
}

pub(super) fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGXCPU => "SIGXCPU: the CPU limit",
        libc::SIGXFSZ => "SIGXFSZ: the file size limit",
        libc::SIGTERM => "SIGTERM",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        _ => "a signal",
    }
}

/// CPU seconds of process `pid` from /proc (utime + stime).
#[cfg(target_os = "linux")]
pub(super) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf reads a constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (ticks > 0).then(|| (utime + stime) / ticks as f64)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn cpu_seconds(_: u32) -> Option<f64> {
    None
}

/// A worker's temporary directory: made private (0700), emptied between calls, removed at the end.
pub(super) struct WorkDir {
    path: PathBuf,
}

static DIRS: AtomicU64 = AtomicU64::new(0);

impl WorkDir {
    fn create(root: &Path) -> std::io::Result<WorkDir> {
        use std::os::unix::fs::DirBuilderExt;
        loop {
            let n = DIRS.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = root.join(format!(
                "codeless-python-{}-{n}-{nanos:08x}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(WorkDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes what a call left (keeping the directory itself: strict mode's rule names it).
    fn clear(&self) -> bool {
        let Ok(entries) = std::fs::read_dir(&self.path) else {
            return false;
        };
        let mut ok = true;
        for e in entries.flatten() {
            let p = e.path();
            let removed = match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&p),
                _ => std::fs::remove_file(&p),
            };
            ok &= removed.is_ok();
        }
        ok
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_names_compare_loosely_and_utilities_call_none() {
        let own = ScriptOwner::Integration("My SIEM".into());
        assert_eq!(own_integration(&own, "MySIEM"), Ok("My SIEM"));
        assert_eq!(own_integration(&own, "my_siem"), Ok("My SIEM"));
        assert_eq!(
            own_integration(&own, "Other").unwrap_err(),
            "a script calls only its own integration's commands: `Other` is not `My SIEM`"
        );
        assert_eq!(
            own_integration(&ScriptOwner::Utility, "MySIEM").unwrap_err(),
            "a utility script cannot call integration commands (D3.Integration.MySIEM...)"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_time_of_this_process_reads() {
        let t = cpu_seconds(std::process::id()).unwrap();
        assert!((0.0..1e6).contains(&t));
    }

    #[test]
    fn work_dirs_are_private_and_cleared() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let d = WorkDir::create(root.path()).unwrap();
        let mode = std::fs::metadata(d.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::write(d.path().join("f"), "x").unwrap();
        std::fs::create_dir_all(d.path().join("sub/deeper")).unwrap();
        assert!(d.clear());
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
        let p = d.path().to_path_buf();
        drop(d);
        assert!(!p.exists());
    }
}
