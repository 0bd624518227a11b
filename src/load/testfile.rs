//! Node tree → `TestFile`.

use super::keys::*;
use super::node::{Node, NodeValue, Span};
use super::reader::Reader;
use crate::model::{Sp, TestCase, TestExpect, TestFile};
use indexmap::IndexMap;

pub(crate) fn testfile(r: &mut Reader, root: &Node) -> Option<TestFile> {
    let o = r.obj(root, "a test file", TEST_KEYS)?;
    let playbook = r
        .req_text(&o, "playbook", "the test file")
        .unwrap_or_else(|| Sp::new(String::new(), Span::new(0, 0)));
    let mut cases = Vec::new();
    if let Some(n) = r.require(&o, "cases", "the test file") {
        match &n.value {
            NodeValue::Seq(items) => {
                for item in items {
                    if let Some(c) = case(r, item) {
                        cases.push(c);
                    }
                }
            }
            _ => r.wrong_type(n, "`cases`", "a list of test cases"),
        }
    }
    Some(TestFile {
        file: r.file.clone(),
        playbook,
        cases,
    })
}

fn map_of<T>(
    r: &mut Reader,
    node: Option<&Node>,
    what: &str,
    f: impl Fn(&mut Reader, &Node) -> Option<T>,
) -> IndexMap<String, (Span, T)> {
    let Some(n) = node else {
        return IndexMap::new();
    };
    match &n.value {
        NodeValue::Map(m) => m
            .iter()
            .filter_map(|(k, (_, v))| f(r, v).map(|x| (k.clone(), (v.span, x))))
            .collect(),
        _ => {
            r.wrong_type(n, what, "a mapping");
            IndexMap::new()
        }
    }
}

fn case(r: &mut Reader, node: &Node) -> Option<TestCase> {
    let o = r.obj(node, "a test case", CASE_KEYS)?;
    let name = r.req_text(&o, "name", "a test case")?;
    let inputs = map_of(r, o.get("inputs"), "`inputs`", |_, n| Some(n.to_json()))
        .into_iter()
        .map(|(k, (_, v))| (k, v))
        .collect();
    let mocks = map_of(r, o.get("mocks"), "`mocks`", |_, n| Some(n.to_json()));
    let expect = match o.get("expect") {
        Some(n) => match r.obj(n, "`expect`", EXPECT_KEYS) {
            Some(e) => TestExpect {
                status: r.opt_text(&e, "status", "`expect`"),
                tasks: map_of(r, e.get("tasks"), "`expect.tasks`", |r, n| {
                    r.text(n, "a task status").map(|s| s.value)
                }),
                branches: map_of(r, e.get("branches"), "`expect.branches`", |r, n| {
                    r.text(n, "a branch label").map(|s| s.value)
                }),
                runs: map_of(r, e.get("runs"), "`expect.runs`", |r, n| match &n.value {
                    NodeValue::Number(x) if x.as_u64().is_some() => x.as_u64(),
                    _ => {
                        r.wrong_type(n, "a run count", "a whole number");
                        None
                    }
                }),
                values: map_of(r, e.get("values"), "`expect.values`", |_, n| {
                    Some(n.to_json())
                }),
            },
            None => TestExpect::default(),
        },
        None => TestExpect::default(),
    };
    Some(TestCase {
        name,
        incident: o.get("incident").map(Node::to_json),
        event: o.get("event").map(Node::to_json),
        inputs,
        mocks,
        expect,
        span: node.span,
    })
}
