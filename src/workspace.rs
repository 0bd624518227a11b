//! A workspace: the files `validate`, `run` or `test` see together. It builds the command
//! registry (built-ins, the integrations' commands, playbooks callable as commands) and knows
//! the connections. Owns cross-file lookups; rules that use them live in `validate`.

use crate::commands::{Command, CommandSpec, Implementation, KeyFieldSpec, Registry};
use crate::diagnostic::SourceFile;
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::node::Span;
use crate::load::{load_file, load_str, Loaded};
use crate::model::{
    Connection, ConnectionsFile, Document, IntegrationFile, Playbook, WrittenValue,
};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Integrations shipped inside the binary (`playbooks/integrations/`).
pub const BUILTIN_INTEGRATIONS: &[(&str, &str)] = &[
    (
        "rest-api-callback.yaml",
        include_str!("../playbooks/integrations/rest-api-callback.yaml"),
    ),
    (
        "chatgpt.yaml",
        include_str!("../playbooks/integrations/chatgpt.yaml"),
    ),
];

/// Whether a value is one `${env:NAME}` or `${file:PATH}` reference and nothing else.
fn is_one_reference(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("${") && t.ends_with('}') && t.matches("${").count() == 1
}

/// The prefix of an integration's commands: its name without spaces or punctuation
/// (`REST API Callback` → `RESTAPICallback.SendRequest`).
pub fn integration_prefix(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).collect()
}

pub struct Workspace {
    /// Every file given (built-in integrations are not listed here).
    pub loaded: Vec<Loaded>,
    pub registry: Registry,
    /// By command prefix (`ChatGPT`, `RESTAPICallback`).
    pub integrations: IndexMap<String, Arc<IntegrationFile>>,
    pub connections: IndexMap<String, (Arc<ConnectionsFile>, Connection)>,
    /// Problems of the built-in integrations themselves (should be none; a test checks).
    pub builtin_diagnostics: Vec<Diagnostic>,
}

impl Workspace {
    /// Builds a workspace from loaded files (plus the built-in integrations).
    pub fn new(loaded: Vec<Loaded>) -> Self {
        let mut ws = Workspace {
            loaded: Vec::new(),
            registry: Registry::builtin(),
            integrations: IndexMap::new(),
            connections: IndexMap::new(),
            builtin_diagnostics: Vec::new(),
        };
        for (path, text) in BUILTIN_INTEGRATIONS {
            let l = load_str(&format!("<builtin>/{path}"), *text);
            ws.builtin_diagnostics.extend(l.diagnostics.iter().cloned());
            if let Some(Document::Integration(i)) = &l.document {
                ws.add_integration(i.clone());
            }
        }
        for l in &loaded {
            match &l.document {
                Some(Document::Integration(i)) => ws.add_integration(i.clone()),
                Some(Document::Connections(c)) => {
                    for conn in c.connections.values() {
                        ws.connections
                            .entry(conn.name.value.clone())
                            .or_insert_with(|| (c.clone(), conn.clone()));
                    }
                }
                _ => {}
            }
        }
        // Playbooks with inputs or outputs can be nested as commands.
        for l in &loaded {
            if let Some(Document::Playbook(p)) = &l.document {
                if !p.inputs.is_empty() || !p.outputs.is_empty() {
                    ws.registry.add(playbook_command(p));
                }
            }
        }
        ws.loaded = loaded;
        ws
    }

    /// Loads the given files under the default limits.
    pub fn load(files: &[PathBuf]) -> Self {
        Workspace::load_with(files, &crate::limits::Limits::default())
    }

    /// Loads the given files under the `file-size`, `yaml-depth` and `yaml-nodes` limits.
    pub fn load_with(files: &[PathBuf], limits: &crate::limits::Limits) -> Self {
        Workspace::new(crate::util::par_map(files, |f| load_file(f, limits)))
    }

    fn add_integration(&mut self, i: Arc<IntegrationFile>) {
        let prefix = integration_prefix(&i.name.value);
        for c in i.commands.values() {
            self.registry.add(integration_command(&prefix, &i, c));
        }
        self.integrations.insert(prefix, i);
    }

    /// The integration a command name belongs to (`ChatGPT.ListModels` → ChatGPT).
    pub fn integration_of(&self, command: &str) -> Option<&Arc<IntegrationFile>> {
        let (prefix, _) = command.split_once('.')?;
        self.integrations.get(prefix)
    }

    /// Every diagnostic of every file: load problems, graph, rules.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut out: Vec<Diagnostic> =
            crate::util::par_map(&self.loaded, |l| crate::validate::check_loaded(l, self))
                .into_iter()
                .flatten()
                .collect();
        sort(&mut out);
        out
    }

    /// The diagnostics that matter for running the playbook at `path`: its own, and those of
    /// the files defining the commands it uses (nested playbooks, integrations), transitively.
    pub fn diagnostics_for(&self, path: &str) -> Vec<Diagnostic> {
        let mut files = vec![path.to_owned()];
        let mut i = 0;
        while i < files.len() {
            let Some(l) = self.loaded.iter().find(|l| l.file.path == files[i]) else {
                i += 1;
                continue;
            };
            if let Some(Document::Playbook(p)) = &l.document {
                for t in p.tasks.values() {
                    let names = t
                        .command
                        .iter()
                        .map(|c| c.value.as_str())
                        .chain(t.steps.iter().map(|s| s.command.value.as_str()));
                    for name in names {
                        let defining = match self.registry.get(name).map(|c| &c.implementation) {
                            Some(Implementation::Playbook(p)) => Some(p.file.path.clone()),
                            Some(Implementation::Integration { integration, .. }) => {
                                Some(integration.file.path.clone())
                            }
                            _ => None,
                        };
                        if let Some(f) = defining {
                            if !files.contains(&f) {
                                files.push(f);
                            }
                        }
                    }
                }
            }
            i += 1;
        }
        // Only those files are checked (a file's checks report on that file alone): running one
        // playbook beside many others does not validate them all.
        let mut out: Vec<Diagnostic> = self
            .loaded
            .iter()
            .filter(|l| files.contains(&l.file.path))
            .flat_map(|l| crate::validate::check_loaded(l, self))
            .filter(|d| files.contains(&d.file.path))
            .collect();
        sort(&mut out);
        out.extend(self.builtin_diagnostics.iter().cloned());
        out
    }

    /// Values of sensitive parameters (and credentials of URLs) written literally in
    /// connections files, masked in any output.
    pub fn literal_secrets(&self) -> crate::secrets::Secrets {
        let mut s = crate::secrets::Secrets::default();
        for (name, (_, conn)) in &self.connections {
            let i = self
                .integrations
                .get(&integration_prefix(&conn.integration.value));
            for (param, (_, v)) in &conn.params {
                if v.as_str().is_some_and(|t| t.contains("${")) {
                    continue;
                }
                let sensitive = i.is_some_and(|i| {
                    i.connection
                        .iter()
                        .any(|p| p.sensitive && p.name.value == *param)
                });
                // A value too short to be masked is refused when the connection is used.
                let _ = crate::connections::add_secrets(&mut s, name, param, v, sensitive);
            }
        }
        s
    }

    /// `diags` pointing into their files as snippets may show them: in connections files, the
    /// values that may be secrets are hidden (`hidden_values`).
    pub fn without_secrets(&self, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
        let mut hidden: std::collections::HashMap<&str, Arc<SourceFile>> = Default::default();
        for l in &self.loaded {
            let ranges = self.hidden_values(l);
            if !ranges.is_empty() {
                let text = crate::redact::hide(&l.file.text, &ranges);
                hidden.insert(&l.file.path, SourceFile::new(l.file.path.clone(), text));
            }
        }
        diags
            .into_iter()
            .map(|mut d| {
                if let Some(f) = hidden.get(d.file.path.as_str()) {
                    d.file = f.clone();
                }
                d
            })
            .collect()
    }

    /// The values of a file that a snippet must not show. In a connections file, every value
    /// but `kind`, the connections' `integration`, references as written (`${env:NAME}`) and
    /// the values of parameters its integration declares and does not mark sensitive (unless
    /// they hold a URL's credentials): a misspelt parameter, one of an unknown integration or
    /// a value outside `params:` may be a secret too. A file that does not load but looks like
    /// a connections file hides all its values (`redact::unparsed_values`).
    fn hidden_values(&self, l: &Loaded) -> Vec<Span> {
        match &l.document {
            Some(Document::Connections(c)) => c
                .written
                .iter()
                .filter(|w| !self.may_show(c, w))
                .map(|w| w.span)
                .collect(),
            None if crate::redact::looks_like_connections(&l.file.text) => {
                crate::redact::unparsed_values(&l.file.text)
            }
            _ => Vec::new(),
        }
    }

    fn may_show(&self, c: &ConnectionsFile, w: &WrittenValue) -> bool {
        let Some((conn, param)) = &w.param else {
            return false;
        };
        let Some(conn) = c.connections.get(conn) else {
            return false;
        };
        let text = conn.params.get(param).and_then(|(_, v)| v.as_str());
        if text.is_some_and(is_one_reference) {
            return true;
        }
        let Some(i) = self
            .integrations
            .get(&integration_prefix(&conn.integration.value))
        else {
            return false;
        };
        i.connection
            .iter()
            .any(|p| p.name.value == *param && !p.sensitive)
            && text.is_none_or(|t| crate::connections::url_credentials(t).is_none())
    }

    pub fn has_errors(diags: &[Diagnostic]) -> bool {
        diags.iter().any(|d| d.severity == Severity::Error)
    }

    /// The files counted as checked (YAML without `kind:` is not ours).
    pub fn checked_files(&self) -> usize {
        self.loaded
            .iter()
            .filter(|l| l.kind.is_some() || !l.diagnostics.is_empty())
            .count()
    }

    /// The playbook loaded from `path`, if any.
    pub fn playbook(&self, path: &Path) -> Option<Arc<Playbook>> {
        let shown = path.display().to_string();
        self.loaded
            .iter()
            .find(|l| l.file.path == shown)
            .and_then(|l| match &l.document {
                Some(Document::Playbook(p)) => Some(p.clone()),
                _ => None,
            })
    }
}

/// Diagnostics in file order, then position, then code.
fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file.path, a.span.start, a.code).cmp(&(&b.file.path, b.span.start, b.code))
    });
}

fn integration_command(
    prefix: &str,
    i: &Arc<IntegrationFile>,
    c: &crate::model::IntegrationCommand,
) -> Command {
    Command {
        spec: CommandSpec {
            name: format!("{prefix}.{}", c.name.value),
            display: c.display.clone(),
            category: if c.category.is_empty() {
                i.name.value.clone()
            } else {
                c.category.clone()
            },
            description: c.description.clone(),
            features: c.features.clone(),
            inputs: c.inputs.clone(),
            key_fields: c
                .key_fields
                .iter()
                .map(|(k, _)| k.clone())
                .collect::<Vec<KeyFieldSpec>>(),
            status: c.status,
            returns: "text".into(),
        },
        implementation: Implementation::Integration {
            integration: i.clone(),
            command: c.name.value.clone(),
        },
    }
}

fn playbook_command(p: &Arc<Playbook>) -> Command {
    let inputs = p
        .inputs
        .iter()
        .map(|d| {
            let mut spec = crate::commands::ParamSpec::new(
                &d.name.value,
                d.display.as_deref().unwrap_or(&d.name.value),
                d.ty,
            );
            spec.required = d.required;
            spec.default = d.default.clone();
            spec.options = d.options.clone();
            spec.description = d.description.clone();
            spec
        })
        .collect();
    Command {
        spec: CommandSpec {
            name: p.command_name(),
            display: p.name.value.clone(),
            category: "Playbook".into(),
            description: p.description.clone(),
            features: vec![
                crate::commands::Feature::Command,
                crate::commands::Feature::Adhoc,
            ],
            inputs,
            key_fields: p
                .outputs
                .keys()
                .map(|k| KeyFieldSpec {
                    parse_json: false,
                    name: k.clone(),
                    path: format!("$.{k}"),
                })
                .collect(),
            status: p.status.value,
            returns: "json_object".into(),
        },
        implementation: Implementation::Playbook(p.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_integrations_load_clean_and_register_their_commands() {
        let ws = Workspace::new(Vec::new());
        assert!(
            ws.builtin_diagnostics.is_empty(),
            "{:?}",
            ws.builtin_diagnostics
                .iter()
                .map(|d| d.short())
                .collect::<Vec<_>>()
        );
        let send = ws
            .registry
            .get("RESTAPICallback.SendRequest")
            .expect("SendRequest registered");
        assert_eq!(send.spec.display, "Send Request");
        let names: Vec<&str> = send.spec.inputs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["url", "method", "header", "body"]);
        assert!(ws.registry.get("RESTAPICallback.TestConnection").is_some());
        assert_eq!(integration_prefix("REST API Callback"), "RESTAPICallback");
    }
}
