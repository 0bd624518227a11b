//! HTTP integration commands: a `request:` declaration becomes a real request (URL, query,
//! headers, auth, JSON/form/multipart body), sent with the integration's retry policy, and the
//! response becomes the output model (rawData, key fields, the seed's error shape).

pub mod retry;
mod send;
mod urls;

pub use send::{Clients, PROXY_VARIABLES};

use crate::commands::args::value_to_text;
use crate::files::FileStore;
use crate::model::{
    Auth, HttpRequest, IntegrationCommand, IntegrationFile, RequestBody, RetryPolicy, TKind, TValue,
};
use crate::output::{extract_key_fields, summary_of, CommandError, OutputModel, Status};
use crate::template::{Context, Scope};
use reqwest::Method;
use serde_json::{Map, Value};
use std::time::Duration;

/// Seconds a request may take when neither the command nor the integration says.
pub const DEFAULT_TIMEOUT: f64 = 30.0;

/// One invocation of an integration command over HTTP.
pub struct Call<'a> {
    pub integration: &'a IntegrationFile,
    pub command: &'a IntegrationCommand,
    pub request: &'a HttpRequest,
    /// The arguments; they become the request's `input` scope.
    pub args: Map<String, Value>,
    pub connector: &'a Value,
    /// The connection's sensitive values: a header carrying one is not sent to another origin.
    pub secrets: &'a crate::secrets::Secrets,
    pub files: &'a FileStore,
    pub clients: &'a Clients,
    pub max_response_bytes: usize,
    /// How much a key field or other JSONPath over a response may select and copy.
    pub query_budget: crate::jsonpath::Budget,
    /// Bytes the command's output may take (`output-size`): `for_each` stops past it.
    pub max_output_bytes: u64,
    /// Most elements `for_each` may make requests for.
    pub max_batch: usize,
    pub trace: &'a crate::run::trace::Trace,
    pub task_id: &'a str,
    /// The run's cancellation: a wait before a retry ends at the first Ctrl-C, and no retry
    /// follows it.
    pub cancel: &'a crate::cancel::Cancel,
}

/// What request templates can read: `input`, `connector`, and `item`/`index` under `for_each`.
struct Scopes<'a> {
    input: &'a Value,
    connector: &'a Value,
    item: Option<&'a Value>,
    index: Option<Value>,
    files: &'a FileStore,
    budget: crate::jsonpath::Budget,
}

impl Context for Scopes<'_> {
    fn query_budget(&self) -> crate::jsonpath::Budget {
        self.budget
    }

    fn scope(&self, s: &Scope) -> Result<&Value, String> {
        match s {
            Scope::Input => Ok(self.input),
            Scope::Connector => Ok(self.connector),
            Scope::Item => self
                .item
                .ok_or_else(|| "`item` is only available under `for_each`".into()),
            Scope::Index => self
                .index
                .as_ref()
                .ok_or_else(|| "`index` is only available under `for_each`".into()),
            other => Err(format!(
                "an integration request can read `input` and `connector`, not {other:?}"
            )),
        }
    }
}

/// Runs the command: one request, or one per element of `for_each` (aggregated).
/// Returns the output and the number of HTTP retries made.
pub async fn execute(mut call: Call<'_>) -> (OutputModel, u32) {
    let display = &call.command.display;
    // Every declared input is readable; one not given is null (and fields holding it are omitted).
    let mut input = std::mem::take(&mut call.args);
    for p in &call.command.inputs {
        input.entry(p.name.clone()).or_insert(Value::Null);
    }
    let input = Value::Object(input);
    let base = Scopes {
        input: &input,
        connector: call.connector,
        item: None,
        index: None,
        files: call.files,
        budget: call.query_budget,
    };
    let call = &call;
    let Some(each) = &call.request.for_each else {
        return execute_one(call, &base).await;
    };
    // A list makes one request per element; null (e.g. an `$if` with no list) makes one
    // plain request.
    let items = match eval(each, &base) {
        Ok(Value::Array(a)) => a,
        Ok(Value::Null) => return execute_one(call, &base).await,
        Ok(other) => vec![other],
        Err(e) => return (fail(display, format!("for_each: {e}")), 0),
    };
    if items.len() > call.max_batch {
        let msg = format!(
            "for_each: the list has {} elements, more than the batch-size limit of {} ({})",
            items.len(),
            call.max_batch,
            crate::limits::raise_hint("batch-size")
        );
        return (fail(display, msg), 0);
    }
    let mut outs = Vec::with_capacity(items.len());
    let mut retries = 0;
    let mut kept = 0u64;
    for (i, item) in items.iter().enumerate() {
        // After a Ctrl-C no further request starts; the elements left are reported as a
        // batch's are.
        if call.cancel.is_cancelled() {
            outs.extend((i..items.len()).map(|_| crate::run::invoke::not_started(display)));
            break;
        }
        let scopes = Scopes {
            input: &input,
            connector: call.connector,
            item: Some(item),
            index: Some(Value::from(i)),
            files: call.files,
            budget: call.query_budget,
        };
        let (out, r) = execute_one(call, &scopes).await;
        retries += r;
        // The responses add up in one output: past the output-size limit, no more requests.
        let room = call.max_output_bytes - kept;
        match out.size(crate::limits::MeasureAs::Compact, room) {
            Some(n) => kept += n,
            None => {
                let msg = format!(
                    "for_each: the outputs took more than {}, the output-size limit, after {} of {} requests ({})",
                    crate::limits::bytes_text(call.max_output_bytes),
                    i + 1,
                    items.len(),
                    crate::limits::raise_hint("output-size")
                );
                return (fail(display, msg), retries);
            }
        }
        outs.push(out);
    }
    (crate::run::invoke::aggregate(display, outs), retries)
}

/// Resolves a request value: templates, and the operators of `model::OPERATORS`, evaluated
/// lazily (an `$if` branch not taken is not resolved).
fn eval(v: &TValue, s: &Scopes) -> Result<Value, String> {
    let m = match &v.kind {
        TKind::Map(m) => m,
        TKind::Seq(items) => {
            return items
                .iter()
                .map(|i| eval(i, s))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ => return v.resolve(s).map_err(|e| e.to_string()),
    };
    let arg = |k: &str| m.get(k).map(|(_, v)| v);
    if let Some(cond) = arg("$if") {
        let branch = if truthy(&eval(cond, s)?) {
            arg("then")
        } else {
            arg("else")
        };
        return branch.map(|b| eval(b, s)).unwrap_or(Ok(Value::Null));
    }
    if let Some(key) = arg("$switch") {
        let key = value_to_text(&eval(key, s)?);
        let case = match arg("cases").map(|c| &c.kind) {
            Some(TKind::Map(cases)) => cases.get(&key).map(|(_, v)| eval(v, s)),
            Some(TKind::Literal(Value::Object(cases))) => cases.get(&key).map(|v| Ok(v.clone())),
            _ => return Err("`$switch` needs `cases:` (a mapping)".into()),
        };
        return case.unwrap_or_else(|| {
            arg("default")
                .map(|d| eval(d, s))
                .unwrap_or(Ok(Value::Null))
        });
    }
    if let Some(list) = arg("$map") {
        let to = arg("to").ok_or("`$map` needs `to:`")?;
        let items = match eval(list, s)? {
            Value::Array(a) => a,
            Value::Null => Vec::new(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let inner = Scopes {
                input: s.input,
                connector: s.connector,
                item: Some(item),
                index: Some(Value::from(i)),
                files: s.files,
                budget: s.budget,
            };
            out.push(eval(to, &inner)?);
        }
        return Ok(Value::Array(out));
    }
    if let Some(parts) = arg("$concat") {
        let mut out = Vec::new();
        for part in match eval(parts, s)? {
            Value::Array(a) => a,
            other => vec![other],
        } {
            match part {
                Value::Array(a) => out.extend(a.into_iter().filter(|x| !x.is_null())),
                Value::Null => {}
                other => out.push(other),
            }
        }
        return Ok(Value::Array(out));
    }
    if let Some(id) = arg("$file_data_url") {
        use base64::Engine;
        let id = value_to_text(&eval(id, s)?);
        let (meta, bytes) = s
            .files
            .get(&id)
            .map_err(|e| format!("`$file_data_url`: {e}"))?;
        // `accept: image/` limits the content types (Analyze Image takes only images).
        if let Some(accept) = arg("accept") {
            let prefix = value_to_text(&eval(accept, s)?);
            if !meta.content_type.starts_with(&prefix) {
                return Err(format!(
                    "file {id} ({}) is {}, but only {prefix}* files are accepted here",
                    meta.name, meta.content_type
                ));
            }
        }
        return Ok(Value::String(format!(
            "data:{};base64,{}",
            meta.content_type,
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )));
    }
    let mut out = Map::with_capacity(m.len());
    for (k, (_, v)) in m {
        out.insert(k.clone(), eval(v, s)?);
    }
    Ok(Value::Object(out))
}

/// For `$if`: false, null, 0, "", "false", [] and {} are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(t) => !t.trim().is_empty() && !t.trim().eq_ignore_ascii_case("false"),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn fail(display: &str, message: String) -> OutputModel {
    OutputModel::failure(CommandError::new(display, message))
}

/// A fully resolved request, kept so that retries and redirects can rebuild it (a reqwest
/// multipart body cannot be cloned).
#[derive(Clone)]
struct Prepared {
    method: Method,
    url: reqwest::Url,
    headers: Vec<(String, String)>,
    /// Names (lower case) of headers that carry a credential: the auth's `Authorization` or
    /// API-key header, or any header holding one of the connection's sensitive values.
    secret_headers: Vec<String>,
    basic: Option<(String, String)>,
    /// Where the integration's credentials may go.
    home: Home,
    body: Body,
    timeout: Duration,
    verify_tls: bool,
}

/// The origin an integration's credentials stay with (DESIGN §5): its base URL's.
#[derive(Clone, Debug)]
enum Home {
    /// The request's own: its URL is the base URL joined with a path.
    Request,
    /// The base URL's, which the request's absolute URL may not share.
    Base(reqwest::Url),
    /// None: without a base URL the credentials go nowhere.
    Nowhere,
}

impl Home {
    fn of(base: &str, path: &str) -> Home {
        if base.trim().is_empty() {
            Home::Nowhere
        } else if !is_absolute(path) {
            Home::Request
        } else {
            urls::parse(base.trim()).map_or(Home::Nowhere, Home::Base)
        }
    }

    /// The home origin, given the request's first URL.
    fn origin<'a>(&'a self, first: &'a reqwest::Url) -> Option<&'a reqwest::Url> {
        match self {
            Home::Request => Some(first),
            Home::Base(b) => Some(b),
            Home::Nowhere => None,
        }
    }

    /// Where a request that leaves home is not going, for messages.
    fn describe(&self, first: &reqwest::Url) -> String {
        match self.origin(first) {
            Some(u) => format!(
                "the origin of the integration's base URL ({})",
                u.origin().ascii_serialization()
            ),
            None => "the integration's base URL (it has none)".into(),
        }
    }
}

/// Same scheme, host and port.
fn same_origin(a: &reqwest::Url, b: &reqwest::Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[derive(Clone)]
enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    Multipart(Vec<Part>),
}

#[derive(Clone)]
enum Part {
    Text(String, String),
    File {
        field: String,
        name: String,
        content_type: String,
        bytes: Vec<u8>,
    },
}

/// Why a call that could have been retried was not.
const NOT_RETRIED: &str = "not retried: the run was cancelled";

/// Waits `delay` before a retry: `false` when the run is cancelled first (then no retry).
async fn wait_to_retry(call: &Call<'_>, delay: std::time::Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => !call.cancel.is_cancelled(),
        _ = call.cancel.cancelled() => false,
    }
}

async fn execute_one(call: &Call<'_>, scopes: &Scopes<'_>) -> (OutputModel, u32) {
    let display = &call.command.display;
    let prepared = match prepare(call, scopes) {
        Ok(p) => p,
        Err(e) => return (fail(display, e), 0),
    };
    let policy = call.integration.http.retry.clone().unwrap_or(RetryPolicy {
        attempts: 0,
        ..RetryPolicy::default()
    });
    let mut retries = 0u32;
    loop {
        let can_retry = retries < policy.attempts;
        let sent = send::send(call.clients, &prepared, call.secrets).await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                let message = network_error(&e, &prepared);
                if can_retry && e.may_pass() && !call.cancel.is_cancelled() {
                    let delay = retry::delay(&policy, retries, None);
                    call.trace.emit("http_retry", serde_json::json!({"task": call.task_id, "method": prepared.method.as_str(), "url": prepared.url.as_str(), "error": message, "retry": retries + 1, "delay_ms": delay.as_millis() as u64}));
                    if wait_to_retry(call, delay).await {
                        retries += 1;
                        continue;
                    }
                    return (fail(display, format!("{message} ({NOT_RETRIED})")), retries);
                }
                // Say how many tries the message stands for ("timed out after 30 s" three
                // times took over 90 s).
                let message = if retries > 0 {
                    format!("{message} ({} attempts)", retries + 1)
                } else {
                    message
                };
                return (fail(display, message), retries);
            }
        };
        let status = resp.status();
        if can_retry && policy.on_status.contains(&status.as_u16()) && !call.cancel.is_cancelled() {
            let after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let delay = retry::delay(&policy, retries, after.as_deref());
            call.trace.emit("http_retry", serde_json::json!({"task": call.task_id, "method": prepared.method.as_str(), "url": prepared.url.as_str(), "status": status.as_u16(), "retry_after": after, "retry": retries + 1, "delay_ms": delay.as_millis() as u64}));
            if wait_to_retry(call, delay).await {
                retries += 1;
                continue;
            }
            // Cancelled while waiting: this response is the call's answer.
        }
        let body = match read_body(resp, call.max_response_bytes, &prepared).await {
            Ok(b) => b,
            Err(e) => return (fail(display, e).with_status(status.as_u16()), retries),
        };
        if status.is_success() {
            if let Some(name) = &call.request.save_file {
                let out = match text_of(name, scopes, "save_file") {
                    Ok(name) => save_output(call, &prepared, &name, body),
                    Err(e) => fail(display, e),
                };
                return (out, retries);
            }
        }
        return (to_output(call, status, body), retries);
    }
}

impl OutputModel {
    fn with_status(mut self, code: u16) -> Self {
        if let Some(e) = &mut self.error {
            e.status_code = Some(code);
            self.result = Value::String(e.render());
        }
        self
    }
}

/// Where APIs usually put their error text, for integrations that declare no `error_message`.
const DEFAULT_ERROR_PATHS: &[&str] = &[
    "$.error.message",
    "$.error_description",
    "$.message",
    "$.detail",
    "$.error",
    "$.title",
];

fn network_error(e: &send::SendError, p: &Prepared) -> String {
    use send::SendError;
    let host = p.url.host_str().unwrap_or("?");
    match e {
        SendError::Client(message) | SendError::BadRedirect(message) => message.clone(),
        SendError::TimedOut => timed_out(p),
        SendError::TooManyRedirects => format!("too many redirects from {host} (a redirect loop?)"),
        SendError::Failed {
            connect,
            cause,
            hop,
        } => {
            let to = match hop {
                Some(hop) => format!("{hop} (redirected from {host})"),
                None => host.to_owned(),
            };
            if *connect {
                format!("cannot connect to {to}: {cause}")
            } else {
                format!("request to {to} failed: {cause}")
            }
        }
    }
}

fn timed_out(p: &Prepared) -> String {
    format!(
        "the request to {} timed out after {} s",
        p.url.host_str().unwrap_or("?"),
        p.timeout.as_secs_f64()
    )
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Reads at most `limit` bytes of body; more is an error, not a memory blow-up.
async fn read_body(
    mut resp: send::Response,
    limit: usize,
    p: &Prepared,
) -> Result<(Option<String>, Vec<u8>), String> {
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let announced = resp
        .content_length()
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    if let Some(len) = announced {
        if len > limit {
            return Err(format!(
                "the response is {len} bytes, more than the response-size limit of {limit} bytes ({})",
                crate::limits::raise_hint("response-size")
            ));
        }
    }
    let mut body = BodyBuffer::new(announced);
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > limit {
                    return Err(format!(
                        "the response is larger than the response-size limit of {limit} bytes ({})",
                        crate::limits::raise_hint("response-size")
                    ));
                }
                body.push(&chunk);
            }
            Ok(None) => return Ok((content_type, body.finish())),
            Err(send::BodyError::TimedOut) => return Err(timed_out(p)),
            Err(send::BodyError::Broken(cause)) => {
                return Err(format!(
                    "the connection broke while reading the response: {cause}"
                ))
            }
        }
    }
}

/// A response body read into segments of fixed capacity. Each chunk is copied in, so hyper's
/// read buffers are released however small the chunks are (keeping the chunks themselves cost
/// ~600 MB for 16 MiB sent one byte per chunk), and nothing already read is copied again while
/// the body grows (a doubling Vec copies it at every step and, with an allocator that keeps
/// freed blocks a while, held about twice the body: tests/faults.rs's 50 MB response).
/// A body that arrives as announced by its Content-Length fills the first segment and is used
/// as it is; any other body over 64 KiB is joined once at the end, so for that moment it takes
/// about twice its size.
struct BodyBuffer {
    full: Vec<Vec<u8>>,
    current: Vec<u8>,
    len: usize,
}

impl BodyBuffer {
    const SEGMENT: usize = 64 * 1024;
    /// The most reserved up front for an announced length, whatever the limit.
    const FIRST_MAX: usize = 16 * 1024 * 1024;

    /// `expected`: the announced Content-Length (already checked against the limit). The
    /// reservation is only tried: where the system refuses it, the body goes into segments.
    fn new(expected: Option<usize>) -> Self {
        let mut current = Vec::new();
        let first = expected.map_or(Self::SEGMENT, |n| n.min(Self::FIRST_MAX));
        if current.try_reserve_exact(first).is_err() {
            current = Vec::with_capacity(Self::SEGMENT);
        }
        BodyBuffer {
            full: Vec::new(),
            current,
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, mut data: &[u8]) {
        self.len += data.len();
        while !data.is_empty() {
            let room = self.current.capacity() - self.current.len();
            if room == 0 {
                let next = Vec::with_capacity(Self::SEGMENT);
                self.full.push(std::mem::replace(&mut self.current, next));
                continue;
            }
            let n = room.min(data.len());
            self.current.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
    }

    fn finish(self) -> Vec<u8> {
        if self.full.is_empty() {
            return self.current;
        }
        let mut body = Vec::with_capacity(self.len);
        // Each segment is freed as soon as it is copied.
        for segment in self.full {
            body.extend_from_slice(&segment);
        }
        body.extend_from_slice(&self.current);
        body
    }
}

fn to_output(
    call: &Call<'_>,
    status: reqwest::StatusCode,
    (content_type, body): (Option<String>, Vec<u8>),
) -> OutputModel {
    let text = || String::from_utf8_lossy(&body).into_owned();
    let looks_json = content_type.as_deref().is_some_and(|c| c.contains("json"))
        || matches!(
            body.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        );
    // JSON is parsed from the bytes; text that is not UTF-8 is read with replacement
    // characters, as JSON or as text.
    let raw = if looks_json {
        serde_json::from_slice::<Value>(&body)
            .or_else(|_| serde_json::from_str::<Value>(&text()))
            .unwrap_or_else(|_| Value::String(text()))
    } else if body.is_empty() {
        Value::Null
    } else {
        Value::String(text())
    };
    let display = &call.command.display;
    if !status.is_success() {
        let message =
            error_message(&call.integration.http.error_message, &raw).unwrap_or_else(|| {
                let text = text();
                let t = text.trim();
                if t.is_empty() {
                    status.canonical_reason().unwrap_or("no message").to_owned()
                } else {
                    clip(t, 500)
                }
            });
        let mut out = fail(display, message).with_status(status.as_u16());
        out.raw_data = raw;
        return out;
    }
    let specs: Vec<_> = call
        .command
        .key_fields
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    let display = &call.command.display;
    let (key_fields, notes) =
        match crate::output::extract_key_fields_noted(&specs, &raw, call.query_budget) {
            Ok(found) => found,
            Err(e) => return fail(display, e),
        };
    let pick = |path: &Option<crate::model::Sp<String>>| -> Result<Option<Value>, String> {
        let Some(Ok(p)) = path.as_ref().map(|p| crate::jsonpath::parse(&p.value)) else {
            return Ok(None);
        };
        let first = p
            .first(&raw, call.query_budget)
            .map_err(|e| e.to_string())?;
        crate::jsonpath::within_bytes(first.as_slice(), call.query_budget.bytes)
            .map_err(|e| e.to_string())?;
        Ok(first.cloned())
    };
    let (return_data, result) = match (pick(&call.request.return_data), pick(&call.request.result))
    {
        (Ok(r), Ok(s)) => (r, s),
        (Err(e), _) | (_, Err(e)) => return fail(display, e),
    };
    let return_data = return_data.unwrap_or_else(|| Value::String("Successful".into()));
    let mut result = result
        .map(|v| summary_of(&v))
        .unwrap_or_else(|| summary_of(&raw));
    if !notes.is_empty() {
        // Say what could not be parsed (the seed's "Partially" cases are the API's to decide).
        result = Value::String(format!(
            "{}\nnote: {}",
            crate::commands::args::value_to_text(&result),
            notes.join("; ")
        ));
    }
    OutputModel {
        status: Status::Successful,
        return_data,
        result,
        key_fields,
        raw_data: raw,
        error: None,
        passdown: Value::Null,
        retry: None,
    }
}

/// The API's own error text, from the first of `paths` that finds any.
fn error_message(paths: &[crate::model::Sp<String>], raw: &Value) -> Option<String> {
    let declared: Vec<&str> = paths.iter().map(|p| p.value.as_str()).collect();
    let paths = if declared.is_empty() {
        DEFAULT_ERROR_PATHS
    } else {
        &declared[..]
    };
    for p in paths {
        let Ok(q) = crate::jsonpath::parse(p) else {
            continue;
        };
        // A query past the limits finds nothing: the next path, or the response's own text.
        let Ok(nodes) = q.select(raw, crate::jsonpath::Budget::default()) else {
            continue;
        };
        let found: Vec<String> = nodes
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(a) => a.iter().map(value_to_text).collect::<Vec<_>>(),
                other => vec![value_to_text(other)],
            })
            .filter(|s| !s.trim().is_empty())
            .collect();
        if !found.is_empty() {
            // Validators may list the same problem many times; keep each once, and a few.
            let mut unique: Vec<String> = Vec::new();
            for f in found {
                if !unique.contains(&f) {
                    unique.push(f);
                }
            }
            const MAX_MESSAGES: usize = 5;
            let more = unique.len().saturating_sub(MAX_MESSAGES);
            unique.truncate(MAX_MESSAGES);
            let mut text = unique.join("; ");
            if more > 0 {
                text.push_str(&format!(" (and {more} more)"));
            }
            return Some(text);
        }
    }
    None
}

fn clip(s: &str, max: usize) -> String {
    crate::secrets::clip(s, max)
}

fn text_of(v: &TValue, scopes: &Scopes, what: &str) -> Result<String, String> {
    match eval(v, scopes).map_err(|e| format!("{what}: {e}"))? {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s),
        other => Ok(value_to_text(&other)),
    }
}

/// The request path. Values substituted into literal text (`/models/<<item>>`) are
/// percent-encoded as path segments, so an ID cannot change the URL's shape; a path that is one
/// lone reference (`<<input.url>>`, a whole URL) is used as written.
fn path_of(v: &TValue, scopes: &Scopes) -> Result<String, String> {
    match &v.kind {
        TKind::Template { template, .. } if template.lone().is_none() => {
            let mut out = String::new();
            for p in &template.parts {
                match p {
                    crate::template::Part::Text(t) => out.push_str(t),
                    crate::template::Part::Expr(e) => {
                        let value = crate::template::resolve_expr(e, scopes)
                            .map_err(|e| format!("path: {e}"))?;
                        // One set with the secret masker, so encoded secrets are still masked.
                        const SEGMENT: &percent_encoding::AsciiSet = &crate::secrets::PATH_SEGMENT;
                        out.extend(percent_encoding::utf8_percent_encode(
                            &value_to_text(&value),
                            SEGMENT,
                        ));
                    }
                }
            }
            Ok(out)
        }
        TKind::Map(m) if m.contains_key("$if") || m.contains_key("$switch") => {
            // An operator choosing between paths: encode within the branch taken.
            let arg = |k: &str| m.get(k).map(|(_, v)| v);
            let chosen = if let Some(cond) = arg("$if") {
                if truthy(&eval(cond, scopes)?) {
                    arg("then")
                } else {
                    arg("else")
                }
            } else {
                return text_of(v, scopes, "path");
            };
            match chosen {
                Some(b) => path_of(b, scopes),
                None => Ok(String::new()),
            }
        }
        _ => text_of(v, scopes, "path"),
    }
}

/// A mapping value (headers, query, form): a mapping, a template resolving to one, or null.
fn pairs_of(
    v: Option<&TValue>,
    scopes: &Scopes,
    what: &str,
) -> Result<Vec<(String, Value)>, String> {
    let Some(v) = v else { return Ok(Vec::new()) };
    match eval(v, scopes).map_err(|e| format!("{what}: {e}"))? {
        Value::Null => Ok(Vec::new()),
        Value::Object(m) => Ok(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        Value::String(s) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(m)) => Ok(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
            _ => Err(format!(
                "{what} must be a JSON object, got the text {:?}",
                clip(&s, 60)
            )),
        },
        other => Err(format!(
            "{what} must be a JSON object, got {}",
            crate::commands::args::type_name(&other)
        )),
    }
}

/// Removes object fields whose value is null, at every depth.
fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, drop_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(drop_nulls).collect()),
        other => other,
    }
}

/// Whether a request path is a whole URL (used as it is, not joined to the base URL).
fn is_absolute(path: &str) -> bool {
    let path = path.trim();
    path.starts_with("http://") || path.starts_with("https://")
}

/// `base` + `path`, unless `path` is an absolute URL.
pub fn join_url(base: &str, path: &str) -> String {
    let path = path.trim();
    if is_absolute(path) {
        return path.to_owned();
    }
    let base = base.trim().trim_end_matches('/');
    if path.is_empty() {
        return base.to_owned();
    }
    // Not `format!`: this runs once a request, and the formatter cost more than the rest.
    let mut url = String::with_capacity(base.len() + 1 + path.len());
    url.push_str(base);
    if path.starts_with('?') {
        url.push_str(path);
    } else {
        url.push('/');
        url.push_str(path.trim_start_matches('/'));
    }
    url
}

/// The most headers a request may carry (servers answer 431 long before this).
const MAX_HEADERS: usize = 1_000;

fn prepare(call: &Call<'_>, scopes: &Scopes<'_>) -> Result<Prepared, String> {
    let http = &call.integration.http;
    let req = call.request;
    let base = match &http.base_url {
        Some(b) => text_of(b, scopes, "base_url")?,
        None => String::new(),
    };
    let path = path_of(&req.path, scopes)?;
    let joined = join_url(&base, &path);
    let mut url = urls::parse(&joined).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => format!("`{}` is not an absolute URL: set the connection's base URL, or give a full http(s):// URL", clip(&joined, 200)),
        other => format!("`{}` is not a valid URL: {other}", clip(&joined, 200)),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs are supported, not `{}`",
            url.scheme()
        ));
    }
    let method_text = text_of(&req.method, scopes, "method")?
        .trim()
        .to_ascii_uppercase();
    let method_text = if method_text.is_empty() {
        "GET".to_owned()
    } else {
        method_text
    };
    let method = Method::from_bytes(method_text.as_bytes())
        .map_err(|_| format!("`{}` is not an HTTP method", clip(&method_text, 40)))?;
    let query = pairs_of(req.query.as_ref(), scopes, "query")?;
    if !query.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in &query {
            match v {
                Value::Array(items) => {
                    for i in items {
                        q.append_pair(k, &value_to_text(i));
                    }
                }
                other => {
                    q.append_pair(k, &value_to_text(other));
                }
            }
        }
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in pairs_of(http.headers.as_ref(), scopes, "http.headers")?
        .into_iter()
        .chain(pairs_of(req.headers.as_ref(), scopes, "headers")?)
    {
        // The body's framing is the client's to write: a `Content-Length` copied from another
        // request would cut the body short or stall the server.
        if k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding") {
            continue;
        }
        headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
        headers.push((k, value_to_text(&v)));
    }
    let mut basic = None;
    // Headers that carry credentials beyond `Authorization` (see `send::redirected`).
    let mut secret_headers = Vec::new();
    match &http.auth {
        None => {}
        Some(Auth::Bearer(t)) => bearer(
            &mut headers,
            &mut secret_headers,
            text_of(t, scopes, "auth.bearer")?,
        ),
        Some(Auth::Basic { username, password }) => {
            basic = Some((
                text_of(username, scopes, "auth.basic.username")?,
                text_of(password, scopes, "auth.basic.password")?,
            ))
        }
        Some(Auth::Header { name, value }) => {
            let n = text_of(name, scopes, "auth.header.name")?;
            let v = text_of(value, scopes, "auth.header.value")?;
            if !n.is_empty() && !v.is_empty() {
                secret_headers.push(n.to_ascii_lowercase());
                headers.push((n, v));
            }
        }
        Some(Auth::Select {
            by,
            basic: pair,
            bearer: token,
        }) => match text_of(by, scopes, "auth.by")?
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "none" => {}
            "basic" => {
                basic = Some((
                    text_of(&pair.0, scopes, "auth.basic.username")?,
                    text_of(&pair.1, scopes, "auth.basic.password")?,
                ))
            }
            "bearer" => bearer(
                &mut headers,
                &mut secret_headers,
                text_of(token, scopes, "auth.bearer")?,
            ),
            other => {
                return Err(format!(
                    "authentication method `{other}` is not one of: none, basic, bearer"
                ))
            }
        },
    }
    // A template can resolve to an object of any size; http's header map panics past ~24,000
    // entries, and servers refuse far fewer.
    if headers.len() > MAX_HEADERS {
        return Err(format!(
            "the request has {} headers, more than the {MAX_HEADERS} a request may carry: check what its headers resolve to",
            headers.len()
        ));
    }
    for (k, v) in &headers {
        reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| format!("`{k}` is not a valid header name"))?;
        reqwest::header::HeaderValue::from_str(v).map_err(|_| {
            format!("the value of header `{k}` has characters a header cannot carry")
        })?;
    }
    let body = match &req.body {
        RequestBody::None => Body::None,
        RequestBody::Json(v) => {
            match drop_nulls(eval(v, scopes).map_err(|e| format!("body: {e}"))?) {
                Value::Null => Body::None,
                Value::String(s) if s.trim().is_empty() => Body::None,
                other => Body::Json(other),
            }
        }
        RequestBody::Form(v) => Body::Form(
            pairs_of(Some(v), scopes, "form")?
                .into_iter()
                .map(|(k, v)| (k, value_to_text(&v)))
                .collect(),
        ),
        RequestBody::Multipart(v) => {
            let mut parts = Vec::new();
            for (field, value) in pairs_of(Some(v), scopes, "multipart")? {
                match value {
                    Value::Object(o) if o.contains_key("file") => {
                        let id = o.get("file").map(value_to_text).unwrap_or_default();
                        let (meta, bytes) = call
                            .files
                            .get(&id)
                            .map_err(|e| format!("multipart part `{field}`: {e}"))?;
                        parts.push(Part::File {
                            field,
                            name: meta.name,
                            content_type: meta.content_type,
                            bytes,
                        });
                    }
                    other => parts.push(Part::Text(field, value_to_text(&other))),
                }
            }
            Body::Multipart(parts)
        }
    };
    let timeout = req
        .timeout
        .or(http.timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
        .clamp(0.001, 3600.0);
    let verify_tls = match &http.verify_tls {
        None => true,
        Some(v) => match eval(v, scopes).map_err(|e| format!("verify_tls: {e}"))? {
            Value::Bool(b) => b,
            Value::Null => true,
            Value::String(s) => !matches!(
                s.trim().to_ascii_lowercase().as_str(),
                "false" | "no" | "0" | "off"
            ),
            _ => true,
        },
    };
    for (k, v) in &headers {
        if call.secrets.found_in(v) {
            secret_headers.push(k.to_ascii_lowercase());
        }
    }
    let auth_basic = basic.is_some();
    // Credentials written in the URL (`http://user:pass@host/`) become Basic auth, as reqwest
    // makes them, and leave the URL, so no message or trace shows them. Explicit basic auth wins.
    if let Some(from_url) = take_url_credentials(&mut url) {
        basic.get_or_insert(from_url);
    }
    let home = Home::of(&base, &path);
    if !home.origin(&url).is_some_and(|h| same_origin(h, &url)) {
        let away = Away::new(&home, &url, &url, call.secrets);
        away.check_body(&body)?;
        away.strip(&mut headers, &mut secret_headers, &mut basic, auth_basic);
        strip_secret_query(&mut url, call.secrets);
        if call.secrets.found_in(url.as_str()) {
            return Err(away.refusal("its URL"));
        }
    }
    Ok(Prepared {
        method,
        url,
        headers,
        secret_headers,
        basic,
        home,
        body,
        timeout: Duration::from_secs_f64(timeout),
        verify_tls,
    })
}

/// A request that goes to another origin than its integration's: it carries none of the
/// connection's credentials (DESIGN §5).
struct Away<'a> {
    /// The origin it goes to.
    to: String,
    /// Where the credentials may go, for messages.
    home: String,
    secrets: &'a crate::secrets::Secrets,
}

impl<'a> Away<'a> {
    /// A request to `to` that left `home` (whose first request went to `first`).
    fn new(
        home: &Home,
        first: &reqwest::Url,
        to: &reqwest::Url,
        secrets: &'a crate::secrets::Secrets,
    ) -> Self {
        Away {
            to: to.origin().ascii_serialization(),
            home: home.describe(first),
            secrets,
        }
    }

    /// Drops the auth's credentials, and every header and URL credential holding a secret.
    fn strip(
        &self,
        headers: &mut Vec<(String, String)>,
        secret_headers: &mut Vec<String>,
        basic: &mut Option<(String, String)>,
        auth_basic: bool,
    ) {
        headers.retain(|(k, v)| {
            !secret_headers.iter().any(|s| k.eq_ignore_ascii_case(s)) && !self.secrets.found_in(v)
        });
        secret_headers.clear();
        let holds_secret =
            |(u, pw): &(String, String)| self.secrets.found_in(u) || self.secrets.found_in(pw);
        if auth_basic || basic.as_ref().is_some_and(holds_secret) {
            *basic = None;
        }
    }

    /// A body holding a secret is not sent to another origin: the request fails instead.
    fn check_body(&self, body: &Body) -> Result<(), String> {
        if body_holds(body, self.secrets) {
            return Err(self.refusal("its body"));
        }
        Ok(())
    }

    fn refusal(&self, what: &str) -> String {
        format!(
            "the request to {} is not sent: {what} holds a credential of the connection, which goes only to {}",
            self.to, self.home
        )
    }
}

/// Whether a request body holds one of the secrets.
fn body_holds(body: &Body, secrets: &crate::secrets::Secrets) -> bool {
    if secrets.is_empty() {
        return false;
    }
    match body {
        Body::None => false,
        Body::Json(v) => secrets.found_in(&v.to_string()),
        Body::Form(pairs) => pairs
            .iter()
            .any(|(k, v)| secrets.found_in(k) || secrets.found_in(v)),
        Body::Multipart(parts) => parts.iter().any(|p| match p {
            Part::Text(k, v) => secrets.found_in(k) || secrets.found_in(v),
            Part::File { bytes, .. } => secrets.found_in(&String::from_utf8_lossy(bytes)),
        }),
    }
}

/// Removes the query parameters whose name or value holds one of the secrets.
fn strip_secret_query(url: &mut reqwest::Url, secrets: &crate::secrets::Secrets) {
    let holds = |(k, v): &(std::borrow::Cow<str>, std::borrow::Cow<str>)| {
        secrets.found_in(k) || secrets.found_in(v)
    };
    if !url.query_pairs().any(|p| holds(&p)) {
        return;
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|p| !holds(p))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
}

/// The user name and password of `url`, percent-decoded, removed from it.
fn take_url_credentials(url: &mut reqwest::Url) -> Option<(String, String)> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let credentials = (decode(url.username()), decode(url.password().unwrap_or("")));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Some(credentials)
}

fn bearer(headers: &mut Vec<(String, String)>, secret_headers: &mut Vec<String>, token: String) {
    if !token.trim().is_empty() {
        headers.push(("Authorization".into(), format!("Bearer {}", token.trim())));
        secret_headers.push("authorization".into());
    }
}

/// A successful response saved as a file: returnData is its ID, rawData its metadata.
fn save_output(
    call: &Call<'_>,
    p: &Prepared,
    name: &str,
    (content_type, body): (Option<String>, Vec<u8>),
) -> OutputModel {
    let name = if name.trim().is_empty() {
        "download"
    } else {
        name.trim()
    };
    let content_type = content_type.unwrap_or_else(|| "application/octet-stream".into());
    let source = format!("{} {}", call.command.display, p.url);
    match call.files.put(name, &content_type, &body, &source) {
        Ok(meta) => {
            let raw = serde_json::to_value(&meta).unwrap_or(Value::Null);
            let specs: Vec<_> = call
                .command
                .key_fields
                .iter()
                .map(|(k, _)| k.clone())
                .collect();
            OutputModel {
                status: Status::Successful,
                return_data: Value::String(meta.id.clone()),
                result: Value::String(format!(
                    "saved {} ({} bytes) as file {}",
                    meta.name, meta.size, meta.id
                )),
                key_fields: match extract_key_fields(&specs, &raw, call.query_budget) {
                    Ok(fields) => fields,
                    Err(e) => return fail(&call.command.display, e),
                },
                raw_data: raw,
                error: None,
                passdown: Value::Null,
                retry: None,
            }
        }
        Err(e) => fail(
            &call.command.display,
            format!("cannot save the response as a file: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{join_url, BodyBuffer};

    #[test]
    fn a_body_buffer_joins_what_was_pushed_in_order() {
        let pieces: Vec<Vec<u8>> = (0..200_000u32)
            .map(|i| vec![(i % 251) as u8; (i % 7) as usize])
            .collect();
        let whole: Vec<u8> = pieces.concat();
        assert!(whole.len() > 8 * BodyBuffer::SEGMENT, "spans many segments");
        for expected in [None, Some(0), Some(10), Some(whole.len())] {
            let mut b = BodyBuffer::new(expected);
            for p in &pieces {
                b.push(p);
            }
            assert_eq!(b.len(), whole.len());
            let joined = b.finish();
            assert_eq!(joined, whole, "expected length {expected:?}");
        }
        // Large pieces cross segment boundaries too.
        let mut b = BodyBuffer::new(None);
        b.push(&whole);
        b.push(b"end");
        assert_eq!(b.finish(), [whole.as_slice(), b"end"].concat());
        assert!(BodyBuffer::new(None).finish().is_empty());
    }

    #[test]
    fn a_body_that_keeps_to_its_announced_length_is_not_copied_at_the_end() {
        let mut b = BodyBuffer::new(Some(100_000));
        b.push(&[1; 60_000]);
        b.push(&[2; 40_000]);
        assert!(b.full.is_empty(), "one segment");
        let body = b.finish();
        assert_eq!(body.len(), 100_000);
        assert_eq!(body.capacity(), 100_000);
        // An announced length is trusted only up to FIRST_MAX.
        let huge = BodyBuffer::new(Some(usize::MAX));
        assert_eq!(huge.current.capacity(), BodyBuffer::FIRST_MAX);
    }

    #[test]
    fn urls_join_like_people_expect() {
        assert_eq!(
            join_url("https://api.x/v1/", "/models"),
            "https://api.x/v1/models"
        );
        assert_eq!(
            join_url("https://api.x/v1", "models"),
            "https://api.x/v1/models"
        );
        assert_eq!(join_url("https://api.x/v1", ""), "https://api.x/v1");
        assert_eq!(
            join_url("https://api.x/v1", "https://other/y"),
            "https://other/y"
        );
        assert_eq!(join_url("https://api.x/v1", "?a=1"), "https://api.x/v1?a=1");
        assert_eq!(join_url("https://api.x/v1", "/"), "https://api.x/v1/");
        assert_eq!(
            join_url("https://api.x/v1", "//?a=1"),
            "https://api.x/v1/?a=1"
        );
        assert_eq!(join_url(" https://api.x// ", " a/b "), "https://api.x/a/b");
    }
}
