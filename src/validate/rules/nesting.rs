//! C009: a playbook that calls itself, directly or through other playbooks, would nest without
//! end; the engine stops at a depth limit, validation reports it before anything runs.

use crate::commands::Implementation;
use crate::diagnostic::Diagnostic;
use crate::model::Playbook;
use crate::validate::Catalog;
use std::collections::HashSet;
use std::sync::Arc;

pub fn check(pb: &Playbook, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let me = pb.command_name();
    for task in pb.tasks.values() {
        let Some(name) = &task.command else { continue };
        let Some(Implementation::Playbook(callee)) =
            catalog.registry.get(&name.value).map(|c| &c.implementation)
        else {
            continue;
        };
        if let Some(path) = cycle_through(callee, &me, catalog, &mut HashSet::new()) {
            out.push(
                Diagnostic::error(
                    "C009",
                    &pb.file,
                    name.span,
                    format!(
                        "task `{}` calls `{}`, which leads back to this playbook: {me} → {}",
                        task.id.value,
                        name.value,
                        path.join(" → ")
                    ),
                )
                .with_help("a playbook may not call itself, directly or through others"),
            );
        }
    }
}

/// The chain of calls from `callee` back to `target`, if any.
fn cycle_through(
    callee: &Arc<Playbook>,
    target: &str,
    catalog: &Catalog,
    seen: &mut HashSet<String>,
) -> Option<Vec<String>> {
    let name = callee.command_name();
    if name == target {
        return Some(vec![name]);
    }
    if !seen.insert(name.clone()) {
        return None;
    }
    for t in callee.tasks.values() {
        let Some(c) = &t.command else { continue };
        if let Some(Implementation::Playbook(next)) =
            catalog.registry.get(&c.value).map(|c| &c.implementation)
        {
            if let Some(mut rest) = cycle_through(next, target, catalog, seen) {
                rest.insert(0, name.clone());
                return Some(rest);
            }
        }
    }
    None
}
