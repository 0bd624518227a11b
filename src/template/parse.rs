//! Lexing and parsing of `<<expr>>` inside a string, into `Template` parts with byte offsets.

use super::path::{Path, Seg};
use std::sync::Arc;

/// Fields of a task's output readable as `tasks.ID.FIELD`.
pub const TASK_FIELDS: &[&str] = &[
    "status",
    "returnData",
    "result",
    "keyFields",
    "rawData",
    "error",
    "passdown",
    "retries",
    "runs",
    "duration_ms",
];

const SCOPES: &[&str] = &[
    "incident",
    "event",
    "input",
    "tasks",
    "connector",
    "item",
    "index",
    "playbook",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    Incident,
    Event,
    Input,
    /// `tasks.ID` or `tasks.ID.FIELD`.
    Task {
        id: String,
        field: Option<String>,
    },
    Connector,
    Item,
    Index,
    Playbook,
}

/// One `<<...>>` (or `{{connector.X}}`) reference.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub scope: Scope,
    pub path: Path,
    /// The text between the delimiters, trimmed.
    pub source: String,
    /// Byte offset and length of the whole reference, delimiters included, in the string.
    pub offset: usize,
    pub len: usize,
}

impl Expr {
    /// `<<source>>`, for messages.
    pub fn display(&self) -> String {
        format!("<<{}>>", self.source)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    Expr(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    pub parts: Vec<Part>,
}

impl Template {
    /// The one reference when the string is exactly `<<expr>>` (its type is kept).
    pub fn lone(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(e)] => Some(e),
            _ => None,
        }
    }
    pub fn has_exprs(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Expr(_)))
    }
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(&**e),
            Part::Text(_) => None,
        })
    }
    /// The text with escapes applied, when there are no references.
    pub fn literal(&self) -> Option<String> {
        if self.has_exprs() {
            return None;
        }
        Some(
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Text(t) => t.as_str(),
                    Part::Expr(_) => "",
                })
                .collect(),
        )
    }
}

/// A template syntax problem, at a byte range of the string.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    /// Stable diagnostic code (`T001` syntax, `T002` unknown scope, `T003` bad task reference,
    /// `J001` JSONPath syntax).
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
    pub offset: usize,
    pub len: usize,
}

/// Parses every reference in `raw`. All problems are returned, not only the first.
pub fn parse_template(raw: &str) -> Result<Template, Vec<TemplateError>> {
    let (template, errors) = parse_template_partial(raw);
    if errors.is_empty() {
        Ok(template)
    } else {
        Err(errors)
    }
}

/// [`parse_template`] that also returns what parsed: the text and the well-formed references
/// (malformed ones are left out), so that validation can check those too.
pub fn parse_template_partial(raw: &str) -> (Template, Vec<TemplateError>) {
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    let mut text = String::new();
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut last = 0; // start of pending literal text in `raw`
    while i < bytes.len() {
        // Compare bytes, not `&str` slices: `i` may sit inside a multi-byte character.
        if bytes[i] == b'\\'
            && (bytes[i + 1..].starts_with(b"<<") || bytes[i + 1..].starts_with(b"{{"))
        {
            // `\<<` and `\{{` write the delimiter literally.
            text.push_str(&raw[last..i]);
            text.push_str(&raw[i + 1..i + 3]);
            i += 3;
            last = i;
            continue;
        }
        let (open, close) = if bytes[i..].starts_with(b"<<") {
            ("<<", ">>")
        } else if bytes[i..].starts_with(b"{{connector.") {
            ("{{", "}}")
        } else {
            i += 1;
            continue;
        };
        let body_start = i + 2;
        let Some(close_rel) = raw[body_start..].find(close) else {
            errors.push(TemplateError {
                code: "T001",
                message: format!("`{open}` is never closed"),
                help: Some(format!(
                    "end the reference with `{close}`, or write `\\{open}` for a literal `{open}`"
                )),
                offset: i,
                len: raw.len() - i,
            });
            break;
        };
        text.push_str(&raw[last..i]);
        if !text.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut text)));
        }
        let body_end = body_start + close_rel;
        let end = body_end + 2;
        match parse_expr(&raw[body_start..body_end]) {
            Ok((scope, path)) => parts.push(Part::Expr(Box::new(Expr {
                scope,
                path,
                source: raw[body_start..body_end].trim().to_owned(),
                offset: i,
                len: end - i,
            }))),
            Err(mut e) => {
                e.offset = i;
                e.len = end - i;
                errors.push(e);
            }
        }
        i = end;
        last = i;
    }
    text.push_str(&raw[last.min(raw.len())..]);
    if !text.is_empty() {
        parts.push(Part::Text(text));
    }
    (Template { parts }, errors)
}

fn err(code: &'static str, message: String, help: Option<String>) -> TemplateError {
    TemplateError {
        code,
        message,
        help,
        offset: 0,
        len: 0,
    }
}

/// Parses `tasks.x.rawData.items[*].id` (or with a leading `$.`) into a scope and a path.
pub(crate) fn parse_expr(body: &str) -> Result<(Scope, Path), TemplateError> {
    let s = body.trim();
    if s.is_empty() {
        return Err(err(
            "T001",
            "empty reference `<<>>`".into(),
            Some("write a path such as `<<incident.title>>`".into()),
        ));
    }
    let (segs, query) = split_path(s)?;
    let mut segs = segs.into_iter();
    let scope_name = match segs.next() {
        Some(Seg::Key(k)) => k,
        _ => {
            return Err(err(
                "T002",
                format!("`{s}` does not start with a scope"),
                Some(format!("start with one of: {}", SCOPES.join(", "))),
            ))
        }
    };
    let scope = match scope_name.as_str() {
        "incident" => Scope::Incident,
        "event" => Scope::Event,
        "input" => Scope::Input,
        "connector" => Scope::Connector,
        "item" => Scope::Item,
        "index" => Scope::Index,
        "playbook" => Scope::Playbook,
        "tasks" => {
            let id = match segs.next() {
                Some(Seg::Key(id)) => id,
                _ => {
                    return Err(err(
                        "T003",
                        format!("`{s}` does not name a task"),
                        Some("write `tasks.TASK_ID.returnData` (or status, keyFields.NAME, rawData, error, ...)".into()),
                    ))
                }
            };
            let field = match segs.next() {
                None => None,
                Some(Seg::Key(f)) if TASK_FIELDS.contains(&f.as_str()) => Some(f),
                Some(other) => {
                    let shown = match &other {
                        Seg::Key(k) => k.clone(),
                        Seg::Index(n) => n.to_string(),
                    };
                    let help = crate::util::closest(&shown, TASK_FIELDS.iter().copied())
                        .map(|c| format!("did you mean `tasks.{id}.{c}`?"))
                        .unwrap_or_else(|| {
                            format!("a task's output has: {}", TASK_FIELDS.join(", "))
                        });
                    return Err(err(
                        "T003",
                        format!("`{shown}` is not a field of a task's output"),
                        Some(help),
                    ));
                }
            };
            if field.is_none() && query.is_some() {
                return Err(err(
                    "T003",
                    format!("`{s}` must name a field of task `{id}` before a wildcard or filter"),
                    Some(format!("for example `tasks.{id}.rawData[*]`")),
                ));
            }
            Scope::Task { id, field }
        }
        other => {
            let help = match crate::util::closest(other, SCOPES.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!("the scopes are: {}", SCOPES.join(", ")),
            };
            return Err(err("T002", format!("unknown scope `{other}`"), Some(help)));
        }
    };
    let path = Path {
        prefix: segs.collect(),
        query,
    };
    if scope == Scope::Index && (!path.prefix.is_empty() || path.query.is_some()) {
        return Err(err(
            "T001",
            "`index` is a number and has no fields".into(),
            Some("write `<<index>>`".into()),
        ));
    }
    Ok((scope, path))
}

type Query = Option<(Arc<crate::jsonpath::Query>, String)>;

/// Splits a path into leading plain segments and the JSONPath query that follows (if any).
fn split_path(s: &str) -> Result<(Vec<Seg>, Query), TemplateError> {
    let b = s.as_bytes();
    let mut segs = Vec::new();
    let mut i;
    if s.starts_with('$') {
        i = 1;
        if i < b.len() && b[i] != b'.' && b[i] != b'[' {
            return Err(err(
                "J001",
                format!("invalid JSONPath `{s}`: expected `.` or `[` after `$`"),
                None,
            ));
        }
    } else {
        let end = name_end(s, 0);
        if end == 0 {
            return Err(err(
                "T001",
                format!("`{s}` does not start with a name"),
                None,
            ));
        }
        segs.push(Seg::Key(s[..end].to_owned()));
        i = end;
    }
    while i < b.len() {
        match b[i] {
            b'.' => {
                if i + 1 < b.len() && (b[i + 1] == b'.' || b[i + 1] == b'*') {
                    return complex(s, i, segs);
                }
                let end = name_end(s, i + 1);
                if end == i + 1 {
                    return Err(err("T001", format!("empty name after `.` in `{s}`"), None));
                }
                segs.push(Seg::Key(s[i + 1..end].to_owned()));
                i = end;
            }
            b'[' => {
                let Some(close) = bracket_end(s, i) else {
                    return Err(err("J001", format!("`[` is never closed in `{s}`"), None));
                };
                let inner = s[i + 1..close].trim();
                if let Some(key) = quoted(inner) {
                    segs.push(Seg::Key(key));
                } else if let Ok(n) = inner.parse::<i64>() {
                    segs.push(Seg::Index(n));
                } else {
                    return complex(s, i, segs);
                }
                i = close + 1;
            }
            c => {
                return Err(err(
                    "T001",
                    format!("unexpected `{}` in `{s}`", c as char),
                    Some("separate names with `.`; quote unusual names as `['my name']`".into()),
                ))
            }
        }
    }
    Ok((segs, None))
}

fn complex(s: &str, at: usize, segs: Vec<Seg>) -> Result<(Vec<Seg>, Query), TemplateError> {
    let q = format!("${}", &s[at..]);
    match crate::jsonpath::parse(&q) {
        Ok(p) => Ok((segs, Some((Arc::new(p), q)))),
        Err(e) => Err(err(
            "J001",
            format!("invalid JSONPath `{}`: {e}", &s[at..]),
            Some("see RFC 9535: wildcards `[*]`, filters `[?@.score > 5]`, slices `[0:3]`".into()),
        )),
    }
}

/// End of a member name starting at `from` (lenient: anything but `.`, `[`, `]` and spaces).
fn name_end(s: &str, from: usize) -> usize {
    s[from..]
        .find(|c: char| c == '.' || c == '[' || c == ']' || c.is_whitespace())
        .map(|r| from + r)
        .unwrap_or(s.len())
}

/// Index of the `]` matching the `[` at `open`, skipping quoted strings.
fn bracket_end(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let b = s.as_bytes();
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'[' => depth += 1,
                b']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// `'name'` or `"name"` (one string, nothing else) → `name`.
fn quoted(inner: &str) -> Option<String> {
    let b = inner.as_bytes();
    if b.len() < 2 {
        return None;
    }
    let q = b[0];
    if (q != b'\'' && q != b'"') || b[b.len() - 1] != q {
        return None;
    }
    let body = &inner[1..inner.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(chars.next()?);
        } else if c as u32 == q as u32 {
            return None; // a second string: a union like ['a','b']
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(raw: &str) -> Expr {
        parse_template(raw).unwrap().lone().unwrap().clone()
    }

    #[test]
    fn scopes_and_paths() {
        let e = one("<<tasks.scan.rawData.data[0].id>>");
        assert_eq!(
            e.scope,
            Scope::Task {
                id: "scan".into(),
                field: Some("rawData".into())
            }
        );
        assert_eq!(
            e.path.prefix,
            vec![
                Seg::Key("data".into()),
                Seg::Index(0),
                Seg::Key("id".into())
            ]
        );
        assert!(e.path.is_singular());
        let d = one("<<$.tasks.scan.rawData.data[*].id>>");
        assert!(!d.path.is_singular());
        assert_eq!(d.path.prefix, vec![Seg::Key("data".into())]);
        assert_eq!(
            one("<< incident['Source IP'] >>").path.prefix,
            vec![Seg::Key("Source IP".into())]
        );
        assert_eq!(one("{{connector.apikey}}").scope, Scope::Connector);
    }

    #[test]
    fn interpolation_and_escape() {
        let t = parse_template("a <<item>> b \\<<not>> c").unwrap();
        assert_eq!(t.parts.len(), 3);
        assert_eq!(t.parts[2], Part::Text(" b <<not>> c".into()));
        assert_eq!(
            parse_template("x \\<<y").unwrap().literal().unwrap(),
            "x <<y"
        );
        assert_eq!(
            parse_template("{{other}}").unwrap().literal().unwrap(),
            "{{other}}"
        );
        assert_eq!(
            parse_template("a \\{{connector.k}} b")
                .unwrap()
                .literal()
                .unwrap(),
            "a {{connector.k}} b"
        );
    }

    #[test]
    fn errors_are_all_reported_with_codes() {
        let errs = parse_template(
            "<<incdent.x>> and <<tasks.a.rawdata>> and <<tasks.a.rawData[?@.x ==]>> <<x",
        )
        .unwrap_err();
        let codes: Vec<_> = errs.iter().map(|e| e.code).collect();
        assert_eq!(codes, vec!["T002", "T003", "J001", "T001"]);
        assert_eq!(errs[0].help.as_deref(), Some("did you mean `incident`?"));
        assert_eq!(
            errs[1].help.as_deref(),
            Some("did you mean `tasks.a.rawData`?")
        );
        assert_eq!(errs[0].offset, 0);
        assert_eq!(errs[1].offset, 18);
    }
}

#[cfg(test)]
mod never_panics {
    use super::parse_template;

    /// Every combination of awkward pieces (multi-byte text, delimiters, escapes) parses or
    /// fails cleanly; the literal text survives byte for byte.
    #[test]
    fn mixed_multibyte_text_and_delimiters() {
        let pieces = [
            "é",
            "–",
            "✅",
            "𝄞",
            "<<",
            ">>",
            "\\<<",
            "{{connector.",
            "}}",
            "<<incident.t>>",
            "a",
            " ",
            "[",
            "'",
            "\\",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in pieces {
                        let s = format!("{a}{b}{c}{d}");
                        if let Ok(t) = parse_template(&s) {
                            if let Some(lit) = t.literal() {
                                assert_eq!(lit, super::unescape(&s), "{s:?}");
                            }
                        }
                        n += 1;
                    }
                }
            }
        }
        assert_eq!(n, 15usize.pow(4));
    }
}

#[cfg(test)]
fn unescape(s: &str) -> String {
    // What the parser does with escapes, left to right: `\<<` → `<<`, `\{{` → `{{`.
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if after.starts_with("<<") || after.starts_with("{{") {
            out.push_str(&after[..2]);
            rest = &after[2..];
        } else {
            out.push('\\');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}
