//! Turns the raw TOML files into an [`AcdConfig`], reporting every problem with its
//! position. Cross-queue checks (overflow cycles, impossible requirements) live in `check`.
use super::check;
use super::model::*;
use super::raw::*;
use crate::acd::types::*;
use crate::diag::Diagnostic;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// A configuration that passed every check, with the warnings worth showing.
#[derive(Debug)]
pub struct Loaded {
    pub config: AcdConfig,
    pub warnings: Vec<Diagnostic>,
}

/// One operator-written file.
pub(crate) struct Src<'a> {
    pub file: PathBuf,
    pub text: &'a str,
}

#[derive(Default)]
pub(crate) struct Diags {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl Diags {
    pub fn err(&mut self, src: &Src, span: Range<usize>, msg: impl Into<String>) {
        self.errors
            .push(Diagnostic::at(&src.file, src.text, span.start, msg));
    }
    pub fn warn(&mut self, src: &Src, span: Range<usize>, msg: impl Into<String>) {
        let msg = format!("warning: {}", msg.into());
        self.warnings
            .push(Diagnostic::at(&src.file, src.text, span.start, msg));
    }
}

/// Read and check `queues.toml` and (optionally) `agents.toml`.
pub fn load_files(queues: &Path, agents: Option<&Path>) -> Result<Loaded, Vec<Diagnostic>> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| {
            vec![Diagnostic {
                file: p.to_path_buf(),
                line: 1,
                column: 1,
                message: format!("cannot read the file: {e}"),
            }]
        })
    };
    let qtext = read(queues)?;
    let atext = match agents {
        Some(p) => Some((p, read(p)?)),
        None => None,
    };
    load_str(
        queues,
        &qtext,
        atext.as_ref().map(|(p, t)| (*p, t.as_str())),
    )
}

/// Parse one TOML document into `T`, or a positioned diagnostic.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    file: &Path,
    text: &str,
) -> Result<T, Diagnostic> {
    toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let msg = e.message().trim().to_string();
        let hint = if msg.contains("unknown field") {
            "; remove it or fix its spelling"
        } else {
            ""
        };
        Diagnostic::at(file, text, at, format!("{msg}{hint}"))
    })
}

/// Check configuration given as text (`agents` is the agents file name and text).
pub fn load_str(
    queues_file: impl Into<PathBuf>,
    queues_text: &str,
    agents: Option<(&Path, &str)>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let qsrc = Src {
        file: queues_file.into(),
        text: queues_text,
    };
    let mut errors = Vec::new();
    let rq: Option<RawQueuesFile> = parse_toml(&qsrc.file, qsrc.text)
        .map_err(|d| errors.push(d))
        .ok();
    let ra = agents.map(|(p, t)| {
        let parsed: Option<RawAgentsFile> = parse_toml(p, t).map_err(|d| errors.push(d)).ok();
        (
            parsed,
            Src {
                file: p.to_path_buf(),
                text: t,
            },
        )
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    let rq = rq.unwrap_or_default();
    match &ra {
        Some((Some(a), asrc)) => compile(&rq, &qsrc, Some((a, asrc))),
        _ => compile(&rq, &qsrc, None),
    }
}

/// Compile parsed files (shared with the simulator's scenario files).
pub(crate) fn compile(
    rq: &RawQueuesFile,
    qsrc: &Src,
    ra: Option<(&RawAgentsFile, &Src)>,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut d = Diags::default();
    let mut cfg = AcdConfig::default();
    let skills = compile_skills(rq, qsrc, &mut d, &mut cfg);
    let mut queue_ids: HashMap<String, QueueId> = HashMap::new();
    for q in &rq.queues {
        let name = q.name.get_ref();
        if !valid_name(name) {
            d.err(
                qsrc,
                q.name.span(),
                format!("queue name `{name}` is not valid; use letters, digits, `-` and `_`"),
            );
        } else if queue_ids.contains_key(name) {
            d.err(
                qsrc,
                q.name.span(),
                format!("queue `{name}` is defined twice; rename or remove one"),
            );
        } else {
            queue_ids.insert(name.clone(), QueueId(queue_ids.len() as u16));
        }
    }
    let lookup = Lookup {
        skills: &skills,
        queues: &queue_ids,
    };
    for q in &rq.queues {
        if queue_ids.get(q.name.get_ref()).map(|id| id.0 as usize) != Some(cfg.queues.len()) {
            continue; // duplicate already reported
        }
        let def = compile_queue(q, qsrc, &lookup, &mut d);
        cfg.queues.push(def);
    }
    if let Some(s) = &rq.settings {
        let dflt = Settings::default();
        cfg.settings = Settings {
            disconnect_grace_ms: s
                .disconnect_grace_s
                .map_or(dflt.disconnect_grace_ms, |v| v * 1000),
            ticket_priority_boost: s
                .ticket_priority_boost
                .unwrap_or(dflt.ticket_priority_boost),
            sla_breach_boost: s.sla_breach_boost.unwrap_or(dflt.sla_breach_boost),
            callback_allowed_prefixes: s.callback_allowed_prefixes.clone().unwrap_or_default(),
            callback_denied_prefixes: s
                .callback_denied_prefixes
                .clone()
                .unwrap_or(dflt.callback_denied_prefixes),
            callback_max_per_number: s
                .callback_max_per_number
                .unwrap_or(dflt.callback_max_per_number),
            callback_max_per_hour: s
                .callback_max_per_hour
                .unwrap_or(dflt.callback_max_per_hour),
            explain_keep: s.explain_keep.unwrap_or(dflt.explain_keep),
        };
    }
    if let Some((ra, asrc)) = ra {
        compile_agents(ra, asrc, &lookup, &mut d, &mut cfg);
    }
    if d.errors.is_empty() {
        check::cross_checks(rq, qsrc, ra, &cfg, &mut d);
    }
    let order = |x: &Diagnostic| (x.file.clone(), x.line, x.column);
    d.errors.sort_by_key(order);
    d.warnings.sort_by_key(order);
    if d.errors.is_empty() {
        Ok(Loaded {
            config: cfg,
            warnings: d.warnings,
        })
    } else {
        Err(d.errors)
    }
}

pub(crate) struct Lookup<'a> {
    pub skills: &'a HashMap<String, SkillId>,
    pub queues: &'a HashMap<String, QueueId>,
}

impl Lookup<'_> {
    pub fn skill(&self, s: &Spanned<String>, src: &Src, d: &mut Diags) -> Option<SkillId> {
        let name = s.get_ref();
        let found = self.skills.get(name).copied();
        if found.is_none() {
            let known: Vec<&str> = sorted_names(self.skills);
            d.err(src, s.span(), format!(
                "unknown skill `{name}`{}; known skills: {}; declare it in `skills` or `languages` of queues.toml",
                suggest(name, &known), list(&known)));
        }
        found
    }
    pub fn queue(&self, s: &Spanned<String>, src: &Src, d: &mut Diags) -> Option<QueueId> {
        let name = s.get_ref();
        let found = self.queues.get(name).copied();
        if found.is_none() {
            let known: Vec<&str> = sorted_names(self.queues);
            d.err(
                src,
                s.span(),
                format!(
                    "unknown queue `{name}`{}; known queues: {}",
                    suggest(name, &known),
                    list(&known)
                ),
            );
        }
        found
    }
    /// Resolve `{ skill = level }`; levels must be 1..=5.
    pub fn levels(&self, m: &SkillMap, what: &str, src: &Src, d: &mut Diags) -> Vec<(SkillId, u8)> {
        let mut out = Vec::new();
        for (k, v) in m {
            let id = self.skill(k, src, d);
            let lvl = *v.get_ref();
            if !(MIN_LEVEL as i64..=MAX_LEVEL as i64).contains(&lvl) {
                d.err(src, v.span(), format!(
                    "{what} level {lvl} for skill `{}` is out of range; levels go from 1 (basic) to 5 (expert){}",
                    k.get_ref(),
                    if lvl > MAX_LEVEL as i64 && what == "required" { ": no agent can ever meet it" } else { "" }));
                continue;
            }
            if let Some(id) = id {
                out.push((id, lvl as u8));
            }
        }
        out
    }
}

fn compile_skills(
    rq: &RawQueuesFile,
    src: &Src,
    d: &mut Diags,
    cfg: &mut AcdConfig,
) -> HashMap<String, SkillId> {
    let mut map = HashMap::new();
    let all = rq
        .skills
        .iter()
        .map(|s| (s, false))
        .chain(rq.languages.iter().map(|s| (s, true)));
    for (s, language) in all {
        let name = s.get_ref();
        if !valid_name(name) {
            d.err(
                src,
                s.span(),
                format!("skill name `{name}` is not valid; use letters, digits, `-` and `_`"),
            );
        } else if map.contains_key(name) {
            d.err(
                src,
                s.span(),
                format!("skill `{name}` is declared twice; remove one"),
            );
        } else {
            map.insert(name.clone(), SkillId(cfg.skills.len() as u16));
            cfg.skills.push(SkillDef {
                name: name.clone(),
                language,
            });
        }
    }
    if cfg.skills.len() > u16::MAX as usize {
        d.err(src, 0..0, "too many skills; at most 65535");
    }
    map
}

fn outcome(
    name: &Spanned<String>,
    to: &Option<Spanned<String>>,
    overflow: Option<QueueId>,
    src: &Src,
    lk: &Lookup,
    d: &mut Diags,
) -> Option<Outcome> {
    match name.get_ref().as_str() {
        "voicemail" => Some(Outcome::Voicemail),
        "busy" => Some(Outcome::Busy),
        "callback" => Some(Outcome::Callback),
        "overflow" => match to {
            Some(t) => lk.queue(t, src, d).map(Outcome::Overflow),
            None => match overflow {
                Some(q) => Some(Outcome::Overflow(q)),
                None => {
                    d.err(src, name.span(), "outcome `overflow` needs a target queue: add `to = \"<queue>\"` here or an `overflow = { to = ... }` to the queue");
                    None
                }
            },
        },
        other => {
            d.err(
                src,
                name.span(),
                format!(
                    "unknown outcome `{other}`{}; use one of: overflow, voicemail, callback, busy",
                    suggest(other, &["overflow", "voicemail", "callback", "busy"])
                ),
            );
            None
        }
    }
}

fn compile_queue(q: &RawQueue, src: &Src, lk: &Lookup, d: &mut Diags) -> QueueDef {
    let mut def = QueueDef::new(q.name.get_ref());
    if let Some(s) = &q.strategy {
        match Strategy::parse(s.get_ref()) {
            Some(st) => def.strategy = st,
            None => {
                let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.name()).collect();
                d.err(
                    src,
                    s.span(),
                    format!(
                        "unknown strategy `{}`{}; use one of: {}",
                        s.get_ref(),
                        suggest(s.get_ref(), &names),
                        names.join(", ")
                    ),
                );
            }
        }
    }
    if let Some(m) = &q.membership {
        match m.get_ref().as_str() {
            "skills" => def.membership = Membership::Skills,
            "explicit" => def.membership = Membership::Explicit,
            other => d.err(src, m.span(), format!(
                "unknown membership `{other}`; use `skills` (any agent with the skills) or `explicit` (only agents listing the queue)")),
        }
    }
    def.required = lk
        .levels(&q.required, "required", src, d)
        .into_iter()
        .map(|(skill, min_level)| SkillReq { skill, min_level })
        .collect();
    def.required.sort();
    def.priority = q.priority.unwrap_or(0);
    def.emergency = q.emergency.unwrap_or(false);
    let mut last_after = None;
    for step in &q.relax {
        let st = step.get_ref();
        let after = *st.after_s.get_ref();
        if last_after.is_some_and(|l| after <= l) {
            d.err(
                src,
                st.after_s.span(),
                "relaxation steps must have increasing `after_s`; sort them by wait time",
            );
        }
        last_after = Some(after);
        let max_level = st.max_level.as_ref().and_then(|l| {
            let v = *l.get_ref();
            if (1..=5).contains(&v) {
                Some(v as u8)
            } else {
                d.err(
                    src,
                    l.span(),
                    format!("max_level {v} is out of range; use 1 to 5"),
                );
                None
            }
        });
        let drop: Vec<SkillId> = st.drop.iter().filter_map(|s| lk.skill(s, src, d)).collect();
        for (s, id) in st.drop.iter().zip(&drop) {
            if !def.required.iter().any(|r| r.skill == *id) && !st.any {
                d.warn(src, s.span(), format!("skill `{}` is dropped here but the queue does not require it (calls may still bring it)", s.get_ref()));
            }
        }
        if max_level.is_none() && drop.is_empty() && !st.any {
            d.err(
                src,
                step.span(),
                "this relaxation step changes nothing; give it `max_level`, `drop` or `any = true`",
            );
        }
        def.relax.push(RelaxStep {
            after_ms: after * 1000,
            max_level,
            drop,
            any: st.any,
        });
    }
    if let Some(o) = &q.overflow {
        let o_ref = o.get_ref();
        if let Some(to) = lk.queue(&o_ref.to, src, d) {
            if o_ref.after_s.is_none() && !o_ref.when_no_agents {
                d.err(
                    src,
                    o.span(),
                    "overflow never happens: give it `after_s` and/or `when_no_agents = true`",
                );
            }
            def.overflow = Some(OverflowDef {
                to,
                after_ms: o_ref.after_s.map(|s| s * 1000),
                when_no_agents: o_ref.when_no_agents,
            });
        }
    }
    let ovf = def.overflow.as_ref().map(|o| o.to);
    if let Some(mw) = &q.max_wait {
        let m = mw.get_ref();
        if let Some(out) = outcome(&m.outcome, &m.to, ovf, src, lk, d) {
            def.max_wait = Some((m.after_s * 1000, out));
        }
    }
    if let Some(ms) = &q.max_size {
        let m = ms.get_ref();
        if m.calls == 0 {
            d.err(src, ms.span(), "max_size.calls must be at least 1");
        }
        if let Some(out) = outcome(&m.outcome, &m.to, ovf, src, lk, d) {
            def.max_size = Some((m.calls as usize, out));
        }
    }
    def.sl_threshold_ms = q.sl_threshold_s.map_or(def.sl_threshold_ms, |s| s * 1000);
    def.wrap_up_ms = q.wrap_up_s.map_or(0, |s| s * 1000);
    def.disposition_required = q.disposition_required.unwrap_or(false);
    def.record = q.record.unwrap_or(false);
    if let Some(m) = &q.max_call_s {
        if *m.get_ref() == 0 {
            d.err(
                src,
                m.span(),
                "max_call_s must be at least 1 second (leave it out for [media] max_call_s, 4 hours by default)",
            );
        }
        def.max_call_ms = Some(m.get_ref().saturating_mul(1000));
    }
    if let Some(r) = &q.rona_s {
        if *r.get_ref() == 0 {
            d.err(
                src,
                r.span(),
                "rona_s must be at least 1 second, or an unanswered phone would never stop ringing",
            );
        }
        def.rona_ms = r.get_ref() * 1000;
    }
    if let Some(a) = &q.announce_every_s {
        if *a.get_ref() < 5 {
            d.err(src, a.span(), "announce_every_s below 5 seconds would talk over itself; use 5 or more, or remove it");
        }
        def.announce_every_ms = Some(a.get_ref() * 1000);
    }
    def.ticket_owner_first_ms = q.ticket_owner_first_s.unwrap_or(0) * 1000;
    if let Some(a) = &q.expected_aht_s {
        if *a.get_ref() == 0 {
            d.err(src, a.span(), "expected_aht_s must be at least 1");
        }
        def.expected_aht_ms = a.get_ref() * 1000;
    }
    if let Some(r) = &q.ring_all_max {
        if *r.get_ref() == 0 {
            d.err(src, r.span(), "ring_all_max must be at least 1");
        }
        def.ring_all_max = *r.get_ref() as usize;
    }
    if let Some(cb) = &q.callback {
        let dflt = CallbackDef::default();
        def.callback = CallbackDef {
            max_attempts: cb.max_attempts.unwrap_or(dflt.max_attempts).max(1),
            retry_after_ms: cb.retry_after_s.map_or(dflt.retry_after_ms, |s| s * 1000),
            dial_timeout_ms: cb
                .dial_timeout_s
                .map_or(dflt.dial_timeout_ms, |s| s.max(1) * 1000),
            offer_when_ewt_over_ms: cb.offer_when_ewt_over_s.map(|s| s * 1000),
        };
    }
    def
}

fn compile_agents(ra: &RawAgentsFile, src: &Src, lk: &Lookup, d: &mut Diags, cfg: &mut AcdConfig) {
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for a in &ra.agents {
        let id = a.id.get_ref();
        if !valid_name(id) {
            d.err(
                src,
                a.id.span(),
                format!("agent id `{id}` is not valid; use letters, digits, `-`, `_`, `.` and `@`"),
            );
            continue;
        }
        if seen.insert(id, ()).is_some() {
            d.err(
                src,
                a.id.span(),
                format!("agent `{id}` is defined twice; remove one"),
            );
            continue;
        }
        let skills = lk.levels(&a.skills, "skill", src, d);
        let mut queues = Vec::new();
        for (k, v) in &a.queues {
            let pen = *v.get_ref();
            if !(0..=1000).contains(&pen) {
                d.err(
                    src,
                    v.span(),
                    format!(
                        "penalty {pen} for queue `{}` is out of range; use 0 (first) to 1000",
                        k.get_ref()
                    ),
                );
            }
            if let Some(q) = lk.queue(k, src, d) {
                queues.push((q, pen.clamp(0, 1000) as u16));
            }
        }
        cfg.agents.push(AgentDef {
            id: id.clone(),
            name: a.name.clone().unwrap_or_else(|| id.clone()),
            skills,
            queues,
        });
    }
}

pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

fn sorted_names<V>(m: &HashMap<String, V>) -> Vec<&str> {
    let mut v: Vec<&str> = m.keys().map(|s| s.as_str()).collect();
    v.sort_unstable();
    v
}

pub(crate) fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "(none)".to_string();
    }
    if names.len() <= 12 {
        return names.join(", ");
    }
    format!("{}, … ({} in all)", names[..12].join(", "), names.len())
}

/// " (did you mean `x`?)" when a known name is close.
pub(crate) fn suggest(name: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (edit_distance(name, k), *k))
        .filter(|(dist, k)| *dist <= 2.max(k.len() / 3))
        .min()
        .map_or(String::new(), |(_, k)| format!(" (did you mean `{k}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
