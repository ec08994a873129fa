//! Engine tests for the nodes that decide without caller input: set, branch (hours, holidays,
//! CRM facts, variables), enqueue, transfer, hangup; and reload semantics.

use super::testkit::*;
use super::*;
use crate::ivr::crm::{CallerFacts, FixtureCrm, TicketPriority};
use crate::ivr::set::LiveDialplans;
use chrono::TimeZone;

const SET: &str = r#"
[nodes.s]
kind = "set"
vars = { ivr_choice = "network" }
language = "es"
skills = { network = 2, spanish = 1 }
priority = 4
tags = ["ivr_choice:network"]
next = "info"

[nodes.info]
kind = "play"
prompt = "network_outage_info"
next = "q"

[nodes.q]
kind = "enqueue"
queue = "network"
skills = { network = 1, tier1 = 1 }
priority = 2
"#;

#[test]
fn set_changes_language_skills_priority_and_tags_for_the_queue() {
    let mut c = Call::new(&plan_text("s", false, SET));
    let acts = c.start();
    assert_eq!(
        plays(&acts),
        vec![vec!["es/network_outage_info"]],
        "prompts follow the new language"
    );
    assert!(events(&acts).contains(&IvrEventKind::LanguageSet { lang: "es".into() }));
    let req = enqueued(&c.finish()).unwrap();
    assert_eq!(req.language, "es");
    assert_eq!(
        req.priority, 4,
        "enqueue priority 2 does not lower the set 4"
    );
    let skills: Vec<(&str, u8)> = req.skills.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        skills,
        vec![("network", 2), ("spanish", 1), ("tier1", 1)],
        "higher level kept"
    );
    assert_eq!(req.tags, vec!["ivr_choice:network"]);
    assert_eq!(
        req.vars.get("ivr_choice").map(String::as_str),
        Some("network")
    );
    assert_eq!(
        (req.caller.as_str(), req.called.as_str()),
        ("+447700900123", "+442079460000")
    );
}

const HOURS: &str = r#"
[hours.office]
time_zone = "Europe/London"
mon = ["08:00-18:00"]
tue = ["08:00-18:00"]
holidays = ["2025-12-22"]

[nodes.b]
kind = "branch"
when = [
  { holiday = "office", goto = "holiday" },
  { in_hours = "office", goto = "open" },
]
default = "closed"

[nodes.open]
kind = "enqueue"
queue = "tickets"

[nodes.holiday]
kind = "hangup"
reason = "holiday"

[nodes.closed]
kind = "hangup"
reason = "closed"
"#;

fn branch_at(wall: chrono::DateTime<chrono::Utc>) -> Vec<Action> {
    let mut c = Call::new(&plan_text("b", false, HOURS));
    c.wall = wall;
    c.start()
}

fn hangup_reason(acts: &[Action]) -> Option<String> {
    acts.iter().find_map(|a| match a {
        Action::Hangup {
            cause: HangupCause::Dialplan { reason },
        } => reason.clone(),
        _ => None,
    })
}

#[test]
fn business_hours_follow_the_time_zone_and_holidays() {
    assert!(enqueued(&branch_at(monday_10am())).is_some());
    let acts = branch_at(chrono::Utc.with_ymd_and_hms(2025, 7, 7, 17, 30, 0).unwrap()); // 18:30 BST
    assert_eq!(hangup_reason(&acts).as_deref(), Some("closed"));
    assert!(events(&acts).contains(&IvrEventKind::Branch {
        rule: None,
        to: "closed".into()
    }));
    let acts = branch_at(chrono::Utc.with_ymd_and_hms(2025, 7, 9, 10, 0, 0).unwrap()); // Wednesday
    assert_eq!(hangup_reason(&acts).as_deref(), Some("closed"));
    let acts = branch_at(
        chrono::Utc
            .with_ymd_and_hms(2025, 12, 22, 10, 0, 0)
            .unwrap(),
    ); // holiday Monday
    assert_eq!(hangup_reason(&acts).as_deref(), Some("holiday"));
}

const CRM_BRANCH: &str = r#"
[nodes.b]
kind = "branch"
when = [
  { language = "es", goto = "es" },
  { vip = true, goto = "vip" },
  { open_ticket = true, ticket_priority = "high", goto = "urgent" },
  { caller_known = false, goto = "stranger" },
]
default = "known"

[nodes.es]
kind = "hangup"
reason = "es"

[nodes.vip]
kind = "hangup"
reason = "vip"

[nodes.urgent]
kind = "hangup"
reason = "urgent"

[nodes.stranger]
kind = "hangup"
reason = "stranger"

[nodes.known]
kind = "hangup"
reason = "known"
"#;

fn facts(vip: bool, ticket: Option<TicketPriority>) -> CallerFacts {
    CallerFacts {
        contact_id: "c1".into(),
        vip,
        open_ticket: ticket.map(|priority| TicketFact {
            id: "T1".into(),
            priority,
        }),
    }
}

#[test]
fn branch_on_caller_facts_asks_the_crm_once_then_decides() {
    let set = set_from(&plan_text("b", false, CRM_BRANCH), 1);
    let mut c = Call::on(&set, "+447700900123", CrmState::NotAsked);
    let acts = c.start();
    assert_eq!(
        effects(&acts),
        vec![Action::Lookup {
            kind: LookupKind::Caller,
            value: "+447700900123".into()
        }]
    );
    let mut crm = FixtureCrm::default();
    crm.callers
        .insert("+447700900123".into(), facts(true, None));
    let acts = c.answer(&crm);
    assert_eq!(hangup_reason(&acts).as_deref(), Some("vip"));
    assert_eq!(
        entered(&acts),
        vec!["vip"],
        "the branch is not entered twice"
    );
}

#[test]
fn injected_facts_decide_without_a_lookup() {
    let set = set_from(&plan_text("b", false, CRM_BRANCH), 1);
    let cases = [
        (
            CrmState::Found(facts(false, Some(TicketPriority::Urgent))),
            "urgent",
        ),
        (
            CrmState::Found(facts(false, Some(TicketPriority::Normal))),
            "known",
        ),
        (CrmState::NotFound, "stranger"),
        (CrmState::Unavailable, "stranger"),
    ];
    for (crm, want) in cases {
        let mut c = Call::on(&set, "+447700900123", crm.clone());
        let acts = c.start();
        assert!(
            !effects(&acts)
                .iter()
                .any(|a| matches!(a, Action::Lookup { .. })),
            "{crm:?}"
        );
        assert_eq!(hangup_reason(&acts).as_deref(), Some(want), "{crm:?}");
    }
}

#[test]
fn crm_that_never_answers_counts_as_unknown_caller() {
    let set = set_from(&plan_text("b", false, CRM_BRANCH), 1);
    let mut c = Call::on(&set, "+447700900123", CrmState::NotAsked);
    c.start();
    let acts = c.expire();
    assert!(events(&acts).contains(&IvrEventKind::LookupUnavailable {
        kind: LookupKind::Caller
    }));
    assert_eq!(hangup_reason(&acts).as_deref(), Some("stranger"));
}

const ACCOUNT: &str = r#"
[nodes.acct]
kind = "collect"
prompt = "enter_ticket"
min_len = 4
max_len = 4
lookup = "account"
var = "account"
next = "b"
on_invalid = "b"
on_not_found = "b"

[nodes.b]
kind = "branch"
when = [{ vip = true, goto = "vip" }]
default = "plain"

[nodes.vip]
kind = "enqueue"
queue = "tickets"
priority = 3

[nodes.plain]
kind = "enqueue"
queue = "tickets"
"#;

#[test]
fn an_account_number_identifies_the_caller_for_later_branches() {
    let mut c = Call::new(&plan_text("acct", false, ACCOUNT));
    c.start();
    let acts = c.digits("4711");
    assert_eq!(
        effects(&acts).last(),
        Some(&Action::Lookup {
            kind: LookupKind::Account,
            value: "4711".into()
        })
    );
    let mut crm = FixtureCrm::default();
    crm.accounts.insert("4711".into(), facts(true, None));
    let acts = c.answer(&crm);
    assert!(
        !effects(&acts)
            .iter()
            .any(|a| matches!(a, Action::Lookup { .. })),
        "no caller-ID lookup needed now"
    );
    let req = enqueued(&acts).unwrap();
    assert_eq!(
        (req.priority, req.vars.get("account").map(String::as_str)),
        (3, Some("4711"))
    );
}

const VARS: &str = r#"
[nodes.pick]
kind = "menu"
prompt = "main_menu"
choices = { "1" = "one", "2" = "b" }
fallback = "b"

[nodes.one]
kind = "set"
vars = { choice = "one" }
next = "b"

[nodes.b]
kind = "branch"
when = [
  { var = "choice", equals = "one", goto = "was_one" },
  { var = "choice", is_set = false, goto = "unset" },
]
default = "other"

[nodes.was_one]
kind = "hangup"
reason = "one"

[nodes.unset]
kind = "hangup"
reason = "unset"

[nodes.other]
kind = "hangup"
reason = "other"
"#;

#[test]
fn branch_compares_variables() {
    let mut c = Call::new(&plan_text("pick", false, VARS));
    c.start();
    assert_eq!(hangup_reason(&c.digit('1')).as_deref(), Some("one"));
    let mut c = Call::new(&plan_text("pick", false, VARS));
    c.start();
    assert_eq!(hangup_reason(&c.digit('2')).as_deref(), Some("unset"));
}

const TRANSFER: &str = r#"
[nodes.pick]
kind = "menu"
prompt = "closed_options"
choices = { "8" = "security", "5" = "premium" }
fallback = "security"

[nodes.security]
kind = "transfer"
number = "+442079460999"

[nodes.premium]
kind = "set"
vars = { dest = "+882345678901" }
next = "dynamic"

[nodes.dynamic]
kind = "transfer"
number = "$dest"
on_refused = "sorry"

[nodes.sorry]
kind = "hangup"
prompt = "message_saved"
"#;

#[test]
fn transfer_goes_only_to_allow_listed_numbers_at_run_time_too() {
    let mut c = Call::new(&plan_text("pick", false, TRANSFER));
    c.start();
    let acts = c.digit('8');
    assert!(effects(&acts).contains(&Action::Transfer {
        number: "+442079460999".into()
    }));
    assert!(c.s.is_finished());

    let mut c = Call::new(&plan_text("pick", false, TRANSFER));
    c.start();
    let acts = c.digit('5');
    assert!(!effects(&acts)
        .iter()
        .any(|a| matches!(a, Action::Transfer { .. })));
    assert!(events(&acts).contains(&IvrEventKind::TransferRefused {
        number: "+882345678901".into()
    }));
    assert_eq!(
        plays(&acts),
        vec![vec!["en/message_saved"]],
        "on_refused node runs"
    );
}

#[test]
fn hangup_plays_its_closing_prompt_first() {
    let nodes = "[nodes.bye]\nkind = \"hangup\"\nprompt = \"message_saved\"\nreason = \"done\"\n";
    let mut c = Call::new(&plan_text("bye", false, nodes));
    let acts = c.start();
    assert_eq!(effects(&acts).len(), 1, "only the Play: {acts:?}");
    assert!(c.digit('1').is_empty(), "closing prompt is not interrupted");
    let acts = c.finish();
    assert!(events(&acts).contains(&IvrEventKind::Hangup));
    assert_eq!(hangup_reason(&acts).as_deref(), Some("done"));
    assert!(c.s.is_finished());
}

fn versioned(prompt: &str) -> String {
    let nodes = format!("[nodes.m]\nkind = \"menu\"\nprompt = \"{prompt}\"\nchoices = {{ \"1\" = \"q\" }}\nfallback = \"q\"\n\n[nodes.q]\nkind = \"enqueue\"\nqueue = \"tickets\"\n");
    plan_text("m", false, &nodes)
}

#[test]
fn calls_mid_menu_keep_the_plan_version_they_started_with_after_a_reload() {
    let live = LiveDialplans::new(set_from(&versioned("main_menu"), 1));
    let ctx = CallContext {
        caller: "+447700900123".into(),
        called: "+442079460000".into(),
        crm: CrmState::NotAsked,
    };
    let now = Now {
        at: Instant::now(),
        wall: monday_10am(),
    };
    let mut old: Vec<Session> = (0..20)
        .map(|_| {
            let route = live.current().route("+442079460000").unwrap();
            let mut s = Session::from_route(route, ctx.clone()).unwrap();
            s.handle(Input::Started, now);
            s
        })
        .collect();

    let v2 = set_from(&versioned("closed_options"), live.next_version());
    assert_eq!(live.install(Ok(v2)), Ok(2));
    assert!(live.install(Err(vec![])).is_err());
    assert_eq!(
        live.current().version(),
        2,
        "a refused reload changes nothing"
    );
    assert_eq!(live.refused_count(), 1);

    let mut new = Session::from_route(live.current().route("+442079460000").unwrap(), ctx).unwrap();
    assert_eq!(
        plays(&new.handle(Input::Started, now)),
        vec![vec!["en/closed_options"]]
    );
    assert_eq!(new.plan_version(), 2);

    for s in &mut old {
        assert_eq!(s.plan_version(), 1);
        let acts = s.handle(Input::Digit('7'), now);
        assert_eq!(
            plays(&acts),
            vec![vec!["en/main_menu"]],
            "re-prompt still from version 1"
        );
        assert_eq!(
            enqueued(&s.handle(Input::Digit('1'), now)).unwrap().queue,
            "tickets"
        );
    }
}
