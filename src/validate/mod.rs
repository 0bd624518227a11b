//! Validation: rules over loaded models, each in its own file under `rules/` with a stable code.
//! Owns which rules run and in what order; rendering of diagnostics lives in `report`.

pub mod codes;
mod rules;

use crate::commands::Registry;
use crate::diagnostic::Diagnostic;
use crate::load::Loaded;
use crate::model::{Document, Playbook};
use crate::plan::Plan;
use crate::workspace::Workspace;

/// What rules can look at besides the file at hand.
pub struct Catalog<'a> {
    pub registry: &'a Registry,
    pub workspace: Option<&'a Workspace>,
    /// Set while checking the `tasks:` body of an integration command: its tasks read that
    /// integration's connection as `<<connector.*>>`.
    pub integration_body: Option<&'a crate::model::IntegrationFile>,
}

/// All diagnostics of one loaded file in the context of its workspace.
pub fn check_loaded(loaded: &Loaded, ws: &Workspace) -> Vec<Diagnostic> {
    let mut diags = loaded.diagnostics.clone();
    let catalog = Catalog {
        registry: &ws.registry,
        workspace: Some(ws),
        integration_body: None,
    };
    if let Some(Document::Playbook(pb)) = &loaded.document {
        let (plan, graph_diags) = crate::plan::plan(pb);
        diags.extend(graph_diags);
        diags.extend(check_playbook(pb, &plan, &catalog));
    }
    if let Some(Document::Integration(i)) = &loaded.document {
        rules::integrations::check(i, &mut diags);
        for c in i.commands.values() {
            if let crate::model::CommandImpl::Tasks(body) = &c.implementation {
                let (plan, graph_diags) = crate::plan::plan(body);
                diags.extend(graph_diags);
                let body_catalog = Catalog {
                    integration_body: Some(i),
                    ..catalog
                };
                diags.extend(check_playbook(body, &plan, &body_catalog));
            }
        }
    }
    if let Some(Document::Connections(c)) = &loaded.document {
        rules::connections::check(c, ws, &mut diags);
    }
    diags
}

/// Every problem of a playbook whose file loaded: graph, commands, references.
pub fn check_playbook(pb: &Playbook, plan: &Plan, catalog: &Catalog) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    rules::commands::check(pb, catalog, &mut out);
    rules::references::check(pb, plan, catalog, &mut out);
    rules::task_connections::check(pb, catalog, &mut out);
    rules::nesting::check(pb, catalog, &mut out);
    out
}
