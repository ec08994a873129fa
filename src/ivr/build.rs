//! Turns one parsed dialplan file (`raw`) into a typed `model::Dialplan`, reporting every problem
//! local to the file (TOML syntax, bad values, missing or misplaced fields) as a `Diagnostic`.

use crate::diag::Diagnostic;
use crate::ivr::hours::{parse_date, parse_range, parse_tz, Schedule, WEEKDAYS};
use crate::ivr::model::{Dialplan, EntryPoint, Located, NodeRef, PromptSpec, Span};
use crate::ivr::pattern::is_e164;
use crate::ivr::raw::{PromptList, RawFile, RawHours, S};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Collects diagnostics for one file.
pub(crate) struct Builder<'a> {
    pub file: PathBuf,
    pub text: &'a str,
    pub diags: Vec<Diagnostic>,
    pub languages: Vec<String>,
}

impl Builder<'_> {
    pub fn err(&mut self, span: &Span, message: impl Into<String>) {
        self.diags
            .push(Diagnostic::at(&self.file, self.text, span.start, message));
    }

    pub fn node_ref(&mut self, s: &S<String>) -> NodeRef {
        Located {
            value: s.get_ref().clone(),
            span: s.span(),
        }
    }

    /// Prompt names are file names; `name@lang` pins a language.
    pub fn prompts(&mut self, list: Option<&S<PromptList>>) -> Vec<PromptSpec> {
        let Some(list) = list else { return vec![] };
        let mut out = Vec::new();
        for (text, span) in &list.get_ref().0 {
            let span = span.clone().unwrap_or_else(|| list.span());
            let (name, lang) = match text.split_once('@') {
                Some((n, l)) => (n, Some(l.to_string())),
                None => (text.as_str(), None),
            };
            if !is_simple_name(name) {
                self.err(
                    &span,
                    format!("prompt name `{name}` is not a file name; use letters, digits, `_` and `-` (the file is prompts/<lang>/{name}.wav)"),
                );
                continue;
            }
            if let Some(l) = &lang {
                if !self.languages.contains(l) {
                    self.err(
                        &span,
                        format!("prompt `{text}` pins language `{l}`, which [plan] languages does not declare; declared: {}", self.languages.join(", ")),
                    );
                }
            }
            out.push(PromptSpec {
                name: name.to_string(),
                lang,
                span,
            });
        }
        out
    }

    /// A language code that `[plan] languages` declares.
    pub fn language(&mut self, s: &S<String>) -> Located<String> {
        if !self.languages.contains(s.get_ref()) {
            self.err(
                &s.span(),
                format!("language `{}` is not declared in [plan] languages; declared: {} (add it there, with its prompts)", s.get_ref(), self.languages.join(", ")),
            );
        }
        Located {
            value: s.get_ref().clone(),
            span: s.span(),
        }
    }
}

/// Names of nodes, variables and prompts: letters, digits, `_`, `-`.
pub(crate) fn is_simple_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses and builds one file. `Err` holds every problem found.
pub fn parse_dialplan(file: &Path, text: &str) -> Result<Dialplan, Vec<Diagnostic>> {
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            return Err(vec![Diagnostic::at(
                file,
                text,
                at,
                toml_message(e.message()),
            )]);
        }
    };
    let mut b = Builder {
        file: file.to_path_buf(),
        text,
        diags: Vec::new(),
        languages: Vec::new(),
    };
    let Some(plan) = raw.plan.as_ref() else {
        b.err(
            &(0..0),
            "missing [plan] table; start the file with `[plan]` and `languages = [\"en\"]`",
        );
        return Err(b.diags);
    };
    let plan = plan.get_ref();
    let mut languages = Vec::new();
    for l in plan.languages.get_ref() {
        let code = l.get_ref();
        if !is_language_code(code) {
            b.err(&l.span(), format!("`{code}` is not a language code; use a lowercase code such as \"en\" or \"es\" (it names the prompts/<lang>/ folder)"));
        } else if languages.iter().any(|x: &Located<String>| &x.value == code) {
            b.err(
                &l.span(),
                format!("language `{code}` is listed twice; remove one"),
            );
        } else {
            languages.push(Located {
                value: code.clone(),
                span: l.span(),
            });
        }
    }
    if plan.languages.get_ref().is_empty() {
        b.err(
            &plan.languages.span(),
            "no languages declared; list at least one, e.g. languages = [\"en\"]",
        );
    }
    b.languages = languages.iter().map(|l| l.value.clone()).collect();
    let default_language = match &plan.default_language {
        Some(d) => b.language(d).value,
        None => b.languages.first().cloned().unwrap_or_default(),
    };
    let entries = raw.entry.iter().map(|e| build_entry(&mut b, e)).collect();
    let mut hours = BTreeMap::new();
    for (name, h) in &raw.hours {
        if let Some(s) = build_hours(&mut b, h.get_ref()) {
            hours.insert(name.get_ref().clone(), s);
        }
    }
    let mut raw_nodes: Vec<_> = raw.nodes.iter().collect();
    raw_nodes.sort_by_key(|(name, _)| name.span().start);
    let mut nodes = Vec::new();
    let mut index = HashMap::new();
    for (name, node) in raw_nodes {
        if !is_simple_name(name.get_ref()) {
            b.err(
                &name.span(),
                format!(
                    "node name `{}` has spaces or symbols; use letters, digits, `_` and `-`",
                    name.get_ref()
                ),
            );
        }
        if let Some(n) = crate::ivr::build_node::build_node(&mut b, name, node) {
            index.insert(n.name.clone(), nodes.len());
            nodes.push(n);
        }
    }
    if raw.nodes.is_empty() {
        b.err(
            &(0..0),
            "the dialplan has no nodes; add at least one `[nodes.NAME]` table",
        );
    }
    if !b.diags.is_empty() {
        return Err(b.diags);
    }
    Ok(Dialplan {
        file: file.to_path_buf(),
        source: Arc::from(text),
        version: 0,
        languages,
        default_language,
        entries,
        hours,
        nodes,
        index,
        transfer_allow: Default::default(),
    })
}

/// Rewrites the TOML/serde message into "what and how to fix".
fn toml_message(msg: &str) -> String {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let best = expected
            .iter()
            .map(|e| (crate::ivr::graph::edit_distance(field, e), *e))
            .filter(|(d, _)| *d <= 3)
            .min();
        return match best {
            Some((_, e)) => format!("unknown field `{field}`; did you mean `{e}`?"),
            None => format!(
                "unknown field `{field}`; remove it (allowed here: {})",
                expected.join(", ")
            ),
        };
    }
    format!("{}; fix the TOML here", msg.replace('\n', "; "))
}

fn is_language_code(s: &str) -> bool {
    let (base, region) = match s.split_once('-') {
        Some((b, r)) => (b, Some(r)),
        None => (s, None),
    };
    (2..=3).contains(&base.len())
        && base.chars().all(|c| c.is_ascii_lowercase())
        && region.is_none_or(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn build_entry(b: &mut Builder, e: &S<crate::ivr::raw::RawEntry>) -> EntryPoint {
    let e = e.get_ref();
    if !is_e164(e.number.get_ref()) {
        b.err(&e.number.span(), format!("entry number `{}` is not E.164; write it as + country code and number, no spaces, e.g. \"+442079460000\"", e.number.get_ref()));
    }
    EntryPoint {
        number: Located {
            value: e.number.get_ref().clone(),
            span: e.number.span(),
        },
        start: b.node_ref(&e.start),
        survey: e.survey.as_ref().map(|s| b.node_ref(s)),
        language: e.language.as_ref().map(|l| b.language(l)),
    }
}

fn build_hours(b: &mut Builder, h: &RawHours) -> Option<Schedule> {
    let tz = parse_tz(h.time_zone.get_ref())
        .map_err(|m| b.err(&h.time_zone.span(), m))
        .ok();
    let days = [&h.mon, &h.tue, &h.wed, &h.thu, &h.fri, &h.sat, &h.sun];
    let mut week: [Vec<_>; 7] = Default::default();
    for ((day, ranges), out) in WEEKDAYS.iter().zip(days).zip(week.iter_mut()) {
        for r in ranges.iter().flatten() {
            match parse_range(r.get_ref()) {
                Ok(range) => out.push(range),
                Err(m) => b.err(&r.span(), format!("{day}: {m}")),
            }
        }
    }
    let mut holidays = std::collections::BTreeSet::new();
    for d in &h.holidays {
        match parse_date(d.get_ref()) {
            Ok(date) => {
                holidays.insert(date);
            }
            Err(m) => b.err(&d.span(), m),
        }
    }
    Some(Schedule {
        tz: tz?,
        week,
        holidays,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ivr::model::NodeKind;

    const HEAD: &str = "[plan]\nlanguages = [\"en\", \"es\"]\n[[entry]]\nnumber = \"+442079460000\"\nstart = \"m\"\n";

    fn build(nodes: &str) -> Result<Dialplan, Vec<String>> {
        parse_dialplan(Path::new("p.toml"), &format!("{HEAD}{nodes}"))
            .map_err(|d| d.iter().map(|d| d.to_string()).collect())
    }

    #[test]
    fn defaults_fill_in_what_operators_leave_out() {
        let plan = build(
            "[nodes.m]\nkind = \"collect\"\nvar = \"acct\"\nnext = \"m\"\non_invalid = \"m\"\n",
        )
        .unwrap();
        let Some(NodeKind::Collect(c)) = plan.node("m").map(|n| &n.kind) else {
            panic!()
        };
        assert_eq!((c.min_len, c.max_len, c.terminator), (1, 20, Some('#')));
        assert_eq!(
            (
                c.retry.timeout_secs,
                c.retry.retries,
                c.inter_digit_timeout_secs
            ),
            (5, 2, 3)
        );
        assert_eq!(plan.default_language, "en");
    }

    #[test]
    fn pinned_prompts_keep_their_language_and_must_be_declared() {
        let plan =
            build("[nodes.m]\nkind = \"play\"\nprompt = [\"hi@es\", \"menu\"]\nnext = \"m\"\n")
                .unwrap();
        let Some(NodeKind::Play(p)) = plan.node("m").map(|n| &n.kind) else {
            panic!()
        };
        assert_eq!(p.prompts[0].lang.as_deref(), Some("es"));
        assert_eq!(p.prompts[1].lang, None);
        let err =
            build("[nodes.m]\nkind = \"play\"\nprompt = [\"hi@fr\"]\nnext = \"m\"\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].starts_with("p.toml:8:11: prompt `hi@fr` pins language `fr`"),
            "{}",
            err[0]
        );
    }

    #[test]
    fn every_problem_in_a_file_is_reported_not_just_the_first() {
        let err = build("[nodes.m]\nkind = \"menu\"\nchoices = { \"12\" = \"m\" }\npriority = 3\n")
            .unwrap_err();
        assert_eq!(err.len(), 3, "{err:#?}");
        assert!(err
            .iter()
            .any(|e| e.contains("`priority` does not apply to a `menu` node")));
        assert!(err
            .iter()
            .any(|e| e.contains("choice key `12` is not one keypad key")));
        assert!(err.iter().any(|e| e.contains("needs `fallback`")));
    }

    #[test]
    fn branch_rules_need_a_condition_and_a_complete_var_test() {
        let err = build("[nodes.m]\nkind = \"branch\"\nwhen = [{ goto = \"m\" }, { var = \"x\", goto = \"m\" }]\ndefault = \"m\"\n").unwrap_err();
        assert!(err[0].contains("rule has no condition"), "{err:#?}");
        assert!(err[1].contains("needs exactly one of `equals"), "{err:#?}");
    }

    #[test]
    fn out_of_range_values_say_the_range() {
        let err = build(
            "[nodes.m]\nkind = \"enqueue\"\nqueue = \"q\"\npriority = 11\nskills = { net = 0 }\n",
        )
        .unwrap_err();
        assert!(
            err.iter().any(|e| e.contains("use 0 (normal) to 10")),
            "{err:#?}"
        );
        assert!(err.iter().any(|e| e.contains("use 1 to 10")), "{err:#?}");
    }

    #[test]
    fn missing_plan_table_is_reported_at_the_top() {
        let err =
            parse_dialplan(Path::new("p.toml"), "[nodes.m]\nkind = \"hangup\"\n").unwrap_err();
        assert_eq!(err[0].to_string(), "p.toml:1:1: missing [plan] table; start the file with `[plan]` and `languages = [\"en\"]`");
    }
}
