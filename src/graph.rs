//! Drawing a playbook's task graph as Mermaid or Graphviz DOT: branch labels on edges, loop
//! edges dashed, joins marked, and (with a run document) tasks coloured by their status.

use crate::model::{Playbook, TaskKind, Wait};
use crate::plan::Plan;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

fn label(pb: &Playbook, id: &str) -> String {
    let t = &pb.tasks[id];
    let what = match t.kind.value {
        TaskKind::Transform => format!(
            "transform: {}",
            t.steps
                .iter()
                .map(|s| s.command.value.as_str())
                .collect::<Vec<_>>()
                .join(" → ")
        ),
        _ => t
            .command
            .as_ref()
            .map(|c| c.value.clone())
            .unwrap_or_default(),
    };
    let join = match t.wait {
        Wait::All if plan_preds(pb, id) > 1 => "\nwait: all",
        Wait::Any => "\nwait: any",
        Wait::AnyOnce => "\nwait: any_once",
        _ => "",
    };
    let title = t.name.clone().unwrap_or_else(|| id.to_owned());
    format!("{title}\n{what}{join}")
}

fn plan_preds(pb: &Playbook, id: &str) -> usize {
    pb.tasks
        .values()
        .flat_map(|t| {
            t.successors()
                .map(|(_, s)| s.value.clone())
                .collect::<Vec<_>>()
        })
        .filter(|s| s == id)
        .count()
}

fn status_of(run: Option<&Value>, id: &str) -> Option<String> {
    run?.get("tasks")?
        .get(id)?
        .get("status")?
        .as_str()
        .map(str::to_owned)
}

fn class_of(status: &str) -> &'static str {
    match status {
        "Successful" => "ok",
        "Partially Successful" => "partial",
        "Failed" => "failed",
        "Blocked" => "blocked",
        _ => "skipped",
    }
}

/// Mermaid flowchart source.
pub fn mermaid(pb: &Playbook, plan: &Plan, run: Option<&Value>) -> String {
    let esc = |s: &str| s.replace('"', "#quot;").replace('\n', "<br/>");
    let mut out = String::from("flowchart TD\n");
    for id in pb.tasks.keys() {
        let text = esc(&label(pb, id));
        let shape = match pb.tasks[id].kind.value {
            TaskKind::Conditional => format!("{id}{{\"{text}\"}}"),
            TaskKind::Transform => format!("{id}[/\"{text}\"/]"),
            TaskKind::Command => format!("{id}[\"{text}\"]"),
        };
        out.push_str(&format!("    {shape}\n"));
    }
    for e in &plan.edges {
        let (from, to) = (plan.id(e.from), plan.id(e.to));
        let arrow = if e.back { "-.->" } else { "-->" };
        match (&e.label, e.back) {
            (Some(l), true) => {
                out.push_str(&format!("    {from} {arrow}|\"{} (loop)\"| {to}\n", esc(l)))
            }
            (Some(l), false) => out.push_str(&format!("    {from} {arrow}|\"{}\"| {to}\n", esc(l))),
            (None, _) => out.push_str(&format!("    {from} {arrow} {to}\n")),
        }
    }
    if run.is_some() {
        out.push_str("    classDef ok fill:#d4f7d4,stroke:#2e7d32\n    classDef partial fill:#fff3c4,stroke:#b28704\n    classDef failed fill:#ffd6d6,stroke:#c62828\n    classDef blocked fill:#ffe0b2,stroke:#e65100\n    classDef skipped fill:#eeeeee,stroke:#9e9e9e,color:#757575\n");
        for id in pb.tasks.keys() {
            if let Some(s) = status_of(run, id) {
                out.push_str(&format!("    class {id} {}\n", class_of(&s)));
            }
        }
    }
    out
}

/// Graphviz DOT source.
pub fn dot(pb: &Playbook, plan: &Plan, run: Option<&Value>) -> String {
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = format!("digraph \"{}\" {{\n    rankdir=TB;\n    node [fontname=\"Helvetica\", style=filled, fillcolor=white];\n", esc(&pb.name.value));
    for id in pb.tasks.keys() {
        let shape = match pb.tasks[id].kind.value {
            TaskKind::Conditional => "diamond",
            TaskKind::Transform => "parallelogram",
            TaskKind::Command => "box",
        };
        let fill = match status_of(run, id).as_deref().map(class_of) {
            Some("ok") => ", fillcolor=\"#d4f7d4\"",
            Some("partial") => ", fillcolor=\"#fff3c4\"",
            Some("failed") => ", fillcolor=\"#ffd6d6\"",
            Some("blocked") => ", fillcolor=\"#ffe0b2\"",
            Some(_) => ", fillcolor=\"#eeeeee\", fontcolor=\"#757575\"",
            None => "",
        };
        out.push_str(&format!(
            "    \"{id}\" [shape={shape}, label=\"{}\"{fill}];\n",
            esc(&label(pb, id))
        ));
    }
    for e in &plan.edges {
        let mut attrs = Vec::new();
        if let Some(l) = &e.label {
            attrs.push(format!(
                "label=\"{}{}\"",
                esc(l),
                if e.back { " (loop)" } else { "" }
            ));
        }
        if e.back {
            attrs.push("style=dashed".into());
            attrs.push("constraint=false".into());
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        out.push_str(&format!(
            "    \"{}\" -> \"{}\"{attrs};\n",
            plan.id(e.from),
            plan.id(e.to)
        ));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Document;

    #[test]
    fn mermaid_and_dot_show_branches_loops_and_statuses() {
        let l = crate::load::load_str("p.yaml", "kind: playbook\nname: G\ntasks:\n  s: { command: equals, input: { input1: x, input2: y }, next: [a] }\n  a: { command: equals, input: { input1: x, input2: y }, next: [c] }\n  c:\n    type: conditional\n    command: equals\n    input: { input1: x, input2: y }\n    max_loops: 2\n    branches: { \"false\": [a], \"true\": [d] }\n  d: { command: concatToRear, input: { input: a, value: b }, wait: any_once }\n");
        let Some(Document::Playbook(pb)) = l.document else {
            panic!()
        };
        let (plan, _) = crate::plan::plan(&pb);
        let run = serde_json::json!({"tasks": {"a": {"status": "Successful"}, "c": {"status": "Failed"}, "d": {"status": "Blocked"}}});
        let m = mermaid(&pb, &plan, Some(&run));
        assert!(m.starts_with("flowchart TD\n"));
        assert!(m.contains("    c{\"c<br/>equals\"}\n"), "{m}");
        assert!(m.contains("    c -.->|\"false (loop)\"| a\n"), "{m}");
        assert!(m.contains("    c -->|\"true\"| d\n"), "{m}");
        assert!(
            m.contains("d[\"d<br/>concatToRear<br/>wait: any_once\"]"),
            "{m}"
        );
        assert!(
            m.contains("    class c failed\n") && m.contains("    class d blocked\n"),
            "{m}"
        );
        let d = dot(&pb, &plan, None);
        assert!(
            d.contains("\"c\" -> \"a\" [label=\"false (loop)\", style=dashed, constraint=false];"),
            "{d}"
        );
        assert!(d.contains("\"c\" [shape=diamond"), "{d}");
    }
}
