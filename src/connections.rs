//! Resolving a connection for use: parameter values (with `${env:VAR}` and `${file:PATH}`
//! references), the integration's defaults, required parameters, and the secrets to mask.
//! Owns no I/O besides reading those references.

use crate::model::{Connection, IntegrationFile};
use crate::secrets::Secrets;
use serde_json::{Map, Value};

/// A connection ready for requests: `params` is what `<<connector.*>>` reads.
#[derive(Debug, Clone)]
pub struct ResolvedConnection {
    pub name: String,
    pub params: Value,
    pub secrets: Secrets,
}

/// Resolves `conn` (or, with `None`, the integration's defaults alone) for `integration`.
pub fn resolve(
    conn: Option<&Connection>,
    integration: &IntegrationFile,
) -> Result<ResolvedConnection, String> {
    let name = conn
        .map(|c| c.name.value.clone())
        .unwrap_or_else(|| "(defaults)".into());
    let mut params = Map::new();
    let mut secrets = Secrets::default();
    let mut missing = Vec::new();
    for p in &integration.connection {
        let given = conn
            .and_then(|c| c.params.get(&p.name.value))
            .map(|(_, v)| v.clone());
        let value = match given.or_else(|| p.default.clone()) {
            Some(v) => expand(&v)
                .map_err(|e| format!("connection `{name}`, parameter `{}`: {e}", p.name.value))?,
            None => Value::Null,
        };
        let empty = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
        if p.required && empty {
            missing.push(p.display.clone());
        }
        if p.sensitive {
            if let Some(s) = value.as_str() {
                secrets.add(s);
            }
        }
        params.insert(p.name.value.clone(), value);
    }
    // Parameters the integration does not declare (REST API Callback's custom parameters).
    // One read with `${env:...}` or `${file:...}` is sensitive (D3's "Is sensitive data" for a
    // custom parameter): nobody keeps a URL or a tenant name in a secret store.
    if let Some(c) = conn {
        for (k, (_, v)) in &c.params {
            if !params.contains_key(k) {
                let value =
                    expand(v).map_err(|e| format!("connection `{name}`, parameter `{k}`: {e}"))?;
                if let (Some(raw), Some(secret)) = (v.as_str(), value.as_str()) {
                    if raw.contains("${") {
                        secrets.add(secret);
                    }
                }
                params.insert(k.clone(), value);
            }
        }
    }
    if !missing.is_empty() {
        let required: Vec<&str> = integration
            .connection
            .iter()
            .filter(|p| p.required)
            .map(|p| p.display.as_str())
            .collect();
        let all = match required.len() {
            1 => format!("{} is required.", required[0]),
            _ => format!("{} are all required.", required.join(", ")),
        };
        return Err(format!(
            "{all} Missing in connection `{name}`: {}.",
            missing.join(", ")
        ));
    }
    // Basic credentials travel base64-encoded; mask that form too.
    if let (Some(Value::String(u)), Some(Value::String(pw))) =
        (params.get("username"), params.get("password"))
    {
        secrets.add_basic(u, pw);
    }
    Ok(ResolvedConnection {
        name,
        params: Value::Object(params),
        secrets,
    })
}

/// `${env:VAR}` and `${file:PATH}` inside a text value (a whole value or part of one).
fn expand(v: &Value) -> Result<Value, String> {
    let Value::String(s) = v else {
        return Ok(v.clone());
    };
    if !s.contains("${") {
        return Ok(v.clone());
    }
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("`${` is never closed; write `${env:VAR}` or `${file:PATH}`".into());
        };
        let reference = &after[..end];
        let value = if let Some(var) = reference.strip_prefix("env:") {
            std::env::var(var).map_err(|_| format!("environment variable `{var}` is not set"))?
        } else if let Some(path) = reference.strip_prefix("file:") {
            // The default file-size limit: `expand` has no `--limit`s, and no secret is 10 MiB.
            let bytes = crate::limits::read_file(
                std::path::Path::new(path),
                crate::limits::Limits::default().file_size,
            )
            .map_err(|e| format!("cannot read secret file `{path}`: {e}"))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("cannot read secret file `{path}`: not UTF-8 text"))?;
            text.trim_end_matches(['\n', '\r']).to_owned()
        } else {
            return Err(format!(
                "`${{{reference}}}` is not a reference; use `${{env:VAR}}` or `${{file:PATH}}`"
            ));
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_str;
    use crate::model::Document;

    fn integration() -> std::sync::Arc<IntegrationFile> {
        let l = load_str("i.yaml", "kind: integration\nname: T\nconnection:\n  - { name: serverurl, display: Server URL, required: true, default: \"https://x\" }\n  - { name: apikey, display: API Key, required: true, sensitive: true }\n  - { name: apiversion, display: API Version, required: true, default: v1 }\ncommands:\n  Ping: { request: { path: /ping } }\n");
        match l.document {
            Some(Document::Integration(i)) => i,
            _ => panic!("{:?}", l.diagnostics),
        }
    }

    fn conn(params: &str) -> Connection {
        let l = load_str(
            "c.yaml",
            format!(
                "kind: connections\nconnections:\n  c:\n    integration: T\n    params: {params}\n"
            ),
        );
        match l.document {
            Some(Document::Connections(c)) => c.connections["c"].clone(),
            _ => panic!("{:?}", l.diagnostics),
        }
    }

    #[test]
    fn env_and_file_references_defaults_and_secrets() {
        std::env::set_var("CODELESS_TEST_KEY", "sk-from-env-1234");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("key");
        std::fs::write(&f, "sk-from-file-5678\n").unwrap();
        let r = resolve(
            Some(&conn("{ apikey: \"${env:CODELESS_TEST_KEY}\" }")),
            &integration(),
        )
        .unwrap();
        assert_eq!(r.params["apikey"], "sk-from-env-1234");
        assert_eq!(r.params["apiversion"], "v1");
        assert_eq!(r.secrets.mask("x sk-from-env-1234"), "x *****");
        let r = resolve(
            Some(&conn(&format!(
                "{{ apikey: \"${{file:{}}}\", extra: 1 }}",
                f.display()
            ))),
            &integration(),
        )
        .unwrap();
        assert_eq!(r.params["apikey"], "sk-from-file-5678");
        assert_eq!(r.params["extra"], 1);
    }

    #[test]
    fn missing_values_say_what_is_required() {
        let e = resolve(None, &integration()).unwrap_err();
        assert_eq!(e, "Server URL, API Key, API Version are all required. Missing in connection `(defaults)`: API Key.");
        let e = resolve(
            Some(&conn("{ apikey: \"${env:CODELESS_NOT_SET_ANYWHERE}\" }")),
            &integration(),
        )
        .unwrap_err();
        assert_eq!(e, "connection `c`, parameter `apikey`: environment variable `CODELESS_NOT_SET_ANYWHERE` is not set");
    }
}
