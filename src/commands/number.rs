//! Number utilities: comparisons, arithmetic, rounding, parsing and aggregates over lists.

use super::{number_value, quote, utility, Args, ParamSpec, ParamType, Registry, UtilityContext};
use serde_json::{json, Value};

const CAT: &str = "Number";

fn operand(n: u8, sample: f64) -> ParamSpec {
    ParamSpec::new(
        &format!("input{n}"),
        &format!("Input {n}"),
        ParamType::Number,
    )
    .required()
    .sample(json!(sample))
}

fn numbers() -> ParamSpec {
    ParamSpec::new("input", "Input", ParamType::NumberArray)
        .required()
        .sample(json!([3, 1, 4]))
}

type Comparison = fn(&Args, &UtilityContext) -> Result<Value, String>;
type Arithmetic = fn(&Args, &UtilityContext) -> Result<Value, String>;

pub(super) fn register(r: &mut Registry) {
    let comparisons: [(&str, &str, &str, Comparison); 5] = [
        ("greaterThan", "Greater than", "greater than", greater_than),
        ("lessThan", "Less than", "less than", less_than),
        (
            "greaterThanOrEqual",
            "Greater than or Equal to",
            "greater than or equal to",
            greater_or_equal,
        ),
        (
            "lessThanOrEqual",
            "Less than or Equal to",
            "less than or equal to",
            less_or_equal,
        ),
        (
            "numberEquals",
            "Number Equals to",
            "equal to",
            number_equals,
        ),
    ];
    for (name, display, relation, f) in comparisons {
        utility(name, display, CAT, f)
            .describe(&format!(
                "Checks if the first number is {relation} the second number."
            ))
            .input(operand(1, 8000.0))
            .input(operand(2, 8000.0))
            .returns("boolean")
            .conditional()
            .register(r);
    }
    let arithmetic: [(&str, &str, &str, Arithmetic); 5] = [
        ("add", "Add", "The sum of the two numbers.", add),
        ("subtract", "Subtract", "The first number minus the second number.", subtract),
        ("multiply", "Multiply", "The product of the two numbers.", multiply),
        ("divide", "Divide", "The first number divided by the second number.", divide),
        (
            "modulo",
            "Modulo",
            "The remainder of dividing the first number by the second (with the sign of the first).",
            modulo,
        ),
    ];
    for (name, display, description, f) in arithmetic {
        utility(name, display, CAT, f)
            .describe(description)
            .input(operand(1, 7.0))
            .input(operand(2, 2.0))
            .returns("number")
            .register(r);
    }
    utility("round", "Round Number", CAT, round)
        .describe(
            "Rounds a number to a number of decimal digits (half away from zero); negative digits \
             round to tens, hundreds, ...",
        )
        .input(
            ParamSpec::new("input", "Input", ParamType::Number)
                .required()
                .sample(json!(4.56789)),
        )
        .input(
            ParamSpec::new("digits", "Digits", ParamType::Number)
                .default(json!(0))
                .sample(json!(2)),
        )
        .returns("number")
        .register(r);
    utility("abs", "Absolute Value", CAT, abs)
        .describe("The absolute value of a number.")
        .input(
            ParamSpec::new("input", "Input", ParamType::Number)
                .required()
                .sample(json!(-5)),
        )
        .returns("number")
        .register(r);
    utility("toNumber", "Convert Text to Number", CAT, to_number)
        .describe(
            "Reads a number from text: integers, decimals and exponents (\"1e3\"); surrounding \
             whitespace is ignored.",
        )
        .input(
            ParamSpec::new("input", "Input", ParamType::Text)
                .required()
                .sample(json!("42")),
        )
        .returns("number")
        .register(r);
    utility("sum", "Sum of Numbers", CAT, sum)
        .describe("The sum of a list of numbers (0 for an empty list).")
        .input(numbers())
        .returns("number")
        .register(r);
    utility("max", "Maximum Number", CAT, max)
        .describe("The largest number of a non-empty list.")
        .input(numbers())
        .returns("number")
        .register(r);
    utility("min", "Minimum Number", CAT, min)
        .describe("The smallest number of a non-empty list.")
        .input(numbers())
        .returns("number")
        .register(r);
    utility("average", "Average of Numbers", CAT, average)
        .describe("The arithmetic mean of a non-empty list of numbers.")
        .input(numbers())
        .returns("number")
        .register(r);
}

fn pair(a: &Args) -> Result<(f64, f64), String> {
    Ok((a.number("input1")?, a.number("input2")?))
}

fn greater_than(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    Ok(Value::Bool(x > y))
}

fn less_than(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    Ok(Value::Bool(x < y))
}

fn greater_or_equal(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    Ok(Value::Bool(x >= y))
}

fn less_or_equal(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    Ok(Value::Bool(x <= y))
}

fn number_equals(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    Ok(Value::Bool(x == y))
}

fn add(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    number_value(x + y)
}

fn subtract(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    number_value(x - y)
}

fn multiply(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    number_value(x * y)
}

fn divide(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    if y == 0.0 {
        return Err(format!(
            "cannot divide {x} by zero (parameter `input2` is 0)"
        ));
    }
    number_value(x / y)
}

fn modulo(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let (x, y) = pair(a)?;
    if y == 0.0 {
        return Err(format!(
            "cannot take {x} modulo zero (parameter `input2` is 0)"
        ));
    }
    number_value(x % y)
}

fn round(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let x = a.number("input")?;
    let digits = a.opt_int("digits")?.unwrap_or(0);
    if !(-15..=15).contains(&digits) {
        return Err(format!(
            "parameter `digits` must be between -15 and 15, got {digits}"
        ));
    }
    // `digits` is within ±15, so the cast and the power are exact.
    let factor = 10f64.powi(digits.unsigned_abs() as i32);
    let rounded = if digits >= 0 {
        let scaled = x * factor;
        // A number too large to scale has no fractional digits left to round.
        if scaled.is_finite() {
            scaled.round() / factor
        } else {
            x
        }
    } else {
        (x / factor).round() * factor
    };
    number_value(rounded)
}

fn abs(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    number_value(a.number("input")?.abs())
}

fn to_number(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let text = a.text("input")?;
    let t = text.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Ok(Value::from(i));
    }
    // Rust also reads "inf" and "NaN"; those are not numbers a playbook can use.
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() => number_value(f),
        _ => Err(format!(
            "parameter `input` is not a number: {}",
            quote(text)
        )),
    }
}

fn values(a: &Args) -> Result<Vec<f64>, String> {
    a.array("input")?
        .iter()
        .enumerate()
        .map(|(i, v)| {
            v.as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("parameter `input`: element {i} is not a number ({v})"))
        })
        .collect()
}

fn non_empty(a: &Args) -> Result<Vec<f64>, String> {
    let v = values(a)?;
    if v.is_empty() {
        return Err("parameter `input` is an empty list".to_owned());
    }
    Ok(v)
}

fn sum(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    number_value(values(a)?.iter().sum())
}

fn max(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    number_value(non_empty(a)?.into_iter().fold(f64::NEG_INFINITY, f64::max))
}

fn min(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    number_value(non_empty(a)?.into_iter().fold(f64::INFINITY, f64::min))
}

fn average(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    let v = non_empty(a)?;
    // When the plain sum overflows, sum the values divided by n instead.
    let n = v.len() as f64;
    let total: f64 = v.iter().sum();
    if total.is_finite() {
        number_value(total / n)
    } else {
        number_value(v.iter().map(|x| x / n).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{err, ok};
    use serde_json::json;

    #[test]
    fn comparisons() {
        assert_eq!(
            ok("greaterThan", json!({"input1": 8000, "input2": 8000})),
            json!(false)
        );
        assert_eq!(
            ok("greaterThan", json!({"input1": "8001", "input2": 8000})),
            json!(true)
        );
        assert_eq!(
            ok("greaterThan", json!({"input1": 2.5, "input2": 10})),
            json!(false)
        );
        assert_eq!(
            ok("lessThan", json!({"input1": 2.5, "input2": 10})),
            json!(true)
        );
        assert_eq!(
            ok("greaterThanOrEqual", json!({"input1": 3, "input2": 3})),
            json!(true)
        );
        assert_eq!(
            ok("lessThanOrEqual", json!({"input1": 4, "input2": 3})),
            json!(false)
        );
        assert_eq!(
            ok("numberEquals", json!({"input1": "3.0", "input2": 3})),
            json!(true)
        );
        let e = err("greaterThan", json!({"input1": "abc", "input2": 1}));
        assert_eq!(
            e,
            "parameter `input1`: expected a number, got the text \"abc\""
        );
    }

    #[test]
    fn arithmetic_keeps_integers_whole() {
        assert_eq!(ok("add", json!({"input1": 2, "input2": 3})), json!(5));
        assert_eq!(
            ok("add", json!({"input1": 0.1, "input2": 0.2}))
                .as_f64()
                .map(|f| (f - 0.3).abs() < 1e-12),
            Some(true)
        );
        assert_eq!(ok("add", json!({"input1": 2.5, "input2": 0.5})), json!(3));
        assert_eq!(ok("subtract", json!({"input1": 2, "input2": 5})), json!(-3));
        assert_eq!(
            ok("multiply", json!({"input1": 1.5, "input2": 3})),
            json!(4.5)
        );
        assert_eq!(ok("divide", json!({"input1": 7, "input2": 2})), json!(3.5));
        assert_eq!(ok("divide", json!({"input1": 6, "input2": 3})), json!(2));
        assert_eq!(
            err("divide", json!({"input1": 1, "input2": 0})),
            "cannot divide 1 by zero (parameter `input2` is 0)"
        );
        assert_eq!(ok("modulo", json!({"input1": 7, "input2": 3})), json!(1));
        assert_eq!(ok("modulo", json!({"input1": -7, "input2": 3})), json!(-1));
        assert!(err("modulo", json!({"input1": 7, "input2": 0})).contains("modulo zero"));
        let e = err("multiply", json!({"input1": 1e300, "input2": 1e300}));
        assert!(e.contains("not a finite number"), "{e}");
    }

    #[test]
    fn rounding() {
        assert_eq!(ok("round", json!({"input": 4.56789})), json!(5));
        assert_eq!(
            ok("round", json!({"input": 4.56789, "digits": 2})),
            json!(4.57)
        );
        assert_eq!(ok("round", json!({"input": 2.5})), json!(3));
        assert_eq!(ok("round", json!({"input": -2.5})), json!(-3));
        assert_eq!(
            ok("round", json!({"input": 1234, "digits": -2})),
            json!(1200)
        );
        assert_eq!(
            ok("round", json!({"input": 1e300, "digits": 10})),
            json!(1e300)
        );
        assert_eq!(
            err("round", json!({"input": 1, "digits": 99})),
            "parameter `digits` must be between -15 and 15, got 99"
        );
        assert_eq!(ok("abs", json!({"input": -5})), json!(5));
    }

    #[test]
    fn parsing() {
        assert_eq!(ok("toNumber", json!({"input": " 42 "})), json!(42));
        assert_eq!(ok("toNumber", json!({"input": "-2.5"})), json!(-2.5));
        assert_eq!(ok("toNumber", json!({"input": "1e3"})), json!(1000));
        assert_eq!(ok("toNumber", json!({"input": 7})), json!(7));
        assert_eq!(
            err("toNumber", json!({"input": "12abc"})),
            "parameter `input` is not a number: \"12abc\""
        );
        assert_eq!(
            err("toNumber", json!({"input": "NaN"})),
            "parameter `input` is not a number: \"NaN\""
        );
        assert_eq!(
            err("toNumber", json!({"input": "inf"})),
            "parameter `input` is not a number: \"inf\""
        );
    }

    #[test]
    fn aggregates() {
        assert_eq!(ok("sum", json!({"input": [1, 2, 3.5]})), json!(6.5));
        assert_eq!(ok("sum", json!({"input": []})), json!(0));
        assert_eq!(ok("sum", json!({"input": "[1, \"2\"]"})), json!(3));
        assert_eq!(ok("max", json!({"input": [3, 1, 4]})), json!(4));
        assert_eq!(ok("min", json!({"input": [3, -1, 4]})), json!(-1));
        assert_eq!(ok("average", json!({"input": [1, 2]})), json!(1.5));
        assert_eq!(
            ok("average", json!({"input": [1e308, 1e308]})),
            json!(1e308)
        );
        assert_eq!(
            err("max", json!({"input": []})),
            "parameter `input` is an empty list"
        );
        assert_eq!(
            err("sum", json!({"input": [1, "x"]})),
            "parameter `input`: element 1: expected a number, got the text \"x\""
        );
    }
}
