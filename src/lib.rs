//! codeless: validate and run SOAR playbooks written in YAML.
//! The pipeline: load (YAML with spans) → model → validate → plan → run → report.

pub mod cancel;
pub mod cli;
pub mod commands;
pub mod connections;
pub mod console;
pub mod diagnostic;
pub mod files;
pub mod graph;
pub mod http;
pub mod jsonpath;
pub mod limits;
pub mod load;
pub mod model;
pub mod output;
pub mod plan;
pub mod python;
pub mod redact;
pub mod report;
pub mod run;
pub mod schema;
pub mod secrets;
pub mod store;
pub mod template;
pub mod testing;
pub mod util;
pub mod validate;
pub mod workspace;
