//! What a command is, independent of how it is implemented: parameters, features, key fields.
//! Shared by built-in utilities, integration commands and nested playbooks.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Parameter types of DESIGN.md §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    Text,
    Number,
    Boolean,
    Datetime,
    JsonObject,
    JsonArray,
    TextArray,
    NumberArray,
    File,
    TextTemplate,
    HtmlTemplate,
    /// Any JSON value (used by generic utilities such as `jsonStringify`).
    Any,
}

impl ParamType {
    pub const ALL: [ParamType; 12] = [
        ParamType::Text,
        ParamType::Number,
        ParamType::Boolean,
        ParamType::Datetime,
        ParamType::JsonObject,
        ParamType::JsonArray,
        ParamType::TextArray,
        ParamType::NumberArray,
        ParamType::File,
        ParamType::TextTemplate,
        ParamType::HtmlTemplate,
        ParamType::Any,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Text => "text",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::Datetime => "datetime",
            ParamType::JsonObject => "json_object",
            ParamType::JsonArray => "json_array",
            ParamType::TextArray => "text_array",
            ParamType::NumberArray => "number_array",
            ParamType::File => "file",
            ParamType::TextTemplate => "text_template",
            ParamType::HtmlTemplate => "html_template",
            ParamType::Any => "any",
        }
    }
    pub fn parse(s: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.name() == s)
    }
    /// Types that take one scalar value: an array given to them means batch execution.
    pub fn is_scalar(self) -> bool {
        matches!(
            self,
            ParamType::Text
                | ParamType::Number
                | ParamType::Boolean
                | ParamType::Datetime
                | ParamType::File
                | ParamType::TextTemplate
                | ParamType::HtmlTemplate
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Command,
    Conditional,
    Transform,
    Adhoc,
}

impl Feature {
    pub const ALL: [Feature; 4] = [
        Feature::Command,
        Feature::Conditional,
        Feature::Transform,
        Feature::Adhoc,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Feature::Command => "command",
            Feature::Conditional => "conditional",
            Feature::Transform => "transform",
            Feature::Adhoc => "adhoc",
        }
    }
    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    #[default]
    Live,
    Draft,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    /// Internal name: the snake_case of the display name.
    pub name: String,
    pub display: String,
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample: Option<Value>,
    /// Bounds of a number (inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Bounds of a list's length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_items: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_items: Option<usize>,
}

impl ParamSpec {
    pub fn new(name: &str, display: &str, ty: ParamType) -> Self {
        ParamSpec {
            name: name.to_owned(),
            display: display.to_owned(),
            ty,
            required: false,
            default: None,
            options: Vec::new(),
            description: String::new(),
            sample: None,
            min: None,
            max: None,
            min_items: None,
            max_items: None,
        }
    }

    /// Checks a value already coerced to this parameter's type against its bounds.
    pub fn check_bounds(&self, v: &Value) -> Result<(), String> {
        if let Some(n) = v.as_f64() {
            if let Some(min) = self.min.filter(|m| n < *m) {
                return Err(format!("{n} is less than the minimum {min}"));
            }
            if let Some(max) = self.max.filter(|m| n > *m) {
                return Err(format!("{n} is more than the maximum {max}"));
            }
        }
        if let Some(a) = v.as_array() {
            if let Some(min) = self.min_items.filter(|m| a.len() < *m) {
                return Err(format!("{} elements given; at least {min} needed", a.len()));
            }
            if let Some(max) = self.max_items.filter(|m| a.len() > *m) {
                return Err(format!("{} elements given; at most {max} allowed", a.len()));
            }
        }
        Ok(())
    }
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    pub fn default(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }
    pub fn options(mut self, opts: &[&str]) -> Self {
        self.options = opts.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn describe(mut self, d: &str) -> Self {
        self.description = d.to_owned();
        self
    }
    pub fn sample(mut self, v: Value) -> Self {
        self.sample = Some(v);
        self
    }
}

/// A key field: a name and the JSONPath that extracts it from `rawData`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyFieldSpec {
    pub name: String,
    pub path: String,
    /// Values that are JSON written as text are parsed (text that is not JSON stays text).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub parse_json: bool,
}

/// The declaration of a command (no implementation).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandSpec {
    /// Internal name as written in `command:`; `Integration.Command` for integration commands.
    pub name: String,
    pub display: String,
    pub category: String,
    pub description: String,
    pub features: Vec<Feature>,
    pub inputs: Vec<ParamSpec>,
    pub key_fields: Vec<KeyFieldSpec>,
    pub status: Lifecycle,
    /// Type of returnData, for documentation and validation of conditionals.
    pub returns: String,
}

impl CommandSpec {
    pub fn input(&self, name: &str) -> Option<&ParamSpec> {
        self.inputs.iter().find(|p| p.name == name)
    }
    pub fn has_feature(&self, f: Feature) -> bool {
        self.features.contains(&f)
    }
}
