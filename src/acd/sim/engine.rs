//! The simulation loop: Poisson arrivals per interval, agents answering after `ring_s`,
//! handle and patience times drawn per call, shifts, all in virtual milliseconds, driven
//! through the very same [`Router`] the server runs (its timers via `next_deadline`).
use super::report::{BatchStats, GroupRow, IntervalRow, QueueRow, RunReport};
use super::scenario::Scenario;
use crate::acd::kpi::{split_by_interval, AgentTime, CallFact, CallTally, KpiParams};
use crate::acd::router::{Action, Input, QueuedCall, Router};
use crate::acd::types::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Ev {
    ShiftStart(u32),
    Arrival(u16),
    Answer(u32, u32),
    End(u32),
    Abandon(u32),
    CallbackAnswer(u32),
    ShiftEnd(u32),
}

struct SimCall {
    stream: u16,
    arrived: Millis,
    answered: Option<Millis>,
    abandoned: Option<Millis>,
    first_offer: Option<Millis>,
    deflected: bool,
    handle_ms: Millis,
    batch: Option<u32>,
    done: bool,
}

struct AgentTrack {
    group: usize,
    status: AgentStatus,
    since: Millis,
}

pub(super) struct Engine<'a> {
    sc: &'a Scenario,
    router: Router,
    rng: StdRng,
    now: Millis,
    heap: BinaryHeap<Reverse<(Millis, u64, Ev)>>,
    seq: u64,
    calls: Vec<SimCall>,
    next_arrival: Vec<f64>,
    agent_ids: Vec<AgentId>,
    agent_ix: HashMap<AgentId, u32>,
    agents: Vec<AgentTrack>,
    counted: u64,
    open_counted: u64,
    arrivals_done: bool,
    window_end: Option<Millis>,
    params: Vec<KpiParams>,
    queue_of_stream: Vec<usize>,
    wrap_ms: Vec<Millis>,
    tallies: BTreeMap<(usize, u64), CallTally>,
    batches: Vec<CallTally>,
    occupancy: BTreeMap<(usize, u64), AgentTime>,
}

impl<'a> Engine<'a> {
    pub fn new(sc: &'a Scenario) -> Self {
        let cfg = &sc.config;
        let params = cfg
            .queues
            .iter()
            .map(|q| KpiParams {
                sl_threshold_ms: q.sl_threshold_ms,
                short_abandon_ms: sc.short_abandon_ms,
            })
            .collect();
        let queue_of_stream = sc
            .streams
            .iter()
            .map(|s| cfg.queue_id(&s.queue).map_or(0, |q| q.0 as usize))
            .collect();
        let mut e = Engine {
            sc,
            router: Router::new(cfg.clone()),
            rng: StdRng::seed_from_u64(sc.seed),
            now: 0,
            heap: BinaryHeap::new(),
            seq: 0,
            calls: Vec::new(),
            next_arrival: vec![0.0; sc.streams.len()],
            agent_ids: Vec::new(),
            agent_ix: HashMap::new(),
            agents: Vec::new(),
            counted: 0,
            open_counted: 0,
            arrivals_done: false,
            window_end: sc.duration_ms,
            params,
            queue_of_stream,
            wrap_ms: cfg.queues.iter().map(|q| q.wrap_up_ms).collect(),
            tallies: BTreeMap::new(),
            batches: vec![CallTally::default(); sc.batches as usize],
            occupancy: BTreeMap::new(),
        };
        for (g, group) in sc.groups.iter().enumerate() {
            for id in &group.agents {
                let ix = e.agent_ids.len() as u32;
                let aid = AgentId::from(id.as_str());
                e.agent_ix.insert(aid.clone(), ix);
                e.agent_ids.push(aid);
                e.agents.push(AgentTrack {
                    group: g,
                    status: AgentStatus::LoggedOut,
                    since: 0,
                });
                match (group.shift, sc.day_ms) {
                    (Some((start, end)), Some(day)) => {
                        for d in 0..sc.days as u64 {
                            e.push(start + d * day, Ev::ShiftStart(ix));
                            e.push(end + d * day, Ev::ShiftEnd(ix));
                        }
                    }
                    (Some((start, end)), None) => {
                        e.push(start, Ev::ShiftStart(ix));
                        e.push(end, Ev::ShiftEnd(ix));
                    }
                    (None, _) => e.push(0, Ev::ShiftStart(ix)),
                }
            }
        }
        for s in 0..sc.streams.len() {
            e.schedule_arrival(s as u16);
        }
        e
    }

    /// Interval of the day a time falls in (days fold onto each other).
    fn interval_of(&self, t: Millis) -> u64 {
        let t = self.sc.day_ms.map_or(t, |d| t % d);
        t / self.sc.interval_ms
    }

    fn push(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, ev)));
    }

    /// Next arrival of a stream: exponential gaps at the current interval's rate
    /// (memoryless, so crossing into the next interval simply redraws at its rate).
    fn schedule_arrival(&mut self, s: u16) {
        let stream = &self.sc.streams[s as usize];
        let len = self.sc.interval_ms as f64;
        let mut t = self.next_arrival[s as usize];
        let limit = self.sc.duration_ms.map_or(f64::INFINITY, |d| d as f64);
        for _ in 0..1_000_000 {
            if t >= limit {
                return;
            }
            let i = (t / len).floor();
            let rate = stream.per_hour
                [self.interval_of(t as Millis) as usize % stream.per_hour.len()]
                / 3_600_000.0;
            let end = (i + 1.0) * len;
            if rate > 0.0 {
                let gap: f64 = Exp1.sample(&mut self.rng);
                let cand = t + gap / rate;
                if cand < end {
                    self.next_arrival[s as usize] = cand;
                    if cand < limit {
                        self.push(cand.round() as Millis, Ev::Arrival(s));
                    }
                    return;
                }
            }
            t = end;
        }
    }

    pub fn run(mut self) -> RunReport {
        loop {
            if self.arrivals_done && self.open_counted == 0 {
                break;
            }
            let ev_at = self.heap.peek().map(|Reverse((t, _, _))| *t);
            let tm_at = self.router.next_deadline();
            match (ev_at, tm_at) {
                (None, None) => break,
                (None, Some(t)) if t > self.now + 7 * 86_400_000 => break,
                (Some(e), Some(t)) if t < e => self.tick(t),
                (None, Some(t)) => self.tick(t),
                _ => {
                    if let Some(Reverse((t, _, ev))) = self.heap.pop() {
                        self.now = self.now.max(t);
                        self.event(ev);
                    }
                }
            }
        }
        let end = self.window_end.unwrap_or(self.now);
        for a in 0..self.agents.len() {
            let status = self.agents[a].status;
            self.account(a, status, end);
        }
        self.report()
    }

    fn tick(&mut self, t: Millis) {
        self.now = self.now.max(t);
        self.router.tick(self.now);
        self.pump();
    }

    fn input(&mut self, i: Input) -> bool {
        let ok = self.router.handle(self.now, i).is_ok();
        self.pump();
        ok
    }

    fn event(&mut self, ev: Ev) {
        match ev {
            Ev::ShiftStart(a) => {
                let agent = self.agent_ids[a as usize].clone();
                self.input(Input::AgentLogin { agent, ready: true });
            }
            Ev::ShiftEnd(a) => {
                let agent = self.agent_ids[a as usize].clone();
                self.input(Input::AgentLogout { agent });
            }
            Ev::Arrival(s) => self.arrival(s),
            Ev::Answer(c, a) => {
                let call = CallId::from(c.to_string());
                let agent = self.agent_ids[a as usize].clone();
                if self.input(Input::OfferAnswered { call, agent }) {
                    self.answered(c);
                }
            }
            Ev::CallbackAnswer(c) => {
                let call = CallId::from(c.to_string());
                if self.input(Input::CallbackResult {
                    call,
                    answered: true,
                }) {
                    self.answered(c);
                }
            }
            Ev::End(c) => {
                self.input(Input::CallEnded {
                    call: CallId::from(c.to_string()),
                });
                self.finish(c);
            }
            Ev::Abandon(c) => {
                let sc = &self.calls[c as usize];
                if sc.done || sc.answered.is_some() {
                    return;
                }
                self.calls[c as usize].abandoned = Some(self.now);
                self.input(Input::CallAbandoned {
                    call: CallId::from(c.to_string()),
                });
                self.finish(c);
            }
        }
    }

    fn answered(&mut self, c: u32) {
        let call = &mut self.calls[c as usize];
        call.answered = Some(self.now);
        let end = self.now + call.handle_ms;
        self.push(end, Ev::End(c));
    }

    fn arrival(&mut self, s: u16) {
        let stream = &self.sc.streams[s as usize];
        let c = self.calls.len() as u32;
        let handle_ms = stream.handle_sampler.sample_ms(&mut self.rng);
        let patience = stream
            .patience_sampler
            .as_ref()
            .map(|p| p.sample_ms(&mut self.rng));
        let batch = self.batch_of(self.now);
        self.calls.push(SimCall {
            stream: s,
            arrived: self.now,
            answered: None,
            abandoned: None,
            first_offer: None,
            deflected: false,
            handle_ms,
            batch,
            done: false,
        });
        if batch.is_some() {
            self.open_counted += 1;
        }
        if let Some(p) = patience {
            self.push(self.now + p, Ev::Abandon(c));
        }
        let qc = QueuedCall {
            call: CallId::from(c.to_string()),
            queue: stream.queue.clone(),
            skills: stream.skills.clone(),
            language: stream.language.clone(),
            priority: stream.priority,
            emergency: stream.emergency,
            ..Default::default()
        };
        self.input(Input::CallQueued(qc));
        self.schedule_arrival(s);
    }

    /// Batch of a call arriving now (None: warm-up or past the measured window).
    fn batch_of(&mut self, t: Millis) -> Option<u32> {
        if t < self.sc.warmup_ms {
            return None;
        }
        let k = self.sc.batches as u64;
        match (self.sc.calls, self.sc.duration_ms) {
            (Some(n), _) => {
                if self.counted >= n {
                    return None;
                }
                self.counted += 1;
                if self.counted == n {
                    self.arrivals_done = true;
                    self.window_end = Some(t);
                }
                Some(((self.counted - 1) * k / n) as u32)
            }
            (None, Some(d)) => {
                self.counted += 1;
                let span = d.saturating_sub(self.sc.warmup_ms).max(1);
                Some((((t - self.sc.warmup_ms) * k / span).min(k - 1)) as u32)
            }
            (None, None) => None,
        }
    }

    fn finish(&mut self, c: u32) {
        let call = &mut self.calls[c as usize];
        if call.done {
            return;
        }
        call.done = true;
        let Some(batch) = call.batch else { return };
        let q = self.queue_of_stream[call.stream as usize];
        let fact = CallFact {
            arrived_ms: call.arrived,
            answered_ms: call.answered,
            abandoned_ms: call.abandoned,
            first_offer_ms: call.first_offer,
            deflected: call.deflected,
            handle_ms: call.answered.map(|_| call.handle_ms + self.wrap_ms[q]),
            talk_ms: call.answered.map(|_| call.handle_ms),
        };
        let arrived = call.arrived;
        let interval = self.interval_of(arrived);
        let p = self.params[q];
        self.tallies
            .entry((q, interval))
            .or_default()
            .add(&fact, &p);
        self.batches[batch as usize].add(&fact, &p);
        self.open_counted -= 1;
    }

    /// Agent time from the last change until `to`, clipped to the measured window.
    fn account(&mut self, a: usize, new: AgentStatus, to: Millis) {
        let tr = &mut self.agents[a];
        let (from, status, group) = (tr.since, tr.status, tr.group);
        tr.status = new;
        tr.since = to;
        if status == AgentStatus::LoggedOut || status == AgentStatus::NotReady {
            return;
        }
        let lo = from.max(self.sc.warmup_ms);
        let hi = self.window_end.map_or(to, |e| to.min(e));
        let per_day = self
            .sc
            .day_ms
            .map_or(u64::MAX, |d| (d / self.sc.interval_ms).max(1));
        for (i, ms) in split_by_interval(lo, hi, self.sc.interval_ms) {
            self.occupancy
                .entry((group, i % per_day))
                .or_default()
                .add(status.is_busy(), ms);
        }
    }

    fn pump(&mut self) {
        while let Some(a) = self.router.poll_action() {
            match a {
                Action::Offer { call, agents, .. } => {
                    if let (Ok(c), Some(agent)) = (call.as_str().parse::<u32>(), agents.first()) {
                        if let Some(sc) = self.calls.get_mut(c as usize) {
                            sc.first_offer.get_or_insert(self.now);
                        }
                        if let Some(ix) = self.agent_ix.get(agent).copied() {
                            self.push(self.now + self.sc.ring_ms, Ev::Answer(c, ix));
                        }
                    }
                }
                Action::DialCallback { call, .. } => {
                    if let Ok(c) = call.as_str().parse::<u32>() {
                        self.push(self.now, Ev::CallbackAnswer(c));
                    }
                }
                Action::MaxWaitOutcome { call, outcome } | Action::QueueFull { call, outcome }
                    if outcome != OutcomeKind::Callback =>
                {
                    if let Ok(c) = call.as_str().parse::<u32>() {
                        self.calls[c as usize].deflected = true;
                        self.finish(c);
                    }
                }
                Action::CallbackFailed { call, .. } => {
                    if let Ok(c) = call.as_str().parse::<u32>() {
                        self.calls[c as usize].deflected = true;
                        self.finish(c);
                    }
                }
                Action::AgentStateChanged { agent, state, .. } => {
                    if let Some(ix) = self.agent_ix.get(&agent).copied() {
                        self.account(ix as usize, state, self.now);
                    }
                }
                // Nothing to simulate: the simulated caller hears these and keeps waiting
                // (a callback outcome is an offer the simulated caller does not take).
                Action::MaxWaitOutcome { .. }
                | Action::QueueFull { .. }
                | Action::StopRinging { .. }
                | Action::Announce { .. }
                | Action::Overflow { .. }
                | Action::OfferCallback { .. }
                | Action::CallbackBooked { .. }
                | Action::CallbackRefused { .. } => {}
            }
        }
    }

    fn report(self) -> RunReport {
        let cfg = &self.sc.config;
        let mut per_queue = vec![CallTally::default(); cfg.queues.len()];
        let mut overall = CallTally::default();
        let mut intervals = Vec::new();
        for ((q, i), t) in &self.tallies {
            per_queue[*q].merge(t);
            overall.merge(t);
            intervals.push(IntervalRow {
                start_s: i * self.sc.interval_ms / 1000,
                queue: cfg.queues[*q].name.clone(),
                kpis: t.kpis(),
            });
        }
        let mut group_time = vec![AgentTime::default(); self.sc.groups.len()];
        let mut interval_time: BTreeMap<u64, AgentTime> = BTreeMap::new();
        let mut all = AgentTime::default();
        for ((g, i), t) in &self.occupancy {
            group_time[*g].merge(t);
            interval_time.entry(*i).or_default().merge(t);
            all.merge(t);
        }
        RunReport {
            label: self.sc.label.clone(),
            counted_calls: self.counted,
            agents: self.agents.len(),
            queues: cfg
                .queues
                .iter()
                .zip(&per_queue)
                .filter(|(_, t)| t.offered > 0)
                .map(|(q, t)| QueueRow {
                    name: q.name.clone(),
                    kpis: t.kpis(),
                })
                .collect(),
            overall: overall.kpis(),
            occupancy: all.occupancy(),
            groups: self
                .sc
                .groups
                .iter()
                .zip(&group_time)
                .map(|(g, t)| GroupRow {
                    name: g.name.clone(),
                    agents: g.agents.len(),
                    occupancy: t.occupancy(),
                })
                .collect(),
            intervals,
            interval_occupancy: interval_time
                .iter()
                .map(|(i, t)| (i * self.sc.interval_ms / 1000, t.occupancy()))
                .collect(),
            batch: BatchStats::from_batches(&self.batches),
            erlang: super::report::erlang_check(self.sc),
            offers: self.router.stats().offers,
        }
    }
}
