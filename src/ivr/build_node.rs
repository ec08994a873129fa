//! Builds one `[nodes.NAME]` table into a typed `model::Node`: refuses fields the kind does not
//! take, reports missing required fields, applies defaults and validates values.

use crate::ivr::build::{is_simple_name, Builder};
use crate::ivr::crm::{LookupKind, TicketPriority};
use crate::ivr::model::*;
use crate::ivr::pattern::{is_e164, DigitPattern};
use crate::ivr::raw::{RawNode, RawWhen, S};

/// Fields each kind accepts.
#[rustfmt::skip]
const FIELDS: &[(&str, &[&str])] = &[
    ("play", &["prompt", "barge_in", "next"]),
    ("menu", &["prompt", "choices", "timeout_secs", "retries", "invalid_prompt", "timeout_prompt", "fallback"]),
    ("collect", &["prompt", "min_len", "max_len", "terminator", "timeout_secs", "inter_digit_timeout_secs",
        "retries", "invalid_prompt", "timeout_prompt", "patterns", "lookup", "var", "next", "on_invalid", "on_not_found"]),
    ("set", &["vars", "language", "skills", "priority", "tags", "next"]),
    ("branch", &["when", "default"]),
    ("enqueue", &["queue", "skills", "priority"]),
    ("callback_offer", &["prompt", "accept_digit", "timeout_secs", "queue", "on_accept", "next"]),
    ("voicemail", &["prompt", "max_secs", "next"]),
    ("transfer", &["number", "on_refused"]),
    ("hangup", &["prompt", "reason"]),
    ("survey", &["prompt", "timeout_secs", "retries", "invalid_prompt", "timeout_prompt", "next"]),
];

/// Highest queue priority (most urgent); 0 is normal.
pub const MAX_PRIORITY: u8 = 10;
/// Skill levels run from 1 (basic) to this.
pub const MAX_SKILL_LEVEL: u8 = 10;

fn present(n: &RawNode) -> Vec<(&'static str, Span)> {
    let mut v = Vec::new();
    macro_rules! fields {
        ($($f:ident),*) => { $( if let Some(x) = &n.$f { v.push((stringify!($f), x.span())); } )* };
    }
    fields!(
        prompt,
        barge_in,
        next,
        choices,
        timeout_secs,
        retries,
        invalid_prompt,
        timeout_prompt,
        fallback,
        min_len,
        max_len,
        terminator,
        inter_digit_timeout_secs,
        patterns,
        lookup,
        var,
        on_invalid,
        on_not_found,
        vars,
        language,
        skills,
        priority,
        tags,
        when,
        default,
        queue,
        accept_digit,
        on_accept,
        max_secs,
        number,
        on_refused,
        reason
    );
    v
}

/// Builds a node, or reports why it cannot.
pub(crate) fn build_node(b: &mut Builder, name: &S<String>, node: &S<RawNode>) -> Option<Node> {
    let n = node.get_ref();
    let kind = n.kind.get_ref().as_str();
    let Some((_, allowed)) = FIELDS.iter().find(|(k, _)| *k == kind) else {
        let kinds: Vec<&str> = FIELDS.iter().map(|(k, _)| *k).collect();
        b.err(
            &n.kind.span(),
            format!(
                "unknown node kind `{kind}`; use one of: {}",
                kinds.join(", ")
            ),
        );
        return None;
    };
    for (field, span) in present(n) {
        if !allowed.contains(&field) {
            b.err(&span, format!("`{field}` does not apply to a `{kind}` node; remove it (a `{kind}` node takes: {})", allowed.join(", ")));
        }
    }
    let mut cx = Cx {
        b,
        n,
        node: name.get_ref().as_str(),
        span: name.span(),
        kind,
        ok: true,
    };
    let built = match kind {
        "play" => cx.play(),
        "menu" => cx.menu(),
        "collect" => cx.collect(),
        "set" => cx.set(),
        "branch" => cx.branch(),
        "enqueue" => cx.enqueue(),
        "callback_offer" => cx.callback(),
        "voicemail" => cx.voicemail(),
        "transfer" => cx.transfer(),
        "hangup" => Some(NodeKind::Hangup(Hangup {
            prompts: cx.b.prompts(n.prompt.as_ref()),
            reason: n.reason.as_ref().map(|r| r.get_ref().clone()),
        })),
        _ => cx.survey(),
    };
    let ok = cx.ok;
    let kind = built.filter(|_| ok)?;
    Some(Node {
        name: name.get_ref().clone(),
        span: name.span(),
        kind,
        description: n
            .description
            .as_ref()
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty()),
    })
}

struct Cx<'b, 'a, 'n> {
    b: &'b mut Builder<'a>,
    n: &'n RawNode,
    node: &'n str,
    span: Span,
    kind: &'n str,
    ok: bool,
}

impl Cx<'_, '_, '_> {
    fn err(&mut self, span: &Span, msg: String) {
        self.ok = false;
        self.b.err(span, msg);
    }

    fn require<'x, T>(&mut self, v: &'x Option<S<T>>, field: &str, what: &str) -> Option<&'x S<T>> {
        if v.is_none() {
            let span = self.span.clone();
            self.err(
                &span,
                format!(
                    "`{}` node `{}` needs `{field}` ({what}); add it",
                    self.kind, self.node
                ),
            );
        }
        v.as_ref()
    }

    fn goto(&mut self, v: &Option<S<String>>, field: &str, what: &str) -> Option<NodeRef> {
        let r = self.require(v, field, what)?;
        Some(self.b.node_ref(r))
    }

    fn opt_goto(&mut self, v: &Option<S<String>>) -> Option<NodeRef> {
        v.as_ref().map(|r| self.b.node_ref(r))
    }

    fn digit(&mut self, s: &S<String>, what: &str) -> Option<char> {
        let mut chars = s.get_ref().chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
            _ => {
                self.err(
                    &s.span(),
                    format!(
                        "{what} `{}` is not one keypad key; use one of 0-9, * or #",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn retry(&mut self, default_timeout: u32) -> Retry {
        let n = self.n;
        let timeout_secs = n
            .timeout_secs
            .as_ref()
            .map_or(default_timeout, |t| *t.get_ref());
        if let Some(t) = n.timeout_secs.as_ref().filter(|t| *t.get_ref() == 0) {
            self.err(
                &t.span(),
                "timeout_secs = 0 would time out at once; use at least 1".into(),
            );
        }
        Retry {
            timeout_secs,
            retries: n.retries.as_ref().map_or(2, |r| *r.get_ref()),
            invalid_prompt: self.b.prompts(n.invalid_prompt.as_ref()),
            timeout_prompt: self.b.prompts(n.timeout_prompt.as_ref()),
        }
    }

    fn priority(&mut self) -> Option<u8> {
        let p = self.n.priority.as_ref()?;
        if *p.get_ref() > MAX_PRIORITY {
            self.err(
                &p.span(),
                format!(
                    "priority {} is out of range; use 0 (normal) to {MAX_PRIORITY} (most urgent)",
                    p.get_ref()
                ),
            );
        }
        Some(*p.get_ref())
    }

    fn skills(&mut self) -> Vec<(Located<String>, u8)> {
        let mut out = Vec::new();
        for (skill, level) in self.n.skills.iter().flat_map(|s| s.get_ref()) {
            if !(1..=MAX_SKILL_LEVEL).contains(level.get_ref()) {
                self.err(
                    &level.span(),
                    format!(
                        "skill level {} for `{}` is out of range; use 1 to {MAX_SKILL_LEVEL}",
                        level.get_ref(),
                        skill.get_ref()
                    ),
                );
            }
            out.push((
                Located {
                    value: skill.get_ref().clone(),
                    span: skill.span(),
                },
                *level.get_ref(),
            ));
        }
        out
    }

    fn play(&mut self) -> Option<NodeKind> {
        let next = self.goto(&self.n.next, "next", "the node after the prompts");
        let prompts = self.b.prompts(self.n.prompt.as_ref());
        if prompts.is_empty() {
            let span = self.span.clone();
            self.err(
                &span,
                format!(
                    "`play` node `{}` has no `prompt`; add the prompt names to play",
                    self.node
                ),
            );
        }
        let barge_in = self.n.barge_in.as_ref().is_some_and(|b| *b.get_ref());
        Some(NodeKind::Play(Play {
            prompts,
            barge_in,
            next: next?,
        }))
    }

    fn menu(&mut self) -> Option<NodeKind> {
        let fallback = self.goto(
            &self.n.fallback,
            "fallback",
            "where callers go when the retries run out",
        );
        let mut choices = Vec::new();
        if let Some(map) = self.require(
            &self.n.choices,
            "choices",
            "keypad digit → node, e.g. { \"1\" = \"sales\" }",
        ) {
            if map.get_ref().is_empty() {
                self.err(
                    &map.span(),
                    "`choices` is empty; map at least one key, e.g. { \"1\" = \"sales\" }".into(),
                );
            }
            for (digit, target) in map.get_ref() {
                if let Some(d) = self.digit(digit, "choice key") {
                    choices.push((d, self.b.node_ref(target)));
                }
            }
        }
        let retry = self.retry(5);
        let prompts = self.b.prompts(self.n.prompt.as_ref());
        Some(NodeKind::Menu(Menu {
            prompts,
            choices,
            retry,
            fallback: fallback?,
        }))
    }

    fn collect(&mut self) -> Option<NodeKind> {
        let n = self.n;
        let next = self.goto(&n.next, "next", "where to go with valid digits");
        let on_invalid = self.goto(
            &n.on_invalid,
            "on_invalid",
            "where to go when the retries run out",
        );
        let var = self
            .require(&n.var, "var", "the variable that stores the digits")
            .map(|v| (v.get_ref().clone(), v.span()));
        if let Some((v, span)) = &var {
            if !is_simple_name(v) {
                self.err(
                    span,
                    format!(
                        "variable name `{v}` has spaces or symbols; use letters, digits and `_`"
                    ),
                );
            }
        }
        let min_len = n.min_len.as_ref().map_or(1, |m| *m.get_ref() as usize);
        let max_len = n.max_len.as_ref().map_or(20, |m| *m.get_ref() as usize);
        if let Some(m) = n.max_len.as_ref().filter(|_| max_len < min_len.max(1)) {
            self.err(
                &m.span(),
                format!("max_len {max_len} is below min_len {min_len}; raise max_len"),
            );
        }
        let terminator = match &n.terminator {
            Some(t) if t.get_ref().is_empty() => None,
            Some(t) => self.digit(t, "terminator"),
            None => Some('#'),
        };
        let mut patterns = Vec::new();
        for p in n.patterns.iter().flat_map(|p| p.get_ref()) {
            match DigitPattern::parse(p.get_ref()) {
                Ok(pat) => patterns.push(pat),
                Err(m) => self.err(&p.span(), m),
            }
        }
        let lookup = match &n.lookup {
            None => None,
            Some(l) => match l.get_ref().as_str() {
                "account" => Some(LookupKind::Account),
                "ticket" => Some(LookupKind::Ticket),
                other => {
                    self.err(
                        &l.span(),
                        format!("unknown lookup `{other}`; use \"account\" or \"ticket\""),
                    );
                    None
                }
            },
        };
        let on_not_found = self.opt_goto(&n.on_not_found);
        match (&n.lookup, &on_not_found) {
            (Some(l), None) => self.err(&l.span(), format!("collect node `{}` looks digits up but has no `on_not_found`; add the node for unknown numbers", self.node)),
            (None, Some(r)) => self.err(&r.span, "`on_not_found` needs `lookup = \"account\"` or `\"ticket\"`; add the lookup or remove this".into()),
            _ => {}
        }
        let retry = self.retry(5);
        let prompts = self.b.prompts(n.prompt.as_ref());
        Some(NodeKind::Collect(Collect {
            prompts,
            min_len,
            max_len,
            terminator,
            inter_digit_timeout_secs: n
                .inter_digit_timeout_secs
                .as_ref()
                .map_or(3, |t| *t.get_ref())
                .max(1),
            retry,
            patterns,
            lookup,
            var: var?.0,
            next: next?,
            on_invalid: on_invalid?,
            on_not_found,
        }))
    }

    fn set(&mut self) -> Option<NodeKind> {
        let n = self.n;
        let next = self.goto(&n.next, "next", "the node after setting");
        let mut vars = Vec::new();
        for (k, v) in n.vars.iter().flat_map(|m| m.get_ref()) {
            if !is_simple_name(k.get_ref()) {
                self.err(
                    &k.span(),
                    format!(
                        "variable name `{}` has spaces or symbols; use letters, digits and `_`",
                        k.get_ref()
                    ),
                );
            }
            vars.push((k.get_ref().clone(), v.get_ref().clone()));
        }
        let language = n.language.as_ref().map(|l| self.b.language(l));
        let skills = self.skills();
        let priority = self.priority();
        let tags = n
            .tags
            .iter()
            .flat_map(|t| t.get_ref())
            .map(|t| t.get_ref().clone())
            .collect();
        Some(NodeKind::Set(SetNode {
            vars,
            language,
            skills,
            priority,
            tags,
            next: next?,
        }))
    }

    fn branch(&mut self) -> Option<NodeKind> {
        let default = self.goto(
            &self.n.default,
            "default",
            "where to go when no rule matches",
        );
        let mut whens = Vec::new();
        for w in self.n.when.iter().flat_map(|w| w.get_ref()) {
            if let Some(cond) = self.condition(w.get_ref(), &w.span()) {
                whens.push(When {
                    cond,
                    goto: self.b.node_ref(&w.get_ref().goto),
                });
            }
        }
        Some(NodeKind::Branch(Branch {
            whens,
            default: default?,
        }))
    }

    fn condition(&mut self, w: &RawWhen, span: &Span) -> Option<Condition> {
        let loc = |s: &S<String>| Located {
            value: s.get_ref().clone(),
            span: s.span(),
        };
        let ticket_priority = match &w.ticket_priority {
            None => None,
            Some(p) => match TicketPriority::parse(p.get_ref()) {
                Some(tp) => Some(tp),
                None => {
                    self.err(
                        &p.span(),
                        format!(
                            "unknown ticket priority `{}`; use low, normal, high or urgent",
                            p.get_ref()
                        ),
                    );
                    return None;
                }
            },
        };
        let var = match (&w.var, &w.equals, w.is_set) {
            (Some(v), Some(e), None) => {
                Some((v.get_ref().clone(), VarTest::Equals(e.get_ref().clone())))
            }
            (Some(v), None, Some(set)) => Some((v.get_ref().clone(), VarTest::IsSet(set))),
            (None, None, None) => None,
            (Some(v), _, _) => {
                self.err(&v.span(), format!("condition on `{}` needs exactly one of `equals = \"…\"` or `is_set = true`", v.get_ref()));
                return None;
            }
            (None, _, _) => {
                self.err(
                    span,
                    "`equals` / `is_set` need `var = \"name\"` in the same rule; add it".into(),
                );
                return None;
            }
        };
        let cond = Condition {
            in_hours: w.in_hours.as_ref().map(loc),
            holiday: w.holiday.as_ref().map(loc),
            caller_known: w.caller_known,
            vip: w.vip,
            open_ticket: w.open_ticket,
            ticket_priority,
            language: w.language.as_ref().map(|l| self.b.language(l)),
            var,
        };
        if cond == Condition::default() {
            self.err(span, "rule has no condition; add one (in_hours, holiday, caller_known, vip, open_ticket, ticket_priority, language, var) or use `default`".into());
            return None;
        }
        Some(cond)
    }

    fn enqueue(&mut self) -> Option<NodeKind> {
        let queue = self
            .require(&self.n.queue, "queue", "the queue name")
            .map(|q| Located {
                value: q.get_ref().clone(),
                span: q.span(),
            });
        let skills = self.skills();
        let priority = self.priority();
        Some(NodeKind::Enqueue(Enqueue {
            queue: queue?,
            skills,
            priority,
        }))
    }

    fn callback(&mut self) -> Option<NodeKind> {
        let n = self.n;
        let queue = self
            .require(&n.queue, "queue", "the queue that calls back")
            .map(|q| Located {
                value: q.get_ref().clone(),
                span: q.span(),
            });
        let on_accept = self.goto(
            &n.on_accept,
            "on_accept",
            "where to go once a callback is booked",
        );
        let next = self.goto(&n.next, "next", "where to go when the caller keeps waiting");
        let accept_digit = match &n.accept_digit {
            Some(d) => self.digit(d, "accept_digit")?,
            None => '1',
        };
        let timeout_secs = n.timeout_secs.as_ref().map_or(5, |t| *t.get_ref()).max(1);
        let prompts = self.b.prompts(n.prompt.as_ref());
        Some(NodeKind::CallbackOffer(CallbackOffer {
            prompts,
            accept_digit,
            timeout_secs,
            queue: queue?,
            on_accept: on_accept?,
            next: next?,
        }))
    }

    fn voicemail(&mut self) -> Option<NodeKind> {
        let max_secs = self.n.max_secs.as_ref().map_or(120, |m| *m.get_ref());
        if let Some(m) = self
            .n
            .max_secs
            .as_ref()
            .filter(|m| !(5..=600).contains(m.get_ref()))
        {
            self.err(
                &m.span(),
                format!(
                    "max_secs = {} is out of range; use 5 to 600 seconds",
                    m.get_ref()
                ),
            );
        }
        let prompts = self.b.prompts(self.n.prompt.as_ref());
        Some(NodeKind::Voicemail(Voicemail {
            prompts,
            max_secs,
            next: self.opt_goto(&self.n.next),
        }))
    }

    fn transfer(&mut self) -> Option<NodeKind> {
        let number = self.require(&self.n.number, "number", "an E.164 number or \"$variable\"")?;
        let target = match number.get_ref().strip_prefix('$') {
            Some(var) => TransferTarget::Var(var.to_string()),
            None if is_e164(number.get_ref()) => TransferTarget::Number(number.get_ref().clone()),
            None => {
                self.err(&number.span(), format!("transfer number `{}` is not E.164; write it as + country code and number, e.g. \"+442079460999\"", number.get_ref()));
                return None;
            }
        };
        Some(NodeKind::Transfer(Transfer {
            target: Located {
                value: target,
                span: number.span(),
            },
            on_refused: self.opt_goto(&self.n.on_refused),
        }))
    }

    fn survey(&mut self) -> Option<NodeKind> {
        let retry = self.retry(6);
        let prompts = self.b.prompts(self.n.prompt.as_ref());
        Some(NodeKind::Survey(Survey {
            prompts,
            retry,
            next: self.opt_goto(&self.n.next),
        }))
    }
}
