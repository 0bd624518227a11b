//! The test model: cases for a playbook with trigger data, mocks and expectations.

use super::Sp;
use crate::diagnostic::SourceFile;
use crate::load::node::Span;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct TestFile {
    pub file: Arc<SourceFile>,
    /// Path of the playbook, relative to the test file.
    pub playbook: Sp<String>,
    pub cases: Vec<TestCase>,
}

#[derive(Debug, Clone)]
pub struct TestCase {
    pub name: Sp<String>,
    pub incident: Option<Value>,
    pub event: Option<Value>,
    pub inputs: IndexMap<String, Value>,
    /// Command name or task id → output model (or list of outputs, one per call).
    pub mocks: IndexMap<String, (Span, Value)>,
    pub expect: TestExpect,
    pub span: Span,
}

#[derive(Debug, Clone, Default)]
pub struct TestExpect {
    pub status: Option<Sp<String>>,
    pub tasks: IndexMap<String, (Span, String)>,
    pub branches: IndexMap<String, (Span, String)>,
    pub runs: IndexMap<String, (Span, u64)>,
    /// JSONPath into the run document → expected value.
    pub values: IndexMap<String, (Span, Value)>,
}
