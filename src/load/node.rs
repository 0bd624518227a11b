//! A YAML document as a tree of spanned nodes.
//! Owns the step from text to `Node`; knows nothing about playbooks or other file kinds.

use indexmap::IndexMap;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

/// A byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub start: usize,
    pub len: usize,
}

impl Span {
    pub const fn new(start: usize, len: usize) -> Self {
        Span { start, len }
    }
    pub fn end(&self) -> usize {
        self.start + self.len
    }
    /// A span inside this one, at `offset` bytes from its start (used for template parts).
    pub fn sub(&self, offset: usize, len: usize) -> Span {
        Span::new(self.start + offset, len)
    }
}

/// One YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Seq(Vec<Node>),
    /// Keys keep their own spans so "unknown key" can point at the key.
    Map(IndexMap<String, (Span, Node)>),
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Number(_) => "a number",
            NodeValue::String(_) => "text",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&IndexMap<String, (Span, Node)>> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key)).map(|(_, n)| n)
    }
    /// Plain JSON, spans dropped.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Number(n) => Value::Number(n.clone()),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(m) => Value::Object(
                m.iter()
                    .map(|(k, (_, v))| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn span_of(loc: &serde_saphyr::Location) -> Span {
    let s = loc.span();
    match (s.byte_offset(), s.byte_len()) {
        (Some(o), Some(l)) => Span::new(o as usize, l as usize),
        _ => Span::new(s.offset() as usize, s.len() as usize),
    }
}

/// The value of a node, deserialized without its own span (the parent wraps it in `Spanned`).
struct RawValue(NodeValue);

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor).map(RawValue)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = NodeValue;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeValue, E> {
        i64::try_from(v)
            .map(|n| NodeValue::Number(n.into()))
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeValue, E> {
        u64::try_from(v)
            .map(|n| NodeValue::Number(n.into()))
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
        serde_json::Number::from_f64(v)
            .map(NodeValue::Number)
            .ok_or_else(|| E::custom("numbers must be finite (no .nan or .inf)"))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<NodeValue, E> {
        String::from_utf8(v.to_vec())
            .map(NodeValue::String)
            .map_err(|_| E::custom("binary data is not supported"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawValue>>()? {
            items.push(Node {
                span: span_of(&item.referenced),
                value: item.value.0,
            });
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut out = IndexMap::new();
        while let Some(key) = map.next_key::<Spanned<RawValue>>()? {
            let key_span = span_of(&key.referenced);
            let key = match key.value.0 {
                NodeValue::String(s) => s,
                NodeValue::Bool(b) => b.to_string(),
                NodeValue::Number(n) => n.to_string(),
                NodeValue::Null => "null".to_owned(),
                _ => return Err(de::Error::custom("mapping keys must be plain text")),
            };
            let value = map.next_value::<Spanned<RawValue>>()?;
            if out.contains_key(&key) {
                // The first one is kept; the parse goes on so every other problem is found.
                DUPLICATES.with(|d| d.borrow_mut().push((key, key_span)));
                continue;
            }
            out.insert(
                key,
                (
                    key_span,
                    Node {
                        span: span_of(&value.referenced),
                        value: value.value.0,
                    },
                ),
            );
        }
        Ok(NodeValue::Map(out))
    }
}

/// Why a text could not become a node tree.
#[derive(Debug, Clone)]
pub struct YamlError {
    pub message: String,
    pub span: Option<Span>,
}

/// Parses one YAML document into spanned nodes. YAML 1.1 booleans (`yes`, `no`, `on`, `off`)
/// stay text; duplicate keys, alias bombs and over-deep nesting are errors.
pub fn parse_yaml(text: &str) -> Result<Node, YamlError> {
    parse_yaml_limited(text, &crate::limits::Limits::default())
}

thread_local! {
    /// Duplicate keys met by the visitor of the parse running on this thread.
    static DUPLICATES: std::cell::RefCell<Vec<(String, Span)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// [`parse_yaml`] under the given `yaml-depth` and `yaml-nodes` limits.
pub fn parse_yaml_limited(text: &str, limits: &crate::limits::Limits) -> Result<Node, YamlError> {
    let (node, duplicates) = parse_yaml_keeping_duplicates(text, limits)?;
    match duplicates.into_iter().next() {
        None => Ok(node),
        Some((key, span)) => Err(YamlError {
            message: format!("duplicate key `{key}`"),
            span: Some(span),
        }),
    }
}

/// Parses like [`parse_yaml_limited`], but a key repeated in a mapping does not stop the parse:
/// the first value is kept, and every repeated key is returned with its position.
pub fn parse_yaml_keeping_duplicates(
    text: &str,
    limits: &crate::limits::Limits,
) -> Result<(Node, Vec<(String, Span)>), YamlError> {
    DUPLICATES.with(|d| d.borrow_mut().clear());
    let parsed = parse_yaml_passing_duplicates(text, limits);
    let duplicates = DUPLICATES.with(|d| std::mem::take(&mut *d.borrow_mut()));
    parsed.map(|node| (node, duplicates))
}

fn parse_yaml_passing_duplicates(
    text: &str,
    limits: &crate::limits::Limits,
) -> Result<Node, YamlError> {
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_depth = limits.yaml_depth;
    budget.max_nodes = limits.yaml_nodes;
    let options = serde_saphyr::options! {
        strict_booleans: true,
        // Our visitor sees repeated keys and records them (see `DUPLICATES`).
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        with_snippet: false,
        budget: Some(budget),
    };
    match serde_saphyr::from_str_with_options::<Spanned<RawValue>>(text, options) {
        Ok(v) => Ok(Node {
            span: span_of(&v.referenced),
            value: v.value.0,
        }),
        Err(e) => {
            let span = e
                .location()
                .map(|l| span_of(&l))
                .filter(|s| s.start > 0 || s.len > 0);
            let span = span.or_else(|| {
                e.location().and_then(|l| {
                    // Fall back to the line/column when the error carries no byte span.
                    line_col_to_offset(text, l.line() as usize, l.column() as usize)
                        .map(|o| Span::new(o, 0))
                })
            });
            Err(YamlError {
                message: clean_message(&e.to_string()),
                span,
            })
        }
    }
}

fn clean_message(raw: &str) -> String {
    // serde-saphyr appends " at line X column Y"; our diagnostics carry the position already.
    let first = raw.lines().next().unwrap_or(raw).trim();
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

/// Byte offset of a 1-based line and (character) column in `text`; past the last line, the
/// end of the text. `None` for line 0.
pub fn line_col_to_offset(text: &str, line: usize, col: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let mut offset = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col_bytes: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return Some(offset + col_bytes);
        }
        offset += l.len();
    }
    Some(text.len())
}

#[cfg(test)]
mod tests {
    use super::line_col_to_offset;

    #[test]
    fn offsets_of_lines_and_columns() {
        let t = "ab\ncdé\nf";
        assert_eq!(line_col_to_offset(t, 1, 1), Some(0));
        assert_eq!(line_col_to_offset(t, 2, 3), Some(5));
        assert_eq!(line_col_to_offset(t, 3, 1), Some(8));
        assert_eq!(line_col_to_offset(t, 9, 9), Some(t.len()));
    }
}
