//! Values written in YAML that may contain templates: literals are kept as JSON, strings with
//! references as parsed templates, so nothing is parsed again at run time.

use crate::load::node::Span;

/// Operators integration requests may use in values: `{$if: X, then: A, else: B}`,
/// `{$switch: X, cases: {K: V}, default: D}`, `{$map: LIST, to: V}` (V reads `<<item>>` and
/// `<<index>>`), `{$concat: [LIST, ...]}`, `{$file_data_url: FILE_ID}`.
pub const OPERATORS: &[&str] = &["$if", "$switch", "$map", "$concat", "$file_data_url"];
use crate::template::{Context, Expr, ResolveError, Template};
use indexmap::IndexMap;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct TValue {
    pub span: Span,
    pub kind: TKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TKind {
    /// No references anywhere below: the JSON value itself.
    Literal(Value),
    /// A string with at least one reference (or a `\{{` escape, or a broken reference). `raw`
    /// is the text as written (for text templates).
    Template {
        raw: String,
        template: Template,
        /// The absolute source offset of each reference of `template.exprs()`, in order.
        expr_at: Vec<usize>,
    },
    Seq(Vec<TValue>),
    Map(IndexMap<String, (Span, TValue)>),
}

impl TValue {
    pub fn literal(value: Value, span: Span) -> Self {
        TValue {
            span,
            kind: TKind::Literal(value),
        }
    }

    pub fn as_literal(&self) -> Option<&Value> {
        match &self.kind {
            TKind::Literal(v) => Some(v),
            _ => None,
        }
    }

    pub fn resolve(&self, ctx: &dyn Context) -> Result<Value, ResolveError> {
        match &self.kind {
            TKind::Literal(v) => Ok(v.clone()),
            TKind::Template { template, .. } => template.resolve(ctx),
            TKind::Seq(items) => items
                .iter()
                .map(|i| i.resolve(ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            TKind::Map(m) => {
                let mut out = serde_json::Map::with_capacity(m.len());
                for (k, (_, v)) in m {
                    out.insert(k.clone(), v.resolve(ctx)?);
                }
                Ok(Value::Object(out))
            }
        }
    }

    /// Every reference below this value, with the file span of each.
    pub fn exprs(&self) -> Vec<(&Expr, Span)> {
        let mut out = Vec::new();
        self.collect_exprs(&mut out);
        out
    }

    fn collect_exprs<'a>(&'a self, out: &mut Vec<(&'a Expr, Span)>) {
        match &self.kind {
            TKind::Literal(_) => {}
            TKind::Template {
                template, expr_at, ..
            } => {
                for (e, &at) in template.exprs().zip(expr_at) {
                    out.push((e, Span::new(at, e.len)));
                }
            }
            TKind::Seq(items) => items.iter().for_each(|i| i.collect_exprs(out)),
            TKind::Map(m) => m.values().for_each(|(_, v)| v.collect_exprs(out)),
        }
    }

    /// True if any reference below reads `item` or `index`.
    pub fn uses_item(&self) -> bool {
        self.exprs().iter().any(|(e, _)| {
            matches!(
                e.scope,
                crate::template::Scope::Item | crate::template::Scope::Index
            )
        })
    }
}
