use super::*;
use crate::acd::router::AcdError;

fn desk() -> H {
    let queues = format!(
        r#"{SKILLS}
[[queues]]
name = "q"
required = {{ hardware = 1 }}
wrap_up_s = 30

[[queues]]
name = "strict"
required = {{ hardware = 1 }}
wrap_up_s = 10
disposition_required = true
"#
    );
    let agents = r#"
[[agents]]
id = "ann"
skills = { hardware = 1 }
"#;
    H::new(&queues, agents)
}

fn states(acts: &[Action]) -> Vec<(AgentStatus, Option<String>)> {
    acts.iter()
        .filter_map(|a| match a {
            Action::AgentStateChanged { state, reason, .. } => Some((*state, reason.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn timed_wrap_up_then_the_next_call() {
    let mut h = desk();
    let mut log = h.login("ann");
    log.extend(h.enqueue("c1", "q"));
    log.extend(h.answer("c1", "ann"));
    h.now = 60_000;
    log.extend(h.end("c1"));
    h.now = 61_000;
    log.extend(h.enqueue("c2", "q"));
    assert!(
        offers(&log).iter().all(|o| o.0 == "c1"),
        "no offer during wrap-up"
    );
    log.extend(h.at(89_999));
    assert_eq!(h.status("ann").0, AgentStatus::WrapUp);
    let acts = h.at(90_000);
    assert_eq!(one_offer(&acts), ("c2".into(), "ann".into()));
    log.extend(acts);
    use AgentStatus::*;
    let seen: Vec<AgentStatus> = states(&log).into_iter().map(|s| s.0).collect();
    assert_eq!(
        seen,
        [Available, Ringing, OnCall, WrapUp, Available, Ringing]
    );
}

#[test]
fn mandatory_disposition_holds_wrap_up_until_recorded() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("c1", "strict");
    h.answer("c1", "ann");
    h.end("c1");
    h.at(60_000);
    assert_eq!(
        h.status("ann").0,
        AgentStatus::WrapUp,
        "timer over but no disposition yet"
    );
    let err = h.try_input(Input::AgentReady {
        agent: "ann".into(),
    });
    assert!(matches!(err, Err(AcdError::DispositionRequired(_))));
    h.input(Input::Disposition {
        agent: "ann".into(),
        code: "resolved".into(),
    });
    assert_eq!(h.status("ann").0, AgentStatus::Available);
}

#[test]
fn disposition_during_the_call_satisfies_the_rule() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("c1", "strict");
    h.answer("c1", "ann");
    h.input(Input::Disposition {
        agent: "ann".into(),
        code: "resolved".into(),
    });
    h.end("c1");
    h.at(10_000);
    assert_eq!(h.status("ann").0, AgentStatus::Available);
}

#[test]
fn not_ready_and_logout_requested_on_a_call_apply_after_it() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("c1", "q");
    h.answer("c1", "ann");
    h.input(Input::AgentNotReady {
        agent: "ann".into(),
        reason: "break".into(),
    });
    assert_eq!(h.status("ann").0, AgentStatus::OnCall);
    h.end("c1");
    h.at(30_000);
    assert_eq!(
        h.status("ann"),
        (AgentStatus::NotReady, Some("break".into()))
    );
    h.input(Input::AgentReady {
        agent: "ann".into(),
    });
    h.enqueue("c2", "q");
    h.answer("c2", "ann");
    h.input(Input::AgentLogout {
        agent: "ann".into(),
    });
    assert_eq!(h.status("ann").0, AgentStatus::OnCall);
    h.end("c2");
    h.at(100_000);
    assert_eq!(h.status("ann").0, AgentStatus::LoggedOut);
}

#[test]
fn ready_early_from_wrap_up_and_not_ready_when_idle() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("c1", "q");
    h.answer("c1", "ann");
    h.end("c1");
    h.now = 5000;
    h.input(Input::AgentReady {
        agent: "ann".into(),
    });
    assert_eq!(h.status("ann").0, AgentStatus::Available);
    let acts = h.input(Input::AgentNotReady {
        agent: "ann".into(),
        reason: "training".into(),
    });
    assert_eq!(
        states(&acts),
        vec![(AgentStatus::NotReady, Some("training".into()))]
    );
    assert!(offers(&h.enqueue("c2", "q")).is_empty());
    assert!(h
        .try_input(Input::AgentReady {
            agent: "nobody".into()
        })
        .is_err());
}
