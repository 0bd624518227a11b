//! `<<expr>>` templates: parsed once into an AST (`Template`), resolved many times against a
//! `Context`. Owns template syntax and path semantics; not where the data comes from.

mod parse;
mod path;
mod resolve;
pub mod text;

pub use parse::{
    parse_template, parse_template_partial, Expr, Part, Scope, Template, TemplateError, TASK_FIELDS,
};
pub use path::{Path, Seg};
pub use resolve::{render_text, resolve_expr, Context, ResolveError};
pub use text::{read_set, render_template, render_template_as_written, ReadSet};
