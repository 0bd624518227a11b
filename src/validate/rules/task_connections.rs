//! N005–N007 and T009 in playbooks: a task's `connection` exists (when connections are known)
//! and belongs to its command's integration; `<<connector.X>>` is read only by integration
//! commands, and only for parameters their integration declares.

use crate::commands::Implementation;
use crate::diagnostic::Diagnostic;
use crate::model::Playbook;
use crate::template::Scope;
use crate::validate::Catalog;
use crate::workspace::integration_prefix;

pub fn check(pb: &Playbook, catalog: &Catalog, out: &mut Vec<Diagnostic>) {
    let file = &pb.file;
    let ws = catalog.workspace;
    let connections_known = ws.is_some_and(|w| {
        w.loaded
            .iter()
            .any(|l| l.kind.as_deref() == Some("connections"))
    });
    for task in pb.tasks.values() {
        let Some(cmd) = task
            .command
            .as_ref()
            .and_then(|c| catalog.registry.get(&c.value))
        else {
            continue;
        };
        // A task's connector: its integration command's, or, in an integration command's
        // `tasks:` body, that integration's.
        let integration = match &cmd.implementation {
            Implementation::Integration { integration, .. } => Some(&**integration),
            _ => catalog.integration_body,
        };
        if let Some(conn) = &task.connection {
            match (integration, ws) {
                (None, _) => out.push(
                    Diagnostic::error(
                        "N007",
                        file,
                        conn.span,
                        format!(
                            "task `{}` names a connection, but `{}` is not an integration command",
                            task.id.value, cmd.spec.name
                        ),
                    )
                    .with_help("remove `connection:`; only integration commands use connections"),
                ),
                (Some(i), Some(ws)) if connections_known => match ws.connections.get(&conn.value) {
                    None => {
                        let help = match crate::util::closest(
                            &conn.value,
                            ws.connections.keys().map(String::as_str),
                        ) {
                            Some(c) => format!("did you mean `{c}`?"),
                            None => "define it in the connections file".into(),
                        };
                        out.push(
                            Diagnostic::error(
                                "N005",
                                file,
                                conn.span,
                                format!(
                                    "task `{}` uses connection `{}`, which is not defined",
                                    task.id.value, conn.value
                                ),
                            )
                            .with_help(help),
                        );
                    }
                    Some((_, c))
                        if integration_prefix(&c.integration.value)
                            != integration_prefix(&i.name.value) =>
                    {
                        out.push(
                            Diagnostic::error(
                                "N006",
                                file,
                                conn.span,
                                format!(
                                    "connection `{}` is for {}, but `{}` belongs to {}",
                                    conn.value, c.integration.value, cmd.spec.name, i.name.value
                                ),
                            )
                            .with_help(format!("name a {} connection", i.name.value)),
                        )
                    }
                    Some(_) => {}
                },
                _ => {}
            }
        }
        let declared: Vec<&str> = integration
            .map(|i| i.connection.iter().map(|p| p.name.value.as_str()).collect())
            .unwrap_or_default();
        for v in task.values() {
            for (e, span) in v.exprs() {
                if e.scope != Scope::Connector {
                    continue;
                }
                let Some(i) = integration else {
                    out.push(
                        Diagnostic::error("T009", file, span, format!("{} is read by task `{}`, but `{}` is not an integration command, so it has no connection", e.display(), task.id.value, cmd.spec.name))
                            .with_help("pass the value as an input, or use it in an integration command's task"),
                    );
                    continue;
                };
                if let Some(k) = e.path.first_key() {
                    if !declared.contains(&k) && !i.custom_parameters {
                        let help = crate::util::closest(k, declared.iter().copied())
                            .map(|c| format!("did you mean `{c}`?"))
                            .unwrap_or_else(|| {
                                format!("{} declares: {}", i.name.value, declared.join(", "))
                            });
                        out.push(
                            Diagnostic::error(
                                "T009",
                                file,
                                span,
                                format!(
                                    "{} reads `{k}`, which {} connections do not have",
                                    e.display(),
                                    i.name.value
                                ),
                            )
                            .with_help(help),
                        );
                    }
                }
            }
        }
    }
}
