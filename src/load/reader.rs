//! Reading typed fields out of spanned nodes while collecting every problem (unknown keys with
//! "did you mean", wrong types, missing keys). Conversion never stops at the first problem.

use super::node::{Node, NodeValue, Span};
use crate::diagnostic::{Diagnostic, SourceFile};
use crate::model::{Sp, TKind, TValue};
use crate::template::parse_template_partial;
use indexmap::IndexMap;
use serde_json::Value;
use std::sync::Arc;

pub(crate) struct Reader {
    pub file: Arc<SourceFile>,
    pub diags: Vec<Diagnostic>,
}

/// A mapping node being read.
pub(crate) struct Obj<'n> {
    pub node: &'n Node,
    pub map: &'n IndexMap<String, (Span, Node)>,
}

impl<'n> Obj<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.map.get(key).map(|(_, n)| n)
    }
}

impl Reader {
    pub fn new(file: Arc<SourceFile>) -> Self {
        Reader {
            file,
            diags: Vec::new(),
        }
    }

    pub fn error(
        &mut self,
        code: &'static str,
        span: Span,
        msg: impl Into<String>,
        help: Option<String>,
    ) {
        self.diags
            .push(Diagnostic::error(code, &self.file, span, msg).maybe_help(help));
    }

    pub fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        let help = match &node.value {
            NodeValue::Bool(b) if expected.contains("text") => {
                Some(format!("quote it to keep it as text: \"{b}\""))
            }
            NodeValue::String(s)
                if expected.contains("true or false")
                    && matches!(
                        s.to_ascii_lowercase().as_str(),
                        "yes" | "no" | "on" | "off" | "y" | "n"
                    ) =>
            {
                Some(format!(
                    "`{s}` is text here (YAML 1.2); write true or false"
                ))
            }
            NodeValue::Null => Some("give a value after the colon".to_owned()),
            _ => None,
        };
        // Say what was given: a number is "not -1", other kinds "not a list".
        let given = match &node.value {
            NodeValue::Number(n) => n.to_string(),
            _ => node.kind_name().to_owned(),
        };
        self.error(
            "Y004",
            node.span,
            format!("{what} must be {expected}, not {given}"),
            help,
        );
    }

    /// Reads a mapping and reports keys not in `allowed`.
    pub fn obj<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Obj<'n>> {
        let NodeValue::Map(map) = &node.value else {
            self.wrong_type(node, what, "a mapping");
            return None;
        };
        for (key, (span, _)) in map {
            if !allowed.contains(&key.as_str()) {
                let help = match crate::util::closest(key, allowed.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => format!("{what} may have: {}", allowed.join(", ")),
                };
                self.error(
                    "Y003",
                    *span,
                    format!("unknown key `{key}` in {what}"),
                    Some(help),
                );
            }
        }
        Some(Obj { node, map })
    }

    pub fn require<'n>(&mut self, o: &Obj<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let n = o.get(key);
        if n.is_none() {
            let span = Span::new(o.node.span.start, 0);
            self.error("Y005", span, format!("{what} is missing `{key}`"), None);
        }
        n
    }

    /// A text scalar (numbers are accepted and written as text).
    pub fn text(&mut self, node: &Node, what: &str) -> Option<Sp<String>> {
        match &node.value {
            NodeValue::String(s) => Some(Sp::new(s.clone(), node.span)),
            NodeValue::Number(n) => Some(Sp::new(n.to_string(), node.span)),
            _ => {
                self.wrong_type(node, what, "text");
                None
            }
        }
    }

    pub fn opt_text(&mut self, o: &Obj, key: &str, what: &str) -> Option<Sp<String>> {
        let n = o.get(key)?;
        if matches!(n.value, NodeValue::Null) {
            return None;
        }
        self.text(n, &format!("`{key}` of {what}"))
    }

    /// An optional text field, empty when absent.
    pub fn text_or_empty(&mut self, o: &Obj, key: &str, what: &str) -> String {
        self.opt_text(o, key, what)
            .map(|s| s.value)
            .unwrap_or_default()
    }

    /// A parameter's `options:` list.
    pub fn options(&mut self, o: &Obj) -> Vec<String> {
        match o.get("options") {
            Some(n) => self
                .text_list(n, "`options`")
                .into_iter()
                .map(|s| s.value)
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn req_text(&mut self, o: &Obj, key: &str, what: &str) -> Option<Sp<String>> {
        let n = self.require(o, key, what)?;
        self.text(n, &format!("`{key}` of {what}"))
    }

    pub fn opt_bool(&mut self, o: &Obj, key: &str, what: &str) -> Option<bool> {
        let n = o.get(key)?;
        match n.value {
            NodeValue::Bool(b) => Some(b),
            _ => {
                self.wrong_type(n, &format!("`{key}` of {what}"), "true or false");
                None
            }
        }
    }

    pub fn opt_number(&mut self, o: &Obj, key: &str, what: &str) -> Option<Sp<f64>> {
        let n = o.get(key)?;
        match &n.value {
            NodeValue::Number(x) => x.as_f64().map(|f| Sp::new(f, n.span)),
            _ => {
                self.wrong_type(n, &format!("`{key}` of {what}"), "a number");
                None
            }
        }
    }

    /// A whole, non-negative number.
    pub fn opt_count(&mut self, o: &Obj, key: &str, what: &str) -> Option<Sp<u32>> {
        let n = o.get(key)?;
        match &n.value {
            NodeValue::Number(x) if x.as_u64().is_some_and(|v| v <= u32::MAX as u64) => {
                Some(Sp::new(x.as_u64().unwrap_or_default() as u32, n.span))
            }
            _ => {
                self.wrong_type(n, &format!("`{key}` of {what}"), "a whole number ≥ 0");
                None
            }
        }
    }

    /// One of `options`, with a hint for near misses.
    pub fn choice<'a>(&mut self, node: &Node, what: &str, options: &[&'a str]) -> Option<&'a str> {
        let s = self.text(node, what)?;
        if let Some(o) = options.iter().find(|o| **o == s.value.as_str()) {
            return Some(o);
        }
        let help = match crate::util::closest(&s.value, options.iter().copied()) {
            Some(c) => format!("did you mean `{c}`?"),
            None => format!("use one of: {}", options.join(", ")),
        };
        self.error(
            "Y006",
            node.span,
            format!("`{}` is not a valid {what}", s.value),
            Some(help),
        );
        None
    }

    /// A list of text; a single text is accepted as a one-element list.
    pub fn text_list(&mut self, node: &Node, what: &str) -> Vec<Sp<String>> {
        match &node.value {
            NodeValue::Seq(items) => items.iter().filter_map(|i| self.text(i, what)).collect(),
            NodeValue::String(_) => self.text(node, what).into_iter().collect(),
            NodeValue::Null => Vec::new(),
            _ => {
                self.wrong_type(node, what, "a list of text");
                Vec::new()
            }
        }
    }

    /// A value that may contain templates. Template syntax errors are reported here.
    pub fn tvalue(&mut self, node: &Node) -> TValue {
        let span = node.span;
        match &node.value {
            NodeValue::String(s) => {
                let (template, errors) = parse_template_partial(s);
                let broken = !errors.is_empty();
                for e in errors {
                    let at = Span::new(locate(&self.file.text, span, s, e.offset, e.len), e.len);
                    self.error(e.code, at, e.message, e.help);
                }
                // Text with a `\{{` escape stays a template: a Handlebars input renders it from
                // the text as written, where `\{{` is Handlebars' own escape. A text with a
                // broken reference is not a literal either (it must not be type-checked as
                // text); its well-formed references are kept, to be checked.
                if !broken && !template.has_exprs() && !s.contains("\\{{") {
                    return TValue::literal(
                        Value::String(template.literal().unwrap_or_default()),
                        span,
                    );
                }
                let expr_at = template
                    .exprs()
                    .map(|e| locate(&self.file.text, span, s, e.offset, e.len))
                    .collect();
                TValue {
                    span,
                    kind: TKind::Template {
                        raw: s.clone(),
                        template,
                        expr_at,
                    },
                }
            }
            NodeValue::Seq(items) => {
                let items: Vec<TValue> = items.iter().map(|i| self.tvalue(i)).collect();
                if items.iter().all(|i| i.as_literal().is_some()) {
                    let lit = items
                        .into_iter()
                        .filter_map(|i| match i.kind {
                            TKind::Literal(v) => Some(v),
                            _ => None,
                        })
                        .collect();
                    TValue::literal(Value::Array(lit), span)
                } else {
                    TValue {
                        span,
                        kind: TKind::Seq(items),
                    }
                }
            }
            NodeValue::Map(m) => {
                let items: IndexMap<String, (Span, TValue)> = m
                    .iter()
                    .map(|(k, (ks, v))| (k.clone(), (*ks, self.tvalue(v))))
                    .collect();
                // Operator maps (`$if`, `$map`, ...) stay maps so they are evaluated, not sent.
                let is_operator = items
                    .keys()
                    .any(|k| crate::model::OPERATORS.contains(&k.as_str()));
                if !is_operator && items.values().all(|(_, v)| v.as_literal().is_some()) {
                    let lit = items
                        .into_iter()
                        .filter_map(|(k, (_, v))| match v.kind {
                            TKind::Literal(v) => Some((k, v)),
                            _ => None,
                        })
                        .collect();
                    TValue::literal(Value::Object(lit), span)
                } else {
                    TValue {
                        span,
                        kind: TKind::Map(items),
                    }
                }
            }
            _ => TValue::literal(node.to_json(), span),
        }
    }

    /// `name: value` pairs of a mapping as template values.
    pub fn params(&mut self, node: &Node, what: &str) -> IndexMap<String, crate::model::Param> {
        match &node.value {
            NodeValue::Map(m) => m
                .iter()
                .map(|(k, (ks, v))| {
                    (
                        k.clone(),
                        crate::model::Param {
                            key_span: *ks,
                            value: self.tvalue(v),
                        },
                    )
                })
                .collect(),
            NodeValue::Null => IndexMap::new(),
            _ => {
                self.wrong_type(node, what, "a mapping of name: value");
                IndexMap::new()
            }
        }
    }
}

/// Where a scalar's text starts relative to its node: after a quote, or on the line after
/// a block indicator (`|`, `>`).
fn text_offset(src: &str, span: Span) -> usize {
    match src.as_bytes().get(span.start) {
        Some(b'"') | Some(b'\'') => 1,
        Some(b'|') | Some(b'>') => {
            let Some(rest) = src.get(span.start..) else {
                return 0;
            };
            match rest.find('\n') {
                Some(nl) => {
                    let after = &rest[nl + 1..];
                    nl + 1 + (after.len() - after.trim_start_matches(' ').len())
                }
                None => 0,
            }
        }
        _ => 0,
    }
}

/// Where `value[offset..offset + len]`, a piece of a scalar's decoded text, is written in the
/// source (an absolute byte offset). Escapes, line folding and the indentation of block
/// scalars make decoded offsets differ from source offsets, so the piece is looked up as the
/// same occurrence of the same text inside the node; references and Handlebars expressions are
/// written without escapes or line breaks in practice. Otherwise: the node's text start plus
/// the offset, an estimate.
pub fn locate(src: &str, node: Span, value: &str, offset: usize, len: usize) -> usize {
    let estimate = node.start + text_offset(src, node) + offset;
    let Some(needle) = value.get(offset..offset + len).filter(|n| !n.is_empty()) else {
        return estimate;
    };
    let Some(nth) = value.match_indices(needle).position(|(i, _)| i == offset) else {
        return estimate;
    };
    src.get(node.start..node.end())
        .and_then(|region| region.match_indices(needle).nth(nth))
        .map_or(estimate, |(i, _)| node.start + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_finds_pieces_of_decoded_text_in_the_source() {
        // An escape before the piece: decoded offsets are one byte short.
        let src = r#"x: "a\tb <<alert.x>>""#;
        let node = Span::new(3, src.len() - 3);
        let value = "a\tb <<alert.x>>";
        assert_eq!(
            locate(src, node, value, 4, 11),
            src.find("<<alert").unwrap()
        );
        // A block scalar: indentation is not in the decoded text.
        let src = "x: |\n    one <<a>>\n    two <<a>>\n";
        let node = Span::new(3, src.len() - 3);
        let value = "one <<a>>\ntwo <<a>>\n";
        assert_eq!(locate(src, node, value, 14, 5), src.rfind("<<a>>").unwrap());
        assert_eq!(locate(src, node, value, 4, 5), src.find("<<a>>").unwrap());
        // Not found as written (here: an escape inside the piece): the estimate.
        let src = r#"x: "<<\u0061>>""#;
        let node = Span::new(3, src.len() - 3);
        assert_eq!(locate(src, node, "<<a>>", 0, 5), 4);
    }
}
