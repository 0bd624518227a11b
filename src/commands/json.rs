//! JSON utilities: picking keys, JSONPath queries, merging, editing, parsing and writing JSON.

use super::array::json_path;
use super::{quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext};
use serde_json::{json, Map, Value};

const CAT: &str = "JSON";

fn object() -> ParamSpec {
    ParamSpec::new("input", "Input", ParamType::JsonObject)
        .required()
        .sample(json!({"IPAddress": "1.2.3.4", "RiskLevel": "Low", "Type": "Cyber"}))
}

fn key() -> ParamSpec {
    ParamSpec::new("key", "Key", ParamType::Text)
        .required()
        .sample(json!("RiskLevel"))
}

pub(super) fn register(r: &mut Registry) {
    utility(
        "ExtractArtifactsToJsonObjectArrayWithArrayKeyValueO",
        "Extract Key/Value Pairs from JSON Object",
        CAT,
        extract_key_values,
    )
    .describe(
        "Extracts values of specified keys from a JSON object: the result has only those keys, \
         in the order given; keys the object lacks are skipped.",
    )
    .input(object().describe("The JSON object to extract some keys' values from."))
    .input(
        ParamSpec::new("keys", "Keys", ParamType::TextArray)
            .required()
            .sample(json!(["IPAddress", "RiskLevel"]))
            .describe("The keys list."),
    )
    .returns("json_object")
    .register(r);
    utility("jsonPathQuery", "JSONPath Query", CAT, json_path_query)
        .describe(
            "Every value a JSONPath (RFC 9535) selects in the input, as a list. Text holding a \
             JSON object or array is parsed first.",
        )
        .input(
            ParamSpec::new("input", "Input", ParamType::Any)
                .required()
                .sample(json!({"alerts": [{"ip": "1.2.3.4"}, {"ip": "5.6.7.8"}]})),
        )
        .input(
            ParamSpec::new("path", "Path", ParamType::Text)
                .required()
                .sample(json!("$.alerts[*].ip")),
        )
        .returns("json_array")
        .register(r);
    utility(
        "mergeJsonObjects",
        "Merge JSON Objects",
        CAT,
        merge_json_objects,
    )
    .describe(
        "The keys of both objects (a shallow merge); where both have a key, the other \
             object's value wins.",
    )
    .input(object())
    .input(
        ParamSpec::new("other", "Other", ParamType::JsonObject)
            .required()
            .sample(json!({"RiskLevel": "High", "Owner": "SOC"})),
    )
    .returns("json_object")
    .register(r);
    utility("getJsonKey", "Get JSON Key Value", CAT, get_json_key)
        .describe("The value of a key of a JSON object, or null when the object lacks it.")
        .input(object())
        .input(key())
        .returns("any")
        .register(r);
    utility("setJsonKey", "Set JSON Key Value", CAT, set_json_key)
        .describe("The object with a key set to a value (added at the end when new).")
        .input(object())
        .input(key())
        .input(ParamSpec::new("value", "Value", ParamType::Any).sample(json!("High")))
        .returns("json_object")
        .register(r);
    utility("removeJsonKey", "Remove JSON Key", CAT, remove_json_key)
        .describe("The object without a key (unchanged when it lacks the key).")
        .input(object())
        .input(key())
        .returns("json_object")
        .register(r);
    utility("jsonKeys", "Get JSON Keys", CAT, json_keys)
        .describe("The keys of a JSON object, in order.")
        .input(object())
        .returns("text_array")
        .register(r);
    utility("jsonValues", "Get JSON Values", CAT, json_values)
        .describe("The values of a JSON object, in key order.")
        .input(object())
        .returns("json_array")
        .register(r);
    utility("parseJson", "Parse JSON Text", CAT, parse_json)
        .describe("Reads JSON text into a value (object, list, text, number, boolean or null).")
        .input(
            ParamSpec::new("input", "Input", ParamType::Text)
                .required()
                .sample(json!("{\"ip\": \"1.2.3.4\"}")),
        )
        .returns("any")
        .register(r);
    utility("stringifyJson", "Convert JSON to Text", CAT, stringify_json)
        .describe("Writes a value as JSON text, compact or indented.")
        .input(
            ParamSpec::new("input", "Input", ParamType::Any)
                .required()
                .sample(json!({"ip": "1.2.3.4"})),
        )
        .input(
            ParamSpec::new("pretty", "Pretty", ParamType::Boolean)
                .default(json!(false))
                .sample(json!(true)),
        )
        .register(r);
}

fn extract_key_values(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let input = a.object("input")?;
    let mut out = Map::new();
    for k in a.text_array("keys")? {
        if let Some(v) = input.get(&k) {
            out.entry(k).or_insert_with(|| v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn json_path_query(a: &Args, ctx: &UtilityContext) -> Result<Value, String> {
    let text = a.text("path")?;
    let path = json_path("path", text)?;
    let input = a.value("input");
    let parsed;
    let target = match input {
        Value::String(s) if s.trim_start().starts_with(['{', '[']) => {
            match serde_json::from_str::<Value>(s) {
                Ok(v) => {
                    parsed = v;
                    &parsed
                }
                Err(_) => input,
            }
        }
        other => other,
    };
    path.values(target, ctx.query_budget)
        .map(Value::Array)
        .map_err(|e| format!("{}: {e}", quote(text)))
}

fn merge_json_objects(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut out = a.object("input")?.clone();
    for (k, v) in a.object("other")? {
        out.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(out))
}

fn get_json_key(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(a.object("input")?
        .get(a.text("key")?)
        .cloned()
        .unwrap_or(Value::Null))
}

fn set_json_key(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut out = a.object("input")?.clone();
    out.insert(a.text("key")?.to_owned(), a.value("value").clone());
    Ok(Value::Object(out))
}

fn remove_json_key(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let mut out = a.object("input")?.clone();
    out.shift_remove(a.text("key")?);
    Ok(Value::Object(out))
}

fn json_keys(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Array(
        a.object("input")?
            .keys()
            .map(|k| Value::String(k.clone()))
            .collect(),
    ))
}

fn json_values(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Array(a.object("input")?.values().cloned().collect()))
}

fn parse_json(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    serde_json::from_str(a.text("input")?)
        .map_err(|e| format!("parameter `input` is not valid JSON: {e}"))
}

fn stringify_json(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let v = a.value("input");
    let text = if a.opt_boolean("pretty")?.unwrap_or(false) {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    text.map(Value::String)
        .map_err(|e| format!("cannot write the input as JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use serde_json::json;

    #[test]
    fn extract_key_values_as_the_seed() {
        let input = json!({"IPAddress": "***.***.***.***", "RiskLevel": "Low", "Type": "Cyber"});
        assert_eq!(
            ok(
                "ExtractArtifactsToJsonObjectArrayWithArrayKeyValueO",
                json!({"input": input, "keys": ["IPAddress", "RiskLevel"]})
            ),
            json!({"IPAddress": "***.***.***.***", "RiskLevel": "Low"})
        );
        let got = ok(
            "ExtractArtifactsToJsonObjectArrayWithArrayKeyValueO",
            json!({"input": "{\"a\": 1, \"b\": null}", "keys": ["b", "missing", "a", "b"]}),
        );
        assert_eq!(got, json!({"b": null, "a": 1}));
        assert_eq!(serde_json::to_string(&got).unwrap(), r#"{"b":null,"a":1}"#);
        let e = err(
            "ExtractArtifactsToJsonObjectArrayWithArrayKeyValueO",
            json!({"input": [1], "keys": ["a"]}),
        );
        assert_eq!(e, "parameter `input`: expected a JSON object, got a list");
    }

    #[test]
    fn json_path_queries() {
        let doc = json!({"alerts": [{"ip": "1.2.3.4", "sev": 3}, {"ip": "5.6.7.8", "sev": 9}]});
        assert_eq!(
            ok(
                "jsonPathQuery",
                json!({"input": doc, "path": "$.alerts[*].ip"})
            ),
            json!(["1.2.3.4", "5.6.7.8"])
        );
        assert_eq!(
            ok(
                "jsonPathQuery",
                json!({"input": doc, "path": "$.alerts[?@.sev > 5].ip"})
            ),
            json!(["5.6.7.8"])
        );
        assert_eq!(
            ok("jsonPathQuery", json!({"input": doc, "path": "$.nothing"})),
            json!([])
        );
        assert_eq!(
            ok(
                "jsonPathQuery",
                json!({"input": doc.to_string(), "path": "$..sev"})
            ),
            json!([3, 9])
        );
        assert_eq!(
            ok("jsonPathQuery", json!({"input": "plain", "path": "$"})),
            json!(["plain"])
        );
        let e = err("jsonPathQuery", json!({"input": doc, "path": "alerts.ip"}));
        assert!(
            e.starts_with("parameter `path` is not a valid JSONPath: \"alerts.ip\""),
            "{e}"
        );
    }

    #[test]
    fn editing_objects() {
        let o = json!({"a": 1, "b": 2});
        assert_eq!(
            ok(
                "mergeJsonObjects",
                json!({"input": o, "other": {"b": 3, "c": 4}})
            ),
            json!({"a": 1, "b": 3, "c": 4})
        );
        assert_eq!(ok("getJsonKey", json!({"input": o, "key": "b"})), json!(2));
        assert_eq!(
            ok("getJsonKey", json!({"input": o, "key": "z"})),
            json!(null)
        );
        assert_eq!(
            ok("setJsonKey", json!({"input": o, "key": "c", "value": [1]})),
            json!({"a": 1, "b": 2, "c": [1]})
        );
        assert_eq!(
            ok("setJsonKey", json!({"input": o, "key": "a"})),
            json!({"a": null, "b": 2})
        );
        let removed = ok(
            "removeJsonKey",
            json!({"input": {"a": 1, "b": 2, "c": 3}, "key": "a"}),
        );
        assert_eq!(serde_json::to_string(&removed).unwrap(), r#"{"b":2,"c":3}"#);
        assert_eq!(ok("removeJsonKey", json!({"input": o, "key": "z"})), o);
        assert_eq!(
            ok("jsonKeys", json!({"input": {"z": 1, "a": 2}})),
            json!(["z", "a"])
        );
        assert_eq!(
            ok("jsonValues", json!({"input": {"z": 1, "a": [2]}})),
            json!([1, [2]])
        );
        assert_eq!(
            err("getJsonKey", json!({"input": o})),
            "parameter `key` is required"
        );
    }

    #[test]
    fn parsing_and_writing() {
        assert_eq!(
            ok("parseJson", json!({"input": "{\"ip\": \"1.2.3.4\"}"})),
            json!({"ip": "1.2.3.4"})
        );
        assert_eq!(ok("parseJson", json!({"input": "[1, 2]"})), json!([1, 2]));
        assert_eq!(ok("parseJson", json!({"input": "42"})), json!(42));
        assert_eq!(
            err("parseJson", json!({"input": "{\n  \"a\": 1,\n  \"b\": }"})),
            "parameter `input` is not valid JSON: expected value at line 3 column 8"
        );
        assert_eq!(
            ok("stringifyJson", json!({"input": {"a": [1, "x"]}})),
            json!(r#"{"a":[1,"x"]}"#)
        );
        assert_eq!(
            ok("stringifyJson", json!({"input": {"a": 1}, "pretty": true})),
            json!("{\n  \"a\": 1\n}")
        );
        assert_eq!(ok("stringifyJson", json!({"input": "x"})), json!("\"x\""));
    }
}
