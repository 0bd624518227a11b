//! N001–N004 for connections files: the integration exists, required parameters are given,
//! no unknown parameters (unless the integration takes custom ones), and secrets are not
//! written in the file (warning: use `${env:VAR}` or `${file:PATH}`).

use crate::diagnostic::Diagnostic;
use crate::model::ConnectionsFile;
use crate::workspace::{integration_prefix, Workspace};
use serde_json::Value;

pub fn check(c: &ConnectionsFile, ws: &Workspace, out: &mut Vec<Diagnostic>) {
    let file = &c.file;
    for conn in c.connections.values() {
        let Some(i) = ws
            .integrations
            .get(&integration_prefix(&conn.integration.value))
        else {
            let names: Vec<&str> = ws
                .integrations
                .values()
                .map(|i| i.name.value.as_str())
                .collect();
            let help = match crate::util::closest(&conn.integration.value, names.iter().copied()) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!("known integrations: {}", names.join(", ")),
            };
            out.push(
                Diagnostic::error(
                    "N001",
                    file,
                    conn.integration.span,
                    format!(
                        "connection `{}` names integration `{}`, which is not known",
                        conn.name.value, conn.integration.value
                    ),
                )
                .with_help(help),
            );
            continue;
        };
        for p in &i.connection {
            let given = conn.params.get(&p.name.value);
            if p.required && p.default.is_none() && given.is_none_or(|(_, v)| v.is_null()) {
                out.push(
                    Diagnostic::error(
                        "N002",
                        file,
                        conn.name.span,
                        format!(
                            "connection `{}` lacks `{}` ({}), which {} requires",
                            conn.name.value, p.name.value, p.display, i.name.value
                        ),
                    )
                    .with_help(format!("add `{}: ...` under `params:`", p.name.value)),
                );
            }
            if let (true, Some((span, Value::String(s)))) = (p.sensitive, given) {
                if !s.contains("${") && !s.is_empty() {
                    out.push(
                        Diagnostic::warning("N004", file, *span, format!("`{}` is a secret written in the file", p.name.value))
                            .with_help(format!("read it from the environment or a file: `{}: ${{env:MY_VAR}}` or `${{file:/run/secrets/x}}`", p.name.value)),
                    );
                }
            }
        }
        if !i.custom_parameters {
            let declared: Vec<&str> = i.connection.iter().map(|p| p.name.value.as_str()).collect();
            for (k, (span, _)) in &conn.params {
                if !declared.contains(&k.as_str()) {
                    let help = match crate::util::closest(k, declared.iter().copied()) {
                        Some(d) => format!("did you mean `{d}`?"),
                        None => format!("{} takes: {}", i.name.value, declared.join(", ")),
                    };
                    out.push(
                        Diagnostic::error(
                            "N003",
                            file,
                            *span,
                            format!("{} has no connection parameter `{k}`", i.name.value),
                        )
                        .with_help(help),
                    );
                }
            }
        }
    }
}
