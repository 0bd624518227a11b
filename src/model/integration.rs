//! The integration model (DESIGN.md §4): connection parameters, shared HTTP settings, commands.

use super::{Sp, TValue};
use crate::commands::{Feature, KeyFieldSpec, Lifecycle, ParamSpec};
use crate::diagnostic::SourceFile;
use crate::load::node::Span;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct IntegrationFile {
    pub file: Arc<SourceFile>,
    pub name: Sp<String>,
    pub description: String,
    pub connection: Vec<ConnParam>,
    /// Connections may carry parameters the integration does not declare (REST API Callback).
    pub custom_parameters: bool,
    pub http: HttpDefaults,
    pub commands: IndexMap<String, IntegrationCommand>,
}

#[derive(Debug, Clone)]
pub struct ConnParam {
    pub name: Sp<String>,
    pub display: String,
    pub required: bool,
    pub sensitive: bool,
    pub default: Option<Value>,
    pub options: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone, Default)]
pub struct HttpDefaults {
    pub base_url: Option<TValue>,
    pub auth: Option<Auth>,
    /// Headers sent with every request (a mapping, or a template resolving to one).
    pub headers: Option<TValue>,
    pub error_message: Vec<Sp<String>>,
    pub retry: Option<RetryPolicy>,
    /// Seconds per request.
    pub timeout: Option<f64>,
    pub verify_tls: Option<TValue>,
}

#[derive(Debug, Clone)]
pub enum Auth {
    Bearer(TValue),
    Basic {
        username: TValue,
        password: TValue,
    },
    Header {
        name: TValue,
        value: TValue,
    },
    /// Chosen at run time from a connection parameter (`none`, `basic`, `bearer`).
    Select {
        by: TValue,
        basic: Box<(TValue, TValue)>,
        bearer: TValue,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub on_status: Vec<u16>,
    pub attempts: u32,
    pub exponential: bool,
    pub base_delay: f64,
    pub max_delay: f64,
    pub respect_retry_after: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            on_status: vec![429, 500, 502, 503, 504],
            attempts: 3,
            exponential: true,
            base_delay: 1.0,
            max_delay: 30.0,
            respect_retry_after: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IntegrationCommand {
    pub name: Sp<String>,
    pub display: String,
    pub category: String,
    pub description: String,
    pub features: Vec<Feature>,
    pub inputs: Vec<ParamSpec>,
    pub input_spans: Vec<Span>,
    pub key_fields: Vec<(KeyFieldSpec, Span)>,
    pub status: Lifecycle,
    pub implementation: CommandImpl,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum CommandImpl {
    Request(Box<HttpRequest>),
    /// A codeless body: `tasks:` plus `outputs:` (the output model fields).
    Tasks(Arc<super::Playbook>),
    /// Neither given (reported by validation).
    Missing,
}

#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: TValue,
    pub path: TValue,
    /// Query parameters: a mapping (or a template resolving to one); null values are omitted.
    pub query: Option<TValue>,
    pub headers: Option<TValue>,
    pub body: RequestBody,
    pub for_each: Option<TValue>,
    /// JSONPath into the response for returnData (default: the status text `Successful`).
    pub return_data: Option<Sp<String>>,
    /// JSONPath into the response for the result summary.
    pub result: Option<Sp<String>>,
    /// Save the response body in the file store under this name; returnData is the file ID.
    pub save_file: Option<TValue>,
    pub timeout: Option<f64>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub enum RequestBody {
    None,
    Json(TValue),
    Form(TValue),
    /// Parts: text values, or files from the file store written `{ file: <<input.file_id>> }`.
    Multipart(TValue),
}
