//! Rendering diagnostics for people and machines: human (miette snippets), JSON, GitHub.
//! Knows nothing about rules; takes `Diagnostic`s as data.

use crate::console::escape_controls;
use crate::diagnostic::{Diagnostic, DiagnosticJson, Severity, SourceFile};
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
            let mut shown = ShownSources::default();
            for d in diags {
                let report = HumanDiag {
                    d,
                    text: shown.of(&d.file),
                };
                if handler.render_report(&mut out, &report).is_err() {
                    out.push_str(&escape_controls(&d.short()));
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

/// A diagnostic as miette renders it. Human output reaches terminals (`run` writes it to
/// stderr), and a file's text, its path and messages quoting it may hold control characters
/// (YAML's `"\e"` escapes): messages and paths have them escaped, the snippet has each of their
/// bytes shown as `?` (so that every span keeps its offsets).
struct HumanDiag<'a> {
    d: &'a Diagnostic,
    text: std::sync::Arc<str>,
}

/// The snippet text of each file, made safe once per file (not once per diagnostic).
#[derive(Default)]
struct ShownSources(std::collections::HashMap<*const SourceFile, std::sync::Arc<str>>);

impl ShownSources {
    fn of(&mut self, file: &std::sync::Arc<SourceFile>) -> std::sync::Arc<str> {
        self.0
            .entry(std::sync::Arc::as_ptr(file))
            .or_insert_with(|| controls_as_question_marks(&file.text).into())
            .clone()
    }
}

/// `text` with every byte of a control character (newline, tab and a CR before a newline aside)
/// replaced by `?`: the same length, so spans into it stay where they were.
fn controls_as_question_marks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let kept =
            !c.is_control() || c == '\n' || c == '\t' || (c == '\r' && chars.peek() == Some(&'\n'));
        if kept {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
    out
}

impl std::fmt::Debug for HumanDiag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&escape_controls(&self.d.message))
    }
}

impl std::fmt::Display for HumanDiag<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (l, c) = self.d.line_col();
        let line = format!("{}:{l}:{c}: {}", self.d.file.path, self.d.message);
        f.write_str(&escape_controls(&line))
    }
}

impl std::error::Error for HumanDiag<'_> {}

impl miette::Diagnostic for HumanDiag<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.d.code))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.d
            .help
            .as_ref()
            .map(|h| Box::new(escape_controls(h).into_owned()) as Box<dyn std::fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.text.is_empty() {
            None
        } else {
            Some(&self.text)
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.text.is_empty() {
            return None;
        }
        let s = self.d.span;
        let start = s.start.min(self.text.len());
        let len = s.len.min(self.text.len() - start);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::node::Span;

    #[test]
    fn human_output_carries_no_control_characters_from_the_file() {
        let text = "a: 1\nb: x\x1b]0;t\x07\u{9b}y\r\nc: 3\r\n";
        let file = SourceFile::new("f\x1b[2J.yaml", text);
        let d = Diagnostic::error("Y001", &file, Span::new(8, 6), "bad `x\x1b]0;t\x07`")
            .with_help("not \x1b[8mhidden");
        for color in [false, true] {
            let out = render(std::slice::from_ref(&d), 1, Format::Human, color);
            let raw: Vec<char> = out
                .chars()
                .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
                .filter(|c| !(color && *c == '\x1b'))
                .collect();
            assert!(raw.is_empty(), "{raw:?} in {out:?}");
            assert!(
                out.contains("f\\x1b[2J.yaml:2:4: bad `x\\x1b]0;t\\x07`"),
                "{out}"
            );
            assert!(out.contains("b: x?]0;t???y"), "{out}");
            assert!(out.contains("not \\x1b[8mhidden"), "{out}");
        }
        // With colours, the only escapes are miette's own colour codes (SGR, `ESC [ ... m`).
        let out = render(&[d], 1, Format::Human, true);
        for (i, _) in out.match_indices('\x1b') {
            let sgr = out[i + 1..]
                .strip_prefix('[')
                .and_then(|r| r.split_once('m'))
                .is_some_and(|(params, _)| params.bytes().all(|b| b.is_ascii_digit() || b == b';'));
            assert!(sgr, "{:?}", &out[i..]);
        }
    }
}
