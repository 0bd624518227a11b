//! Validation: rules over loaded models, each in its own file under `rules/` with a stable code.
//! Owns which rules run and in what order; rendering of diagnostics lives in `report`.

pub mod codes;
mod rules;

use crate::commands::Registry;
use crate::diagnostic::Diagnostic;
use crate::model::Playbook;
use crate::plan::Plan;

/// What rules can look at besides the playbook.
pub struct Catalog<'a> {
    pub registry: &'a Registry,
}

/// Every problem of a playbook whose file loaded: graph, commands, references.
pub fn check_playbook(pb: &Playbook, plan: &Plan, catalog: &Catalog) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    rules::commands::check(pb, catalog, &mut out);
    rules::references::check(pb, plan, catalog, &mut out);
    out
}
