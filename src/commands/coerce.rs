//! Converting a resolved value to a parameter's declared type, the same way at run time and in
//! validation (for literals). Strings that spell the type are accepted: `"5"` for a number.

use super::args::{type_name, value_to_text};
use super::spec::ParamType;
use serde_json::Value;

/// Converts `v` to `ty`, or says why it cannot.
pub fn coerce(ty: ParamType, v: Value) -> Result<Value, String> {
    match ty {
        ParamType::Any => Ok(v),
        ParamType::Text
        | ParamType::TextTemplate
        | ParamType::HtmlTemplate
        | ParamType::Datetime
        | ParamType::File => match v {
            Value::String(_) => Ok(v),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(value_to_text(&v))),
            Value::Object(_) | Value::Array(_) if ty == ParamType::Text => {
                Ok(Value::String(v.to_string()))
            }
            other => Err(format!("expected {}, got {}", ty.name(), type_name(&other))),
        },
        ParamType::Number => match v {
            Value::Number(_) => Ok(v),
            Value::String(ref s) => parse_number(s.trim())
                .ok_or_else(|| format!("expected a number, got the text {:?}", clip(s))),
            other => Err(format!("expected a number, got {}", type_name(&other))),
        },
        ParamType::Boolean => match v {
            Value::Bool(_) => Ok(v),
            Value::String(ref s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!(
                    "expected true or false, got the text {:?}",
                    clip(s)
                )),
            },
            other => Err(format!("expected true or false, got {}", type_name(&other))),
        },
        ParamType::JsonObject => match v {
            Value::Object(_) => Ok(v),
            Value::String(ref s) => match serde_json::from_str::<Value>(s) {
                Ok(o @ Value::Object(_)) => Ok(o),
                _ => Err(format!(
                    "expected a JSON object, got the text {:?}",
                    clip(s)
                )),
            },
            other => Err(format!("expected a JSON object, got {}", type_name(&other))),
        },
        ParamType::JsonArray => match v {
            Value::Array(_) => Ok(v),
            Value::String(ref s) if s.trim_start().starts_with('[') => {
                match serde_json::from_str::<Value>(s) {
                    Ok(a @ Value::Array(_)) => Ok(a),
                    _ => Err(format!("expected a JSON array, got the text {:?}", clip(s))),
                }
            }
            other => Ok(Value::Array(vec![other])),
        },
        ParamType::TextArray => {
            let items = as_items(v)?;
            Ok(Value::Array(
                items
                    .into_iter()
                    .map(|i| match i {
                        Value::String(_) => i,
                        other => Value::String(value_to_text(&other)),
                    })
                    .collect(),
            ))
        }
        ParamType::NumberArray => {
            let items = as_items(v)?;
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                out.push(coerce(ParamType::Number, item).map_err(|e| format!("element {i}: {e}"))?);
            }
            Ok(Value::Array(out))
        }
    }
}

/// An array as is; a JSON array spelled as text, parsed; any other value as a one-element list.
fn as_items(v: Value) -> Result<Vec<Value>, String> {
    match v {
        Value::Array(a) => Ok(a),
        Value::Null => Ok(Vec::new()),
        Value::String(ref s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Value>(s) {
                Ok(Value::Array(a)) => Ok(a),
                _ => Ok(vec![v]),
            }
        }
        other => Ok(vec![other]),
    }
}

fn parse_number(s: &str) -> Option<Value> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

fn clip(s: &str) -> String {
    crate::secrets::clip(s, 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_from_text() {
        assert_eq!(coerce(ParamType::Number, json!("42")).unwrap(), json!(42));
        assert_eq!(
            coerce(ParamType::Number, json!(" 2.5 ")).unwrap(),
            json!(2.5)
        );
        assert!(coerce(ParamType::Number, json!("abc")).is_err());
        assert!(coerce(ParamType::Number, json!(true)).is_err());
    }

    #[test]
    fn booleans_only_from_true_false() {
        assert_eq!(
            coerce(ParamType::Boolean, json!("TRUE")).unwrap(),
            json!(true)
        );
        assert!(coerce(ParamType::Boolean, json!("yes")).is_err());
    }

    #[test]
    fn arrays_wrap_scalars_and_parse_text() {
        assert_eq!(
            coerce(ParamType::TextArray, json!("a")).unwrap(),
            json!(["a"])
        );
        assert_eq!(
            coerce(ParamType::TextArray, json!("[\"a\",1]")).unwrap(),
            json!(["a", "1"])
        );
        assert_eq!(
            coerce(ParamType::NumberArray, json!(["1", 2])).unwrap(),
            json!([1, 2])
        );
        assert!(coerce(ParamType::JsonObject, json!([1])).is_err());
    }
}
