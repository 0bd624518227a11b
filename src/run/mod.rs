//! Running a playbook: inputs, the engine, and the run document of DESIGN.md §6.
//! Owns run-time wiring; validation happens before (a playbook with errors never starts).

mod engine;
pub mod invoke;
pub mod mock;
pub mod progress;
pub mod trace;

pub use crate::cancel::Cancel;
pub use engine::{RunData, RunResult, TaskResult, TaskStatus};
pub use invoke::{ConnectionTable, Services};
pub use mock::Mocks;
pub use progress::Progress;

use crate::commands::{coerce::coerce, Registry};
use crate::files::FileStore;
use crate::model::Playbook;
use crate::plan::Plan;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub struct RunOptions {
    /// Most commands in flight at once.
    pub concurrency: usize,
    pub mocks: Mocks,
    pub files: FileStore,
    pub progress: Progress,
    pub connections: invoke::ConnectionTable,
    pub trace: Arc<trace::Trace>,
    /// Notify it to cancel the run: no new task starts, running ones end or time out.
    pub cancel: Arc<Cancel>,
    pub limits: crate::limits::Limits,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            concurrency: 16,
            mocks: Mocks::default(),
            files: FileStore::user_default(),
            progress: Progress::default(),
            connections: invoke::ConnectionTable::default(),
            trace: Arc::new(trace::Trace::default()),
            cancel: Arc::new(Cancel::default()),
            limits: crate::limits::Limits::default(),
        }
    }
}

/// Checks and completes the playbook's inputs: defaults, required, types, options.
pub fn prepare_inputs(pb: &Playbook, mut given: Map<String, Value>) -> Result<Value, String> {
    let mut out = Map::new();
    for decl in &pb.inputs {
        let name = &decl.name.value;
        let v = match given.remove(name) {
            Some(v) => v,
            None => match &decl.default {
                Some(d) => d.clone(),
                None if decl.required => {
                    return Err(format!(
                        "input `{name}` is required: pass --input {name}=VALUE"
                    ))
                }
                None => {
                    out.insert(name.clone(), Value::Null);
                    continue;
                }
            },
        };
        let v = coerce(decl.ty, v).map_err(|e| format!("input `{name}`: {e}"))?;
        if let (false, Value::String(s)) = (decl.options.is_empty(), &v) {
            if !decl.options.contains(s) {
                return Err(format!(
                    "input `{name}`: `{s}` is not one of: {}",
                    decl.options.join(", ")
                ));
            }
        }
        out.insert(name.clone(), v);
    }
    if let Some(extra) = given.keys().next() {
        let known: Vec<&str> = pb.inputs.iter().map(|i| i.name.value.as_str()).collect();
        let hint = crate::util::closest(extra, known.iter().copied())
            .map(|c| format!(" (did you mean `{c}`?)"))
            .unwrap_or_default();
        return Err(format!("the playbook has no input `{extra}`{hint}"));
    }
    Ok(Value::Object(out))
}

/// Runs a validated playbook to the end.
pub async fn run_playbook(
    pb: Arc<Playbook>,
    plan: Arc<Plan>,
    registry: Arc<Registry>,
    mut data: RunData,
    opts: RunOptions,
) -> RunResult {
    if data.playbook.is_null() {
        let now = chrono::Utc::now();
        data.playbook = json!({
            "name": pb.name.value,
            "run_id": format!("{:x}-{:x}", now.timestamp_millis(), std::process::id()),
            "started_at": now.format("%Y-%m-%d %H:%M:%S").to_string(),
        });
    }
    let services = Arc::new(
        Services::new(
            registry.clone(),
            opts.files,
            opts.mocks,
            opts.concurrency,
            opts.connections,
            (data.incident.clone(), data.event.clone()),
        )
        .with_trace(opts.trace)
        .with_cancel(opts.cancel)
        .with_limits(opts.limits)
        .with_progress(opts.progress.clone()),
    );
    let engine = engine::Engine::new(pb, plan, registry, services, data, opts.progress);
    // The coordinator runs as a task of the runtime rather than on the thread that waits for
    // the run (`block_on`): the commands it spawns then start on the same worker thread, and a
    // chain of tasks does not wake another thread twice per task (that cost ~10 µs a task on
    // 2 cores). Dropping this future still stops the run, as it did when the engine ran inline.
    struct AbortOnDrop(tokio::task::JoinHandle<RunResult>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut handle = AbortOnDrop(tokio::spawn(engine.run()));
    match (&mut handle.0).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("the run was cancelled: {e}"),
    }
}

/// The run document printed by `codeless run`. Built field by field: `json!` would serialize
/// a second copy of every task's output (and a third of the whole document).
pub fn run_document(pb: &Playbook, r: &RunResult) -> Value {
    let mut tasks = Map::with_capacity(r.tasks.len());
    for t in &r.tasks {
        let o = &t.output;
        let get = |k: &str| o.get(k).cloned().unwrap_or(Value::Null);
        let mut task = Map::with_capacity(9);
        task.insert("status".into(), Value::from(t.status.as_str()));
        task.insert("returnData".into(), get("returnData"));
        task.insert("result".into(), get("result"));
        task.insert(
            "keyFields".into(),
            o.get("keyFields")
                .cloned()
                .unwrap_or_else(|| Value::Object(Map::new())),
        );
        task.insert("rawData".into(), get("rawData"));
        task.insert("error".into(), get("error"));
        task.insert("runs".into(), Value::from(t.runs));
        task.insert("retries".into(), Value::from(t.retries));
        task.insert("duration_ms".into(), Value::from(t.duration_ms));
        // DESIGN §6: `passdown` only where a task has one.
        if let Some(p) = o.get("passdown").filter(|p| !p.is_null()) {
            task.insert("passdown".into(), p.clone());
        }
        tasks.insert(t.id.clone(), Value::Object(task));
    }
    let mut doc = Map::with_capacity(4);
    doc.insert("playbook".into(), Value::from(pb.name.value.clone()));
    doc.insert("status".into(), Value::from(r.status.as_str()));
    doc.insert("outputs".into(), Value::Object(r.outputs.clone()));
    doc.insert("tasks".into(), Value::Object(tasks));
    Value::Object(doc)
}

/// Runs a playbook of a workspace with the workspace's connections, and returns the run
/// document with every secret masked.
pub async fn run_in_workspace(
    ws: &crate::workspace::Workspace,
    pb: Arc<Playbook>,
    data: RunData,
    mut opts: RunOptions,
) -> (RunResult, Value) {
    let table = ConnectionTable::build(ws);
    let secrets = table.secrets.clone();
    opts.connections = table;
    opts.progress.secrets.extend(&secrets);
    let (plan, _) = crate::plan::plan(&pb);
    let registry = Arc::new(ws.registry.clone());
    let result = run_playbook(pb.clone(), Arc::new(plan), registry, data, opts).await;
    let mut doc = run_document(&pb, &result);
    secrets.mask_value(&mut doc);
    (result, doc)
}
