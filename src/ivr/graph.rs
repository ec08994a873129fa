//! Graph checks on one dialplan: references to unknown nodes, nodes no entry point reaches, and
//! loops that never wait for caller input (a caller would be stuck, hearing prompts forever).

use crate::diag::Diagnostic;
use crate::ivr::model::{Dialplan, NodeKind, NodeRef, Span};

fn diag(plan: &Dialplan, span: &Span, msg: String) -> Diagnostic {
    Diagnostic::at(&plan.file, &plan.source, span.start, msg)
}

/// Closest node name, for "did you mean".
fn suggest<'a>(plan: &'a Dialplan, name: &str) -> Option<&'a str> {
    plan.nodes
        .iter()
        .map(|n| (edit_distance(&n.name, name), n.name.as_str()))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| n)
}

pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn unknown(plan: &Dialplan, r: &NodeRef) -> Diagnostic {
    let hint = match suggest(plan, &r.value) {
        Some(s) => format!("did you mean `{s}`?"),
        None => "define it as [nodes.NAME] or point to an existing node".to_string(),
    };
    diag(plan, &r.span, format!("unknown node `{}`; {hint}", r.value))
}

/// Every reference, entry points first, in file order.
fn references(plan: &Dialplan) -> Vec<&NodeRef> {
    let mut refs: Vec<&NodeRef> = Vec::new();
    for e in &plan.entries {
        refs.push(&e.start);
        refs.extend(e.survey.as_ref());
    }
    for n in &plan.nodes {
        refs.extend(n.kind.successors());
    }
    refs
}

/// Runs all graph checks.
pub fn check_graph(plan: &Dialplan) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in references(plan) {
        if plan.node_index(&r.value).is_none() {
            out.push(unknown(plan, r));
        }
    }
    // A broken reference also strands its intended target: fix references first.
    let references_ok = out.is_empty();
    if plan.entries.is_empty() {
        out.push(diag(plan, &(0..0), "no [[entry]]: add one with `number = \"+…\"` and `start = \"node\"`, or callers can never reach this plan".into()));
    }
    for e in &plan.entries {
        if let Some(s) = &e.survey {
            if let Some(node) = plan
                .node(&s.value)
                .filter(|n| !matches!(n.kind, NodeKind::Survey(_)))
            {
                out.push(diag(
                    plan,
                    &s.span,
                    format!(
                        "entry survey `{}` is a `{}` node; point it at a `survey` node",
                        s.value,
                        node.kind.name()
                    ),
                ));
            }
        }
    }
    if references_ok {
        out.extend(unreachable(plan));
    }
    out.extend(no_input_loops(plan));
    out
}

fn unreachable(plan: &Dialplan) -> Vec<Diagnostic> {
    let mut seen = vec![false; plan.nodes.len()];
    let mut stack: Vec<usize> = plan
        .entries
        .iter()
        .flat_map(|e| std::iter::once(&e.start).chain(e.survey.as_ref()))
        .filter_map(|r| plan.node_index(&r.value))
        .collect();
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        if let Some(n) = plan.nodes.get(i) {
            stack.extend(
                n.kind
                    .successors()
                    .iter()
                    .filter_map(|r| plan.node_index(&r.value)),
            );
        }
    }
    plan.nodes
        .iter()
        .zip(seen)
        .filter(|(_, s)| !s)
        .map(|(n, _)| diag(plan, &n.span, format!("node `{}` is unreachable: no entry point leads to it; link it from another node or delete it", n.name)))
        .collect()
}

/// Depth-first search over the no-input subgraph; every back edge closes a loop.
fn no_input_loops(plan: &Dialplan) -> Vec<Diagnostic> {
    let n = plan.nodes.len();
    let edges: Vec<Vec<usize>> = plan
        .nodes
        .iter()
        .map(|node| {
            if !node.kind.takes_no_input() {
                return vec![];
            }
            node.kind
                .successors()
                .iter()
                .filter_map(|r| plan.node_index(&r.value))
                .filter(|&j| plan.nodes.get(j).is_some_and(|m| m.kind.takes_no_input()))
                .collect()
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut mark = vec![Mark::New; n];
    let mut out = Vec::new();
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // (node, next edge index); `path` mirrors the stack's nodes.
        let mut stack = vec![(root, 0usize)];
        mark[root] = Mark::OnPath;
        while let Some(&mut (v, ref mut k)) = stack.last_mut() {
            if let Some(&w) = edges[v].get(*k) {
                *k += 1;
                match mark[w] {
                    Mark::New => {
                        mark[w] = Mark::OnPath;
                        stack.push((w, 0));
                    }
                    Mark::OnPath => {
                        let from = stack.iter().position(|&(x, _)| x == w).unwrap_or(0);
                        let mut names: Vec<&str> = stack[from..]
                            .iter()
                            .map(|&(x, _)| plan.nodes[x].name.as_str())
                            .collect();
                        names.push(plan.nodes[w].name.as_str());
                        let head = &plan.nodes[w];
                        out.push(diag(plan, &head.span, format!(
                            "loop without caller input: {} (play/set/branch/transfer only); send one step through a menu, collect or hangup node",
                            names.join(" → ")
                        )));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[v] = Mark::Done;
                stack.pop();
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("main_menu", "main_menu"), 0);
        assert_eq!(edit_distance("main_menu", "main_mneu"), 2);
        assert_eq!(edit_distance("network", "netwrk"), 1);
    }
}
