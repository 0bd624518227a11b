//! Text utilities: comparison, search, concatenation, splitting, case, regex.

use super::{utility, Args, ParamSpec, ParamType, Registry, UtilityContext};
use serde_json::{json, Value};

pub(super) fn register(r: &mut Registry) {
    utility("equals", "Text Equals to", "Text", equals)
        .describe("Checks if the two input texts are identical.")
        .input(
            ParamSpec::new("input1", "Input 1", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .input(
            ParamSpec::new("input2", "Input 2", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility("contains", "Contains Text", "Text", contains)
        .describe("Checks if the input text contains the specified text.")
        .input(
            ParamSpec::new("input", "Input", ParamType::Text)
                .required()
                .sample(json!("Welcome to use the SOAR product")),
        )
        .input(
            ParamSpec::new("search_value", "Search Value", ParamType::Text)
                .required()
                .sample(json!("SOAR")),
        )
        .returns("boolean")
        .conditional()
        .register(r);
    utility(
        "concatToRear",
        "Concat Text to Rear",
        "Text",
        concat_to_rear,
    )
    .describe("Appends a text to the end of the input text.")
    .input(
        ParamSpec::new("input", "Input", ParamType::Text)
            .required()
            .sample(json!("Join ")),
    )
    .input(
        ParamSpec::new("value", "Value", ParamType::Text)
            .required()
            .sample(json!("Text")),
    )
    .register(r);
}

fn equals(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(a.text("input1")? == a.text("input2")?))
}

fn contains(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::Bool(
        a.text("input")?.contains(a.text("search_value")?),
    ))
}

fn concat_to_rear(a: &Args, _: &UtilityContext) -> Result<Value, String> {
    Ok(Value::String(format!(
        "{}{}",
        a.text("input")?,
        a.text("value")?
    )))
}
