//! The command registry: every command a playbook can name, with its declaration and implementation.
//! Owns lookup, listing and the calling convention of built-in utilities; not HTTP or the engine.

pub mod args;
pub mod coerce;
pub mod spec;

mod array;
mod boolean;
mod cyber;
mod encoding;
mod file;
mod flow;
mod json;
mod number;
mod text;
mod time;

use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

pub use args::Args;
pub use spec::{CommandSpec, Feature, KeyFieldSpec, Lifecycle, ParamSpec, ParamType};

use crate::files::FileStore;

/// What a built-in utility may use besides its arguments.
pub struct UtilityContext<'a> {
    pub files: &'a FileStore,
    /// The run's notion of "now" (fixed per call so a command sees one instant).
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A built-in utility: pure where possible; `Err` is the failure message (the engine wraps it
/// into the output model's `error` with the command's display name).
pub type UtilityFn = fn(&Args, &UtilityContext) -> Result<Value, String>;

/// A built-in that waits on something (timers, I/O); gets owned arguments.
pub type AsyncUtilityFn =
    fn(Args) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, String>> + Send>>;

#[derive(Clone)]
pub enum Implementation {
    Utility(UtilityFn),
    Async(AsyncUtilityFn),
}

impl std::fmt::Debug for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Implementation::Utility(_) => f.write_str("Utility"),
            Implementation::Async(_) => f.write_str("Async"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Command {
    pub spec: CommandSpec,
    pub implementation: Implementation,
}

/// All commands known to a run or a validation, by internal name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    commands: IndexMap<String, Arc<Command>>,
}

impl Registry {
    /// The built-in utility commands.
    pub fn builtin() -> Self {
        let mut r = Registry::default();
        text::register(&mut r);
        number::register(&mut r);
        boolean::register(&mut r);
        time::register(&mut r);
        array::register(&mut r);
        json::register(&mut r);
        encoding::register(&mut r);
        cyber::register(&mut r);
        file::register(&mut r);
        flow::register(&mut r);
        r
    }

    pub fn add(&mut self, command: Command) {
        self.commands
            .insert(command.spec.name.clone(), Arc::new(command));
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Command>> {
        self.commands.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Command>> {
        self.commands.values()
    }

    pub fn len(&self) -> usize {
        self.commands.len()
    }

    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// The closest known name, for "did you mean" hints.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        crate::util::closest(name, self.commands.keys().map(String::as_str))
    }
}

/// Starts the declaration of a built-in utility.
pub(crate) fn utility(name: &str, display: &str, category: &str, f: UtilityFn) -> UtilityBuilder {
    UtilityBuilder {
        spec: CommandSpec {
            name: name.to_owned(),
            display: display.to_owned(),
            category: category.to_owned(),
            description: String::new(),
            features: vec![Feature::Command, Feature::Transform, Feature::Adhoc],
            inputs: Vec::new(),
            key_fields: Vec::new(),
            status: Lifecycle::Live,
            returns: "text".to_owned(),
        },
        f,
    }
}

pub(crate) struct UtilityBuilder {
    spec: CommandSpec,
    f: UtilityFn,
}

impl UtilityBuilder {
    pub fn describe(mut self, d: &str) -> Self {
        self.spec.description = d.to_owned();
        self
    }
    pub fn input(mut self, p: ParamSpec) -> Self {
        self.spec.inputs.push(p);
        self
    }
    /// Replaces the default features (command, transform, adhoc).
    pub fn features(mut self, f: &[Feature]) -> Self {
        self.spec.features = f.to_vec();
        self
    }
    /// Also usable as a conditional task (predicates and classifiers).
    pub fn conditional(mut self) -> Self {
        if !self.spec.features.contains(&Feature::Conditional) {
            self.spec.features.push(Feature::Conditional);
        }
        self
    }
    pub fn returns(mut self, ty: &str) -> Self {
        self.spec.returns = ty.to_owned();
        self
    }
    pub fn build(self) -> Command {
        Command {
            spec: self.spec,
            implementation: Implementation::Utility(self.f),
        }
    }
    pub fn register(self, r: &mut Registry) {
        r.add(self.build());
    }
}
