//! T001–T008 for Handlebars: `text_template` / `html_template` inputs are rendered with
//! Handlebars against the same scopes as `<<...>>`, so their syntax is checked (T001) and the
//! paths they read in the root context (outside `#each` / `#with` blocks, whose context is an
//! element) are turned into references that `references` checks like any other: unknown scope,
//! unknown task, a task that may not have run, an undeclared input or key field.

use crate::commands::ParamType;
use crate::diagnostic::Diagnostic;
use crate::load::locate;
use crate::load::node::line_col_to_offset;
use crate::load::node::Span;
use crate::model::{Param, Playbook, TKind, TValue, Task};
use crate::template::{parse_template, Expr};
use crate::validate::Catalog;
use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};
use handlebars::{Path, PathSeg};
use indexmap::IndexMap;

/// References read by the task's Handlebars inputs (for `references`), after reporting their
/// syntax errors and unknown scopes into `out`.
pub fn references(
    pb: &Playbook,
    catalog: &Catalog,
    task: &Task,
    out: &mut Vec<Diagnostic>,
) -> Vec<(Expr, Span)> {
    let mut found = Vec::new();
    let mut inputs: Vec<(&str, &IndexMap<String, Param>)> = Vec::new();
    if let (Some(cmd), crate::model::TaskInput::Params(p)) = (&task.command, &task.input) {
        inputs.push((cmd.value.as_str(), p));
    }
    for s in &task.steps {
        inputs.push((s.command.value.as_str(), &s.with));
    }
    for (command, params) in inputs {
        let Some(cmd) = catalog.registry.get(command) else {
            continue;
        };
        for (name, p) in params {
            let templated = cmd
                .spec
                .input(name)
                .is_some_and(|s| matches!(s.ty, ParamType::TextTemplate | ParamType::HtmlTemplate));
            if templated {
                check_value(pb, &p.value, out, &mut found);
            }
        }
    }
    found
}

fn check_value(
    pb: &Playbook,
    v: &TValue,
    out: &mut Vec<Diagnostic>,
    found: &mut Vec<(Expr, Span)>,
) {
    // The text as written, with its `<<...>>` references blanked (they become data, never
    // template source, at run time).
    let (text, source) = match &v.kind {
        TKind::Literal(serde_json::Value::String(s)) => (s.as_str(), s.clone()),
        TKind::Template { raw, template, .. } => {
            let mut source = raw.clone();
            for e in template.exprs() {
                let range = e.offset..e.offset + e.len;
                if source.get(range.clone()).is_some() {
                    source.replace_range(range, &" ".repeat(e.len));
                }
            }
            (raw.as_str(), source)
        }
        _ => return,
    };
    if !source.contains("{{") {
        return;
    }
    let file = &pb.file;
    let at = |offset: usize, len: usize| -> Span {
        Span::new(locate(&file.text, v.span, text, offset, len), len)
    };
    // The Handlebars parser runs on untrusted text here: a panic in it is a diagnostic.
    let compiled = std::panic::catch_unwind(|| Template::compile(&source));
    let template = match compiled {
        Ok(Ok(t)) => t,
        Err(_) => {
            out.push(Diagnostic::error(
                "T001",
                file,
                v.span,
                "Handlebars syntax error: the template could not be parsed",
            ));
            return;
        }
        Ok(Err(e)) => {
            let offset = e
                .pos()
                .and_then(|(line, col)| line_col_to_offset(&source, line, col))
                .unwrap_or(0);
            // The rest of that line as written, to find the position in the YAML source.
            let mut len = source[offset..]
                .find('\n')
                .unwrap_or(source.len() - offset)
                .min(24);
            while !source.is_char_boundary(offset + len) {
                len -= 1;
            }
            out.push(
                Diagnostic::error(
                    "T001",
                    file,
                    at(offset, len),
                    format!("Handlebars syntax error: {}", syntax_message(e.reason())),
                )
                .with_help("check that every `{{` has its `}}` and every `{{#block}}` its `{{/block}}`; write `\\{{` for literal braces"),
            );
            return;
        }
    };
    let mut paths = Vec::new();
    walk(&template, &source, true, &mut paths);
    for (raw, element_at) in paths {
        let Some(expr_text) = reference_text(&raw) else {
            continue;
        };
        let offset = source
            .get(element_at..)
            .and_then(|rest| rest.find(&raw))
            .map_or(element_at, |i| element_at + i);
        let span = at(offset, raw.len());
        match parse_template(&format!("<<{expr_text}>>")) {
            Ok(t) => {
                if let Some(e) = t.lone() {
                    found.push((e.clone(), span));
                }
            }
            Err(errors) => {
                for e in errors {
                    let message = e.message.replace(&format!("<<{expr_text}>>"), &raw);
                    out.push(Diagnostic::error(e.code, file, span, message).maybe_help(e.help));
                }
            }
        }
    }
}

/// The parser's reason in the words of the template's author (pest lists grammar rules).
fn syntax_message(reason: &handlebars::TemplateErrorReason) -> String {
    use handlebars::TemplateErrorReason as R;
    match reason {
        R::MismatchingClosedHelper(open, close) => {
            format!("`{{{{#{open}}}}}` is closed by `{{{{/{close}}}}}`")
        }
        R::InvalidSyntax(_) => "a `{{#block}}` is never closed, or a `{{` has no `}}`".to_owned(),
        R::NestedSubexpression => "subexpressions inside subexpressions are not supported".into(),
        other => other.to_string(),
    }
}

/// Paths read in the root context, with the source offset of the expression holding each.
fn walk(t: &Template, source: &str, root: bool, out: &mut Vec<(String, usize)>) {
    for (i, el) in t.elements.iter().enumerate() {
        let at = t
            .mapping
            .get(i)
            .and_then(|m| line_col_to_offset(source, m.0, m.1))
            .unwrap_or(0);
        match el {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) if root => {
                helper_paths(h, at, true, out);
            }
            TemplateElement::HelperBlock(h) => {
                if root {
                    helper_paths(h, at, false, out);
                }
                // `#if` / `#unless` keep the context; `#each` / `#with` (and unknown blocks)
                // change it to an element. `{{else}}` runs in the outer context.
                let keeps = matches!(&h.name, Parameter::Name(n) if n == "if" || n == "unless");
                if let Some(body) = &h.template {
                    walk(body, source, root && keeps, out);
                }
                if let Some(inverse) = &h.inverse {
                    walk(inverse, source, root, out);
                }
            }
            _ => {}
        }
    }
}

/// The paths of one `{{...}}`: its parameters and hash values, and its name when it is a plain
/// lookup (`{{incident.title}}`), not a helper call.
fn helper_paths(h: &HelperTemplate, at: usize, name_too: bool, out: &mut Vec<(String, usize)>) {
    let mut params: Vec<&Parameter> = h.params.iter().collect();
    params.extend(h.hash.values());
    if name_too && params.is_empty() {
        params.push(&h.name);
    }
    for p in params {
        match p {
            Parameter::Path(path) => {
                if let Some(raw) = plain_path(path) {
                    out.push((raw, at));
                }
            }
            Parameter::Subexpression(s) => {
                if let TemplateElement::Expression(inner) = s.element.as_ref() {
                    helper_paths(inner, at, false, out);
                }
            }
            _ => {}
        }
    }
}

/// The path as written when it is a root-relative chain of names (`tasks.x.returnData`), not
/// `this`, `../x`, `@index` or a helper name.
fn plain_path(path: &Path) -> Option<String> {
    let Path::Relative((segs, raw)) = path else {
        return None;
    };
    let names: Option<Vec<&str>> = segs
        .iter()
        .map(|s| match s {
            PathSeg::Named(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let names = names?;
    let first = *names.first()?;
    if names.len() == 1 && crate::template::text::is_helper(first) {
        return None;
    }
    Some(raw.clone())
}

/// The reference to check for a Handlebars path: its leading plain names (at most the three
/// that name a scope, a task or input and a field), joined with dots. `None` for a bare
/// `tasks` (all tasks) or when the first name is not plain.
fn reference_text(raw: &str) -> Option<String> {
    let plain = |s: &&str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    let names: Vec<&str> = raw.split(['.', '/']).take_while(plain).take(4).collect();
    match names.as_slice() {
        [] | ["tasks"] => None,
        _ => Some(names.join(".")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_keep_the_leading_plain_names() {
        assert_eq!(
            reference_text("tasks.t1.keyFields.ip.0").as_deref(),
            Some("tasks.t1.keyFields.ip")
        );
        assert_eq!(
            reference_text("incident/title").as_deref(),
            Some("incident.title")
        );
        assert_eq!(reference_text("tasks"), None);
        assert_eq!(reference_text("alert.x").as_deref(), Some("alert.x"));
    }
}
