//! The output model from what the script returned, by `pb.returnOutputModel`'s rules (DESIGN
//! §11), and the `__RETRY__` request, which this module alone produces.

use super::config::PythonLimits;
use super::PythonError;
use crate::output::{CommandError, OutputModel, RetryRequest, Status};
use crate::secrets::Secrets;
use serde::Deserialize;
use serde_json::Value;

/// The worker's `done` message.
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    kind: String,
    #[serde(default)]
    result: Value,
    #[serde(default, rename = "returnData")]
    return_data: Value,
    #[serde(default, rename = "rawData")]
    raw_data: Value,
    #[serde(default)]
    errors: Value,
    /// Python's truth of `errors` (an empty text, list or object, None and False are no error).
    #[serde(default)]
    failed: bool,
    #[serde(default)]
    passdown: Value,
    #[serde(default)]
    output: Value,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    cause: String,
    #[serde(default)]
    message: String,
    /// The worker should not be reused (a thread outlived the call, memory ran out, ...).
    #[serde(default)]
    pub(super) retire: bool,
}

/// What a call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PythonOutcome {
    pub output: OutputModel,
    /// Set only when the script returned `{"__ACTION__": "__RETRY__", "__DELAY__": [...]}` as its
    /// returnData: the delays in seconds (the last repeats; empty: no delay). The engine honours
    /// a retry from here and nowhere else.
    pub retry: Option<Vec<f64>>,
}

impl PythonOutcome {
    /// An outcome whose output model carries the retry request too, as the engine reads it
    /// (`OutputModel::retry`, set only by trusted producers such as this one).
    fn new(mut output: OutputModel, retry: Option<Vec<f64>>) -> PythonOutcome {
        output.retry = retry.clone().map(|delays| RetryRequest { delays });
        PythonOutcome { output, retry }
    }
}

impl Done {
    /// The outcome, or the error the script's failure amounts to. Error texts are masked.
    pub(super) fn into_outcome(
        self,
        display: &str,
        secrets: &Secrets,
        limits: &PythonLimits,
    ) -> Result<PythonOutcome, PythonError> {
        match self.kind.as_str() {
            "model" => Ok(self.model(display, secrets)),
            "value" => {
                let retry = retry_request(&self.value);
                Ok(PythonOutcome::new(OutputModel::success(self.value), retry))
            }
            "output" => serde_json::from_value::<OutputModel>(self.output)
                .map(|output| PythonOutcome::new(output, None))
                .map_err(|e| {
                    PythonError::Script(format!(
                        "the command returned an output model that is not one: {e}"
                    ))
                }),
            "failure" => Err(self.failure(secrets, limits)),
            other => Err(PythonError::Protocol(format!(
                "a result of unknown kind `{other}`"
            ))),
        }
    }

    fn model(self, display: &str, secrets: &Secrets) -> PythonOutcome {
        let error = self
            .failed
            .then(|| command_error(display, &self.errors, secrets));
        let status = if error.is_some() {
            Status::Failed
        } else if says_partial(&self.return_data) {
            Status::PartiallySuccessful
        } else {
            Status::Successful
        };
        let passdown = match self.passdown {
            Value::Object(m) if m.is_empty() => Value::Null,
            Value::Array(a) if a.is_empty() => Value::Null,
            Value::String(s) if s.is_empty() => Value::Null,
            other => other,
        };
        let retry = retry_request(&self.return_data);
        PythonOutcome::new(
            OutputModel {
                status,
                return_data: self.return_data,
                result: self.result,
                key_fields: Default::default(),
                raw_data: self.raw_data,
                error,
                passdown,
                retry: None,
            },
            retry,
        )
    }

    fn failure(self, secrets: &Secrets, limits: &PythonLimits) -> PythonError {
        let message = secrets.mask(&self.message);
        match self.cause.as_str() {
            "input" => PythonError::Input(message),
            "memory" => PythonError::Limit(memory_message(limits, &message)),
            "protocol" => PythonError::Protocol(message),
            _ => PythonError::Script(message),
        }
    }
}

pub(super) fn memory_message(limits: &PythonLimits, traceback: &str) -> String {
    format!(
        "MemoryError: the script needed more memory than the python-memory limit of {} allows ({}){}{}",
        crate::limits::show_size(limits.memory),
        crate::limits::raise_hint("python-memory"),
        if traceback.is_empty() { "" } else { "\n" },
        traceback
    )
}

/// `errors` as the command's error: a text as it is (`Status Code: N. Message: M` read into its
/// parts, as conn.sendRequest writes it), anything else as JSON.
fn command_error(display: &str, errors: &Value, secrets: &Secrets) -> CommandError {
    let text = match errors {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let text = secrets.mask(&text);
    if let Some((code, message)) = status_and_message(&text) {
        return CommandError::new(display, message).with_status(code);
    }
    CommandError::new(display, text)
}

fn status_and_message(text: &str) -> Option<(u16, &str)> {
    let rest = text.strip_prefix("Status Code: ")?;
    let (code, message) = rest.split_once(". Message: ")?;
    Some((code.trim().parse().ok()?, message))
}

fn says_partial(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("Partially Successful"))
}

/// The seed's retry request as delays in seconds: `__DELAY__` a list (non-numbers as 0) or one
/// number; negative and non-finite delays are 0.
fn retry_request(v: &Value) -> Option<Vec<f64>> {
    let obj = v.as_object()?;
    if obj.get("__ACTION__")?.as_str()? != "__RETRY__" {
        return None;
    }
    let delay = |v: &Value| v.as_f64().filter(|d| d.is_finite()).unwrap_or(0.0).max(0.0);
    Some(match obj.get("__DELAY__") {
        Some(Value::Array(d)) => d.iter().map(delay).collect(),
        Some(n @ Value::Number(_)) => vec![delay(n)],
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn done(v: Value) -> Done {
        serde_json::from_value(v).unwrap()
    }

    fn shaped(v: Value) -> PythonOutcome {
        done(v)
            .into_outcome("Fetch Event", &Secrets::default(), &PythonLimits::default())
            .unwrap()
    }

    #[test]
    fn errors_decide_failure_and_return_data_partial_success() {
        let o =
            shaped(json!({"kind": "model", "returnData": "Failed", "errors": [], "failed": false}));
        assert_eq!(o.output.status, Status::Successful);
        assert_eq!(o.output.error, None);
        let o =
            shaped(json!({"kind": "model", "returnData": "Partially Successful", "failed": false}));
        assert_eq!(o.output.status, Status::PartiallySuccessful);
        let o = shaped(
            json!({"kind": "model", "returnData": "Successful", "errors": ["a", {"b": 1}], "failed": true}),
        );
        assert_eq!(o.output.status, Status::Failed);
        assert_eq!(
            o.output.error.unwrap().render(),
            r#"Fetch Event failed. Message: ["a",{"b":1}]"#
        );
        let o = shaped(
            json!({"kind": "model", "errors": "Status Code: 404. Message: not found", "failed": true}),
        );
        assert_eq!(
            o.output.error.unwrap().render(),
            "Fetch Event failed. Status Code: 404. Message: not found"
        );
    }

    #[test]
    fn empty_passdown_is_none_and_retry_only_from_the_marker() {
        let o = shaped(json!({"kind": "model", "passdown": {}, "failed": false}));
        assert_eq!(o.output.passdown, Value::Null);
        assert_eq!(o.retry, None);
        let o = shaped(
            json!({"kind": "model", "returnData": {"__ACTION__": "__RETRY__", "__DELAY__": [10, "x", -3, 2.5]}, "failed": false}),
        );
        assert_eq!(o.retry, Some(vec![10.0, 0.0, 0.0, 2.5]));
        let o =
            shaped(json!({"kind": "value", "value": {"__ACTION__": "__RETRY__", "__DELAY__": 7}}));
        assert_eq!(o.retry, Some(vec![7.0]));
        assert_eq!(o.output.status, Status::Successful);
        // An output model passed through from a call-back never asks for a retry.
        let o = shaped(json!({"kind": "output", "output": {
            "status": "Successful", "returnData": {"__ACTION__": "__RETRY__"}, "result": "",
            "keyFields": {}, "rawData": null, "error": null, "passdown": null}}));
        assert_eq!(o.retry, None);
    }

    #[test]
    fn failures_are_masked_and_named() {
        let mut secrets = Secrets::default();
        secrets.add("hunter2-secret");
        let e = done(
            json!({"kind": "failure", "cause": "script", "message": "ValueError: hunter2-secret"}),
        )
        .into_outcome("X", &secrets, &PythonLimits::default())
        .unwrap_err();
        assert_eq!(e, PythonError::Script("ValueError: *****".into()));
        let e = done(json!({"kind": "failure", "cause": "memory", "message": "Traceback"}))
            .into_outcome("X", &secrets, &PythonLimits::default())
            .unwrap_err();
        assert_eq!(e.to_string(), "MemoryError: the script needed more memory than the python-memory limit of 1GiB allows (raise it with `--limit python-memory=N` if the input is trusted)\nTraceback");
    }

    #[test]
    fn bytes_shown_as_limits_are_written() {
        assert_eq!(crate::limits::show_size(16 * 1024 * 1024), "16MiB");
        assert_eq!(crate::limits::show_size(1 << 30), "1GiB");
        assert_eq!(crate::limits::show_size(1000), "1000 bytes");
    }
}
