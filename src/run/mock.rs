//! Mocked command outputs (`--mock FILE`, test cases): replace a task's or a command's output.
//! Format: a mapping from task id or command name to an output model (or a list of them, one per
//! call, the last repeating). `error: {status_code, message}` makes a failure.

use crate::commands::CommandSpec;
use crate::output::{CommandError, OutputModel, Status};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct Mocks {
    entries: HashMap<String, Vec<Value>>,
    calls: Mutex<HashMap<String, usize>>,
}

impl Mocks {
    /// Builds mocks from a JSON object; returns a message naming the bad entry otherwise.
    pub fn from_json(v: &Value) -> Result<Mocks, String> {
        let obj = v
            .as_object()
            .ok_or("a mock file must be a mapping of task id or command name: output")?;
        let mut entries = HashMap::new();
        for (k, v) in obj {
            if k == "kind" {
                continue;
            }
            let list = match v {
                Value::Array(a) if !a.is_empty() => a.clone(),
                Value::Object(_) => vec![v.clone()],
                _ => {
                    return Err(format!(
                        "mock `{k}` must be an output model object or a non-empty list of them"
                    ))
                }
            };
            for (i, item) in list.iter().enumerate() {
                let o = item
                    .as_object()
                    .ok_or_else(|| format!("mock `{k}`, entry {i}: expected an object"))?;
                for key in o.keys() {
                    if ![
                        "status",
                        "returnData",
                        "result",
                        "keyFields",
                        "rawData",
                        "error",
                        "passdown",
                    ]
                    .contains(&key.as_str())
                    {
                        return Err(format!("mock `{k}`, entry {i}: unknown field `{key}` (output model fields: status, returnData, result, keyFields, rawData, error, passdown)"));
                    }
                }
            }
            entries.insert(k.strip_prefix("tasks.").unwrap_or(k).to_owned(), list);
        }
        Ok(Mocks {
            entries,
            calls: Mutex::new(HashMap::new()),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a task (by id) or its command has a mock.
    pub fn covers(&self, task_id: &str, command: &str) -> bool {
        self.entries.contains_key(task_id) || self.entries.contains_key(command)
    }

    /// The next mocked output for this task (by id first, then by command name). Key fields
    /// are extracted from a mocked rawData within `budget`.
    pub fn next(
        &self,
        task_id: &str,
        command: &str,
        spec: &CommandSpec,
        budget: crate::jsonpath::Budget,
    ) -> Option<OutputModel> {
        let key = if self.entries.contains_key(task_id) {
            task_id
        } else {
            command
        };
        let list = self.entries.get(key)?;
        let n = {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            let c = calls.entry(key.to_owned()).or_insert(0);
            *c += 1;
            *c - 1
        };
        let v = list.get(n).or(list.last())?;
        Some(to_output(v, spec, budget))
    }
}

fn to_output(v: &Value, spec: &CommandSpec, budget: crate::jsonpath::Budget) -> OutputModel {
    let o = v.as_object().cloned().unwrap_or_default();
    let error = o
        .get("error")
        .filter(|e| !e.is_null())
        .map(|e| CommandError {
            indicator: format!("{} failed.", spec.display),
            status_code: e
                .get("status_code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok()),
            message: match e.get("message") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => match e {
                    Value::String(s) => s.clone(),
                    _ => "mocked failure".into(),
                },
            },
        });
    let raw_data = o.get("rawData").cloned().unwrap_or(Value::Null);
    let return_data = o.get("returnData").cloned().unwrap_or_else(|| {
        Value::String(
            if error.is_some() {
                "Failed"
            } else {
                "Successful"
            }
            .into(),
        )
    });
    // Key fields the command declares are extracted from the mocked rawData unless given.
    let mut key_fields: Map<String, Value> = o
        .get("keyFields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match crate::output::extract_key_fields(&spec.key_fields, &raw_data, budget) {
        Ok(found) => {
            for (k, v) in found {
                key_fields.entry(k).or_insert(v);
            }
        }
        Err(e) => return OutputModel::failure(CommandError::new(&spec.display, e)),
    }
    // A command fails exactly when `error` is set (a "Failed" returnData alone is no failure).
    let status = match o.get("status").and_then(Value::as_str) {
        _ if error.is_some() => Status::Failed,
        Some("Partially Successful") => Status::PartiallySuccessful,
        _ => Status::Successful,
    };
    OutputModel {
        status,
        // The mock file is the tester's own: a returnData written as the seed's marker stands
        // for a command asking to be run again.
        retry: crate::output::RetryRequest::from_marker(&return_data),
        result: o.get("result").cloned().unwrap_or_else(|| match &error {
            Some(e) => Value::String(e.render()),
            None => crate::output::summary_of(&return_data),
        }),
        return_data,
        key_fields,
        raw_data,
        error,
        passdown: o.get("passdown").cloned().unwrap_or(Value::Null),
    }
}
