//! The one place JSONPath (RFC 9535) text becomes a query, and where queries are evaluated.
//! `serde_json_path` overflows the stack near 1,000 nested parentheses and slows down sharply
//! with nested filters, so paths that nest too deeply are refused before parsing. Every JSONPath
//! in codeless goes through here.
//!
//! Evaluation is bounded. A descendant segment selects every match below every node it starts
//! from, so `$..a..a..a` on a 1 KB chain of `a`s selects millions of (repeated) nodes, and
//! `$..url` on a value with `url` nested 120 deep selects 120 nodes that each hold most of the
//! document. A query therefore runs one segment at a time, and stops as soon as one step would
//! select more than the `jsonpath-results` limit; what it selects is measured before it is
//! copied out, against the `output-size` limit.

use crate::limits::{Limits, MeasureAs};
use serde_json::Value;
use serde_json_path::JsonPath;
use std::collections::HashMap;

/// Most levels of `[ ]`.
pub const MAX_BRACKETS: usize = 8;
/// Most levels of `[ ]` and `( )` together.
pub const MAX_NESTING: usize = 32;

/// How much one query may select and copy out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Values one step of the query may select (`jsonpath-results`).
    pub values: usize,
    /// Bytes (compact JSON) of the values copied out (`output-size`).
    pub bytes: u64,
}

impl Budget {
    pub fn of(limits: &Limits) -> Budget {
        Budget {
            values: limits.jsonpath_results,
            bytes: limits.output_size,
        }
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::of(&Limits::default())
    }
}

/// A query that reached its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    /// It would select more than this many values.
    Values(usize),
    /// What it selects takes more than this many bytes.
    Bytes(u64),
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Exceeded::Values(n) => write!(
                f,
                "the JSONPath selects more than {n} values, the jsonpath-results limit ({})",
                crate::limits::raise_hint("jsonpath-results")
            ),
            Exceeded::Bytes(n) => write!(
                f,
                "the values the JSONPath selects take more than {}, the output-size limit ({})",
                crate::limits::bytes_text(n),
                crate::limits::raise_hint("output-size")
            ),
        }
    }
}

/// A parsed JSONPath, ready to be evaluated within a budget.
#[derive(Debug, Clone)]
pub struct Query {
    /// The whole path as `serde_json_path` parsed it.
    whole: JsonPath,
    /// The same path one segment at a time; `None` when it could not be split (then `whole` is
    /// evaluated and its result checked afterwards; no path the parser accepts should get here).
    steps: Option<Vec<Step>>,
}

#[derive(Debug, Clone)]
struct Step {
    /// `..`: the selector applies to the node and to every node below it.
    descendant: bool,
    select: Select,
    /// The query up to and including this segment, from the root (for `Select::Rooted`).
    prefix: JsonPath,
}

#[derive(Debug, Clone)]
enum Select {
    /// `.name`
    Name(String),
    /// `[n]`; negative counts from the end.
    Index(i64),
    /// `.*` or `[*]`
    Wildcard,
    /// Anything else (quoted names, slices, filters, several selectors): the segment as its
    /// own query from `$`, applied to each node. `selectors` is how many it lists.
    Segment { path: JsonPath, selectors: usize },
    /// A segment whose filter reads the root (`$`): it cannot run from each node on its own, so
    /// the query's prefix runs from the real root, once an upper bound shows it fits the budget.
    Rooted { selectors: usize },
}

/// Parses a JSONPath; the error says what is wrong (without repeating the path).
pub fn parse(path: &str) -> Result<Query, String> {
    check_nesting(path)?;
    check_unicode_escapes(path)?;
    check_filter_descendants(path)?;
    let text = path.trim();
    let whole = JsonPath::parse(text).map_err(|e| e.to_string())?;
    Ok(Query {
        whole,
        steps: split(text),
    })
}

fn check_nesting(path: &str) -> Result<(), String> {
    let (mut brackets, mut parens, mut quote, mut escaped) = (0usize, 0usize, None, false);
    for c in path.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => brackets += 1,
                ']' => brackets = brackets.saturating_sub(1),
                '(' => parens += 1,
                ')' => parens = parens.saturating_sub(1),
                _ => {}
            },
        }
        if brackets > MAX_BRACKETS || brackets + parens > MAX_NESTING {
            return Err(format!(
                "it nests brackets too deeply (at most {MAX_BRACKETS} levels of [ ] and {MAX_NESTING} of [ ] and ( ) together)"
            ));
        }
    }
    Ok(())
}

/// A filter's own queries are evaluated by serde_json_path whole, for every node the filter
/// tests, so the step-by-step bound cannot reach into them: `[?@..a..a..a..a..a]` over a chain
/// of 120 `a`s would build 200 million nodes per test. A filter may therefore use `..` once
/// (each one more multiplies what it selects by the document's depth); a filter nested in it
/// has its own one.
fn check_filter_descendants(path: &str) -> Result<(), String> {
    // One entry per open `[`: whether it is a filter, and the `..` met at its own level.
    let mut frames: Vec<(bool, usize)> = Vec::new();
    let (mut quote, mut escaped, mut prev) = (None::<char>, false, ' ');
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => {
                    while chars.next_if(|c| c.is_whitespace()).is_some() {}
                    frames.push((chars.peek() == Some(&'?'), 0));
                }
                ']' => {
                    frames.pop();
                }
                '.' if prev == '.' => {
                    if let Some((true, dots)) = frames.last_mut() {
                        *dots += 1;
                        if *dots > 1 {
                            return Err(
                                "a filter may use `..` only once (each more `..` multiplies what it selects)"
                                    .into(),
                            );
                        }
                    }
                    // `...` is not two descendants.
                    prev = ' ';
                    continue;
                }
                _ => {}
            },
        }
        prev = c;
    }
    Ok(())
}

/// serde_json_path 0.7 panics ("entered unreachable code") on a path that ends inside a `\u`
/// escape; every `\u` must be followed by four hex digits. Escapes are read in pairs from the
/// left, so `\\u` is an escaped backslash and a `u`, and `\\\u` an escape again.
fn check_unicode_escapes(path: &str) -> Result<(), String> {
    let chars: Vec<char> = path.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '\\' {
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'u') {
            let hex = chars.get(i + 2..i + 6);
            if !hex.is_some_and(|h| h.iter().all(char::is_ascii_hexdigit)) {
                return Err("a `\\u` escape needs four hex digits".into());
            }
        }
        i += 2;
    }
    Ok(())
}

/// The segments of a path the parser accepted (`text` starts with `$`), each checked by parsing
/// it as a query of its own.
fn split(text: &str) -> Option<Vec<Step>> {
    let rest = text.strip_prefix('$')?;
    let mut steps = Vec::new();
    for (end, seg) in segments(rest)? {
        let descendant = seg.starts_with("..");
        let body = if descendant { &seg[2..] } else { seg };
        // The segment as a child segment from `$`: a descendant step walks the nodes itself.
        let alone = match body.starts_with(['[', '.']) {
            true => JsonPath::parse(&format!("${body}")).ok()?,
            false => JsonPath::parse(&format!("$.{body}")).ok()?,
        };
        let prefix = JsonPath::parse(&format!("${}", &rest[..end])).ok()?;
        let select = if let Some(name) = body.strip_prefix('.').or(descendant.then_some(body)) {
            match name.trim() {
                "*" => Select::Wildcard,
                n if !n.starts_with('[') => Select::Name(n.to_owned()),
                _ => bracketed(body, alone)?,
            }
        } else {
            bracketed(body, alone)?
        };
        steps.push(Step {
            descendant,
            select,
            prefix,
        });
    }
    Some(steps)
}

/// What a bracketed segment (`[...]`, its text `body`) selects.
fn bracketed(body: &str, alone: JsonPath) -> Option<Select> {
    let inner = body.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
    let selectors = top_level_commas(inner) + 1;
    Some(if inner == "*" {
        Select::Wildcard
    } else if let (1, Ok(i)) = (selectors, inner.parse::<i64>()) {
        Select::Index(i)
    } else if reads_root(inner) {
        Select::Rooted { selectors }
    } else {
        Select::Segment {
            path: alone,
            selectors,
        }
    })
}

/// Splits what follows `$` into segments: each with the offset where it ends and its text
/// (`.a`, `..a`, `[0]`, `..[?@.x]`, `.*`), blank space between segments left out.
fn segments(rest: &str) -> Option<Vec<(usize, &str)>> {
    fn close<'r>(rest: &'r str, out: &mut Vec<(usize, &'r str)>, from: Option<usize>, to: usize) {
        if let Some(s) = from {
            let seg = rest[s..to].trim_end();
            out.push((s + seg.len(), seg));
        }
    }
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let (mut depth, mut quote, mut escaped) = (0usize, None::<char>, false);
    for (i, c) in rest.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' if depth > 0 => depth += 1,
            ']' | ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '[' => {
                // `..[` is one segment; any other `[` starts one.
                if start.map(|s| &rest[s..i]) != Some("..") {
                    close(rest, &mut out, start, i);
                    start = Some(i);
                }
                depth = 1;
            }
            // `..` is one segment's start; any other `.` starts one.
            '.' if start.map(|s| &rest[s..i]) != Some(".") => {
                close(rest, &mut out, start, i);
                start = Some(i);
            }
            '.' => {}
            c if c.is_whitespace() => {}
            _ if start.is_none() => return None,
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return None;
    }
    close(rest, &mut out, start, rest.len());
    Some(out)
}

/// Commas outside quotes and inner brackets: selectors in a bracketed segment, less one.
fn top_level_commas(inner: &str) -> usize {
    let (mut depth, mut quote, mut escaped, mut n) = (0usize, None::<char>, false, 0);
    for c in inner.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' | '(' => depth += 1,
                ']' | ')' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => n += 1,
                _ => {}
            },
        }
    }
    n
}

/// Whether a segment's text reads the root (`$` outside quotes: only filters can).
fn reads_root(text: &str) -> bool {
    let (mut quote, mut escaped) = (None::<char>, false);
    for c in text.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' => return true,
            None => {}
        }
    }
    false
}

impl Query {
    /// The nodes the query selects, in order, unless a step selects more than
    /// `budget.values` of them.
    pub fn select<'a>(&self, root: &'a Value, budget: Budget) -> Result<Vec<&'a Value>, Exceeded> {
        let Some(steps) = &self.steps else {
            let all = self.whole.query(root).all();
            return match all.len() > budget.values {
                true => Err(Exceeded::Values(budget.values)),
                false => Ok(all),
            };
        };
        let mut nodes = vec![root];
        // Whether `nodes` may hold one node twice, or a node and one below it: only then can
        // a step select a node twice, and is each distinct node's selection remembered.
        let (mut repeats, mut nested) = (false, false);
        for step in steps {
            nodes = step.apply(&nodes, root, repeats, budget.values)?;
            let several = step.select.selectors() > 1;
            repeats |= several || (step.descendant && nested);
            nested |= step.descendant;
        }
        Ok(nodes)
    }

    /// Copies of the selected values, unless there are too many or they take too many bytes
    /// (measured before anything is copied).
    pub fn values(&self, root: &Value, budget: Budget) -> Result<Vec<Value>, Exceeded> {
        self.values_measured(root, budget).map(|(values, _)| values)
    }

    /// `values`, and the bytes they take (compact JSON, each on its own).
    pub fn values_measured(
        &self,
        root: &Value,
        budget: Budget,
    ) -> Result<(Vec<Value>, u64), Exceeded> {
        let nodes = self.select(root, budget)?;
        let bytes = within_bytes(&nodes, budget.bytes)?;
        Ok((nodes.into_iter().cloned().collect(), bytes))
    }

    /// Whether the step-by-step evaluation selects exactly what `serde_json_path` selects for the
    /// whole path (the fuzz harness's differential check). A query that selects more than 10,000
    /// values at some step is not compared: the whole path would build as many.
    pub fn agrees_with_whole(&self, root: &Value) -> bool {
        let small = Budget {
            values: 10_000,
            bytes: u64::MAX,
        };
        match self.select(root, small) {
            Ok(nodes) => nodes == self.whole.query(root).all(),
            Err(_) => true,
        }
    }

    /// Whether the path was split into steps (every path the parser accepts should be).
    pub fn is_stepwise(&self) -> bool {
        self.steps.is_some()
    }

    /// The first selected node, if any.
    pub fn first<'a>(
        &self,
        root: &'a Value,
        budget: Budget,
    ) -> Result<Option<&'a Value>, Exceeded> {
        Ok(self.select(root, budget)?.into_iter().next())
    }

    /// Whether the query selects anything.
    pub fn matches(&self, root: &Value, budget: Budget) -> Result<bool, Exceeded> {
        Ok(!self.select(root, budget)?.is_empty())
    }
}

/// The bytes `nodes` take written out as compact JSON (each on its own), unless that passes
/// `cap`.
pub fn within_bytes(nodes: &[&Value], cap: u64) -> Result<u64, Exceeded> {
    let mut total = 0u64;
    for v in nodes {
        let room = cap.saturating_sub(total);
        match crate::limits::measure(v, MeasureAs::Compact, room) {
            Some(n) => total += n,
            None => return Err(Exceeded::Bytes(cap)),
        }
    }
    Ok(total)
}

impl Select {
    fn selectors(&self) -> usize {
        match self {
            Select::Segment { selectors, .. } | Select::Rooted { selectors } => *selectors,
            _ => 1,
        }
    }

    /// What this selector picks among the children of `node`, in order.
    fn pick<'a>(&self, node: &'a Value, out: &mut Vec<&'a Value>) {
        match (self, node) {
            (Select::Name(k), Value::Object(m)) => out.extend(m.get(k)),
            (Select::Index(i), Value::Array(a)) => {
                let at = if *i < 0 {
                    usize::try_from(i.unsigned_abs())
                        .ok()
                        .and_then(|back| a.len().checked_sub(back))
                } else {
                    usize::try_from(*i).ok()
                };
                out.extend(at.and_then(|at| a.get(at)));
            }
            (Select::Wildcard, Value::Array(a)) => out.extend(a.iter()),
            (Select::Wildcard, Value::Object(m)) => out.extend(m.values()),
            (Select::Segment { path, .. }, _) => out.extend(path.query(node).all()),
            _ => {}
        }
    }
}

impl Step {
    /// The nodes this step selects from each of `nodes`, in order; at most `max` of them.
    fn apply<'a>(
        &self,
        nodes: &[&'a Value],
        root: &'a Value,
        repeats: bool,
        max: usize,
    ) -> Result<Vec<&'a Value>, Exceeded> {
        if let Select::Rooted { selectors } = self.select {
            return self.apply_rooted(nodes, root, selectors, max);
        }
        let mut out = Vec::new();
        // A node met again gets the selection it got the first time (`$..a..b` starts from
        // nested nodes, and `$[0,0]` repeats one): the work stays proportional to the
        // distinct nodes, not to the repetitions.
        let mut seen: HashMap<*const Value, Vec<&'a Value>> = HashMap::new();
        let mut mine = Vec::new();
        for &node in nodes {
            if repeats {
                if let Some(again) = seen.get(&(node as *const Value)) {
                    if out.len() + again.len() > max {
                        return Err(Exceeded::Values(max));
                    }
                    out.extend_from_slice(again);
                    continue;
                }
            }
            mine.clear();
            if !self.select_below(node, &mut mine, max - out.len()) {
                return Err(Exceeded::Values(max));
            }
            out.extend_from_slice(&mine);
            if repeats {
                seen.insert(node as *const Value, mine.clone());
            }
        }
        Ok(out)
    }

    /// What the step selects from `node` (and, for `..`, from every node below it) into `out`;
    /// false as soon as that passes `room` values.
    fn select_below<'a>(&self, node: &'a Value, out: &mut Vec<&'a Value>, room: usize) -> bool {
        if !self.descendant {
            self.select.pick(node, out);
            return out.len() <= room;
        }
        // The node itself, then each child with everything below it, in document order (as
        // RFC 9535 and serde_json_path order descendants). Explicit stack: values nest up to
        // 256 levels.
        let mut stack = vec![node];
        while let Some(n) = stack.pop() {
            self.select.pick(n, out);
            if out.len() > room {
                return false;
            }
            match n {
                Value::Array(a) => stack.extend(a.iter().rev()),
                Value::Object(m) => stack.extend(m.values().rev()),
                _ => {}
            }
        }
        true
    }

    /// A segment that reads the root: the query's prefix runs from the root, once the most it
    /// could select (every child, or every node below, per selector) fits in `max`.
    fn apply_rooted<'a>(
        &self,
        nodes: &[&'a Value],
        root: &'a Value,
        selectors: usize,
        max: usize,
    ) -> Result<Vec<&'a Value>, Exceeded> {
        let mut bound = 0usize;
        for &node in nodes {
            let room = (max - bound.min(max)) / selectors.max(1);
            let reach = if self.descendant {
                nodes_below(node, room)
            } else {
                children(node)
            };
            bound = bound.saturating_add(reach.saturating_mul(selectors));
            if bound > max {
                return Err(Exceeded::Values(max));
            }
        }
        Ok(self.prefix.query(root).all())
    }
}

fn children(v: &Value) -> usize {
    match v {
        Value::Array(a) => a.len(),
        Value::Object(m) => m.len(),
        _ => 0,
    }
}

/// How many nodes lie at or below `v`, counting no further than just past `cap`.
fn nodes_below(v: &Value, cap: usize) -> usize {
    let mut n = 0usize;
    let mut stack = vec![v];
    while let Some(cur) = stack.pop() {
        n += 1;
        if n > cap {
            break;
        }
        match cur {
            Value::Array(a) => stack.extend(a.iter()),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = format!("$[?{}@.a{}]", "(".repeat(5000), ")".repeat(5000));
        assert!(parse(&deep).unwrap_err().contains("too deeply"));
        let filters = format!("${}", "[?@".repeat(20));
        assert!(parse(&filters).is_err());
        assert!(parse("$.data[*].id").is_ok());
        assert!(parse("$.data[?@.s > 5 && (@.t == 'x')]").is_ok());
    }

    #[test]
    fn a_filter_may_descend_once() {
        for ok in [
            "$..a..b",
            "$..[?@..a]",
            "$..[?@..[?@..x]]",
            "$[?@.a == '..']",
            "$..a[?@.b]..c",
            "$[?@..a][?@..b]",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "$[?@..a..a]",
            "$[?@..a && @..b]",
            "$..[?count(@..*) > 1 && @..x]",
            "$[?@..x[?@..a]..b]",
        ] {
            assert_eq!(
                parse(bad).unwrap_err(),
                "a filter may use `..` only once (each more `..` multiplies what it selects)",
                "{bad}"
            );
        }
    }

    #[test]
    fn unfinished_unicode_escapes_are_refused_whatever_precedes_them() {
        // Crash 2 (fuzzing): an odd run of backslashes before the `u`.
        for path in [r#"$["\u"#, r#"$["\\\u"#, r#"$["a\\\\\u"#, r#"$[?":\\\\\u"#] {
            let r = std::panic::catch_unwind(|| parse(path).map(|_| ()));
            assert!(matches!(r, Ok(Err(_))), "{path}");
        }
        // An even run is escaped backslashes: no escape, and the path parses.
        assert!(parse(r#"$["a\\u"]"#).is_ok());
        assert!(parse(r#"$["\u0041"]"#).is_ok());
    }

    /// A document with a bit of everything: nesting, repeated names, arrays of objects.
    fn doc() -> Value {
        json!({
            "a": {"a": {"a": [1, {"a": 2}], "b": "x"}, "url": "u1"},
            "data": [{"id": 1, "s": 5, "tags": ["t", "u"]}, {"id": 2, "s": 9}, {"id": 3}],
            "k": {"x y": 1, "it's": 2, "n": null},
            "url": "u0", "target": 9,
            "list": [[1, 2], [3, [4, 5]]],
        })
    }

    /// Paths whose stepwise result must be exactly serde_json_path's.
    const PATHS: &[&str] = &[
        "$",
        "$.a",
        "$..a",
        "$..a..a",
        "$..a..a..a",
        "$..*",
        "$..*..*",
        "$.data[*].id",
        "$.data[?@.s > 6].id",
        "$..[?@.s]",
        "$.data[0,0,1]",
        "$.data[-1]",
        "$.data[-9]",
        "$.data[1:]",
        "$.data[::-1].id",
        "$['k']['x y']",
        "$.k[\"it's\"]",
        "$..url",
        "$..['url','id']",
        "$[*][*]",
        "$.list[*][1]",
        "$..[1]",
        "$..[0,0]",
        "$.data.*",
        "$ .data [0] .id",
        "$..data[?@.id == $.target]",
        "$..[?@ == $.url]",
        "$.*.*.*",
        "$..[?@.id > 1 && @.id < 9]",
        "$..['a']..[\"a\"]",
        "$.data[?length(@.tags) > 1].id",
        "$..*[?@ > 2]",
        "$.list..[0]",
        "$[?@.a]",
        "$..a.*",
        "$.k.n",
        "$.nothing..x",
    ];

    #[test]
    fn stepwise_evaluation_selects_what_the_whole_query_selects() {
        let d = doc();
        for p in PATHS {
            let q = parse(p).unwrap();
            assert!(q.steps.is_some(), "{p} was not split");
            let want = q.whole.query(&d).all();
            let got = q.select(&d, Budget::default()).unwrap();
            assert_eq!(got, want, "{p}");
        }
    }

    #[test]
    fn descendant_chains_stop_at_the_results_limit_without_blowing_up() {
        // `a` nested 120 deep: `$..a..a..a` would select ~280,000 nodes, `..a` once more ~8 million.
        let mut v = json!(1);
        for _ in 0..120 {
            v = json!({ "a": v });
        }
        let budget = Budget {
            values: 100_000,
            bytes: u64::MAX,
        };
        for p in ["$..a..a..a", "$..a..a..a..a..a..a"] {
            let e = parse(p).unwrap().select(&v, budget).unwrap_err();
            assert_eq!(e, Exceeded::Values(100_000), "{p}");
        }
        assert_eq!(
            parse("$..a..a").unwrap().select(&v, budget).unwrap().len(),
            7140
        );
    }

    #[test]
    fn what_would_be_copied_is_measured_first() {
        // `url` nested 40 deep around a 1,000-element list: 40 matches, each holding the rest.
        let mut v = json!({"url": (0..1000).map(|i| format!("http://h/{i}")).collect::<Vec<_>>()});
        for _ in 0..40 {
            v = json!({ "url": v });
        }
        let q = parse("$..url").unwrap();
        assert_eq!(q.select(&v, Budget::default()).unwrap().len(), 41);
        let small = Budget {
            values: 100,
            bytes: 100_000,
        };
        assert_eq!(q.values(&v, small).unwrap_err(), Exceeded::Bytes(100_000));
        assert_eq!(
            Exceeded::Bytes(64 << 20).to_string(),
            "the values the JSONPath selects take more than 64 MiB, the output-size limit (raise it with `--limit output-size=N` if the input is trusted)"
        );
    }

    #[test]
    fn root_reading_filters_are_bounded_before_they_run() {
        let d = json!({"want": 2, "list": (0..50).collect::<Vec<_>>()});
        let q = parse("$..[?@ == $.want]").unwrap();
        assert_eq!(
            q.select(&d, Budget::default()).unwrap(),
            vec![&json!(2), &json!(2)]
        );
        let tight = Budget {
            values: 10,
            bytes: u64::MAX,
        };
        assert_eq!(q.select(&d, tight).unwrap_err(), Exceeded::Values(10));
    }
}
