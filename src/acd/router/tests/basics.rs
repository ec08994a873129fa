use super::*;

fn desk() -> H {
    let queues = format!(
        r#"{SKILLS}
[[queues]]
name = "helpdesk"
required = {{ hardware = 1 }}

[[queues]]
name = "emergencies"
emergency = true
required = {{ hardware = 1 }}

[[queues]]
name = "vip"
membership = "explicit"
required = {{ hardware = 1 }}
"#
    );
    let agents = r#"
[[agents]]
id = "ann"
skills = { hardware = 3, english = 5 }
queues = { vip = 0 }
[[agents]]
id = "bob"
skills = { hardware = 2, english = 5, spanish = 4 }
[[agents]]
id = "cat"
skills = { network = 5 }
"#;
    H::new(&queues, agents)
}

#[test]
fn call_is_offered_to_a_free_qualified_agent_only() {
    let mut h = desk();
    h.login("cat");
    let acts = h.enqueue("c1", "helpdesk");
    assert!(offers(&acts).is_empty(), "cat lacks hardware");
    h.now = 1000;
    let acts = h.login("bob");
    assert_eq!(one_offer(&acts), ("c1".into(), "bob".into()));
    assert_eq!(h.status("bob").0, AgentStatus::Ringing);
}

#[test]
fn no_agent_is_offered_two_calls_and_no_call_rings_two_agents() {
    let mut h = desk();
    h.login("bob");
    let a1 = h.enqueue("c1", "helpdesk");
    let a2 = h.enqueue("c2", "helpdesk");
    assert_eq!(one_offer(&a1), ("c1".into(), "bob".into()));
    assert!(offers(&a2).is_empty(), "bob is already ringing");
    h.now = 500;
    let a3 = h.login("ann");
    assert_eq!(one_offer(&a3), ("c2".into(), "ann".into()));
    assert_eq!(h.r.waiting_count(), 0);
}

#[test]
fn higher_priority_first_then_strict_order_of_entry() {
    let mut h = desk();
    for (i, p) in [0, 5, 0, 5].iter().enumerate() {
        h.now = i as u64 * 1000;
        h.queue(QueuedCall {
            priority: *p,
            ..call(&format!("c{i}"), "helpdesk")
        });
    }
    h.now = 10_000;
    let mut served = Vec::new();
    h.login("bob");
    for _ in 0..4 {
        let snap = h.r.snapshot(h.now);
        let bob = snap.agents.iter().find(|a| a.id.as_str() == "bob").unwrap();
        let c = bob.call.clone().expect("bob rings").to_string();
        h.answer(&c, "bob");
        h.now += 1000;
        h.end(&c);
        served.push(c);
    }
    assert_eq!(served, ["c1", "c3", "c0", "c2"]);
}

#[test]
fn emergencies_go_before_any_priority() {
    let mut h = desk();
    h.queue(QueuedCall {
        priority: 100,
        ..call("vip-caller", "helpdesk")
    });
    h.now = 5000;
    h.enqueue("outage", "emergencies");
    h.now = 6000;
    let acts = h.login("bob");
    assert_eq!(one_offer(&acts), ("outage".into(), "bob".into()));
}

#[test]
fn language_is_a_skill() {
    let mut h = desk();
    h.login("ann");
    let acts = h.queue(QueuedCall {
        language: Some("spanish".into()),
        ..call("c1", "helpdesk")
    });
    assert!(offers(&acts).is_empty(), "ann speaks no spanish");
    let acts = h.login("bob");
    assert_eq!(one_offer(&acts), ("c1".into(), "bob".into()));
}

#[test]
fn the_ivr_language_code_needs_the_language_skill_and_an_uncovered_one_nothing() {
    let mut h = desk();
    h.login("ann");
    let acts = h.queue(QueuedCall {
        language: Some("es-MX".into()),
        ..call("c1", "helpdesk")
    });
    assert!(
        offers(&acts).is_empty(),
        "es-MX needs spanish; ann speaks none"
    );
    let acts = h.queue(QueuedCall {
        language: Some("it".into()),
        ..call("c2", "helpdesk")
    });
    assert_eq!(
        one_offer(&acts),
        ("c2".into(), "ann".into()),
        "no skill covers italian: the caller is queued and served by the queue's rules"
    );
}

#[test]
fn explicit_membership_keeps_non_members_out() {
    let mut h = desk();
    h.login("bob");
    let acts = h.enqueue("c1", "vip");
    assert!(offers(&acts).is_empty(), "bob does not list vip");
    let acts = h.login("ann");
    assert_eq!(one_offer(&acts), ("c1".into(), "ann".into()));
}

#[test]
fn every_offer_is_explained_and_queryable() {
    let mut h = desk();
    h.login("ann");
    h.now = 3000;
    h.login("bob");
    h.now = 10_000;
    let acts = h.enqueue("c1", "helpdesk");
    let Some(Action::Offer { explanation, .. }) =
        acts.iter().find(|a| matches!(a, Action::Offer { .. }))
    else {
        panic!("no offer")
    };
    assert!(explanation.rule.starts_with("longest-idle"));
    assert_eq!(explanation.chosen[0].agent.as_str(), "ann");
    assert_eq!(explanation.chosen[0].score, 10_000);
    assert_eq!(explanation.considered, 2);
    assert_eq!(explanation.runners_up[0].agent.as_str(), "bob");
    assert_eq!(explanation.requirement, "hardware>=1");
    assert_eq!(h.r.explain(&"c1".into()), std::slice::from_ref(explanation));
    h.answer("c1", "ann");
    h.end("c1");
    assert_eq!(
        h.r.explain(&"c1".into()).len(),
        1,
        "still explained after the call"
    );
}

#[test]
fn unknown_names_are_errors_not_panics() {
    let mut h = desk();
    assert!(h.try_input(Input::CallQueued(call("c1", "nope"))).is_err());
    assert!(h
        .try_input(Input::AgentLogin {
            agent: "zed".into(),
            ready: true
        })
        .is_err());
    let bad = QueuedCall {
        skills: vec![("hardware".into(), 9)],
        ..call("c2", "helpdesk")
    };
    assert!(h.try_input(Input::CallQueued(bad)).is_err());
    assert!(h
        .try_input(Input::CallEnded {
            call: "ghost".into()
        })
        .is_err());
    h.enqueue("c3", "helpdesk");
    assert!(
        h.try_input(Input::CallQueued(call("c3", "helpdesk")))
            .is_err(),
        "duplicate"
    );
}
