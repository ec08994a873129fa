use super::*;
use crate::acd::router::StopReason;

fn desk() -> H {
    let queues = format!(
        r#"{SKILLS}
[settings]
disconnect_grace_s = 20

[[queues]]
name = "q"
required = {{ hardware = 1 }}
rona_s = 10
"#
    );
    let agents = r#"
[[agents]]
id = "ann"
skills = { hardware = 3 }
[[agents]]
id = "bob"
skills = { hardware = 2 }
"#;
    H::new(&queues, agents)
}

#[test]
fn unanswered_offer_is_withdrawn_agent_missed_and_caller_keeps_place() {
    let mut h = desk();
    h.login("ann");
    let acts = h.enqueue("c1", "q");
    assert_eq!(one_offer(&acts), ("c1".into(), "ann".into()));
    h.now = 1000;
    h.enqueue("c2", "q");
    assert!(h.at(9_999).is_empty(), "still ringing before 10 s");
    let acts = h.at(10_000);
    assert_eq!(stops(&acts), vec![("c1".into(), "ann".into())]);
    assert_eq!(
        h.status("ann"),
        (AgentStatus::NotReady, Some("missed".into()))
    );
    h.now = 11_000;
    let acts = h.login("bob");
    assert_eq!(
        one_offer(&acts).0,
        "c1",
        "c1 entered first and keeps its place"
    );
}

#[test]
fn caller_hanging_up_stops_the_ringing_at_once() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("c1", "q");
    h.now = 3000;
    let acts = h.input(Input::CallAbandoned { call: "c1".into() });
    assert!(acts.iter().any(|a| matches!(
        a,
        Action::StopRinging {
            reason: StopReason::CallerHungUp,
            ..
        }
    )));
    assert_eq!(h.status("ann").0, AgentStatus::Available);
    // the late answer is refused so the call layer hangs the agent leg up
    assert!(h
        .try_input(Input::OfferAnswered {
            call: "c1".into(),
            agent: "ann".into()
        })
        .is_err());
    assert!(
        h.at(20_000)
            .iter()
            .all(|a| !matches!(a, Action::StopRinging { .. })),
        "no RONA later"
    );
}

#[test]
fn rejected_offer_goes_to_the_next_agent_and_not_back() {
    let mut h = desk();
    h.login("ann");
    h.now = 100;
    h.login("bob");
    h.enqueue("c1", "q");
    let acts = h.input(Input::OfferRejected {
        call: "c1".into(),
        agent: "ann".into(),
    });
    assert_eq!(one_offer(&acts), ("c1".into(), "bob".into()));
    assert_eq!(h.status("ann").0, AgentStatus::Available);
    let acts = h.input(Input::OfferRejected {
        call: "c1".into(),
        agent: "bob".into(),
    });
    assert!(
        offers(&acts).is_empty(),
        "both declined: the call waits for someone else"
    );
    assert_eq!(h.r.waiting_count(), 1);
}

#[test]
fn phone_reporting_no_answer_is_rona_too() {
    let mut h = desk();
    h.login("ann");
    h.login("bob");
    h.enqueue("c1", "q");
    let acts = h.input(Input::OfferTimedOut {
        call: "c1".into(),
        agent: "ann".into(),
    });
    assert_eq!(one_offer(&acts), ("c1".into(), "bob".into()));
    assert_eq!(h.status("ann").1.as_deref(), Some("missed"));
}

#[test]
fn disconnected_agent_is_never_offered_calls_and_goes_not_ready_after_grace() {
    let mut h = desk();
    h.login("ann");
    h.enqueue("c1", "q");
    let acts = h.input(Input::AgentDisconnected {
        agent: "ann".into(),
    });
    assert_eq!(stops(&acts), vec![("c1".into(), "ann".into())]);
    h.now = 1000;
    let acts = h.enqueue("c2", "q");
    assert!(offers(&acts).is_empty(), "no call offered into the void");
    let acts = h.at(19_999);
    assert!(offers(&acts).is_empty());
    assert_eq!(h.status("ann").0, AgentStatus::Available);
    h.at(20_000);
    assert_eq!(
        h.status("ann"),
        (AgentStatus::NotReady, Some("disconnected".into()))
    );
}

#[test]
fn reconnecting_within_grace_resumes_routing() {
    let mut h = desk();
    h.login("ann");
    h.input(Input::AgentDisconnected {
        agent: "ann".into(),
    });
    h.now = 1000;
    h.enqueue("c1", "q");
    h.now = 5000;
    let acts = h.input(Input::AgentConnected {
        agent: "ann".into(),
    });
    assert_eq!(one_offer(&acts), ("c1".into(), "ann".into()));
    h.answer("c1", "ann");
    h.at(30_000);
    assert_eq!(
        h.status("ann").0,
        AgentStatus::OnCall,
        "grace timer cancelled"
    );
}
