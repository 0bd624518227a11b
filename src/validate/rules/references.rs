//! T004–T008: template references (and the paths Handlebars inputs read, see `handlebars`) name tasks that exist and have run before the reader
//! (ancestors in the graph), key fields their commands declare, playbook inputs that are
//! declared, and `item`/`index` only where a batch can happen.

use crate::diagnostic::Diagnostic;
use crate::load::node::Span;
use crate::model::{Playbook, TKind, TValue, Task, TaskKind};
use crate::plan::Plan;
use crate::template::{Expr, Scope};
use crate::validate::Catalog;

pub fn check(pb: &Playbook, plan: &Plan, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let file = &pb.file;
    let inputs: Vec<&str> = pb.inputs.iter().map(|i| i.name.value.as_str()).collect();
    let check_exprs = |reader: Option<usize>,
                       exprs: Vec<(&Expr, Span)>,
                       out: &mut Vec<Diagnostic>| {
        for (e, span) in exprs {
            match &e.scope {
                Scope::Task { id, .. } => match plan.index.get(id) {
                    None if pb.load_problems.broken_tasks.contains(id) => {}
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
                        if let (Some("keyFields"), Some(k)) =
                            (field_of(&e.scope), e.path.first_key())
                        {
                            check_key_field(pb, catalog, &pb.tasks[t], k, span, out);
                        }
                        // A task may read its own `runs`/`retries` (the counts so far); a task
                        // that never runs (unreachable) reads nothing.
                        let own_count = Some(t) == reader
                            && matches!(field_of(&e.scope), Some("runs" | "retries"));
                        if let Some(r) =
                            reader.filter(|r| !own_count && !plan.unreachable.contains(r))
                        {
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
            check_exprs(Some(i), v.exprs(), out);
        }
        let read_by_handlebars = super::handlebars::references(pb, catalog, task, out);
        let mut found = Vec::new();
        check_exprs(
            Some(i),
            read_by_handlebars.iter().map(|(e, s)| (e, *s)).collect(),
            &mut found,
        );
        // Show those references as they are written: `{{tasks.x.returnData}}`.
        for (e, _) in &read_by_handlebars {
            let (shown, written) = (e.display(), format!("{{{{{}}}}}", e.source));
            for d in &mut found {
                d.message = d.message.replace(&shown, &written);
            }
        }
        out.extend(found);
        check_item_use(pb, catalog, task, out);
    }
    for (_, v) in pb.outputs.values() {
        check_exprs(None, v.exprs(), out);
    }
}

fn field_of(s: &Scope) -> Option<&str> {
    match s {
        Scope::Task { field, .. } => field.as_deref(),
        _ => None,
    }
}

/// `tasks.X.keyFields.K` where X's command declares its key fields and K is not one of them.
fn check_key_field(
    pb: &Playbook,
    catalog: &Catalog,
    target: &Task,
    key: &str,
    span: crate::load::node::Span,
    out: &mut Vec<Diagnostic>,
) {
    let Some(name) = &target.command else { return };
    let Some(cmd) = catalog.registry.get(&name.value) else {
        return;
    };
    let declared: Vec<&str> = cmd
        .spec
        .key_fields
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    if declared.contains(&key) {
        return;
    }
    let help = match crate::util::closest(key, declared.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None if declared.is_empty() => format!(
            "`{}` declares no key fields; read `returnData` or `rawData` instead",
            cmd.spec.name
        ),
        None => format!("`{}` declares: {}", cmd.spec.name, declared.join(", ")),
    };
    out.push(
        Diagnostic::error(
            "T008",
            &pb.file,
            span,
            format!(
                "`{}` has no key field `{key}` (task `{}`)",
                cmd.spec.name, target.id.value
            ),
        )
        .with_help(help),
    );
}

/// `<<item>>`/`<<index>>` need a batch: some single-value parameter given a list, or a lone
/// reference that may resolve to one.
fn check_item_use(pb: &Playbook, catalog: &Catalog, task: &Task, out: &mut Vec<Diagnostic>) {
    let item_exprs = |v: &TValue| -> Vec<(String, crate::load::node::Span)> {
        v.exprs()
            .into_iter()
            .filter(|(e, _)| matches!(e.scope, Scope::Item | Scope::Index))
            .map(|(e, s)| (e.display(), s))
            .collect()
    };
    let report = |out: &mut Vec<Diagnostic>,
                  exprs: Vec<(String, crate::load::node::Span)>,
                  why: &str| {
        for (shown, span) in exprs {
            out.push(Diagnostic::error("T006", &pb.file, span, format!("{shown} is used, but {why}")).with_help(
                "give a list (or a reference to one) to a parameter that takes one value; the command then runs once per element",
            ));
        }
    };
    if task.kind.value == TaskKind::Transform {
        for v in task.values() {
            for (shown, span) in item_exprs(v) {
                out.push(
                    Diagnostic::error("T006", &pb.file, span, format!("{shown} is used, but transform tasks do not run in batches"))
                        .with_help("a transform passes one value through its steps; to run a command once per element, use a command task with a list"),
                );
            }
        }
        return;
    }
    let Some(params) = task.params() else { return };
    let Some(cmd) = task
        .command
        .as_ref()
        .and_then(|c| catalog.registry.get(&c.value))
    else {
        return;
    };
    let uses: Vec<_> = params.values().flat_map(|p| item_exprs(&p.value)).collect();
    if uses.is_empty() {
        return;
    }
    let batch_possible = params.iter().any(|(k, p)| {
        let scalar = cmd.spec.input(k).is_some_and(|s| s.ty.is_scalar());
        let may_be_list = match &p.value.kind {
            TKind::Literal(v) => v.is_array(),
            TKind::Template { template, .. } => template
                .lone()
                .is_some_and(|e| !matches!(e.scope, Scope::Item | Scope::Index)),
            _ => false,
        };
        scalar && may_be_list
    });
    if !batch_possible {
        report(
            out,
            uses,
            "no parameter of this task can receive a list, so it never runs as a batch",
        );
    }
}
