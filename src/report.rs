//! Rendering diagnostics for people and machines: human (miette snippets), JSON, GitHub.
//! Knows nothing about rules; takes `Diagnostic`s as data.

use crate::diagnostic::{Diagnostic, DiagnosticJson, Severity};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

pub fn render(diags: &[Diagnostic], files: usize, format: Format, color: bool) -> String {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    match format {
        Format::Json => {
            let list: Vec<DiagnosticJson> = diags.iter().map(DiagnosticJson::from).collect();
            let doc = json!({"files": files, "errors": errors, "warnings": warnings, "diagnostics": list});
            format!(
                "{}\n",
                serde_json::to_string_pretty(&doc).unwrap_or_default()
            )
        }
        Format::Sarif => sarif(diags),
        Format::Github => diags
            .iter()
            .map(|d| {
                let (line, col) = d.line_col();
                let level = if d.severity == Severity::Error {
                    "error"
                } else {
                    "warning"
                };
                let mut msg = format!("{} [{}]", d.message, d.code);
                if let Some(h) = &d.help {
                    msg.push_str(&format!(" — {h}"));
                }
                format!(
                    "::{level} file={},line={line},col={col},title={}::{}\n",
                    d.file.path,
                    d.code,
                    escape_gh(&msg)
                )
            })
            .collect(),
        Format::Human => {
            let theme = if color {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
            let mut out = String::new();
            for d in diags {
                let report = HumanDiag(d);
                if handler.render_report(&mut out, &report).is_err() {
                    out.push_str(&d.short());
                }
                out.push('\n');
            }
            out.push_str(&format!(
                "{} file{} checked: {errors} error{}, {warnings} warning{}\n",
                files,
                if files == 1 { "" } else { "s" },
                if errors == 1 { "" } else { "s" },
                if warnings == 1 { "" } else { "s" }
            ));
            out
        }
    }
}

fn escape_gh(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

struct HumanDiag<'a>(&'a Diagnostic);

impl std::fmt::Debug for HumanDiag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::fmt::Display for HumanDiag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (l, c) = self.0.line_col();
        write!(f, "{}:{l}:{c}: {}", self.0.file.path, self.0.message)
    }
}

impl std::error::Error for HumanDiag<'_> {}

impl miette::Diagnostic for HumanDiag<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.0.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.0.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.0
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.0.file.text.is_empty() {
            None
        } else {
            Some(&self.0.file.text)
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.0.file.text.is_empty() {
            return None;
        }
        let s = self.0.span;
        let start = s.start.min(self.0.file.text.len());
        let len = s.len.min(self.0.file.text.len() - start);
        Some(Box::new(std::iter::once(LabeledSpan::new(
            Some("here".into()),
            start,
            len,
        ))))
    }
}

/// SARIF 2.1.0, as GitHub code scanning accepts it.
fn sarif(diags: &[Diagnostic]) -> String {
    use crate::validate::codes::{info, RULES};
    let rules: Vec<_> = RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.code,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.summary},
                "defaultConfiguration": {"level": if matches!(r.code, "G003" | "I004" | "I006" | "N004") { "warning" } else { "error" }},
            })
        })
        .collect();
    let results: Vec<_> = diags
        .iter()
        .map(|d| {
            let (line, col) = d.line_col();
            let (end_line, end_col) = d.file.line_col(d.span.end());
            let mut text = d.message.clone();
            if let Some(h) = &d.help {
                text.push_str(&format!(" ({h})"));
            }
            let rule_index = RULES.iter().position(|r| r.code == d.code);
            let mut result = json!({
                "ruleId": d.code,
                "level": if d.severity == Severity::Error { "error" } else { "warning" },
                "message": {"text": text},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": d.file.path.trim_start_matches("./")},
                    "region": {"startLine": line, "startColumn": col, "endLine": end_line.max(line), "endColumn": if end_line > line { end_col } else { end_col.max(col + 1) }},
                }}],
            });
            if let (Some(i), Some(_)) = (rule_index, info(d.code)) {
                result["ruleIndex"] = json!(i);
            }
            result
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "codeless",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}
