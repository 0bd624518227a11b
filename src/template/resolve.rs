//! Resolving parsed templates against a context. Data is substituted once and never re-parsed,
//! so text from an incident or an API that contains `<<...>>` comes out as it went in.

use super::parse::{Expr, Part, Scope, Template};
use super::path::Found;
use crate::commands::args::value_to_text;
use serde_json::Value;

/// Where scope roots come from.
pub trait Context {
    /// The value a scope starts at: for `tasks.ID.FIELD` that field of the task's output,
    /// for `tasks.ID` the whole output. `Err` explains why it is not available.
    fn scope(&self, scope: &Scope) -> Result<&Value, String>;

    /// How much a JSONPath in a reference may select and copy (the run's limits).
    fn query_budget(&self) -> crate::jsonpath::Budget {
        crate::jsonpath::Budget::default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResolveError {
    /// The reference as written, `<<...>>`.
    pub expr: String,
    pub message: String,
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.expr, self.message)
    }
}

/// The value of one reference: one value for a plain path, an array for a wildcard/filter.
pub fn resolve_expr(e: &Expr, ctx: &dyn Context) -> Result<Value, ResolveError> {
    let root = ctx.scope(&e.scope).map_err(|message| ResolveError {
        expr: e.display(),
        message,
    })?;
    let budget = ctx.query_budget();
    let too_much = |x: crate::jsonpath::Exceeded| ResolveError {
        expr: e.display(),
        message: x.to_string(),
    };
    match e.path.apply(root, budget).map_err(too_much)? {
        Found::One(v) => Ok(v.clone()),
        Found::Many(vs) => {
            crate::jsonpath::within_bytes(&vs, budget.bytes).map_err(too_much)?;
            Ok(Value::Array(vs.into_iter().cloned().collect()))
        }
        Found::Missing(at) => {
            let mut walked = scope_label(&e.scope);
            for s in &e.path.prefix[..at] {
                walked.push_str(&s.to_string());
            }
            let seg = &e.path.prefix[at];
            let what = match seg {
                super::Seg::Key(k) => format!("no key `{k}`"),
                super::Seg::Index(i) => format!("no element [{i}]"),
            };
            let found = match e.path.prefix[..at]
                .iter()
                .try_fold(root, |cur, s| match (s, cur) {
                    (super::Seg::Key(k), Value::Object(m)) => m.get(k),
                    (super::Seg::Index(i), Value::Array(a)) => {
                        usize::try_from(*i).ok().and_then(|i| a.get(i))
                    }
                    _ => None,
                }) {
                Some(Value::Object(m)) if m.is_empty() => " (it is an empty object)".to_string(),
                Some(Value::Object(m)) => {
                    let keys: Vec<&str> = m.keys().map(String::as_str).take(10).collect();
                    let hint = match seg {
                        super::Seg::Key(k) => crate::util::closest(k, keys.iter().copied())
                            .map(|c| format!("; did you mean `{c}`?"))
                            .unwrap_or_default(),
                        _ => String::new(),
                    };
                    format!(" (it has: {}{hint})", keys.join(", "))
                }
                Some(Value::Array(a)) => format!(" (it is a list of {} elements)", a.len()),
                Some(other) => format!(" (it is {})", crate::commands::args::type_name(other)),
                None => String::new(),
            };
            Err(ResolveError {
                expr: e.display(),
                message: format!("{what} in {walked}{found}"),
            })
        }
    }
}

fn scope_label(s: &Scope) -> String {
    match s {
        Scope::Incident => "incident".into(),
        Scope::Event => "event".into(),
        Scope::Input => "input".into(),
        Scope::Task { id, field: Some(f) } => format!("tasks.{id}.{f}"),
        Scope::Task { id, field: None } => format!("tasks.{id}"),
        Scope::Connector => "connector".into(),
        Scope::Item => "item".into(),
        Scope::Index => "index".into(),
        Scope::Playbook => "playbook".into(),
    }
}

impl Template {
    /// A lone reference keeps its JSON type; anything else becomes text.
    pub fn resolve(&self, ctx: &dyn Context) -> Result<Value, ResolveError> {
        if let Some(e) = self.lone() {
            return resolve_expr(e, ctx);
        }
        render_text(self, ctx).map(Value::String)
    }
}

/// Interpolates every reference into text (objects and arrays as compact JSON, null as empty).
pub fn render_text(t: &Template, ctx: &dyn Context) -> Result<String, ResolveError> {
    let mut out = String::new();
    for p in &t.parts {
        match p {
            Part::Text(s) => out.push_str(s),
            Part::Expr(e) => {
                let v = resolve_expr(e, ctx)?;
                match v {
                    Value::String(s) => out.push_str(&s),
                    other => out.push_str(&value_to_text(&other)),
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::parse_template;
    use super::*;
    use serde_json::json;

    struct Ctx {
        incident: Value,
        task: Value,
        connector: Value,
    }

    impl Context for Ctx {
        fn scope(&self, s: &Scope) -> Result<&Value, String> {
            match s {
                Scope::Incident => Ok(&self.incident),
                Scope::Connector => Ok(&self.connector),
                Scope::Task { id, field: Some(f) } if id == "scan" => {
                    self.task.get(f).ok_or_else(|| "no such field".to_string())
                }
                Scope::Task { id, .. } => Err(format!("task `{id}` has not run")),
                _ => Err("not available".into()),
            }
        }
    }

    fn ctx() -> Ctx {
        Ctx {
            incident: json!({"title": "Phish <<connector.apikey>> {{connector.apikey}}", "score": 70, "ips": ["1.1.1.1", "2.2.2.2"]}),
            task: json!({"rawData": {"data": [{"id": 1, "s": 5}, {"id": 2, "s": 9}]}, "returnData": "ok"}),
            connector: json!({"apikey": "sk-secret"}),
        }
    }

    fn render(raw: &str) -> Result<Value, ResolveError> {
        parse_template(raw).unwrap().resolve(&ctx())
    }

    #[test]
    fn lone_keeps_type_and_text_interpolates() {
        assert_eq!(render("<<incident.score>>").unwrap(), json!(70));
        assert_eq!(
            render("<<incident.ips>>").unwrap(),
            json!(["1.1.1.1", "2.2.2.2"])
        );
        assert_eq!(
            render("score=<<incident.score>>").unwrap(),
            json!("score=70")
        );
        assert_eq!(
            render("ips <<incident.ips>>").unwrap(),
            json!("ips [\"1.1.1.1\",\"2.2.2.2\"]")
        );
    }

    #[test]
    fn wildcards_and_filters_yield_arrays() {
        assert_eq!(
            render("<<tasks.scan.rawData.data[*].id>>").unwrap(),
            json!([1, 2])
        );
        assert_eq!(
            render("<<tasks.scan.rawData.data[?@.s > 6].id>>").unwrap(),
            json!([2])
        );
        assert_eq!(
            render("<<tasks.scan.rawData.nothing[*]>>").unwrap(),
            json!([])
        );
    }

    #[test]
    fn substituted_data_is_never_evaluated() {
        // The incident title contains a template that would reveal the API key if re-evaluated.
        let v = render("Title: <<incident.title>>").unwrap();
        assert_eq!(
            v,
            json!("Title: Phish <<connector.apikey>> {{connector.apikey}}")
        );
        assert!(!v.to_string().contains("sk-secret"));
        assert_eq!(
            render("<<incident.title>>").unwrap(),
            json!("Phish <<connector.apikey>> {{connector.apikey}}")
        );
    }

    #[test]
    fn missing_references_explain_themselves() {
        let e = render("<<tasks.scan.rawData.dta>>").unwrap_err();
        assert_eq!(e.expr, "<<tasks.scan.rawData.dta>>");
        assert_eq!(
            e.message,
            "no key `dta` in tasks.scan.rawData (it has: data; did you mean `data`?)"
        );
        let e = render("<<tasks.other.returnData>>").unwrap_err();
        assert_eq!(e.message, "task `other` has not run");
    }
}
