//! C001–C008: tasks name commands that exist, give them the inputs they declare, with literals of
//! the right type and allowed options, and use them only where their features allow; live playbooks use only live commands.

use crate::commands::{coerce::coerce, Feature, Lifecycle};
use crate::diagnostic::Diagnostic;
use crate::model::{Param, Playbook, Sp, TaskKind};
use crate::validate::Catalog;
use indexmap::IndexMap;

pub fn check(pb: &Playbook, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    for task in pb.tasks.values() {
        match task.kind.value {
            TaskKind::Transform => {
                for step in &task.steps {
                    check_call(
                        pb,
                        catalog,
                        &step.command,
                        &step.with,
                        Some(Feature::Transform),
                        true,
                        out,
                    );
                }
            }
            kind => {
                if let (Some(cmd), Some(params)) = (&task.command, task.params()) {
                    let feature = Some(if kind == TaskKind::Conditional {
                        Feature::Conditional
                    } else {
                        Feature::Command
                    });
                    check_call(pb, catalog, cmd, params, feature, false, out);
                }
            }
        }
    }
}

fn check_call(
    pb: &Playbook,
    catalog: &Catalog,
    name: &Sp<String>,
    params: &IndexMap<String, Param>,
    feature: Option<Feature>,
    first_is_fed: bool,
    out: &mut Vec<Diagnostic>,
) {
    let file = &pb.file;
    let Some(cmd) = catalog.registry.get(&name.value) else {
        let help = match catalog.registry.suggest(&name.value) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "run `codeless commands` to list the commands".into(),
        };
        out.push(
            Diagnostic::error(
                "C001",
                file,
                name.span,
                format!("unknown command `{}`", name.value),
            )
            .with_help(help),
        );
        return;
    };
    let spec = &cmd.spec;
    if spec.status == Lifecycle::Draft && pb.status.value == Lifecycle::Live {
        out.push(
            Diagnostic::error(
                "C007",
                file,
                name.span,
                format!("live playbook uses `{}`, which is a draft", spec.name),
            )
            .with_help("make the command live, or mark this playbook `status: draft`"),
        );
    }
    if let Some(f) = feature {
        if !spec.has_feature(f) {
            let what = match f {
                Feature::Transform => "a transform step",
                Feature::Conditional => "a conditional task",
                _ => "a command task",
            };
            out.push(
                Diagnostic::error(
                    "C006",
                    file,
                    name.span,
                    format!("`{}` cannot be used as {what}", spec.name),
                )
                .with_help(format!(
                    "its features are: {}",
                    spec.features
                        .iter()
                        .map(|f| f.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }
    for (i, p) in spec.inputs.iter().enumerate() {
        let fed = first_is_fed && i == 0;
        if p.required && p.default.is_none() && !fed && !params.contains_key(&p.name) {
            out.push(
                Diagnostic::error(
                    "C002",
                    file,
                    name.span,
                    format!("`{}` needs input `{}` ({})", spec.name, p.name, p.display),
                )
                .with_help(format!(
                    "add `{}: ...` under `{}:`",
                    p.name,
                    if first_is_fed { "with" } else { "input" }
                )),
            );
        }
    }
    for (k, param) in params {
        let Some(p) = spec.input(k) else {
            let help = match crate::util::closest(k, spec.inputs.iter().map(|p| p.name.as_str())) {
                Some(c) => format!("did you mean `{c}`?"),
                None if spec.inputs.is_empty() => format!("`{}` takes no inputs", spec.name),
                None => format!(
                    "`{}` takes: {}",
                    spec.name,
                    spec.inputs
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            out.push(
                Diagnostic::error(
                    "C003",
                    file,
                    param.key_span,
                    format!("`{}` has no input `{k}`", spec.name),
                )
                .with_help(help),
            );
            continue;
        };
        let Some(lit) = param.value.as_literal() else {
            continue;
        };
        if let (Some(path), true) = (lit.as_str(), takes_jsonpath(&spec.name, k)) {
            // filterByJsonPath also takes a bare filter (`@.score > 5` or `?@.x`).
            let full = match path.trim() {
                p if p.starts_with('@') => format!("$[?{p}]"),
                p if p.starts_with('?') => format!("$[{p}]"),
                p => p.to_owned(),
            };
            if let Err(e) = crate::jsonpath::parse(&full) {
                out.push(
                    Diagnostic::error("J001", file, param.value.span, format!("input `{k}` of `{}`: `{path}` is not a valid JSONPath: {e}", spec.name))
                        .with_help("JSONPaths start with `$`, e.g. `$[*].name` or `$[?@.score > 5]` (RFC 9535)"),
                );
            }
            continue;
        }
        // A list for a scalar parameter is batch execution, not a type error.
        if p.ty.is_scalar() && lit.is_array() {
            continue;
        }
        match coerce(p.ty, lit.clone()) {
            Err(e) => out.push(Diagnostic::error(
                "C004",
                file,
                param.value.span,
                format!("input `{k}` of `{}`: {e}", spec.name),
            )),
            Ok(serde_json::Value::String(s))
                if !p.options.is_empty() && !p.options.contains(&s) =>
            {
                let help = match crate::util::closest(&s, p.options.iter().map(String::as_str)) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("use one of: {}", p.options.join(", ")),
                };
                out.push(
                    Diagnostic::error(
                        "C005",
                        file,
                        param.value.span,
                        format!("`{s}` is not an option of input `{k}`"),
                    )
                    .with_help(help),
                );
            }
            Ok(v) => {
                if let Err(e) = p.check_bounds(&v) {
                    out.push(Diagnostic::error(
                        "C008",
                        file,
                        param.value.span,
                        format!("input `{k}` of `{}`: {e}", spec.name),
                    ));
                }
            }
        }
    }
}

/// Built-in parameters whose value is a JSONPath.
fn takes_jsonpath(command: &str, param: &str) -> bool {
    matches!(
        (command, param),
        ("jsonPathQuery" | "filterByJsonPath", "path")
    )
}
