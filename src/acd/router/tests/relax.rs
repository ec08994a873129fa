use super::*;

fn desk() -> H {
    let queues = format!(
        r#"{SKILLS}
[[queues]]
name = "network"
required = {{ network = 4 }}
relax = [{{ after_s = 30, max_level = 2 }}, {{ after_s = 90, any = true }}]
overflow = {{ to = "tier2", after_s = 300, when_no_agents = true }}
announce_every_s = 20
expected_aht_s = 120

[[queues]]
name = "tier2"
membership = "explicit"
max_wait = {{ after_s = 600, outcome = "voicemail" }}
max_size = {{ calls = 2, outcome = "busy" }}

[[queues]]
name = "small"
required = {{ hardware = 1 }}
max_wait = {{ after_s = 60, outcome = "callback" }}
max_size = {{ calls = 1, outcome = "overflow", to = "tier2" }}
"#
    );
    let agents = r#"
[[agents]]
id = "net4"
skills = { network = 4 }
[[agents]]
id = "net2"
skills = { network = 2, hardware = 1 }
[[agents]]
id = "any"
skills = { accounts = 1 }
[[agents]]
id = "t2"
skills = { network = 5, hardware = 5 }
queues = { tier2 = 0 }
"#;
    H::new(&queues, agents)
}

#[test]
fn requirement_relaxes_with_wait_time() {
    let mut h = desk();
    h.login("net4");
    h.enqueue("busy", "network");
    h.answer("busy", "net4");
    h.login("net2");
    h.login("any");
    let acts = h.enqueue("c1", "network");
    assert!(offers(&acts).is_empty(), "needs network 4");
    assert!(offers(&h.at(29_999)).is_empty());
    let acts = h.at(30_000);
    assert_eq!(
        one_offer(&acts),
        ("c1".into(), "net2".into()),
        "after 30 s level 2 is enough"
    );
    h.answer("c1", "net2");
    h.now = 31_000;
    h.enqueue("c2", "network");
    assert!(
        offers(&h.at(120_999)).is_empty(),
        "`any` agent only after 90 s in queue"
    );
    let acts = h.at(121_000);
    assert_eq!(one_offer(&acts), ("c2".into(), "any".into()));
}

#[test]
fn overflow_after_wait_and_when_no_agent_is_logged_in() {
    let mut h = desk();
    // nobody logged in for `network`: straight to tier2
    let acts = h.enqueue("c1", "network");
    assert!(acts
        .iter()
        .any(|a| matches!(a, Action::Overflow { to, .. } if to == "tier2")));
    h.input(Input::CallAbandoned { call: "c1".into() });
    h.login("net4");
    h.enqueue("hold", "network");
    h.answer("hold", "net4");
    h.now = 1000;
    h.enqueue("c2", "network");
    let acts = h.at(300_999);
    assert!(!acts
        .iter()
        .any(|a| matches!(a, Action::Overflow { call, .. } if call.as_str() == "c2")));
    let acts = h.at(301_000);
    assert!(acts.iter().any(
        |a| matches!(a, Action::Overflow { call, to, .. } if call.as_str() == "c2" && to == "tier2")
    ));
    let acts = h.login("t2");
    assert_eq!(one_offer(&acts), ("c2".into(), "t2".into()));
}

#[test]
fn last_agent_logging_out_overflows_waiting_callers() {
    let mut h = desk();
    h.login("net4");
    h.enqueue("hold", "network");
    h.enqueue("c1", "network");
    h.input(Input::AgentNotReady {
        agent: "net4".into(),
        reason: "lunch".into(),
    });
    assert_eq!(
        h.r.waiting_count(),
        2,
        "ringing call went back; not-ready agent is still logged in"
    );
    let acts = h.input(Input::AgentLogout {
        agent: "net4".into(),
    });
    let moved = acts
        .iter()
        .filter(|a| matches!(a, Action::Overflow { .. }))
        .count();
    assert_eq!(moved, 2);
}

#[test]
fn max_wait_and_max_size_outcomes() {
    let mut h = desk();
    h.enqueue("t1", "tier2");
    h.enqueue("t2", "tier2");
    let acts = h.enqueue("t3", "tier2");
    assert!(acts.iter().any(|a| matches!(a, Action::QueueFull { call, outcome: OutcomeKind::Busy } if call.as_str() == "t3")));
    let acts = h.at(600_000);
    let vm = acts
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::MaxWaitOutcome {
                    outcome: OutcomeKind::Voicemail,
                    ..
                }
            )
        })
        .count();
    assert_eq!(vm, 2);
    assert_eq!(h.r.waiting_count(), 0);

    h.enqueue("s1", "small");
    let acts = h.enqueue("s2", "small");
    assert!(acts.iter().any(|a| matches!(a, Action::Overflow { call, reason: super::super::OverflowReason::QueueFull, .. } if call.as_str() == "s2")));
    let acts = h.at(660_000);
    assert!(acts.iter().any(|a| matches!(a, Action::MaxWaitOutcome { call, outcome: OutcomeKind::Callback } if call.as_str() == "s1")));
    assert_eq!(
        h.r.waiting_count(),
        2,
        "callback offer keeps the caller queued"
    );
}

#[test]
fn position_and_expected_wait_are_announced_every_interval() {
    let mut h = desk();
    h.login("net4");
    h.enqueue("busy", "network");
    h.answer("busy", "net4");
    h.enqueue("c1", "network");
    h.now = 5000;
    h.enqueue("c2", "network");
    let acts = h.at(20_000);
    assert_eq!(
        acts,
        vec![Action::Announce {
            call: "c1".into(),
            position: 1,
            ewt_ms: Some(120_000)
        }]
    );
    assert_eq!(h.r.next_deadline(), Some(25_000));
    let acts = h.at(25_000);
    assert_eq!(
        acts,
        vec![Action::Announce {
            call: "c2".into(),
            position: 2,
            ewt_ms: Some(240_000)
        }]
    );
    h.input(Input::CallAbandoned { call: "c1".into() });
    let acts = h.at(45_000);
    assert!(acts.contains(&Action::Announce {
        call: "c2".into(),
        position: 1,
        ewt_ms: Some(120_000)
    }));
}

#[test]
fn overflowing_callers_keep_their_original_place() {
    let mut h = desk();
    h.login("net4");
    h.enqueue("hold", "network");
    h.answer("hold", "net4");
    h.enqueue("early", "network"); // entered at 0, overflows to tier2 at 300 s
    h.now = 100_000;
    h.enqueue("later", "tier2");
    h.at(300_000);
    let acts = h.login("t2");
    assert_eq!(one_offer(&acts).0, "early", "entered first, served first");
}
