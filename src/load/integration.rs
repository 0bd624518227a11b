//! Node tree → `IntegrationFile`.

use super::keys::*;
use super::node::{Node, NodeValue, Span};
use super::playbook::{lifecycle, param_type, tasks};
use super::reader::{Obj, Reader};
use crate::commands::{Feature, KeyFieldSpec, ParamSpec, ParamType};
use crate::model::{
    Auth, CommandImpl, ConnParam, HttpDefaults, HttpRequest, IntegrationCommand, IntegrationFile,
    Playbook, RequestBody, RetryPolicy, Sp, TValue,
};
use indexmap::IndexMap;
use std::sync::Arc;

pub(crate) fn integration(r: &mut Reader, root: &Node) -> Option<IntegrationFile> {
    let o = r.obj(root, "an integration", INTEGRATION_KEYS)?;
    let name = r
        .req_text(&o, "name", "the integration")
        .unwrap_or_else(|| Sp::new(String::new(), Span::new(0, 0)));
    let description = r.text_or_empty(&o, "description", "the integration");
    let connection = o
        .get("connection")
        .map(|n| conn_params(r, n))
        .unwrap_or_default();
    let http = o.get("http").map(|n| http(r, n)).unwrap_or_default();
    let mut commands = IndexMap::new();
    if let Some(n) = r.require(&o, "commands", "the integration") {
        match &n.value {
            NodeValue::Map(m) => {
                for (cname, (cspan, cnode)) in m {
                    if let Some(c) = command(r, Sp::new(cname.clone(), *cspan), cnode) {
                        commands.insert(cname.clone(), c);
                    }
                }
            }
            _ => r.wrong_type(n, "`commands`", "a mapping of command name: command"),
        }
    }
    Some(IntegrationFile {
        file: r.file.clone(),
        name,
        description,
        connection,
        custom_parameters: r
            .opt_bool(&o, "custom_parameters", "the integration")
            .unwrap_or(false),
        http,
        commands,
    })
}

fn conn_params(r: &mut Reader, node: &Node) -> Vec<ConnParam> {
    let NodeValue::Seq(items) = &node.value else {
        r.wrong_type(node, "`connection`", "a list of connection parameters");
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let Some(o) = r.obj(item, "a connection parameter", CONN_PARAM_KEYS) else {
            continue;
        };
        let Some(name) = r.req_text(&o, "name", "a connection parameter") else {
            continue;
        };
        param_type(r, o.get("type"));
        out.push(ConnParam {
            display: r
                .opt_text(&o, "display", "a connection parameter")
                .map(|s| s.value)
                .unwrap_or_else(|| name.value.clone()),
            required: r
                .opt_bool(&o, "required", "a connection parameter")
                .unwrap_or(false),
            sensitive: r
                .opt_bool(&o, "sensitive", "a connection parameter")
                .unwrap_or(false),
            default: o.get("default").map(Node::to_json),
            options: r.options(&o),
            description: r.text_or_empty(&o, "description", "a connection parameter"),
            name,
        });
    }
    out
}

fn http(r: &mut Reader, node: &Node) -> HttpDefaults {
    let Some(o) = r.obj(node, "`http`", HTTP_KEYS) else {
        return HttpDefaults::default();
    };
    HttpDefaults {
        base_url: o.get("base_url").map(|n| r.tvalue(n)),
        auth: o.get("auth").and_then(|n| auth(r, n)),
        headers: o.get("headers").map(|n| r.tvalue(n)),
        error_message: o
            .get("error_message")
            .map(|n| r.text_list(n, "`error_message`"))
            .unwrap_or_default(),
        retry: o.get("retry").and_then(|n| retry_policy(r, n)),
        timeout: r.opt_number(&o, "timeout", "`http`").map(|t| t.value),
        verify_tls: o.get("verify_tls").map(|n| r.tvalue(n)),
    }
}

fn auth(r: &mut Reader, node: &Node) -> Option<Auth> {
    let o = r.obj(node, "`auth`", AUTH_KEYS)?;
    let pair = |r: &mut Reader, o: &Obj, key: &str, a: &str, b: &str| -> Option<(TValue, TValue)> {
        let n = o.get(key)?;
        let po = r.obj(n, &format!("`auth.{key}`"), &[a, b])?;
        let x = r
            .require(&po, a, &format!("`auth.{key}`"))
            .map(|n| r.tvalue(n))?;
        let y = r
            .require(&po, b, &format!("`auth.{key}`"))
            .map(|n| r.tvalue(n))?;
        Some((x, y))
    };
    if let Some(by) = o.get("by") {
        let by = r.tvalue(by);
        let basic = pair(r, &o, "basic", "username", "password")?;
        let bearer = r.require(&o, "bearer", "`auth`").map(|n| r.tvalue(n))?;
        return Some(Auth::Select {
            by,
            basic: Box::new(basic),
            bearer,
        });
    }
    if let Some(b) = o.get("bearer") {
        return Some(Auth::Bearer(r.tvalue(b)));
    }
    if let Some((username, password)) = pair(r, &o, "basic", "username", "password") {
        return Some(Auth::Basic { username, password });
    }
    if let Some((name, value)) = pair(r, &o, "header", "name", "value") {
        return Some(Auth::Header { name, value });
    }
    None
}

fn retry_policy(r: &mut Reader, node: &Node) -> Option<RetryPolicy> {
    let what = "`http.retry`";
    let o = r.obj(
        node,
        what,
        &[
            "on_status",
            "attempts",
            "backoff",
            "base_delay",
            "max_delay",
            "respect_retry_after",
        ],
    )?;
    let mut p = RetryPolicy::default();
    if let Some(n) = o.get("on_status") {
        match &n.value {
            NodeValue::Seq(items) => {
                p.on_status = items
                    .iter()
                    .filter_map(|i| match &i.value {
                        NodeValue::Number(x) => x.as_u64().and_then(|c| u16::try_from(c).ok()),
                        _ => {
                            r.wrong_type(i, "a status code", "a number");
                            None
                        }
                    })
                    .collect()
            }
            _ => r.wrong_type(n, "`on_status`", "a list of status codes"),
        }
    }
    if let Some(a) = r.opt_count(&o, "attempts", what) {
        p.attempts = a.value;
    }
    if let Some(n) = o.get("backoff") {
        p.exponential = r.choice(n, "backoff", &["exponential", "constant"]) != Some("constant");
    }
    if let Some(d) = r.opt_number(&o, "base_delay", what) {
        p.base_delay = d.value.max(0.0);
    }
    if let Some(d) = r.opt_number(&o, "max_delay", what) {
        p.max_delay = d.value.max(0.0);
    }
    if let Some(b) = r.opt_bool(&o, "respect_retry_after", what) {
        p.respect_retry_after = b;
    }
    Some(p)
}

fn command(r: &mut Reader, name: Sp<String>, node: &Node) -> Option<IntegrationCommand> {
    let what = format!("command `{}`", name.value);
    let o = r.obj(node, &what, COMMAND_KEYS)?;
    let features = match o.get("features") {
        Some(n) => r
            .text_list(n, "`features`")
            .into_iter()
            .filter_map(|f| match Feature::parse(&f.value) {
                Some(x) => Some(x),
                None => {
                    r.error(
                        "Y006",
                        f.span,
                        format!("`{}` is not a feature", f.value),
                        Some("features are: command, conditional, transform, adhoc".into()),
                    );
                    None
                }
            })
            .collect(),
        None => vec![Feature::Command, Feature::Adhoc],
    };
    let mut inputs = Vec::new();
    let mut input_spans = Vec::new();
    if let Some(n) = o.get("inputs") {
        match &n.value {
            NodeValue::Seq(items) => {
                for item in items {
                    if let Some(p) = param_spec(r, item) {
                        inputs.push(p);
                        input_spans.push(item.span);
                    }
                }
            }
            _ => r.wrong_type(n, "`inputs`", "a list of parameters"),
        }
    }
    let mut key_fields = Vec::new();
    if let Some(n) = o.get("key_fields") {
        match &n.value {
            NodeValue::Map(m) => {
                for (k, (_, v)) in m {
                    // `name: $.path`, or `name: { path: $.path, parse_json: true }`.
                    let (path_node, parse_json) = match &v.value {
                        NodeValue::Map(_) => {
                            let Some(ko) = r.obj(v, &format!("key field `{k}`"), KEY_FIELD_KEYS)
                            else {
                                continue;
                            };
                            let Some(p) = r.require(&ko, "path", &format!("key field `{k}`"))
                            else {
                                continue;
                            };
                            (
                                p,
                                r.opt_bool(&ko, "parse_json", &format!("key field `{k}`"))
                                    .unwrap_or(false),
                            )
                        }
                        _ => (v, false),
                    };
                    if let Some(path) = r.text(path_node, "a key field path") {
                        key_fields.push((
                            KeyFieldSpec {
                                name: k.clone(),
                                path: path.value,
                                parse_json,
                            },
                            path_node.span,
                        ));
                    }
                }
            }
            _ => r.wrong_type(n, "`key_fields`", "a mapping of name: JSONPath"),
        }
    }
    let implementation = match (o.get("request"), o.get("tasks")) {
        (Some(req), _) => request(r, req)
            .map(|q| CommandImpl::Request(Box::new(q)))
            .unwrap_or(CommandImpl::Missing),
        (None, Some(t)) => {
            let outputs = match o.get("outputs") {
                Some(n) => match &n.value {
                    NodeValue::Map(m) => m
                        .iter()
                        .map(|(k, (ks, v))| (k.clone(), (*ks, r.tvalue(v))))
                        .collect(),
                    _ => {
                        r.wrong_type(n, "`outputs`", "a mapping of output model field: value");
                        IndexMap::new()
                    }
                },
                None => IndexMap::new(),
            };
            let mut body_problems = crate::model::LoadProblems::default();
            let body = Playbook {
                file: r.file.clone(),
                name: name.clone(),
                description: String::new(),
                status: Sp::new(Default::default(), name.span),
                // The body reads the command's inputs as <<input.*>>.
                inputs: inputs
                    .iter()
                    .zip(&input_spans)
                    .map(|(p, span)| crate::model::InputDecl {
                        name: Sp::new(p.name.clone(), *span),
                        display: Some(p.display.clone()),
                        ty: p.ty,
                        required: p.required,
                        default: p.default.clone(),
                        options: p.options.clone(),
                        description: p.description.clone(),
                    })
                    .collect(),
                outputs,
                tasks: tasks(r, t, &mut body_problems),
                tasks_span: t.span,
                load_problems: body_problems.clone(),
            };
            CommandImpl::Tasks(Arc::new(body))
        }
        (None, None) => CommandImpl::Missing,
    };
    Some(IntegrationCommand {
        display: r
            .opt_text(&o, "display", &what)
            .map(|s| s.value)
            .unwrap_or_else(|| name.value.clone()),
        category: r
            .opt_text(&o, "category", &what)
            .map(|s| s.value)
            .unwrap_or_default(),
        description: r
            .opt_text(&o, "description", &what)
            .map(|s| s.value)
            .unwrap_or_default(),
        features,
        inputs,
        input_spans,
        key_fields,
        status: lifecycle(r, o.get("status"), "status (live or draft)").value,
        implementation,
        span: node.span,
        name,
    })
}

pub(crate) fn param_spec(r: &mut Reader, node: &Node) -> Option<ParamSpec> {
    let o = r.obj(node, "a parameter", PARAM_KEYS)?;
    let display = r.opt_text(&o, "display", "a parameter");
    let name = match (r.opt_text(&o, "name", "a parameter"), &display) {
        (Some(n), _) => n.value,
        (None, Some(d)) => crate::util::snake_case(&d.value),
        (None, None) => {
            r.require(&o, "name", "a parameter");
            return None;
        }
    };
    let ty = param_type(r, o.get("type")).unwrap_or(ParamType::Text);
    let mut p = ParamSpec::new(
        &name,
        &display.map(|d| d.value).unwrap_or_else(|| name.clone()),
        ty,
    );
    p.required = r.opt_bool(&o, "required", "a parameter").unwrap_or(false);
    p.default = o.get("default").map(Node::to_json);
    p.options = r.options(&o);
    p.description = r.text_or_empty(&o, "description", "a parameter");
    p.sample = o.get("sample").map(Node::to_json);
    p.min = r.opt_number(&o, "min", "a parameter").map(|n| n.value);
    p.max = r.opt_number(&o, "max", "a parameter").map(|n| n.value);
    p.min_items = r
        .opt_count(&o, "min_items", "a parameter")
        .map(|n| n.value as usize);
    p.max_items = r
        .opt_count(&o, "max_items", "a parameter")
        .map(|n| n.value as usize);
    Some(p)
}

fn request(r: &mut Reader, node: &Node) -> Option<HttpRequest> {
    let o = r.obj(node, "`request`", REQUEST_KEYS)?;
    let method = match o.get("method") {
        Some(n) => r.tvalue(n),
        None => TValue::literal(serde_json::Value::String("GET".into()), node.span),
    };
    let path = match r.require(&o, "path", "`request`") {
        Some(n) => r.tvalue(n),
        None => TValue::literal(serde_json::Value::String(String::new()), node.span),
    };
    let body = if let Some(b) = o.get("body") {
        RequestBody::Json(r.tvalue(b))
    } else if let Some(f) = o.get("form") {
        RequestBody::Form(r.tvalue(f))
    } else if let Some(m) = o.get("multipart") {
        RequestBody::Multipart(r.tvalue(m))
    } else {
        RequestBody::None
    };
    Some(HttpRequest {
        method,
        path,
        query: o.get("query").map(|n| r.tvalue(n)),
        headers: o.get("headers").map(|n| r.tvalue(n)),
        body,
        for_each: o.get("for_each").map(|n| r.tvalue(n)),
        return_data: r.opt_text(&o, "return_data", "`request`"),
        result: r.opt_text(&o, "result", "`request`"),
        save_file: o.get("save_file").map(|n| r.tvalue(n)),
        timeout: r.opt_number(&o, "timeout", "`request`").map(|t| t.value),
        span: node.span,
    })
}
