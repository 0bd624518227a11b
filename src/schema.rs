//! JSON Schemas of the four file kinds, for editors (YAML language server) and other tools.
//! These types exist only to describe the format; a test keeps their properties identical to
//! the keys the loader accepts, and another keeps `schemas/*.json` up to date.

// These types are only described (schema_for!), never built: their fields are read by schemars.
#![allow(dead_code)]

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

pub const KINDS: &[&str] = &["playbook", "integration", "connections", "test"];

/// The schema of one kind as pretty JSON, or `None` for an unknown kind.
pub fn schema_json(kind: &str) -> Option<String> {
    let schema = match kind {
        "playbook" => schemars::schema_for!(PlaybookFile),
        "integration" => schemars::schema_for!(IntegrationFile),
        "connections" => schemars::schema_for!(ConnectionsFile),
        "test" => schemars::schema_for!(TestFile),
        _ => return None,
    };
    serde_json::to_string_pretty(&schema).ok().map(|s| s + "\n")
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum PlaybookKind {
    Playbook,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Status {
    Live,
    Draft,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum ParamType {
    Text,
    Number,
    Boolean,
    Datetime,
    JsonObject,
    JsonArray,
    TextArray,
    NumberArray,
    File,
    TextTemplate,
    HtmlTemplate,
    Any,
}

/// A codeless playbook: a graph of command, conditional and transform tasks.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codeless playbook")]
pub struct PlaybookFile {
    kind: PlaybookKind,
    /// Display name; its PascalCase is the command name when the playbook is nested.
    name: String,
    description: Option<String>,
    /// `draft` playbooks run only with `--draft` or under `codeless test`.
    status: Option<Status>,
    /// Typed inputs, read as `<<input.NAME>>`.
    inputs: Option<Vec<InputDecl>>,
    /// What the run returns: name → value (templates allowed).
    outputs: Option<IndexMap<String, Value>>,
    /// Task id (`[A-Za-z_][A-Za-z0-9_]*`) → task.
    tasks: IndexMap<String, Task>,
}

/// A playbook input.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct InputDecl {
    name: String,
    display: Option<String>,
    #[serde(rename = "type")]
    ty: Option<ParamType>,
    required: Option<bool>,
    default: Option<Value>,
    options: Option<Vec<String>>,
    description: Option<String>,
    sample: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum TaskType {
    Command,
    Conditional,
    Transform,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
enum WaitMode {
    All,
    Any,
    AnyOnce,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum OnError {
    Stop,
    Continue,
}

/// One list of task ids, or a single id.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum TaskIds {
    One(String),
    Many(Vec<String>),
}

/// A task.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Task {
    /// Display name.
    name: Option<String>,
    description: Option<String>,
    /// `command` (default), `conditional` or `transform`.
    #[serde(rename = "type")]
    ty: Option<TaskType>,
    /// A utility command, a nested playbook's command name, or `Integration.Command`.
    command: Option<String>,
    /// A connection from the connections file (integration commands).
    connection: Option<String>,
    /// Parameters (command, conditional) or the one value a transform starts from.
    input: Option<Value>,
    /// Transform steps: a command name, or `{command, with}`.
    steps: Option<Vec<Step>>,
    /// Tasks that follow.
    next: Option<TaskIds>,
    /// Conditional branches: label (the stringified returnData, or `default`) → task ids.
    branches: Option<IndexMap<String, TaskIds>>,
    wait: Option<WaitMode>,
    on_error: Option<OnError>,
    retry: Option<Retry>,
    /// Seconds per attempt.
    timeout: Option<f64>,
    /// Required on a conditional whose branch leads back to an earlier task.
    max_loops: Option<u32>,
}

#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum Step {
    Name(String),
    Full(StepFull),
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct StepFull {
    command: String,
    /// Parameters besides the first (which the previous step feeds).
    with: Option<IndexMap<String, Value>>,
}

#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum Delays {
    One(f64),
    Many(Vec<f64>),
}

/// Retry a failed task.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Retry {
    /// Retries after the first try.
    attempts: Option<u32>,
    /// Seconds before each retry; the last repeats.
    delay: Option<Delays>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum IntegrationKind {
    Integration,
}

/// An integration: connection parameters, shared HTTP settings and commands, as data.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codeless integration")]
pub struct IntegrationFile {
    kind: IntegrationKind,
    name: String,
    description: Option<String>,
    /// Connection parameters, read as `<<connector.NAME>>`.
    connection: Option<Vec<ConnParam>>,
    /// Connections may add parameters the integration does not declare (read as `{{connector.NAME}}`).
    custom_parameters: Option<bool>,
    http: Option<Http>,
    /// Internal name (PascalCase of the display name) → command.
    commands: IndexMap<String, IntegrationCommand>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ConnParam {
    /// Lowercase, no spaces (`serverurl`, `apikey`).
    name: String,
    display: Option<String>,
    #[serde(rename = "type")]
    ty: Option<ParamType>,
    required: Option<bool>,
    /// Never printed: logs, traces, errors and outputs show `*****`.
    sensitive: Option<bool>,
    default: Option<Value>,
    options: Option<Vec<String>>,
    description: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Http {
    base_url: Option<String>,
    auth: Option<Auth>,
    headers: Option<IndexMap<String, Value>>,
    /// JSONPaths where an API's error text is found.
    error_message: Option<Vec<String>>,
    retry: Option<RetryPolicy>,
    timeout: Option<f64>,
    verify_tls: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Auth {
    bearer: Option<String>,
    basic: Option<BasicAuth>,
    header: Option<HeaderAuth>,
    /// Choose by a connection parameter (`none`, `basic`, `bearer`).
    by: Option<String>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct BasicAuth {
    username: String,
    password: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct HeaderAuth {
    name: String,
    value: String,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Backoff {
    Exponential,
    Constant,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RetryPolicy {
    on_status: Option<Vec<u16>>,
    attempts: Option<u32>,
    backoff: Option<Backoff>,
    base_delay: Option<f64>,
    max_delay: Option<f64>,
    respect_retry_after: Option<bool>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum FeatureName {
    Command,
    Conditional,
    Transform,
    Adhoc,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct IntegrationCommand {
    display: Option<String>,
    category: Option<String>,
    description: Option<String>,
    features: Option<Vec<FeatureName>>,
    inputs: Option<Vec<ParamDecl>>,
    /// Name → JSONPath into rawData, or `{path, parse_json}`.
    key_fields: Option<IndexMap<String, KeyField>>,
    status: Option<Status>,
    request: Option<Request>,
    /// A codeless body instead of `request`.
    tasks: Option<IndexMap<String, Task>>,
    /// Output model fields of a `tasks:` body.
    outputs: Option<IndexMap<String, Value>>,
}

/// A key field: a JSONPath, or a JSONPath whose text values are parsed as JSON.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
enum KeyField {
    Path(String),
    Full(KeyFieldFull),
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct KeyFieldFull {
    path: String,
    /// Parse text values as JSON (text that is not JSON stays text).
    parse_json: Option<bool>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ParamDecl {
    /// snake_case of the display name.
    name: Option<String>,
    /// Smallest number allowed.
    min: Option<f64>,
    /// Largest number allowed.
    max: Option<f64>,
    /// Fewest list elements allowed.
    min_items: Option<u32>,
    /// Most list elements allowed.
    max_items: Option<u32>,
    display: Option<String>,
    #[serde(rename = "type")]
    ty: Option<ParamType>,
    required: Option<bool>,
    default: Option<Value>,
    options: Option<Vec<String>>,
    description: Option<String>,
    sample: Option<Value>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Request {
    method: Option<String>,
    path: String,
    query: Option<IndexMap<String, Value>>,
    headers: Option<IndexMap<String, Value>>,
    body: Option<Value>,
    form: Option<IndexMap<String, Value>>,
    multipart: Option<IndexMap<String, Value>>,
    /// One request per element of this array.
    for_each: Option<String>,
    /// JSONPath into the response for returnData (default `Successful`).
    return_data: Option<String>,
    /// JSONPath into the response for the result summary.
    result: Option<String>,
    /// Save the response body in the file store under this name (returnData is the file ID).
    save_file: Option<String>,
    timeout: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum ConnectionsKind {
    Connections,
}

/// Named connections: an integration plus parameter values (secrets by reference).
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codeless connections")]
pub struct ConnectionsFile {
    kind: ConnectionsKind,
    connections: IndexMap<String, Connection>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Connection {
    integration: String,
    /// Values; `${env:VAR}` and `${file:PATH}` are read when the connection is used.
    params: Option<IndexMap<String, Value>>,
}

#[derive(Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum TestKind {
    Test,
}

/// Test cases for a playbook.
#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "codeless test")]
pub struct TestFile {
    kind: TestKind,
    /// Path of the playbook, relative to this file.
    playbook: String,
    cases: Vec<TestCase>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct TestCase {
    name: String,
    incident: Option<Value>,
    event: Option<Value>,
    inputs: Option<IndexMap<String, Value>>,
    /// Task id or command name → output model, or a list of them (one per call).
    mocks: Option<IndexMap<String, Value>>,
    expect: Option<Expect>,
}

#[derive(Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Expect {
    status: Option<String>,
    /// Task id → status.
    tasks: Option<IndexMap<String, String>>,
    /// Conditional task id → branch label taken.
    branches: Option<IndexMap<String, String>>,
    /// Task id → number of runs.
    runs: Option<IndexMap<String, u64>>,
    /// JSONPath into the run document → expected value.
    values: Option<IndexMap<String, Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kind: &str, pointer: &str) -> Vec<String> {
        let v: Value = serde_json::from_str(&schema_json(kind).unwrap()).unwrap();
        let p = v
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{kind}: no {pointer}"));
        let mut keys: Vec<String> = p.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    }

    fn sorted(keys: &[&str]) -> Vec<String> {
        let mut k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        k.sort();
        k
    }

    /// The schemas and the loader accept exactly the same keys.
    #[test]
    fn schemas_match_the_loader() {
        use crate::load::keys::*;
        assert_eq!(props("playbook", "/properties"), sorted(PLAYBOOK_KEYS));
        assert_eq!(
            props("playbook", "/$defs/Task/properties"),
            sorted(TASK_KEYS)
        );
        assert_eq!(
            props("playbook", "/$defs/InputDecl/properties"),
            sorted(INPUT_KEYS)
        );
        assert_eq!(
            props("integration", "/properties"),
            sorted(INTEGRATION_KEYS)
        );
        assert_eq!(
            props("integration", "/$defs/ConnParam/properties"),
            sorted(CONN_PARAM_KEYS)
        );
        assert_eq!(
            props("integration", "/$defs/Http/properties"),
            sorted(HTTP_KEYS)
        );
        assert_eq!(
            props("integration", "/$defs/IntegrationCommand/properties"),
            sorted(COMMAND_KEYS)
        );
        assert_eq!(
            props("integration", "/$defs/ParamDecl/properties"),
            sorted(PARAM_KEYS)
        );
        assert_eq!(
            props("integration", "/$defs/Request/properties"),
            sorted(REQUEST_KEYS)
        );
        assert_eq!(
            props("connections", "/properties"),
            sorted(CONNECTIONS_KEYS)
        );
        assert_eq!(
            props("connections", "/$defs/Connection/properties"),
            sorted(CONNECTION_KEYS)
        );
        assert_eq!(props("test", "/properties"), sorted(TEST_KEYS));
        assert_eq!(
            props("test", "/$defs/TestCase/properties"),
            sorted(CASE_KEYS)
        );
        assert_eq!(
            props("test", "/$defs/Expect/properties"),
            sorted(EXPECT_KEYS)
        );
    }

    /// `schemas/*.json` are what the code generates (regenerate: `codeless schema KIND > schemas/KIND.json`).
    #[test]
    fn checked_in_schemas_are_up_to_date() {
        for kind in KINDS {
            let path = format!("{}/schemas/{kind}.json", env!("CARGO_MANIFEST_DIR"));
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            let fresh = schema_json(kind).unwrap();
            if std::env::var("CODELESS_BLESS").is_ok() {
                std::fs::write(&path, &fresh).unwrap();
                continue;
            }
            assert!(
                on_disk == fresh,
                "{path} is stale: run `CODELESS_BLESS=1 cargo test schema` and commit"
            );
        }
    }
}
