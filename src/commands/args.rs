//! Typed access to a command's arguments, after the engine coerced them to the declared types.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default)]
pub struct Args {
    values: Map<String, Value>,
}

impl Args {
    pub fn new(values: Map<String, Value>) -> Self {
        Args { values }
    }
    pub fn into_map(self) -> Map<String, Value> {
        self.values
    }
    pub fn map(&self) -> &Map<String, Value> {
        &self.values
    }
    /// The value, or `Null` when absent.
    pub fn value(&self, name: &str) -> &Value {
        self.values.get(name).unwrap_or(&Value::Null)
    }
    pub fn is_set(&self, name: &str) -> bool {
        !self.value(name).is_null()
    }
    pub fn text(&self, name: &str) -> Result<&str, String> {
        match self.value(name) {
            Value::String(s) => Ok(s),
            Value::Null => Err(format!("parameter `{name}` is required")),
            other => Err(format!(
                "parameter `{name}` must be text, got {}",
                type_name(other)
            )),
        }
    }
    pub fn opt_text(&self, name: &str) -> Result<Option<&str>, String> {
        match self.value(name) {
            Value::Null => Ok(None),
            _ => self.text(name).map(Some),
        }
    }
    pub fn number(&self, name: &str) -> Result<f64, String> {
        match self.value(name) {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| format!("parameter `{name}` is not a finite number")),
            Value::Null => Err(format!("parameter `{name}` is required")),
            other => Err(format!(
                "parameter `{name}` must be a number, got {}",
                type_name(other)
            )),
        }
    }
    pub fn opt_number(&self, name: &str) -> Result<Option<f64>, String> {
        match self.value(name) {
            Value::Null => Ok(None),
            _ => self.number(name).map(Some),
        }
    }
    /// A whole number (fails on fractions).
    pub fn int(&self, name: &str) -> Result<i64, String> {
        let n = self.number(name)?;
        if n.fract() != 0.0 || !n.is_finite() || n.abs() > 9.0e15 {
            return Err(format!(
                "parameter `{name}` must be a whole number, got {n}"
            ));
        }
        Ok(n as i64)
    }
    pub fn opt_int(&self, name: &str) -> Result<Option<i64>, String> {
        match self.value(name) {
            Value::Null => Ok(None),
            _ => self.int(name).map(Some),
        }
    }
    pub fn boolean(&self, name: &str) -> Result<bool, String> {
        match self.value(name) {
            Value::Bool(b) => Ok(*b),
            Value::Null => Err(format!("parameter `{name}` is required")),
            other => Err(format!(
                "parameter `{name}` must be true or false, got {}",
                type_name(other)
            )),
        }
    }
    pub fn opt_boolean(&self, name: &str) -> Result<Option<bool>, String> {
        match self.value(name) {
            Value::Null => Ok(None),
            _ => self.boolean(name).map(Some),
        }
    }
    pub fn array(&self, name: &str) -> Result<&Vec<Value>, String> {
        match self.value(name) {
            Value::Array(a) => Ok(a),
            Value::Null => Err(format!("parameter `{name}` is required")),
            other => Err(format!(
                "parameter `{name}` must be a list, got {}",
                type_name(other)
            )),
        }
    }
    /// A list of texts; non-text elements are written as compact JSON.
    pub fn text_array(&self, name: &str) -> Result<Vec<String>, String> {
        Ok(self.array(name)?.iter().map(value_to_text).collect())
    }
    pub fn object(&self, name: &str) -> Result<&Map<String, Value>, String> {
        match self.value(name) {
            Value::Object(o) => Ok(o),
            Value::Null => Err(format!("parameter `{name}` is required")),
            other => Err(format!(
                "parameter `{name}` must be a JSON object, got {}",
                type_name(other)
            )),
        }
    }
}

/// "text", "a number", ... for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a JSON object",
    }
}

/// Text form of a value: strings as they are, null as empty, anything else as compact JSON.
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
