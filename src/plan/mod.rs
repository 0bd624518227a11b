//! The plan: a playbook's task graph (petgraph) with start tasks, loop back-edges, loop bodies
//! and unreachable tasks. Owns graph rules; knows nothing about commands or running.

use crate::diagnostic::{Diagnostic, SourceFile};
use crate::model::{Playbook, TaskKind};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{depth_first_search, DfsEvent};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The branch label for conditional edges; `None` for `next`.
    pub label: Option<String>,
    /// A loop edge: a conditional branch back to an earlier task.
    pub back: bool,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// Task ids in file order; a task's index is its position here.
    pub ids: Vec<String>,
    pub index: HashMap<String, usize>,
    pub edges: Vec<Edge>,
    /// Forward (non-loop) edges into each task.
    pub preds: Vec<Vec<usize>>,
    /// All edges out of each task.
    pub succs: Vec<Vec<usize>>,
    pub starts: Vec<usize>,
    pub unreachable: Vec<usize>,
    /// For each loop edge: the tasks that run again on each iteration (target to source).
    pub loop_bodies: HashMap<usize, Vec<usize>>,
    /// `ancestors[t]`: tasks that always or possibly ran before `t` on some path.
    pub ancestors: Vec<TaskSet>,
}

/// A set of task indexes, one bit per task. Ancestor sets are dense (on a chain of n tasks
/// they hold n²/2 entries in all), so a bit set keeps planning fast and small where a hash
/// set per task took seconds and hundreds of MB at 10,000 tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSet {
    words: Vec<u64>,
}

impl TaskSet {
    pub fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub fn insert(&mut self, i: usize) {
        if self.words.len() <= i / 64 {
            self.words.resize(i / 64 + 1, 0);
        }
        self.words[i / 64] |= 1 << (i % 64);
    }
    pub fn union_with(&mut self, other: &TaskSet) {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
    }
}

impl Plan {
    pub fn id(&self, i: usize) -> &str {
        &self.ids[i]
    }
    pub fn is_ancestor(&self, of: usize, candidate: usize) -> bool {
        self.ancestors[of].contains(candidate)
    }
}

/// Builds the plan and reports graph problems (codes G001–G006).
pub fn plan(pb: &Playbook) -> (Plan, Vec<Diagnostic>) {
    let file: &Arc<SourceFile> = &pb.file;
    let mut diags = Vec::new();
    let ids: Vec<String> = pb.tasks.keys().cloned().collect();
    let index: HashMap<String, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), i))
        .collect();
    let n = ids.len();
    if n == 0 && !pb.load_problems.tasks_invalid && pb.load_problems.broken_tasks.is_empty() {
        diags.push(
            Diagnostic::error("G005", file, pb.tasks_span, "the playbook has no tasks")
                .with_help("add at least one task under `tasks:`"),
        );
    }
    let mut graph: DiGraph<usize, usize> = DiGraph::with_capacity(n, n);
    let nodes: Vec<NodeIndex> = (0..n).map(|i| graph.add_node(i)).collect();
    let mut edges = Vec::new();
    for (from, task) in pb.tasks.values().enumerate() {
        let had_errors = pb.load_problems.tasks_with_errors.contains(&task.id.value);
        if task.kind.value == TaskKind::Conditional && task.branches.is_empty() && !had_errors {
            diags.push(
                Diagnostic::error("G004", file, task.id.span, format!("conditional task `{}` has no branches", task.id.value))
                    .with_help("add `branches:` mapping labels (e.g. \"true\", \"false\", default) to task ids"),
            );
        }
        if task.kind.value != TaskKind::Conditional && !task.branches.is_empty() && !had_errors {
            diags.push(
                Diagnostic::error(
                    "G007",
                    file,
                    task.branches[0].label.span,
                    format!(
                        "task `{}` has `branches` but is not a conditional task",
                        task.id.value
                    ),
                )
                .with_help("add `type: conditional`, or use `next:`"),
            );
        }
        for (label, target) in task.successors() {
            match index.get(&target.value) {
                Some(&to) => {
                    graph.add_edge(nodes[from], nodes[to], edges.len());
                    edges.push(Edge {
                        from,
                        to,
                        label: label.map(str::to_owned),
                        back: false,
                    });
                }
                None if pb.load_problems.broken_tasks.contains(&target.value) => {}
                None => {
                    let help = crate::util::closest(&target.value, ids.iter().map(String::as_str))
                        .map(|c| format!("did you mean `{c}`?"))
                        .unwrap_or_else(|| "name a task id defined under `tasks:`".into());
                    diags.push(
                        Diagnostic::error(
                            "G001",
                            file,
                            target.span,
                            format!(
                                "task `{}` leads to `{}`, which does not exist in this playbook",
                                task.id.value, target.value
                            ),
                        )
                        .with_help(help),
                    );
                }
            }
        }
    }
    let has_pred: HashSet<usize> = edges.iter().map(|e| e.to).collect();
    let starts: Vec<usize> = (0..n).filter(|i| !has_pred.contains(i)).collect();
    if n > 0 && starts.is_empty() && !pb.load_problems.any() {
        diags.push(
            Diagnostic::error(
                "G006",
                file,
                pb.tasks_span,
                "every task has a predecessor, so there is no task to start with",
            )
            .with_help(
                "a loop needs an entry: some task must not be the target of `next` or `branches`",
            ),
        );
    }
    // Back-edges: edges into a task still on the depth-first stack. The search starts from the
    // start tasks (what it discovers then is reachable), then goes on from every other task, so
    // that a cycle among unreachable tasks is found too. With no start task at all (G006) only
    // that is said.
    let mut visited = HashSet::new();
    let mut back_edges = HashSet::new();
    let roots: Vec<_> = if starts.is_empty() {
        Vec::new()
    } else {
        starts
            .iter()
            .copied()
            .chain(0..n)
            .map(|i| nodes[i])
            .collect()
    };
    let (mut depth, mut roots_done) = (0usize, 0usize);
    depth_first_search(&graph, roots, |ev| match ev {
        DfsEvent::Discover(nd, _) => {
            if roots_done < starts.len() {
                visited.insert(graph[nd]);
            }
            depth += 1;
        }
        DfsEvent::Finish(_, _) => {
            depth -= 1;
            if depth == 0 {
                roots_done += 1;
            }
        }
        DfsEvent::BackEdge(a, b) => {
            for e in graph.edges_connecting(a, b) {
                back_edges.insert(*e.weight());
            }
        }
        _ => {}
    });
    let tasks: Vec<_> = pb.tasks.values().collect();
    for &e in &back_edges {
        edges[e].back = true;
        let from = &tasks[edges[e].from];
        let ok = from.kind.value == TaskKind::Conditional
            && edges[e].label.is_some()
            && from.max_loops.is_some();
        if !ok {
            let span = from
                .successors()
                .find(|(_, t)| t.value == ids[edges[e].to])
                .map(|(_, t)| t.span)
                .unwrap_or(from.id.span);
            let help = if from.kind.value == TaskKind::Conditional && edges[e].label.is_some() {
                format!(
                    "set `max_loops: N` on `{}` to allow this loop",
                    from.id.value
                )
            } else {
                "only a conditional branch with `max_loops` may lead back to an earlier task".into()
            };
            diags.push(
                Diagnostic::error(
                    "G002",
                    file,
                    span,
                    format!(
                        "`{}` → `{}` closes a cycle",
                        from.id.value, ids[edges[e].to]
                    ),
                )
                .with_help(help),
            );
        }
    }
    let unreachable: Vec<usize> = (0..n).filter(|i| !visited.contains(i)).collect();
    if !starts.is_empty() && !pb.load_problems.any() {
        for &u in &unreachable {
            diags.push(
                Diagnostic::warning(
                    "G003",
                    file,
                    tasks[u].id.span,
                    format!(
                        "task `{}` is unreachable: no path from a start task leads to it",
                        ids[u]
                    ),
                )
                .with_help("connect it with `next` or a branch, or remove it; it will not run"),
            );
        }
    }
    let mut preds = vec![Vec::new(); n];
    let mut succs = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        succs[e.from].push(i);
        if !e.back {
            preds[e.to].push(i);
        }
    }
    let forward_succ = |i: usize| {
        succs[i]
            .iter()
            .filter(|&&e| !edges[e].back)
            .map(|&e| edges[e].to)
            .collect::<Vec<_>>()
    };
    let forward_pred = |i: usize| preds[i].iter().map(|&e| edges[e].from).collect::<Vec<_>>();
    let mut loop_bodies = HashMap::new();
    for &e in &back_edges {
        let (head, tail) = (edges[e].to, edges[e].from);
        let down = reach(head, &forward_succ);
        let up = reach(tail, &forward_pred);
        let mut body: Vec<usize> = down.intersection(&up).copied().collect();
        body.sort_unstable();
        loop_bodies.insert(e, body);
    }
    // Ancestors over forward edges, in topological order (the forward graph is acyclic once
    // back-edges are removed; reported cycles leave some tasks without ancestors, harmlessly).
    let mut ancestors = vec![TaskSet::default(); n];
    let mut indeg: Vec<usize> = preds.iter().map(Vec::len).collect();
    let mut queue: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    while let Some(i) = queue.pop() {
        for t in forward_succ(i) {
            // ancestors[t] ∪= ancestors[i] ∪ {i} (taken out to borrow both; t == i is harmless).
            let mut set = std::mem::take(&mut ancestors[t]);
            set.union_with(&ancestors[i]);
            set.insert(i);
            ancestors[t] = set;
            indeg[t] -= 1;
            if indeg[t] == 0 {
                queue.push(t);
            }
        }
    }

    (
        Plan {
            ids,
            index,
            edges,
            preds,
            succs,
            starts,
            unreachable,
            loop_bodies,
            ancestors,
        },
        diags,
    )
}

fn reach(from: usize, next: &dyn Fn(usize) -> Vec<usize>) -> HashSet<usize> {
    let mut seen = HashSet::from([from]);
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        for j in next(i) {
            if seen.insert(j) {
                stack.push(j);
            }
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Document;

    fn plan_of(src: &str) -> (Plan, Vec<(&'static str, usize)>) {
        let l = crate::load::load_str("p.yaml", src);
        assert!(l.diagnostics.is_empty(), "{:?}", l.diagnostics);
        let Some(Document::Playbook(p)) = l.document else {
            panic!()
        };
        let (plan, d) = plan(&p);
        let codes = d.iter().map(|d| (d.code, d.line_col().0)).collect();
        (plan, codes)
    }

    #[test]
    fn loops_need_a_conditional_with_max_loops() {
        let (p, d) = plan_of("kind: playbook\nname: x\ntasks:\n  a: { command: equals, next: [b] }\n  b: { command: equals, next: [a] }\n");
        assert_eq!(d, vec![("G006", 4)]);
        assert!(p.starts.is_empty());
        let (p, d) = plan_of("kind: playbook\nname: x\ntasks:\n  s: { command: equals, next: [a] }\n  a: { command: equals, next: [c] }\n  c:\n    type: conditional\n    command: equals\n    max_loops: 3\n    branches: { \"false\": [a], \"true\": [d] }\n  d: { command: equals }\n");
        assert!(d.is_empty(), "{d:?}");
        let back: Vec<_> = p.edges.iter().filter(|e| e.back).collect();
        assert_eq!(back.len(), 1);
        assert_eq!(p.loop_bodies.values().next().unwrap(), &vec![1, 2]);
        let (_, d) = plan_of("kind: playbook\nname: x\ntasks:\n  s: { command: equals, next: [a] }\n  a: { command: equals, next: [b] }\n  b: { command: equals, next: [a] }\n");
        assert_eq!(d, vec![("G002", 6)]);
    }

    #[test]
    fn unknown_targets_unreachable_and_empty() {
        let (_, d) = plan_of("kind: playbook\nname: x\ntasks:\n  a: { command: equals, next: [bb] }\n  b: { command: equals }\n");
        assert_eq!(d, vec![("G001", 4)]);
        let (p, d) = plan_of("kind: playbook\nname: x\ntasks:\n  a: { command: equals }\n  b: { command: equals, next: [c] }\n  c: { command: equals, next: [b] }\n");
        assert_eq!(p.unreachable, vec![1, 2]);
        assert!(d.iter().filter(|x| x.0 == "G003").count() == 2, "{d:?}");
        let (_, d) = plan_of("kind: playbook\nname: x\ntasks: {}\n");
        assert_eq!(d, vec![("G005", 3)]);
    }

    #[test]
    fn ancestors() {
        let (p, _) = plan_of("kind: playbook\nname: x\ntasks:\n  a: { command: equals, next: [b, c] }\n  b: { command: equals, next: [d] }\n  c: { command: equals, next: [d] }\n  d: { command: equals }\n");
        assert!(p.is_ancestor(3, 0) && p.is_ancestor(3, 1) && p.is_ancestor(3, 2));
        assert!(!p.is_ancestor(1, 2));
    }

    #[test]
    fn task_sets_hold_any_index() {
        let mut a = TaskSet::default();
        a.insert(3);
        a.insert(130);
        let mut b = TaskSet::default();
        b.insert(64);
        b.union_with(&a);
        assert!(b.contains(3) && b.contains(64) && b.contains(130));
        assert!(!b.contains(4) && !b.contains(129) && !b.contains(10_000));
    }
}
