//! I001–I006 and J001 for integration files: request templates read only declared inputs and
//! connection parameters, JSONPaths parse, names follow the naming convention, every command
//! has an implementation.

use crate::diagnostic::Diagnostic;
use crate::load::node::Span;
use crate::model::{Auth, CommandImpl, IntegrationFile, RequestBody, TKind, TValue};
use crate::template::Scope;

pub fn check(i: &IntegrationFile, out: &mut Vec<Diagnostic>) {
    let file = &i.file;
    let conn_params: Vec<&str> = i.connection.iter().map(|p| p.name.value.as_str()).collect();
    // Shared HTTP settings read the connection only.
    let mut shared: Vec<&TValue> = Vec::new();
    shared.extend(i.http.base_url.iter());
    shared.extend(i.http.headers.iter());
    shared.extend(i.http.verify_tls.iter());
    match &i.http.auth {
        Some(Auth::Bearer(t)) => shared.push(t),
        Some(Auth::Basic { username, password }) => shared.extend([username, password]),
        Some(Auth::Header { name, value }) => shared.extend([name, value]),
        Some(Auth::Select { by, basic, bearer }) => shared.extend([by, &basic.0, &basic.1, bearer]),
        None => {}
    }
    for v in shared {
        check_refs(i, v, None, &conn_params, false, out);
    }
    for p in &i.http.error_message {
        check_path(i, &p.value, p.span, "error_message", out);
    }
    for c in i.commands.values() {
        let expected = crate::util::pascal_case(&c.display);
        if c.display != c.name.value && expected != c.name.value {
            out.push(
                Diagnostic::warning("I004", file, c.name.span, format!("command `{}` has display name `{}`, whose internal name would be `{expected}`", c.name.value, c.display))
                    .with_help("internal names are the PascalCase of display names, so playbooks written elsewhere keep working"),
            );
        }
        for (p, span) in c.inputs.iter().zip(&c.input_spans) {
            let expected = crate::util::snake_case(&p.display);
            if p.display != p.name && expected != p.name {
                out.push(
                    Diagnostic::warning("I006", file, *span, format!("parameter `{}` has display name `{}`, whose internal name would be `{expected}`", p.name, p.display))
                        .with_help("parameter names are the snake_case of display names"),
                );
            }
        }
        for (k, span) in &c.key_fields {
            check_path(i, &k.path, *span, &format!("key field `{}`", k.name), out);
        }
        let inputs: Vec<&str> = c.inputs.iter().map(|p| p.name.as_str()).collect();
        match &c.implementation {
            CommandImpl::Missing => out.push(
                Diagnostic::error("I005", file, c.name.span, format!("command `{}` has neither `request` nor `tasks`", c.name.value))
                    .with_help("add `request: {method, path, ...}` for an HTTP call, or `tasks:` for a codeless body"),
            ),
            CommandImpl::Request(r) => {
                let for_each = r.for_each.is_some();
                let mut values: Vec<&TValue> = vec![&r.method, &r.path];
                values.extend(r.query.iter());
                values.extend(r.headers.iter());
                match &r.body {
                    RequestBody::None => {}
                    RequestBody::Json(v) | RequestBody::Form(v) | RequestBody::Multipart(v) => values.push(v),
                }
                for v in values {
                    check_refs(i, v, Some(&inputs), &conn_params, for_each, out);
                }
                if let Some(f) = &r.for_each {
                    check_refs(i, f, Some(&inputs), &conn_params, false, out);
                }
                for (what, p) in [("return_data", &r.return_data), ("result", &r.result)] {
                    if let Some(p) = p {
                        check_path(i, &p.value, p.span, what, out);
                    }
                }
            }
            CommandImpl::Tasks(_) => {}
        }
    }
}

fn check_path(i: &IntegrationFile, path: &str, span: Span, what: &str, out: &mut Vec<Diagnostic>) {
    if let Err(e) = crate::jsonpath::parse(path) {
        out.push(
            Diagnostic::error(
                "J001",
                &i.file,
                span,
                format!("{what}: `{path}` is not a valid JSONPath: {e}"),
            )
            .with_help("JSONPaths start with `$`, e.g. `$.data[*].id` (RFC 9535)"),
        );
    }
}

/// `inputs` is `None` for shared settings (which cannot read inputs).
/// Every reference under `v`, each with whether it sits inside a `$map`'s `to:` (where
/// `<<item>>` and `<<index>>` are defined).
fn refs(v: &TValue, in_map: bool, out: &mut Vec<(crate::template::Expr, Span, bool)>) {
    match &v.kind {
        TKind::Map(m) if m.contains_key("$map") => {
            for (k, (_, x)) in m {
                refs(x, in_map || k == "to", out);
            }
        }
        TKind::Map(m) => m.values().for_each(|(_, x)| refs(x, in_map, out)),
        TKind::Seq(items) => items.iter().for_each(|x| refs(x, in_map, out)),
        _ => out.extend(v.exprs().into_iter().map(|(e, s)| (e.clone(), s, in_map))),
    }
}

fn check_refs(
    i: &IntegrationFile,
    v: &TValue,
    inputs: Option<&[&str]>,
    conn: &[&str],
    for_each: bool,
    out: &mut Vec<Diagnostic>,
) {
    let file = &i.file;
    let mut found = Vec::new();
    refs(v, false, &mut found);
    for (e, span, in_map) in &found {
        let (e, span, for_each) = (e, *span, for_each || *in_map);
        match &e.scope {
            Scope::Input => {
                let Some(inputs) = inputs else {
                    out.push(Diagnostic::error("I003", file, span, format!("{} : shared `http` settings cannot read command inputs", e.display())).with_help("read `connector.*` here, or move this to the command's `request`"));
                    continue;
                };
                if let Some(k) = e.path.first_key() {
                    if !inputs.contains(&k) {
                        let help = crate::util::closest(k, inputs.iter().copied()).map(|c| format!("did you mean `{c}`?")).unwrap_or_else(|| "declare it under the command's `inputs:`".into());
                        out.push(Diagnostic::error("I001", file, span, format!("{} reads input `{k}`, which the command does not declare", e.display())).with_help(help));
                    }
                }
            }
            Scope::Connector => {
                if let Some(k) = e.path.first_key() {
                    if !conn.contains(&k) {
                        let help = crate::util::closest(k, conn.iter().copied()).map(|c| format!("did you mean `{c}`?")).unwrap_or_else(|| "declare it under `connection:`".into());
                        out.push(Diagnostic::error("I002", file, span, format!("{} reads connection parameter `{k}`, which the integration does not declare", e.display())).with_help(help));
                    }
                }
            }
            Scope::Item | Scope::Index if !for_each => {
                out.push(Diagnostic::error("T006", file, span, format!("{} is only available in a request with `for_each`, or in the `to:` of a `$map`", e.display())));
            }
            Scope::Item | Scope::Index => {}
            _ => out.push(
                Diagnostic::error("I003", file, span, format!("{}: an integration request can read `input`, `connector`, and `item`/`index` under `for_each`", e.display()))
                    .with_help("pass what the request needs as a command input"),
            ),
        }
    }
}
