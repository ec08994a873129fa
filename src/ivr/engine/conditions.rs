//! Branch evaluation: the first rule whose conditions all hold wins, else the default. A rule on
//! caller facts that are not known yet asks for a CRM lookup first (`Eval::NeedCaller`).

use super::types::CrmState;
use super::CallState;
use crate::ivr::crm::{CallerFacts, TicketFact};
use crate::ivr::model::{Branch, Condition, Dialplan, VarTest};
use chrono::{DateTime, Utc};

pub(super) enum Eval {
    /// Index of the rule that matched; `None` = default.
    Taken(Option<usize>),
    NeedCaller,
}

pub(super) fn evaluate(b: &Branch, call: &CallState, plan: &Dialplan, wall: DateTime<Utc>) -> Eval {
    for (i, w) in b.whens.iter().enumerate() {
        match holds(&w.cond, call, plan, wall) {
            Some(true) => return Eval::Taken(Some(i)),
            Some(false) => {}
            None => return Eval::NeedCaller,
        }
    }
    Eval::Taken(None)
}

/// `Some(false)` as soon as a cheap test fails; `None` when caller facts are needed but unknown.
fn holds(c: &Condition, call: &CallState, plan: &Dialplan, wall: DateTime<Utc>) -> Option<bool> {
    if let Some(h) = &c.in_hours {
        if !plan.hours.get(&h.value).is_some_and(|s| s.is_open(wall)) {
            return Some(false);
        }
    }
    if let Some(h) = &c.holiday {
        if !plan.hours.get(&h.value).is_some_and(|s| s.is_holiday(wall)) {
            return Some(false);
        }
    }
    if let Some(l) = &c.language {
        if call.language != l.value {
            return Some(false);
        }
    }
    if let Some((name, test)) = &c.var {
        let value = call.vars.get(name);
        let ok = match test {
            VarTest::Equals(want) => value == Some(want),
            VarTest::IsSet(set) => value.is_some_and(|v| !v.is_empty()) == *set,
        };
        if !ok {
            return Some(false);
        }
    }
    // Tests on caller facts come last, so a rule that already failed never costs a lookup.
    let facts = || -> Option<Option<&CallerFacts>> {
        match &call.crm {
            CrmState::NotAsked => None,
            CrmState::Found(f) => Some(Some(f)),
            CrmState::NotFound | CrmState::Unavailable => Some(None),
        }
    };
    if let Some(want) = c.caller_known {
        if facts()?.is_some() != want {
            return Some(false);
        }
    }
    if let Some(want) = c.vip {
        if facts()?.is_some_and(|f| f.vip) != want {
            return Some(false);
        }
    }
    // The ticket the caller typed counts first, else the contact's open ticket.
    let ticket = || -> Option<Option<&TicketFact>> {
        match &call.ticket {
            Some(t) => Some(Some(t)),
            None => Some(facts()?.and_then(|f| f.open_ticket.as_ref())),
        }
    };
    if let Some(want) = c.open_ticket {
        if ticket()?.is_some() != want {
            return Some(false);
        }
    }
    if let Some(min) = c.ticket_priority {
        if ticket()?.is_none_or(|t| t.priority < min) {
            return Some(false);
        }
    }
    Some(true)
}
