//! Node tree → `Playbook`.

use super::keys::*;
use super::node::{Node, NodeValue, Span};
use super::reader::Reader;
use crate::commands::{Lifecycle, ParamType};
use crate::model::{
    Branch, InputDecl, OnError, Playbook, Retry, Sp, Step, Task, TaskInput, TaskKind, Wait,
};
use indexmap::IndexMap;

pub(crate) fn playbook(r: &mut Reader, root: &Node) -> Option<Playbook> {
    let o = r.obj(root, "a playbook", PLAYBOOK_KEYS)?;
    let name = r
        .req_text(&o, "name", "the playbook")
        .unwrap_or_else(|| Sp::new(String::new(), Span::new(0, 0)));
    let description = r.text_or_empty(&o, "description", "the playbook");
    let status = lifecycle(r, o.get("status"), "status (live or draft)");
    let inputs = o
        .get("inputs")
        .map(|n| input_decls(r, n))
        .unwrap_or_default();
    let outputs = match o.get("outputs") {
        Some(n) => match &n.value {
            NodeValue::Map(m) => m
                .iter()
                .map(|(k, (ks, v))| (k.clone(), (*ks, r.tvalue(v))))
                .collect(),
            NodeValue::Null => IndexMap::new(),
            _ => {
                r.wrong_type(n, "`outputs`", "a mapping of name: value");
                IndexMap::new()
            }
        },
        None => IndexMap::new(),
    };
    let mut load_problems = crate::model::LoadProblems::default();
    let (tasks, tasks_span) = match r.require(&o, "tasks", "the playbook") {
        Some(n) => (tasks(r, n, &mut load_problems), n.span),
        None => {
            load_problems.tasks_invalid = true;
            (IndexMap::new(), Span::new(0, 0))
        }
    };
    Some(Playbook {
        file: r.file.clone(),
        name,
        description,
        status,
        inputs,
        outputs,
        tasks,
        tasks_span,
        load_problems,
    })
}

pub(crate) fn lifecycle(r: &mut Reader, node: Option<&Node>, what: &str) -> Sp<Lifecycle> {
    match node {
        None => Sp::new(Lifecycle::Live, Span::new(0, 0)),
        Some(n) => {
            let v = match r.choice(n, what, &["live", "draft"]) {
                Some("draft") => Lifecycle::Draft,
                _ => Lifecycle::Live,
            };
            Sp::new(v, n.span)
        }
    }
}

fn input_decls(r: &mut Reader, node: &Node) -> Vec<InputDecl> {
    let NodeValue::Seq(items) = &node.value else {
        r.wrong_type(node, "`inputs`", "a list of inputs");
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(o) = r.obj(item, "an input", INPUT_KEYS) else {
            continue;
        };
        let Some(name) = r.req_text(&o, "name", "an input") else {
            continue;
        };
        let ty = param_type(r, o.get("type")).unwrap_or(ParamType::Text);
        out.push(InputDecl {
            display: r.opt_text(&o, "display", "an input").map(|s| s.value),
            ty,
            required: r.opt_bool(&o, "required", "an input").unwrap_or(false),
            default: o.get("default").map(Node::to_json),
            options: r.options(&o),
            description: r.text_or_empty(&o, "description", "an input"),
            name,
        });
    }
    out
}

pub(crate) fn param_type(r: &mut Reader, node: Option<&Node>) -> Option<ParamType> {
    let n = node?;
    let names: Vec<&str> = ParamType::ALL.iter().map(|t| t.name()).collect();
    r.choice(n, "parameter type", &names)
        .and_then(ParamType::parse)
}

/// The `tasks:` mapping (also the body of integration commands implemented by tasks).
pub(crate) fn tasks(
    r: &mut Reader,
    node: &Node,
    problems: &mut crate::model::LoadProblems,
) -> IndexMap<String, Task> {
    let NodeValue::Map(m) = &node.value else {
        r.wrong_type(node, "`tasks`", "a mapping of task id: task");
        problems.tasks_invalid = true;
        return IndexMap::new();
    };
    let mut out = IndexMap::new();
    for (id, (id_span, tn)) in m {
        if !valid_id(id) {
            r.error(
                "Y007",
                *id_span,
                format!("`{id}` is not a valid task id"),
                Some(
                    "use letters, digits and `_`, not starting with a digit (e.g. `extract_urls`)"
                        .into(),
                ),
            );
        }
        let before = r.diags.len();
        match task(r, Sp::new(id.clone(), *id_span), tn) {
            Some(t) => {
                if r.diags.len() > before {
                    problems.tasks_with_errors.push(id.clone());
                }
                out.insert(id.clone(), t);
            }
            None => problems.broken_tasks.push(id.clone()),
        }
    }
    out
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn task(r: &mut Reader, id: Sp<String>, node: &Node) -> Option<Task> {
    let what = format!("task `{}`", id.value);
    let o = r.obj(node, &what, TASK_KEYS)?;
    let kind = match o.get("type") {
        None => Sp::new(TaskKind::Command, id.span),
        Some(n) => {
            let k = match r.choice(n, "task type", &["command", "conditional", "transform"]) {
                Some("conditional") => TaskKind::Conditional,
                Some("transform") => TaskKind::Transform,
                _ => TaskKind::Command,
            };
            Sp::new(k, n.span)
        }
    };
    let command = if kind.value == TaskKind::Transform {
        r.opt_text(&o, "command", &what)
    } else {
        r.req_text(&o, "command", &what)
    };
    let transform = kind.value == TaskKind::Transform;
    let input = match o.get("input") {
        Some(n) if transform => TaskInput::Value(r.tvalue(n)),
        None if transform => {
            r.require(&o, "input", &what);
            TaskInput::Value(crate::model::TValue::literal(
                serde_json::Value::Null,
                node.span,
            ))
        }
        Some(n) => TaskInput::Params(r.params(n, &format!("`input` of {what}"))),
        None => TaskInput::Params(IndexMap::new()),
    };
    let steps = match o.get("steps") {
        Some(n) => {
            let s = steps(r, n, &what);
            if s.is_empty() && transform && matches!(n.value, NodeValue::Seq(_)) {
                r.error(
                    "Y005",
                    n.span,
                    format!("{what} has no steps"),
                    Some("list the commands to apply, e.g. `steps: [toUpper]`".into()),
                );
            }
            s
        }
        None if transform => {
            r.require(&o, "steps", &what);
            Vec::new()
        }
        None => Vec::new(),
    };
    if let (true, Some(c)) = (transform, o.get("command")) {
        r.error(
            "Y006",
            c.span,
            format!("{what} is a transform: `command` is not used"),
            Some("put the command under `steps:` (its first parameter is fed by `input:`)".into()),
        );
    }
    let next = o
        .get("next")
        .map(|n| r.text_list(n, &format!("`next` of {what}")))
        .unwrap_or_default();
    let branches = match o.get("branches") {
        Some(n) => match &n.value {
            NodeValue::Map(m) => m
                .iter()
                .map(|(label, (ls, targets))| Branch {
                    label: Sp::new(label.clone(), *ls),
                    targets: r.text_list(targets, &format!("branch `{label}` of {what}")),
                })
                .collect(),
            _ => {
                r.wrong_type(
                    n,
                    &format!("`branches` of {what}"),
                    "a mapping of label: [task ids]",
                );
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let wait = match o.get("wait") {
        Some(n) => match r.choice(n, "`wait` mode", &["all", "any", "any_once"]) {
            Some("any") => Wait::Any,
            Some("any_once") => Wait::AnyOnce,
            _ => Wait::All,
        },
        None => Wait::All,
    };
    let on_error = match o.get("on_error") {
        Some(n) => match r.choice(n, "`on_error` mode", &["stop", "continue"]) {
            Some("continue") => OnError::Continue,
            _ => OnError::Stop,
        },
        None => OnError::Stop,
    };
    let retry = o.get("retry").and_then(|n| retry(r, n, &what));
    let timeout = r.opt_number(&o, "timeout", &what).and_then(|t| {
        if t.value > 0.0 {
            Some(t.value)
        } else {
            r.error(
                "Y006",
                t.span,
                "`timeout` must be more than 0 seconds",
                None,
            );
            None
        }
    });
    Some(Task {
        name: r.opt_text(&o, "name", &what).map(|s| s.value),
        kind,
        command,
        connection: r.opt_text(&o, "connection", &what),
        input,
        steps,
        next,
        branches,
        wait,
        on_error,
        retry,
        timeout,
        max_loops: r.opt_count(&o, "max_loops", &what),
        span: node.span,
        id,
    })
}

fn steps(r: &mut Reader, node: &Node, what: &str) -> Vec<Step> {
    let NodeValue::Seq(items) = &node.value else {
        r.wrong_type(node, &format!("`steps` of {what}"), "a list of steps");
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        // `- toUpper` is short for `- command: toUpper`.
        if let NodeValue::String(s) = &item.value {
            out.push(Step {
                command: Sp::new(s.clone(), item.span),
                with: IndexMap::new(),
                span: item.span,
            });
            continue;
        }
        let Some(o) = r.obj(item, &format!("a step of {what}"), STEP_KEYS) else {
            continue;
        };
        let Some(command) = r.req_text(&o, "command", &format!("a step of {what}")) else {
            continue;
        };
        let with = o
            .get("with")
            .map(|n| r.params(n, "`with`"))
            .unwrap_or_default();
        out.push(Step {
            command,
            with,
            span: item.span,
        });
    }
    out
}

fn retry(r: &mut Reader, node: &Node, what: &str) -> Option<Retry> {
    let what = format!("`retry` of {what}");
    let o = r.obj(node, &what, RETRY_KEYS)?;
    let attempts = r
        .opt_count(&o, "attempts", &what)
        .map(|a| a.value)
        .unwrap_or(1);
    let delay = match o.get("delay") {
        None => Vec::new(),
        Some(n) => match &n.value {
            NodeValue::Number(x) => x.as_f64().into_iter().collect(),
            NodeValue::Seq(items) => items
                .iter()
                .filter_map(|i| match &i.value {
                    NodeValue::Number(x) => x.as_f64(),
                    _ => {
                        r.wrong_type(i, "a retry delay", "a number of seconds");
                        None
                    }
                })
                .collect(),
            _ => {
                r.wrong_type(n, "`delay`", "seconds, or a list of seconds");
                Vec::new()
            }
        },
    };
    Some(Retry { attempts, delay })
}
