//! Array utilities: counting, picking, ordering, searching, filtering and reshaping lists.

use super::args::value_to_text;
use super::{quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext, MAX_OUTPUT_LEN};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::HashSet;

const CAT: &str = "Array";

fn list() -> ParamSpec {
    ParamSpec::new("input", "Input", ParamType::JsonArray)
        .required()
        .sample(json!(["1.1.1.1", "8.8.8.8", "1.1.1.1"]))
}

fn value_param() -> ParamSpec {
    ParamSpec::new("value", "Value", ParamType::Any)
        .required()
        .sample(json!("8.8.8.8"))
        .describe("Compared loosely: the number 5 and the text \"5\" are equal.")
}

pub(super) fn register(r: &mut Registry) {
    utility("count", "Count Array Elements", CAT, count)
        .describe("The number of elements of a list.")
        .input(list())
        .returns("number")
        .register(r);
    utility("first", "Get First Element", CAT, first)
        .describe("The first element of a list, or null when the list is empty.")
        .input(list())
        .returns("any")
        .register(r);
    utility("last", "Get Last Element", CAT, last)
        .describe("The last element of a list, or null when the list is empty.")
        .input(list())
        .returns("any")
        .register(r);
    utility(
        "getArrayElement",
        "Get Array Element",
        CAT,
        get_array_element,
    )
    .describe("The element at a position (0 is the first; -1 the last).")
    .input(list())
    .input(
        ParamSpec::new("index", "Index", ParamType::Number)
            .required()
            .sample(json!(1)),
    )
    .returns("any")
    .register(r);
    utility("unique", "Remove Duplicates", CAT, unique)
        .describe("The list without repeated elements, keeping the first occurrence of each.")
        .input(list())
        .returns("json_array")
        .register(r);
    utility("sort", "Sort Array", CAT, sort)
        .describe(
            "Sorts a list: numbers numerically, texts lexically (by code point); in a mixed \
             list nulls come first, then booleans, numbers, texts, lists and objects.",
        )
        .input(list())
        .input(
            ParamSpec::new("descending", "Descending", ParamType::Boolean)
                .default(json!(false))
                .sample(json!(true)),
        )
        .returns("json_array")
        .register(r);
    utility("reverse", "Reverse Array", CAT, reverse)
        .describe("The list in reverse order.")
        .input(list())
        .returns("json_array")
        .register(r);
    utility("arrayContains", "Array Contains", CAT, array_contains)
        .describe("Checks if a list contains a value.")
        .input(list())
        .input(value_param())
        .returns("boolean")
        .conditional()
        .register(r);
    utility("arrayIndexOf", "Array Index Of", CAT, array_index_of)
        .describe("The position of the first element equal to a value, or -1.")
        .input(list())
        .input(value_param())
        .returns("number")
        .register(r);
    utility("filterByJsonPath", "Filter Array by JSONPath", CAT, filter_by_json_path)
        .describe(
            "Keeps the elements that a JSONPath (RFC 9535) selects something in. A path such \
             as $.severity is applied to each element (kept when it exists); a filter such as \
             $[?@.severity == 'high'] (or just @.severity == 'high') tests each element itself.",
        )
        .input(
            ParamSpec::new("input", "Input", ParamType::JsonArray)
                .required()
                .sample(json!([{"ip": "1.1.1.1", "severity": "high"}, {"ip": "8.8.8.8", "severity": "low"}])),
        )
        .input(
            ParamSpec::new("path", "Path", ParamType::Text)
                .required()
                .sample(json!("$[?@.severity == 'high']")),
        )
        .returns("json_array")
        .register(r);
    utility("flatten", "Flatten Array", CAT, flatten)
        .describe("Replaces nested lists by their elements, down to a depth (1 by default).")
        .input(
            ParamSpec::new("input", "Input", ParamType::JsonArray)
                .required()
                .sample(json!([[1, 2], [3, [4]]])),
        )
        .input(
            ParamSpec::new("depth", "Depth", ParamType::Number)
                .default(json!(1))
                .sample(json!(2)),
        )
        .returns("json_array")
        .register(r);
    utility("slice", "Slice Array", CAT, slice)
        .describe(
            "The elements from a start position up to (not including) an end position; \
             negative positions count from the end; without an end, up to the last element.",
        )
        .input(list())
        .input(
            ParamSpec::new("start", "Start", ParamType::Number)
                .default(json!(0))
                .sample(json!(1)),
        )
        .input(ParamSpec::new("end", "End", ParamType::Number).sample(json!(-1)))
        .returns("json_array")
        .register(r);
    utility("appendToArray", "Append to Array", CAT, append_to_array)
        .describe("The list with a value added at the end (a list value is added as one element).")
        .input(list())
        .input(
            ParamSpec::new("value", "Value", ParamType::Any)
                .required()
                .sample(json!("9.9.9.9")),
        )
        .returns("json_array")
        .register(r);
    utility("concatArrays", "Concat Arrays", CAT, concat_arrays)
        .describe("The elements of the first list followed by those of the second.")
        .input(list())
        .input(
            ParamSpec::new("other", "Other", ParamType::JsonArray)
                .required()
                .sample(json!(["9.9.9.9"])),
        )
        .returns("json_array")
        .register(r);
}

/// A stable text form of a value, with object keys sorted: equal values, equal keys.
pub(crate) fn canonical(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(v) = m.get(k) {
                        write(v, out);
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            Value::Number(n) => match n.as_f64() {
                // 1 and 1.0 are the same number.
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => {
                    out.push_str(&(f as i64).to_string())
                }
                _ => out.push_str(&n.to_string()),
            },
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// Equality as a playbook author expects it: exact JSON equality, or equal numbers, or a
/// scalar and its text form (`5` and `"5"`, `true` and `"true"`).
pub(crate) fn loosely_equal(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::String(s), other @ (Value::Number(_) | Value::Bool(_)))
        | (other @ (Value::Number(_) | Value::Bool(_)), Value::String(s)) => {
            let t = s.trim();
            value_to_text(other) == t
                || matches!((other.as_f64(), t.parse::<f64>()), (Some(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(_), Value::Array(_)) | (Value::Object(_), Value::Object(_)) => {
            canonical(a).cmp(&canonical(b))
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// A position in a list of `len`, negative counting from the end, clamped to `0..=len`.
fn position(i: i64, len: usize) -> usize {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let p = if i < 0 {
        len_i.saturating_add(i).max(0)
    } else {
        i.min(len_i)
    };
    usize::try_from(p).unwrap_or(0)
}

fn count(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::from(a.array("input")?.len()))
}

fn first(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(a.array("input")?.first().cloned().unwrap_or(Value::Null))
}

fn last(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(a.array("input")?.last().cloned().unwrap_or(Value::Null))
}

fn get_array_element(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let list = a.array("input")?;
    let index = a.int("index")?;
    let len = i64::try_from(list.len()).unwrap_or(i64::MAX);
    let i = if index < 0 { len + index } else { index };
    usize::try_from(i)
        .ok()
        .and_then(|i| list.get(i))
        .cloned()
        .ok_or_else(|| {
            format!(
                "parameter `index` is {index}, outside the list of {} element(s)",
                list.len()
            )
        })
}

fn unique(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut seen = HashSet::new();
    let out = a
        .array("input")?
        .iter()
        .filter(|v| seen.insert(canonical(v)))
        .cloned()
        .collect();
    Ok(Value::Array(out))
}

fn sort(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut list = a.array("input")?.clone();
    if a.opt_boolean("descending")?.unwrap_or(false) {
        list.sort_by(|x, y| compare(y, x));
    } else {
        list.sort_by(compare);
    }
    Ok(Value::Array(list))
}

fn reverse(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Array(
        a.array("input")?.iter().rev().cloned().collect(),
    ))
}

fn array_contains(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let value = a.value("value");
    Ok(Value::Bool(
        a.array("input")?.iter().any(|v| loosely_equal(v, value)),
    ))
}

fn array_index_of(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let value = a.value("value");
    Ok(
        match a
            .array("input")?
            .iter()
            .position(|v| loosely_equal(v, value))
        {
            Some(i) => Value::from(i),
            None => Value::from(-1),
        },
    )
}

/// Parses the JSONPath of parameter `param` with a clear error.
pub(crate) fn json_path(param: &str, path: &str) -> Result<crate::jsonpath::Query, String> {
    crate::jsonpath::parse(path).map_err(|e| {
        format!(
            "parameter `{param}` is not a valid JSONPath: {} ({e})",
            quote(path)
        )
    })
}

fn filter_by_json_path(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    let list = a.array("input")?;
    let text = a.text("path")?.trim();
    // A bare filter expression is shorthand for a filter on the element itself.
    let (path, on_element_itself) = if text.starts_with('@') {
        (json_path("path", &format!("$[?{text}]"))?, true)
    } else if let Some(expr) = text.strip_prefix('?') {
        (json_path("path", &format!("$[?{}]", expr.trim()))?, true)
    } else {
        let on_itself = text
            .strip_prefix('$')
            .is_some_and(|r| r.trim_start().starts_with("[?"));
        (json_path("path", text)?, on_itself)
    };
    let mut out = Vec::new();
    for element in list {
        let kept = if on_element_itself {
            // Wrapped in a one-element list, the filter selects the element or nothing.
            let wrapped = Value::Array(vec![element.clone()]);
            path.matches(&wrapped, ctx.query_budget)
        } else {
            path.matches(element, ctx.query_budget)
        }
        .map_err(|e| format!("{}: {e}", quote(text)))?;
        if kept {
            out.push(element.clone());
        }
    }
    Ok(Value::Array(out))
}

fn flatten(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    fn go(items: &[Value], depth: u32, out: &mut Vec<Value>) {
        for item in items {
            match item {
                Value::Array(inner) if depth > 0 => go(inner, depth - 1, out),
                other => out.push(other.clone()),
            }
        }
    }
    let depth = a.opt_int("depth")?.unwrap_or(1);
    if !(0..=64).contains(&depth) {
        return Err(format!(
            "parameter `depth` must be between 0 and 64, got {depth}"
        ));
    }
    let mut out = Vec::new();
    go(a.array("input")?, depth as u32, &mut out);
    Ok(Value::Array(out))
}

fn slice(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let list = a.array("input")?;
    let start = position(a.opt_int("start")?.unwrap_or(0), list.len());
    let end = match a.opt_int("end")? {
        Some(e) => position(e, list.len()),
        None => list.len(),
    };
    Ok(Value::Array(
        list.get(start..end)
            .map(<[Value]>::to_vec)
            .unwrap_or_default(),
    ))
}

fn append_to_array(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut list = a.array("input")?.clone();
    list.push(a.value("value").clone());
    Ok(Value::Array(list))
}

fn concat_arrays(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let first = a.array("input")?;
    let other = a.array("other")?;
    if first.len().saturating_add(other.len()) > MAX_OUTPUT_LEN {
        return Err(format!(
            "the joined list would have more than {MAX_OUTPUT_LEN} elements"
        ));
    }
    Ok(Value::Array(first.iter().chain(other).cloned().collect()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use super::{canonical, loosely_equal};
    use serde_json::json;

    #[test]
    fn counting_and_picking() {
        assert_eq!(ok("count", json!({"input": [1, 2, 3]})), json!(3));
        assert_eq!(ok("count", json!({"input": "[1, 2]"})), json!(2));
        assert_eq!(ok("count", json!({"input": "solo"})), json!(1));
        assert_eq!(ok("first", json!({"input": ["a", "b"]})), json!("a"));
        assert_eq!(ok("last", json!({"input": ["a", "b"]})), json!("b"));
        assert_eq!(ok("first", json!({"input": []})), json!(null));
        assert_eq!(
            ok(
                "getArrayElement",
                json!({"input": ["a", "b", "c"], "index": -1})
            ),
            json!("c")
        );
        assert_eq!(
            ok(
                "getArrayElement",
                json!({"input": ["a", "b", "c"], "index": "1"})
            ),
            json!("b")
        );
        assert_eq!(
            err("getArrayElement", json!({"input": ["a"], "index": 3})),
            "parameter `index` is 3, outside the list of 1 element(s)"
        );
        assert!(err("getArrayElement", json!({"input": ["a"], "index": -2})).contains("outside"));
    }

    #[test]
    fn unique_and_equality() {
        assert_eq!(
            ok(
                "unique",
                json!({"input": ["1.1.1.1", "8.8.8.8", "1.1.1.1", 1, 1.0, {"a": 1, "b": 2}, {"b": 2, "a": 1}]})
            ),
            json!(["1.1.1.1", "8.8.8.8", 1, {"a": 1, "b": 2}])
        );
        assert_eq!(
            canonical(&json!({"b": [1.0, "x"], "a": null})),
            r#"{"a":null,"b":[1,"x"]}"#
        );
        assert!(loosely_equal(&json!(5), &json!("5")));
        assert!(loosely_equal(&json!("5.0"), &json!(5)));
        assert!(loosely_equal(&json!(true), &json!("true")));
        assert!(!loosely_equal(&json!(null), &json!("")));
        assert!(!loosely_equal(&json!([1]), &json!("[1]")));
    }

    #[test]
    fn sorting_and_reversing() {
        assert_eq!(
            ok("sort", json!({"input": [10, 9, 1.5, -2]})),
            json!([-2, 1.5, 9, 10])
        );
        assert_eq!(
            ok("sort", json!({"input": ["b", "B", "a"]})),
            json!(["B", "a", "b"])
        );
        assert_eq!(
            ok("sort", json!({"input": [3, 1, 2], "descending": true})),
            json!([3, 2, 1])
        );
        assert_eq!(
            ok("sort", json!({"input": ["x", 2, null, true, [1], 1]})),
            json!([null, true, 1, 2, "x", [1]])
        );
        assert_eq!(ok("reverse", json!({"input": [1, 2, 3]})), json!([3, 2, 1]));
    }

    #[test]
    fn searching() {
        assert_eq!(
            ok("arrayContains", json!({"input": ["a", "b"], "value": "b"})),
            json!(true)
        );
        assert_eq!(
            ok("arrayContains", json!({"input": [1, 2], "value": "2"})),
            json!(true)
        );
        assert_eq!(
            ok("arrayContains", json!({"input": [1, 2], "value": 3})),
            json!(false)
        );
        assert_eq!(
            ok(
                "arrayContains",
                json!({"input": [{"a": 1}], "value": {"a": 1}})
            ),
            json!(true)
        );
        assert_eq!(
            ok("arrayIndexOf", json!({"input": ["a", "b"], "value": "b"})),
            json!(1)
        );
        assert_eq!(
            ok("arrayIndexOf", json!({"input": ["a", "b"], "value": "z"})),
            json!(-1)
        );
        assert_eq!(
            err("arrayContains", json!({"input": ["a"]})),
            "parameter `value` is required"
        );
    }

    #[test]
    fn filtering_by_json_path() {
        let alerts = json!([
            {"ip": "1.1.1.1", "severity": "high", "tags": ["vpn"]},
            {"ip": "8.8.8.8", "severity": "low"},
            {"ip": "9.9.9.9", "severity": "high", "score": 90},
            "not an object"
        ]);
        let ips = |v: serde_json::Value| -> Vec<String> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|e| e["ip"].as_str().unwrap_or("-").to_owned())
                .collect()
        };
        let high = ips(ok(
            "filterByJsonPath",
            json!({"input": alerts, "path": "$[?@.severity == 'high']"}),
        ));
        assert_eq!(high, ["1.1.1.1", "9.9.9.9"]);
        let high = ips(ok(
            "filterByJsonPath",
            json!({"input": alerts, "path": "@.severity == 'high'"}),
        ));
        assert_eq!(high, ["1.1.1.1", "9.9.9.9"]);
        let scored = ips(ok(
            "filterByJsonPath",
            json!({"input": alerts, "path": "?@.score > 50"}),
        ));
        assert_eq!(scored, ["9.9.9.9"]);
        let tagged = ips(ok(
            "filterByJsonPath",
            json!({"input": alerts, "path": "$.tags"}),
        ));
        assert_eq!(tagged, ["1.1.1.1"]);
        let vpn = ips(ok(
            "filterByJsonPath",
            json!({"input": alerts, "path": "$.tags[?@ == 'vpn']"}),
        ));
        assert_eq!(vpn, ["1.1.1.1"]);
        let e = err(
            "filterByJsonPath",
            json!({"input": alerts, "path": "$[?@.severity =="}),
        );
        assert!(
            e.starts_with("parameter `path` is not a valid JSONPath: \"$[?@.severity ==\""),
            "{e}"
        );
        let e = err(
            "filterByJsonPath",
            json!({"input": alerts, "path": "severity"}),
        );
        assert!(
            e.starts_with("parameter `path` is not a valid JSONPath"),
            "{e}"
        );
    }

    #[test]
    fn reshaping() {
        assert_eq!(
            ok("flatten", json!({"input": [[1, 2], [3, [4]], 5]})),
            json!([1, 2, 3, [4], 5])
        );
        assert_eq!(
            ok("flatten", json!({"input": [[1, 2], [3, [4]]], "depth": 2})),
            json!([1, 2, 3, 4])
        );
        assert_eq!(
            ok("flatten", json!({"input": [[1]], "depth": 0})),
            json!([[1]])
        );
        assert_eq!(
            err("flatten", json!({"input": [], "depth": 1000})),
            "parameter `depth` must be between 0 and 64, got 1000"
        );
        assert_eq!(
            ok("slice", json!({"input": [1, 2, 3, 4], "start": 1})),
            json!([2, 3, 4])
        );
        assert_eq!(
            ok(
                "slice",
                json!({"input": [1, 2, 3, 4], "start": 1, "end": -1})
            ),
            json!([2, 3])
        );
        assert_eq!(
            ok("slice", json!({"input": [1, 2, 3, 4], "start": -2})),
            json!([3, 4])
        );
        assert_eq!(
            ok("slice", json!({"input": [1, 2], "start": 5, "end": 9})),
            json!([])
        );
        assert_eq!(
            ok("slice", json!({"input": [1, 2], "start": 2, "end": 1})),
            json!([])
        );
        assert_eq!(
            ok(
                "slice",
                json!({"input": [1, 2], "start": -9e15, "end": 9e15})
            ),
            json!([1, 2])
        );
        assert_eq!(
            ok("appendToArray", json!({"input": [1], "value": [2]})),
            json!([1, [2]])
        );
        assert_eq!(
            ok("concatArrays", json!({"input": [1], "other": [2, 3]})),
            json!([1, 2, 3])
        );
    }
}
