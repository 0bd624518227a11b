//! The call-backs a script makes into codeless, as a trait the engine implements: logs,
//! `D3.Utility.X(...)`, `D3.Integration.I.C(...)` and `conn.sendRequest(...)`.

use crate::commands::CommandSpec;
use crate::output::OutputModel;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;

/// What a call-back returns (boxed: the trait is used as `&dyn Host`).
pub type HostFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// `D3.Utility.name<Type>(args...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct UtilityCall {
    /// The command's internal name, as the script wrote it.
    pub name: String,
    /// The `<Type>` written (empty when none); the first argument was converted to it.
    pub type_hint: String,
    /// Positional arguments, in the command's parameter order.
    pub args: Vec<Value>,
    /// Keyword arguments, by parameter name.
    pub named: Map<String, Value>,
}

/// `D3.Integration.Integration.Command(args...)`, already checked to name the script's own
/// integration (D3: a utility script calls none, an integration script only its own).
#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationCall {
    /// The integration's name as the script's owner declares it.
    pub integration: String,
    pub command: String,
    pub args: Vec<Value>,
    pub named: Map<String, Value>,
}

/// `conn.sendRequest(method, path, params=None, json=None, data=None, headers=None)`; datetimes
/// in `params` arrive as `YYYY-MM-DD HH:MM:SS` (UTC).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub params: Value,
    pub json: Value,
    pub data: Value,
    pub headers: Value,
}

/// What `conn.sendRequest` returns to the script: `(body, error)`.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    /// The parsed JSON body, else its text.
    pub body: Value,
    /// `None` on 2xx, else `Status Code: N. Message: ...`.
    pub error: Option<String>,
}

/// The engine's side of a Python call. Logs arrive masked, with control characters escaped, in
/// the order the script made them, while the call runs.
pub trait Host: Send + Sync {
    /// `pb.log(...)`, `print(...)`, writes to `sys.stderr`: one line (or one `pb.log`) each.
    fn log(&self, text: &str);
    /// Runs a utility command; `Ok` is its `returnData`, `Err` its error message (raised in the
    /// script as `APIError`).
    fn utility<'a>(&'a self, call: UtilityCall) -> HostFuture<'a, Result<Value, String>>;
    /// Runs a command of the script's own integration; `Ok` is its output model (failed or not),
    /// `Err` a message raised in the script as `APIError` (no such command, bad arguments).
    fn integration<'a>(
        &'a self,
        call: IntegrationCall,
    ) -> HostFuture<'a, Result<OutputModel, String>>;
    /// Sends a request through the integration's `http:` block (base URL, auth, retries,
    /// masking, trace).
    fn send_request<'a>(&'a self, request: HttpRequest) -> HostFuture<'a, HttpReply>;
}

/// A call-back's arguments as a command's named arguments: positional ones take the parameters
/// in declaration order, keyword ones their parameter by name. For `Host` implementations.
pub fn positional_args(
    spec: &CommandSpec,
    args: Vec<Value>,
    named: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    if args.len() > spec.inputs.len() {
        return Err(format!(
            "`{}` takes {} argument{}, {} were given",
            spec.name,
            spec.inputs.len(),
            if spec.inputs.len() == 1 { "" } else { "s" },
            args.len()
        ));
    }
    let mut out = Map::with_capacity(spec.inputs.len());
    for (p, v) in spec.inputs.iter().zip(args) {
        out.insert(p.name.clone(), v);
    }
    for (k, v) in named {
        if !spec.inputs.iter().any(|p| p.name == k) {
            return Err(format!("`{}` has no parameter `{k}`", spec.name));
        }
        if out.insert(k.clone(), v).is_some() {
            return Err(format!(
                "`{}`: parameter `{k}` was given twice (by position and by name)",
                spec.name
            ));
        }
    }
    Ok(out)
}

/// Control characters (but newline and tab) written as `\u{1b}`, so a log cannot move the
/// terminal's cursor, recolour it or rewrite a line.
pub fn escape_controls(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Registry;
    use serde_json::json;

    #[test]
    fn arguments_by_position_and_by_name() {
        let r = Registry::builtin();
        let spec = &r.get("concatToRear").unwrap().spec;
        let m = positional_args(spec, vec![json!("a")], Map::new()).unwrap();
        assert_eq!(Value::Object(m), json!({"input": "a"}));
        let mut named = Map::new();
        named.insert("value".into(), json!("b"));
        let m = positional_args(spec, vec![json!("a")], named.clone()).unwrap();
        assert_eq!(Value::Object(m), json!({"input": "a", "value": "b"}));
        assert_eq!(
            positional_args(spec, vec![json!(1), json!(2), json!(3)], Map::new()).unwrap_err(),
            "`concatToRear` takes 2 arguments, 3 were given"
        );
        assert_eq!(
            positional_args(spec, vec![json!(1), json!(2)], named).unwrap_err(),
            "`concatToRear`: parameter `value` was given twice (by position and by name)"
        );
        let mut bad = Map::new();
        bad.insert("nope".into(), json!(1));
        assert_eq!(
            positional_args(spec, vec![], bad).unwrap_err(),
            "`concatToRear` has no parameter `nope`"
        );
    }

    #[test]
    fn control_characters_are_escaped_but_lines_kept() {
        assert_eq!(escape_controls("plain\ttext\nnext"), "plain\ttext\nnext");
        assert_eq!(
            escape_controls("\x1b[2Jgone\r\u{7}\u{9b}"),
            "\\u{1b}[2Jgone\\u{d}\\u{7}\\u{9b}"
        );
    }
}
