//! The dialplan checker: everything `helpline check` reports beyond one file's syntax — graph
//! problems, prompts missing for a declared language, unknown queues/skills/hours, transfers off
//! the allow-list, and entry numbers used twice across files.

use crate::diag::Diagnostic;
use crate::ivr::graph::check_graph;
use crate::ivr::model::{Dialplan, Located, NodeKind, Span, TransferTarget};
use crate::ivr::pattern::AllowList;
use crate::ivr::prompts::PromptCatalog;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What the rest of the server knows, given by the caller of the checker.
pub struct CheckContext<'a> {
    pub prompts: &'a dyn PromptCatalog,
    pub queues: BTreeSet<String>,
    pub skills: BTreeSet<String>,
    pub transfer_allow: AllowList,
}

fn diag(plan: &Dialplan, span: &Span, msg: String) -> Diagnostic {
    Diagnostic::at(&plan.file, &plan.source, span.start, msg)
}

fn list(set: &BTreeSet<String>) -> String {
    if set.is_empty() {
        return "(none configured)".into();
    }
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `helpline check`: loads every `*.toml` in `dir` and reports every problem (empty = all well).
pub fn check_dir(dir: &std::path::Path, cx: &CheckContext) -> Vec<Diagnostic> {
    let (plans, mut diags) = crate::ivr::load::load_dir(dir);
    diags.extend(check_all(&plans, cx));
    diags
}

/// Checks one file on its own (entry numbers are only compared within it).
pub fn check_file(path: &std::path::Path, cx: &CheckContext) -> Vec<Diagnostic> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            return vec![Diagnostic {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
                message: format!("cannot read: {e}; check the path and permissions"),
            }]
        }
    };
    match crate::ivr::build::parse_dialplan(path, &text) {
        Ok(plan) => check_all(std::slice::from_ref(&plan), cx),
        Err(diags) => diags,
    }
}

/// Checks every plan and the entry numbers across them.
pub fn check_all(plans: &[Dialplan], cx: &CheckContext) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = plans.iter().flat_map(|p| check_plan(p, cx)).collect();
    let mut first: HashMap<&str, Diagnostic> = HashMap::new();
    for plan in plans {
        for e in &plan.entries {
            let here = diag(plan, &e.number.span, String::new());
            match first.get(e.number.value.as_str()) {
                Some(prev) => out.push(diag(plan, &e.number.span, format!(
                    "entry number `{}` is already used at {}:{}:{}; each number may start only one dialplan, remove one",
                    e.number.value, prev.file.display(), prev.line, prev.column
                ))),
                None => {
                    first.insert(&e.number.value, here);
                }
            }
        }
    }
    out
}

/// Checks one plan.
pub fn check_plan(plan: &Dialplan, cx: &CheckContext) -> Vec<Diagnostic> {
    let mut out = check_graph(plan);
    out.extend(check_prompts(plan, cx));
    let queue = |out: &mut Vec<Diagnostic>, q: &Located<String>| {
        if !cx.queues.contains(&q.value) {
            out.push(diag(
                plan,
                &q.span,
                format!(
                    "unknown queue `{}`; known queues: {}",
                    q.value,
                    list(&cx.queues)
                ),
            ));
        }
    };
    let skills = |out: &mut Vec<Diagnostic>, s: &[(Located<String>, u8)]| {
        for (skill, _) in s {
            if !cx.skills.contains(&skill.value) {
                out.push(diag(
                    plan,
                    &skill.span,
                    format!(
                        "unknown skill `{}`; known skills: {}",
                        skill.value,
                        list(&cx.skills)
                    ),
                ));
            }
        }
    };
    let hours = |out: &mut Vec<Diagnostic>, h: &Option<Located<String>>| {
        if let Some(h) = h.as_ref().filter(|h| !plan.hours.contains_key(&h.value)) {
            let known: BTreeSet<String> = plan.hours.keys().cloned().collect();
            out.push(diag(
                plan,
                &h.span,
                format!(
                    "unknown hours `{}`; define [hours.{}] in this file or use one of: {}",
                    h.value,
                    h.value,
                    list(&known)
                ),
            ));
        }
    };
    for node in &plan.nodes {
        match &node.kind {
            NodeKind::Enqueue(e) => {
                queue(&mut out, &e.queue);
                skills(&mut out, &e.skills);
            }
            NodeKind::Set(s) => skills(&mut out, &s.skills),
            NodeKind::CallbackOffer(c) => queue(&mut out, &c.queue),
            NodeKind::Branch(b) => {
                for w in &b.whens {
                    hours(&mut out, &w.cond.in_hours);
                    hours(&mut out, &w.cond.holiday);
                }
            }
            NodeKind::Transfer(t) => {
                if let TransferTarget::Number(n) = &t.target.value {
                    if !cx.transfer_allow.allows(n) {
                        out.push(diag(plan, &t.target.span, format!(
                            "transfer to `{n}` is not on the transfer allow-list ({}); add a pattern to the server's transfer allow-list or remove this transfer",
                            cx.transfer_allow.describe()
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// Every prompt must exist in every declared language (or in its pinned one); reported once per
/// prompt name, at its first use, naming every language it is missing in.
fn check_prompts(plan: &Dialplan, cx: &CheckContext) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut reported = HashSet::new();
    for node in &plan.nodes {
        for p in node.kind.prompts() {
            let langs: Vec<&str> = match &p.lang {
                Some(l) => vec![l.as_str()],
                None => plan.languages.iter().map(|l| l.value.as_str()).collect(),
            };
            let missing: Vec<&str> = langs
                .into_iter()
                .filter(|l| !cx.prompts.has(l, &p.name))
                .collect();
            if missing.is_empty() || !reported.insert((p.name.clone(), p.lang.clone())) {
                continue;
            }
            let files: Vec<String> = missing
                .iter()
                .map(|l| format!("prompts/{l}/{}.wav", p.name))
                .collect();
            out.push(diag(plan, &p.span, format!(
                "prompt `{}` has no recording in {}; add {} (every declared language needs one) or fix the name",
                p.name,
                missing.join(", "),
                files.join(" and ")
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::build::parse_dialplan;
    use crate::ivr::prompts::PromptSet;
    use std::path::Path;

    const PLAN: &str = "[plan]\nlanguages = [\"en\", \"es\"]\n[[entry]]\nnumber = \"+442079460000\"\nstart = \"hi\"\n\
[nodes.hi]\nkind = \"play\"\nprompt = [\"welcome\", \"welcome\"]\nnext = \"out\"\n\
[nodes.out]\nkind = \"transfer\"\nnumber = \"+442079460999\"\n";

    fn run(prompts: &PromptSet, allow: &[&str]) -> Vec<String> {
        let plan = parse_dialplan(Path::new("p.toml"), PLAN).unwrap();
        let cx = CheckContext {
            prompts,
            queues: BTreeSet::new(),
            skills: BTreeSet::new(),
            transfer_allow: AllowList::parse(allow).unwrap(),
        };
        check_all(&[plan], &cx)
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn a_prompt_missing_in_one_language_is_reported_once_for_that_language() {
        let mut prompts = PromptSet::default();
        prompts.insert("en", "welcome");
        let diags = run(&prompts, &["+44207946.", "+1800."]);
        assert_eq!(diags, vec!["p.toml:8:11: prompt `welcome` has no recording in es; add prompts/es/welcome.wav (every declared language needs one) or fix the name"]);
        prompts.insert("es", "welcome");
        assert!(run(&prompts, &["+44207946."]).is_empty());
    }

    #[test]
    fn an_empty_allow_list_refuses_every_transfer() {
        let mut prompts = PromptSet::default();
        prompts.insert("en", "welcome");
        prompts.insert("es", "welcome");
        let diags = run(&prompts, &[]);
        assert_eq!(diags.len(), 1);
        assert!(diags[0].starts_with("p.toml:12:10: transfer to `+442079460999` is not on the transfer allow-list (the allow-list is empty)"), "{}", diags[0]);
    }
}
