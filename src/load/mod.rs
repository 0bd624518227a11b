//! Loading: bytes → spanned YAML nodes → typed models, with every problem as a diagnostic.
//! Owns file reading limits and the `kind:` dispatch; knows nothing about running.

mod connections;
mod integration;
pub mod keys;
pub mod node;
mod playbook;
mod reader;
mod testfile;

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::limits::{raise_hint, Limits};
use crate::model::Document;
use node::{NodeValue, Span};
pub use reader::locate;
use reader::Reader;
use std::path::Path;
use std::sync::Arc;

pub const KINDS: &[&str] = &["playbook", "integration", "connections", "test"];

/// The result of loading one file: the model when it could be built (possibly partial), and
/// every problem found on the way.
pub struct Loaded {
    pub file: Arc<SourceFile>,
    /// `kind:` as written; `None` when the file has none (such files are ignored when walking).
    pub kind: Option<String>,
    pub document: Option<Document>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == crate::diagnostic::Severity::Error)
    }
}

/// Reads and loads a file. I/O problems become diagnostics too. Files larger than the
/// `file-size` limit are refused (a regular file before it is read, a pipe or device once the
/// limit is read: a clear refusal, not a memory blow-up).
pub fn load_file(path: &Path, limits: &Limits) -> Loaded {
    let shown = path.display().to_string();
    let fail = |msg: String, help: Option<String>| {
        let file = SourceFile::new(shown.clone(), "");
        let d = Diagnostic::error("Y001", &file, Span::new(0, 0), msg).maybe_help(help);
        Loaded {
            file,
            kind: None,
            document: None,
            diagnostics: vec![d],
        }
    };
    match limits.read_file(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => load_text(&shown, text, limits),
            Err(_) => fail(
                "file is not UTF-8 text (is it binary?)".into(),
                Some("YAML files must be UTF-8 text".into()),
            ),
        },
        Err(crate::limits::ReadError::Io(e)) => fail(format!("cannot read file: {e}"), None),
        Err(too_large) => fail(
            too_large.to_string(),
            Some(format!(
                "split it into several files, or {}",
                raise_hint("file-size")
            )),
        ),
    }
}

/// Loads YAML text as if read from `path`, under the default limits.
pub fn load_str(path: &str, text: impl Into<String>) -> Loaded {
    load_text(path, text, &Limits::default())
}

/// Loads YAML text as if read from `path`.
pub fn load_text(path: &str, text: impl Into<String>, limits: &Limits) -> Loaded {
    let file = SourceFile::new(path, text);
    let mut r = Reader::new(file.clone());
    let root = match node::parse_yaml_keeping_duplicates(&file.text, limits) {
        Ok((n, duplicates)) => {
            for (key, span) in duplicates {
                r.error(
                    "Y002",
                    span,
                    format!("duplicate key `{key}`"),
                    Some("each key may appear once in a mapping; remove or rename one".into()),
                );
            }
            n
        }
        Err(e) => {
            // Every parser error is a Y001 (repeated keys are not errors of the parser: see
            // the `Ok` branch).
            let m = &e.message;
            let friendly = friendly_yaml_message(m, limits);
            let mut message = format!("YAML syntax error: {friendly}");
            let mut help = yaml_help(m);
            let mut span = if m.contains("multiple YAML documents") {
                second_document_marker(&file.text).or(e.span)
            } else {
                e.span
            };
            // The parser notices an unclosed `[` or `{` only lines later, with a message about
            // what it met there; point at the bracket instead.
            if !m.contains("budget") {
                let upto = span.map_or(file.text.len(), |s| s.start);
                if let Some((bracket, at)) = unclosed_flow(&file.text, upto) {
                    let line_of = |o: usize| file.line_col(o).0;
                    if line_of(at) < line_of(upto) {
                        let close = if bracket == '[' { ']' } else { '}' };
                        message = format!("YAML syntax error: this `{bracket}` is never closed (the parser then found: {friendly})");
                        help = format!("end the {} with `{close}` before the next key, or write it as a block (one `- item` per line)", if bracket == '[' { "list" } else { "mapping" });
                        span = Some(Span::new(at, 1));
                    }
                }
            }
            r.error("Y001", span.unwrap_or_default(), message, Some(help));
            return Loaded {
                file,
                kind: None,
                document: None,
                diagnostics: r.diags,
            };
        }
    };
    let kind = match &root.value {
        NodeValue::Map(m) => m.get("kind").map(|(_, n)| n),
        _ => None,
    };
    let Some(kind_node) = kind else {
        return Loaded {
            file,
            kind: None,
            document: None,
            diagnostics: Vec::new(),
        };
    };
    let Some(kind) = r.choice(kind_node, "file kind", KINDS) else {
        return Loaded {
            file,
            kind: kind_node.as_str().map(str::to_owned),
            document: None,
            diagnostics: r.diags,
        };
    };
    let document = match kind {
        "playbook" => playbook::playbook(&mut r, &root).map(|p| Document::Playbook(Arc::new(p))),
        "integration" => {
            integration::integration(&mut r, &root).map(|i| Document::Integration(Arc::new(i)))
        }
        "connections" => {
            connections::connections(&mut r, &root).map(|c| Document::Connections(Arc::new(c)))
        }
        _ => testfile::testfile(&mut r, &root).map(|t| Document::Test(Arc::new(t))),
    };
    Loaded {
        file,
        kind: Some(kind.to_owned()),
        document,
        diagnostics: r.diags,
    }
}

/// The innermost flow collection (`[` or `{`) still open at byte `upto`, with its offset. A
/// scanner of just what matters: comments, quoted scalars, and brackets that open a collection
/// (in flow context, or where a value starts); `[` inside plain text such as `$.a[0]` is text.
fn unclosed_flow(text: &str, upto: usize) -> Option<(char, usize)> {
    let mut open: Vec<(char, usize)> = Vec::new();
    let mut quote: Option<char> = None;
    let mut block_indent: Option<usize> = None;
    let mut line_start = 0;
    for line in text.get(..upto)?.split_inclusive('\n') {
        let offset = line_start;
        line_start += line.len();
        let indent = line.len() - line.trim_start_matches(' ').len();
        // The lines of a block scalar (`|`, `>`) are text, whatever they hold.
        if let Some(b) = block_indent {
            if line.trim().is_empty() || indent > b {
                continue;
            }
            block_indent = None;
        }
        let mut value_start = true;
        let mut prev = ' ';
        let mut chars = line.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if let Some(q) = quote {
                // Inside a quoted scalar (which may span lines): only its end matters.
                if c == q && !(q == '"' && prev == '\\') {
                    quote = None;
                    value_start = false;
                }
                prev = if prev == '\\' && c == '\\' { ' ' } else { c };
                continue;
            }
            let next_is_space = chars.peek().is_none_or(|&(_, n)| n.is_whitespace());
            match c {
                '#' if prev.is_whitespace() => break,
                // Only where a value starts: `it's` inside a plain scalar is text.
                '"' | '\'' if value_start => quote = Some(c),
                '|' | '>' if value_start && open.is_empty() => {
                    block_indent = Some(indent);
                    break;
                }
                '[' | '{' if value_start || !open.is_empty() => {
                    open.push((c, offset + i));
                    value_start = true;
                }
                ']' | '}' if !open.is_empty() => {
                    open.pop();
                    value_start = false;
                }
                ',' if !open.is_empty() => value_start = true,
                ':' | '-' | '?' if next_is_space => value_start = true,
                c if c.is_whitespace() => {}
                _ => value_start = false,
            }
            prev = c;
        }
    }
    open.pop()
}

/// The `---` line that starts a second document: the first one after some content.
fn second_document_marker(text: &str) -> Option<Span> {
    let mut offset = 0;
    let mut content = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        let marker = bare == "---" || bare.starts_with("--- ") || bare.starts_with("---\t");
        if marker && content {
            return Some(Span::new(offset, 3));
        }
        let t = line.trim();
        content |= !marker && !t.is_empty() && !t.starts_with('#') && !t.starts_with('%');
        offset += line.len();
    }
    None
}

/// What to do about a YAML parser error `m`.
pub(crate) fn yaml_help(m: &str) -> String {
    if m.contains("multiple YAML documents") {
        "remove the `---` line, or split the file in two".to_owned()
    } else if m.contains("recursive references") {
        "an alias cannot contain itself; copy the value instead".to_owned()
    } else if m.contains("recursion limit") {
        "the document is nested too deeply".to_owned()
    } else if m.contains("budget breached: Depth") {
        format!("flatten the document, or {}", raise_hint("yaml-depth"))
    } else if m.contains("budget breached: Nodes") {
        format!("split the document, or {}", raise_hint("yaml-nodes"))
    } else if m.contains("budget") {
        "the document is too large or expands too much (aliases)".to_owned()
    } else {
        "check indentation and quoting; in flow style quote values holding `[`, `]`, `,` or `{`"
            .to_owned()
    }
}

/// The YAML library's messages, in words for people who write playbooks (no library API names).
pub(crate) fn friendly_yaml_message(raw: &str, limits: &Limits) -> String {
    if raw.contains("multiple YAML documents") {
        return "the file holds more than one YAML document (a `---` line); a file holds one"
            .into();
    }
    if raw.contains("recursive references") {
        return "an alias refers to itself (`&a` ... `*a` inside it)".into();
    }
    if let Some(rest) = raw.strip_prefix("budget breached: ") {
        let what = rest
            .split(|c: char| !c.is_alphanumeric())
            .next()
            .unwrap_or("size")
            .to_lowercase();
        return match what.as_str() {
            "nodes" => format!("the document has more than {} values, counting what aliases expand to (the yaml-nodes limit)", limits.yaml_nodes),
            "depth" => format!("the document nests more than {} levels deep (the yaml-depth limit)", limits.yaml_depth),
            "aliases" => "the document uses too many aliases".into(),
            _ => format!("the document is too large ({what} limit)"),
        };
    }
    if raw.contains("recursion limit") {
        return "the document is nested too deeply".into();
    }
    raw.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<(&'static str, usize, usize)> {
        let l = load_str("t.yaml", text);
        l.diagnostics
            .iter()
            .map(|d| {
                let (a, b) = d.line_col();
                (d.code, a, b)
            })
            .collect()
    }

    #[test]
    fn every_problem_is_reported_with_position() {
        let src = "kind: playbook\nname: t\ntasks:\n  a:\n    comand: equals\n    wait: sometimes\n    timeout: soon\n  b:\n    command: equals\n    input: { x: <<incdent.y>> }\n";
        assert_eq!(
            codes(src),
            vec![
                ("Y003", 5, 5),
                ("Y005", 5, 5),
                ("Y006", 6, 11),
                ("Y004", 7, 14),
                ("T002", 10, 17)
            ]
        );
    }

    #[test]
    fn unclosed_flow_collections_are_found_and_text_brackets_are_not() {
        fn open(t: &str) -> Option<(char, &str)> {
            unclosed_flow(t, t.len()).map(|(c, at)| (c, &t[at..]))
        }
        assert_eq!(open("a: [b, c\nd: 1\n"), Some(('[', "[b, c\nd: 1\n")));
        assert_eq!(
            open("a: {b: [1, 2], c: 3\n"),
            Some(('{', "{b: [1, 2], c: 3\n"))
        );
        assert_eq!(open("a: [b, c]\nd: {e: f}\n"), None);
        assert_eq!(open("path: $.data[0\nq: x [y\n"), None);
        assert_eq!(open("t: |\n  [x] item\n  {{each\nb: 1\n"), None);
        assert_eq!(open("t: \"[not\"\nu: '{no'\nv: [\"]\", x]\n"), None);
        assert_eq!(open("a: 1 # [comment\n- [x\n"), Some(('[', "[x\n")));
        assert_eq!(open("note: {msg: it's ok}\nb: [x, 'y', \"z\"]\n"), None);
    }

    #[test]
    fn yaml_problems() {
        assert_eq!(
            codes("kind: playbook\nname: a\nname: b\n"),
            vec![("Y002", 3, 1), ("Y005", 1, 1)]
        );
        assert_eq!(codes("kind: playbook\ntasks: [\n")[0].0, "Y001");
        assert_eq!(codes("kind: playbok\n"), vec![("Y006", 1, 7)]);
        assert!(codes("just: a config\n").is_empty());
        assert!(codes("").is_empty());
    }

    #[test]
    fn yaml11_booleans_stay_text() {
        let l = load_str("t.yaml", "kind: playbook\nname: no\ntasks:\n  a: { command: equals, input: { input1: yes, input2: on } }\n");
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        let Some(Document::Playbook(p)) = l.document else {
            panic!("not a playbook")
        };
        assert_eq!(p.name.value, "no");
        let params = p.tasks["a"].params().unwrap();
        assert_eq!(
            params["input1"].value.as_literal(),
            Some(&serde_json::json!("yes"))
        );
    }

    #[test]
    fn template_positions_point_into_quoted_strings() {
        let l = load_str("t.yaml", "kind: playbook\nname: x\ntasks:\n  a:\n    command: equals\n    input:\n      input1: \"id <<tasks.a.rawdata>>\"\n");
        let d = &l.diagnostics[0];
        assert_eq!((d.code, d.line_col()), ("T003", (7, 19)));
    }
}
