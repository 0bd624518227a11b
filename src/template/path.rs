//! Paths after a scope: a prefix of plain keys/indexes navigated directly (fast, singular), then
//! optionally an RFC 9535 JSONPath query (wildcards, filters, slices) that always yields an array.

use crate::jsonpath::{Budget, Exceeded, Query};
use serde_json::Value;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(i64),
}

impl std::fmt::Display for Seg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seg::Key(k) if is_plain_name(k) => write!(f, ".{k}"),
            Seg::Key(k) => write!(f, "['{}']", k.replace('\'', "\\'")),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

pub(crate) fn is_plain_name(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !k.starts_with(|c: char| c.is_ascii_digit())
}

#[derive(Debug, Clone)]
pub struct Path {
    pub prefix: Vec<Seg>,
    /// The JSONPath applied after the prefix; its source text (starting with `$`) is kept for display.
    pub query: Option<(Arc<Query>, String)>,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.prefix == other.prefix
            && self.query.as_ref().map(|q| &q.1) == other.query.as_ref().map(|q| &q.1)
    }
}

/// What applying a path found.
pub enum Found<'a> {
    One(&'a Value),
    Many(Vec<&'a Value>),
    /// The prefix stopped at `seg` (index into `prefix`): no such key or index.
    Missing(usize),
}

impl Path {
    pub fn empty() -> Self {
        Path {
            prefix: Vec::new(),
            query: None,
        }
    }

    /// A wildcard/filter path yields an array; a plain path one value.
    pub fn is_singular(&self) -> bool {
        self.query.is_none()
    }

    pub fn first_key(&self) -> Option<&str> {
        match self.prefix.first() {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }

    /// Follows the path from `root`; a query selects within `budget`.
    pub fn apply<'a>(&self, root: &'a Value, budget: Budget) -> Result<Found<'a>, Exceeded> {
        let mut cur = root;
        for (i, seg) in self.prefix.iter().enumerate() {
            let next = match (seg, cur) {
                (Seg::Key(k), Value::Object(m)) => m.get(k),
                (Seg::Index(n), Value::Array(a)) => {
                    let idx = if *n < 0 { a.len() as i64 + n } else { *n };
                    usize::try_from(idx).ok().and_then(|i| a.get(i))
                }
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None if self.query.is_some() => return Ok(Found::Many(Vec::new())),
                None => return Ok(Found::Missing(i)),
            }
        }
        match &self.query {
            None => Ok(Found::One(cur)),
            Some((q, _)) => q.select(cur, budget).map(Found::Many),
        }
    }
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.prefix {
            write!(f, "{s}")?;
        }
        if let Some((_, src)) = &self.query {
            f.write_str(src.trim_start_matches('$'))?;
        }
        Ok(())
    }
}
