//! The warm pool: at most `pool_size` workers, `spares` of them started ahead of need; a worker
//! is lent for one call at a time, reused for the same script, and replaced in the background
//! when it is killed, dies or is retired.

use super::config::PythonConfig;
use super::interpreter::Interpreter;
use super::outcome::PythonOutcome;
use super::sandbox::Plan;
use super::worker::{Broken, CallContext, Worker};
use super::{PyArg, PythonCall, PythonError, ScriptOwner};
use crate::commands::ParamType;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// How often a running call's CPU time is read.
const CPU_TICK: Duration = Duration::from_millis(200);

pub(super) struct Pool {
    config: PythonConfig,
    interpreter: Interpreter,
    plan: Plan,
    /// The worker program: worker.py and the call of its entry point.
    program: String,
    root: PathBuf,
    state: Mutex<State>,
    /// One permit per call running.
    permits: Arc<Semaphore>,
    /// A worker became idle (or a start ended).
    idle: Notify,
}

#[derive(Default)]
struct State {
    idle: Vec<Worker>,
    /// Workers alive: idle and lent.
    live: usize,
    /// Workers being started.
    starting: usize,
}

/// What a checkout does, decided under the lock.
enum Step {
    Take(Box<Worker>),
    Start,
    Wait,
}

impl Pool {
    pub(super) fn new(
        mut config: PythonConfig,
        interpreter: Interpreter,
        plan: Plan,
    ) -> Result<Arc<Pool>, PythonError> {
        config.pool_size = config.pool_size.max(1);
        config.spares = config.spares.min(config.pool_size);
        if !plan.per_call_cpu() {
            // Without a per-call CPU watchdog, RLIMIT_CPU is per call only if a worker serves one.
            config.max_calls_per_worker = 1;
        }
        let root = config.temp_root.clone().unwrap_or_else(std::env::temp_dir);
        Ok(Arc::new(Pool {
            permits: Arc::new(Semaphore::new(config.pool_size)),
            program: format!("{}\n_main()\n", super::WORKER_PY),
            config,
            interpreter,
            plan,
            root,
            state: Mutex::new(State::default()),
            idle: Notify::new(),
        }))
    }

    pub(super) fn interpreter(&self) -> &Interpreter {
        &self.interpreter
    }

    pub(super) fn config(&self) -> &PythonConfig {
        &self.config
    }

    pub(super) fn sandbox(&self) -> &Plan {
        &self.plan
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain counters and a list: still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn live(&self) -> usize {
        self.state().live
    }

    pub(super) fn idle_pids(&self) -> Vec<u32> {
        self.state().idle.iter().map(Worker::pid).collect()
    }

    async fn start_worker(&self) -> Result<Worker, PythonError> {
        Worker::start(
            &self.interpreter.program,
            &self.program,
            &self.interpreter.sys_path,
            &self.plan,
            &self.root,
        )
        .await
    }

    /// Starts the spare workers now and waits for them.
    pub(super) async fn warm(self: &Arc<Self>) -> Result<(), PythonError> {
        let wanted = {
            let mut st = self.state();
            let fresh = st.idle.iter().filter(|w| w.affinity.is_none()).count();
            let n = self
                .config
                .spares
                .saturating_sub(fresh + st.starting)
                .min(self.config.pool_size.saturating_sub(st.live + st.starting));
            st.starting += n;
            n
        };
        let starts = (0..wanted).map(|_| self.start_worker());
        let mut first_error = None;
        for r in futures::future::join_all(starts).await {
            let mut st = self.state();
            st.starting -= 1;
            match r {
                Ok(w) => {
                    st.live += 1;
                    st.idle.push(w);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        self.idle.notify_waiters();
        first_error.map_or(Ok(()), Err)
    }

    /// Starts a spare in the background when fewer than `spares` unused workers are at hand.
    fn replenish(self: &Arc<Self>) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        {
            let mut st = self.state();
            let fresh = st.idle.iter().filter(|w| w.affinity.is_none()).count();
            if fresh + st.starting >= self.config.spares
                || st.live + st.starting >= self.config.pool_size
            {
                return;
            }
            st.starting += 1;
        }
        let pool = self.clone();
        rt.spawn(async move {
            let r = pool.start_worker().await;
            let mut st = pool.state();
            st.starting -= 1;
            if let Ok(w) = r {
                st.live += 1;
                st.idle.push(w);
            }
            drop(st);
            pool.idle.notify_one();
        });
    }

    /// A worker for `script`: one that ran it, else an unused one, else a new one (retiring an
    /// idle worker of another script when the pool is full).
    async fn checkout(self: &Arc<Self>, script: &str, nested: bool) -> Result<Lease, PythonError> {
        let permit = if nested {
            None
        } else {
            Some(
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| PythonError::Start("the Python pool is closed".into()))?,
            )
        };
        loop {
            let notified = self.idle.notified();
            let step = self.next_step(script, nested);
            match step {
                Step::Take(w) => {
                    let mut w = *w;
                    if w.affinity.is_none() {
                        self.replenish();
                    }
                    if w.has_exited() || self.worn_out(&w) {
                        self.lost(w);
                        continue;
                    }
                    return Ok(Lease {
                        pool: self.clone(),
                        worker: Some(w),
                        _permit: permit,
                    });
                }
                Step::Start => {
                    let r = self.start_worker().await;
                    let mut st = self.state();
                    st.starting -= 1;
                    let w = r?;
                    st.live += 1;
                    drop(st);
                    return Ok(Lease {
                        pool: self.clone(),
                        worker: Some(w),
                        _permit: permit,
                    });
                }
                Step::Wait => notified.await,
            }
        }
    }

    fn next_step(&self, script: &str, nested: bool) -> Step {
        let mut st = self.state();
        let share = self.config.share_workers_between_scripts;
        let pick = st
            .idle
            .iter()
            .rposition(|w| w.affinity.as_deref() == Some(script))
            .or_else(|| st.idle.iter().rposition(|w| w.affinity.is_none()))
            .or_else(|| share.then(|| st.idle.len().checked_sub(1)).flatten());
        if let Some(i) = pick {
            return Step::Take(Box::new(st.idle.swap_remove(i)));
        }
        if nested || st.live + st.starting < self.config.pool_size {
            st.starting += 1;
            return Step::Start;
        }
        if !st.idle.is_empty() {
            // Full of other scripts' workers: the longest idle one makes room.
            let old = st.idle.remove(0);
            st.live -= 1;
            st.starting += 1;
            drop(st);
            drop(old);
            return Step::Start;
        }
        Step::Wait
    }

    /// Past its call count, or its CPU time nears the worker's RLIMIT_CPU backstop.
    fn worn_out(&self, w: &Worker) -> bool {
        let cpu_cap = 2.0 * self.config.limits.cpu_seconds as f64;
        w.calls >= self.config.max_calls_per_worker
            || w.cpu_seconds().is_some_and(|used| used > cpu_cap)
    }

    /// A worker that will not come back: killed now, replaced in the background.
    fn lost(self: &Arc<Self>, w: Worker) {
        drop(w);
        self.state().live -= 1;
        self.idle.notify_one();
        self.replenish();
    }

    fn give_back(self: &Arc<Self>, w: Worker) {
        let mut st = self.state();
        if st.live > self.config.pool_size {
            // A nested call's extra worker: the pool shrinks back to its size.
            drop(st);
            return self.lost(w);
        }
        st.idle.push(w);
        drop(st);
        self.idle.notify_one();
    }

    /// Runs one call (see `PythonRuntime::call`).
    pub(super) async fn call(
        self: &Arc<Self>,
        call: PythonCall<'_>,
    ) -> Result<PythonOutcome, PythonError> {
        let message = call_message(&call)?;
        // The task's timeout counts from here: waiting for a free worker is part of the call.
        let deadline = call.timeout.map(|t| tokio::time::Instant::now() + t);
        let checkout = self.checkout(call.script.hash(), call.nested);
        let mut lease =
            match deadline {
                Some(d) => tokio::time::timeout_at(d, checkout).await.map_err(|_| {
                    PythonError::Busy {
                        seconds: call.timeout.map_or(0.0, |t| t.as_secs_f64()),
                        workers: self.config.pool_size,
                    }
                })??,
                None => checkout.await?,
            };
        let ctx = CallContext {
            script: call.script,
            host: call.host,
            secrets: call.secrets,
            output_limit: self.config.limits.output,
        };
        let limits = self.config.limits;
        let ended = {
            let w = lease.worker();
            let pid = w.pid();
            let cpu_start = w.cpu_seconds();
            w.calls += 1;
            w.affinity = Some(call.script.hash().to_owned());
            let conversation = w.converse(&message, &ctx);
            let timeout = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let cpu = cpu_watch(pid, cpu_start, limits.cpu_seconds as f64);
            tokio::select! {
                biased;
                r = conversation => r.map_err(Ended::Broken),
                _ = timeout => Err(Ended::Timeout),
                _ = cpu => Err(Ended::Cpu),
            }
        };
        match ended {
            Ok(done) => {
                let retire = done.retire;
                let r = done.into_outcome(call.display, call.secrets, &limits);
                let keep =
                    !retire && !matches!(r, Err(PythonError::Protocol(_) | PythonError::Limit(_)));
                lease.finish(keep);
                r
            }
            Err(Ended::Timeout) => {
                lease.worker().kill();
                Err(PythonError::Timeout {
                    seconds: call.timeout.map_or(0.0, |t| t.as_secs_f64()),
                })
            }
            Err(Ended::Cpu) => {
                lease.worker().kill();
                Err(PythonError::Limit(format!(
                    "the Python command used more than the python-cpu limit of {} s of CPU time; its process was killed ({})",
                    limits.cpu_seconds,
                    crate::limits::raise_hint("python-cpu")
                )))
            }
            Err(Ended::Broken(Broken::Output)) => {
                lease.worker().kill();
                Err(PythonError::Limit(format!(
                    "the Python command's output (logs, call-backs and result) passed the python-output limit of {}; its process was killed ({})",
                    crate::limits::show_size(limits.output),
                    crate::limits::raise_hint("python-output")
                )))
            }
            Err(Ended::Broken(Broken::Protocol(m))) => {
                lease.worker().kill();
                Err(PythonError::Protocol(call.secrets.mask(&m)))
            }
            Err(Ended::Broken(Broken::Ended)) => {
                let note = call.secrets.mask(&lease.worker().death_note().await);
                Err(died(note, &limits))
            }
        }
    }
}

enum Ended {
    Broken(Broken),
    Timeout,
    Cpu,
}

/// The message for a process that died during a call.
fn died(note: String, limits: &super::PythonLimits) -> PythonError {
    if note.contains("SIGXCPU") {
        return PythonError::Limit(format!(
            "the Python command used more than the python-cpu limit of {} s of CPU time ({}); its process {note}",
            limits.cpu_seconds,
            crate::limits::raise_hint("python-cpu")
        ));
    }
    if note.contains("MemoryError") || note.contains("Cannot allocate memory") {
        return PythonError::Limit(super::outcome::memory_message(limits, &note));
    }
    PythonError::Crashed(format!(
        "the Python process {note} before the command returned"
    ))
}

/// Resolves when process `pid` has used more than `limit` CPU seconds since `start`.
async fn cpu_watch(pid: u32, start: Option<f64>, limit: f64) {
    let Some(start) = start else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(CPU_TICK).await;
        match super::worker::cpu_seconds(pid) {
            Some(now) if now - start > limit => return,
            Some(_) => {}
            None => return std::future::pending().await,
        }
    }
}

/// A worker lent for one call; dropped unfinished (the call's future dropped, a timeout) it is
/// killed and replaced.
struct Lease {
    pool: Arc<Pool>,
    worker: Option<Worker>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Lease {
    fn worker(&mut self) -> &mut Worker {
        match self.worker.as_mut() {
            Some(w) => w,
            None => unreachable!("a lease holds its worker until it ends"),
        }
    }

    /// The call ended with the worker sound: back to the pool if `keep` (and its directory
    /// could be emptied), else retired.
    fn finish(mut self, keep: bool) {
        if let Some(w) = self.worker.take() {
            if keep && w.clear_dir() {
                self.pool.give_back(w);
            } else {
                self.pool.lost(w);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(w) = self.worker.take() {
            self.pool.lost(w);
        }
    }
}

/// The `call` message (without the source: the worker asks for it when it lacks the script).
fn call_message(call: &PythonCall<'_>) -> Result<Vec<u8>, PythonError> {
    let mut args = Vec::with_capacity(call.args.len());
    let mut types = Vec::with_capacity(call.args.len());
    let mut names = Vec::with_capacity(call.args.len());
    for a in &call.args {
        args.push(python_value(a)?);
        types.push(a.ty.name());
        names.push(a.name.as_str());
    }
    let integration = match &call.script.owner {
        ScriptOwner::Integration(name) => Value::String(name.clone()),
        ScriptOwner::Utility => Value::Null,
    };
    let connector = match &call.connector {
        Value::Null => json!({}),
        other => other.clone(),
    };
    let msg = json!({
        "op": "call",
        "hash": call.script.hash(),
        "path": call.script.path,
        "source": Value::Null,
        "function": call.function,
        "args": args,
        "types": types,
        "names": names,
        "connector": connector,
        "retrycount": call.retrycount,
        "integration": integration,
    });
    serde_json::to_vec(&msg).map_err(|e| PythonError::Input(e.to_string()))
}

/// An input as the worker receives it: a datetime as `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC; the
/// worker makes it a naive datetime), anything else as it is.
fn python_value(a: &PyArg) -> Result<Value, PythonError> {
    if a.ty != ParamType::Datetime {
        return Ok(a.value.clone());
    }
    let text = match &a.value {
        Value::Null => return Ok(Value::Null),
        Value::String(s) if s.trim().is_empty() => return Ok(Value::Null),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let Some(t) = crate::commands::parse_datetime(&text) else {
        return Err(PythonError::Input(format!(
            "parameter `{}` is not a date/time: {:?} (expected e.g. 2026-01-02 03:04:05)",
            a.name,
            super::interpreter::clip(&text, 60)
        )));
    };
    use chrono::Datelike;
    if !(1..=9999).contains(&t.year()) {
        return Err(PythonError::Input(format!(
            "parameter `{}`: {text:?} is outside the years Python's datetime holds (1 to 9999)",
            a.name
        )));
    }
    Ok(Value::String(
        t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arg(ty: ParamType, v: Value) -> PyArg {
        PyArg {
            name: "start_time".into(),
            ty,
            value: v,
        }
    }

    #[test]
    fn datetimes_go_as_naive_utc_and_others_as_they_are() {
        assert_eq!(
            python_value(&arg(
                ParamType::Datetime,
                json!("2026-01-02T03:04:05+02:00")
            ))
            .unwrap(),
            json!("2026-01-02T01:04:05.000000")
        );
        assert_eq!(
            python_value(&arg(ParamType::Datetime, json!("2026-01-02 03:04:05"))).unwrap(),
            json!("2026-01-02T03:04:05.000000")
        );
        assert_eq!(
            python_value(&arg(ParamType::Datetime, json!(""))).unwrap(),
            Value::Null
        );
        assert_eq!(
            python_value(&arg(ParamType::Datetime, json!("soon"))).unwrap_err(),
            PythonError::Input(
                "parameter `start_time` is not a date/time: \"soon\" (expected e.g. 2026-01-02 03:04:05)".into()
            )
        );
        assert_eq!(
            python_value(&arg(ParamType::Number, json!(5.0))).unwrap(),
            json!(5.0)
        );
    }
}
