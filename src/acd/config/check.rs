//! Checks that need the whole configuration: overflow cycles and requirements no agent
//! can ever meet. Reported at the position of the offending entry.
use super::compile::{Diags, Src};
use super::model::*;
use super::raw::*;
use crate::acd::types::*;
use std::ops::Range;

pub(crate) fn cross_checks(
    rq: &RawQueuesFile,
    qsrc: &Src,
    ra: Option<(&RawAgentsFile, &Src)>,
    cfg: &AcdConfig,
    d: &mut Diags,
) {
    overflow_cycles(rq, qsrc, cfg, d);
    if let Some((ra, asrc)) = ra {
        if !ra.agents.is_empty() {
            requirements(rq, qsrc, ra, asrc, cfg, d);
        }
    }
}

/// Every edge a caller can travel between queues, with the position that creates it.
fn edges(rq: &RawQueuesFile, cfg: &AcdConfig) -> Vec<(usize, usize, Range<usize>)> {
    let mut out = Vec::new();
    for (i, (q, raw)) in cfg.queues.iter().zip(&rq.queues).enumerate() {
        if let (Some(o), Some(r)) = (&q.overflow, &raw.overflow) {
            out.push((i, o.to.0 as usize, r.get_ref().to.span()));
        }
        if let (Some((_, Outcome::Overflow(t))), Some(r)) = (&q.max_wait, &raw.max_wait) {
            out.push((i, t.0 as usize, r.span()));
        }
        if let (Some((_, Outcome::Overflow(t))), Some(r)) = (&q.max_size, &raw.max_size) {
            out.push((i, t.0 as usize, r.span()));
        }
    }
    out
}

fn overflow_cycles(rq: &RawQueuesFile, src: &Src, cfg: &AcdConfig, d: &mut Diags) {
    let n = cfg.queues.len();
    let edges = edges(rq, cfg);
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (a, b, _) in &edges {
        if !adj[*a].contains(b) {
            adj[*a].push(*b);
        }
    }
    // colour: 0 new, 1 on stack, 2 done. Iterative DFS keeping the path.
    let mut colour = vec![0u8; n];
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..n {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        colour[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&to) = adj[node].get(*next) {
                *next += 1;
                if colour[to] == 1 {
                    let pos = stack.iter().position(|(x, _)| *x == to).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[pos..].iter().map(|(x, _)| *x).collect();
                    let mut key = cycle.clone();
                    key.sort_unstable();
                    if !reported.contains(&key) {
                        reported.push(key);
                        let span = edges
                            .iter()
                            .find(|(a, b, _)| *a == node && *b == to)
                            .map_or(0..0, |e| e.2.clone());
                        cycle.push(to);
                        let path: Vec<&str> =
                            cycle.iter().map(|q| cfg.queues[*q].name.as_str()).collect();
                        d.err(src, span, format!(
                            "overflow cycle: {}; a caller would be passed around forever. Point one of these overflows at a queue outside the cycle, or use voicemail/callback/busy",
                            path.join(" -> ")));
                    }
                } else if colour[to] == 0 {
                    colour[to] = 1;
                    stack.push((to, 0));
                }
            } else {
                colour[node] = 2;
                stack.pop();
            }
        }
    }
}

fn qualifies(a: &AgentDef, q: QueueId, def: &QueueDef, reqs: &[SkillReq]) -> bool {
    if def.membership == Membership::Explicit && !a.queues.iter().any(|(x, _)| *x == q) {
        return false;
    }
    reqs.iter().all(|r| {
        a.skills
            .iter()
            .any(|(s, l)| *s == r.skill && *l >= r.min_level)
    })
}

fn requirements(
    rq: &RawQueuesFile,
    qsrc: &Src,
    ra: &RawAgentsFile,
    asrc: &Src,
    cfg: &AcdConfig,
    d: &mut Diags,
) {
    for (i, (def, raw)) in cfg.queues.iter().zip(&rq.queues).enumerate() {
        let q = QueueId(i as u16);
        let span = raw
            .required
            .keys()
            .next()
            .map_or(raw.name.span(), |k| k.span());
        let finals = relaxed(&def.required, &def.relax, def.relax.len());
        let base_ok = cfg
            .agents
            .iter()
            .filter(|a| qualifies(a, q, def, &def.required))
            .count();
        let final_ok = cfg
            .agents
            .iter()
            .filter(|a| qualifies(a, q, def, &finals))
            .count();
        if final_ok == 0 {
            let why = if def.membership == Membership::Explicit
                && !cfg
                    .agents
                    .iter()
                    .any(|a| a.queues.iter().any(|(x, _)| *x == q))
            {
                format!("queue `{}` has membership = \"explicit\" but no agent lists it under `queues` in agents.toml; add it to some agents or use membership = \"skills\"", def.name)
            } else {
                format!("impossible requirement: no agent in agents.toml has {}{}; lower the levels, add a relaxation step, or give an agent these skills",
                    cfg.describe(&finals), closest(cfg, &finals))
            };
            let overflow_saves = def.overflow.as_ref().is_some_and(|o| o.when_no_agents);
            if overflow_saves {
                d.warn(
                    qsrc,
                    span,
                    format!(
                        "{why} (callers overflow to `{}` meanwhile)",
                        def.overflow.as_ref().map_or("?", |o| cfg.queue_name(o.to))
                    ),
                );
            } else {
                d.err(qsrc, span, why);
            }
        } else if base_ok == 0 {
            let first = (1..=def.relax.len())
                .find(|&st| {
                    cfg.agents
                        .iter()
                        .any(|a| qualifies(a, q, def, &relaxed(&def.required, &def.relax, st)))
                })
                .unwrap_or(def.relax.len());
            let after = def
                .relax
                .get(first.saturating_sub(1))
                .map_or(0, |s| s.after_ms / 1000);
            d.warn(qsrc, span, format!(
                "no agent has {}; callers of `{}` wait at least {after} s for relaxation before anyone can take them",
                cfg.describe(&def.required), def.name));
        }
    }
    for (a, raw) in cfg.agents.iter().zip(&ra.agents) {
        for ((qid, _), (k, _)) in a.queues.iter().zip(&raw.queues) {
            let def = &cfg.queues[qid.0 as usize];
            let finals = relaxed(&def.required, &def.relax, def.relax.len());
            if !qualifies(a, *qid, def, &finals) {
                d.warn(
                    asrc,
                    k.span(),
                    format!(
                        "agent `{}` lists queue `{}` but lacks {}; they will never get its calls",
                        a.id,
                        def.name,
                        cfg.describe(&finals)
                    ),
                );
            }
        }
    }
}

/// " (closest: `bob` with network 3, spanish 2)"
fn closest(cfg: &AcdConfig, reqs: &[SkillReq]) -> String {
    let score = |a: &AgentDef| -> i32 {
        reqs.iter()
            .map(|r| {
                let l = a
                    .skills
                    .iter()
                    .find(|(s, _)| *s == r.skill)
                    .map_or(0, |(_, l)| *l);
                (l as i32 - r.min_level as i32).min(0)
            })
            .sum()
    };
    cfg.agents
        .iter()
        .max_by_key(|a| score(a))
        .map_or(String::new(), |a| {
            let have: Vec<String> = reqs
                .iter()
                .map(|r| {
                    let l = a
                        .skills
                        .iter()
                        .find(|(s, _)| *s == r.skill)
                        .map_or(0, |(_, l)| *l);
                    format!("{} {}", cfg.skill_name(r.skill), l)
                })
                .collect();
            format!(" (closest: `{}` with {})", a.id, have.join(", "))
        })
}
