//! Supervisor actions: force an agent's state or log them out, change a waiting caller's
//! priority or move them to another queue. Each goes to the router and is audited as a
//! `supervisor.action` event (its `audit` row is derived from the event when stored), done or
//! refused. Listening to, whispering to and barging into a call go to the call through the
//! agents' desk: the call rings the supervisor's phone and mixes them in (`call::monitor`).

use super::Supervisor;
use crate::acd::router::{AcdError, Input};
use crate::acd::types::{AgentId, CallId};
use crate::events::{now_ms, Event};
use serde_json::{json, Value};

/// Why an action was not done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error("routing is not running")]
    Unavailable,
}

impl ActionError {
    fn from_router(e: AcdError) -> ActionError {
        match e {
            AcdError::UnknownAgent(_) | AcdError::UnknownCall(_) => {
                ActionError::NotFound(e.to_string())
            }
            AcdError::UnknownQueue(_) => ActionError::Invalid(e.to_string()),
            AcdError::BadCallState(c) => ActionError::Refused(format!(
                "call `{c}` is not waiting in a queue any more (ringing, answered or gone)"
            )),
            other => ActionError::Refused(other.to_string()),
        }
    }
}

impl Supervisor {
    /// Record the action (and count it) whatever its result.
    fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        call: Option<&str>,
        detail: Value,
        result: &Result<(), ActionError>,
    ) {
        let outcome = match result {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("refused: {e}"),
        };
        self.metrics
            .supervisor_actions
            .with_label_values(&[action, if result.is_ok() { "ok" } else { "refused" }])
            .inc();
        tracing::info!(%actor, %action, %target, result = %outcome, "supervisor action");
        let ev = Event::SupervisorAction {
            actor: actor.to_string(),
            action: action.to_string(),
            target: target.to_string(),
            detail,
            result: outcome,
        };
        self.events.append(ev.record(call, now_ms()));
    }

    async fn route(&self, input: Input) -> Result<(), ActionError> {
        match self.router.request(input).await {
            None => Err(ActionError::Unavailable),
            Some(r) => r.map_err(ActionError::from_router),
        }
    }

    /// `state`: "available" or "not-ready" (with a reason), or "logged-out".
    pub async fn force_state(
        &self,
        actor: &str,
        agent: &str,
        state: &str,
        reason: Option<String>,
    ) -> Result<(), ActionError> {
        let id = AgentId::from(agent);
        let result = match state {
            "available" => self.route(Input::AgentReady { agent: id }).await,
            "not-ready" => {
                let reason = reason
                    .clone()
                    .filter(|r| !r.trim().is_empty())
                    .unwrap_or_else(|| "supervisor".into());
                self.route(Input::AgentNotReady { agent: id, reason }).await
            }
            "logged-out" => self.route(Input::AgentLogout { agent: id }).await,
            other => Err(ActionError::Invalid(format!(
                "state `{other}` cannot be set; use available, not-ready or logged-out"
            ))),
        };
        self.audit(
            actor,
            "agent_state",
            agent,
            None,
            json!({"state": state, "reason": reason}),
            &result,
        );
        result
    }

    pub async fn logout(&self, actor: &str, agent: &str) -> Result<(), ActionError> {
        let result = self
            .route(Input::AgentLogout {
                agent: AgentId::from(agent),
            })
            .await;
        self.audit(actor, "agent_logout", agent, None, json!({}), &result);
        result
    }

    pub async fn set_priority(
        &self,
        actor: &str,
        call: &str,
        priority: i64,
    ) -> Result<(), ActionError> {
        let result = if (-100..=100).contains(&priority) {
            self.route(Input::SetPriority {
                call: CallId::from(call),
                priority: priority as i32,
            })
            .await
        } else {
            Err(ActionError::Invalid(format!(
                "priority {priority} is out of range -100..=100"
            )))
        };
        self.audit(
            actor,
            "call_priority",
            call,
            Some(call),
            json!({"priority": priority}),
            &result,
        );
        result
    }

    pub async fn move_call(&self, actor: &str, call: &str, queue: &str) -> Result<(), ActionError> {
        let from = self.router.board().await.and_then(|b| {
            b.calls
                .into_iter()
                .find(|c| c.id.as_str() == call)
                .map(|c| c.queue)
        });
        let result = if self.queues.iter().any(|q| q.name == queue) {
            self.route(Input::MoveCall {
                call: CallId::from(call),
                queue: queue.to_string(),
            })
            .await
        } else {
            Err(ActionError::Invalid(format!("unknown queue `{queue}`")))
        };
        if result.is_ok() {
            let ev = Event::CallMoved {
                from: from.clone().unwrap_or_default(),
                to: queue.to_string(),
                by: actor.to_string(),
            };
            self.events.append(ev.record(Some(call), now_ms()));
        }
        self.audit(
            actor,
            "call_move",
            call,
            Some(call),
            json!({"from": from, "to": queue}),
            &result,
        );
        result
    }

    pub async fn monitor(&self, actor: &str, call: &str, mode: &str) -> Result<(), ActionError> {
        let result = match (crate::desk::MonitorMode::parse(mode), self.desk.as_ref()) {
            (None, _) => Err(ActionError::Invalid(format!(
                "mode `{mode}` is not one of listen, whisper, barge, stop"
            ))),
            (Some(_), None) => Err(ActionError::Unavailable),
            (Some(m), Some(desk)) => desk.monitor(call, actor, m).map_err(|e| {
                if e.starts_with("no call") {
                    ActionError::NotFound(e)
                } else {
                    ActionError::Refused(e)
                }
            }),
        };
        self.audit(
            actor,
            "call_monitor",
            call,
            Some(call),
            json!({"mode": mode}),
            &result,
        );
        result
    }
}
