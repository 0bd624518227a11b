//! The connections model (DESIGN.md §7): named connections with parameter values.

use super::Sp;
use crate::diagnostic::SourceFile;
use crate::load::node::Span;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct ConnectionsFile {
    pub file: Arc<SourceFile>,
    pub connections: IndexMap<String, Connection>,
    /// Every value written in the file but `kind` and the connections' `integration`, so
    /// that source snippets can leave out those that may be secrets.
    pub written: Vec<WrittenValue>,
}

/// Where a value is written in a connections file.
#[derive(Debug, Clone)]
pub struct WrittenValue {
    pub span: Span,
    /// The connection and parameter it gives, when it is a parameter's value.
    pub param: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub name: Sp<String>,
    pub integration: Sp<String>,
    /// Values as written: `${env:VAR}` and `${file:PATH}` are expanded when the connection is used.
    pub params: IndexMap<String, (Span, Value)>,
    pub span: Span,
}
