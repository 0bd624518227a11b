//! Typed models of the four file kinds. Every node keeps its span so later stages can point at
//! `file:line:col`. Built by `load`; read by `validate`, `plan` and `run`; never mutated after load.

mod connections;
mod integration;
mod playbook;
mod testfile;
mod value;

pub use connections::{Connection, ConnectionsFile, WrittenValue};
pub use integration::{
    Auth, CommandImpl, ConnParam, HttpDefaults, HttpRequest, IntegrationCommand, IntegrationFile,
    RequestBody, RetryPolicy,
};
pub use playbook::{
    Branch, InputDecl, LoadProblems, OnError, Param, Playbook, Retry, Step, Task, TaskInput,
    TaskKind, Wait,
};
pub use testfile::{TestCase, TestExpect, TestFile};
pub use value::{TKind, TValue, OPERATORS};

use crate::diagnostic::SourceFile;
use crate::load::node::Span;
use std::sync::Arc;

/// A value with the span of the YAML node it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Self {
        Sp { value, span }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Any loaded file.
#[derive(Debug, Clone)]
pub enum Document {
    Playbook(Arc<Playbook>),
    Integration(Arc<IntegrationFile>),
    Connections(Arc<ConnectionsFile>),
    Test(Arc<TestFile>),
}

impl Document {
    pub fn file(&self) -> &Arc<SourceFile> {
        match self {
            Document::Playbook(p) => &p.file,
            Document::Integration(i) => &i.file,
            Document::Connections(c) => &c.file,
            Document::Test(t) => &t.file,
        }
    }
}
