//! Scenario files for the simulator: the routing configuration (same format as
//! queues.toml) plus traffic, a roster with shifts, and what-if variants.
//!
//! ```toml
//! skills = ["support"]     # top-level keys first: skills, languages, [settings], [[queues]]
//!
//! [sim]
//! seed = 7
//! interval_s = 1800        # report interval (and arrival-rate interval)
//! duration_s = 36000       # arrivals over this span (one day)...
//! days = 20                # ...repeated (shifts too); intervals are folded per day
//! calls = 1000000          # or: until this many calls after warm-up
//! warmup_s = 3600          # calls arriving earlier are not counted
//! batches = 20             # batch means for confidence intervals
//! short_abandon_s = 5
//! ring_s = 0               # time an agent's phone rings before answering (0 allowed)
//!
//! [[queues]]              # exactly as in queues.toml
//! name = "support"
//! required = { support = 1 }
//!
//! [[arrivals]]
//! queue = "support"
//! per_hour = [100, 140, 180]          # one rate per interval (repeats), or a single number
//! language = "spanish"                # optional, like the IVR would set
//! skills = { network = 2 }            # optional extra requirement
//! priority = 0
//! handle = { dist = "exp", mean_s = 240 }      # exp | lognormal (mean_s, sd_s) | const | uniform
//! patience = { dist = "exp", mean_s = 180 }    # optional: never abandons without it
//!
//! [[roster]]
//! name = "support"          # agents support-1 .. support-N
//! count = 10
//! skills = { support = 1 }
//! queues = { }              # memberships with penalty, as in agents.toml
//! shift = { start_s = 0, end_s = 28800 }   # optional: the whole run otherwise
//!
//! [[what_if]]
//! name = "one more agent"
//! add_agents = { support = 1 }   # roster group = extra agents
//! ```
use super::dist::{DistSpec, Sampler};
use crate::acd::config::raw::{
    RawAgent, RawAgentsFile, RawQueue, RawQueuesFile, RawSettings, SkillMap,
};
use crate::acd::config::{compile, parse_toml, AcdConfig, Src};
use crate::acd::types::Millis;
use crate::diag::Diagnostic;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    sim: RawSim,
    #[serde(default)]
    skills: Vec<Spanned<String>>,
    #[serde(default)]
    languages: Vec<Spanned<String>>,
    #[serde(default)]
    settings: Option<RawSettings>,
    #[serde(default)]
    queues: Vec<RawQueue>,
    #[serde(default)]
    arrivals: Vec<RawArrival>,
    #[serde(default)]
    roster: Vec<RawRoster>,
    #[serde(default)]
    what_if: Vec<RawWhatIf>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct RawSim {
    seed: Option<u64>,
    interval_s: Option<u64>,
    duration_s: Option<u64>,
    days: Option<u32>,
    calls: Option<u64>,
    warmup_s: Option<u64>,
    batches: Option<u32>,
    short_abandon_s: Option<u64>,
    ring_s: Option<f64>,
}

#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Rates {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawArrival {
    queue: Spanned<String>,
    per_hour: Spanned<Rates>,
    #[serde(default)]
    skills: SkillMap,
    language: Option<Spanned<String>>,
    priority: Option<i32>,
    emergency: Option<bool>,
    handle: Spanned<DistSpec>,
    patience: Option<Spanned<DistSpec>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawRoster {
    name: Spanned<String>,
    count: u32,
    #[serde(default)]
    skills: SkillMap,
    #[serde(default)]
    queues: SkillMap,
    shift: Option<Shift>,
}

#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct Shift {
    start_s: u64,
    end_s: u64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RawWhatIf {
    name: String,
    add_agents: BTreeMap<Spanned<String>, u32>,
}

/// One stream of calls.
#[derive(Clone, Debug)]
pub struct Stream {
    pub queue: String,
    pub per_hour: Vec<f64>,
    pub skills: Vec<(String, u8)>,
    pub language: Option<String>,
    pub priority: i32,
    pub emergency: bool,
    pub handle: DistSpec,
    pub handle_sampler: Sampler,
    pub patience: Option<DistSpec>,
    pub patience_sampler: Option<Sampler>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub agents: Vec<String>,
    pub shift: Option<(Millis, Millis)>,
}

/// A ready-to-run variant (baseline or what-if).
#[derive(Clone, Debug)]
pub struct Scenario {
    pub label: String,
    pub config: AcdConfig,
    pub seed: u64,
    pub interval_ms: Millis,
    /// Total span of arrivals (`days` × the day), when not counting calls.
    pub duration_ms: Option<Millis>,
    /// Length of one day: intervals and shifts repeat with this period.
    pub day_ms: Option<Millis>,
    pub days: u32,
    pub calls: Option<u64>,
    pub warmup_ms: Millis,
    pub batches: u32,
    pub short_abandon_ms: Millis,
    pub ring_ms: Millis,
    pub streams: Vec<Stream>,
    pub groups: Vec<Group>,
}

/// Parse a scenario file into its baseline and what-if variants.
pub fn parse(file: &Path, text: &str) -> Result<Vec<Scenario>, Vec<Diagnostic>> {
    let raw: RawScenario = parse_toml(file, text).map_err(|d| vec![d])?;
    let src = Src {
        file: file.to_path_buf(),
        text,
    };
    let mut out = vec![build(&raw, &src, "baseline", &BTreeMap::new())?];
    for w in &raw.what_if {
        let mut errs = Vec::new();
        for k in w.add_agents.keys() {
            if !raw.roster.iter().any(|r| r.name.get_ref() == k.get_ref()) {
                errs.push(Diagnostic::at(
                    file,
                    text,
                    k.span().start,
                    format!("what-if adds to unknown roster group `{}`", k.get_ref()),
                ));
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let extra = w
            .add_agents
            .iter()
            .map(|(k, v)| (k.get_ref().clone(), *v))
            .collect();
        out.push(build(&raw, &src, &w.name, &extra)?);
    }
    Ok(out)
}

fn build(
    raw: &RawScenario,
    src: &Src,
    label: &str,
    extra: &BTreeMap<String, u32>,
) -> Result<Scenario, Vec<Diagnostic>> {
    let err = |at: usize, m: String| vec![Diagnostic::at(&src.file, src.text, at, m)];
    let mut agents = RawAgentsFile::default();
    let mut groups = Vec::new();
    for r in &raw.roster {
        let name = r.name.get_ref();
        let n = r.count + extra.get(name).copied().unwrap_or(0);
        let ids: Vec<String> = (1..=n).map(|i| format!("{name}-{i}")).collect();
        for id in &ids {
            agents.agents.push(RawAgent {
                id: Spanned::new(r.name.span(), id.clone()),
                name: None,
                skills: r.skills.clone(),
                queues: r.queues.clone(),
            });
        }
        let shift = r.shift.map(|s| (s.start_s * 1000, s.end_s * 1000));
        if let Some((a, b)) = shift {
            if a >= b {
                return Err(err(
                    r.name.span().start,
                    format!("roster `{name}`: shift must end after it starts"),
                ));
            }
        }
        groups.push(Group {
            name: name.clone(),
            agents: ids,
            shift,
        });
    }
    let file = RawQueuesFile {
        skills: raw.skills.clone(),
        languages: raw.languages.clone(),
        settings: Some(RawSettings {
            explain_keep: Some(0),
            ..raw.settings.clone().unwrap_or_default()
        }),
        queues: raw.queues.clone(),
    };
    let config = compile(&file, src, Some((&agents, src)))?.config;
    let mut streams = Vec::new();
    for a in &raw.arrivals {
        if config.queue_id(a.queue.get_ref()).is_none() {
            return Err(err(
                a.queue.span().start,
                format!("arrivals go to unknown queue `{}`", a.queue.get_ref()),
            ));
        }
        let per_hour = match a.per_hour.get_ref() {
            Rates::One(r) => vec![*r],
            Rates::Many(v) => v.clone(),
        };
        if per_hour.is_empty() || per_hour.iter().any(|r| !r.is_finite() || *r < 0.0) {
            return Err(err(
                a.per_hour.span().start,
                "per_hour needs non-negative rates".into(),
            ));
        }
        let handle_sampler = a
            .handle
            .get_ref()
            .build()
            .map_err(|m| err(a.handle.span().start, m))?;
        let patience_sampler = match &a.patience {
            Some(p) => Some(p.get_ref().build().map_err(|m| err(p.span().start, m))?),
            None => None,
        };
        let mut skills = Vec::new();
        for (k, v) in &a.skills {
            if config.skill_id(k.get_ref()).is_none() || !(1..=5).contains(v.get_ref()) {
                return Err(err(
                    k.span().start,
                    format!("unknown skill or bad level: `{}`", k.get_ref()),
                ));
            }
            skills.push((k.get_ref().clone(), *v.get_ref() as u8));
        }
        if let Some(l) = &a.language {
            if config.skill_id(l.get_ref()).is_none() {
                return Err(err(
                    l.span().start,
                    format!("unknown language `{}`", l.get_ref()),
                ));
            }
        }
        streams.push(Stream {
            queue: a.queue.get_ref().clone(),
            per_hour,
            skills,
            language: a.language.as_ref().map(|l| l.get_ref().clone()),
            priority: a.priority.unwrap_or(0),
            emergency: a.emergency.unwrap_or(false),
            handle: *a.handle.get_ref(),
            handle_sampler,
            patience: a.patience.as_ref().map(|p| *p.get_ref()),
            patience_sampler,
        });
    }
    let s = &raw.sim;
    if s.duration_s.is_none() && s.calls.is_none() {
        return Err(err(0, "[sim] needs `duration_s` or `calls`".into()));
    }
    Ok(Scenario {
        label: label.to_string(),
        config,
        seed: s.seed.unwrap_or(1),
        interval_ms: s.interval_s.unwrap_or(1800).max(1) * 1000,
        duration_ms: s
            .duration_s
            .map(|d| d * 1000 * s.days.unwrap_or(1).max(1) as u64),
        day_ms: s.duration_s.map(|d| d.max(1) * 1000),
        days: s.days.unwrap_or(1).max(1),
        calls: s.calls,
        warmup_ms: s.warmup_s.unwrap_or(0) * 1000,
        batches: s.batches.unwrap_or(20).max(2),
        short_abandon_ms: s.short_abandon_s.unwrap_or(0) * 1000,
        ring_ms: (s.ring_s.unwrap_or(0.0).max(0.0) * 1000.0).round() as Millis,
        streams,
        groups,
    })
}
