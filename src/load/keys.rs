//! The keys each mapping of each file kind may have. The loader reports any other key (with a
//! "did you mean"); `schema.rs` tests that the JSON Schemas list exactly these.

pub const PLAYBOOK_KEYS: &[&str] = &[
    "kind",
    "name",
    "description",
    "status",
    "inputs",
    "outputs",
    "tasks",
];
pub const TASK_KEYS: &[&str] = &[
    "name",
    "description",
    "type",
    "command",
    "connection",
    "input",
    "steps",
    "next",
    "branches",
    "wait",
    "on_error",
    "retry",
    "timeout",
    "max_loops",
];
pub const INPUT_KEYS: &[&str] = &[
    "name",
    "display",
    "type",
    "required",
    "default",
    "options",
    "description",
    "sample",
];
pub const STEP_KEYS: &[&str] = &["command", "with"];
pub const RETRY_KEYS: &[&str] = &["attempts", "delay"];

pub const INTEGRATION_KEYS: &[&str] = &[
    "kind",
    "name",
    "description",
    "connection",
    "custom_parameters",
    "http",
    "commands",
];
pub const CONN_PARAM_KEYS: &[&str] = &[
    "name",
    "display",
    "type",
    "required",
    "sensitive",
    "default",
    "options",
    "description",
];
pub const HTTP_KEYS: &[&str] = &[
    "base_url",
    "auth",
    "headers",
    "error_message",
    "retry",
    "timeout",
    "verify_tls",
];
pub const AUTH_KEYS: &[&str] = &["bearer", "basic", "header", "by"];
pub const RETRY_POLICY_KEYS: &[&str] = &[
    "on_status",
    "attempts",
    "backoff",
    "base_delay",
    "max_delay",
    "respect_retry_after",
];
pub const COMMAND_KEYS: &[&str] = &[
    "display",
    "category",
    "description",
    "features",
    "inputs",
    "key_fields",
    "status",
    "request",
    "tasks",
    "outputs",
];
pub const PARAM_KEYS: &[&str] = &[
    "min",
    "max",
    "min_items",
    "max_items",
    "name",
    "display",
    "type",
    "required",
    "default",
    "options",
    "description",
    "sample",
];
pub const REQUEST_KEYS: &[&str] = &[
    "method",
    "path",
    "query",
    "headers",
    "body",
    "form",
    "multipart",
    "for_each",
    "return_data",
    "result",
    "save_file",
    "timeout",
];

pub const CONNECTIONS_KEYS: &[&str] = &["kind", "connections"];
pub const CONNECTION_KEYS: &[&str] = &["integration", "params"];

pub const TEST_KEYS: &[&str] = &["kind", "playbook", "cases"];
pub const CASE_KEYS: &[&str] = &["name", "incident", "event", "inputs", "mocks", "expect"];
pub const EXPECT_KEYS: &[&str] = &["status", "tasks", "branches", "runs", "values"];
pub const KEY_FIELD_KEYS: &[&str] = &["path", "parse_json"];
