//! Invoking one command for a task: argument coercion, batch execution over arrays, mocks,
//! retries (task policy and the seed's `__RETRY__`), timeouts. Knows nothing about the graph.

use super::mock::Mocks;
use crate::commands::{coerce::coerce, Args, Command, Implementation, UtilityContext};
use crate::connections::ResolvedConnection;
use crate::files::FileStore;
use crate::model::{CommandImpl, IntegrationFile, Playbook};
use crate::output::{summary_of, CommandError, OutputModel, Status};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Shared services for command execution. Cheap to clone: nested runs share everything but
/// their depth.
#[derive(Clone)]
pub struct Services {
    pub files: FileStore,
    pub mocks: Arc<Mocks>,
    pub semaphore: Arc<tokio::sync::Semaphore>,
    /// The semaphore's size: how many batch elements are worth having in flight.
    pub concurrency: usize,
    pub clients: Arc<crate::http::Clients>,
    pub registry: Arc<crate::commands::Registry>,
    pub connections: Arc<ConnectionTable>,
    /// Sizes and counts not to exceed (`--limit`).
    pub limits: crate::limits::Limits,
    /// The incident and event of the outermost run (nested runs see them too).
    pub trigger: Arc<(Value, Value)>,
    pub depth: u32,
    pub trace: Arc<super::trace::Trace>,
    /// Notified to cancel the run (Ctrl-C).
    pub cancel: Arc<super::Cancel>,
    /// Where batch progress is shown.
    pub progress: super::Progress,
}

/// The connections of a run, resolved once, and how a task finds its own.
#[derive(Debug, Default)]
pub struct ConnectionTable {
    /// name → (integration prefix, resolved connection or why it cannot be used).
    by_name: indexmap::IndexMap<String, (String, Result<Arc<ResolvedConnection>, String>)>,
    /// Every sensitive value of every connection, to mask in output.
    pub secrets: crate::secrets::Secrets,
}

impl ConnectionTable {
    /// Resolves every connection of the workspace (reading `${env:…}`/`${file:…}` now).
    pub fn build(ws: &crate::workspace::Workspace) -> Self {
        let mut t = ConnectionTable::default();
        for (name, (_, conn)) in &ws.connections {
            let prefix = crate::workspace::integration_prefix(&conn.integration.value);
            let resolved = match ws.integrations.get(&prefix) {
                Some(i) => crate::connections::resolve(Some(conn), i).map(Arc::new),
                None => Err(format!(
                    "connection `{name}` names integration `{}`, which is not known",
                    conn.integration.value
                )),
            };
            if let Ok(r) = &resolved {
                t.secrets.extend(&r.secrets);
            }
            t.by_name.insert(name.clone(), (prefix, resolved));
        }
        t
    }

    /// The connection a task of integration `prefix` uses: the one it names, else the
    /// integration's only connection, else the integration's defaults.
    pub fn for_task(
        &self,
        prefix: &str,
        integration: &IntegrationFile,
        named: Option<&str>,
    ) -> Result<Arc<ResolvedConnection>, String> {
        if let Some(name) = named {
            let Some((p, r)) = self.by_name.get(name) else {
                let known: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
                let hint = crate::util::closest(name, known.iter().copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                return Err(format!("there is no connection `{name}`{hint}; pass the connections file with --connections"));
            };
            if p != prefix {
                return Err(format!(
                    "connection `{name}` is for integration `{p}`, not `{prefix}`"
                ));
            }
            return r.clone();
        }
        let mine: Vec<_> = self
            .by_name
            .iter()
            .filter(|(_, (p, _))| p == prefix)
            .collect();
        match mine.as_slice() {
            [(_, (_, r))] => r.clone(),
            [] => crate::connections::resolve(None, integration).map(Arc::new),
            many => Err(format!(
                "integration `{prefix}` has {} connections ({}); name one with `connection:`",
                many.len(),
                many.iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

impl Services {
    pub fn new(
        registry: Arc<crate::commands::Registry>,
        files: FileStore,
        mocks: Mocks,
        concurrency: usize,
        connections: ConnectionTable,
        trigger: (Value, Value),
    ) -> Self {
        Services {
            files,
            mocks: Arc::new(mocks),
            semaphore: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            concurrency: concurrency.max(1),
            clients: Arc::new(crate::http::Clients::default()),
            registry,
            connections: Arc::new(connections),
            limits: crate::limits::Limits::default(),
            trigger: Arc::new(trigger),
            depth: 0,
            trace: Arc::new(super::trace::Trace::default()),
            cancel: Arc::new(super::Cancel::default()),
            progress: super::Progress::default(),
        }
    }

    pub fn with_progress(mut self, progress: super::Progress) -> Self {
        self.progress = progress;
        self
    }

    pub fn with_trace(mut self, trace: Arc<super::trace::Trace>) -> Self {
        self.trace = trace;
        self
    }

    pub fn with_cancel(mut self, cancel: Arc<super::Cancel>) -> Self {
        self.cancel = cancel;
        self
    }

    pub fn with_limits(mut self, limits: crate::limits::Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// One command call's arguments (already resolved), or several for batch execution. A batch's
/// elements are kept as the shared arguments and the list, and each element's arguments are
/// built when it starts: a 1,000-element batch does not hold 1,000 maps (a quarter of an HTTP
/// batch's page faults, when it did).
#[derive(Debug, Clone)]
pub enum Calls {
    One(Map<String, Value>),
    /// `args` once per item, with parameter `param` set to the item.
    Batch {
        args: Map<String, Value>,
        param: String,
        items: Vec<Value>,
    },
    /// One call per element with arguments of its own (inputs that use `<<item>>`).
    Each(Vec<Map<String, Value>>),
}

impl Calls {
    /// How many calls: 1, or a batch's elements.
    pub fn len(&self) -> usize {
        match self {
            Calls::One(_) => 1,
            Calls::Batch { items, .. } => items.len(),
            Calls::Each(list) => list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The arguments of call `i` (`i < len()`; out of range gives an empty map).
    pub fn element(&self, i: usize) -> Map<String, Value> {
        match self {
            Calls::One(args) => args.clone(),
            Calls::Batch { args, param, items } => {
                let mut a = args.clone();
                a.insert(param.clone(), items.get(i).cloned().unwrap_or(Value::Null));
                a
            }
            Calls::Each(list) => list.get(i).cloned().unwrap_or_default(),
        }
    }
}

/// Applies defaults, checks required inputs and coerces each argument to its declared type.
/// An array given to a scalar parameter makes a batch: one call per element.
/// A batch longer than `max_batch` elements is refused (the `batch-size` limit).
pub fn build_calls(
    cmd: &Command,
    args: Map<String, Value>,
    max_batch: usize,
) -> Result<Calls, String> {
    build_calls_deferring(cmd, args, max_batch, &[])
}

/// `build_calls`, leaving out the parameters named in `deferred`: they read `<<item>>` and are
/// resolved, and checked, for each element of the batch.
pub fn build_calls_deferring(
    cmd: &Command,
    mut args: Map<String, Value>,
    max_batch: usize,
    deferred: &[&str],
) -> Result<Calls, String> {
    let spec = &cmd.spec;
    let mut out = Map::with_capacity(spec.inputs.len());
    let mut batch: Option<(String, Vec<Value>)> = None;
    for p in &spec.inputs {
        if deferred.contains(&p.name.as_str()) {
            continue;
        }
        let v = match args.remove(&p.name) {
            Some(Value::Null) | None => match &p.default {
                Some(d) => d.clone(),
                None if p.required => {
                    return Err(format!(
                        "parameter `{}` ({}) is required but has no value",
                        p.name, p.display
                    ))
                }
                None => continue,
            },
            Some(v) => v,
        };
        let v = match v {
            Value::Array(items) if p.ty.is_scalar() => {
                if let Some((other, _)) = &batch {
                    return Err(format!(
                        "parameters `{other}` and `{}` both received lists; batch execution runs over one list",
                        p.name
                    ));
                }
                batch = Some((p.name.clone(), items));
                continue;
            }
            v => v,
        };
        let v = checked(p, v).map_err(|e| format!("parameter `{}`{e}", p.name))?;
        out.insert(p.name.clone(), v);
    }
    if let Some(extra) = args.keys().next() {
        return Err(format!("`{}` has no parameter `{extra}`", spec.name));
    }
    let Some((name, items)) = batch else {
        return Ok(Calls::One(out));
    };
    if items.len() > max_batch {
        return Err(format!(
            "parameter `{name}` received a list of {} elements, more than the batch-size limit of {max_batch} ({})",
            items.len(),
            crate::limits::raise_hint("batch-size")
        ));
    }
    let mut coerced = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        // Each element is checked as the parameter's value would be: type, bounds, options.
        let v = match spec.input(&name) {
            Some(p) => checked(p, item),
            None => Ok(item),
        }
        .map_err(|e| format!("parameter `{name}`, element {i}{e}"))?;
        coerced.push(v);
    }
    Ok(Calls::Batch {
        args: out,
        param: name,
        items: coerced,
    })
}

/// `v` coerced to `p`'s type and checked against its bounds and options; the error begins with
/// what follows the parameter's name in a message (`: ...` or ` (Display): ...`).
fn checked(p: &crate::commands::ParamSpec, v: Value) -> Result<Value, String> {
    let v = coerce(p.ty, v.clone()).map_err(|e| format!(": {e} (value: {})", clip(&v)))?;
    p.check_bounds(&v)
        .map_err(|e| format!(" ({}): {e}", p.display))?;
    if !p.options.is_empty() {
        if let Value::String(s) = &v {
            if !p.options.iter().any(|o| o == s) {
                return Err(format!(
                    ": `{}` is not one of: {}",
                    clip(&v).trim_matches('"'),
                    p.options.join(", ")
                ));
            }
        }
    }
    Ok(v)
}

fn clip(v: &Value) -> String {
    crate::secrets::clip(&v.to_string(), 80)
}

/// Runs one call of a command (no task-level retries); the caller has consulted the mocks.
/// Returns the output and the number of retries made inside the command (HTTP retries).
async fn call_once(
    cmd: &Arc<Command>,
    task_id: &str,
    args: Map<String, Value>,
    conn: Option<&Arc<ResolvedConnection>>,
    services: &Services,
) -> (OutputModel, u32) {
    let display = &cmd.spec.display;
    match &cmd.implementation {
        Implementation::Utility(f) => {
            let _permit = services.semaphore.acquire().await;
            let ctx = UtilityContext {
                files: &services.files,
                now: chrono::Utc::now(),
                query_budget: crate::jsonpath::Budget::of(&services.limits),
            };
            (utility_output(display, f(&Args::new(args), &ctx)), 0)
        }
        Implementation::Async(f) => {
            let _permit = services.semaphore.acquire().await;
            (utility_output(display, f(Args::new(args)).await), 0)
        }
        Implementation::Integration {
            integration,
            command,
        } => {
            let Some(c) = integration.commands.get(command) else {
                return (
                    OutputModel::failure(CommandError::new(
                        display,
                        format!(
                            "integration `{}` has no command `{command}`",
                            integration.name.value
                        ),
                    )),
                    0,
                );
            };
            const NO_CONNECTOR: &Value = &Value::Null;
            let connector = conn.map_or(NO_CONNECTOR, |c| &c.params);
            let no_secrets = crate::secrets::Secrets::default();
            let secrets = conn.map_or(&no_secrets, |c| &c.secrets);
            match &c.implementation {
                CommandImpl::Request(req) => {
                    let _permit = services.semaphore.acquire().await;
                    let call = crate::http::Call {
                        integration,
                        command: c,
                        request: req,
                        args,
                        connector,
                        secrets,
                        files: &services.files,
                        clients: &services.clients,
                        max_response_bytes: services.limits.response_size,
                        query_budget: crate::jsonpath::Budget::of(&services.limits),
                        max_output_bytes: services.limits.output_size,
                        max_batch: services.limits.batch_size,
                        trace: &services.trace,
                        task_id,
                        cancel: &services.cancel,
                    };
                    // Boxed: the HTTP call's future is several KB, and a batch element's task is
                    // moved a few times as it is spawned (2 % of a batch's instructions).
                    Box::pin(crate::http::execute(call)).await
                }
                // No permit here: the body's own commands take theirs.
                CommandImpl::Tasks(body) => {
                    run_nested(
                        body.clone(),
                        display.clone(),
                        args,
                        connector.clone(),
                        true,
                        services,
                    )
                    .await
                }
                CommandImpl::Missing => (
                    OutputModel::failure(CommandError::new(
                        display,
                        "the command declares neither `request` nor `tasks`",
                    )),
                    0,
                ),
            }
        }
        Implementation::Playbook(p) => {
            run_nested(
                p.clone(),
                display.clone(),
                args,
                Value::Null,
                false,
                services,
            )
            .await
        }
    }
}

fn utility_output(display: &str, r: Result<Value, String>) -> OutputModel {
    match r {
        Ok(v) => OutputModel::success(v),
        Err(msg) => OutputModel::failure(CommandError::new(display, msg)),
    }
}

/// Runs a playbook body as a command. Not an `async fn`: the boxed future breaks the type
/// recursion (a nested run runs commands, which may run nested runs).
fn run_nested(
    pb: Arc<Playbook>,
    display: String,
    args: Map<String, Value>,
    connector: Value,
    output_model_fields: bool,
    services: &Services,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = (OutputModel, u32)> + Send>> {
    let mut child = services.clone();
    child.depth += 1;
    child.progress = super::Progress::default();
    Box::pin(async move {
        if child.depth > child.limits.nesting_depth {
            let msg = format!(
                "playbooks nest deeper than {} levels, the nesting-depth limit (is a playbook calling itself? if not, {})",
                child.limits.nesting_depth,
                crate::limits::raise_hint("nesting-depth")
            );
            return (OutputModel::failure(CommandError::new(&display, msg)), 0);
        }
        let (plan, _) = crate::plan::plan(&pb);
        let now = chrono::Utc::now();
        let data = super::RunData {
            incident: child.trigger.0.clone(),
            event: child.trigger.1.clone(),
            inputs: Value::Object(args),
            connector,
            playbook: serde_json::json!({"name": pb.name.value, "run_id": format!("{:x}", now.timestamp_nanos_opt().unwrap_or(0)), "started_at": now.format("%Y-%m-%d %H:%M:%S").to_string()}),
        };
        let registry = child.registry.clone();
        // Nested runs show no progress of their own (their task's line stands for them).
        let progress = super::Progress::default();
        let asks_for_retry = output_model_fields && writes_retry_marker(&pb);
        let r = super::engine::Engine::new(
            pb,
            Arc::new(plan),
            registry,
            Arc::new(child),
            data,
            progress,
        )
        .run()
        .await;
        let mut out = nested_output(&display, r, output_model_fields);
        if asks_for_retry && !out.failed() {
            out.retry = crate::output::RetryRequest::from_marker(&out.return_data);
        }
        (out, 0)
    })
}

/// Whether a `tasks:` command's `outputs.returnData` is the seed's retry marker written in the
/// YAML itself (`returnData: { __ACTION__: __RETRY__, __DELAY__: [5] }`): only then may the
/// command ask to be run again. A returnData taken from data (`<<tasks.x.returnData>>`) that
/// happens to look like the marker is data.
fn writes_retry_marker(body: &Playbook) -> bool {
    use crate::model::TKind;
    let Some((_, v)) = body.outputs.get("returnData") else {
        return false;
    };
    match &v.kind {
        TKind::Literal(marker) => crate::output::RetryRequest::from_marker(marker).is_some(),
        TKind::Map(m) => m
            .get("__ACTION__")
            .and_then(|(_, a)| a.as_literal())
            .is_some_and(|a| a == "__RETRY__"),
        _ => false,
    }
}

/// A nested run's result as an output model. A playbook's `outputs:` become returnData (and
/// key fields); an integration command's `outputs:` name output model fields directly.
fn nested_output(display: &str, r: super::RunResult, output_model_fields: bool) -> OutputModel {
    let failed_task = r.tasks.iter().find(|t| {
        t.status == super::TaskStatus::Done(Status::Failed)
            && t.output.get("error").is_some_and(|e| !e.is_null())
    });
    let error = (r.status == Status::Failed).then(|| {
        let detail = failed_task
            .map(|t| {
                format!(
                    "task `{}`: {}",
                    t.id,
                    t.output["error"]["message"].as_str().unwrap_or("failed")
                )
            })
            .unwrap_or_else(|| "a task failed".into());
        CommandError::new(display, detail)
    });
    let outputs = Value::Object(r.outputs.clone());
    let mut out = if output_model_fields {
        let o = &r.outputs;
        let get = |k: &str| o.get(k).cloned().unwrap_or(Value::Null);
        OutputModel {
            status: r.status,
            return_data: o
                .get("returnData")
                .cloned()
                .unwrap_or_else(|| Value::String(r.status.as_str().into())),
            result: o
                .get("result")
                .cloned()
                .unwrap_or_else(|| summary_of(&get("rawData"))),
            key_fields: o
                .get("keyFields")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            raw_data: get("rawData"),
            error: match o.get("error") {
                Some(Value::Null) | None => None,
                Some(Value::String(m)) => Some(CommandError::new(display, m.clone())),
                Some(other) => Some(CommandError {
                    indicator: format!("{display} failed."),
                    status_code: other
                        .get("status_code")
                        .and_then(Value::as_u64)
                        .and_then(|c| u16::try_from(c).ok()),
                    message: other
                        .get("message")
                        .map(crate::commands::args::value_to_text)
                        .unwrap_or_else(|| other.to_string()),
                }),
            },
            passdown: get("passdown"),
            retry: None,
        }
    } else {
        OutputModel {
            status: r.status,
            key_fields: r.outputs.clone(),
            result: summary_of(&outputs),
            raw_data: outputs.clone(),
            return_data: outputs,
            error: None,
            passdown: Value::Null,
            retry: None,
        }
    };
    if out.error.is_none() {
        out.error = error;
    }
    if out.error.is_some() {
        out.status = Status::Failed;
    }
    out
}

/// Runs the calls (one, or a batch in order) and aggregates a batch's outputs.
pub async fn call(
    cmd: &Arc<Command>,
    task_id: &str,
    calls: &Arc<Calls>,
    conn: Option<&Arc<ResolvedConnection>>,
    services: &Services,
) -> (OutputModel, u32) {
    if let Calls::One(args) = &**calls {
        let budget = crate::jsonpath::Budget::of(&services.limits);
        if let Some(out) = services
            .mocks
            .next(task_id, &cmd.spec.name, &cmd.spec, budget)
        {
            return (out, 0);
        }
        return call_once(cmd, task_id, args.clone(), conn, services).await;
    }
    // A batch runs on `--concurrency` worker tasks (or fewer for a short list). Each worker
    // takes the next element, runs it, and takes the next, so a slow element holds up only
    // its own worker, and the workers run on every thread of the runtime: a batch of CPU-bound
    // commands uses every core (1,000 regex replacements on 8 KB texts ran 1.7x faster than as
    // futures polled by one task). Elements are handed out in order, and the mocks are drawn
    // as each is handed out, so they are drawn in element order too. Each element's arguments
    // are built when it starts. Dropping this future (a task timeout) aborts the
    // workers.
    let total = calls.len();
    let shared = Arc::new(Batch {
        cmd: cmd.clone(),
        task_id: task_id.to_owned(),
        conn: conn.cloned(),
        services: services.clone(),
        calls: calls.clone(),
        next: std::sync::Mutex::new(0),
        finished: std::sync::Mutex::new(Finished {
            count: 0,
            bytes: 0,
            over: false,
            slots: std::iter::repeat_with(|| None).take(total).collect(),
        }),
        dropped: std::sync::atomic::AtomicBool::new(false),
    });
    let _stop = StopWorkers(shared.clone());
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..services.concurrency.min(total) {
        workers.spawn(shared.clone().work());
    }
    while workers.join_next().await.is_some() {}
    let (slots, count, over) = {
        let mut f = shared.finished.lock().unwrap_or_else(|e| e.into_inner());
        (std::mem::take(&mut f.slots), f.count, f.over)
    };
    let display = &cmd.spec.display;
    let mut retries = 0;
    if over {
        // What the elements returned so far is dropped with the slots: the task fails.
        for (_, r) in slots.into_iter().flatten() {
            retries += r;
        }
        let limit = services.limits.output_size;
        let msg = format!(
            "the outputs of its elements took more than {}, the output-size limit, after {count} of {total} elements; no further element was started ({})",
            crate::limits::bytes_text(limit),
            crate::limits::raise_hint("output-size")
        );
        return (task_failure(display, msg), retries);
    }
    // Elements never handed out were left by a Ctrl-C. Element panics are caught inside the
    // workers; should a worker itself stop (a bug), its elements fail by name rather than
    // vanish and shift the others' outputs.
    let cancelled = services.cancel.is_cancelled();
    let outs = slots
        .into_iter()
        .map(|slot| {
            let (out, r) = slot.unwrap_or_else(|| match cancelled {
                true => (not_started(display), 0),
                false => (internal_error(display, "its batch worker stopped"), 0),
            });
            retries += r;
            out
        })
        .collect();
    (aggregate(display, outs), retries)
}

/// Why a batch element has no output of its own: the run was cancelled before it started.
const NOT_STARTED: &str = "not started: the run was cancelled (Ctrl-C)";

/// The output of a batch element left unstarted by a Ctrl-C: a failure whose returnData says
/// `Cancelled`, as the tasks that never ran are.
pub fn not_started(display: &str) -> OutputModel {
    let mut out = OutputModel::failure(CommandError::new(display, NOT_STARTED));
    out.return_data = Value::String("Cancelled".into());
    out
}

/// What a batch's workers share.
struct Batch {
    cmd: Arc<Command>,
    task_id: String,
    conn: Option<Arc<ResolvedConnection>>,
    services: Services,
    calls: Arc<Calls>,
    /// The next element to hand out.
    next: std::sync::Mutex<usize>,
    /// The elements finished; progress is reported under this lock, so in order.
    finished: std::sync::Mutex<Finished>,
    /// Set when the batch's future is dropped (a task timeout): an aborted worker stops
    /// only at its next wait, and a worker whose waits are all ready would otherwise go on
    /// taking elements until tokio's budget makes it yield.
    dropped: std::sync::atomic::AtomicBool,
}

/// A batch's finished elements: each output goes straight into its element's slot (an output
/// model is ~430 bytes, and a list per worker, merged at the end, held every output twice).
struct Finished {
    count: usize,
    /// Bytes (compact JSON) of the outputs in `slots`, against the `output-size` limit.
    bytes: u64,
    /// The outputs passed the `output-size` limit: no element starts after that.
    over: bool,
    slots: Vec<Option<(OutputModel, u32)>>,
}

/// Tells the workers to take no more elements when the batch's future goes away.
struct StopWorkers(Arc<Batch>);

impl Drop for StopWorkers {
    fn drop(&mut self) {
        self.0
            .dropped
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Batch {
    /// One worker: runs elements until none is left, each into its slot of `finished`.
    async fn work(self: Arc<Self>) {
        use futures::FutureExt;
        let total = self.calls.len();
        loop {
            let (i, mocked) = {
                let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
                // After a Ctrl-C no element starts; those running end on their own.
                if *next >= total
                    || self.dropped.load(std::sync::atomic::Ordering::Relaxed)
                    || self.services.cancel.is_cancelled()
                {
                    return;
                }
                *next += 1;
                let mock = self.services.mocks.next(
                    &self.task_id,
                    &self.cmd.spec.name,
                    &self.cmd.spec,
                    crate::jsonpath::Budget::of(&self.services.limits),
                );
                (*next - 1, mock)
            };
            let out = match mocked {
                Some(out) => (out, 0),
                None => {
                    let call = call_once(
                        &self.cmd,
                        &self.task_id,
                        self.calls.element(i),
                        self.conn.as_ref(),
                        &self.services,
                    );
                    std::panic::AssertUnwindSafe(call)
                        .catch_unwind()
                        .await
                        // A bug in a command: this element fails, the others go on.
                        .unwrap_or_else(|_| {
                            (internal_error(&self.cmd.spec.display, "it panicked"), 0)
                        })
                }
            };
            // Measured before the lock is taken: a large output costs its walk on this worker.
            let limit = self.services.limits.output_size;
            let size = out.0.size(crate::limits::MeasureAs::Compact, limit);
            let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
            finished.bytes = finished.bytes.saturating_add(size.unwrap_or(u64::MAX));
            let out = if finished.bytes > limit {
                // Over the limit: this output is not kept (its retries are), the workers stop.
                finished.over = true;
                self.dropped
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                (OutputModel::default(), out.1)
            } else {
                out
            };
            if let Some(slot) = finished.slots.get_mut(i) {
                *slot = Some(out);
            }
            finished.count += 1;
            self.services
                .progress
                .batch(&self.task_id, finished.count, total);
        }
    }
}

/// Batch outputs → one output: arrays of each field; Partially Successful when some failed.
pub fn aggregate(display: &str, outs: Vec<OutputModel>) -> OutputModel {
    let total = outs.len();
    let mut key_fields = Map::new();
    for o in &outs {
        for k in o.key_fields.keys() {
            if !key_fields.contains_key(k) {
                key_fields.insert(k.clone(), Value::Array(Vec::with_capacity(total)));
            }
        }
    }
    let mut failed: Vec<(usize, CommandError)> = Vec::new();
    let mut partial = false;
    let mut return_data = Vec::with_capacity(total);
    let mut raw_data = Vec::with_capacity(total);
    let mut passdown = Value::Null;
    for (i, mut o) in outs.into_iter().enumerate() {
        for (k, slot) in key_fields.iter_mut() {
            if let Value::Array(a) = slot {
                a.push(o.key_fields.remove(k).unwrap_or(Value::Null));
            }
        }
        partial |= o.status == Status::PartiallySuccessful;
        if let Some(e) = o.error {
            failed.push((i, e));
        }
        return_data.push(o.return_data);
        raw_data.push(o.raw_data);
        passdown = o.passdown;
    }
    let error = if total > 0 && failed.len() == total {
        let first = &failed[0].1;
        Some(CommandError {
            indicator: format!("{display} failed."),
            status_code: first.status_code,
            message: format!("all {total} items failed; item 0: {}", first.message),
        })
    } else {
        None
    };
    let status = if error.is_some() {
        Status::Failed
    } else if !failed.is_empty() || partial {
        Status::PartiallySuccessful
    } else {
        Status::Successful
    };
    let mut result = format!("{} of {total} items succeeded", total - failed.len());
    // Elements a Ctrl-C left unstarted are counted on one line, not listed one by one.
    let unstarted = failed
        .iter()
        .filter(|(_, e)| e.message == NOT_STARTED)
        .count();
    for (i, e) in failed.iter().filter(|(_, e)| e.message != NOT_STARTED) {
        result.push_str(&format!("\nitem {i}: {}", e.render()));
    }
    if unstarted > 0 {
        result.push_str(&format!(
            "\n{unstarted} items not started: the run was cancelled (Ctrl-C)"
        ));
    }
    OutputModel {
        status,
        return_data: Value::Array(return_data),
        result: Value::String(result),
        key_fields,
        raw_data: Value::Array(raw_data),
        error,
        passdown,
        retry: None,
    }
}

/// A summary value for a failed output of a task-level problem (bad arguments, timeouts).
/// `out`, or a failure naming the `output-size` limit when its compact JSON is larger than that.
pub fn within_output_size(
    out: OutputModel,
    display: &str,
    limits: &crate::limits::Limits,
) -> OutputModel {
    if out
        .size(crate::limits::MeasureAs::Compact, limits.output_size)
        .is_some()
    {
        return out;
    }
    task_failure(
        display,
        format!(
            "its output takes more than {}, the output-size limit ({})",
            crate::limits::bytes_text(limits.output_size),
            crate::limits::raise_hint("output-size")
        ),
    )
}

pub fn task_failure(display: &str, message: String) -> OutputModel {
    let mut o = OutputModel::failure(CommandError::new(display, message));
    o.result = summary_of(&o.result);
    o
}

/// A command that stopped by a bug (a panic): its task or batch element fails with this, and
/// the run goes on.
pub fn internal_error(display: &str, cause: &str) -> OutputModel {
    task_failure(
        display,
        format!("internal error: the command stopped unexpectedly ({cause}); please report this as a bug"),
    )
}
