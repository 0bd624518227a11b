//! Node tree → `ConnectionsFile`.

use super::keys::*;
use super::node::{Node, NodeValue};
use super::reader::Reader;
use crate::model::{Connection, ConnectionsFile, Sp};
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
    })
}
