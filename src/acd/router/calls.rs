//! Callers in queues: entering (size limit, no-agent overflow, ticket-owner window),
//! index upkeep, routing, going back in line after a failed offer, and leaving (abandon,
//! end of call). What happens while waiting is in `waits`, announcements in `announce`.
use super::io::{AcdError, Action, OverflowReason, QueuedCall, StopReason};
use super::state::{CState, CallKey, CallRt, CallbackState};
use super::timers::Timer;
use super::Router;
use crate::acd::config::{merge_reqs, relaxed};
use crate::acd::types::*;

impl Router {
    pub(super) fn call_ix(&self, id: &CallId) -> Result<u32, AcdError> {
        self.call_ids
            .get(id)
            .copied()
            .ok_or_else(|| AcdError::UnknownCall(id.clone()))
    }

    fn resolve_reqs(&self, qc: &QueuedCall) -> Result<Vec<SkillReq>, AcdError> {
        let mut own = Vec::new();
        for (name, lvl) in &qc.skills {
            let skill = *self
                .skill_ids
                .get(name)
                .ok_or_else(|| AcdError::UnknownSkill(name.clone()))?;
            if !(MIN_LEVEL..=MAX_LEVEL).contains(lvl) {
                return Err(AcdError::BadLevel(*lvl));
            }
            own.push(SkillReq {
                skill,
                min_level: *lvl,
            });
        }
        // The IVR's language code (`es-MX`) or a skill name; a language no skill covers adds
        // no requirement (the queue's own requirements still apply).
        let lang = qc.language.as_deref();
        let lang = lang.and_then(|l| crate::acd::language::skill_for(l, &self.cfg.skills));
        if let Some(skill) = lang.and_then(|s| self.skill_ids.get(&s.name)) {
            own.push(SkillReq {
                skill: *skill,
                min_level: 1,
            });
        }
        Ok(merge_reqs(&own, &[]))
    }

    pub(super) fn call_queued(&mut self, qc: QueuedCall) -> Result<(), AcdError> {
        if self.call_ids.contains_key(&qc.call) {
            return Err(AcdError::DuplicateCall(qc.call));
        }
        let q = *self
            .queue_ids
            .get(&qc.queue)
            .ok_or_else(|| AcdError::UnknownQueue(qc.queue.clone()))?;
        let own_reqs = self.resolve_reqs(&qc)?;
        let s = &self.cfg.settings;
        let mut priority = qc.priority;
        let mut owner = None;
        if let Some(t) = &qc.ticket {
            priority = priority
                .saturating_add(t.priority.min(4) as i32 * s.ticket_priority_boost)
                .saturating_add(if t.sla_breached {
                    s.sla_breach_boost
                } else {
                    0
                });
            owner = t
                .owner
                .as_ref()
                .and_then(|o| self.agent_ids.get(o).copied());
        }
        if let Some(n) = &qc.callback_number {
            if let Err(reason) = self.book_callback(n) {
                self.emit(Action::CallbackRefused {
                    call: qc.call,
                    reason,
                });
                return Ok(());
            }
        }
        let now = self.now;
        self.next_seq += 1;
        self.next_uid += 1;
        let call = CallRt {
            id: qc.call.clone(),
            uid: self.next_uid,
            queue: q,
            queue_entered: now,
            queue_epoch: 0,
            key: CallKey {
                rank: 1,
                neg_priority: 0,
                entered: now,
                seq: self.next_seq,
            },
            own_reqs,
            reqs: Vec::new(),
            stage: 0,
            class: 0,
            priority,
            emergency: qc.emergency,
            owner,
            state: CState::Waiting,
            offer_epoch: 0,
            declined: Vec::new(),
            callback: qc.callback_number.map(|number| CallbackState {
                number,
                attempts: 0,
            }),
            callback_offered: false,
            hops: 0,
            answered_at: None,
            max_wait_done: false,
            ranked: false,
        };
        let booked = call.callback.as_ref().map(|cb| cb.number.clone());
        let is_cb = booked.is_some();
        let uid = call.uid;
        let slot = self.calls.insert(call);
        self.call_ids.insert(qc.call.clone(), slot);
        if let Some(number) = booked {
            self.emit(Action::CallbackBooked {
                call: qc.call,
                number,
            });
        }
        if let (false, Some(every)) = (is_cb, self.queues[q.0 as usize].def.announce_every_ms) {
            self.timers.push(now + every, Timer::Announce { slot, uid });
        }
        self.enter_queue(slot, q, "call-queued");
        Ok(())
    }

    /// Put a (new or overflowing) caller into queue `q`, applying size and no-agent rules.
    pub(super) fn enter_queue(&mut self, slot: u32, q: QueueId, trigger: &'static str) {
        let mut q = q;
        let max_hops = self.queues.len() as u8;
        loop {
            let Some(c) = self.calls.get(slot) else {
                return;
            };
            let (id, hops) = (c.id.clone(), c.hops);
            let qr = &self.queues[q.0 as usize];
            let mut next = None;
            if let Some((max, out)) = qr.def.max_size {
                if qr.order.len() >= max {
                    match out {
                        Outcome::Overflow(t) if hops < max_hops => {
                            next = Some((t, OverflowReason::QueueFull))
                        }
                        Outcome::Callback => {
                            self.emit(Action::QueueFull {
                                call: id.clone(),
                                outcome: OutcomeKind::Callback,
                            });
                            if let Some(c) = self.calls.get_mut(slot) {
                                c.callback_offered = true;
                            }
                        }
                        Outcome::Voicemail | Outcome::Busy | Outcome::Overflow(_) => {
                            let outcome = if out == Outcome::Voicemail {
                                OutcomeKind::Voicemail
                            } else {
                                OutcomeKind::Busy
                            };
                            self.emit(Action::QueueFull { call: id, outcome });
                            self.remove_call(slot);
                            return;
                        }
                    }
                }
            }
            let qr = &self.queues[q.0 as usize];
            if next.is_none() && qr.logged_in == 0 && hops < max_hops {
                if let Some(o) = qr.def.overflow.as_ref().filter(|o| o.when_no_agents) {
                    next = Some((o.to, OverflowReason::NoAgents));
                }
            }
            let Some((to, reason)) = next else { break };
            let from = self.queues[q.0 as usize].def.name.clone();
            let to_name = self.queues[to.0 as usize].def.name.clone();
            self.emit(Action::Overflow {
                call: id,
                from,
                to: to_name,
                reason,
            });
            if let Some(c) = self.calls.get_mut(slot) {
                c.hops += 1;
            }
            q = to;
        }
        let now = self.now;
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        let def = &self.queues[q.0 as usize].def;
        c.queue = q;
        c.queue_entered = now;
        c.stage = 0;
        c.max_wait_done = false;
        c.state = match c.owner {
            Some(o) if def.ticket_owner_first_ms > 0 && self.agents[o as usize].logged_in() => {
                CState::OwnerHold
            }
            _ => {
                c.owner = None;
                CState::Waiting
            }
        };
        self.refresh_call(slot);
        self.place(slot);
        self.arm_queue_timers(slot);
        self.maybe_offer_callback(slot);
        self.route_call(slot, trigger);
    }

    /// Recompute key and requirement from queue, call and relaxation stage.
    pub(super) fn refresh_call(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        let def = &self.queues[c.queue.0 as usize].def;
        c.key.rank = if c.emergency || def.emergency { 0 } else { 1 };
        c.key.neg_priority = -(c.priority as i64 + def.priority as i64);
        let all = merge_reqs(&def.required, &c.own_reqs);
        c.reqs = relaxed(&all, &def.relax, c.stage as usize);
    }

    /// Into the routing index and the queue's order (state Waiting or OwnerHold).
    pub(super) fn place(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        match c.state {
            CState::Waiting => {
                c.class = self.waiting.class_for(c.queue, &c.reqs);
                self.waiting.insert(c.class, c.key, slot);
            }
            CState::OwnerHold => match c.owner {
                Some(o) => self.waiting.insert_owner(o, c.key, slot),
                None => return,
            },
            _ => return,
        }
        c.ranked = true;
        self.queues[c.queue.0 as usize].order.insert((c.key, slot));
    }

    /// Out of the routing index and the queue's order.
    pub(super) fn unqueue(&mut self, slot: u32) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        if !c.ranked {
            return;
        }
        c.ranked = false;
        self.queues[c.queue.0 as usize].order.remove(&(c.key, slot));
        match c.state {
            CState::Waiting => self.waiting.remove(c.class, c.key, slot),
            CState::OwnerHold => {
                if let Some(o) = c.owner {
                    self.waiting.remove_owner(o, c.key, slot);
                }
            }
            _ => {}
        }
    }

    /// (Re)start the queue timers, measured from entry into the current queue.
    pub(super) fn arm_queue_timers(&mut self, slot: u32) {
        let now = self.now;
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        c.queue_epoch = c.queue_epoch.wrapping_add(1);
        let (uid, epoch, t0) = (c.uid, c.queue_epoch, c.queue_entered);
        let def = &self.queues[c.queue.0 as usize].def;
        let mut push = Vec::new();
        if let Some(step) = def.relax.get(c.stage as usize) {
            push.push((
                t0 + step.after_ms,
                Timer::Relax {
                    slot,
                    uid,
                    epoch,
                    stage: c.stage,
                },
            ));
        }
        if let Some(after) = def.overflow.as_ref().and_then(|o| o.after_ms) {
            push.push((t0 + after, Timer::Overflow { slot, uid, epoch }));
        }
        if let (Some((after, _)), false, true) =
            (def.max_wait, c.max_wait_done, c.callback.is_none())
        {
            push.push((t0 + after, Timer::MaxWait { slot, uid, epoch }));
        }
        if c.state == CState::OwnerHold {
            push.push((
                t0 + def.ticket_owner_first_ms,
                Timer::OwnerEnd { slot, uid, epoch },
            ));
        }
        for (at, t) in push {
            self.timers.push(at.max(now), t);
        }
    }

    /// Look for agents for this waiting call and offer it.
    pub(super) fn route_call(&mut self, slot: u32, trigger: &'static str) {
        let Some(c) = self.calls.get(slot) else {
            return;
        };
        self.stats.call_searches += 1;
        match c.state {
            CState::OwnerHold => {
                let Some(o) = c.owner else { return };
                if self.agents[o as usize].routable() && !c.declined.contains(&o) {
                    self.offer_to_owner(slot, o, trigger);
                }
            }
            CState::Waiting => {
                if let Some(sel) = self.select_agents(slot) {
                    self.dispatch(slot, sel, trigger);
                }
            }
            _ => {}
        }
    }

    /// Back in line after an offer failed: same place, fresh timers, route again.
    pub(super) fn requeue(&mut self, slot: u32, trigger: &'static str) {
        let Some(c) = self.calls.get_mut(slot) else {
            return;
        };
        c.state = CState::Waiting;
        c.owner = None;
        self.place(slot);
        self.arm_queue_timers(slot);
        self.route_call(slot, trigger);
    }

    pub(super) fn call_abandoned(&mut self, id: &CallId) -> Result<(), AcdError> {
        let slot = self.call_ix(id)?;
        let Some(c) = self.calls.get(slot) else {
            return Err(AcdError::UnknownCall(id.clone()));
        };
        let q = c.queue;
        match c.state.clone() {
            CState::Connected(_) => return self.call_ended(id),
            CState::Ringing(agents) => {
                for a in &agents {
                    let agent = self.agents[*a as usize].id.clone();
                    self.emit(Action::StopRinging {
                        call: id.clone(),
                        agent,
                        reason: StopReason::CallerHungUp,
                    });
                }
                self.remove_call(slot);
                for a in agents {
                    self.make_available(a, "agent-available");
                }
            }
            CState::CallbackDialing(a) => {
                self.remove_call(slot);
                self.make_available(a, "agent-available");
            }
            CState::Waiting | CState::OwnerHold | CState::CallbackRetry => self.remove_call(slot),
        }
        self.queues[q.0 as usize].abandoned += 1;
        Ok(())
    }

    pub(super) fn call_ended(&mut self, id: &CallId) -> Result<(), AcdError> {
        let slot = self.call_ix(id)?;
        let Some(c) = self.calls.get(slot) else {
            return Err(AcdError::UnknownCall(id.clone()));
        };
        let CState::Connected(a) = c.state else {
            return self.call_abandoned(id);
        };
        let q = c.queue;
        let talk = self.now.saturating_sub(c.answered_at.unwrap_or(self.now));
        let qr = &mut self.queues[q.0 as usize];
        qr.aht.observe(talk + qr.def.wrap_up_ms);
        self.remove_call(slot);
        self.agents[a as usize].last_queue = Some(q);
        self.begin_wrap(a, q);
        Ok(())
    }

    pub(super) fn remove_call(&mut self, slot: u32) {
        self.unqueue(slot);
        if let Some(c) = self.calls.remove(slot) {
            self.call_ids.remove(&c.id);
            self.explain.finish(&c.id);
        }
    }
}
