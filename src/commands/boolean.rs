//! Boolean utilities: logic and truth/null tests usable as conditions.

use super::{utility, Args, ParamSpec, ParamType, Registry, UtilityContext};
use serde_json::{json, Value};

const CAT: &str = "Boolean";

pub(super) fn register(r: &mut Registry) {
    let flag = |n: u8, sample: bool| {
        ParamSpec::new(
            &format!("input{n}"),
            &format!("Input {n}"),
            ParamType::Boolean,
        )
        .required()
        .sample(json!(sample))
    };
    utility("and", "And", CAT, and)
        .describe("True when both inputs are true.")
        .input(flag(1, true))
        .input(flag(2, false))
        .returns("boolean")
        .conditional()
        .register(r);
    utility("or", "Or", CAT, or)
        .describe("True when at least one of the inputs is true.")
        .input(flag(1, true))
        .input(flag(2, false))
        .returns("boolean")
        .conditional()
        .register(r);
    utility("not", "Not", CAT, not)
        .describe("The opposite of the input.")
        .input(
            ParamSpec::new("input", "Input", ParamType::Boolean)
                .required()
                .sample(json!(false)),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("isTrue", "Is True", CAT, is_true)
        .describe(
            "True when the input is the boolean true or the text \"true\" (any case, surrounding \
             whitespace ignored); false for anything else, including a missing value.",
        )
        .input(ParamSpec::new("input", "Input", ParamType::Any).sample(json!("true")))
        .returns("boolean")
        .conditional()
        .register(r);
    utility("isNull", "Is Null", CAT, is_null)
        .describe("True when the input is missing or null (an empty text or list is not null).")
        .input(ParamSpec::new("input", "Input", ParamType::Any).sample(json!(null)))
        .returns("boolean")
        .conditional()
        .register(r);
    utility("isNotNull", "Is Not Null", CAT, is_not_null)
        .describe("True when the input is present and not null.")
        .input(ParamSpec::new("input", "Input", ParamType::Any).sample(json!("value")))
        .returns("boolean")
        .conditional()
        .register(r);
}

// Both inputs are read before combining, so a bad second input is reported whatever the first.
fn and(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = (a.boolean("input1")?, a.boolean("input2")?);
    Ok(Value::Bool(x && y))
}

fn or(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = (a.boolean("input1")?, a.boolean("input2")?);
    Ok(Value::Bool(x || y))
}

fn not(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(!a.boolean("input")?))
}

fn is_true(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(match a.value("input") {
        Value::Bool(b) => *b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }))
}

fn is_null(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(a.value("input").is_null()))
}

fn is_not_null(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(!a.value("input").is_null()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use serde_json::json;

    #[test]
    fn logic() {
        for (x, y) in [(true, true), (true, false), (false, true), (false, false)] {
            assert_eq!(ok("and", json!({"input1": x, "input2": y})), json!(x && y));
            assert_eq!(ok("or", json!({"input1": x, "input2": y})), json!(x || y));
        }
        assert_eq!(
            ok("and", json!({"input1": "TRUE", "input2": "true"})),
            json!(true)
        );
        assert_eq!(ok("not", json!({"input": "false"})), json!(true));
        assert_eq!(
            err("and", json!({"input1": "yes", "input2": true})),
            "parameter `input1`: expected true or false, got the text \"yes\""
        );
        assert_eq!(
            err("or", json!({"input1": true})),
            "parameter `input2` is required"
        );
    }

    #[test]
    fn truth_and_null() {
        assert_eq!(ok("isTrue", json!({"input": true})), json!(true));
        assert_eq!(ok("isTrue", json!({"input": " True "})), json!(true));
        assert_eq!(ok("isTrue", json!({"input": "yes"})), json!(false));
        assert_eq!(ok("isTrue", json!({"input": 1})), json!(false));
        assert_eq!(ok("isTrue", json!({})), json!(false));
        assert_eq!(ok("isNull", json!({"input": null})), json!(true));
        assert_eq!(ok("isNull", json!({})), json!(true));
        assert_eq!(ok("isNull", json!({"input": ""})), json!(false));
        assert_eq!(ok("isNull", json!({"input": []})), json!(false));
        assert_eq!(ok("isNotNull", json!({"input": {"a": 1}})), json!(true));
        assert_eq!(ok("isNotNull", json!({"input": null})), json!(false));
    }
}
