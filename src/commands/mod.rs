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
/// Date/time text in any form the date/time utilities accept (Python inputs are parsed with it).
pub(crate) use time::parse_any as parse_datetime;

use crate::files::FileStore;

/// What a built-in utility may use besides its arguments.
pub struct UtilityContext<'a> {
    pub files: &'a FileStore,
    /// The run's notion of "now" (fixed per call so a command sees one instant).
    pub now: chrono::DateTime<chrono::Utc>,
    /// How much a JSONPath the command evaluates may select and copy (the run's limits).
    pub query_budget: crate::jsonpath::Budget,
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
    /// A command of an integration file (an HTTP `request:` or a `tasks:` body).
    Integration {
        integration: Arc<crate::model::IntegrationFile>,
        command: String,
    },
    /// A playbook with inputs/outputs, called as a command (nesting).
    Playbook(Arc<crate::model::Playbook>),
}

impl std::fmt::Debug for Implementation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Implementation::Utility(_) => f.write_str("Utility"),
            Implementation::Async(_) => f.write_str("Async"),
            Implementation::Integration { command, .. } => write!(f, "Integration({command})"),
            Implementation::Playbook(p) => write!(f, "Playbook({})", p.name.value),
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

/// The largest text or list a utility may build (bytes of text, elements of a list); bigger
/// results are refused with a clear error instead of exhausting memory.
pub(crate) const MAX_OUTPUT_LEN: usize = 16 * 1024 * 1024;

/// The most elements a utility builds into a list from a text (split parts, regex matches).
pub(crate) const MAX_LIST_LEN: usize = 1_000_000;

/// Compiled-size limit for user regular expressions (protects against pathological patterns).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Compiles the regular expression given in parameter `param`, with size limits.
pub(crate) fn compile_regex(param: &str, pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(4 * REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("parameter `{param}` is not a valid regular expression: {e}"))
}

/// A computed number as JSON: whole results as integers (`5`, not `5.0`), others as floats.
pub(crate) fn number_value(x: f64) -> Result<Value, String> {
    if !x.is_finite() {
        return Err(format!("the result is not a finite number ({x})"));
    }
    // 2^53: beyond it not every integer is representable, so keep the float form.
    if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 {
        return Ok(Value::from(x as i64));
    }
    serde_json::Number::from_f64(x)
        .map(Value::Number)
        .ok_or_else(|| format!("the result is not a finite number ({x})"))
}

/// A short, quoted rendering of user text for error messages.
pub(crate) fn quote(s: &str) -> String {
    match crate::secrets::clip_head(s, 60) {
        (head, false) => format!("{head:?}"),
        (head, true) => format!("{head:?}…"),
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

/// Helpers for the utilities' unit tests: call a builtin the way the engine does.
#[cfg(test)]
pub(crate) mod testing {
    use super::{coerce::coerce, Args, Implementation, Registry, UtilityContext};
    use crate::files::FileStore;
    use serde_json::{Map, Value};

    /// The fixed "now" of every test call: 2026-01-02 03:04:05 UTC.
    pub fn now() -> chrono::DateTime<chrono::Utc> {
        use chrono::TimeZone;
        chrono::Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid fixed time")
    }

    /// Calls builtin `name` with `args` (a JSON object) and a throw-away file store.
    pub fn call(name: &str, args: Value) -> Result<Value, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = FileStore::new(dir.path().join("files"));
        call_with(&files, name, args)
    }

    /// Calls builtin `name` like the engine: coerce each argument to its declared type, apply
    /// defaults, check required parameters, then invoke with a fixed `now`.
    pub fn call_with(files: &FileStore, name: &str, args: Value) -> Result<Value, String> {
        let registry = Registry::builtin();
        let command = registry
            .get(name)
            .unwrap_or_else(|| panic!("no builtin command `{name}`"));
        let mut given = match args {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => panic!("test arguments must be an object, got {other}"),
        };
        let mut values = Map::new();
        for p in &command.spec.inputs {
            let v = given
                .remove(&p.name)
                .filter(|v| !v.is_null())
                .or_else(|| p.default.clone());
            match v {
                Some(v) => {
                    let v = coerce(p.ty, v).map_err(|e| format!("parameter `{}`: {e}", p.name))?;
                    values.insert(p.name.clone(), v);
                }
                None if p.required => return Err(format!("parameter `{}` is required", p.name)),
                None => {}
            }
        }
        assert!(
            given.is_empty(),
            "`{name}` has no parameters {:?}",
            given.keys().collect::<Vec<_>>()
        );
        let ctx = UtilityContext {
            files,
            now: now(),
            query_budget: crate::jsonpath::Budget::default(),
        };
        match &command.implementation {
            Implementation::Utility(f) => f(&Args::new(values), &ctx),
            _ => Err(
                "only synchronous utilities can be called here; test others through the engine"
                    .into(),
            ),
        }
    }

    /// Calls and expects success.
    pub fn ok(name: &str, args: Value) -> Value {
        call(name, args).unwrap_or_else(|e| panic!("`{name}` failed: {e}"))
    }

    /// Calls and expects failure; returns the message.
    pub fn err(name: &str, args: Value) -> String {
        match call(name, args) {
            Ok(v) => {
                let shown: String = v.to_string().chars().take(200).collect();
                panic!("`{name}` succeeded with {shown} but should have failed")
            }
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_many_and_well_named() {
        let r = Registry::builtin();
        assert!(r.len() >= 60, "only {} builtin commands", r.len());
        for c in r.iter() {
            let s = &c.spec;
            assert!(!s.description.is_empty(), "`{}` has no description", s.name);
            assert!(
                !s.display.is_empty() && !s.category.is_empty(),
                "`{}`",
                s.name
            );
            assert!(
                [
                    "boolean",
                    "number",
                    "text",
                    "text_array",
                    "json_object",
                    "json_array",
                    "any"
                ]
                .contains(&s.returns.as_str()),
                "`{}` returns {}",
                s.name,
                s.returns
            );
            let mut seen = std::collections::HashSet::new();
            for p in &s.inputs {
                assert_eq!(
                    p.name,
                    crate::util::snake_case(&p.display),
                    "`{}`: parameter display name does not match its internal name",
                    s.name
                );
                assert!(
                    seen.insert(&p.name),
                    "`{}`: duplicate parameter {}",
                    s.name,
                    p.name
                );
                if let Some(d) = &p.default {
                    coerce::coerce(p.ty, d.clone())
                        .unwrap_or_else(|e| panic!("`{}`.{} default: {e}", s.name, p.name));
                    if !p.options.is_empty() {
                        assert!(p.options.iter().any(|o| Some(o.as_str()) == d.as_str()));
                    }
                }
                if let Some(sample) = &p.sample {
                    coerce::coerce(p.ty, sample.clone())
                        .unwrap_or_else(|e| panic!("`{}`.{} sample: {e}", s.name, p.name));
                }
            }
        }
    }

    #[test]
    fn categories_are_the_families() {
        let families = [
            "Text",
            "Number",
            "Boolean",
            "Date/Time",
            "Array",
            "JSON",
            "Encoding",
            "Cyber",
            "File",
            "Flow",
        ];
        for c in Registry::builtin().iter() {
            assert!(
                families.contains(&c.spec.category.as_str()),
                "`{}`: {}",
                c.spec.name,
                c.spec.category
            );
        }
    }

    #[test]
    fn seed_commands_exist_with_their_parameters() {
        let r = Registry::builtin();
        let params = |n: &str| -> Vec<String> {
            r.get(n)
                .unwrap_or_else(|| panic!("missing {n}"))
                .spec
                .inputs
                .iter()
                .map(|p| p.name.clone())
                .collect()
        };
        assert_eq!(params("equals"), ["input1", "input2"]);
        assert_eq!(params("contains"), ["input", "search_value"]);
        assert_eq!(params("greaterThan"), ["input1", "input2"]);
        assert_eq!(params("concatToRear"), ["input", "value"]);
        assert!(params("GetUTCTimeNow").is_empty());
        assert_eq!(
            params("ExtractArtifactsToJsonObjectArrayWithArrayKeyValueO"),
            ["input", "keys"]
        );
        assert_eq!(params("CreateFileFromTextArray"), ["input", "file_name"]);
        assert_eq!(
            r.get("CreateFileFromTextArray")
                .map(|c| c.spec.display.as_str()),
            Some("Create a File from input Text Array")
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(number_value(5.0).unwrap(), serde_json::json!(5));
        assert_eq!(number_value(-2.5).unwrap(), serde_json::json!(-2.5));
        assert!(number_value(f64::NAN).is_err());
        assert!(compile_regex("pattern", "(")
            .unwrap_err()
            .starts_with("parameter `pattern` is not a valid regular expression"));
        assert!(compile_regex("pattern", "a{1000}{1000}{1000}").is_err());
    }
}
