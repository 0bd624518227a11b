//! Invoking one command for a task: argument coercion, batch execution over arrays, mocks,
//! retries (task policy and the seed's `__RETRY__`), timeouts. Knows nothing about the graph.

use super::mock::Mocks;
use crate::commands::{coerce::coerce, Args, Command, Implementation, UtilityContext};
use crate::files::FileStore;
use crate::output::{summary_of, CommandError, OutputModel, Status};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The most `__RETRY__` re-runs a command may ask for in one task run.
pub const MAX_COMMAND_RETRIES: u32 = 100;

/// Shared services for command execution.
pub struct Services {
    pub files: FileStore,
    pub mocks: Mocks,
    pub semaphore: tokio::sync::Semaphore,
}

/// One command call's arguments (already resolved), or several for batch execution.
#[derive(Debug, Clone)]
pub enum Calls {
    One(Map<String, Value>),
    Batch(Vec<Map<String, Value>>),
}

/// Applies defaults, checks required inputs and coerces each argument to its declared type.
/// An array given to a scalar parameter makes a batch: one call per element.
pub fn build_calls(cmd: &Command, mut args: Map<String, Value>) -> Result<Calls, String> {
    let spec = &cmd.spec;
    let mut out = Map::with_capacity(spec.inputs.len());
    let mut batch: Option<(String, Vec<Value>)> = None;
    for p in &spec.inputs {
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
        if let (true, Value::Array(items)) = (p.ty.is_scalar(), &v) {
            if let Some((other, _)) = &batch {
                return Err(format!(
                    "parameters `{other}` and `{}` both received lists; batch execution runs over one list",
                    p.name
                ));
            }
            batch = Some((p.name.clone(), items.clone()));
            continue;
        }
        let v = coerce(p.ty, v.clone())
            .map_err(|e| format!("parameter `{}`: {e} (value: {})", p.name, clip(&v)))?;
        if !p.options.is_empty() {
            if let Value::String(s) = &v {
                if !p.options.iter().any(|o| o == s) {
                    return Err(format!(
                        "parameter `{}`: `{s}` is not one of: {}",
                        p.name,
                        p.options.join(", ")
                    ));
                }
            }
        }
        out.insert(p.name.clone(), v);
    }
    if let Some(extra) = args.keys().next() {
        return Err(format!("`{}` has no parameter `{extra}`", spec.name));
    }
    let Some((name, items)) = batch else {
        return Ok(Calls::One(out));
    };
    let ty = spec
        .input(&name)
        .map(|p| p.ty)
        .unwrap_or(crate::commands::ParamType::Any);
    let mut calls = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let v = coerce(ty, item.clone()).map_err(|e| {
            format!(
                "parameter `{name}`, element {i}: {e} (value: {})",
                clip(&item)
            )
        })?;
        let mut a = out.clone();
        a.insert(name.clone(), v);
        calls.push(a);
    }
    Ok(Calls::Batch(calls))
}

fn clip(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Runs one call of a command (no retries), honouring mocks.
pub async fn call_once(
    cmd: &Arc<Command>,
    task_id: &str,
    args: Map<String, Value>,
    services: &Services,
) -> OutputModel {
    if let Some(out) = services.mocks.next(task_id, &cmd.spec.name, &cmd.spec) {
        return out;
    }
    let _permit = services.semaphore.acquire().await;
    match &cmd.implementation {
        Implementation::Utility(f) => {
            let ctx = UtilityContext {
                files: &services.files,
                now: chrono::Utc::now(),
            };
            match f(&Args::new(args), &ctx) {
                Ok(v) => OutputModel::success(v),
                Err(msg) => OutputModel::failure(CommandError::new(&cmd.spec.display, msg)),
            }
        }
        Implementation::Async(f) => match f(Args::new(args)).await {
            Ok(v) => OutputModel::success(v),
            Err(msg) => OutputModel::failure(CommandError::new(&cmd.spec.display, msg)),
        },
    }
}

/// Runs the calls (one, or a batch in order) and aggregates a batch's outputs.
pub async fn call(
    cmd: &Arc<Command>,
    task_id: &str,
    calls: Calls,
    services: &Services,
) -> OutputModel {
    match calls {
        Calls::One(args) => call_once(cmd, task_id, args, services).await,
        Calls::Batch(list) => {
            let mut outs = Vec::with_capacity(list.len());
            for args in list {
                outs.push(call_once(cmd, task_id, args, services).await);
            }
            aggregate(&cmd.spec.display, outs)
        }
    }
}

/// Batch outputs → one output: arrays of each field; Partially Successful when some failed.
pub fn aggregate(display: &str, outs: Vec<OutputModel>) -> OutputModel {
    let total = outs.len();
    let failed: Vec<(usize, &CommandError)> = outs
        .iter()
        .enumerate()
        .filter_map(|(i, o)| o.error.as_ref().map(|e| (i, e)))
        .collect();
    let mut key_fields = Map::new();
    for o in &outs {
        for k in o.key_fields.keys() {
            key_fields
                .entry(k.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
        }
    }
    for o in &outs {
        for (k, slot) in key_fields.iter_mut() {
            if let Value::Array(a) = slot {
                a.push(o.key_fields.get(k).cloned().unwrap_or(Value::Null));
            }
        }
    }
    let error = if total > 0 && failed.len() == total {
        let first = failed[0].1;
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
    } else if !failed.is_empty() || outs.iter().any(|o| o.status == Status::PartiallySuccessful) {
        Status::PartiallySuccessful
    } else {
        Status::Successful
    };
    let mut result = format!("{} of {total} items succeeded", total - failed.len());
    for (i, e) in &failed {
        result.push_str(&format!("\nitem {i}: {}", e.render()));
    }
    OutputModel {
        status,
        return_data: Value::Array(outs.iter().map(|o| o.return_data.clone()).collect()),
        result: Value::String(result),
        key_fields,
        raw_data: Value::Array(outs.iter().map(|o| o.raw_data.clone()).collect()),
        error,
        passdown: outs
            .last()
            .map(|o| o.passdown.clone())
            .unwrap_or(Value::Null),
    }
}

/// The seed's retry request: returnData `{"__ACTION__": "__RETRY__", "__DELAY__": [10, 20]}`.
/// Returns the delay before retry number `retry` (0-based), the last delay repeating.
pub fn retry_request(out: &OutputModel, retry: u32) -> Option<Duration> {
    let obj = out.return_data.as_object()?;
    if obj.get("__ACTION__")?.as_str()? != "__RETRY__" {
        return None;
    }
    let secs = match obj.get("__DELAY__") {
        Some(Value::Array(d)) if !d.is_empty() => d
            .get(retry as usize)
            .or(d.last())
            .and_then(Value::as_f64)
            .unwrap_or(0.0),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    };
    Some(Duration::from_secs_f64(secs.clamp(0.0, 3600.0)))
}

/// A summary value for a failed output of a task-level problem (bad arguments, timeouts).
pub fn task_failure(display: &str, message: String) -> OutputModel {
    let mut o = OutputModel::failure(CommandError::new(display, message));
    o.result = summary_of(&o.result);
    o
}
