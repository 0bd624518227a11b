//! The coordinator: walks the plan, starts tasks whose joins are satisfied, propagates
//! Skipped/Blocked, runs loop iterations. It owns all run state and resolves templates itself;
//! commands run as tokio tasks on owned, already-resolved arguments.

use super::invoke::{self, build_calls, build_calls_deferring, Calls, Services};
use super::progress::Progress;
use crate::commands::{Command, Feature, ParamType, Registry};
use crate::model::{OnError, Playbook, TKind, TValue, Task, TaskInput, TaskKind, Wait};
use crate::output::{CommandError, OutputModel, Status};
use crate::plan::Plan;
use crate::template::{read_set, render_template_as_written, Context, Part, Scope, Template};
use indexmap::IndexMap;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// What a task ended as, for the run document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    NotRun,
    Done(Status),
    Skipped,
    Blocked,
    /// The run was cancelled (Ctrl-C) before this task could run.
    Cancelled,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Done(s) => s.as_str(),
            TaskStatus::Skipped | TaskStatus::NotRun => "Skipped",
            TaskStatus::Blocked => "Blocked",
            TaskStatus::Cancelled => "Cancelled",
        }
    }
}

#[derive(Debug, Clone)]
struct NodeState {
    status: TaskStatus,
    /// The task's output as templates read it (`tasks.ID.*`); `Null` until it has run.
    /// Shared: a batch's snapshot of the run holds it too.
    output: Arc<Value>,
    runs: u32,
    retries: u32,
    duration_ms: u64,
    /// Started (or decided to start) in the current loop generation.
    ran: bool,
    running: u32,
    settled: bool,
    failed_stop: bool,
    failed_continue: bool,
    loops: u32,
    branch: Option<String>,
    /// Bytes its output takes in the printed run document.
    printed: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct EdgeState {
    fired: bool,
    settled: bool,
    blocked: bool,
}

/// Everything a run produces, for the report and for `codeless test`.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub status: Status,
    pub outputs: Map<String, Value>,
    /// Per task, in file order: (id, status, output, runs, retries, duration_ms, branch taken).
    pub tasks: Vec<TaskResult>,
    /// Problems resolving `outputs:` (the value is null).
    pub output_errors: Vec<String>,
    /// The run was cancelled (Ctrl-C) before it finished.
    pub cancelled: bool,
}

#[derive(Debug, Clone)]
pub struct TaskResult {
    pub id: String,
    pub status: TaskStatus,
    pub output: Value,
    pub runs: u32,
    pub retries: u32,
    pub duration_ms: u64,
    pub branch: Option<String>,
}

/// Trigger data and inputs of one run.
#[derive(Debug, Clone, Default)]
pub struct RunData {
    pub incident: Value,
    pub event: Value,
    pub inputs: Value,
    pub playbook: Value,
    pub connector: Value,
}

struct Job {
    node: usize,
    task_id: String,
    display: String,
    work: Work,
    connector: Connector,
    retry: Option<crate::model::Retry>,
    timeout: Option<f64>,
}

type Connector = Option<Arc<crate::connections::ResolvedConnection>>;

/// A batch whose parameters read `<<item>>`/`<<index>>`. Its elements' arguments are resolved
/// when its job runs: within the task's timeout, stoppable by Ctrl-C, and off the coordinator,
/// which a 100,000-element list held for seconds. They read the run as it was when the task
/// started (a snapshot of the outputs, each shared, not copied).
struct PerItem {
    cmd: Arc<Command>,
    pb: Arc<Playbook>,
    node: usize,
    /// The resolved arguments that do not read `<<item>>`, without the list.
    args: Map<String, Value>,
    /// The parameter given the list, and the list as given.
    param: String,
    items: Vec<Value>,
    /// The parameters that read `<<item>>`/`<<index>>`.
    deferred: Vec<String>,
    /// The task's connection parameters (integration commands).
    connector: Option<Value>,
    data: Arc<RunData>,
    plan: Arc<Plan>,
    tasks: OutputsSnapshot,
    limits: crate::limits::Limits,
}

impl PerItem {
    /// Elements resolved between two yields to the runtime (where a timeout or a Ctrl-C is seen).
    const CHUNK: usize = 256;

    /// Each element's arguments, resolved and checked as a single call's would be.
    async fn calls(&self, cancel: &super::Cancel) -> Result<Calls, String> {
        let no_params = IndexMap::new();
        let params = match &self.pb.tasks[self.node].input {
            TaskInput::Params(p) => p,
            TaskInput::Value(_) => &no_params,
        };
        let mut out = Vec::with_capacity(self.items.len());
        // What the elements' arguments hold counts against `output-size`: a parameter that
        // repeats a large value per element (`<<index>><<incident.big>>`) grew memory with the
        // list, long before any output was measured.
        let mut held = 0u64;
        for (i, item) in self.items.iter().enumerate() {
            if i % Self::CHUNK == Self::CHUNK - 1 {
                tokio::task::yield_now().await;
                if cancel.is_cancelled() {
                    return Err(format!(
                        "the run was cancelled (Ctrl-C) while its batch was being prepared ({i} of {} elements)",
                        self.items.len()
                    ));
                }
            }
            let element = self.element(params, i, item)?;
            held = held.saturating_add(self.size_of(&element, held)?);
            out.push(element);
        }
        Ok(Calls::Each(out))
    }

    /// The bytes (compact JSON) of an element's arguments; an error once the elements built so
    /// far (`held` bytes) and this one pass the `output-size` limit.
    fn size_of(&self, element: &Map<String, Value>, held: u64) -> Result<u64, String> {
        let cap = self.limits.output_size;
        let mut size = 0u64;
        for v in element.values() {
            let room = cap.saturating_sub(held.saturating_add(size));
            match crate::limits::measure(v, crate::limits::MeasureAs::Compact, room) {
                Some(n) => size += n,
                None => {
                    return Err(format!(
                        "the arguments of its {} elements take more than {}, the output-size limit ({})",
                        self.items.len(),
                        crate::limits::bytes_text(cap),
                        crate::limits::raise_hint("output-size")
                    ))
                }
            }
        }
        Ok(size)
    }

    fn element(
        &self,
        params: &IndexMap<String, crate::model::Param>,
        i: usize,
        item: &Value,
    ) -> Result<Map<String, Value>, String> {
        let ctx = Scopes {
            data: &self.data,
            plan: &self.plan,
            tasks: &self.tasks,
            budget: crate::jsonpath::Budget::of(&self.limits),
            item: Some(item),
            index: Some(json!(i)),
            connector: self.connector.as_ref(),
        };
        let mut a = self.args.clone();
        for k in &self.deferred {
            if let Some(p) = params.get(k) {
                let v = ctx
                    .param(&self.cmd, k, &p.value)
                    .map_err(|e| format!("parameter `{k}` (item {i}): {e}"))?;
                a.insert(k.clone(), v);
            }
        }
        a.insert(self.param.clone(), item.clone());
        match build_calls(&self.cmd, a, self.limits.batch_size)
            .map_err(|m| format!("item {i}: {m}"))?
        {
            Calls::One(one) => Ok(one),
            Calls::Batch { .. } | Calls::Each(_) => {
                Err(format!("item {i}: a batch element is itself a list"))
            }
        }
    }
}

enum Work {
    /// Shared with a batch's worker tasks.
    Command(Arc<Command>, Arc<Calls>),
    /// A batch whose inputs read `<<item>>`/`<<index>>`: its calls are built when it runs.
    PerItem(Box<PerItem>),
    /// The input, then each step: command, its `with:` arguments, its connection.
    Transform(Value, Vec<(Arc<Command>, Map<String, Value>, Connector)>),
}

struct Finished {
    node: usize,
    output: OutputModel,
    retries: u32,
    duration: Duration,
    /// Bytes the output adds to the printed run document (`document-size`).
    printed: u64,
}

impl Finished {
    /// A job whose command panicked (a bug): its task fails, and the run goes on.
    fn crashed(node: usize, display: &str, cause: &str) -> Finished {
        Finished::at_once(node, invoke::internal_error(display, cause))
    }

    /// A task that ends without running its command (a problem found before it could run).
    fn at_once(node: usize, output: OutputModel) -> Finished {
        Finished {
            printed: printed_size(&output, u64::MAX),
            node,
            output,
            retries: 0,
            duration: Duration::ZERO,
        }
    }
}

pub struct Engine {
    pb: Arc<Playbook>,
    plan: Arc<Plan>,
    registry: Arc<Registry>,
    services: Arc<Services>,
    data: Arc<RunData>,
    progress: Progress,
    nodes: Vec<NodeState>,
    edges: Vec<EdgeState>,
    ready: VecDeque<usize>,
    done: VecDeque<Finished>,
    /// Edges out of a loop body waiting for the loop to end, by loop edge.
    deferred: HashMap<usize, Vec<usize>>,
    /// Set when the run is cancelled: no task starts after that.
    cancelled: bool,
    /// Which task each running tokio task belongs to (to report a command that panicked).
    job_nodes: HashMap<tokio::task::Id, usize>,
    /// Bytes the task outputs take in the printed run document (`document-size`).
    printed: u64,
}

impl Engine {
    pub fn new(
        pb: Arc<Playbook>,
        plan: Arc<Plan>,
        registry: Arc<Registry>,
        services: Arc<Services>,
        data: RunData,
        progress: Progress,
    ) -> Self {
        let n = plan.ids.len();
        let node = NodeState {
            status: TaskStatus::NotRun,
            output: Arc::new(Value::Null),
            runs: 0,
            retries: 0,
            duration_ms: 0,
            ran: false,
            running: 0,
            settled: false,
            failed_stop: false,
            failed_continue: false,
            loops: 0,
            branch: None,
            printed: 0,
        };
        Engine {
            nodes: vec![node; n],
            edges: vec![EdgeState::default(); plan.edges.len()],
            pb,
            plan,
            registry,
            services,
            data: Arc::new(data),
            progress,
            ready: VecDeque::new(),
            done: VecDeque::new(),
            deferred: HashMap::new(),
            cancelled: false,
            job_nodes: HashMap::new(),
            printed: 0,
        }
    }

    pub async fn run(mut self) -> RunResult {
        let trace = self.services.trace.clone();
        self.progress.begin(self.plan.ids.len());
        trace.emit("run_started", json!({"playbook": self.pb.name.value, "run_id": self.data.playbook.get("run_id"), "depth": self.services.depth}));
        let mut jobs: JoinSet<Finished> = JoinSet::new();
        for &s in &self.plan.starts.clone() {
            self.nodes[s].ran = true;
            self.ready.push_back(s);
        }
        let cancel = self.services.cancel.clone();
        loop {
            if self.cancelled {
                // Cancelled: start nothing new; what is running ends (or times out) on its own.
                self.ready.clear();
            }
            while let Some(n) = self.ready.pop_front() {
                self.start(n, &mut jobs);
            }
            if let Some(f) = self.done.pop_front() {
                self.finish(f);
                // Jobs finished inline never make this loop wait: let the runtime run other
                // tasks (the Ctrl-C watcher among them) now and then, and notice a cancel.
                tokio::task::consume_budget().await;
                if !self.cancelled && cancel.is_cancelled() {
                    self.cancel_now(jobs.len());
                }
                continue;
            }
            tokio::select! {
                joined = jobs.join_next_with_id() => match joined {
                    Some(Ok((id, f))) => {
                        self.job_nodes.remove(&id);
                        self.done.push_back(f);
                    }
                    Some(Err(e)) => {
                        // The command panicked (a bug): its task fails, the run goes on.
                        if let Some(n) = self.job_nodes.remove(&e.id()) {
                            let display = self.task(n).command.as_ref().map(|c| c.value.clone()).unwrap_or_default();
                            self.done.push_back(Finished::crashed(n, &display, &e.to_string()));
                        }
                    }
                    None => break,
                },
                _ = cancel.cancelled(), if !self.cancelled => self.cancel_now(jobs.len()),
            }
        }
        let (name, depth) = (self.pb.name.value.clone(), self.services.depth);
        self.progress.end();
        let r = self.result();
        trace.emit(
            "run_finished",
            json!({"playbook": name, "status": r.status.as_str(), "depth": depth}),
        );
        r
    }

    fn cancel_now(&mut self, running: usize) {
        self.cancelled = true;
        self.progress.note(&format!(
            "cancelled: starting no new task; waiting for {running} running"
        ));
        self.services
            .trace
            .emit("run_cancelled", json!({ "running": running }));
    }

    fn task(&self, n: usize) -> &Task {
        &self.pb.tasks[n]
    }

    /// The template scopes of the run as it stands; `connector`: the task's connection.
    fn scopes<'a>(&'a self, connector: Option<&'a Value>) -> Scopes<'a> {
        Scopes {
            data: &self.data,
            plan: &self.plan,
            tasks: &self.nodes,
            budget: crate::jsonpath::Budget::of(&self.services.limits),
            item: None,
            index: None,
            connector,
        }
    }

    /// Resolves the task's inputs and spawns its command (or finishes it at once on a problem).
    fn start(&mut self, n: usize, jobs: &mut JoinSet<Finished>) {
        self.nodes[n].running += 1;
        // A clone of the Arc, not of the task: the task stays borrowable while `self` changes.
        let pb = self.pb.clone();
        let task = &pb.tasks[n];
        self.progress.started(
            &task.id.value,
            task.command
                .as_ref()
                .map(|c| c.value.as_str())
                .unwrap_or("transform"),
        );
        match self.prepare(task, n) {
            Ok(job) => {
                // A per-item batch says so once its elements are built (in `execute`).
                if !matches!(job.work, Work::PerItem(_)) {
                    trace_started(&job, &self.services);
                }
                if !self.ready.is_empty() {
                    let handle = jobs.spawn(execute(job, self.services.clone()));
                    self.job_nodes.insert(handle.id(), n);
                    return;
                }
                let display = job.display.clone();
                let mut fut: Pin<Box<dyn Future<Output = Finished> + Send>> =
                    Box::pin(execute(job, self.services.clone()));
                // Most utility commands finish without waiting for anything. When no other task
                // is ready to start (a chain, the last task of a fan-out), polling the job once
                // here saves a tokio task and a wake-up of this coordinator (a fifth of a
                // chain's cost). With other tasks ready, jobs are spawned so that they run on
                // every worker thread. A job that waits (HTTP, `sleep`, the concurrency limit,
                // a nested run) is spawned too and goes on where it stopped: the runtime polls
                // it again at once, with a real waker.
                let mut cx = std::task::Context::from_waker(Waker::noop());
                match std::panic::catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx))) {
                    Ok(Poll::Ready(f)) => self.done.push_back(f),
                    Ok(Poll::Pending) => {
                        let handle = jobs.spawn(fut);
                        self.job_nodes.insert(handle.id(), n);
                    }
                    Err(_) => self
                        .done
                        .push_back(Finished::crashed(n, &display, "it panicked")),
                }
            }
            Err((display, message)) => self.done.push_back(Finished::at_once(
                n,
                invoke::task_failure(&display, message),
            )),
        }
    }

    fn command(&self, name: &str) -> Result<Arc<Command>, (String, String)> {
        self.registry.get(name).cloned().ok_or_else(|| {
            let hint = self
                .registry
                .suggest(name)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            (name.to_owned(), format!("unknown command `{name}`{hint}"))
        })
    }

    fn prepare(&self, task: &Task, n: usize) -> Result<Job, (String, String)> {
        let id = task.id.value.clone();
        let ctx = self.scopes(None);
        let mut job_connector = None;
        let work = match (&task.kind.value, &task.input) {
            (TaskKind::Transform, TaskInput::Value(v)) => {
                let input = v
                    .resolve(&ctx)
                    .map_err(|e| e.to_string())
                    .and_then(not_too_deep)
                    .map_err(|e| ("Transform".to_owned(), format!("input: {e}")))?;
                let mut steps = Vec::new();
                for step in &task.steps {
                    let cmd = self.command(&step.command.value)?;
                    if !cmd.spec.has_feature(Feature::Transform) {
                        return Err((
                            cmd.spec.display.clone(),
                            format!(
                                "`{}` cannot be a transform step (it lacks the transform feature)",
                                cmd.spec.name
                            ),
                        ));
                    }
                    let mut with = Map::new();
                    for (k, p) in &step.with {
                        let v = p
                            .value
                            .resolve(&ctx)
                            .map_err(|e| e.to_string())
                            .and_then(not_too_deep)
                            .map_err(|e| {
                                (cmd.spec.display.clone(), format!("parameter `{k}`: {e}"))
                            })?;
                        with.insert(k.clone(), v);
                    }
                    let conn = self.connection(&cmd, None, &id)?;
                    steps.push((cmd, with, conn));
                }
                Work::Transform(input, steps)
            }
            (_, input) => {
                let name = task
                    .command
                    .as_ref()
                    .map(|c| c.value.as_str())
                    .unwrap_or_default();
                let cmd = self.command(name)?;
                let display = cmd.spec.display.clone();
                job_connector = self.connection(
                    &cmd,
                    task.connection.as_ref().map(|c| c.value.as_str()),
                    &id,
                )?;
                let connector_params = job_connector.as_ref().map(|c| c.params.clone());
                let ctx = self.scopes(connector_params.as_ref());
                let no_params = IndexMap::new();
                let params = match input {
                    TaskInput::Params(p) => p,
                    TaskInput::Value(_) => &no_params,
                };
                // Resolve everything that does not read <<item>>/<<index>> first; a list given
                // to a scalar parameter then decides the batch. The parameters that do are
                // resolved, and checked, per element below.
                let deferred: Vec<&str> = params
                    .iter()
                    .filter(|(_, p)| p.value.uses_item())
                    .map(|(k, _)| k.as_str())
                    .collect();
                let uses_item = !deferred.is_empty();
                let mut args = Map::new();
                for (k, p) in params {
                    if deferred.contains(&k.as_str()) {
                        continue;
                    }
                    let v = ctx
                        .param(&cmd, k, &p.value)
                        .map_err(|e| (display.clone(), format!("parameter `{k}`: {e}")))?;
                    args.insert(k.clone(), v);
                }
                // `args` is needed again only to build a batch's elements.
                let first = if uses_item {
                    args.clone()
                } else {
                    std::mem::take(&mut args)
                };
                let calls =
                    build_calls_deferring(&cmd, first, self.services.limits.batch_size, &deferred)
                        .map_err(|m| (display.clone(), m))?;
                if task.kind.value == TaskKind::Conditional
                    && !cmd.spec.has_feature(Feature::Conditional)
                {
                    return Err((display, format!("`{}` cannot be used in a conditional task (it lacks the conditional feature)", cmd.spec.name)));
                }
                if uses_item {
                    let Calls::Batch {
                        param: batch_param, ..
                    } = calls
                    else {
                        return Err((display, "`<<item>>`/`<<index>>` is used, but no parameter received a list, so there is no batch".into()));
                    };
                    // The list as given (the batch holds it coerced): `<<item>>` reads it so.
                    let items = match args.remove(&batch_param) {
                        Some(Value::Array(a)) => a,
                        _ => Vec::new(),
                    };
                    return Ok(self.job(
                        task,
                        id,
                        n,
                        Work::PerItem(Box::new(PerItem {
                            cmd,
                            pb: self.pb.clone(),
                            node: n,
                            args,
                            param: batch_param,
                            items,
                            deferred: deferred.iter().map(|k| k.to_string()).collect(),
                            connector: connector_params,
                            data: self.data.clone(),
                            plan: self.plan.clone(),
                            tasks: self
                                .nodes
                                .iter()
                                .map(|st| (st.status, st.output.clone()))
                                .collect(),
                            limits: self.services.limits,
                        })),
                        job_connector,
                    ));
                }
                Work::Command(cmd, Arc::new(calls))
            }
        };
        Ok(self.job(task, id, n, work, job_connector))
    }

    fn job(&self, task: &Task, id: String, n: usize, work: Work, connector: Connector) -> Job {
        let display = match &work {
            Work::Command(c, _) => c.spec.display.clone(),
            Work::PerItem(b) => b.cmd.spec.display.clone(),
            Work::Transform(..) => "Transform".to_owned(),
        };
        Job {
            node: n,
            task_id: id,
            display,
            work,
            connector,
            retry: task.retry.clone(),
            timeout: task.timeout,
        }
    }

    /// The connection an integration command runs with (`None` for other commands).
    fn connection(
        &self,
        cmd: &Command,
        named: Option<&str>,
        task_id: &str,
    ) -> Result<Option<Arc<crate::connections::ResolvedConnection>>, (String, String)> {
        let crate::commands::Implementation::Integration { integration, .. } = &cmd.implementation
        else {
            return Ok(None);
        };
        // A mocked task sends nothing, so it needs no connection (dry runs, tests).
        if self.services.mocks.covers(task_id, &cmd.spec.name) {
            return Ok(None);
        }
        let prefix = crate::workspace::integration_prefix(&integration.name.value);
        self.services
            .connections
            .for_task(&prefix, integration, named)
            .map(Some)
            .map_err(|e| (cmd.spec.display.clone(), e))
    }

    fn finish(&mut self, f: Finished) {
        let n = f.node;
        let pb = self.pb.clone();
        let task = &pb.tasks[n];
        let mut out = self.within_document_size(n, f.output, f.printed);
        let st = &mut self.nodes[n];
        st.running -= 1;
        st.runs += 1;
        st.retries += f.retries;
        st.duration_ms += f.duration.as_millis() as u64;
        // A conditional's choice: the branch whose label equals returnData, else `default`.
        let mut chosen: Option<String> = None;
        let mut loops_back = false;
        if task.kind.value == TaskKind::Conditional && !out.failed() {
            let label = label_of(&out.return_data);
            chosen = if task.branches.iter().any(|b| b.label.value == label) {
                Some(label)
            } else if task.branches.iter().any(|b| b.label.value == "default") {
                Some("default".to_owned())
            } else {
                None
            };
            loops_back = self.plan.succs[n]
                .iter()
                .any(|&e| self.plan.edges[e].back && self.plan.edges[e].label == chosen);
            if loops_back {
                let max = task.max_loops.as_ref().map(|m| m.value).unwrap_or(0);
                let limit = self.services.limits.loop_iterations;
                if self.nodes[n].loops >= max.min(limit) {
                    let why = if max <= limit {
                        format!("its loop limit (max_loops: {max})")
                    } else {
                        format!(
                            "the loop-iterations limit of {limit} (below its max_loops: {max}; {})",
                            crate::limits::raise_hint("loop-iterations")
                        )
                    };
                    out = invoke::task_failure(
                        "Loop",
                        format!(
                            "task `{}` reached {why} and took branch `{}` again",
                            task.id.value,
                            chosen.clone().unwrap_or_default()
                        ),
                    );
                    chosen = None;
                    loops_back = false;
                } else {
                    self.nodes[n].loops += 1;
                }
            }
        }
        let failed = out.failed();
        let st = &mut self.nodes[n];
        st.status = TaskStatus::Done(if failed { Status::Failed } else { out.status });
        st.branch = chosen.clone();
        if failed && task.on_error == OnError::Stop {
            st.failed_stop = true;
        } else if failed {
            st.failed_continue = true;
        }
        if self.services.trace.enabled() {
            // Built only when tracing: serializing the output costs as much as the rest of `finish`.
            self.services.trace.emit(
                "task_finished",
                json!({"task": task.id.value, "status": st.status.as_str(), "output": out, "branch": chosen, "duration_ms": f.duration.as_secs_f64() * 1000.0, "retries": f.retries, "depth": self.services.depth}),
            );
        }
        self.progress
            .finished(&task.id.value, &out, f.duration, chosen.as_deref());
        let st = &mut self.nodes[n];
        st.output = Arc::new(output_json(out, st.runs, st.retries, st.duration_ms));
        if !(failed && task.on_error == OnError::Stop) {
            let fires: Vec<usize> = self.plan.succs[n]
                .iter()
                .copied()
                .filter(|&e| {
                    let edge = &self.plan.edges[e];
                    match &edge.label {
                        None => true,
                        Some(l) => {
                            chosen.as_deref() == Some(l.as_str()) || (failed && l == "default")
                        }
                    }
                })
                .collect();
            for e in fires {
                self.fire(e);
            }
        }
        if !loops_back {
            self.try_settle(n);
        }
    }

    /// `out`, or a failure naming the `document-size` limit when keeping it would make the run
    /// document larger than that. A task run again (in a loop) gives back what its last output
    /// took.
    fn within_document_size(&mut self, n: usize, out: OutputModel, printed: u64) -> OutputModel {
        let limit = self.services.limits.document_size;
        let others = self.printed - self.nodes[n].printed;
        let (out, printed) = if others.saturating_add(printed) <= limit {
            (out, printed)
        } else {
            let display = match &self.task(n).command {
                Some(c) => self
                    .registry
                    .get(&c.value)
                    .map_or(c.value.as_str(), |c| &c.spec.display),
                None => "Transform",
            };
            let failure = invoke::task_failure(
                display,
                format!(
                    "its output would make the run document larger than {}, the document-size limit ({})",
                    crate::limits::bytes_text(limit),
                    crate::limits::raise_hint("document-size")
                ),
            );
            let printed = printed_size(&failure, u64::MAX);
            (failure, printed)
        };
        self.printed = others + printed;
        self.nodes[n].printed = printed;
        out
    }

    fn fire(&mut self, e: usize) {
        self.edges[e].fired = true;
        let edge = self.plan.edges[e].clone();
        let t = edge.to;
        if edge.back {
            self.reset_loop(e);
            self.nodes[t].ran = true;
            self.ready.push_back(t);
            return;
        }
        match self.task(t).wait {
            Wait::Any => {
                self.nodes[t].ran = true;
                self.ready.push_back(t);
            }
            Wait::AnyOnce => {
                if !self.nodes[t].ran {
                    self.nodes[t].ran = true;
                    self.ready.push_back(t);
                }
            }
            Wait::All => self.check_ready(t),
        }
    }

    /// A new loop iteration: the body's tasks and inner edges start over.
    fn reset_loop(&mut self, back: usize) {
        let body = self
            .plan
            .loop_bodies
            .get(&back)
            .cloned()
            .unwrap_or_default();
        for &m in &body {
            let st = &mut self.nodes[m];
            st.ran = false;
            st.settled = false;
            st.failed_stop = false;
        }
        for (i, edge) in self.plan.edges.iter().enumerate() {
            if !edge.back && body.contains(&edge.from) && body.contains(&edge.to) {
                self.edges[i] = EdgeState::default();
            }
        }
    }

    fn preds_settled(&self, t: usize) -> bool {
        self.plan.preds[t].iter().all(|&e| self.edges[e].settled)
    }

    fn check_ready(&mut self, t: usize) {
        if self.task(t).wait != Wait::All || self.nodes[t].ran || !self.preds_settled(t) {
            return;
        }
        let preds = &self.plan.preds[t];
        let blocked = preds.iter().any(|&e| self.edges[e].blocked);
        let fired = preds.iter().any(|&e| self.edges[e].fired);
        if fired && !blocked {
            self.nodes[t].ran = true;
            self.ready.push_back(t);
        }
    }

    fn try_settle(&mut self, n: usize) {
        let st = &self.nodes[n];
        if st.settled || st.running > 0 || self.ready.contains(&n) || !self.preds_settled(n) {
            return;
        }
        let never_ran = !st.ran;
        self.nodes[n].settled = true;
        if never_ran {
            let blocked = self.plan.preds[n].iter().any(|&e| self.edges[e].blocked);
            self.nodes[n].status = if blocked {
                TaskStatus::Blocked
            } else {
                TaskStatus::Skipped
            };
        }
        let outs: Vec<usize> = self.plan.succs[n]
            .iter()
            .copied()
            .filter(|&e| !self.plan.edges[e].back)
            .collect();
        for e in outs {
            match self.enclosing_active_loop(n, self.plan.edges[e].to) {
                Some(back) => self.deferred.entry(back).or_default().push(e),
                None => self.settle_edge(e),
            }
        }
        // A loop that ends releases the edges that leave its body.
        let backs: Vec<usize> = self.plan.succs[n]
            .iter()
            .copied()
            .filter(|&e| self.plan.edges[e].back)
            .collect();
        for b in backs {
            for e in self.deferred.remove(&b).unwrap_or_default() {
                self.settle_edge(e);
            }
        }
    }

    /// A loop edge whose body holds `from` but not `to`, while its conditional is unsettled.
    fn enclosing_active_loop(&self, from: usize, to: usize) -> Option<usize> {
        self.plan.loop_bodies.iter().find_map(|(&b, body)| {
            let cond = self.plan.edges[b].from;
            (body.contains(&from) && !body.contains(&to) && !self.nodes[cond].settled).then_some(b)
        })
    }

    fn settle_edge(&mut self, e: usize) {
        let from = self.plan.edges[e].from;
        let st = &self.nodes[from];
        let blocked = st.failed_stop || st.status == TaskStatus::Blocked;
        self.edges[e].settled = true;
        self.edges[e].blocked = blocked;
        let t = self.plan.edges[e].to;
        self.check_ready(t);
        self.try_settle(t);
    }

    fn result(self) -> RunResult {
        let mut status = Status::Successful;
        for st in &self.nodes {
            if st.failed_stop {
                status = Status::Failed;
            } else if status != Status::Failed
                && (st.failed_continue
                    || st.status == TaskStatus::Done(Status::PartiallySuccessful))
            {
                status = Status::PartiallySuccessful;
            }
        }
        // A cancelled run did not do its work.
        if self.cancelled {
            status = Status::Failed;
        }
        let ctx = self.scopes(None);
        let mut outputs = Map::new();
        let mut output_errors = Vec::new();
        let mut room = self
            .services
            .limits
            .document_size
            .saturating_sub(self.printed);
        for (k, (_, v)) in &self.pb.outputs {
            match v.resolve(&ctx) {
                // `outputs.NAME` is printed two levels deep.
                Ok(x) => match crate::limits::measure(
                    &x,
                    crate::limits::MeasureAs::Printed { depth: 2 },
                    room,
                ) {
                    Some(size) => {
                        room -= size;
                        outputs.insert(k.clone(), x);
                    }
                    None => {
                        output_errors.push(format!(
                            "output `{k}`: it would make the run document larger than {}, the document-size limit ({}); it is null",
                            crate::limits::bytes_text(self.services.limits.document_size),
                            crate::limits::raise_hint("document-size")
                        ));
                        outputs.insert(k.clone(), Value::Null);
                    }
                },
                Err(e) => {
                    output_errors.push(format!("output `{k}`: {e}"));
                    outputs.insert(k.clone(), Value::Null);
                }
            }
        }
        // The run is over: outputs move into the result rather than being copied.
        let tasks = self
            .nodes
            .into_iter()
            .enumerate()
            .map(|(i, st)| TaskResult {
                id: self.plan.ids[i].clone(),
                status: match st.status {
                    // Not reached: skipped, unless the run was cancelled before it could run.
                    TaskStatus::NotRun if self.cancelled => TaskStatus::Cancelled,
                    TaskStatus::NotRun => TaskStatus::Skipped,
                    // A task still waiting on cancelled predecessors was never settled.
                    TaskStatus::Skipped | TaskStatus::Blocked if self.cancelled && !st.settled => {
                        TaskStatus::Cancelled
                    }
                    other => other,
                },
                // Every job has ended: no snapshot shares the output any more.
                output: Arc::try_unwrap(st.output).unwrap_or_else(|shared| (*shared).clone()),
                runs: st.runs,
                retries: st.retries,
                duration_ms: st.duration_ms,
                branch: st.branch,
            })
            .collect();
        RunResult {
            status,
            outputs,
            tasks,
            output_errors,
            cancelled: self.cancelled,
        }
    }
}

/// Text a conditional compares with branch labels.
fn label_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// A task's output as templates read it. Takes the output by value: its fields move into the
/// JSON (the `json!` macro would serialize a copy of each, rawData included).
fn output_json(o: OutputModel, runs: u32, retries: u32, duration_ms: u64) -> Value {
    let mut m = Map::with_capacity(10);
    m.insert("status".into(), Value::from(o.status.as_str()));
    m.insert("returnData".into(), o.return_data);
    m.insert("result".into(), o.result);
    m.insert("keyFields".into(), Value::Object(o.key_fields));
    m.insert("rawData".into(), o.raw_data);
    m.insert(
        "error".into(),
        o.error
            .and_then(|e| serde_json::to_value(e).ok())
            .unwrap_or(Value::Null),
    );
    m.insert("passdown".into(), o.passdown);
    m.insert("runs".into(), Value::from(runs));
    m.insert("retries".into(), Value::from(retries));
    m.insert("duration_ms".into(), Value::from(duration_ms));
    Value::Object(m)
}

/// The task outputs templates read: the engine's own, or a snapshot of them taken when a
/// batch task started (its elements' inputs are resolved later, off the coordinator).
trait TaskOutputs: Sync {
    fn status(&self, i: usize) -> TaskStatus;
    /// `Null` until the task has run.
    fn output(&self, i: usize) -> &Value;
}

impl TaskOutputs for Vec<NodeState> {
    fn status(&self, i: usize) -> TaskStatus {
        self[i].status
    }
    fn output(&self, i: usize) -> &Value {
        &self[i].output
    }
}

/// The task outputs as they were at one moment; cheap to take (each output is shared).
type OutputsSnapshot = Vec<(TaskStatus, Arc<Value>)>;

impl TaskOutputs for OutputsSnapshot {
    fn status(&self, i: usize) -> TaskStatus {
        self[i].0
    }
    fn output(&self, i: usize) -> &Value {
        &self[i].1
    }
}

/// Template scopes over a run's state.
struct Scopes<'a> {
    data: &'a RunData,
    plan: &'a Plan,
    tasks: &'a dyn TaskOutputs,
    budget: crate::jsonpath::Budget,
    item: Option<&'a Value>,
    index: Option<Value>,
    /// The task's connection parameters (integration commands).
    connector: Option<&'a Value>,
}

/// How deep a value given to a command may nest. Each task can wrap what an earlier one
/// returned in more levels, so without a bound a chain of tasks could build values deep
/// enough to overflow the stack when they are copied or written out (about 4,000 levels on a
/// runtime thread in a release build; far fewer in a debug build). Incidents and responses
/// stop at 128 levels and playbooks at 64, so real values stay well inside it.
pub const MAX_VALUE_DEPTH: usize = 256;

/// `v`, unless it nests deeper than `MAX_VALUE_DEPTH` (measured without recursion).
fn not_too_deep(v: Value) -> Result<Value, String> {
    if !(v.is_array() || v.is_object()) {
        return Ok(v);
    }
    let mut stack = vec![(&v, 1usize)];
    while let Some((cur, depth)) = stack.pop() {
        let deeper = depth >= MAX_VALUE_DEPTH;
        match cur {
            Value::Array(a) if !a.is_empty() => {
                if deeper {
                    return Err(too_deep());
                }
                stack.extend(a.iter().map(|c| (c, depth + 1)));
            }
            Value::Object(m) if !m.is_empty() => {
                if deeper {
                    return Err(too_deep());
                }
                stack.extend(m.values().map(|c| (c, depth + 1)));
            }
            _ => {}
        }
    }
    Ok(v)
}

fn too_deep() -> String {
    format!("the value nests more than {MAX_VALUE_DEPTH} levels deep, more than a command takes")
}

impl Scopes<'_> {
    /// The value of parameter `name` of `cmd`: text templates go through Handlebars.
    fn param(&self, cmd: &Command, name: &str, v: &TValue) -> Result<Value, String> {
        match cmd.spec.input(name).map(|s| s.ty) {
            Some(ty @ (ParamType::TextTemplate | ParamType::HtmlTemplate)) => {
                self.render(v, ty == ParamType::HtmlTemplate)
            }
            _ => not_too_deep(v.resolve(self).map_err(|e| e.to_string())?),
        }
    }

    /// Renders a `text_template`/`html_template` value with Handlebars over every scope.
    fn render(&self, v: &TValue, html: bool) -> Result<Value, String> {
        let owned;
        let (template, raw) = match &v.kind {
            TKind::Template { template, raw, .. } => (template, Some(raw.as_str())),
            TKind::Literal(Value::String(s)) => {
                owned = Template {
                    parts: vec![Part::Text(s.clone())],
                };
                (&owned, None)
            }
            _ => return v.resolve(self).map_err(|e| e.to_string()),
        };
        render_template_as_written(template, raw, html, self, |source| self.data_for(source))
            .map(Value::String)
    }

    /// The data object of a Handlebars render: every scope the source can read, and of the
    /// task outputs only those it names. Copying every output into every render made a
    /// playbook of N `formatText` tasks cost N² (2,000 tasks: 6.5 s).
    fn data_for(&self, source: &str) -> Map<String, Value> {
        let d = self.data;
        let plan = self.plan;
        let reads = read_set(source);
        let wanted = |name: &str| {
            reads
                .as_ref()
                .is_none_or(|r| r.roots.iter().any(|root| root == name))
        };
        let mut scopes = Map::new();
        for (name, value) in [
            ("incident", &d.incident),
            ("event", &d.event),
            ("input", &d.inputs),
            ("connector", &d.connector),
            ("playbook", &d.playbook),
        ] {
            if wanted(name) {
                scopes.insert(name.into(), value.clone());
            }
        }
        if wanted("tasks") {
            let output = |i: usize| {
                let out = self.tasks.output(i);
                (!out.is_null()).then(|| (plan.ids[i].clone(), out.clone()))
            };
            let tasks: Map<String, Value> = match reads.as_ref().and_then(|r| r.tasks.as_ref()) {
                Some(ids) => ids
                    .iter()
                    .filter_map(|id| plan.index.get(id.as_str()).copied())
                    .filter_map(output)
                    .collect(),
                None => (0..plan.ids.len()).filter_map(output).collect(),
            };
            scopes.insert("tasks".into(), Value::Object(tasks));
        }
        if let Some(item) = self.item {
            scopes.insert("item".into(), item.clone());
        }
        if let Some(index) = &self.index {
            scopes.insert("index".into(), index.clone());
        }
        scopes
    }
}

impl Context for Scopes<'_> {
    fn query_budget(&self) -> crate::jsonpath::Budget {
        self.budget
    }

    fn scope(&self, s: &Scope) -> Result<&Value, String> {
        let d = self.data;
        match s {
            Scope::Incident => Ok(&d.incident),
            Scope::Event => Ok(&d.event),
            Scope::Input => Ok(&d.inputs),
            Scope::Connector => match self.connector {
                Some(c) => Ok(c),
                None if !d.connector.is_null() => Ok(&d.connector),
                None => Err(
                    "`connector` is only available to integration commands (the task's connection)"
                        .to_owned(),
                ),
            },
            Scope::Playbook => Ok(&d.playbook),
            Scope::Item => self
                .item
                .ok_or_else(|| "`item` is only available in batch execution".to_owned()),
            Scope::Index => self
                .index
                .as_ref()
                .ok_or_else(|| "`index` is only available in batch execution".to_owned()),
            Scope::Task { id, field } => {
                let Some(&i) = self.plan.index.get(id) else {
                    return Err(format!("there is no task `{id}` in this playbook"));
                };
                let output = self.tasks.output(i);
                // A task that has not run has run 0 times and retried 0 times (a loop task may
                // read its own count to page through results).
                static ZERO: std::sync::LazyLock<Value> =
                    std::sync::LazyLock::new(|| Value::from(0));
                if output.is_null() && matches!(field.as_deref(), Some("runs" | "retries")) {
                    return Ok(&ZERO);
                }
                if output.is_null() {
                    return Err(match self.tasks.status(i) {
                        TaskStatus::Skipped => {
                            format!("task `{id}` was skipped (its branch was not taken)")
                        }
                        TaskStatus::Blocked => format!("task `{id}` was blocked by a failed task"),
                        _ => format!("task `{id}` has not run yet"),
                    });
                }
                match field {
                    None => Ok(output),
                    Some(f) => output
                        .get(f.as_str())
                        .ok_or_else(|| format!("task `{id}` has no `{f}`")),
                }
            }
        }
    }
}

/// The trace's `task_started` event, with the inputs of every call.
fn trace_started(job: &Job, services: &Services) {
    if !services.trace.enabled() {
        return;
    }
    let inputs = match &job.work {
        Work::Command(_, calls) => match &**calls {
            Calls::One(a) => Value::Object(a.clone()),
            batch => Value::Array(
                (0..batch.len())
                    .map(|i| Value::Object(batch.element(i)))
                    .collect(),
            ),
        },
        Work::PerItem(b) => Value::Array(b.items.clone()),
        Work::Transform(v, _) => v.clone(),
    };
    services.trace.emit("task_started", json!({"task": job.task_id, "command": job.display, "inputs": inputs, "depth": services.depth}));
}

/// Runs a job with its timeout and retries (task policy, and `__RETRY__` from the command).
/// The timeout bounds the whole task run: building a per-item batch's calls, every attempt
/// and the waits between them.
async fn execute(mut job: Job, services: Arc<Services>) -> Finished {
    let started = Instant::now();
    // A timeout too large to add up (`1e300`) is no deadline.
    let deadline = job
        .timeout
        .and_then(|t| tokio::time::Instant::from_std(started).checked_add(crate::util::seconds(t)));
    if let Work::PerItem(batch) = &job.work {
        // `None`: the timeout came first.
        let built = match deadline {
            Some(d) => tokio::time::timeout_at(d, batch.calls(&services.cancel))
                .await
                .ok(),
            None => Some(batch.calls(&services.cancel).await),
        };
        let output = match built {
            Some(Ok(calls)) => {
                job.work = Work::Command(batch.cmd.clone(), Arc::new(calls));
                trace_started(&job, &services);
                None
            }
            Some(Err(why)) => Some(invoke::task_failure(&job.display, why)),
            None => Some(timed_out(&job, None)),
        };
        if let Some(output) = output {
            let mut f = Finished::at_once(job.node, output);
            f.duration = started.elapsed();
            return f;
        }
    }
    let mut retries = 0u32;
    let mut task_retries = 0u32;
    let mut command_retries = 0u32;
    let http_retries = AtomicU32::new(0);
    let output = loop {
        let attempt = attempt(&job, &services, &http_retries);
        let out = match deadline {
            Some(d) => match tokio::time::timeout_at(d, attempt).await {
                Ok(o) => o,
                Err(_) => break timed_out(&job, None),
            },
            None => attempt.await,
        };
        // Only a trusted producer sets `retry` (see `OutputModel::retry`); a returnData that
        // looks like the marker is data.
        let (delay, kind, number) = if let Some(request) = &out.retry {
            let limit = services.limits.command_retries;
            if command_retries >= limit {
                break invoke::task_failure(
                    &job.display,
                    format!(
                        "the command asked to be retried more than {limit} times, the command-retries limit ({})",
                        crate::limits::raise_hint("command-retries")
                    ),
                );
            }
            command_retries += 1;
            (
                request.delay(command_retries - 1),
                "command",
                command_retries,
            )
        } else if let Some(r) = job
            .retry
            .as_ref()
            .filter(|r| out.failed() && task_retries < r.attempts)
        {
            let secs = r
                .delay
                .get(task_retries as usize)
                .or(r.delay.last())
                .copied()
                .unwrap_or(0.0);
            task_retries += 1;
            let delay = crate::util::seconds(secs.clamp(0.0, crate::util::MAX_WAIT_SECONDS));
            (delay, "task", task_retries)
        } else {
            break out;
        };
        retries += 1;
        let reason = out.error.as_ref().map(|e| e.render());
        services.trace.emit("task_retried", json!({"task": job.task_id, "kind": kind, "retry": number, "delay_ms": delay.as_millis() as u64, "error": reason}));
        match wait_to_retry(delay, deadline, &services.cancel).await {
            Waited::Done => continue,
            Waited::PastTimeout => break timed_out(&job, Some((number, delay))),
            Waited::Cancelled => {
                let last = reason
                    .map(|r| format!("; its last try: {r}"))
                    .unwrap_or_default();
                break invoke::task_failure(
                    &job.display,
                    format!(
                        "the run was cancelled (Ctrl-C) while task `{}` waited to retry{last}",
                        job.task_id
                    ),
                );
            }
        }
    };
    let (output, printed) = measured(output, &job.display, &services.limits);
    Finished {
        node: job.node,
        output,
        retries: retries + http_retries.load(Ordering::Relaxed),
        duration: started.elapsed(),
        printed,
    }
}

/// How a wait before a retry ended.
enum Waited {
    Done,
    /// The retry would start after the task's timeout: the task times out now.
    PastTimeout,
    /// Ctrl-C: no new attempt starts.
    Cancelled,
}

/// Waits `delay` before a retry, unless the task's deadline comes first or the run is
/// cancelled (the first Ctrl-C ends the wait at once).
async fn wait_to_retry(
    delay: Duration,
    deadline: Option<tokio::time::Instant>,
    cancel: &super::Cancel,
) -> Waited {
    if cancel.is_cancelled() {
        return Waited::Cancelled;
    }
    let until = tokio::time::Instant::now() + delay;
    if deadline.is_some_and(|d| until >= d) {
        return Waited::PastTimeout;
    }
    tokio::select! {
        _ = tokio::time::sleep_until(until) => Waited::Done,
        _ = cancel.cancelled() => Waited::Cancelled,
    }
}

/// The failure of a task that ran out of time, in an attempt or (`retry`: its number and
/// delay) because its next retry was due after the timeout.
fn timed_out(job: &Job, retry: Option<(u32, Duration)>) -> OutputModel {
    let t = job.timeout.unwrap_or_default();
    let why = match retry {
        None => String::new(),
        Some((n, delay)) => format!(
            ": retry {n} was due {} s later, past the timeout",
            delay.as_secs_f64()
        ),
    };
    invoke::task_failure(
        &job.display,
        format!("task `{}` timed out after {t} s{why}", job.task_id),
    )
}

/// `out`, or a failure naming the `output-size` limit when it is larger than that; and the
/// bytes it adds to the printed run document.
fn measured(out: OutputModel, display: &str, limits: &crate::limits::Limits) -> (OutputModel, u64) {
    let printed = printed_size(&out, limits.document_size);
    // Printed JSON is never shorter than compact JSON: one walk does for most outputs.
    if printed <= limits.output_size {
        return (out, printed);
    }
    let bounded = invoke::within_output_size(out, display, limits);
    let printed = printed_size(&bounded, u64::MAX);
    (bounded, printed)
}

/// Where a task's output sits in the printed run document (`tasks.ID.FIELD`).
const DOCUMENT_DEPTH: u64 = 3;

/// The bytes `out` adds to the printed run document (past `cap`: more than `cap`).
fn printed_size(out: &OutputModel, cap: u64) -> u64 {
    out.size(
        crate::limits::MeasureAs::Printed {
            depth: DOCUMENT_DEPTH,
        },
        cap,
    )
    .unwrap_or(cap.saturating_add(1))
}

/// One try of a job. HTTP retries made inside commands are added to `http_retries` (kept even
/// when the attempt then times out).
async fn attempt(job: &Job, services: &Services, http_retries: &AtomicU32) -> OutputModel {
    match &job.work {
        Work::Command(cmd, calls) => {
            let (out, r) =
                invoke::call(cmd, &job.task_id, calls, job.connector.as_ref(), services).await;
            http_retries.fetch_add(r, Ordering::Relaxed);
            out
        }
        // `execute` builds a per-item batch's calls before the first attempt.
        Work::PerItem(_) => invoke::internal_error(&job.display, "its batch was not built"),
        Work::Transform(input, steps) => {
            let mut value = input.clone();
            let mut last = OutputModel::success(value.clone());
            for (cmd, with, conn) in steps {
                let Some(first) = cmd.spec.inputs.first() else {
                    return OutputModel::failure(CommandError::new(
                        &cmd.spec.display,
                        "this command takes no input, so it cannot be a transform step",
                    ));
                };
                let mut args = with.clone();
                args.insert(first.name.clone(), value);
                let calls = match build_calls(cmd, args, services.limits.batch_size) {
                    Ok(c) => c,
                    Err(m) => return OutputModel::failure(CommandError::new(&cmd.spec.display, m)),
                };
                let (out, r) =
                    invoke::call(cmd, &job.task_id, &Arc::new(calls), conn.as_ref(), services)
                        .await;
                http_retries.fetch_add(r, Ordering::Relaxed);
                last = out;
                if last.failed() {
                    return last;
                }
                value = last.return_data.clone();
            }
            last
        }
    }
}
