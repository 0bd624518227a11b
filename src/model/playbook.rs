//! The playbook model (DESIGN.md §2).

use super::{Sp, TValue};
use crate::commands::{Lifecycle, ParamType};
use crate::diagnostic::SourceFile;
use crate::load::node::Span;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Playbook {
    pub file: Arc<SourceFile>,
    pub name: Sp<String>,
    pub description: String,
    pub status: Sp<Lifecycle>,
    pub inputs: Vec<InputDecl>,
    /// `outputs:` in order: name → value.
    pub outputs: IndexMap<String, (Span, TValue)>,
    pub tasks: IndexMap<String, Task>,
    /// Span of the `tasks:` mapping (or of the document when it is missing).
    pub tasks_span: Span,
    /// What could not be loaded, so graph rules do not report its consequences.
    pub load_problems: LoadProblems,
}

/// Parts of a playbook that had load errors (already reported with Y codes).
#[derive(Debug, Clone, Default)]
pub struct LoadProblems {
    /// `tasks` was missing or not a mapping.
    pub tasks_invalid: bool,
    /// Task ids whose value was not a task at all (so they are not in `tasks`).
    pub broken_tasks: Vec<String>,
    /// Tasks loaded with some error (a bad `type`, `branches`, `next`...).
    pub tasks_with_errors: Vec<String>,
}

impl LoadProblems {
    pub fn any(&self) -> bool {
        self.tasks_invalid || !self.broken_tasks.is_empty() || !self.tasks_with_errors.is_empty()
    }
}

impl Playbook {
    /// The command name under which this playbook can be nested (PascalCase of `name`).
    pub fn command_name(&self) -> String {
        crate::util::pascal_case(&self.name.value)
    }
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }
}

#[derive(Debug, Clone)]
pub struct InputDecl {
    pub name: Sp<String>,
    pub display: Option<String>,
    pub ty: ParamType,
    pub required: bool,
    pub default: Option<Value>,
    pub options: Vec<String>,
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Command,
    Conditional,
    Transform,
}

impl TaskKind {
    pub fn name(self) -> &'static str {
        match self {
            TaskKind::Command => "command",
            TaskKind::Conditional => "conditional",
            TaskKind::Transform => "transform",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wait {
    #[default]
    All,
    Any,
    AnyOnce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    #[default]
    Stop,
    Continue,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// Retries after the first failed try.
    pub attempts: u32,
    /// Seconds to wait before retry N (the last repeats); empty means no wait.
    pub delay: Vec<f64>,
}

/// One `name: value` under `input:` or `with:`.
#[derive(Debug, Clone)]
pub struct Param {
    pub key_span: Span,
    pub value: TValue,
}

#[derive(Debug, Clone)]
pub enum TaskInput {
    /// Named parameters (command and conditional tasks).
    Params(IndexMap<String, Param>),
    /// One value (transform tasks).
    Value(TValue),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub command: Sp<String>,
    pub with: IndexMap<String, Param>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Branch {
    pub label: Sp<String>,
    pub targets: Vec<Sp<String>>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: Sp<String>,
    pub name: Option<String>,
    pub kind: Sp<TaskKind>,
    pub command: Option<Sp<String>>,
    pub connection: Option<Sp<String>>,
    pub input: TaskInput,
    pub steps: Vec<Step>,
    pub next: Vec<Sp<String>>,
    pub branches: Vec<Branch>,
    pub wait: Wait,
    pub on_error: OnError,
    pub retry: Option<Retry>,
    /// Seconds per attempt.
    pub timeout: Option<f64>,
    pub max_loops: Option<Sp<u32>>,
    /// Span of the task's mapping.
    pub span: Span,
}

impl Task {
    pub fn params(&self) -> Option<&IndexMap<String, Param>> {
        match &self.input {
            TaskInput::Params(p) => Some(p),
            TaskInput::Value(_) => None,
        }
    }
    /// Every successor named by `next` and `branches`, with the branch label if any.
    pub fn successors(&self) -> impl Iterator<Item = (Option<&str>, &Sp<String>)> {
        self.next
            .iter()
            .map(|t| (None, t))
            .chain(self.branches.iter().flat_map(|b| {
                b.targets
                    .iter()
                    .map(move |t| (Some(b.label.value.as_str()), t))
            }))
    }
    /// All template values of the task (inputs and step `with:` values).
    pub fn values(&self) -> Vec<&TValue> {
        let mut out: Vec<&TValue> = match &self.input {
            TaskInput::Params(p) => p.values().map(|p| &p.value).collect(),
            TaskInput::Value(v) => vec![v],
        };
        for s in &self.steps {
            out.extend(s.with.values().map(|p| &p.value));
        }
        out
    }
}
