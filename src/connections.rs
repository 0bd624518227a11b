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
/// Its secrets are registered for every cut of a text in the process (`Secrets::register`).
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
        let written = given.or_else(|| p.default.clone());
        let value = match &written {
            Some(v) => expand(v)
                .map_err(|e| format!("connection `{name}`, parameter `{}`: {e}", p.name.value))?,
            None => Value::Null,
        };
        let empty = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
        if p.required && empty {
            missing.push(p.display.clone());
        }
        let sensitive = p.sensitive || written.as_ref().is_some_and(is_reference);
        add_secrets(&mut secrets, &name, &p.name.value, &value, sensitive)?;
        params.insert(p.name.value.clone(), value);
    }
    // Parameters the integration does not declare (REST API Callback's custom parameters).
    if let Some(c) = conn {
        for (k, (_, v)) in &c.params {
            if !params.contains_key(k) {
                let value =
                    expand(v).map_err(|e| format!("connection `{name}`, parameter `{k}`: {e}"))?;
                add_secrets(&mut secrets, &name, k, &value, is_reference(v))?;
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
    let params = Value::Object(params);
    add_auth_secrets(&mut secrets, integration, &params);
    secrets.register();
    Ok(ResolvedConnection {
        name,
        params,
        secrets,
    })
}

/// Whether a value as written reads `${env:...}` or `${file:...}`: such a value is sensitive
/// (DESIGN §5), since nobody keeps a URL or a tenant name in a secret store.
fn is_reference(written: &Value) -> bool {
    written.as_str().is_some_and(|s| s.contains("${"))
}

/// The secrets parameter `param` holds: its value when `sensitive` (refused when shorter than
/// masking can handle), and the credentials of a URL written in it (`http://user:pw@host`).
pub(crate) fn add_secrets(
    secrets: &mut Secrets,
    connection: &str,
    param: &str,
    value: &Value,
    sensitive: bool,
) -> Result<(), String> {
    let Some(text) = value.as_str() else {
        return Ok(());
    };
    let too_short = |what: &str| {
        format!(
            "connection `{connection}`, parameter `{param}`: {what} is shorter than {} characters; \
             codeless refuses such secrets because masking them in output would mask ordinary text",
            crate::secrets::MIN_SECRET_CHARS
        )
    };
    let short = |s: &str| !s.is_empty() && s.chars().count() < crate::secrets::MIN_SECRET_CHARS;
    if sensitive {
        if short(text) {
            return Err(too_short("the sensitive value"));
        }
        secrets.add(text);
    }
    if let Some((user, password)) = url_credentials(text) {
        if short(&password) {
            return Err(too_short("the password in its URL"));
        }
        if !password.is_empty() {
            secrets.add(&password);
            secrets.add(&format!("{user}:{password}"));
            // Sent as HTTP Basic auth (`http::prepare` takes it out of the URL).
            secrets.add_basic(&user, &password);
        }
    }
    Ok(())
}

/// The user name and password (percent-decoded) of a URL that has them.
pub(crate) fn url_credentials(text: &str) -> Option<(String, String)> {
    if !text.contains("://") || !text.contains('@') {
        return None;
    }
    let url = url::Url::parse(text.trim()).ok()?;
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let password = url.password()?;
    Some((decode(url.username()), decode(password)))
}

/// The integration's `auth` credentials as this connection resolves them (whatever the names
/// of the parameters they read): the HTTP Basic pair as sent, the password, the bearer token,
/// the API-key header's value. Auth that reads more than the connection is left to the
/// parameters' own flags.
fn add_auth_secrets(secrets: &mut Secrets, integration: &IntegrationFile, params: &Value) {
    use crate::model::{Auth, TValue};
    let text = |v: &TValue| -> Option<String> {
        match v.resolve(&ConnectorScope(params)).ok()? {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(crate::commands::args::value_to_text(&other)),
        }
    };
    // As `http::prepare` sends it: a user name that is not set is empty.
    let basic = |secrets: &mut Secrets, user: &TValue, password: &TValue| {
        if let Some(pw) = text(password) {
            secrets.add(&pw);
            secrets.add_basic(&text(user).unwrap_or_default(), &pw);
        }
    };
    match &integration.http.auth {
        None => {}
        Some(Auth::Bearer(token)) => secrets.add(text(token).unwrap_or_default().trim()),
        Some(Auth::Basic { username, password }) => basic(secrets, username, password),
        Some(Auth::Header { value, .. }) => secrets.add(&text(value).unwrap_or_default()),
        Some(Auth::Select {
            basic: pair,
            bearer: token,
            ..
        }) => {
            basic(secrets, &pair.0, &pair.1);
            secrets.add(text(token).unwrap_or_default().trim());
        }
    }
}

/// Templates that may read only `connector`: the connection's own parameters.
struct ConnectorScope<'a>(&'a Value);

impl crate::template::Context for ConnectorScope<'_> {
    fn scope(&self, s: &crate::template::Scope) -> Result<&Value, String> {
        match s {
            crate::template::Scope::Connector => Ok(self.0),
            _ => Err("only the connection's parameters are known here".into()),
        }
    }
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
