//! Routing decision latency at scale: `cargo run --release --example route_bench [ops]`.
//!
//! Builds a synthetic centre (200 skills with Zipf-skewed popularity, agents with 3-8
//! skills at levels 1-5, 40 queues with mixed strategies, 30% of them with relaxation
//! steps), fills it to N agents busy and M callers waiting, then measures, per input:
//! * `agent-free`: a call ends, the agent picks the best waiting call it qualifies for;
//! * `call-arrives`: a new caller (1-3 required skills, 10% with priority, 0.5%
//!   emergencies) is matched against free agents or queued;
//! * `timers`: ticks firing relaxation steps (which re-route the relaxed callers).
//!
//! Each figure is the wall time of one `Router::handle`/`tick` call, index upkeep and
//! action generation included. A second mode keeps half the agents idle (no queue) so
//! that arriving calls choose among thousands of free agents.
use helpline::acd::config::{AcdConfig, AgentDef, QueueDef, RelaxStep, SkillDef};
use helpline::acd::router::{Action, Input, QueuedCall, Router};
use helpline::acd::types::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use std::time::Instant;

const SKILLS: usize = 200;
const QUEUES: usize = 40;

fn config(rng: &mut StdRng, agents: usize) -> AcdConfig {
    let zipf = Zipf::new(SKILLS as f64, 1.0).expect("zipf");
    let skills = (0..SKILLS)
        .map(|i| SkillDef {
            name: format!("s{i}"),
            language: i >= SKILLS - 10,
        })
        .collect();
    let strategies = [
        Strategy::LongestIdle,
        Strategy::LongestIdle,
        Strategy::FewestCalls,
        Strategy::RoundRobin,
        Strategy::BestSkill,
    ];
    let queues = (0..QUEUES)
        .map(|i| {
            let mut q = QueueDef::new(&format!("q{i}"));
            q.strategy = strategies[i % strategies.len()];
            q.emergency = i == 0;
            q.rona_ms = 20_000;
            if i % 10 < 3 {
                q.relax = vec![
                    RelaxStep {
                        after_ms: 20_000,
                        max_level: Some(2),
                        drop: vec![],
                        any: false,
                    },
                    RelaxStep {
                        after_ms: 60_000,
                        max_level: Some(1),
                        drop: vec![],
                        any: false,
                    },
                ];
            }
            q
        })
        .collect();
    let agents = (0..agents)
        .map(|i| {
            let n = rng.random_range(3..=8);
            let mut sk: Vec<(SkillId, u8)> = Vec::new();
            while sk.len() < n {
                let s = SkillId(zipf.sample(rng) as u16 - 1);
                if !sk.iter().any(|(x, _)| *x == s) {
                    sk.push((s, rng.random_range(1..=5)));
                }
            }
            AgentDef {
                id: format!("a{i}"),
                name: format!("Agent {i}"),
                skills: sk,
                queues: vec![],
            }
        })
        .collect();
    AcdConfig {
        skills,
        queues,
        agents,
        settings: Default::default(),
    }
}

/// A caller whose needs some agent meets: 1-3 skills of a random agent, at or below
/// that agent's levels (Zipf popularity is inherited from the roster).
fn caller(rng: &mut StdRng, cfg: &AcdConfig, id: u64) -> QueuedCall {
    let a = &cfg.agents[rng.random_range(0..cfg.agents.len())];
    let k = match rng.random_range(0..100) {
        0..50 => 1,
        50..85 => 2,
        _ => 3,
    };
    let mut picked: Vec<(String, u8)> = Vec::new();
    while picked.len() < k.min(a.skills.len()) {
        let (s, l) = a.skills[rng.random_range(0..a.skills.len())];
        let name = cfg.skills[s.0 as usize].name.clone();
        if !picked.iter().any(|(n, _)| *n == name) {
            picked.push((name, rng.random_range(1..=l)));
        }
    }
    QueuedCall {
        call: CallId::from(format!("c{id}")),
        queue: format!("q{}", rng.random_range(1..QUEUES)),
        skills: picked,
        priority: if rng.random_bool(0.1) {
            rng.random_range(1..=5)
        } else {
            0
        },
        emergency: rng.random_bool(0.005),
        ..Default::default()
    }
}

struct Bench {
    r: Router,
    cfg: AcdConfig,
    rng: StdRng,
    now: Millis,
    next_id: u64,
    busy: Vec<(AgentId, CallId)>,
}

impl Bench {
    /// Answer every offer at once (untimed) and remember who is busy.
    fn settle(&mut self) {
        let acts: Vec<Action> = self.r.drain_actions().collect();
        for a in acts {
            if let Action::Offer { call, agents, .. } = a {
                let agent = agents[0].clone();
                self.r
                    .handle(
                        self.now,
                        Input::OfferAnswered {
                            call: call.clone(),
                            agent: agent.clone(),
                        },
                    )
                    .expect("answer");
                self.busy.push((agent, call));
                self.r.drain_actions().for_each(drop);
            }
        }
    }
    fn new_call(&mut self) -> u64 {
        self.next_id += 1;
        let qc = caller(&mut self.rng, &self.cfg, self.next_id);
        let t = Instant::now();
        self.r
            .handle(self.now, Input::CallQueued(qc))
            .expect("queued");
        let ns = t.elapsed().as_nanos() as u64;
        self.settle();
        ns
    }
    fn end_call(&mut self) -> Option<u64> {
        if self.busy.is_empty() {
            return None;
        }
        let i = self.rng.random_range(0..self.busy.len());
        let (_, call) = self.busy.swap_remove(i);
        let t = Instant::now();
        self.r
            .handle(self.now, Input::CallEnded { call })
            .expect("ended");
        let ns = t.elapsed().as_nanos() as u64;
        self.settle();
        Some(ns)
    }
    fn timers(&mut self) -> Option<u64> {
        match self.r.next_deadline() {
            Some(d) if d <= self.now => {
                let t = Instant::now();
                self.r.tick(self.now);
                let ns = t.elapsed().as_nanos() as u64;
                self.settle();
                Some(ns)
            }
            _ => None,
        }
    }
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

fn line(name: &str, v: &mut [u64]) {
    let total: u64 = v.iter().sum();
    let per_s = if total > 0 {
        v.len() as f64 / (total as f64 / 1e9)
    } else {
        0.0
    };
    let (p50, p99, p999) = (pct(v, 0.5), pct(v, 0.99), pct(v, 0.999));
    let max = v.last().copied().unwrap_or(0) as f64 / 1000.0;
    println!("    {name:<13} n={:<7} p50 {p50:>7.2} µs  p99 {p99:>7.2} µs  p99.9 {p999:>7.2} µs  max {max:>8.1} µs  {per_s:>10.0} /s", v.len());
}

fn run(agents: usize, waiting: usize, ops: usize, idle_mode: bool) {
    let mut rng = StdRng::seed_from_u64(7);
    let cfg = config(&mut rng, agents);
    let mut b = Bench {
        r: Router::new(cfg.clone()),
        cfg,
        rng,
        now: 0,
        next_id: 0,
        busy: Vec::new(),
    };
    let setup = Instant::now();
    for i in 0..agents {
        b.r.handle(
            0,
            Input::AgentLogin {
                agent: AgentId::from(format!("a{i}")),
                ready: true,
            },
        )
        .expect("login");
    }
    b.r.drain_actions().for_each(drop);
    let target_busy = if idle_mode { agents / 2 } else { agents };
    while b.busy.len() < target_busy * 98 / 100 || b.r.waiting_count() < waiting {
        b.now += 1;
        b.new_call();
        b.timers();
        if idle_mode && b.busy.len() >= target_busy {
            break;
        }
    }
    println!(
        "  {agents} agents, {} busy, {} waiting, {} skills, {} queues (setup {:.1} s)",
        b.busy.len(),
        b.r.waiting_count(),
        SKILLS,
        QUEUES,
        setup.elapsed().as_secs_f64()
    );
    let (mut free, mut arrive, mut timers) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ops {
        b.now += 5;
        if let Some(ns) = b.end_call() {
            free.push(ns);
        }
        arrive.push(b.new_call());
        if let Some(ns) = b.timers() {
            timers.push(ns);
        }
    }
    let s = b.r.stats();
    println!(
        "    after: {} waiting, {} busy, {} waiting-call classes",
        b.r.waiting_count(),
        b.busy.len(),
        s.classes
    );
    line("agent-free", &mut free);
    line("call-arrives", &mut arrive);
    line("timers", &mut timers);
    let mut all: Vec<u64> = free.iter().chain(&arrive).copied().collect();
    line("all decisions", &mut all);
}

fn main() {
    let ops: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    println!("route_bench: {ops} ops per size (each op = one call ends + one call arrives)");
    println!("overloaded (every agent busy, callers waiting):");
    for (agents, waiting) in [
        (1_000, 5_000),
        (1_000, 50_000),
        (10_000, 5_000),
        (10_000, 50_000),
        (10_000, 200_000),
    ] {
        run(agents, waiting, ops, false);
    }
    println!("underloaded (half the agents free, no queue):");
    for agents in [1_000, 10_000] {
        run(agents, 0, ops, true);
    }
}
