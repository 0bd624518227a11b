//! Node tree → `ConnectionsFile`.

use super::keys::*;
use super::node::{Node, NodeValue};
use super::reader::Reader;
use crate::model::{Connection, ConnectionsFile, Sp, WrittenValue};
use indexmap::IndexMap;

pub(crate) fn connections(r: &mut Reader, root: &Node) -> Option<ConnectionsFile> {
    let o = r.obj(root, "a connections file", CONNECTIONS_KEYS)?;
    let mut out = IndexMap::new();
    if let Some(n) = r.require(&o, "connections", "the connections file") {
        match &n.value {
            NodeValue::Map(m) => {
                for (name, (ns, cn)) in m {
                    let what = format!("connection `{name}`");
                    let Some(co) = r.obj(cn, &what, CONNECTION_KEYS) else {
                        continue;
                    };
                    let Some(integration) = r.req_text(&co, "integration", &what) else {
                        continue;
                    };
                    let params = match co.get("params") {
                        Some(p) => match &p.value {
                            NodeValue::Map(pm) => pm
                                .iter()
                                .map(|(k, (ks, v))| (k.clone(), (*ks, v.to_json())))
                                .collect(),
                            NodeValue::Null => IndexMap::new(),
                            _ => {
                                r.wrong_type(
                                    p,
                                    &format!("`params` of {what}"),
                                    "a mapping of name: value",
                                );
                                IndexMap::new()
                            }
                        },
                        None => IndexMap::new(),
                    };
                    out.insert(
                        name.clone(),
                        Connection {
                            name: Sp::new(name.clone(), *ns),
                            integration,
                            params,
                            span: cn.span,
                        },
                    );
                }
            }
            _ => r.wrong_type(n, "`connections`", "a mapping of name: connection"),
        }
    }
    Some(ConnectionsFile {
        file: r.file.clone(),
        connections: out,
        written: written_values(root),
    })
}

/// Every scalar written in the file but `kind` and the connections' `integration`, whatever
/// the file's mistakes (a misspelt `params`, a connection that could not be loaded).
fn written_values(root: &Node) -> Vec<WrittenValue> {
    let mut out = Vec::new();
    let Some(top) = root.as_map() else {
        scalars(root, None, &mut out);
        return out;
    };
    for (key, (_, value)) in top {
        match (key.as_str(), value.as_map()) {
            ("kind", _) => {}
            ("connections", Some(conns)) => {
                for (name, (_, conn)) in conns {
                    let Some(fields) = conn.as_map() else {
                        scalars(conn, None, &mut out);
                        continue;
                    };
                    for (field, (_, v)) in fields {
                        match (field.as_str(), v.as_map()) {
                            ("integration", _) if v.as_str().is_some() => {}
                            ("params", Some(params)) => {
                                for (param, (_, pv)) in params {
                                    let at = Some((name.clone(), param.clone()));
                                    scalars(pv, at, &mut out);
                                }
                            }
                            _ => scalars(v, None, &mut out),
                        }
                    }
                }
            }
            _ => scalars(value, None, &mut out),
        }
    }
    out
}

fn scalars(n: &Node, param: Option<(String, String)>, out: &mut Vec<WrittenValue>) {
    match &n.value {
        NodeValue::Map(m) => {
            for (_, (_, v)) in m {
                scalars(v, param.clone(), out);
            }
        }
        NodeValue::Seq(items) => {
            for v in items {
                scalars(v, param.clone(), out);
            }
        }
        _ if n.span.len > 0 => out.push(WrittenValue {
            span: n.span,
            param,
        }),
        _ => {}
    }
}
