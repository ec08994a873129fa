//! The agent desktop hub: what each agent's page shows (state, the offer with its pop, the call,
//! the wrap-up), the sockets showing it, and the way from a page's request to the call it is
//! about. Calls and the router tell the hub what happens; pages resync from `hello` on every
//! (re)connect, so a network blip or a reload loses nothing.
//!
//! Confidentiality: a page may act on, or read the pop of, only a call currently offered to,
//! connected to, or in wrap-up with its own agent.

use super::protocol::*;
use crate::acd::service::RouterHandle;
use crate::crm::model::{Interaction, Pop, WrapUp};
use crate::crm::Crm;
use dashmap::DashMap;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// What a page asks of the call it is about.
#[derive(Debug, Clone, PartialEq)]
pub enum DeskCommand {
    Answer {
        sdp: Option<String>,
    },
    Reject,
    Hangup,
    Hold(bool),
    Mute(bool),
    Dtmf(String),
    Transfer(TransferTarget),
    /// The page lost the call's audio (reload): offer a new WebRTC leg.
    Reoffer,
    /// A supervisor listens, whispers, barges in or stops (from the supervisor page).
    Monitor {
        supervisor: String,
        mode: MonitorMode,
    },
}

/// What a supervisor does on an agent's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// Hears caller and agent; heard by nobody.
    Listen,
    /// Hears both; heard by the agent only.
    Whisper,
    /// Hears both; heard by both.
    Barge,
    /// Leaves the call (their phone is hung up).
    Stop,
}

impl MonitorMode {
    pub const ALL: [MonitorMode; 4] = [
        MonitorMode::Listen,
        MonitorMode::Whisper,
        MonitorMode::Barge,
        MonitorMode::Stop,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MonitorMode::Listen => "listen",
            MonitorMode::Whisper => "whisper",
            MonitorMode::Barge => "barge",
            MonitorMode::Stop => "stop",
        }
    }

    pub fn parse(s: &str) -> Option<MonitorMode> {
        MonitorMode::ALL.into_iter().find(|m| m.name() == s)
    }
}

#[derive(Default)]
struct Slot {
    display_name: String,
    state: Option<StateView>,
    offer: Option<OfferView>,
    call: Option<CallView>,
    wrapup: Option<WrapupView>,
    sockets: Vec<(u64, UnboundedSender<ServerMsg>)>,
}

impl Slot {
    /// Send to every open page of the agent, forgetting the closed ones.
    fn send(&mut self, msg: &ServerMsg) {
        self.sockets.retain(|(_, tx)| tx.send(msg.clone()).is_ok());
    }
}

/// Where a page's requests about a call go: the call's task, told which agent asks.
pub type CallControl = UnboundedSender<(String, DeskCommand)>;

/// A finished call waiting for its wrap-up.
struct Draft {
    agent: String,
    interaction: Interaction,
    ended_at: std::time::Instant,
}

type PhoneCheck = Box<dyn Fn(&str) -> bool + Send + Sync>;

pub struct Desk {
    agents: DashMap<String, Slot>,
    /// Calls offered to or connected with each agent, by (call id, agent): a ring-all call is
    /// offered to several agents at once.
    calls: DashMap<(String, String), CallControl>,
    drafts: DashMap<String, Draft>,
    next_socket: AtomicU64,
    crm: Crm,
    router: RouterHandle,
    /// How long after the last socket closes an agent without a phone leaves routing.
    grace: Duration,
    has_phone: OnceLock<PhoneCheck>,
    rules: DeskRules,
}

/// What the desk needs from the routing config (queues.toml, agents.toml).
#[derive(Debug, Clone, Default)]
pub struct DeskRules {
    /// Queues whose calls need a disposition before the agent is ready again
    /// (`disposition_required = true`).
    pub disposition_required: HashSet<String>,
    /// Each queue's wrap-up time (`wrap_up_s`) in milliseconds; absent or 0: none.
    pub wrap_up_ms: HashMap<String, u64>,
    /// The agents routing knows (agents.toml ids): a user not listed can log in but is never
    /// offered a call, and is told so when they choose Available.
    pub roster: HashSet<String>,
}

impl DeskRules {
    /// The rules of a loaded routing config.
    pub fn from_config(acd: &crate::acd::config::AcdConfig) -> DeskRules {
        DeskRules {
            disposition_required: acd
                .queues
                .iter()
                .filter(|q| q.disposition_required)
                .map(|q| q.name.clone())
                .collect(),
            wrap_up_ms: acd
                .queues
                .iter()
                .map(|q| (q.name.clone(), q.wrap_up_ms))
                .collect(),
            roster: acd.agents.iter().map(|a| a.id.clone()).collect(),
        }
    }
}

/// Why an agent not in agents.toml cannot take calls, as their page shows it.
pub fn not_rostered(agent: &str) -> String {
    format!(
        "You can sign in, but `{agent}` is not on the agent roster (agents.toml), so no queue \
         can offer you calls. Ask a supervisor to add you to agents.toml."
    )
}

impl Desk {
    pub fn new(crm: Crm, router: RouterHandle, grace: Duration, rules: DeskRules) -> Arc<Desk> {
        Arc::new(Desk {
            agents: DashMap::new(),
            calls: DashMap::new(),
            drafts: DashMap::new(),
            next_socket: AtomicU64::new(1),
            crm,
            router,
            grace,
            has_phone: OnceLock::new(),
            rules,
        })
    }

    /// How to tell whether an agent has a registered phone (set once SIP is up).
    pub fn set_phone_check(&self, f: PhoneCheck) {
        let _ = self.has_phone.set(f);
    }

    /// Whether the agent has a registered SIP phone (which then rings for their calls).
    pub fn has_phone(&self, agent: &str) -> bool {
        self.has_phone.get().is_some_and(|f| f(agent))
    }

    /// Whether any page of the agent is connected.
    pub fn has_page(&self, agent: &str) -> bool {
        self.agents
            .get(agent)
            .is_some_and(|s| !s.sockets.is_empty())
    }

    pub fn crm(&self) -> &Crm {
        &self.crm
    }

    fn push(&self, agent: &str, msg: ServerMsg) {
        if let Some(mut slot) = self.agents.get_mut(agent) {
            slot.send(&msg);
        }
    }

    fn slot(&self, agent: &str) -> dashmap::mapref::one::RefMut<'_, String, Slot> {
        self.agents.entry(agent.to_string()).or_default()
    }

    // ---- told by the router and the calls ----

    /// The router changed the agent's state.
    pub fn state_changed(&self, agent: &str, state: &str, reason: Option<String>, since_ms: i64) {
        let view = StateView {
            state: state.to_string(),
            reason,
            since_ms,
        };
        self.slot(agent).state = Some(view.clone());
        self.push(agent, ServerMsg::State(view));
    }

    /// A call is offered to the agent: show it (with its pop) and accept the page's answer or
    /// rejection for it on `control`.
    pub fn offer(&self, agent: &str, offer: OfferView, control: CallControl) {
        self.calls
            .insert((offer.call_id.clone(), agent.to_string()), control);
        self.slot(agent).offer = Some(offer.clone());
        self.push(agent, ServerMsg::Offer(offer));
    }

    /// The offer is over without an answer (caller hung up, no answer, answered elsewhere).
    /// `reason` is the code, `text` what it means in words.
    pub fn withdraw(&self, agent: &str, call_id: &str, reason: &str, text: &str) {
        let had = {
            let mut slot = self.slot(agent);
            let had = slot.offer.as_ref().is_some_and(|o| o.call_id == call_id);
            if had {
                slot.offer = None;
            }
            had
        };
        self.calls.remove(&(call_id.to_string(), agent.to_string()));
        if had {
            self.push(
                agent,
                ServerMsg::OfferWithdrawn {
                    call_id: call_id.to_string(),
                    reason: reason.to_string(),
                    text: text.to_string(),
                },
            );
        }
    }

    /// The agent is talking to the caller.
    pub fn connected(&self, agent: &str, call: CallView) {
        {
            let mut slot = self.slot(agent);
            slot.offer = None;
            slot.call = Some(call.clone());
        }
        self.push(agent, ServerMsg::Call(call));
    }

    /// Hold / mute changed.
    pub fn call_changed(&self, agent: &str, call_id: &str, f: impl FnOnce(&mut CallView)) {
        let msg = {
            let mut slot = self.slot(agent);
            match slot.call.as_mut() {
                Some(c) if c.call_id == call_id => {
                    f(c);
                    ServerMsg::Call(c.clone())
                }
                _ => return,
            }
        };
        self.push(agent, msg);
    }

    /// The agent's part of the call is over: the page moves to wrap-up (a disposition required
    /// when the call's queue says so), and `interaction` is stored with the wrap-up (or without
    /// one, if the agent never sends it).
    pub fn call_ended(&self, agent: &str, by: &'static str, interaction: Interaction) {
        let call_id = interaction.call_id.clone();
        let required = interaction
            .queue
            .as_ref()
            .is_some_and(|q| self.rules.disposition_required.contains(q));
        let until_ms = interaction
            .queue
            .as_ref()
            .and_then(|q| self.rules.wrap_up_ms.get(q))
            .filter(|ms| **ms > 0)
            .map(|ms| crate::events::now_ms() + *ms as i64);
        let talk_secs = interaction.talk_ms as f64 / 1000.0;
        let view = {
            let mut slot = self.slot(agent);
            let pop = slot.call.take().map(|c| c.pop);
            let view = pop.map(|pop| WrapupView {
                call_id: call_id.clone(),
                required,
                until_ms,
                pop,
            });
            slot.wrapup = view.clone();
            view
        };
        self.calls.remove(&(call_id.clone(), agent.to_string()));
        self.drafts.insert(
            call_id.clone(),
            Draft {
                agent: agent.to_string(),
                interaction,
                ended_at: std::time::Instant::now(),
            },
        );
        self.push(
            agent,
            ServerMsg::CallEnded {
                call_id,
                by,
                talk_secs,
            },
        );
        if let Some(v) = view {
            self.push(agent, ServerMsg::Wrapup(v));
        }
    }

    /// The caller's survey score: kept with the draft, or written to the stored interaction.
    pub fn survey(&self, call_id: &str, score: u8) {
        if let Some(mut d) = self.drafts.get_mut(call_id) {
            d.interaction.survey_score = Some(i64::from(score));
            return;
        }
        let store = self.crm.store().clone();
        let call_id = call_id.to_string();
        tokio::spawn(async move {
            if let Err(e) = store.set_survey_score(&call_id, i64::from(score)).await {
                tracing::warn!(%call_id, error = %e, "survey score not stored");
            }
        });
    }

    // ---- the page's side ----

    /// A page connected: its first message is `hello` with everything to draw.
    pub fn connect(
        &self,
        agent: &str,
        display_name: &str,
        stats: Stats,
        device: &'static str,
    ) -> (u64, UnboundedReceiver<ServerMsg>) {
        let (tx, rx) = unbounded_channel();
        let id = self.next_socket.fetch_add(1, Ordering::Relaxed);
        let settings = self.crm.settings();
        let mut slot = self.slot(agent);
        slot.display_name = display_name.to_string();
        let hello = ServerMsg::Hello {
            agent: agent.to_string(),
            display_name: display_name.to_string(),
            state: slot.state.clone().unwrap_or(StateView {
                state: "logged-out".into(),
                reason: None,
                since_ms: crate::events::now_ms(),
            }),
            offer: slot.offer.clone(),
            call: slot.call.clone(),
            wrapup: slot.wrapup.clone(),
            dispositions: settings.dispositions.clone(),
            not_ready_reasons: settings.not_ready_reasons.clone(),
            stats,
            device,
        };
        let _ = tx.send(hello);
        slot.sockets.push((id, tx));
        drop(slot);
        use crate::acd::router::Input;
        let id_ = crate::acd::service::agent_id(agent);
        self.router.send(Input::AgentLogin {
            agent: id_.clone(),
            ready: false,
        });
        self.router.send(Input::AgentConnected { agent: id_ });
        (id, rx)
    }

    /// A page went away. After the grace period, an agent with no page and no phone is taken
    /// out of routing (not-ready, "disconnected").
    pub fn disconnect(self: &Arc<Self>, agent: &str, socket: u64) {
        let none_left = {
            let mut slot = self.slot(agent);
            slot.sockets.retain(|(id, _)| *id != socket);
            slot.sockets.is_empty()
        };
        if !none_left {
            return;
        }
        let me = self.clone();
        let agent = agent.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(me.grace).await;
            let still_gone = me.agents.get(&agent).is_none_or(|s| s.sockets.is_empty());
            let phone = me.has_phone(&agent);
            if still_gone && !phone {
                tracing::info!(%agent, "agent page gone past the grace period: out of routing");
                me.router
                    .send(crate::acd::router::Input::AgentDisconnected {
                        agent: crate::acd::service::agent_id(&agent),
                    });
            }
        });
    }

    /// The pop of a call, if this agent may see it (offered to, talking to, or wrapping up).
    pub fn pop_for(&self, agent: &str, call_id: &str) -> Option<Pop> {
        let slot = self.agents.get(agent)?;
        if let Some(o) = slot.offer.as_ref().filter(|o| o.call_id == call_id) {
            return Some(o.pop.clone());
        }
        if let Some(c) = slot.call.as_ref().filter(|c| c.call_id == call_id) {
            return Some(c.pop.clone());
        }
        slot.wrapup
            .as_ref()
            .filter(|w| w.call_id == call_id)
            .map(|w| w.pop.clone())
    }

    /// The contact of the call the agent is being offered, talking to or wrapping up.
    pub fn current_contact(&self, agent: &str) -> Option<String> {
        let slot = self.agents.get(agent)?;
        let pop = slot
            .offer
            .as_ref()
            .map(|o| &o.pop)
            .or(slot.call.as_ref().map(|c| &c.pop))
            .or(slot.wrapup.as_ref().map(|w| &w.pop))?;
        pop.contact.as_ref().map(|c| c.id.clone())
    }

    /// Any call's pop (supervisors).
    pub fn pop_any(&self, call_id: &str) -> Option<Pop> {
        let agent = self
            .connected_agent(call_id)
            .or_else(|| self.agent_of(call_id))
            .or_else(|| self.drafts.get(call_id).map(|d| d.agent.clone()))?;
        self.pop_for(&agent, call_id)
    }

    /// Handle one message from `agent`'s page; the reply (if any) goes to that page only.
    pub async fn handle(&self, agent: &str, msg: ClientMsg) -> Option<ServerMsg> {
        let kind = msg.kind();
        let result = match msg {
            ClientMsg::Ping => return Some(ServerMsg::Pong),
            ClientMsg::SetState { state, reason } => self.set_state(agent, &state, reason),
            ClientMsg::Answer { call_id, sdp } => {
                self.to_call(agent, &call_id, DeskCommand::Answer { sdp })
            }
            ClientMsg::Reject { call_id } => self.to_call(agent, &call_id, DeskCommand::Reject),
            ClientMsg::Hangup { call_id } => self.to_call(agent, &call_id, DeskCommand::Hangup),
            ClientMsg::Hold { call_id, on } => self.to_call(agent, &call_id, DeskCommand::Hold(on)),
            ClientMsg::Mute { call_id, on } => self.to_call(agent, &call_id, DeskCommand::Mute(on)),
            ClientMsg::Dtmf { call_id, digits } => {
                if digits.is_empty()
                    || !digits
                        .chars()
                        .all(|c| c.is_ascii_digit() || "*#ABCD".contains(c))
                {
                    Err("digits must be 0-9, *, #, A-D".to_string())
                } else {
                    self.to_call(agent, &call_id, DeskCommand::Dtmf(digits))
                }
            }
            ClientMsg::Transfer { call_id, to } => {
                self.to_call(agent, &call_id, DeskCommand::Transfer(to))
            }
            ClientMsg::Reoffer { call_id } => self.to_call(agent, &call_id, DeskCommand::Reoffer),
            ClientMsg::Wrapup { call_id, wrap } => self.wrapup(agent, &call_id, wrap).await,
        };
        result.err().map(|message| ServerMsg::Error {
            request: kind.to_string(),
            message,
        })
    }

    fn set_state(&self, agent: &str, state: &str, reason: Option<String>) -> Result<(), String> {
        use crate::acd::router::Input;
        let id = crate::acd::service::agent_id(agent);
        match state {
            "available" if !self.rules.roster.contains(agent) => {
                tracing::warn!(%agent, "chose Available but is not in agents.toml: no calls can be routed");
                return Err(not_rostered(agent));
            }
            "available" => {
                self.router.send(Input::AgentLogin {
                    agent: id.clone(),
                    ready: true,
                });
                self.router.send(Input::AgentReady { agent: id });
            }
            "not-ready" => {
                let reason = reason.unwrap_or_else(|| "break".into());
                if !self.crm.settings().not_ready_reasons.contains(&reason) {
                    return Err(format!(
                        "unknown not-ready reason `{reason}`; use one of: {}",
                        self.crm.settings().not_ready_reasons.join(", ")
                    ));
                }
                self.router.send(Input::AgentNotReady { agent: id, reason });
            }
            "logged-out" => self.router.send(Input::AgentLogout { agent: id }),
            other => {
                return Err(format!(
                    "state `{other}` cannot be chosen; use available, not-ready or logged-out"
                ))
            }
        }
        Ok(())
    }

    /// A supervisor's listen / whisper / barge / stop on a connected call. Monitoring rings the
    /// supervisor's registered SIP phone, so one must be registered.
    pub fn monitor(
        &self,
        call_id: &str,
        supervisor: &str,
        mode: MonitorMode,
    ) -> Result<(), String> {
        if mode != MonitorMode::Stop && !self.has_phone(supervisor) {
            return Err(format!(
                "register a SIP phone as `{supervisor}` first: {} rings your phone",
                mode.name()
            ));
        }
        if self.agent_of(call_id).is_none() {
            return Err(format!("no call `{call_id}` is with an agent now"));
        }
        let Some(agent) = self.connected_agent(call_id) else {
            return Err(format!("call `{call_id}` is not answered yet"));
        };
        let Some(tx) = self
            .calls
            .get(&(call_id.to_string(), agent.clone()))
            .map(|c| c.clone())
        else {
            return Err("that call has just ended".to_string());
        };
        tx.send((
            agent,
            DeskCommand::Monitor {
                supervisor: supervisor.to_string(),
                mode,
            },
        ))
        .map_err(|_| "that call has just ended".to_string())
    }

    /// Some agent the call is offered to or connected with.
    fn agent_of(&self, call_id: &str) -> Option<String> {
        self.calls
            .iter()
            .find(|e| e.key().0 == call_id)
            .map(|e| e.key().1.clone())
    }

    /// Whether `agent`'s page shows `call_id` as their (answered) call.
    fn shows_call(&self, agent: &str, call_id: &str) -> bool {
        self.agents
            .get(agent)
            .is_some_and(|s| s.call.as_ref().is_some_and(|c| c.call_id == call_id))
    }

    /// The agent talking to the caller of `call_id`.
    fn connected_agent(&self, call_id: &str) -> Option<String> {
        self.calls
            .iter()
            .map(|e| e.key().1.clone())
            .find(|a| self.shows_call(a, call_id))
    }

    fn to_call(&self, agent: &str, call_id: &str, cmd: DeskCommand) -> Result<(), String> {
        match self.calls.get(&(call_id.to_string(), agent.to_string())) {
            Some(c) => c
                .send((agent.to_string(), cmd))
                .map_err(|_| "that call has just ended".to_string()),
            // Another agent's call looks exactly like no call at all.
            _ => Err(format!(
                "no call `{call_id}` is offered to you or connected to you"
            )),
        }
    }

    async fn wrapup(&self, agent: &str, call_id: &str, wrap: WrapUp) -> Result<(), String> {
        let codes = &self.crm.settings().dispositions;
        if !codes.iter().any(|d| d.code == wrap.disposition) {
            return Err(format!(
                "unknown disposition `{}`; use one of: {}",
                wrap.disposition,
                codes
                    .iter()
                    .map(|d| d.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut interaction = match self.drafts.get(call_id) {
            Some(d) if d.agent == agent => {
                let mut i = d.interaction.clone();
                i.wrap_ms = d.ended_at.elapsed().as_millis() as i64;
                i
            }
            _ => return Err(format!("no call `{call_id}` is waiting for your wrap-up")),
        };
        interaction.notes = Some(wrap.notes.clone());
        let now = crate::events::now_ms();
        let saved = self
            .crm
            .save(&interaction, Some(&wrap), now)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Refused(why) => {
                    tracing::warn!(%call_id, %agent, %why, "wrap-up refused");
                    format!("wrap-up refused: {why}")
                }
                e => {
                    tracing::warn!(%call_id, error = %e, "wrap-up not stored; the agent can retry");
                    format!("could not store the wrap-up ({e}); nothing is lost, try again")
                }
            })?;
        self.drafts.remove(call_id);
        {
            let mut slot = self.slot(agent);
            if slot.wrapup.as_ref().is_some_and(|w| w.call_id == call_id) {
                slot.wrapup = None;
            }
        }
        self.push(
            agent,
            ServerMsg::WrapupSaved {
                call_id: call_id.to_string(),
                interaction_id: saved.interaction_id,
                ticket: saved.ticket,
            },
        );
        use crate::acd::router::Input;
        let id = crate::acd::service::agent_id(agent);
        self.router.send(Input::Disposition {
            agent: id.clone(),
            code: wrap.disposition,
        });
        self.router.send(Input::AgentReady { agent: id });
        if let Ok(stats) = self.stats(agent).await {
            self.push(agent, ServerMsg::Stats(stats));
        }
        Ok(())
    }

    /// Store the interactions of wrap-ups never sent (older than `max_age`), without a
    /// disposition, so no call goes unrecorded. Called periodically.
    pub async fn flush_stale_drafts(&self, max_age: Duration) {
        let stale: Vec<String> = self
            .drafts
            .iter()
            .filter(|d| d.ended_at.elapsed() > max_age)
            .map(|d| d.key().clone())
            .collect();
        for call_id in stale {
            let Some(i) = self.drafts.get(&call_id).map(|d| d.interaction.clone()) else {
                continue;
            };
            if self
                .crm
                .save(&i, None, crate::events::now_ms())
                .await
                .is_ok()
            {
                self.drafts.remove(&call_id);
            }
        }
    }

    /// At shutdown: store the interaction of every wrap-up not sent yet (without a
    /// disposition), so each call has its interaction row after the restart. Returns how many
    /// were stored and how many could not be.
    pub async fn store_pending_wrapups(&self) -> (usize, usize) {
        let pending: Vec<(String, Interaction)> = self
            .drafts
            .iter()
            .map(|d| {
                let mut i = d.interaction.clone();
                i.wrap_ms = d.ended_at.elapsed().as_millis() as i64;
                (d.key().clone(), i)
            })
            .collect();
        let (mut stored, mut failed) = (0, 0);
        for (call_id, interaction) in pending {
            match self
                .crm
                .save(&interaction, None, crate::events::now_ms())
                .await
            {
                Ok(saved) => {
                    tracing::info!(%call_id, interaction = %saved.interaction_id,
                        "shutting down: wrap-up not sent yet, interaction stored without a disposition");
                    self.drafts.remove(&call_id);
                    stored += 1;
                }
                Err(e) => {
                    tracing::error!(%call_id, error = %e,
                        "shutting down: pending wrap-up's interaction not stored");
                    failed += 1;
                }
            }
        }
        (stored, failed)
    }

    /// Push the queues' waiting counts to every open page.
    pub fn queues(&self, queues: Vec<QueueCount>) {
        let msg = ServerMsg::Queues { queues };
        for mut slot in self.agents.iter_mut() {
            slot.send(&msg);
        }
    }

    /// Every `every`, tell the pages how many callers wait in each queue; until `stop`.
    pub fn spawn_queue_counts(
        self: &Arc<Self>,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stop.cancelled() => return,
                }
                let Some(desk) = me.upgrade() else { return };
                if desk.agents.iter().all(|s| s.sockets.is_empty()) {
                    continue;
                }
                let Some(board) = desk.router.board().await else {
                    continue;
                };
                let counts = board
                    .snapshot
                    .queues
                    .iter()
                    .map(|q| QueueCount {
                        name: q.name.clone(),
                        waiting: q.waiting,
                        longest_wait_secs: q.head_wait_ms.unwrap_or(0) as f64 / 1000.0,
                    })
                    .collect();
                desk.queues(counts);
            }
        })
    }

    /// The agent's figures today (UTC day), from stored interactions.
    pub async fn stats(&self, agent: &str) -> crate::store::Result<Stats> {
        let now = crate::events::now_ms();
        let day_start = now - now.rem_euclid(86_400_000);
        let (answered, talk_ms, handle_ms) = self.crm.store().agent_day(agent, day_start).await?;
        Ok(Stats {
            answered_today: answered,
            aht_secs: (answered > 0).then(|| handle_ms as f64 / 1000.0 / answered as f64),
            talk_secs_today: talk_ms / 1000,
        })
    }
}
