use super::*;

fn floor() -> H {
    let queues = format!(
        r#"{SKILLS}
[[queues]]
name = "helpdesk"
required = {{ hardware = 1 }}

[[queues]]
name = "network"
required = {{ network = 1 }}
"#
    );
    let agents = r#"
[[agents]]
id = "bob"
skills = { hardware = 2 }
[[agents]]
id = "nel"
skills = { network = 3 }
"#;
    H::new(&queues, agents)
}

fn waiting(h: &H, queue: &str) -> Vec<String> {
    h.r.calls_snapshot(h.now, Some(queue), 10)
        .into_iter()
        .filter(|c| c.state == "waiting")
        .map(|c| c.id.to_string())
        .collect()
}

#[test]
fn a_raised_priority_takes_the_caller_to_the_front() {
    let mut h = floor();
    for (i, id) in ["c1", "c2", "c3"].iter().enumerate() {
        h.now = i as u64 * 1000;
        h.enqueue(id, "helpdesk");
    }
    assert_eq!(waiting(&h, "helpdesk"), ["c1", "c2", "c3"]);
    h.input(Input::SetPriority {
        call: "c3".into(),
        priority: 9,
    });
    assert_eq!(waiting(&h, "helpdesk"), ["c3", "c1", "c2"]);
    let snap = h.r.calls_snapshot(h.now, None, 10);
    assert_eq!(snap[0].priority, 9);
    let acts = h.login("bob");
    assert_eq!(one_offer(&acts), ("c3".into(), "bob".into()));
}

#[test]
fn a_moved_caller_is_offered_in_the_new_queue_keeping_their_first_entry() {
    let mut h = floor();
    h.login("nel");
    h.enqueue("c1", "helpdesk");
    h.now = 5_000;
    h.enqueue("c2", "network"); // nel takes it
    h.now = 6_000;
    h.enqueue("c3", "network");
    assert_eq!(waiting(&h, "network"), ["c3"]);
    let snap = h.r.snapshot(h.now);
    let net = snap
        .queues
        .iter()
        .find(|q| q.name == "network")
        .expect("queue");
    assert_eq!(
        (net.agents.ringing, net.agents.logged_out),
        (1, 0),
        "nel rings"
    );
    let desk = snap
        .queues
        .iter()
        .find(|q| q.name == "helpdesk")
        .expect("queue");
    assert_eq!(desk.agents.logged_out, 1, "bob");
    h.now = 9_000;
    let acts = h.input(Input::MoveCall {
        call: "c1".into(),
        queue: "network".into(),
    });
    assert!(offers(&acts).is_empty(), "nel is busy");
    assert_eq!(waiting(&h, "network"), ["c1", "c3"], "c1 entered first");
    assert!(waiting(&h, "helpdesk").is_empty());
    let c1 = h.r.calls_snapshot(h.now, Some("network"), 10);
    assert_eq!(c1[0].waited_ms, 9_000, "waited since the first entry");
}

#[test]
fn only_waiting_callers_can_be_changed() {
    let mut h = floor();
    h.login("bob");
    h.enqueue("c1", "helpdesk"); // rings bob
    let e = h.try_input(Input::MoveCall {
        call: "c1".into(),
        queue: "network".into(),
    });
    assert_eq!(e, Err(AcdError::BadCallState("c1".into())));
    let e = h.try_input(Input::SetPriority {
        call: "nope".into(),
        priority: 1,
    });
    assert_eq!(e, Err(AcdError::UnknownCall("nope".into())));
    h.enqueue("c2", "helpdesk");
    let e = h.try_input(Input::MoveCall {
        call: "c2".into(),
        queue: "sales".into(),
    });
    assert_eq!(e, Err(AcdError::UnknownQueue("sales".into())));
}
