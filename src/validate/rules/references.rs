//! T004–T007: template references name tasks that exist and have run before the reader
//! (ancestors in the graph), playbook inputs that are declared, and `item` only where a batch can be.

use crate::diagnostic::Diagnostic;
use crate::model::{Playbook, TValue};
use crate::plan::Plan;
use crate::template::Scope;

pub fn check(pb: &Playbook, plan: &Plan, out: &mut Vec<Diagnostic>) {
    let file = &pb.file;
    let inputs: Vec<&str> = pb.inputs.iter().map(|i| i.name.value.as_str()).collect();
    let check_value = |reader: Option<usize>, v: &TValue, out: &mut Vec<Diagnostic>| {
        for (e, span) in v.exprs() {
            match &e.scope {
                Scope::Task { id, .. } => match plan.index.get(id) {
                    None => {
                        let help = crate::util::closest(id, plan.ids.iter().map(String::as_str))
                            .map(|c| format!("did you mean `{c}`?"))
                            .unwrap_or_else(|| "name a task of this playbook".into());
                        out.push(
                            Diagnostic::error(
                                "T004",
                                file,
                                span,
                                format!("{} reads task `{id}`, which does not exist", e.display()),
                            )
                            .with_help(help),
                        );
                    }
                    Some(&t) => {
                        if let Some(r) = reader {
                            if !plan.is_ancestor(r, t) {
                                out.push(
                                    Diagnostic::error("T005", file, span, format!("task `{}` reads task `{id}`, which may not have run before it", plan.ids[r]))
                                        .with_help(format!("make `{id}` lead to `{}` (through `next` or branches), or read another task", plan.ids[r])),
                                );
                            }
                        }
                    }
                },
                Scope::Input => {
                    if let Some(k) = e.path.first_key() {
                        if !inputs.contains(&k) {
                            let help = crate::util::closest(k, inputs.iter().copied())
                                .map(|c| format!("did you mean `{c}`?"))
                                .unwrap_or_else(|| "declare it under `inputs:`".into());
                            out.push(
                                Diagnostic::error(
                                    "T007",
                                    file,
                                    span,
                                    format!(
                                        "{} reads input `{k}`, which the playbook does not declare",
                                        e.display()
                                    ),
                                )
                                .with_help(help),
                            );
                        }
                    }
                }
                Scope::Item | Scope::Index if reader.is_none() => {
                    out.push(Diagnostic::error(
                        "T006",
                        file,
                        span,
                        format!(
                            "{} is only available in a task's inputs during batch execution",
                            e.display()
                        ),
                    ));
                }
                _ => {}
            }
        }
    };
    for (i, task) in pb.tasks.values().enumerate() {
        for v in task.values() {
            check_value(Some(i), v, out);
        }
    }
    for (_, v) in pb.outputs.values() {
        check_value(None, v, out);
    }
}
