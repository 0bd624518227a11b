//! The rule catalogue. Codes: Y (YAML/schema, in `load`), G (graph, in `plan`), C (commands),
//! T/J (templates and JSONPath).

pub mod commands;
pub mod connections;
pub mod handlebars;
pub mod integrations;
pub mod nesting;
pub mod references;
pub mod task_connections;
